"""Collectives run *through* a failure: the README table of mid-run faults (docs/faults-midrun.md).

    python bench/faults_midrun.py [--out docs/faults-midrun.md]

Each row is one packet-level run with one element failing at a fraction of the fault-free
completion time (0 = before the first packet): what it costs the collective, and what the
engine counted as lost (retransmitted end to end by the source after the timeout) or replayed by
link-level retry. Completion is at the initiators: the last write's acknowledgement back at its
source. Under 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import podsim
from podsim import faults

#: When the element fails in the mid-run rows, as a fraction of the fault-free completion time.
HALF_WAY = 0.5
#: End-to-end retransmission timeouts compared, ps.
TIMEOUTS_PS = (1_000_000, 10_000_000)


@dataclass(frozen=True)
class Case:
    """A system, a workload on it, the element that fails, and the routing policy."""

    system: Any
    label: str
    workload: podsim.workloads.Workload
    element: faults.Element
    routing: str = "adaptive"


def cases() -> list[Case]:
    """NVL72: an NVSwitch tray during an all-to-all and a ring all-reduce. CloudMatrix 384 (its
    first 8 nodes, 128 dies): an L2 switch chip, and one node's L1 switch chip under adaptive
    routing and under spraying, during an all-to-all."""
    nv, cm = podsim.system("gb300-nvl72"), podsim.system("cloudmatrix384")
    cm_a2a = podsim.workloads.all_to_all(cm.ranks[cm.rank_group < 8], 64 << 10)
    cm_label = "all-to-all 64 KiB/pair, 128 dies"
    return [
        Case(nv, "all-to-all 64 KiB/pair", podsim.workloads.all_to_all(nv, 64 << 10), faults.tray(0)),
        Case(nv, "ring all-reduce 64 MiB", podsim.workloads.all_reduce(nv, 64 << 20), faults.tray(0)),
        Case(cm, cm_label, cm_a2a, faults.switch("plane0/l2sw00")),
        Case(cm, cm_label, cm_a2a, faults.switch("node00/l1sw0")),
        Case(cm, cm_label, cm_a2a, faults.switch("node00/l1sw0"), routing="spray"),
    ]


def rows_of(case: Case) -> list[str]:
    """The fault-free run, the element failed from the start, then one row per (recovery,
    timeout) with the element failing half way through."""
    clean = podsim.simulate(case.system, case.workload, routing=case.routing)
    t_clean = int(clean.messages.end_ps.max())
    head = f"| {case.system.name} | {case.label} | {case.routing} |"
    out = [f"{head} none | | | | 1.00 | {case.workload.evaluate(clean).busbw_Bps / 1e9:.1f} GB/s | 0 | 0 |"]
    # Failed from the start, nothing is in flight on it yet: the recovery mode plays no part.
    runs = [(0.0, "retransmit", TIMEOUTS_PS[0])]
    runs += [(HALF_WAY, recovery, rto) for recovery in sorted(podsim.RECOVERY) for rto in TIMEOUTS_PS]
    for frac, recovery, rto in runs:
        res = podsim.simulate(case.system, case.workload, routing=case.routing, recovery=recovery,
                              retransmit_timeout_ps=rto, faults=[faults.fail(case.element, at_ps=int(frac * t_clean))])
        led = res.ledger
        assert res.complete and led.balanced
        how = f"{frac:.1f} | {recovery} | {rto / 1e6:g} us" if frac else "0 (before the run) | | "
        out.append(
            f"{head} {case.element} | {how} | {int(res.messages.end_ps.max()) / t_clean:.2f} | "
            f"{case.workload.evaluate(res).busbw_Bps / 1e9:.1f} GB/s | "
            f"{int(np.sum(led.lost_packets))} | {int(np.sum(led.replayed_packets))} |"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/faults-midrun.md")
    args = ap.parse_args()
    lines = [
        "| system | workload | routing | fails | at (x fault-free time) | recovery | retransmit timeout | "
        "completion, last ack (x fault-free) | busbw (NCCL) | lost packets | replayed packets |",
        "|---|---|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    t0 = time.perf_counter()
    for case in cases():
        for row in rows_of(case):
            lines.append(row)
            print(row, flush=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
