"""The engine's fault model: channels that fail and are repaired during a run.

Exact cases on hand-built fabrics, system-level elements (switch chips, directions, transceivers),
bad input, and a property test: random fabrics, workloads and fault schedules, run with the
per-event invariant check, must deliver every message exactly once and keep the ledger
(lost - retransmitted = waiting) balanced.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st
from invariant_checks import assert_same_result
from strategies import DEADLOCK_FREE_SHAPES, Scenario, scenarios

import podsim
from podsim import faults

RATE = 28_000_000_000
LAT = 10_000
SWITCH_LAT = 100_000
MTU, HDR = 4096, 32


def two_paths(second_path: bool = True) -> podsim.Topology:
    """a and b joined through switch s1 and (optionally) s2: channels a->s1 0, s1->a 1, s1->b 2,
    b->s1 3, then a->s2 4, s2->a 5, s2->b 6, b->s2 7."""
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    for name in ("s1", "s2")[: 2 if second_path else 1]:
        s = t.add_switch(name, latency_ps=SWITCH_LAT, buffer_bytes=64 << 10)
        t.connect(a, s, rate_Bps=RATE, latency_ps=LAT)
        t.connect(s, b, rate_Bps=RATE, latency_ps=LAT)
    return t


def one_message(size: int = 1 << 20) -> podsim.Messages:
    return podsim.Messages(src=[0], dst=[1], size=[size])


def run(topo: podsim.Topology, msgs: podsim.Messages, **kw: object) -> podsim.Result:
    return podsim.simulate(topo, msgs, mtu=MTU, header_bytes=HDR, routing="spray", check=True, **kw)


def test_a_fault_from_the_start_equals_a_fabric_without_that_path() -> None:
    # s2 is the last switch built, so the remaining ports keep their indices: same choices.
    without = run(two_paths(second_path=False), one_message())
    plan = [faults.fail(c, at_ps=0) for c in (4, 5, 6, 7)]
    faulted = run(two_paths(), one_message(), faults=plan)
    np.testing.assert_array_equal(faulted.messages.end_ps, without.messages.end_ps)
    assert faulted.ledger.lost_packets.sum() == 0


def test_a_fault_after_the_end_changes_nothing() -> None:
    clean = run(two_paths(), one_message())
    late = run(two_paths(), one_message(), faults=[faults.fail(2, at_ps=10**9)])
    np.testing.assert_array_equal(late.messages.end_ps, clean.messages.end_ps)
    np.testing.assert_array_equal(late.channels.wire_bytes, clean.channels.wire_bytes)
    # The engine ran on to the fault's time; the traffic, its utilisation and its plots did not
    # (they were once stretched to 1 ms, the whole run in the first bin).
    assert late.now_ps == 10**9 > late.traffic_end_ps == clean.traffic_end_ps == int(clean.messages.end_ps[0])
    np.testing.assert_array_equal(late.channels.utilization, clean.channels.utilization)


@pytest.mark.parametrize("recovery", ["retransmit", "replay"])
def test_losing_a_path_mid_message_slows_it_and_counts_every_packet(recovery: str) -> None:
    clean = run(two_paths(), one_message())
    res = run(two_paths(), one_message(), faults=[faults.fail(2, at_ps=5_000_000)], recovery=recovery)
    led = res.ledger
    assert res.complete and led.balanced
    assert res.messages.end_ps[0] > clean.messages.end_ps[0]
    # s1 has no other way to b: what it held for s1->b and what was on that wire is lost, then
    # retransmitted by a over s2; a link-level replay from s1 finds no path either.
    # A failed replay counts as lost only (it once counted as replayed too).
    assert led.lost_packets[0] > 0 and led.lost_packets[0] == led.retransmitted_packets[0]
    assert led.replayed_packets[0] == 0
    assert int(led.delivered_bytes.sum()) == 1 << 20 == int(led.received_bytes[1])
    # Nothing crossed s1->b after the failure (its transmissions all started before it).
    assert res.channels.wire_bytes[2] < clean.channels.wire_bytes[2]


def test_replay_from_the_sender_loses_nothing_when_it_has_another_port() -> None:
    # a->s1 fails with packets on it: a itself replays them over a->s2.
    res = run(two_paths(), one_message(), faults=[faults.fail(0, at_ps=3_000_000)], recovery="replay")
    led = res.ledger
    assert res.complete and led.balanced
    assert led.replayed_packets[0] >= 1
    assert led.lost_packets.sum() == 0 and led.retransmitted_packets.sum() == 0
    # Retransmit mode loses the same packet instead, and pays the timeout for it.
    rt = run(two_paths(), one_message(), faults=[faults.fail(0, at_ps=3_000_000)], recovery="retransmit",
             retransmit_timeout_ps=50_000_000)
    assert rt.ledger.lost_packets[0] == led.replayed_packets[0]
    assert rt.messages.end_ps[0] > 50_000_000 > res.messages.end_ps[0]
    # Bytes are payload, headers not counted: each packet lost early in the message is a full one.
    full = MTU - HDR
    assert led.replayed_bytes[0] == full * led.replayed_packets[0]
    assert rt.ledger.lost_bytes[0] == rt.ledger.retransmitted_bytes[0] == full * rt.ledger.lost_packets[0]


def test_a_cut_off_destination_is_reported_and_a_repair_reconnects_it() -> None:
    t = two_paths(second_path=False)
    with pytest.raises(podsim.CutOff, match="'a' cannot reach 'b'"):
        run(t, one_message(), faults=[faults.fail(2, at_ps=2_000_000)])
    res = run(t, one_message(), faults=[faults.fail(2, at_ps=2_000_000), faults.repair(2, at_ps=80_000_000)])
    assert res.complete and res.ledger.balanced
    assert res.messages.end_ps[0] > 80_000_000
    assert res.ledger.lost_packets[0] == res.ledger.retransmitted_packets[0] > 0


def test_stepping_api_fail_and_repair() -> None:
    sim = podsim.Simulation(two_paths(), mtu=MTU, header_bytes=HDR, routing="spray", check=True)
    sim.add(one_message())
    sim.run_until(4_000_000)
    sim.fail(2)
    sim.run_until(4_000_001)
    assert not sim.channel_up(2) and sim.channel_up(6)
    sim.repair(2, at_ps=10_000_000)
    sim.run()
    assert sim.channel_up(2)
    assert sim.result().complete and sim.result().ledger.balanced


def test_a_packet_on_a_wire_that_failed_2_to_the_16_times_is_still_lost() -> None:
    """A packet carries its channel's failure count from when it was sent, and is lost if the
    count changed. The count was 16 bits: 65,536 failures brought it back and the packet through."""
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    c = t.connect(a, b, rate_Bps=1e9, latency_ps=10**9)  # the packet is on the wire for 1 ms
    sim = podsim.Simulation(t, retransmit_timeout_ps=10**6)
    sim.inject(a, b, 100)
    for i in range(1 << 16):
        sim.fail(c, at_ps=10**6 + 2 * i)
        sim.repair(c, at_ps=10**6 + 2 * i + 1)
    sim.run()
    res = sim.result()
    assert res.ledger.lost_packets[0] == res.ledger.retransmitted_packets[0] == 1
    assert res.complete


def test_a_transmission_cut_off_by_a_failure_is_charged_to_the_failure_only() -> None:
    """A channel failing mid-packet was charged the packet's whole serialization time."""
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    c = t.connect(a, b, rate_Bps=1e9, latency_ps=1000)  # 4,032 wire bytes: 4.032 us on the wire
    msgs = podsim.Messages(src=[a], dst=[b], size=[4000])
    kw: dict[str, Any] = {"mtu": 4096, "header_bytes": 32, "retransmit_timeout_ps": 1_000_000, "check": True}
    clean = podsim.simulate(t, msgs, **kw)
    cut = podsim.simulate(t, msgs, faults=[faults.fail(c, at_ps=1_000_000), faults.repair(c, at_ps=2_000_000)], **kw)
    assert clean.channels.busy_ps[c] == 4_032_000
    assert cut.complete and cut.ledger.lost_packets[0] == 1
    assert cut.channels.busy_ps[c] == 1_000_000 + 4_032_000  # cut at 1 us, then sent again whole
    assert cut.ledger.lost_bytes[0] == cut.ledger.retransmitted_bytes[0] == 4000  # payload, not the 4,032 on the wire


