"""Property tests: for random small systems, the graph facts equal the wiring arithmetic."""

from __future__ import annotations

from pathlib import Path

import hypothesis.strategies as st
import numpy as np
from hypothesis import HealthCheck, given, settings

import podsim
from podsim.systems import bisection_bandwidth, hop_histogram


def _q(v: object) -> str:
    return f'{{ value = {v}, unit = "count", source = "test", evidence = "V" }}'


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nodes=st.integers(2, 4), chips=st.integers(1, 3), l1=st.integers(1, 3), l2=st.integers(1, 4),
       each=st.integers(1, 2), cpus=st.integers(0, 2))
def test_random_clos(tmp_path: Path, nodes: int, chips: int, l1: int, l2: int, each: int, cpus: int) -> None:
    # Extends the paper system, changing only counts; the 910C's 7 links per die are overridden.
    path = tmp_path / "clos.toml"
    path.write_text(f"""
[system]
name = "random-clos"
title = "random"
extends = "cloudmatrix384"
[topology]
nodes = {_q(nodes)}
chips_per_node = {_q(chips)}
cpus_per_node = {_q(cpus)}
l1_per_node = {_q(l1)}
l2_per_plane = {_q(l2)}
""")
    s = podsim.system(path, overrides={"chip.scale_up_links": l1 * each})
    inv = s.inventory()
    dies = nodes * chips * 2
    assert inv.switches == {"l1": nodes * l1, "l2": l1 * l2}
    assert inv.links["l1-l2"] == nodes * l1 * l2 and inv.links["die-l1"] == dies * l1 * each
    assert len(s.ranks) == dies and len(s.cpus) == nodes * cpus
    t = s.topology
    other = s.ranks[s.rank_group == 1][0]
    # Between nodes: one of l1 planes, `each` parallel links at both ends, any of l2 switches.
    assert s.path_count(int(s.ranks[0]), int(other)) == (4, l1 * each * each * l2)
    hist = hop_histogram(t, s.ranks)
    assert sum(hist.values()) == dies * (dies - 1)
    assert hist[3] == dies * (dies - 2 * chips)
    rate = s.spec.link("rank_link")["rate_uni"].si
    if nodes % 2 == 0:
        # The cut is the smaller of half the ranks' links and half the nodes' L1-L2 links
        # (equal on CloudMatrix, where 16 dies per node meet 16 L2 switches per plane).
        expected = min(dies // 2 * l1 * each, nodes // 2 * l1 * l2) * rate
        assert np.isclose(bisection_bandwidth(t, s.ranks), expected)
    assert s.peak().scale_up_uni_Bps == dies * l1 * each * rate


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gpus=st.integers(2, 12), split=st.lists(st.integers(0, 3), min_size=1, max_size=5).filter(lambda x: sum(x) > 0))
def test_random_single_tier(tmp_path: Path, gpus: int, split: list[int]) -> None:
    path = tmp_path / "flat.toml"
    path.write_text(f"""
[system]
name = "random-flat"
title = "random"
extends = "hgx-h100"
[topology]
chips = {_q(gpus)}
chips_per_group = {_q(2)}
switches = {_q(len(split))}
link_split = {{ value = {split}, unit = "count", source = "test", evidence = "V" }}
""")
    s = podsim.system(path, overrides={"chip.scale_up_links": sum(split)})
    assert s.inventory().links == {"gpu-switch": gpus * sum(split)}
    assert s.path_count(int(s.ranks[0]), int(s.ranks[1])) == (2, sum(k * k for k in split))
    assert hop_histogram(s.topology, s.ranks) == {1: gpus * (gpus - 1)}
    assert list(s.rank_group) == [i // 2 for i in range(gpus)]
    half = gpus // 2
    assert np.isclose(bisection_bandwidth(s.topology, s.ranks), half * sum(split) * 25e9)
