"""podsim.faults: failed elements resolved to links, the module <-> link mapping, rank policies,
unreachable ranks, and runs on the degraded fabric."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import podsim
from podsim import faults


def test_modules_match_inventory_and_carry_two_links_each(cm: podsim.System, cm_cat: faults.Catalog) -> None:
    x = cm_cat.transceivers
    assert len(x) == cm.inventory().transceivers_scale_up
    assert set(x["tier"]) == {"l1-l2"}
    assert all(len(links) == 2 for links in x["links"])
    # Every L1-L2 link rides on exactly one module at each of its two ends.
    uplinks = cm_cat.links[cm_cat.links["tier"] == "l1-l2"]["link"]
    seen = Counter(l for links in x["links"] for l in links)
    assert set(seen) == set(uplinks) and set(seen.values()) == {2}


def test_module_mapping_is_the_documented_one(cm: podsim.System, cm_cat: faults.Catalog) -> None:
    names = cm.topology.names
    links = cm_cat.links.set_index("link")
    # L1 switch module j: uplinks to L2 switches 2j and 2j+1 of its sub-plane.
    l1 = cm_cat.transceivers.set_index("name").loc["node00/l1sw3/xcvr2", "links"]
    assert {names[b] for b in links.loc[list(l1), "b"]} == {"plane3/l2sw04", "plane3/l2sw05"}
    # L2 switch module j: links to nodes 2j and 2j+1.
    l2 = cm_cat.transceivers.set_index("name").loc["plane3/l2sw04/xcvr05", "links"]
    assert {names[a] for a in links.loc[list(l2), "a"]} == {"node10/l1sw3", "node11/l1sw3"}


def test_sa_variant_has_the_same_module_count() -> None:
    sa = podsim.system("cloudmatrix384-sa")
    assert len(faults.Catalog(sa).transceivers) == sa.inventory().transceivers_scale_up


def test_link_faster_than_a_module_rides_on_several(tmp_path: Path) -> None:
    p = tmp_path / "fast.toml"
    p.write_text('[system]\nname = "fast"\ntitle = "fast"\nextends = "cloudmatrix384"\n'
                 '[links.ub-800g]\ntitle = "t"\nrate_uni = { value = 800, unit = "Gb/s", source = "assumption", '
                 'evidence = "assumption", note = "test" }\n[topology.uplink]\nlink = "ub-800g"\n')
    fast = podsim.system(p)
    cat = faults.Catalog(fast)
    assert len(cat.transceivers) == fast.inventory().transceivers_scale_up
    assert all(len(links) == 1 for links in cat.transceivers["links"])
    per_end = Counter(cat.transceivers["links"])
    assert set(per_end.values()) == {4}  # 800 Gb/s over 448 Gb/s modules: 2 per end, 2 ends
    f = faults.apply(fast, [faults.transceiver(cat.transceivers["name"].iloc[0])], catalog=cat)
    assert len(f.removed_links) == 1


def test_transceiver_failure_removes_its_two_links_and_keeps_everything_else(cm: podsim.System, cm_cat: faults.Catalog) -> None:
    f = faults.apply(cm, [faults.transceiver("node00/l1sw0/xcvr0")], catalog=cm_cat)
    assert len(f.removed_links) == 2 and f.health == "bandwidth"
    assert np.array_equal(f.ranks, cm.ranks) and f.rank_capacity.min() == 1.0
    old, new = cm.topology.channels(), f.topology.channels()
    kept = np.flatnonzero(f.channel_map >= 0)
    assert len(kept) == len(old) - 4 and len(new) == len(kept)
    for col in ("src", "dst", "rate_Bps", "latency_ps"):
        assert np.array_equal(getattr(old, col)[kept], getattr(new, col)[f.channel_map[kept]]), col
    assert f.topology.names == cm.topology.names
    # Minimal paths re-spread: node00 plane 0 lost 2 of its 16 uplinks.
    assert f.topology.num_nodes == cm.topology.num_nodes
    a, b = cm.topology.id_of("node00/npu0/die0"), cm.topology.id_of("node01/npu0/die0")
    from podsim.systems.graph import path_count
    assert path_count(f.topology, a, b) == (4, cm.path_count(a, b)[1] - 2)


def test_no_failure_is_an_identical_fabric(cm: podsim.System, cm_cat: faults.Catalog) -> None:
    f = faults.apply(cm, [], catalog=cm_cat)
    assert f.topology.nodes().equals(cm.topology.nodes())  # every node parameter carried over
    assert f.topology.channels().to_pandas().equals(cm.topology.channels().to_pandas())
    assert f.health == "healthy" and f.run_defaults() == cm.run_defaults()


def test_tray_policies_on_nvl72(nv: podsim.System) -> None:
    adaptive = faults.apply(nv, [faults.tray(4)], policy="adaptive-bandwidth")
    links_per_gpu = nv.spec.chip["scale_up_links"].value
    per_tray = nv.spec.topology["switches_per_tray"].value
    assert len(adaptive.removed_links) == per_tray * len(nv.ranks)
    assert np.allclose(adaptive.rank_capacity, (links_per_gpu - per_tray) / links_per_gpu)
    assert len(adaptive.ranks) == len(nv.ranks) and adaptive.health == "bandwidth"
    full = faults.apply(nv, [faults.tray(4)], policy="full-bandwidth")
    assert len(full.ranks) == 0 and full.health == "unhealthy"
    # The tray is chips 2t and 2t+1: failing them by name is the same state.
    chips = faults.apply(nv, [faults.switch("nvswitch08"), faults.switch("nvswitch09")])
    assert np.array_equal(chips.removed_links, adaptive.removed_links)


def test_full_bandwidth_parks_only_the_gpu_that_lost_a_link(nv: podsim.System) -> None:
    f = faults.apply(nv, [faults.link("nvswitch03", "gpu00")], policy="full-bandwidth")
    gpu0 = nv.topology.id_of("gpu00")
    assert f.parked.tolist() == [gpu0] and f.health == "degraded"
    wl = podsim.workloads.all_to_all(f, bytes_per_pair=4096)
    assert gpu0 not in wl.ranks and len(wl.ranks) == len(nv.ranks) - 1
    kept = faults.apply(nv, [faults.link("gpu00", "nvswitch03")], policy="adaptive-bandwidth")
    assert gpu0 in kept.ranks and kept.rank_capacity[0] == pytest.approx(17 / 18)


def test_direction_takes_the_whole_link_down(nv: podsim.System) -> None:
    one = faults.apply(nv, [faults.direction("gpu05", "nvswitch00")])
    both = faults.apply(nv, [faults.link("gpu05", "nvswitch00")])
    assert np.array_equal(one.removed_links, both.removed_links) and len(one.removed_links) == 1


def test_failures_accumulate_and_duplicates_count_once(nv: podsim.System) -> None:
    f = faults.apply(nv, [faults.switch("nvswitch00")])
    g = faults.apply(f, [faults.switch("nvswitch00"), faults.switch("nvswitch01")])
    assert g.base is nv and len(g.failures) == 3
    assert len(g.removed_links) == 2 * len(nv.ranks)


def test_bad_elements_and_arguments_name_the_field(nv: podsim.System) -> None:
    with pytest.raises(ValueError, match="nvswitch99"):
        faults.apply(nv, [faults.switch("nvswitch99")])
    with pytest.raises(ValueError, match="gb300-nvl72 has no optical modules in its scale-up fabric"):
        faults.apply(nv, [faults.transceiver("nvswitch00/xcvr0")])
    with pytest.raises(ValueError, match=r"no such optical module \(e\.g\. 'node00/l1sw0/xcvr0'\)"):
        faults.apply(podsim.system("cloudmatrix384"), [faults.transceiver("nvswitch00/xcvr0")])
    with pytest.raises(ValueError, match="9 switch trays"):
        faults.apply(nv, [faults.tray(9)])
    with pytest.raises(ValueError, match="no link between"):
        faults.apply(nv, [faults.link("gpu00", "gpu01")])
    with pytest.raises(ValueError, match="policy"):
        faults.apply(nv, [], policy="best-effort")
    with pytest.raises(ValueError, match="on_unreachable"):
        faults.apply(nv, [], on_unreachable="ignore")
    with pytest.raises(TypeError, match="failures"):
        faults.apply(nv, faults.tray(0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        faults.Element("cable", "x")
    with pytest.raises(ValueError, match="no switch trays"):
        faults.Catalog(podsim.system("cloudmatrix384")).names("tray")


def test_element_errors_say_what_is_valid(nv: podsim.System) -> None:
    """A wrong name is answered with a name that would work, not only with what is wrong."""
    hgx = podsim.system("hgx-h100")
    with pytest.raises(ValueError, match=r"^failures: link:gpu0~gpu1#0: no link between 'gpu0' and 'gpu1' "
                                         r"\(link tiers: gpu-switch\); e\.g\. 'gpu0~nvswitch0'$"):
        faults.apply(hgx, [faults.link("gpu0", "gpu1")])
    with pytest.raises(ValueError, match=r"no link between 'gpu00' and 'nvswitch0' \(link tiers: gpu-switch\); e\.g\. 'gpu00->nvswitch00'$"):
        faults.apply(nv, [faults.direction("gpu00", "nvswitch0")])
    with pytest.raises(ValueError, match=r"'nvswitch0' and 'gpu0' have 5 parallel links: index 0 to 4, got 5$"):
        faults.apply(hgx, [faults.link("nvswitch0", "gpu0", 5)])
    with pytest.raises(ValueError, match=r"^b: a node name has no '#', got 'gpu00#3'; give the link's index as index=3$"):
        faults.direction("nvswitch00", "gpu00#3")
    with pytest.raises(ValueError, match=r"^failures: direction:nvswitch00->gpu00#x: expected a name like 'a->b' "
                                         r"or 'a->b#1' \(node names, then the index of a parallel link\)$"):
        faults.apply(nv, [faults.Element("direction", "nvswitch00->gpu00#x")])
    with pytest.raises(ValueError, match=r"^failures: transceiver:x: gb300-nvl72 has no optical modules in its "
                                         r"scale-up fabric \(its links are electrical\)$"):
        faults.apply(nv, [faults.transceiver("x")])


def test_directions_are_listed_and_each_is_one_channel_of_its_link(cm_cat: faults.Catalog) -> None:
    links = cm_cat.names("link:l1-l2")
    directions = cm_cat.names("direction:l1-l2")
    assert len(directions) == 2 * len(links) == len(set(directions))
    assert len(cm_cat.names("direction")) == 2 * len(cm_cat.names("link"))
    there, back = (cm_cat.channels(cm_cat.element("direction:l1-l2", d)) for d in directions[:2])
    link = cm_cat.resolve(cm_cat.element("link:l1-l2", links[0]))
    assert len(there) == len(back) == 1
    assert sorted([int(there[0]), int(back[0])]) == [int(link[0]), int(link[0]) + 1]
    with pytest.raises(ValueError, match="no such link tier"):
        cm_cat.names("direction:l3-l4")


def test_cut_off_node_is_named_parked_or_kept(cm: podsim.System, cm_cat: faults.Catalog) -> None:
    node = [faults.switch(f"node03/l1sw{k}") for k in range(cm.spec.topology["l1_per_node"].value)]
    with pytest.raises(faults.Unreachable, match="node03/npu0/die0") as err:
        faults.apply(cm, node, catalog=cm_cat)
    assert len(err.value.cut_off) == int((cm.rank_group == 3).sum())
    assert isinstance(err.value, ValueError)
    parked = faults.apply(cm, node, on_unreachable="park", catalog=cm_cat)
    assert set(parked.parked.tolist()) == set(cm.ranks[cm.rank_group == 3].tolist())
    kept = faults.apply(cm, node, on_unreachable="keep", catalog=cm_cat)
    assert len(kept.cut_off) == len(parked.parked) and len(kept.ranks) == len(cm.ranks)
    pair = [int(cm.ranks[0]), int(kept.cut_off[0])]
    with pytest.raises(ValueError, match="not connected"):
        podsim.simulate(kept, podsim.workloads.all_to_all(pair, bytes_per_pair=64))


def test_die_with_no_switch_link_is_cut_off(cm: podsim.System, cm_cat: faults.Catalog) -> None:
    # Its sibling die still reaches it over the die-to-die link, but nobody else does.
    die = "node00/npu0/die0"
    gone = [faults.link(die, f"node00/l1sw{k}") for k in range(7)]
    with pytest.raises(faults.Unreachable) as err:
        faults.apply(cm, gone, catalog=cm_cat)
    assert err.value.cut_off == [die]
    # The example is a rank it cannot reach, not its sibling die (once named: it is reachable).
    assert err.value.example[0] == die and err.value.example[1] not in (die, "node00/npu0/die1")
    kept = faults.apply(cm, gone, catalog=cm_cat, on_unreachable="keep")
    pair = [kept.topology.names.index(n) for n in err.value.example]
    with pytest.raises(ValueError, match="not connected"):
        podsim.simulate(kept, podsim.workloads.all_to_all(pair, bytes_per_pair=64))


def test_tray_down_lowers_what_nvl72_delivers(nv: podsim.System) -> None:
    size = 256 << 10

    def busbw(system: object) -> float:
        wl = podsim.workloads.all_to_all(system, bytes_per_pair=size)
        return wl.evaluate(podsim.simulate(system, wl)).busbw_Bps

    f = faults.apply(nv, [faults.tray(0)], policy="adaptive-bandwidth")
    intact, degraded = busbw(nv), busbw(f)
    per_link = nv.spec.link("rank_link")["rate_uni"].si
    surviving = f.rank_capacity.min() * nv.spec.chip["scale_up_links"].value * per_link
    assert degraded < intact
    assert degraded <= surviving


def test_faulted_system_couples_its_ranks_in_service_to_hbm(nv: podsim.System) -> None:
    f = faults.apply(nv, [faults.link("nvswitch03", "gpu00")], policy="full-bandwidth")
    assert len(f.ranks) == len(nv.ranks) - 1
    wl = podsim.workloads.all_gather(f, 256 << 10)
    plain = podsim.simulate(f, wl)
    coupled = podsim.simulate(f, wl, memory=True)
    # Every byte a rank in service receives is written into its HBM; the parked GPU takes no part.
    gpu0 = int(np.flatnonzero(np.asarray(nv.topology.endpoints) == nv.topology.id_of("gpu00"))[0])
    written = coupled.ledger.hbm_write_bytes
    assert written.sum() == coupled.ledger.received_bytes.sum() > 0 and written[gpu0] == 0
    assert coupled.makespan_ps >= plain.makespan_ps
    streamed = podsim.hbm.simulate_system(f, podsim.hbm.sequential_read(), duration_ps=200_000)
    assert streamed.devices == len(f.ranks)
    assert streamed.peak_Bps == pytest.approx(nv.peak().hbm_bandwidth_uni_Bps * len(f.ranks) / len(nv.ranks))


def test_build_level_views_of_a_faulted_system_point_to_its_base(nv: podsim.System) -> None:
    f = faults.apply(nv, [faults.tray(0)])
    for view in (faults.failure_rates, faults.Catalog, faults.optics, faults.job_risk):
        with pytest.raises(TypeError, match=r"FaultedSystem's elements and failure rates are those of its \.base"):
            view(f)
    assert len(faults.failure_rates(f.base)) > 0