def test_same_seed_and_schedule_give_identical_results() -> None:
    plan = [faults.fail(2, at_ps=3_000_000), faults.repair(2, at_ps=9_000_000), faults.fail(4, at_ps=6_000_000)]
    kw = dict(mtu=MTU, header_bytes=HDR, routing="adaptive", seed=7, faults=plan)
    a = podsim.simulate(two_paths(), one_message(), **kw)
    b = podsim.simulate(two_paths(), one_message(), **kw)
    assert_same_result(a, b)


def test_bad_fault_input_names_the_field() -> None:
    sim = podsim.Simulation(two_paths(), mtu=MTU, header_bytes=HDR)
    with pytest.raises(ValueError, match=r"channel: must be in \[0, 7\], got 99"):
        sim.fail(99)
    sim.run_until(1000)
    with pytest.raises(ValueError, match="at_ps: must be >= now"):
        sim.fail(2, at_ps=10)
    with pytest.raises(TypeError, match="bare Topology"):
        sim.fail(faults.switch("s1"))
    with pytest.raises(ValueError, match="recovery: must be one of"):
        podsim.Simulation(two_paths(), recovery="pray")
    with pytest.raises(TypeError, match="faults: expected"):
        podsim.simulate(two_paths(), one_message(), faults=[(2, 1000)])


