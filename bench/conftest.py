"""Benchmark harness: runs each case under pytest-benchmark and reports engine throughput.

Every case records, in ``benchmark.extra_info``: events/s, packet-hops/s, packets/s, simulated
seconds per wall second, makespan, peak packets in flight, peak pending events and peak RSS. Figures are reported, never asserted against
wall-clock limits (these machines are shared and noisy); correctness is asserted (every byte
delivered, ledger balanced).

``PODSIM_BENCH_QUICK=1`` (what CI sets) shrinks the large cases and runs one round each.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest

import podsim
from podsim.benchcases import metrics, reset_peak_rss, table

QUICK = os.environ.get("PODSIM_BENCH_QUICK", "") not in ("", "0")
_ROWS: list[dict[str, Any]] = []


@pytest.fixture
def run_case(benchmark: Any, request: pytest.FixtureRequest) -> Callable[[Callable[[], podsim.Result]], podsim.Result]:
    """Benchmark ``make_result`` (a function that runs one simulation) and record its metrics."""
    reset_peak_rss()  # before the test builds its case: each row reports its own peak

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
        # The parametrize id is the case's own name (what `podsim bench` prints); else the test name.
        callspec = getattr(request.node, "callspec", None)
        row = metrics(callspec.id if callspec else request.node.name, res, wall)
        benchmark.extra_info.update({k: v for k, v in row.items() if k not in ("case", "wall_s")})
        _ROWS.append(row)
        return res

    return run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One screen: what each case simulated and how fast."""
    if not _ROWS:
        return
    tr = terminalreporter
    tr.section("podsim engine throughput (best round)")
    for line in table(_ROWS):
        tr.write_line(line)