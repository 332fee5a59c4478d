"""Exact, closed-form checks of the engine: serialization, forwarding, fairness, credits, routing."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import packet_sizes, ser_ps

import podsim
from podsim.fabrics import LinkParams, folded_clos

RATE = 28_000_000_000
LAT = 10_000
MTU, HDR = 4096, 32


def one_link(endpoint_buffer: int = 256 << 10, latency_ps: int = LAT) -> tuple[podsim.Topology, int, int]:
    t = podsim.Topology()
    a = t.add_endpoint("a", buffer_bytes=endpoint_buffer)
    b = t.add_endpoint("b", buffer_bytes=endpoint_buffer)
    t.connect(a, b, rate_Bps=RATE, latency_ps=latency_ps)
    return t, a, b


def one_switch(cut_through: bool, sw_lat: int = 150_000) -> tuple[podsim.Topology, int, int]:
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    s = t.add_switch("s", latency_ps=sw_lat, buffer_bytes=64 << 10, cut_through=cut_through)
    t.connect(a, s, rate_Bps=RATE, latency_ps=LAT)
    t.connect(s, b, rate_Bps=RATE, latency_ps=LAT)
    return t, a, b


@pytest.mark.parametrize("size", [1, 100, MTU - HDR, MTU - HDR + 1, 1 << 20, 3_000_017])
def test_one_link_time_is_propagation_plus_serialization(size: int) -> None:
    t, a, b = one_link()
    res = podsim.simulate(t, podsim.Messages([a], [b], [size]), mtu=MTU, header_bytes=HDR)
    wires = packet_sizes(size, MTU, HDR)
    delivered = sum(ser_ps(w, RATE) for w in wires) + LAT
    assert res.messages.delivered_ps[0] == delivered
    assert res.messages.first_byte_ps[0] == ser_ps(wires[0], RATE) + LAT
    # The write's acknowledgement (header-sized by default) returns over the reverse channel.
    assert res.messages.end_ps[0] == delivered + ser_ps(HDR, RATE) + LAT
    assert res.channels.wire_bytes[0] == sum(wires)
    assert res.channels.payload_bytes[0] == size
    assert res.channels.packets[0] == len(wires)


def test_read_is_request_then_data() -> None:
    t, a, b = one_link()
    size = 50_000
    res = podsim.simulate(t, podsim.Messages([a], [b], [size], kind="read"), mtu=MTU, header_bytes=HDR, request_bytes=64)
    request = ser_ps(64, RATE) + LAT
    data = sum(ser_ps(w, RATE) for w in packet_sizes(size, MTU, HDR)) + LAT
    assert res.messages.delivered_ps[0] == request + data
    assert res.messages.end_ps[0] == res.messages.delivered_ps[0]
    # The request travelled b -> a (channel 1), the data a -> b (channel 0).
    assert res.channels.wire_bytes[1] == 64
    assert res.channels.payload_bytes[0] == size


@pytest.mark.parametrize("npk", [1, 2, 10, 300])
def test_store_and_forward_closed_form(npk: int) -> None:
    sw = 150_000
    t, a, b = one_switch(cut_through=False, sw_lat=sw)
    res = podsim.simulate(t, podsim.Messages([a], [b], [npk * (MTU - HDR)]), mtu=MTU, header_bytes=HDR)
    # Equal packets stream back to back; the last is serialized once more at the switch.
    assert res.messages.delivered_ps[0] == (npk + 1) * ser_ps(MTU, RATE) + 2 * LAT + sw


@pytest.mark.parametrize("size", [1 << 20, 3_000_017])
def test_store_and_forward_tandem_recurrence(size: int) -> None:
    """Unequal packets: the switch output is a second server in tandem with the sender."""
    sw = 150_000
    t, a, b = one_switch(cut_through=False, sw_lat=sw)
    res = podsim.simulate(t, podsim.Messages([a], [b], [size]), mtu=MTU, header_bytes=HDR)
    sent = out_end = 0
    for w in packet_sizes(size, MTU, HDR):
        sent += ser_ps(w, RATE)
        out_end = max(sent + LAT + sw, out_end) + ser_ps(w, RATE)
    assert res.messages.delivered_ps[0] == out_end + LAT


@pytest.mark.parametrize("size", [MTU - HDR, 10 * (MTU - HDR), 1 << 20])
def test_cut_through_closed_form(size: int) -> None:
    sw = 150_000
    t, a, b = one_switch(cut_through=True, sw_lat=sw)
    res = podsim.simulate(t, podsim.Messages([a], [b], [size]), mtu=MTU, header_bytes=HDR)
    wires = packet_sizes(size, MTU, HDR)
    # Cut-through saves exactly the last packet's second serialization.
    expect = sum(ser_ps(w, RATE) for w in wires) + LAT + sw + LAT
    assert res.messages.delivered_ps[0] == expect


def test_cut_through_tail_waits_for_slow_input() -> None:
    """A fast output must not finish a packet before its tail arrived over a slow input."""
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    s = t.add_switch("s", latency_ps=0, buffer_bytes=64 << 10, cut_through=True)
    t.connect(a, s, rate_Bps=RATE, latency_ps=LAT)
    t.connect(s, b, rate_Bps=4 * RATE, latency_ps=LAT)
    res = podsim.simulate(t, podsim.Messages([a], [b], [MTU - HDR]), mtu=MTU, header_bytes=HDR)
    assert res.messages.delivered_ps[0] == ser_ps(MTU, RATE) + 2 * LAT


def test_two_senders_share_one_output_fairly() -> None:
    t = podsim.Topology()
    a1, a2, b = t.add_endpoint("a1"), t.add_endpoint("a2"), t.add_endpoint("b")
    s = t.add_switch("s", latency_ps=50_000, buffer_bytes=64 << 10)
    for e in (a1, a2, b):
        t.connect(e, s, rate_Bps=RATE, latency_ps=LAT)
    size = 4 << 20
    sim = podsim.Simulation(t, mtu=MTU, header_bytes=HDR)
    sim.add(podsim.Messages([a1, a2], [b, b], [size, size]))
    horizon = 2 * size * 10**12 // RATE
    for k in range(1, 20):
        sim.run_until(horizon * k // 20)
        got = sim.result().ledger.delivered_bytes
        assert abs(int(got[0]) - int(got[1])) <= MTU - HDR, (k, got)
    sim.run()
    res = sim.result()
    # Together they keep the receiver's link busy: each gets half of it.
    wire_total = 2 * sum(packet_sizes(size, MTU, HDR))
    assert res.messages.delivered_ps.max() <= wire_total * 10**12 // RATE + 2 * ser_ps(MTU, RATE) + 2 * LAT + 50_000 + 10**6


def test_tiny_receiver_buffer_throttles_to_buffer_over_round_trip() -> None:
    lat = 1_000_000  # 1 us each way makes the credit loop dominate
    t, a, b = one_link(endpoint_buffer=MTU, latency_ps=lat)
    n = 50
    res = podsim.simulate(t, podsim.Messages([a], [b], [n * (MTU - HDR)]), mtu=MTU, header_bytes=HDR)
    period = ser_ps(MTU, RATE) + 2 * lat  # send, arrive, credit back
    assert res.messages.delivered_ps[0] == (n - 1) * period + ser_ps(MTU, RATE) + lat
    achieved = n * MTU / (res.messages.delivered_ps[0] * 1e-12)
    assert achieved == pytest.approx(MTU / (period * 1e-12), rel=0.03)
    assert achieved < 0.1 * RATE  # 1.9 GB/s of a 28 GB/s link


@pytest.mark.parametrize("window", [2, 3, 6, 7, 12])
def test_receiver_buffer_of_a_few_packets_paces_the_sender_exactly(window: int) -> None:
    # Packet i leaves when the link is free and the credit of packet i - window is back: its
    # serialization, the flight, and the credit's flight back. The flight is longer than the
    # window takes to send, so all `window` credit returns are on their way at once: two fit the
    # channel's inline slots, the third goes to a spill slot, the sixth fills them, the seventh
    # and later ones go to its overflow heap. check=True verifies them all after every event.
    lat = 2_000_000
    ser = ser_ps(MTU, RATE)
    assert (window - 1) * ser < lat
    t, a, b = one_link(endpoint_buffer=window * MTU, latency_ps=lat)
    n = 40
    res = podsim.simulate(t, podsim.Messages([a], [b], [n * (MTU - HDR)]), mtu=MTU, header_bytes=HDR, check=True)
    end: list[int] = []
    for i in range(n):
        start = max(end[-1] if end else 0, end[i - window] + 2 * lat if i >= window else 0)
        end.append(start + ser)
    assert res.messages.delivered_ps[0] == end[-1] + lat


def test_dependencies_start_after_delivery_plus_delay() -> None:
    t, a, b = one_link()
    msgs = podsim.Messages([a, b, a], [b, a, b], [1000, 2000, 3000], deps=[(0, 1), (1, 2)], delay_ps=[0, 777, 5])
    res = podsim.simulate(t, msgs, mtu=MTU, header_bytes=HDR)
    m = res.messages
    assert m.start_ps[0] == 0
    assert m.start_ps[1] == m.delivered_ps[0] + 777
    assert m.start_ps[2] == m.delivered_ps[1] + 5
    # Message 1 leaves b on the wire that is still carrying message 0's acknowledgement.
    ack_done = m.delivered_ps[0] + ser_ps(HDR, RATE)
    assert m.delivered_ps[1] == max(m.start_ps[1], ack_done) + ser_ps(2000 + HDR, RATE) + LAT


def _permutation_clos(routing: str) -> podsim.Result:
    p = LinkParams(rate_Bps=RATE, latency_ps=LAT, switch_latency_ps=100_000, buffer_bytes=64 << 10)
    t = folded_clos(8, 8, 8, p)
    hosts = t.endpoints
    rng = np.random.default_rng(7)
    # A permutation in which every flow leaves its leaf, so all of them cross the spines.
    while True:
        perm = rng.permutation(len(hosts))
        if np.all(perm // 8 != np.arange(len(hosts)) // 8):
            break
    msgs = podsim.Messages(hosts, hosts[perm], 4 << 20)
    return podsim.simulate(t, msgs, mtu=MTU, header_bytes=HDR, routing=routing, seed=3)


def test_spray_reaches_line_rate_on_permutation() -> None:
    res = _permutation_clos("spray")
    per_flow = res.messages.size / ((res.messages.delivered_ps - res.messages.start_ps) * 1e-12)
    assert per_flow.min() >= 0.95 * RATE


def test_ecmp_shows_hash_collisions_on_permutation() -> None:
    spray = _permutation_clos("spray")
    ecmp = _permutation_clos("ecmp")
    assert ecmp.makespan_ps > 1.3 * spray.makespan_ps
    # Collisions: some spine downlink carried two or more flows.
    assert ecmp.channels.payload_bytes.max() >= 2 * (4 << 20)
    assert spray.channels.payload_bytes.max() < 2 * (4 << 20)


def test_adaptive_beats_ecmp_on_permutation() -> None:
    """Local least-occupied choice is not perfect on a permutation (spray is), but far beats
    hashing."""
    adaptive = _permutation_clos("adaptive")
    assert adaptive.makespan_ps <= 1.15 * _permutation_clos("spray").makespan_ps
    assert adaptive.makespan_ps < _permutation_clos("ecmp").makespan_ps


def test_check_mode_and_ledger_hold_on_busy_clos() -> None:
    p = LinkParams(rate_Bps=RATE, latency_ps=LAT, switch_latency_ps=100_000, buffer_bytes=16 << 10)
    t = folded_clos(4, 4, 2, p, planes=2)
    hosts = t.endpoints
    src, dst = np.meshgrid(hosts, hosts)
    keep = src != dst
    msgs = podsim.Messages(src[keep], dst[keep], 20_000, kind=np.where(np.arange(keep.sum()) % 3 == 0, "read", "write"))
    res = podsim.simulate(t, msgs, check=True, routing="adaptive")
    assert res.complete
    assert res.ledger.balanced
    assert int(res.ledger.delivered_bytes.sum()) == msgs.total_bytes
    assert int(res.ledger.in_flight_packets.sum()) == 0


def test_a_switch_buffer_of_one_packet_paces_the_sender_by_the_credit_round_trip() -> None:
    """The space a packet holds at a store-and-forward switch comes back when its tail has left
    the switch, one reverse link latency later: with room for one packet, the sender sends one
    per 2 serializations + 2 link latencies + the switch's latency (a credit returned when the
    packet starts leaving, or after the forward latency, comes out early or late)."""
    lat, sw, n = 1_000_000, 150_000, 10
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    s = t.add_switch("s", latency_ps=sw, buffer_bytes=MTU, cut_through=False)
    t.connect(a, s, rate_Bps=RATE, latency_ps=lat)
    t.connect(s, b, rate_Bps=RATE, latency_ps=lat)
    res = podsim.simulate(t, podsim.Messages([a], [b], [n * (MTU - HDR)]), mtu=MTU, header_bytes=HDR)
    ser = ser_ps(MTU, RATE)
    period = 2 * ser + 2 * lat + sw
    assert res.messages.delivered_ps[0] == (n - 1) * period + 2 * ser + 2 * lat + sw


def test_the_latency_histogram_bins_each_data_packet_by_its_latency() -> None:
    """Bucket k counts latencies in [2^k, 2^(k+1)): one 100 B write, 14,715 ps, is in bucket 13."""
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    t.connect(a, b, rate_Bps=RATE, latency_ps=LAT)
    res = podsim.simulate(t, podsim.Messages([a], [b], [100]), mtu=MTU, header_bytes=HDR)
    latency = ser_ps(100 + HDR, RATE) + LAT
    hist = np.asarray(res.packet_latency_histogram)
    assert latency == 14_715 and np.flatnonzero(hist).tolist() == [13] and hist.sum() == 1  # the ack is not data
    many = podsim.simulate(t, podsim.Messages([a, a, b], [b, b, a], [1 << 20, 5000, 64]), mtu=MTU, header_bytes=HDR)
    assert many.packet_latency_histogram.sum() == 259 + 2 + 1  # every data packet, once


def test_a_read_engine_fetches_a_short_last_transaction_in_its_own_time() -> None:
    """A 5,000 B read in 4,000 B transactions, one at a time, from a 1 GB/s read engine: each
    transaction is a request, the fetch of its own bytes (4 us, then 1 us) and its data back."""
    rate = 1_000_000_000
    t = podsim.Topology()
    a = t.add_endpoint("a", read_rate_Bps=rate, max_outstanding_reads=1)
    b = t.add_endpoint("b", read_rate_Bps=rate, max_outstanding_reads=1)
    t.connect(a, b, rate_Bps=RATE, latency_ps=LAT)
    res = podsim.simulate(t, podsim.Messages([a], [b], [5000], kind="read"), mtu=MTU, header_bytes=HDR, txn_bytes=4000)
    expect = sum(ser_ps(HDR, RATE) + LAT + ser_ps(n, rate) + ser_ps(n + HDR, RATE) + LAT for n in (4000, 1000))
    assert res.messages.delivered_ps[0] == expect


def test_utilization_counts_from_the_first_start() -> None:
    """A message that starts 1 ms in leaves its link as busy as one that starts at 0: the wait
    is before the traffic, as achieved_bandwidth() already counted it."""
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    c = t.connect(a, b, rate_Bps=RATE, latency_ps=LAT)
    now = podsim.simulate(t, podsim.Messages([a], [b], [1 << 20]), mtu=MTU, header_bytes=HDR)
    late = podsim.simulate(t, podsim.Messages([a], [b], [1 << 20], delay_ps=10**9), mtu=MTU, header_bytes=HDR)
    assert late.channels.start_ps == 10**9 and now.channels.start_ps == 0
    assert late.channels.utilization[c] == now.channels.utilization[c] > 0.98
    assert late.achieved_bandwidth() == now.achieved_bandwidth()


@pytest.mark.parametrize("seed", range(8))
def test_adaptive_routing_counts_bytes_sent_but_not_yet_freed(seed: int) -> None:
    """Two one-packet messages cross switch s, which has two equal uplinks to b. When the second
    arrives, the first has left (nothing is queued) but still holds space at the next hop: an
    output's load counts those bytes, so the second takes the other uplink whatever the seed
    (counting queued bytes only, a tie, half the seeds sent both the same way)."""
    lat = 1_000_000  # credits take microseconds to come back: the first packet's are still out
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    s, t0, t1 = (t.add_switch(n, latency_ps=100_000, buffer_bytes=64 << 10) for n in ("s", "t0", "t1"))
    t.connect(a, s, rate_Bps=RATE, latency_ps=lat)
    up = [t.connect(s, x, rate_Bps=RATE, latency_ps=lat) for x in (t0, t1)]
    for x in (t0, t1):
        t.connect(x, b, rate_Bps=RATE, latency_ps=lat)
    res = podsim.simulate(t, podsim.Messages([a, a], [b, b], [1000, 1000]), mtu=MTU, header_bytes=HDR,
                          routing="adaptive", seed=seed)
    assert [int(res.channels.packets[c]) for c in up] == [1, 1]