def test_a_change_too_late_to_finish_after_is_refused_before_the_run() -> None:
    """A repair at the last simulated time (Change accepts up to 2^62) used to fail mid-run with an
    OverflowError about delays and rates; it is refused when scheduled, naming the change and the
    bound: 2^62 ps less the retransmission timeout."""
    hgx = podsim.system("hgx-h100")
    wl = podsim.workloads.all_to_all(hgx, 4096)
    down = [faults.fail(faults.switch(f"nvswitch{k}")) for k in range(4)]
    late = faults.repair(faults.switch("nvswitch0"), at_ps=1 << 62)
    bound = (1 << 62) - 1_000_000
    with pytest.raises(ValueError, match=rf"^at_ps \(repair of switch:nvswitch0\): must be in \[0, {bound}\] "
                                         r"\(2\^62 ps, the last simulated time, less the retransmission timeout, "
                                         r"1000000 ps.*\), got 4611686018427387904$"):
        podsim.simulate(hgx, wl, faults=[*down, late], retransmit_timeout_ps=1_000_000)
    with pytest.raises(ValueError, match=r"^at_ps \(fail of channel 2\): must be in"):
        podsim.Simulation(two_paths(), mtu=MTU, header_bytes=HDR).fail(2, at_ps=(1 << 62) - 1)
    # At the bound the run finishes: the waiting messages go through after the repair.
    res = podsim.simulate(hgx, wl, faults=[*down, faults.repair(faults.switch("nvswitch0"), at_ps=bound)],
                          retransmit_timeout_ps=1_000_000)
    assert res.complete and res.makespan_ps > bound


# ---------------------------------------------------------------------------------------------
# Elements of shipped systems


