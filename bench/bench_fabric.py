"""Engine throughput on the peers' reference workload (FT2-256) and on the CloudMatrix-384 fabric
shape; the cases are defined in :mod:`podsim.benchcases` (``podsim bench`` runs the same ones)."""

from __future__ import annotations

import pytest
from conftest import QUICK

from podsim.benchcases import BenchCase, cases


@pytest.mark.parametrize("case", cases(QUICK), ids=lambda c: c.name)
def test_case(run_case, case: BenchCase) -> None:
    topo, msgs = case.build()
    res = run_case(lambda: case.run(topo, msgs))
    assert res.makespan_ps >= case.min_makespan_ps
