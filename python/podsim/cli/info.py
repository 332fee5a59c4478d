"""``podsim list`` (the shipped systems and workloads) and ``podsim peak`` (a system's peak figures)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pandas as pd

import podsim
from podsim.cli.options import EXIT_OK, SYSTEM_HELP, add_output
from podsim.cli.running import emit
from podsim.cli.workload_options import WORKLOADS, defaults_text
from podsim.systems import load_spec
from podsim.systems.compare import refuse_same_names
from podsim.units import format_rate


def list_command(args: argparse.Namespace) -> int:
    """Print the shipped systems and the workloads with their options and defaults."""
    systems = [{"name": n, "title": load_spec(n).title} for n in podsim.list_systems()]
    workloads = [{"name": n, "options": sorted(k.options), "defaults": dict(k.defaults), "summary": k.summary}
                 for n, k in WORKLOADS.items()]
    width = max(len(s["name"]) for s in systems + workloads)
    human = ["systems:", *(f"  {s['name']:{width}}  {s['title']}" for s in systems),
             "workloads (defaults in brackets):",
             *(f"  {n:{width}}  {k.summary} [{defaults_text(k)}]" for n, k in WORKLOADS.items())]
    # One table for --out: a row per system and per workload, told apart by 'kind'.
    table = pd.DataFrame([*({"kind": "system", "name": x["name"], "description": x["title"], "defaults": ""} for x in systems),
                          *({"kind": "workload", "name": n, "description": k.summary, "defaults": defaults_text(k)}
                            for n, k in WORKLOADS.items())])
    emit(args, human, {"systems": systems, "workloads": workloads}, table)
    return EXIT_OK


def _peta(unit: str) -> Callable[[float | None], str]:
    """A formatter of a per-second compute figure in peta-``unit`` (``PFLOPS``, ``POPS``)."""
    return lambda x: "–" if x is None else f"{x / 1e15:,.4g} P{unit}"


def _opt(fmt: Callable[[float], str]) -> Callable[[float | None], str]:
    return lambda x: "–" if x is None else fmt(x)


def _capacity(n: float) -> str:
    """HBM capacity in TiB from 1 TiB on, else GiB (an HGX H100's 640 GiB, not 0.625 TiB)."""
    return f"{n / 2**40:,.4g} TiB" if n >= 2**40 else f"{n / 2**30:,.4g} GiB"


#: Rows of ``podsim peak``: Peak field, label, how to show it.
_PEAK_ROWS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("chips", "chips", str),
    ("ranks", "ranks (fabric endpoints)", str),
    ("bf16_flops", "BF16 dense", _peta("FLOPS")),
    ("fp8_flops", "FP8 dense", _peta("FLOPS")),
    ("fp4_flops", "FP4 dense", _peta("FLOPS")),
    ("int8_ops", "INT8 dense", _peta("OPS")),
    ("hbm_capacity_bytes", "HBM capacity", _opt(_capacity)),
    ("hbm_bandwidth_uni_Bps", "HBM bandwidth", _opt(lambda x: format_rate(x, "uni"))),
    ("scale_up_uni_Bps", "scale-up bandwidth", _opt(lambda x: format_rate(x, "uni"))),
    ("scale_up_bidi_Bps", "scale-up bandwidth", _opt(lambda x: format_rate(x, "bidi"))),
    ("scale_out_uni_Bps", "scale-out bandwidth", _opt(lambda x: format_rate(x, "uni"))),
    ("power_W", "power, system figure", _opt(lambda x: f"{x / 1e3:,.4g} kW")),
    ("transceivers", "optical transceivers", _opt(lambda x: f"{x:,}")),
)


def peak_command(args: argparse.Namespace) -> int:
    """Print the peak figures of ``args.systems``, a column each."""
    systems = [podsim.system(n) for n in args.systems]
    refuse_same_names(systems)  # (a column twice is a typo for another system)
    peaks = [s.peak() for s in systems]
    rows = [[label, *(fmt(getattr(p, key)) for p in peaks)] for key, label, fmt in _PEAK_ROWS]
    # What each power figure counts: figures on different bases do not compare.
    bases = [s.spec.power.get("basis") if p.power_W is not None else None for s, p in zip(systems, peaks)]
    at = next(i for i, (key, _, _) in enumerate(_PEAK_ROWS) if key == "power_W") + 1
    rows.insert(at, ["power basis", *(b or "–" for b in bases)])
    head = ["", *(p.system for p in peaks)]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    human = ["  ".join(f"{c:>{w}}" if i else f"{c:{w}}" for i, (c, w) in enumerate(zip(r, widths))) for r in [head, *rows]]
    data = [{**p.to_dict(), "power_basis": b} for p, b in zip(peaks, bases)]
    emit(args, human, data, pd.DataFrame(data))
    return EXIT_OK


def add_commands(sub: Any) -> None:
    """``list`` and ``peak``, on the subcommand set ``sub``."""
    p = sub.add_parser("list", help="shipped systems and workloads")
    add_output(p)
    p.set_defaults(func=list_command)

    p = sub.add_parser("peak", help="peak figures of systems (compute, HBM, scale-up uni/bidi, power)")
    p.add_argument("systems", nargs="+", metavar="SYSTEM", help=SYSTEM_HELP)
    add_output(p)
    p.set_defaults(func=peak_command)