def test_catalog_channels_of_links_and_directions(cm: podsim.System, cm_cat: podsim.faults.Catalog) -> None:
    row = cm_cat.links.iloc[0]
    a, b = cm.topology.names[int(row["a"])], cm.topology.names[int(row["b"])]
    link = int(row["link"])
    np.testing.assert_array_equal(faults.channels_of(cm, faults.link(a, b)), [link, link + 1])
    np.testing.assert_array_equal(faults.channels_of(cm, faults.direction(a, b)), [link])
    np.testing.assert_array_equal(faults.channels_of(cm, faults.direction(b, a)), [link + 1])
    ch = cm.topology.channels()
    assert (ch.src[link], ch.dst[link]) == (row["a"], row["b"])


def test_a_switch_chip_failing_mid_all_to_all_on_nvl72(nv: podsim.System) -> None:
    wl = podsim.workloads.all_to_all(nv.ranks[:8], 16 << 10)
    clean = podsim.simulate(nv, wl)
    plan = [faults.fail(faults.switch(nv.topology.names[int(np.flatnonzero(~nv.topology.is_endpoint())[0])]), at_ps=1_000_000)]
    for recovery in ("retransmit", "replay"):
        res = podsim.simulate(nv, wl, faults=plan, recovery=recovery)
        assert res.complete and res.ledger.balanced
        assert res.ledger.lost_packets.sum() == res.ledger.retransmitted_packets.sum()
        assert int(res.ledger.delivered_bytes.sum()) == int(wl.size.sum())
        assert res.messages.end_ps.max() >= clean.messages.end_ps.max()


def test_a_faulted_system_maps_elements_to_its_own_channels(nv: podsim.System) -> None:
    names = [nv.topology.names[int(s)] for s in np.flatnonzero(~nv.topology.is_endpoint())[:2]]
    f = faults.apply(nv, [faults.switch(names[0])])
    mapped = faults.channels_of(f, faults.switch(names[1]))
    ch = f.topology.channels()
    sw = f.topology.names.index(names[1])
    assert len(mapped) and all(sw in (ch.src[c], ch.dst[c]) for c in mapped)
    with pytest.raises(ValueError, match="already failed before the run"):
        faults.channels_of(f, faults.switch(names[0]))


def test_an_element_that_lost_one_link_before_the_run_can_still_fail_mid_run(nv: podsim.System) -> None:
    """Failing a switch of a FaultedSystem that had lost one of its links was refused as if the
    whole switch were gone; its remaining channels fail."""
    f = faults.apply(nv, [faults.link("gpu00", "nvswitch00")])
    left = faults.channels_of(f, faults.switch("nvswitch00"))
    full = faults.channels_of(nv, faults.switch("nvswitch00"))
    assert len(left) == len(full) - 2  # one link, both directions, is gone
    res = podsim.simulate(f, podsim.workloads.all_to_all(f, 4096),
                          faults=[faults.fail(faults.switch("nvswitch00"), at_ps=1_000_000)])
    assert res.complete and res.ledger.balanced


def test_a_channel_repaired_while_a_lost_packet_is_on_its_wire_sends_what_queued_behind_it() -> None:
    """Found by the property below. A channel fails and is repaired at once while a packet fills
    the next hop's whole 64-byte buffer; the next packet queues for that channel and waits for
    credits. They come back when the lost packet would have arrived, and must wake it: the run
    used to stall there, reported as a Deadlock."""
    t = podsim.Topology()
    h0, h1 = t.add_endpoint("h0", buffer_bytes=64), t.add_endpoint("h1", buffer_bytes=64)
    leaves = [t.add_switch(f"l{i}", latency_ps=0, buffer_bytes=64) for i in range(2)]
    for leaf in leaves:
        t.connect(h0, leaf, rate_Bps=1e8, latency_ps=1)  # channels 0 (plane 0) and 4 (plane 1)
        t.connect(h1, leaf, rate_Bps=1e8, latency_ps=1)
    sim = podsim.Simulation(t, mtu=64, header_bytes=0, ack_bytes=1, request_bytes=1, check=True, recovery="replay")
    sim.add(podsim.Messages([h0], [h1], [65]))  # two packets: 64 bytes, then 1
    sim.schedule([faults.fail(0, at_ps=0),  # plane 0 out: both packets take plane 1
                  faults.fail(4, at_ps=1), faults.repair(4, at_ps=1),  # the first one is lost on its wire
                  faults.repair(0, at_ps=1001)])
    sim.run()
    res = sim.result()
    assert res.complete and res.ledger.balanced and res.ledger.replayed_packets[0] == 1


