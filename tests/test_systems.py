"""Builders: counts, names, paths, hops and bisection from the built graph; peaks recomputed by hand
from the spec values; a small all-to-all runs on every shipped system."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import podsim
from podsim.systems import bisection_bandwidth, hop_histogram, path_count

SHIPPED = podsim.list_systems()


def test_cloudmatrix_builds_fast() -> None:
    t0 = time.perf_counter()
    podsim.system("cloudmatrix384")
    assert time.perf_counter() - t0 < 2.0


def test_cloudmatrix_inventory_from_graph(cm: podsim.System) -> None:
    top = cm.spec.topology
    nodes, l1, l2 = top["nodes"].value, top["l1_per_node"].value, top["l2_per_plane"].value
    inv = cm.inventory()
    # Counts read off the graph, compared with the spec arithmetic of hardware.md §1.4.
    assert inv.switches == {"l1": nodes * l1, "l2": l1 * l2} == {"l1": 336, "l2": 112}
    assert inv.links["l1-l2"] == nodes * l1 * l2 == 5376
    assert inv.links["l1-l2"] == inv.switches["l2"] * top["nodes"].value  # = L2 ports in use
    assert inv.links["die-l1"] == 384 * 2 * 7
    assert inv.links["die-die"] == 384
    assert inv.links["cpu-l1"] == nodes * 4 * l1
    assert (inv.chips, inv.dies, inv.ranks, inv.cpus) == (384, 768, 768, 192)
    assert inv.racks == 16
    # 5,376 L1-L2 links, two 224 Gb/s links per 400G module, a module at each end; 4 per NPU scale-out.
    assert inv.transceivers_scale_up == 5376 * 2 // 2
    assert inv.transceivers == 6912


def test_names_ranks_and_groups(cm: podsim.System, nv: podsim.System) -> None:
    t = cm.topology
    assert t.names[cm.ranks[0]] == "node00/npu0/die0"
    die = t.id_of("node07/npu3/die1")
    rank = int(np.flatnonzero(cm.ranks == die)[0])
    assert rank == 7 * 16 + 3 * 2 + 1 and cm.rank_group[rank] == 7
    assert t.id_of("node07/cpu2") in cm.cpus
    assert len(cm.cpus) == 192 and len(set(cm.ranks) & set(cm.cpus)) == 0
    assert t.id_of("plane6/l2sw15") >= 0 and t.id_of("node47/l1sw6") >= 0
    assert nv.topology.names[nv.ranks[13]] == "gpu13"
    assert list(nv.rank_group[:8]) == [0, 0, 0, 0, 1, 1, 1, 1] and nv.rank_group.max() == 17
    assert len(nv.cpus) == 0
    for s in (cm, nv):
        assert s.ranks.dtype == np.int64 and s.rank_group.shape == s.ranks.shape


def test_ports_respect_switch_chips(cm: podsim.System, nv: podsim.System) -> None:
    for s in (cm, nv, podsim.system("hgx-h100")):
        nodes = s.topology.nodes()
        degree = np.bincount(s.topology.channels().src, minlength=len(nodes))
        assert np.all(degree <= nodes["max_ports"].to_numpy())
    l2 = cm.topology.id_of("plane0/l2sw00")
    assert np.count_nonzero(cm.topology.channels().src == l2) == 48


def test_path_counts(cm: podsim.System, nv: podsim.System) -> None:
    t, top = cm.topology, cm.spec.topology
    a = t.id_of("node00/npu0/die0")
    # Different nodes: die -> L1 (7 planes) -> L2 (16 per plane) -> L1 -> die.
    assert path_count(t, a, t.id_of("node07/npu3/die1")) == (4, top["l1_per_node"].value * top["l2_per_plane"].value) == (4, 112)
    # Same node, other NPU: through any of the 7 L1 switches.
    assert path_count(t, a, t.id_of("node00/npu3/die1")) == (2, 7)
    # Same NPU: the die-to-die link only.
    assert path_count(t, a, t.id_of("node00/npu0/die1")) == (1, 1)
    # CPU to a die on another node: same 112.
    assert path_count(t, t.id_of("node00/cpu0"), t.id_of("node30/npu5/die0")) == (4, 112)
    assert path_count(nv.topology, nv.ranks[0], nv.ranks[13]) == (2, 18)
    hgx = podsim.system("hgx-h100")
    split = hgx.spec.topology["link_split"].value
    assert path_count(hgx.topology, hgx.ranks[0], hgx.ranks[5]) == (2, sum(k * k for k in split)) == (2, 82)


def test_hop_counts(cm: podsim.System, nv: podsim.System) -> None:
    hist = hop_histogram(cm.topology, cm.ranks)
    # Ordered rank pairs: 0 switches (same NPU), 1 (same node), 3 (other node).
    assert hist == {0: 768, 1: 48 * 16 * 14, 3: 768 * (768 - 16)}
    assert hop_histogram(nv.topology, nv.ranks) == {1: 72 * 71} == nv.hop_histogram()


def test_system_fact_methods(nv: podsim.System) -> None:
    assert nv.path_count("gpu00", "gpu13") == (2, 18) == nv.path_count(int(nv.ranks[0]), int(nv.ranks[13]))
    assert nv.bisection_bandwidth_uni() == pytest.approx(36 * 18 * 50e9)
    with pytest.raises(ValueError, match="a: node id"):
        nv.path_count(10_000, 0)
    with pytest.raises(TypeError, match="b: expected a node id or name"):
        nv.path_count(0, 1.5)  # type: ignore[arg-type]


def test_bisection(cm: podsim.System, nv: podsim.System) -> None:
    rate = cm.spec.link("rank_link")["rate_uni"].si
    assert bisection_bandwidth(cm.topology, cm.ranks) == pytest.approx(384 * 7 * rate)  # 75.264 TB/s uni
    # The L1-L2 tier of half the nodes carries exactly as much: non-blocking.
    assert bisection_bandwidth(cm.topology, cm.ranks) == pytest.approx(24 * 7 * 16 * cm.spec.link("uplink")["rate_uni"].si)
    assert bisection_bandwidth(nv.topology, nv.ranks) == pytest.approx(36 * 18 * 50e9)
    hgx = podsim.system("hgx-h100")
    assert bisection_bandwidth(hgx.topology, hgx.ranks) == pytest.approx(4 * 18 * 25e9)


def _hand_peak(s: podsim.System) -> dict[str, float]:
    """Recompute the headline figures from the raw spec values, by hand."""
    chip, top = s.spec.chip, s.spec.topology
    chips = top["nodes"].value * top["chips_per_node"].value if "nodes" in top else top["chips"].value
    endpoints = chips * (chip["dies"].value if chip["die_endpoints"] else 1)
    hbm = chip["hbm"]
    return {
        "bf16_flops": chips * chip["compute"]["bf16_dense"].si,
        "hbm_bandwidth_uni_Bps": chips * hbm["stacks"].value * hbm["bus_bits_per_stack"].value * hbm["gbps_per_pin"].value * 1e9 / 8,
        "hbm_capacity_bytes": chips * hbm["stacks"].value * hbm["capacity_per_stack"].si,
        "scale_up_bidi_Bps": 2 * endpoints * chip["scale_up_links"].value * s.spec.link("rank_link")["rate_uni"].si,
    }


EXPECTED = {  # the public figures (TB/s, PFLOPS; capacities in the DRAM makers' GB, GiB), hardware.md §1.1 and §2
    "cloudmatrix384": {"scale_up_bidi_Bps": 301.056e12, "hbm_bandwidth_uni_Bps": 1228.8e12, "hbm_capacity_bytes": 384 * 128 * 2**30, "bf16_flops": 299.52e15},
    "cloudmatrix384-sa": {"scale_up_bidi_Bps": 268.8e12, "hbm_bandwidth_uni_Bps": 1228.8e12, "hbm_capacity_bytes": 384 * 128 * 2**30, "bf16_flops": 299.52e15},
    "gb300-nvl72": {"scale_up_bidi_Bps": 129.6e12, "hbm_bandwidth_uni_Bps": 576e12, "hbm_capacity_bytes": 72 * 288 * 2**30, "bf16_flops": 180e15},
    "gb200-nvl72": {"scale_up_bidi_Bps": 129.6e12, "hbm_bandwidth_uni_Bps": 576e12, "hbm_capacity_bytes": 72 * 192 * 2**30, "bf16_flops": 180e15},
    "hgx-h100": {"scale_up_bidi_Bps": 7.2e12, "hbm_bandwidth_uni_Bps": 26.8e12, "hbm_capacity_bytes": 8 * 80 * 2**30, "bf16_flops": 7.912e15},
    "hgx-h20": {"scale_up_bidi_Bps": 7.2e12, "hbm_bandwidth_uni_Bps": 32e12, "hbm_capacity_bytes": 8 * 96 * 2**30, "bf16_flops": 1.184e15},
}


@pytest.mark.parametrize("name", SHIPPED)
def test_peak_matches_hand_arithmetic_and_public_figures(name: str) -> None:
    s = podsim.system(name)
    peak = s.peak()
    for key, value in _hand_peak(s).items():
        assert getattr(peak, key) == pytest.approx(value, rel=1e-12), key
        assert getattr(peak, key) == pytest.approx(EXPECTED[name][key], rel=1e-6), key
    assert peak.scale_up_uni_Bps * 2 == peak.scale_up_bidi_Bps
    assert peak.per_chip()["bf16_flops"] == pytest.approx(s.spec.chip["compute"]["bf16_dense"].si)


def test_cloudmatrix_extra_figures(cm: podsim.System) -> None:
    p = cm.peak()
    assert p.transceivers == 6912 and p.transceivers_scale_up == 5376 and p.transceivers_scale_out == 1536
    assert p.scale_out_uni_Bps == pytest.approx(384 * 50e9)
    assert p.power_W == 559e3 and p.per_watt()["bf16_flops"] == pytest.approx(299.52e15 / 559e3)
    assert p.int8_ops == pytest.approx(2 * p.bf16_flops)
    assert p.fp8_flops is None
    nv = podsim.system("gb300-nvl72").peak()
    assert nv.fp4_flops == pytest.approx(1080e15) and nv.transceivers_scale_up == 0 and nv.transceivers is None


def test_optics_power_sums_every_optical_tier(tmp_path: Path) -> None:
    """CloudMatrix 384 with its die-L1 links optical too. Each tier has 5376 links of 224 Gb/s
    (die-L1: 48 nodes x 16 dies x 7 L1; L1-L2: 48 x 7 L1 x 16 L2); a 400G LPO module (4 x 112G
    lanes) carries two of them, so 2688 modules per end, 5376 per tier, 10752 in all; at 4.5 W
    each (links.toml) 48.384 kW of optics."""
    path = tmp_path / "optical-ranks.toml"
    path.write_text('[system]\nname = "cm-optical-ranks"\ntitle = "t"\nextends = "cloudmatrix384"\n'
                    '[topology.rank_link]\ntransceiver = "lpo-400g"\n')
    s = podsim.system(path)
    assert s.inventory().links["die-l1"] == s.inventory().links["l1-l2"] == 5376
    p = s.peak()
    assert p.transceivers_scale_up == 10752
    assert p.optics_power_W == pytest.approx(10752 * 4.5, rel=1e-12)


def test_rank_memory(cm: podsim.System, nv: podsim.System) -> None:
    die = cm.rank_memory
    assert (die.type, die.stacks, die.gbps_per_pin) == ("HBM2E", 4, 3.125)
    assert die.bandwidth_uni_Bps == pytest.approx(1.6e12) and die.capacity_bytes == 64 * 2**30
    assert die.bandwidth_uni_Bps * len(cm.ranks) == pytest.approx(cm.peak().hbm_bandwidth_uni_Bps)
    gpu = nv.rank_memory
    assert (gpu.type, gpu.stacks) == ("HBM3E", 8) and gpu.bandwidth_uni_Bps == pytest.approx(8e12)


def test_user_system_file(tmp_path: Path) -> None:
    """A user's own system: a new chip and link on a small two-tier Clos, next to shipped parts."""
    path = tmp_path / "mini.toml"
    path.write_text("""
[system]
name = "mini"
title = "2-node test Clos"
builder = "two-tier-clos"
chip = "mini-npu"

[topology]
nodes = { value = 2, unit = "count", source = "test", evidence = "V" }
chips_per_node = { value = 2, unit = "count", source = "test", evidence = "V" }
cpus_per_node = { value = 0, unit = "count", source = "test", evidence = "V" }
l1_per_node = { value = 2, unit = "count", source = "test", evidence = "V" }
l2_per_plane = { value = 3, unit = "count", source = "test", evidence = "V" }
l1_switch = "ub-l1"
l2_switch = "ub-l2"
rank_link = { link = "fast", latency = { value = 20, unit = "ns", source = "test", evidence = "V" } }
uplink = { link = "ub-224g", latency = { value = 50, unit = "ns", source = "test", evidence = "V" } }

[chips.mini-npu]
kind = "npu"
title = "one-die NPU"
dies = { value = 1, unit = "count", source = "test", evidence = "V" }
die_endpoints = false
scale_up_links = { value = 4, unit = "count", source = "test", evidence = "V" }
power = { value = 100, unit = "W", source = "test", evidence = "V" }
compute = { bf16_dense = { value = 100, unit = "TFLOPS", source = "test", evidence = "V" } }
[chips.mini-npu.hbm]
type = "HBM3"
stacks = { value = 2, unit = "count", source = "test", evidence = "V" }
bus_bits_per_stack = { value = 1024, unit = "bit", source = "test", evidence = "V" }
gbps_per_pin = { value = 6.4, unit = "Gb/s", source = "test", evidence = "V" }
capacity_per_stack = { value = 16, unit = "GiB", source = "test", evidence = "V" }

[links.fast]
title = "test link"
rate_uni = { value = 400, unit = "Gb/s", source = "test", evidence = "V" }
""")
    s = podsim.system(path)
    assert s.name == "mini" and len(s.ranks) == 4 and len(s.cpus) == 0
    assert s.inventory().switches == {"l1": 4, "l2": 6}
    assert s.peak().scale_up_uni_Bps == pytest.approx(4 * 4 * 50e9)
    assert s.peak().hbm_bandwidth_uni_Bps == pytest.approx(4 * 2 * 1024 * 6.4e9 / 8)
    assert path_count(s.topology, s.ranks[0], s.ranks[3]) == (4, 2 * 2 * 3 * 2)  # 2 links per L1 at each end
    assert s.topology.names[s.ranks[3]] == "node1/npu1"


@pytest.mark.parametrize("name", SHIPPED)
def test_small_all_to_all_runs(name: str) -> None:
    """4 KiB writes between 8 ranks spread over the system (and a CPU where there is one)."""
    s = podsim.system(name)
    pick = s.ranks[np.linspace(0, len(s.ranks) - 1, 8).astype(int)]
    eps = [*pick.tolist(), *s.cpus[:1].tolist()]
    pairs = [(a, b) for a in eps for b in eps if a != b]
    msgs = podsim.Messages(src=[a for a, _ in pairs], dst=[b for _, b in pairs], size=4096)
    res = podsim.simulate(s, msgs, seed=1)
    assert res.complete
    assert res.ledger.balanced
    assert int(res.ledger.delivered_bytes.sum()) == 4096 * len(pairs)
    assert res.achieved_bandwidth() <= s.peak().scale_up_uni_Bps + float(s.cpus.size and s.spec.cpu["scale_up_bandwidth_uni"].si)
