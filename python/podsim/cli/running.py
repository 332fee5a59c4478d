"""Running one workload on one system (``run``, ``compare``, ``sweep``), and the output every
command shares: text or JSON, the table written to --out, markdown comparison tables."""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

import podsim
from podsim import report
from podsim.cli.options import given, note
from podsim.cli.progress import Progress
from podsim.workloads import Workload

T = TypeVar("T")

#: Packet transmissions a run records for ``--plot`` and ``--trace`` (about 40 bytes each).
TRACE_RECORD_LIMIT = 2_000_000

#: Data packets one core moves per second, slowest and fastest measured: 0.1 M (CloudMatrix
#: 384's 1 GiB all-to-all in the README's results, 201 M packets in 1,468 s: four hops or more
#: per packet, an acknowledgement per transaction, state far beyond the cache) to 2 M (FT2-256,
#: "Cost and speed"). The note before a long run uses it.
PACKETS_PER_S = (0.1e6, 2e6)
#: A run that could take longer than this (at the slower rate) is announced before it starts.
LONG_RUN_S = 600.0


def in_words(seconds: float) -> str:
    """A duration as a person would say it: ``'40 minutes'``, ``'7 hours'``, ``'3.6 days'``."""
    for unit, scale in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= 2 * scale:
            return f"{seconds / scale:.2g} {unit}"
    return f"{seconds:.0f} seconds"


def data_packets(system: podsim.System, wl: Workload, mtu: int | None) -> float:
    """Data packets the run of ``wl`` sends (acknowledgements and read requests not counted);
    0 when the MTU leaves no room for data (the run refuses it with its own message)."""
    defaults = {**podsim.simulation.DEFAULT_SIZES, **system.run_defaults()}
    payload = given(mtu, defaults["mtu"]) - defaults["header_bytes"]
    return float(np.ceil(wl.size / payload).sum()) if payload > 0 else 0.0


def _note_if_long(system: podsim.System, wl: Workload, args: argparse.Namespace) -> None:
    """Say before a run starts that it will take long (a size off by a factor of 1,000 is an
    easy mistake), with the packets it moves and a range of wall times."""
    packets = data_packets(system, wl, args.mtu)
    slow, fast = (packets / rate for rate in PACKETS_PER_S)
    if slow > LONG_RUN_S:
        note(f"note: {system.name} {wl.name} moves {packets:,.0f} packets; at the 0.1 to 2 million packets a second "
             f"one core simulates, that takes {in_words(fast)} to {in_words(slow)}. Ctrl-C stops it and reports "
             "what was reached")


def simulate(system: podsim.System, wl: Workload, args: argparse.Namespace, *, trace: bool) -> tuple[podsim.Result, bool]:
    """Run ``wl``; returns the result and whether Ctrl-C cut it short (the result is then partial)."""
    _note_if_long(system, wl, args)
    with Progress(f"{system.name} {wl.name}", quiet=args.quiet) as progress, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            res = podsim.simulate(
                system, wl, routing=args.routing, seed=args.seed, mtu=args.mtu,
                trace=TRACE_RECORD_LIMIT if trace else None, memory=args.hbm or None, progress=progress,
                faults=getattr(args, "fail", []) + getattr(args, "repair", []),
                recovery=getattr(args, "recovery", "retransmit"),
                retransmit_timeout_ps=getattr(args, "retransmit_timeout", None),
            )
            interrupted = False
        except podsim.Interrupted as err:
            res, interrupted = err.result, True
    # The engine's own warning about a truncated trace is replaced by one that says what it means
    # here; any other warning is passed on as one line.
    for w in caught:
        if not (res.trace is not None and res.trace.dropped and str(w.message).startswith("trace:")):
            note(f"warning: {w.message}")
    if res.trace is not None and res.trace.dropped:
        note(f"note: recorded the first {len(res.trace):,} packet transmissions only ({res.trace.dropped:,} more were not); "
             "plots fall back to whole-run figures and the trace covers the recorded part")
    return res, interrupted


def summary(system: podsim.System, wl: Workload, res: podsim.Result, args: argparse.Namespace) -> report.RunSummary:
    """The :class:`report.RunSummary` of one run; the HBM peak is the participating ranks' share."""
    hbm_peak = system.peak().hbm_bandwidth_uni_Bps * len(wl.ranks) / len(system.ranks)
    mtu = given(args.mtu, system.run_defaults().get("mtu", podsim.simulation.DEFAULT_SIZES["mtu"]))
    return report.summarize(system.name, wl, res, system.topology, routing=args.routing, seed=args.seed, mtu=mtu,
                            hbm_coupled=args.hbm, hbm_peak_uni_Bps=hbm_peak)


def emit(args: argparse.Namespace, human: list[str], data: Any, table: pd.DataFrame | None) -> None:
    """Print ``human`` lines, or ``data`` as JSON with --json; write ``table`` to --out if asked."""
    def show() -> None:
        print(report.to_json(data) if getattr(args, "json", False) else "\n".join(human))

    # The file first: a reader that stops early (| head) must not cost the user the file.
    out = getattr(args, "out", None)
    if out is not None and table is not None:
        try:
            report.write_table(table, out)
        except OSError as err:  # (checked before the run; a disk can still fill up)
            show()
            raise OSError(f"--out: cannot write {out!r}: {err.strerror or err}; the results are above") from None
        note(f"wrote {out}")
    show()


def table_rows(scope: str, metrics: Sequence[tuple[str, str, str, Callable[[T], float | None]]], subjects: Sequence[T],
               name: Callable[[T], str]) -> list[dict[str, Any]]:
    """Rows of figures side by side in the peak comparison's layout: per metric ``(label, unit,
    better, get)`` a value per subject (keyed by ``name``), then per other subject ``X`` the
    first's ratio ``<first>/X`` and verdict ``<first> better than X`` (None without both figures
    or when ``better`` is empty: a figure that is neither better higher nor lower)."""
    names = [name(x) for x in subjects]
    rows = []
    for label, unit, better, get in metrics:
        values = [get(x) for x in subjects]
        row: dict[str, Any] = {"scope": scope, "metric": label, "unit": unit, "better": better, **dict(zip(names, values))}
        a = values[0]
        for other, b in zip(names[1:], values[1:]):
            row[f"{names[0]}/{other}"] = a / b if a is not None and b else None
            row[f"{names[0]} better than {other}"] = (
                None if a is None or b is None or not better else (a > b if better == "higher" else a < b))
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], systems: list[str]) -> list[str]:
    """A markdown table of achieved rows, with the first system's ratio to each other one (the
    rows' ``<first>/<other>`` entries)."""
    head = ["scope", "metric", "unit", *systems, *(f"{systems[0]} / {o}" for o in systems[1:])]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (2 * len(systems) - 1)) + "|"]
    for r in rows:
        vals = [r[s] for s in systems]
        cells = [r["scope"], r["metric"], r["unit"], *("–" if v is None else f"{v:,.4g}" for v in vals)]
        ratios = [r[f"{systems[0]}/{o}"] for o in systems[1:]]
        cells += ["–" if ratio is None else f"{ratio:.2f}×" for ratio in ratios]
        out.append("| " + " | ".join(cells) + " |")
    return out
