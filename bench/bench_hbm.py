"""HBM model throughput: requests simulated per second of wall time (pytest-benchmark).

Run: ``pytest bench/bench_hbm.py --benchmark-only``. Figures land in ``benchmark.extra_info``;
nothing here asserts on wall time (this VM's wall time swings by about 30 %).
"""

from __future__ import annotations

import pytest

import podsim
from podsim.hbm import Device, simulate

H = podsim.hbm


def die_910c() -> Device:
    """One Ascend 910C die from the CloudMatrix 384 spec: 4 HBM2E stacks at 3.125 Gb/s."""
    return Device.from_rank(podsim.systems.system("cloudmatrix384").rank_memory)


def _record(benchmark, res: H.Result) -> None:
    wall = res.wall_s  # the engine's own wall time (also set under --benchmark-disable)
    benchmark.extra_info.update(
        requests=res.requests,
        requests_per_s=res.requests / wall,
        requests_per_cpu_s=res.requests / res.cpu_s,
        bytes_64B_equivalent_per_s=(res.read_bytes + res.write_bytes) / 64 / wall,
        simulated_ps=res.duration_ps,
        devices=res.devices,
        efficiency=res.efficiency,
        achieved_TBps=res.achieved_Bps / 1e12,
        peak_TBps=res.peak_Bps / 1e12,
        row_hit_rate=res.row_hit_rate,
    )


# Outstanding requests per die: 64 x 4 KiB already saturates a die's 64 PCs; 64 B random access
# needs more in flight to keep banks busy.
@pytest.mark.parametrize(
    "pattern, outstanding",
    [(H.sequential_read(4096), 64), (H.copy(4096), 256), (H.random(request_bytes=64), 1024), (H.mix(0.3), 1024)],
    ids=["seq-read-4KiB", "copy-4KiB", "random-64B", "mix30w-64B"],
)
def test_one_die_streaming(benchmark, pattern: H.Pattern, outstanding: int) -> None:
    die = die_910c()
    res = benchmark.pedantic(
        lambda: simulate(die, pattern, duration_ps=100_000_000, outstanding=outstanding), rounds=3, iterations=1
    )
    _record(benchmark, res)


def test_cloudmatrix384_all_dies_streaming(benchmark) -> None:
    """All 768 dies stream sequential reads together for a short window; the 1 ms wall time is extrapolated."""
    cm = podsim.systems.system("cloudmatrix384")
    window_ps = 20_000_000
    res = benchmark.pedantic(
        lambda: H.simulate_system(cm, H.sequential_read(4096), duration_ps=window_ps, outstanding=64),
        rounds=1,
        iterations=1,
    )
    _record(benchmark, res)
    benchmark.extra_info["extrapolated_wall_s_for_1ms"] = res.wall_s * 1e9 / window_ps
    benchmark.extra_info["extrapolated_cpu_s_for_1ms"] = res.cpu_s * 1e9 / window_ps
