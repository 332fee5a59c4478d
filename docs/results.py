"""Regenerate the result tables of the README from the tool (``python docs/results.py``).

Each case is one ``podsim.simulate`` run of a workload from ``podsim.workloads`` on a shipped
system. Cases whose estimated cost exceeds ``--budget`` seconds are listed as not run, with the
estimate, rather than silently dropped. Writes ``docs/results.md`` and prints it.

One fidelity knob is allowed, for CloudMatrix 384's 1 GiB collectives only: larger packets
(:data:`LARGE_PACKET_BYTES`). It is used only if, in the same invocation, it changes the busbw of
every collective at :data:`GATE_SIZE` by at most :data:`LARGE_PACKET_TOLERANCE`; cells run with it
are marked, and the validation runs are printed in a table of their own.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

import podsim
from podsim import workloads as W
from podsim.units import format_bytes, format_rate, format_time_ps

OUT = Path(__file__).with_name("results.md")
#: Engine throughput measured on these machines with each system's traffic (``podsim bench``:
#: 2.3 M events/s of CPU on the CloudMatrix 384 all-to-all at 1 MiB per pair, under load),
#: events/s; used only to decide whether a case fits the budget.
EVENTS_PER_SECOND = {"cloudmatrix384": 2e6, "cloudmatrix384-sa": 2e6, "gb300-nvl72": 4e6, "gb200-nvl72": 4e6}
#: Collective sizes per rank; the systems compared, each with its all-reduce algorithm.
SIZES = (1 << 20, 64 << 20, 1 << 30)
COLLECTIVE_SYSTEMS = (("cloudmatrix384", "hierarchical"), ("gb300-nvl72", "ring"))
#: The fidelity knob: payload per packet (the spec's is 4 KiB), well below the 64 KiB switch
#: buffer per port. Memory transactions grow with it where the spec sets them: the engine cuts
#: packets within a transaction, so with 4 KiB transactions a larger MTU alone changes nothing.
LARGE_PACKET_BYTES = 16 << 10
#: The systems that may use the knob, and the one size they may use it at.
LARGE_PACKET_SYSTEMS = ("cloudmatrix384",)
LARGE_PACKET_SIZE = 1 << 30
#: Sizes at which the knob is compared with exact runs, the one that decides, and the largest
#: relative busbw change allowed there.
VALIDATION_SIZES = (1 << 20, 64 << 20)
GATE_SIZE = 64 << 20
LARGE_PACKET_TOLERANCE = 0.03


class Measured(NamedTuple):
    """busbw of an exact run (spec packet sizes) and its wall time."""

    busbw_Bps: float
    wall_s: float


def large_packets(system: podsim.System) -> dict[str, int]:
    """Keyword arguments of :func:`podsim.simulate` for packets of :data:`LARGE_PACKET_BYTES`
    payload (the spec's header; transactions of the same size where the spec sets them)."""
    defaults = system.run_defaults()
    sizes = {"mtu": LARGE_PACKET_BYTES + defaults.get("header_bytes", 32)}
    if "txn_bytes" in defaults:
        sizes["txn_bytes"] = LARGE_PACKET_BYTES
    return sizes


def knob_label(system: podsim.System) -> str:
    """The knob's arguments beside the spec's values, e.g. ``mtu=16416 (spec 4128), ...``."""
    defaults = system.run_defaults()
    return ", ".join(f"`{key}={value}` (spec {defaults[key]})" for key, value in large_packets(system).items())


def estimated_events(system: podsim.System, wl: podsim.Messages, sizes: Mapping[str, int]) -> float:
    """Rough event count: packets x (data + acknowledgement) x ~4 hops x ~2 events per hop.

    ``sizes`` overrides the system's run defaults; a packet carries at most one transaction."""
    run_sizes = {**system.run_defaults(), **sizes}
    payload = run_sizes.get("mtu", 4096) - run_sizes.get("header_bytes", 32)
    payload = min(payload, run_sizes.get("txn_bytes", payload))
    packets = float(np.ceil(wl.size / payload).sum())
    return packets * 2 * 4 * 2


def emit(rows: list[str], row: str) -> None:
    """Keep a table row and show it at once (a long run shows its progress)."""
    rows.append(row)
    print(row, flush=True)


def run(
    system: podsim.System, wl: podsim.Messages, budget_s: float, sizes: Mapping[str, int] | None = None
) -> tuple[podsim.Result | None, float]:
    """Simulate if the estimated wall time fits the budget; returns (result or None, seconds or estimate).

    ``sizes``: ``mtu`` and ``txn_bytes`` for :func:`podsim.simulate` (:func:`large_packets`);
    sizes it does not give are the spec's."""
    sizes = sizes or {}
    est = estimated_events(system, wl, sizes) / EVENTS_PER_SECOND.get(system.name, min(EVENTS_PER_SECOND.values()))
    if est > budget_s:
        return None, est
    t0 = time.perf_counter()
    res = podsim.simulate(system, wl, mtu=sizes.get("mtu"), txn_bytes=sizes.get("txn_bytes"))
    return res, time.perf_counter() - t0


def _duration(secs: float) -> str:
    """An estimated run time in the unit that keeps it readable: "40 s", "12 min", "3.5 h"."""
    if secs < 120:
        return f"{secs:.0f} s"
    return f"{secs / 60:.0f} min" if secs < 7200 else f"{secs / 3600:.1f} h"


def achieved_vs_peak(budget_s: float) -> list[str]:
    """Uniform all-to-all (1 MiB per rank in total) on every shipped system."""
    # "time": first start to last byte delivered, the window the achieved rate is taken over (the
    # acknowledgements of the last writes return later: Result.makespan_ps).
    rows = ["| system | ranks | peak scale-up (uni) | achieved all-to-all (uni) | achieved / peak | time | wall |",
            "|---|---|---|---|---|---|---|"]
    for name in podsim.list_systems():
        s = podsim.system(name)
        n = len(s.ranks)
        wl = W.all_to_all(s, max((1 << 20) // n, 1))
        res, secs = run(s, wl, budget_s)
        peak = s.peak().scale_up_uni_Bps
        if res is None:
            emit(rows, f"| {name} | {n} | {format_rate(peak, 'uni')} | not run (est. {_duration(secs)}) | | | |")
            continue
        got = res.achieved_bandwidth()
        emit(
            rows,
            f"| {name} | {n} | {format_rate(peak, 'uni')} | {format_rate(got, 'uni')} | {got / peak:.0%} | "
            f"{format_time_ps(round(wl.evaluate(res).time_s * 1e12))} | {secs:.1f} s |"
        )
    return rows


def collective_cases(system: podsim.System, size: int, algorithm: str) -> list[tuple[str, W.Workload]]:
    """The all-to-all and the all-reduce of ``size`` bytes per rank, with their table labels."""
    n = len(system.ranks)
    return [("all-to-all", W.all_to_all(system, max(size // n, 1))),
            (f"all-reduce ({algorithm})", W.all_reduce(system, size, algorithm=algorithm))]


def validate_large_packets(
    system: podsim.System, algorithm: str, exact: Mapping[tuple[str, int], Measured], budget_s: float
) -> tuple[list[str], dict[tuple[str, int], float]]:
    """Rerun the exact validation cases with :func:`large_packets` and compare busbw.

    ``exact`` maps (collective label, size) to the run at the spec's sizes. Returns the table rows
    and, per case, the relative busbw change (large / exact - 1; NaN where either did not run)."""
    rows = [(f"| system | collective | size per rank | busbw, spec packets | busbw, {format_bytes(LARGE_PACKET_BYTES)} packets "
             "| change | wall, spec packets | wall, large packets |"),
            "|---|---|---|---|---|---|---|---|"]
    diffs: dict[tuple[str, int], float] = {}
    for size in VALIDATION_SIZES:
        for label, wl in collective_cases(system, size, algorithm):
            ref = exact.get((label, size))
            res, secs = run(system, wl, budget_s, large_packets(system)) if ref is not None else (None, math.nan)
            if ref is None or res is None:
                diffs[(label, size)] = math.nan
                emit(rows, f"| {system.name} | {label} | {format_bytes(size)} | not run | not run | | | |")
                continue
            got = wl.evaluate(res).busbw_Bps
            diffs[(label, size)] = got / ref.busbw_Bps - 1
            emit(
                rows,
                f"| {system.name} | {label} | {format_bytes(size)} | {ref.busbw_Bps / 1e9:.1f} GB/s | {got / 1e9:.1f} GB/s | "
                f"{diffs[(label, size)]:+.1%} | {ref.wall_s:.1f} s | {secs:.1f} s |"
            )
    return rows, diffs


def knob_verdict(system: podsim.System, diffs: Mapping[tuple[str, int], float]) -> tuple[bool, str]:
    """Whether the large packets may be used at :data:`LARGE_PACKET_SIZE`, and the note saying so."""
    gate = {label: d for (label, size), d in diffs.items() if size == GATE_SIZE}
    changes = ", ".join(f"{label} {d:+.1%}" for label, d in gate.items())
    packets = f"{format_bytes(LARGE_PACKET_BYTES)} packets ({knob_label(system)})"
    where = f"{system.name} at {format_bytes(LARGE_PACKET_SIZE)}"
    if any(math.isnan(d) for d in gate.values()):
        return False, f"{where}: spec packet sizes; {packets} could not be validated at {format_bytes(GATE_SIZE)} within the budget."
    if max(abs(d) for d in gate.values()) > LARGE_PACKET_TOLERANCE:
        over = ", ".join(name for name, d in gate.items() if abs(d) > LARGE_PACKET_TOLERANCE)
        return False, (f"{where}: spec packet sizes. {packets} would cut the run time, but at {format_bytes(GATE_SIZE)} they change "
                       f"busbw by {changes}: {over} beyond the ±{LARGE_PACKET_TOLERANCE:.0%} allowed (fidelity check below).")
    return True, (f"† Run with {packets} to fit the budget. At {format_bytes(GATE_SIZE)} these change busbw by {changes} "
                  f"against the exact runs (fidelity check below); the {format_bytes(LARGE_PACKET_SIZE)} cells carry an error of that order.")


def collectives(budget_s: float) -> tuple[list[str], list[str]]:
    """All-to-all and all-reduce busbw (NCCL convention) at three sizes, CloudMatrix 384 vs NVL72.

    Returns the table with its notes, and the fidelity check of the large packets."""
    rows = ["| system | collective | size per rank | busbw | algbw | time | wall |", "|---|---|---|---|---|---|---|"]
    notes: list[str] = []
    checks: list[str] = []
    for name, algorithm in COLLECTIVE_SYSTEMS:
        s = podsim.system(name)
        exact: dict[tuple[str, int], Measured] = {}
        for size in SIZES:
            sizes: dict[str, int] = {}
            if name in LARGE_PACKET_SYSTEMS and size == LARGE_PACKET_SIZE:
                check_rows, diffs = validate_large_packets(s, algorithm, exact, budget_s)
                checks += check_rows
                use, note = knob_verdict(s, diffs)
                notes.append(note)
                sizes = large_packets(s) if use else {}
            shown = f"{format_bytes(size)} ({format_bytes(LARGE_PACKET_BYTES)} packets) †" if sizes else format_bytes(size)
            for label, wl in collective_cases(s, size, algorithm):
                res, secs = run(s, wl, budget_s, sizes)
                if res is None:
                    emit(rows, f"| {name} | {label} | {shown} | not run (est. {_duration(secs)}) | | | |")
                    continue
                st = wl.evaluate(res)
                if not sizes:
                    exact[(label, size)] = Measured(st.busbw_Bps, secs)
                emit(
                    rows,
                    f"| {name} | {label} | {shown} | {st.busbw_Bps / 1e9:.1f} GB/s | "
                    f"{st.algbw_Bps / 1e9:.1f} GB/s | {st.time_s * 1e6:.1f} us | {secs:.1f} s |"
                )
    return [*rows, "", *notes], checks


def moe(budget_s: float, tokens: int) -> list[str]:
    """DeepSeek-style MoE dispatch and combine latency over EP degrees."""
    rows = ["| system | EP | dispatch | combine | dispatch per-rank send (mean, uni) | wall |", "|---|---|---|---|---|---|"]
    for name, eps in (("cloudmatrix384", (8, 32, 64, 256)), ("gb300-nvl72", (8, 32, 64))):
        s = podsim.system(name)
        for ep in eps:
            wl = W.moe(s.ranks[:ep], tokens, seed=1)
            res, secs = run(s, wl, budget_s)
            if res is None:
                emit(rows, f"| {name} | {ep} | not run (est. {_duration(secs)}) | | | |")
                continue
            st = wl.evaluate(res)
            d, c = st.phases["dispatch"], st.phases["combine"]
            emit(
                rows,
                f"| {name} | {ep} | {d.latency_s * 1e6:.1f} us | {c.latency_s * 1e6:.1f} us | "
                f"{format_rate(float(d.rank_send_Bps[d.rank_send_Bps > 0].mean()), 'uni')} | {secs:.1f} s |"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=float, default=600.0, help="skip cases estimated to take longer, seconds")
    parser.add_argument("--tokens", type=int, default=128, help="MoE tokens per rank")
    args = parser.parse_args()
    peak = achieved_vs_peak(args.budget)
    table, checks = collectives(args.budget)
    experts = moe(args.budget, args.tokens)
    text = [
        f"Generated by `python docs/results.py --budget {args.budget:g} --tokens {args.tokens}` (podsim {podsim.__version__}).",
        "",
        "### Uniform all-to-all on every shipped system (1 MiB per rank)",
        "",
        *peak,
        "",
        "### Collectives: CloudMatrix 384 (768 dies) vs GB300 NVL72 (72 GPUs)",
        "",
        *table,
        "",
        f"### Fidelity check: {format_bytes(LARGE_PACKET_BYTES)} packets against exact runs",
        "",
        (f"The same collectives rerun with {format_bytes(LARGE_PACKET_BYTES)} packets and transactions instead of the "
         f"spec's; the {format_bytes(LARGE_PACKET_SIZE)} cells above use them only if every change at "
         f"{format_bytes(GATE_SIZE)} is within ±{LARGE_PACKET_TOLERANCE:.0%}."),
        "",
        *checks,
        "",
        f"### MoE expert parallelism (DeepSeek-V3 shape: hidden 7168, top-8 of 256 experts, {args.tokens} tokens per rank)",
        "",
        *experts,
        "",
    ]
    OUT.write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
