"""Engine throughput on the peers' reference workload (FT2-256) and on the CloudMatrix-384 fabric
shape (issue 2's workload: 48 groups x 16 endpoints, 7 ports each, 7 planes x 16 spines)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import QUICK
from ft2_256 import HEADER, MTU, fabric, flows

import podsim
from podsim.fabrics import LinkParams, folded_clos


@pytest.mark.parametrize("routing", ["spray", "ecmp", "adaptive"])
def test_ft2_256_permutation_2MB(run_case, routing: str) -> None:
    topo = fabric()
    msgs = flows("perm_256n_2MB.txt", topo)
    res = run_case(lambda: podsim.simulate(topo, msgs, mtu=MTU, header_bytes=HEADER, routing=routing, seed=1))
    # Each flow needs at least its serialization at 50 GB/s plus three hops of 500 ns.
    assert res.makespan_ps >= 2_000_000 * 10**12 // 50_000_000_000


def test_ft2_256_uniform_8x1MB(run_case) -> None:
    topo = fabric()
    msgs = flows("uni_256n_8x1MB.txt", topo)
    run_case(lambda: podsim.simulate(topo, msgs, mtu=MTU, header_bytes=HEADER, routing="spray", seed=1))


def cm_shape(groups: int) -> podsim.Topology:
    """CloudMatrix-384-shaped UB fabric: 16 dies per group, 7 planes x 16 spines, 28 GB/s links."""
    p = LinkParams(rate_Bps=28e9, latency_ps=10_000, switch_latency_ps=150_000, buffer_bytes=64 << 10)
    return folded_clos(groups, 16, 16, p, planes=7)


def all_to_all(topo: podsim.Topology, size: int) -> podsim.Messages:
    h = topo.endpoints
    src, dst = np.meshgrid(h, h)
    keep = src != dst
    return podsim.Messages(src[keep], dst[keep], size)


@pytest.mark.parametrize("groups", [1, 2, 4] if QUICK else [1, 2, 4, 8, 16, 48])
def test_cm_shape_all_to_all_64KiB_scaling(run_case, groups: int) -> None:
    """Cost versus size: endpoints 16 -> 768 (events grow with bytes / MTU x hops)."""
    topo = cm_shape(groups)
    msgs = all_to_all(topo, 64 << 10)
    run_case(lambda: podsim.simulate(topo, msgs, routing="adaptive"))
