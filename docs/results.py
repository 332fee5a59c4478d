"""Regenerate the result tables of the README from the tool (``python docs/results.py``).

Each case is one ``podsim.simulate`` run of a workload from ``podsim.workloads`` on a shipped
system. Cases whose estimated cost exceeds ``--budget`` seconds are listed as not run, with the
estimate, rather than silently dropped. Writes ``docs/results.md`` and prints it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import podsim
from podsim import workloads as W
from podsim.units import format_bytes, format_rate, format_time_ps

OUT = Path(__file__).with_name("results.md")
#: Engine throughput measured on these machines with each system's traffic (``podsim bench``),
#: events/s; used only to decide whether a case fits the budget.
EVENTS_PER_SECOND = {"cloudmatrix384": 5e5, "cloudmatrix384-sa": 5e5, "gb300-nvl72": 4e6, "gb200-nvl72": 4e6}


def estimated_events(system: podsim.System, wl: podsim.Messages) -> float:
    """Rough event count: packets x (data + acknowledgement) x ~4 hops x ~2 events per hop."""
    payload = system.run_defaults().get("mtu", 4096) - system.run_defaults().get("header_bytes", 32)
    packets = float(np.ceil(wl.size / payload).sum())
    return packets * 2 * 4 * 2


def emit(rows: list[str], row: str) -> None:
    """Keep a table row and show it at once (a long run shows its progress)."""
    rows.append(row)
    print(row, flush=True)


def run(system: podsim.System, wl: podsim.Messages, budget_s: float) -> tuple[podsim.Result | None, float]:
    """Simulate if the estimated wall time fits the budget; returns (result or None, seconds or estimate)."""
    est = estimated_events(system, wl) / EVENTS_PER_SECOND.get(system.name, min(EVENTS_PER_SECOND.values()))
    if est > budget_s:
        return None, est
    t0 = time.perf_counter()
    res = podsim.simulate(system, wl)
    return res, time.perf_counter() - t0


def achieved_vs_peak(budget_s: float) -> list[str]:
    """Uniform all-to-all (1 MiB per rank in total) on every shipped system."""
    rows = ["| system | ranks | peak scale-up (uni) | achieved all-to-all (uni) | achieved / peak | completion | wall |",
            "|---|---|---|---|---|---|---|"]
    for name in podsim.list_systems():
        s = podsim.system(name)
        n = len(s.ranks)
        wl = W.all_to_all(s, max((1 << 20) // n, 1))
        res, secs = run(s, wl, budget_s)
        peak = s.peak().scale_up_uni_Bps
        if res is None:
            emit(rows, f"| {name} | {n} | {format_rate(peak, 'uni')} | not run (est. {secs:.0f} s) | | | |")
            continue
        got = res.achieved_bandwidth()
        emit(
            rows,
            f"| {name} | {n} | {format_rate(peak, 'uni')} | {format_rate(got, 'uni')} | {got / peak:.0%} | "
            f"{format_time_ps(res.makespan_ps)} | {secs:.1f} s |"
        )
    return rows


def collectives(budget_s: float) -> list[str]:
    """All-to-all and all-reduce busbw (NCCL convention) at three sizes, CloudMatrix 384 vs NVL72."""
    rows = ["| system | collective | size per rank | busbw | algbw | time | wall |", "|---|---|---|---|---|---|---|"]
    for name, algorithm in (("cloudmatrix384", "hierarchical"), ("gb300-nvl72", "ring")):
        s = podsim.system(name)
        n = len(s.ranks)
        for size in (1 << 20, 64 << 20, 1 << 30):
            cases = [("all-to-all", W.all_to_all(s, max(size // n, 1))),
                     (f"all-reduce ({algorithm})", W.all_reduce(s, size, algorithm=algorithm))]
            for label, wl in cases:
                res, secs = run(s, wl, budget_s)
                if res is None:
                    emit(rows, f"| {name} | {label} | {format_bytes(size)} | not run (est. {secs / 60:.0f} min) | | | |")
                    continue
                st = wl.evaluate(res)
                emit(
                    rows,
                    f"| {name} | {label} | {format_bytes(size)} | {st.busbw_Bps / 1e9:.1f} GB/s | "
                    f"{st.algbw_Bps / 1e9:.1f} GB/s | {st.time_s * 1e6:.1f} us | {secs:.1f} s |"
                )
    return rows


def moe(budget_s: float, tokens: int) -> list[str]:
    """DeepSeek-style MoE dispatch and combine latency over EP degrees."""
    rows = [f"| system | EP | dispatch | combine | dispatch per-rank send (mean, uni) | wall |", "|---|---|---|---|---|---|"]
    for name, eps in (("cloudmatrix384", (8, 32, 64, 256)), ("gb300-nvl72", (8, 32, 64))):
        s = podsim.system(name)
        for ep in eps:
            wl = W.moe(s.ranks[:ep], tokens, seed=1)
            res, secs = run(s, wl, budget_s)
            if res is None:
                emit(rows, f"| {name} | {ep} | not run (est. {secs:.0f} s) | | | |")
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
    text = [
        f"Generated by `python docs/results.py --budget {args.budget:g} --tokens {args.tokens}` (podsim {podsim.__version__}).",
        "",
        "### Uniform all-to-all on every shipped system (1 MiB per rank)",
        "",
        *achieved_vs_peak(args.budget),
        "",
        "### Collectives: CloudMatrix 384 (768 dies) vs GB300 NVL72 (72 GPUs)",
        "",
        *collectives(args.budget),
        "",
        f"### MoE expert parallelism (DeepSeek-V3 shape: hidden 7168, top-8 of 256 experts, {args.tokens} tokens per rank)",
        "",
        *moe(args.budget, args.tokens),
        "",
    ]
    OUT.write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
