"""Degradation curves of CloudMatrix 384 and GB300 NVL72 for the README figure (docs/faults-degradation.png).

    python bench/faults_curves.py [--samples 3] [--out docs/faults-degradation.png] [--csv rows.csv]

About 3 minutes on 2 cores. CloudMatrix 384 runs on its first 8 nodes (128 dies, every die of each
node, so the nodes' L1-L2 uplinks are loaded 1:1); failures are drawn over the whole machine.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

import podsim
from podsim import faults


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--out", default="docs/faults-degradation.png")
    ap.add_argument("--csv", default=None)
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm, nv = podsim.system("cloudmatrix384"), podsim.system("gb300-nvl72")
    cases = {
        "all-to-all": [
            (cm, faults.AllToAll(64 << 10, groups=8), ["transceiver", "switch:l2"], [0, 1, 4, 16, 64], "re-spread"),
            (nv, faults.AllToAll(256 << 10), ["tray", "switch"], [0, 1, 2, 4, 8], "adaptive-bandwidth"),
        ],
        "all-reduce (ring)": [
            (cm, faults.AllReduce(64 << 20, groups=8), ["transceiver", "switch:l2"], [0, 1, 4, 16, 64], "re-spread"),
            (nv, faults.AllReduce(64 << 20), ["tray", "switch"], [0, 1, 2, 4, 8], "adaptive-bandwidth"),
        ],
    }
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True, layout="constrained")
    everything = []
    for ax, (title, runs) in zip(axes, cases.items()):
        rows = []
        for system, wl, kinds, k, policy in runs:
            t0 = time.perf_counter()
            df = faults.degradation(system, wl, kinds=kinds, k=k, samples=args.samples, seed=args.seed,
                                    policy=policy, workers=args.workers)
            df["workload"] = title
            print(f"{system.name} {title}: {len(df)} runs in {time.perf_counter() - t0:.0f} s")
            rows.append(df)
        both = pd.concat(rows, ignore_index=True)
        everything.append(both)
        faults.plot(both, ax=ax, title=title)
    axes[0].set_ylim(0, 1.1)
    fig.suptitle("Delivered busbw vs failed elements (mean, min-max band over random draws)")
    fig.savefig(args.out, dpi=110)
    allrows = pd.concat(everything, ignore_index=True)
    if args.csv:
        allrows.to_csv(args.csv, index=False)
    table = pd.concat([faults.summarize(d, "rel_busbw").assign(workload=d["workload"].iloc[0]) for d in everything])
    cols = ["workload", "system", "kind", "policy", "k", "runs", "rel_busbw_mean", "rel_busbw_min", "rel_busbw_max", "time_s_mean"]
    print(table[cols].to_markdown(index=False, floatfmt=".3g") if _has_tabulate() else table[cols].to_string(index=False))


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
