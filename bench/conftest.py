"""Benchmark harness: runs each case under pytest-benchmark and reports engine throughput.

Every case records, in ``benchmark.extra_info``: events/s, packet-hops/s, packets/s, simulated
seconds per wall second, makespan and peak RSS. Figures are reported, never asserted against
wall-clock limits (these machines are shared and noisy); correctness is asserted (every byte
delivered, ledger balanced).

``PODSIM_BENCH_QUICK=1`` (what CI sets) shrinks the large cases and runs one round each.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from typing import Any

import pytest

import podsim

QUICK = os.environ.get("PODSIM_BENCH_QUICK", "") not in ("", "0")
_ROWS: list[dict[str, Any]] = []


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture
def run_case(benchmark: Any, request: pytest.FixtureRequest) -> Callable[[Callable[[], podsim.Result]], podsim.Result]:
    """Benchmark ``make_result`` (a function that runs one simulation) and record its metrics."""

    def run(make_result: Callable[[], podsim.Result]) -> podsim.Result:
        results: list[tuple[podsim.Result, float]] = []

        def once() -> None:
            t0 = time.perf_counter()
            res = make_result()
            results.append((res, time.perf_counter() - t0))

        benchmark.pedantic(once, rounds=1 if QUICK else 3, iterations=1)
        res, _ = results[-1]
        wall = min(w for _, w in results)
        assert res.complete and res.ledger.balanced
        delivered = int(res.messages.size.sum())
        assert int(res.ledger.delivered_bytes.sum()) == delivered
        info = {
            "events": res.events,
            "packet_hops": res.packet_hops,
            "packets": int(res.channels.packets.sum()),
            "events_per_s": res.events / wall,
            "packet_hops_per_s": res.packet_hops / wall,
            "sim_s_per_wall_s": res.now_ps * 1e-12 / wall,
            "makespan_us": res.makespan_ps / 1e6,
            "achieved_TBps_uni": res.achieved_bandwidth() / 1e12,
            "engine_wall_s": res.wall_s,
            "peak_rss_MiB": peak_rss_mb(),
        }
        benchmark.extra_info.update(info)
        _ROWS.append({"case": request.node.name, "wall_s": wall, **info})
        return res

    return run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One screen: what each case simulated and how fast."""
    if not _ROWS:
        return
    tr = terminalreporter
    tr.section("podsim engine throughput (best round)")
    tr.write_line(f"{'case':44} {'wall s':>7} {'events':>10} {'Mev/s':>6} {'Mhop/s':>6} {'makespan us':>11} {'TB/s':>6} {'RSS MiB':>7}")
    for r in _ROWS:
        tr.write_line(
            f"{r['case'][:44]:44} {r['wall_s']:7.2f} {r['events']:10d} {r['events_per_s'] / 1e6:6.2f} "
            f"{r['packet_hops_per_s'] / 1e6:6.2f} {r['makespan_us']:11.1f} {r['achieved_TBps_uni']:6.2f} {r['peak_rss_MiB']:7.0f}"
        )
