"""Expected timings of the fake system layer's ring all-reduce, from podsim's Python API.

This is the independent side of the adapter test: the same ring all-reduce written as one batch of
podsim messages with dependencies, run by ``podsim.simulate``, with no adapter involved. Two
scenarios, which ``fake_system_ring`` replays through the ASTRA-sim-style API:

* ``early``: each rank posts its receive before it sends. Step k+1 of rank r starts ``compute_ns``
  after its step-k data arrived, i.e. message (r, k+1) depends on message (r-1, k) with that delay
  (podsim starts a dependent message ``delay_ps`` after its dependency's last byte arrived).
* ``late``: each rank posts its receive ``post_ns`` after starting the step, after the data has
  arrived (checked here); it completes when posted, so step k starts at k * (post + compute) on
  every rank.

Usage: python expected_ring.py TOPOLOGY OUT [--ranks 8] [--chunk-bytes N] [--compute-ns N] [--post-ns N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import podsim


def ring_messages(endpoints: np.ndarray, steps: int, chunk: int, *, compute_ps: int, period_ps: int | None) -> podsim.Messages:
    """Message (r, k) at index k * ranks + r goes from rank r to rank r+1.

    With ``period_ps`` None, steps chain through dependencies (early scenario); otherwise step k
    starts at ``k * period_ps`` (late scenario).
    """
    ranks = len(endpoints)
    src, dst, delay, deps = [], [], [], []
    for k in range(steps):
        for r in range(ranks):
            src.append(int(endpoints[r]))
            dst.append(int(endpoints[(r + 1) % ranks]))
            if period_ps is not None:
                delay.append(k * period_ps)
            elif k == 0:
                delay.append(0)
            else:
                delay.append(compute_ps)
                deps.append(((k - 1) * ranks + (r - 1) % ranks, k * ranks + r))
    return podsim.Messages(src=src, dst=dst, size=chunk, delay_ps=delay, tag=[i // ranks for i in range(len(src))], deps=deps or None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("topology", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--ranks", type=int, default=8)
    ap.add_argument("--chunk-bytes", type=int, default=(256 << 10) + 100)
    ap.add_argument("--compute-ns", type=int, default=2_000)
    ap.add_argument("--post-ns", type=int, default=100_000)
    args = ap.parse_args()

    topo = podsim.Topology.load(args.topology)
    endpoints = topo.endpoints[: args.ranks]
    steps = 2 * (args.ranks - 1)  # reduce-scatter then all-gather
    compute_ps, post_ps = args.compute_ns * 1000, args.post_ns * 1000
    lines = ["podsim-astra-ring 1"]
    for name, period in (("early", None), ("late", post_ps + compute_ps)):
        res = podsim.simulate(topo, ring_messages(endpoints, steps, args.chunk_bytes, compute_ps=compute_ps, period_ps=period))
        m = res.messages
        if period is None:
            recv_done = m.delivered_ps
        else:
            posted = m.start_ps + post_ps
            if np.any(m.delivered_ps >= posted):
                raise SystemExit(f"--post-ns {args.post_ns} is too short: some data arrives after its receive is posted")
            recv_done = posted
        lines.append(
            f"scenario {name} ranks {args.ranks} steps {steps} chunk_bytes {args.chunk_bytes} "
            f"compute_ns {args.compute_ns} post_ns {args.post_ns if period else 0}"
        )
        for i in range(len(m)):
            lines.append(f"m {i % args.ranks} {i // args.ranks} {m.start_ps[i]} {recv_done[i]} {m.end_ps[i]}")
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