# ---------------------------------------------------------------------------------------------
# Property: random fabrics, traffic and fault schedules


@st.composite
def faulted_scenarios(draw: st.DrawFn) -> tuple[Scenario, list[faults.Change], str]:
    """A deadlock-free scenario and a schedule of failures (some repaired mid-run); everything
    still down is repaired at the end, so every message must finish."""
    scn = draw(scenarios(shapes=DEADLOCK_FREE_SHAPES, max_messages=6))
    n = scn.built.topology.num_channels
    horizon = draw(st.integers(1_000, 20_000_000))
    plan: list[faults.Change] = []
    for c in draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6)):
        down = draw(st.integers(0, horizon))
        plan.append(faults.fail(c, at_ps=down))
        if draw(st.booleans()):
            plan.append(faults.repair(c, at_ps=draw(st.integers(down, horizon))))
    plan += [faults.repair(c, at_ps=horizon + 1) for c in range(n)]
    return scn, plan, draw(st.sampled_from(sorted(podsim.RECOVERY)))


@settings(max_examples=200, deadline=None)
@given(faulted_scenarios())
def test_faults_never_lose_or_duplicate_a_packet(case: tuple[Scenario, list[faults.Change], str]) -> None:
    scn, plan, recovery = case
    note(f"recovery={recovery} plan={plan}")
    sim = scn.simulation(check=True, recovery=recovery, retransmit_timeout_ps=1_000_000)
    sim.schedule(plan)
    sim.run()
    res = sim.result()
    led = res.ledger
    assert res.complete and led.balanced
    assert np.array_equal(led.delivered_packets, led.injected_packets)
    assert np.array_equal(led.lost_packets, led.retransmitted_packets)
    # Every payload byte arrived once: the ledger's delivered bytes are the workload's, per message.
    assert int(led.delivered_bytes.sum()) == sum(scn.workload.size) == int(led.received_bytes.sum())
    assert np.all(led.retransmitted_bytes <= led.lost_bytes)
    event(f"lost packets: {'0' if led.lost_packets.sum() == 0 else '1+'}")
    event(f"replayed packets: {'0' if led.replayed_packets.sum() == 0 else '1+'}")


def test_a_message_to_a_peer_cut_off_until_a_repair_waits_for_it() -> None:
    """Injected while a fault cuts its destination off, a message waits for the scheduled repair
    (it was refused as 'not connected', though one injected just before the outage waited); a
    pair the fabric never connects is still refused at once."""
    t = two_paths(second_path=False)
    sim = podsim.Simulation(t, mtu=MTU, header_bytes=HDR, check=True)
    sim.fail(2, at_ps=1_000)
    sim.repair(2, at_ps=10_000_000)
    sim.run_until(2_000)
    m = sim.inject(0, 1, 4096)
    sim.run()
    res = sim.result()
    assert res.complete and res.messages.end_ps[m] > 10_000_000
    island = podsim.Topology()
    a, b, c = island.add_endpoint("a"), island.add_endpoint("b"), island.add_endpoint("c")
    s1, s2 = (island.add_switch(n, latency_ps=1000, buffer_bytes=64 << 10) for n in ("s1", "s2"))
    for x, s in ((a, s1), (b, s1), (c, s2)):
        island.connect(x, s, rate_Bps=1e9, latency_ps=1000)
    apart = podsim.Simulation(island)
    apart.fail(0, at_ps=10**6)
    with pytest.raises(ValueError, match="'c' and 'a' are not connected both ways"):
        apart.inject(a, c, 64)
    assert apart.inject(a, b, 64) == 0
