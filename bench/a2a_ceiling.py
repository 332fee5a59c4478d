"""How much of its links' rate CloudMatrix 384's fabric alone carries in a uniform all-to-all.

    python bench/a2a_ceiling.py [--dies 16 128 768] [--per-die-mib 8] [--out docs/a2a-ceiling.md]

The shipped 910C write engine (138.6 GB/s into a die, calibrated) bounds the published
all-to-all figures. Each row here replaces it with an ideal one
(``chip.endpoint.write_rate_uni`` = 10^6 GB/s), so what is left is the fabric: its links, switch
buffers, credit flow control and routing. Every die sends 8 MiB in total (``--per-die-mib``),
split evenly over its peers, in the order ``podsim.workloads.all_to_all`` lists them. The tier
columns are the bytes each tier's channels carried (wire bytes, data and acknowledgements) as a
share of what they could have carried during the run: mean, and lowest and highest channel. The
last column says how evenly each die's incoming bytes split over its links (one per plane). The
first row keeps the shipped write engine for comparison. About a minute on 2 cores at 8 MiB; the
time grows with the bytes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

import podsim
from podsim.report import channel_tiers, injection_peak_uni

#: A write engine that is never the bottleneck, GB/s.
IDEAL_WRITE_GBPS = 1e6
#: (label, spec overrides on top of the ideal write engine, simulate() keywords).
SETTINGS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("shipped write engine (138.6 GB/s)", {}, {}),
    ("ideal write engine, adaptive routing", {"chip.endpoint.write_rate_uni": IDEAL_WRITE_GBPS}, {}),
    ("ideal, per-packet spraying", {"chip.endpoint.write_rate_uni": IDEAL_WRITE_GBPS}, {"routing": "spray"}),
    ("ideal, switch buffers 256 KiB per port (spec 64)",
     {"chip.endpoint.write_rate_uni": IDEAL_WRITE_GBPS,
      "switches.ub-l1.buffer_per_port": 256, "switches.ub-l2.buffer_per_port": 256}, {}),
    ("ideal, endpoint window 56 packets", {"chip.endpoint.write_rate_uni": IDEAL_WRITE_GBPS},
     {"endpoint_window_packets": 56}),
    ("ideal, endpoint window 224 packets", {"chip.endpoint.write_rate_uni": IDEAL_WRITE_GBPS},
     {"endpoint_window_packets": 224}),
]
#: Tiers shown, from die to die.
TIERS = ("die→l1", "l1→l2", "l2→l1", "l1→die")


def row(dies: int, per_die_bytes: int, label: str, overrides: dict[str, Any], run: dict[str, Any]) -> str:
    """One setting: busbw, its share of the dies' link rate, and the bytes carried per tier."""
    cm = podsim.system("cloudmatrix384", overrides=overrides)
    ranks = cm.ranks[:dies]
    workload = podsim.workloads.all_to_all(ranks, per_die_bytes // dies)
    res = podsim.simulate(cm, workload, **run)
    busbw = workload.evaluate(res).busbw_Bps
    link_rate = injection_peak_uni(cm.topology, ranks) / dies
    ch = res.channels
    carried = ch.wire_bytes / (ch.rate_Bps * ch.duration_ps * 1e-12)
    tier, names = channel_tiers(cm.topology, cm.roles())
    cells = []
    for name in TIERS:
        share = carried[(tier == names.index(name)) & (ch.wire_bytes > 0)]
        # Dies of one node never use the L2 tier.
        cells.append(f"{share.mean():.2f} ({share.min():.2f}–{share.max():.2f})" if share.size else "unused")
    # How evenly each die's incoming bytes split over its links (one per plane): the busiest link's
    # bytes over the mean of its links, averaged over the dies.
    into_die = tier == names.index("l1→die")
    split = [ch.wire_bytes[into_die & (ch.dst == r)] for r in ranks]
    cells.append(f"{np.mean([b.max() / b.mean() for b in split]):.2f}")
    return f"| {dies} | {per_die_bytes >> 20} MiB | {label} | {busbw / 1e9:.1f} GB/s | {busbw / link_rate:.0%} | " + " | ".join(cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dies", type=int, nargs="+", default=[16, 128, 768],
                    help="dies taking part, the first ones in rank order (2-768); one block of rows each")
    ap.add_argument("--per-die-mib", type=int, default=8, help="MiB each die sends over all its peers (1-1024)")
    ap.add_argument("--out", default="docs/a2a-ceiling.md")
    args = ap.parse_args()
    for dies in args.dies:
        if not 2 <= dies <= 768:
            ap.error(f"--dies: each must be 2 to 768, got {dies}")
    if not 1 <= args.per_die_mib <= 1024:
        ap.error(f"--per-die-mib: must be 1 to 1024, got {args.per_die_mib}")
    lines = [
        "| dies | sent per die | setting | busbw | share of a die's link rate | "
        + " | ".join(f"{t} carried" for t in TIERS) + " | busiest link into a die / its mean |",
        "|---|---:|---|---:|---:|" + "---:|" * (len(TIERS) + 1),
    ]
    t0 = time.perf_counter()
    for dies in args.dies:
        for label, overrides, run in SETTINGS:
            lines.append(row(dies, args.per_die_mib << 20, label, overrides, run))
            print(lines[-1], flush=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
