"""Memory transactions, outstanding windows and endpoint latencies: exact closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import packet_sizes, ser_ps

import podsim
from podsim.fabrics import LinkParams, folded_clos

RATE = 28_000_000_000
LAT = 10_000
MTU, HDR = 4096, 32


def pair(**endpoint: int) -> tuple[podsim.Topology, int, int]:
    t = podsim.Topology()
    a = t.add_endpoint("a", **endpoint)
    b = t.add_endpoint("b", **endpoint)
    t.connect(a, b, rate_Bps=RATE, latency_ps=LAT)
    return t, a, b


def test_issue_latency_delays_the_first_byte_not_the_start() -> None:
    t, a, b = pair(issue_latency_ps=700_000)
    res = podsim.simulate(t, podsim.Messages([a], [b], [1000], delay_ps=5))
    assert res.messages.start_ps[0] == 5
    assert res.messages.delivered_ps[0] == 5 + 700_000 + ser_ps(1000 + HDR, RATE) + LAT


def test_write_commit_latency_delays_the_ack() -> None:
    t, a, b = pair(write_latency_ps=300_000)
    res = podsim.simulate(t, podsim.Messages([a], [b], [1000]))
    m = res.messages
    assert m.end_ps[0] == m.delivered_ps[0] + 300_000 + ser_ps(HDR, RATE) + LAT


def test_read_fetch_latency_delays_the_data() -> None:
    t, a, b = pair(read_latency_ps=250_000)
    res = podsim.simulate(t, podsim.Messages([a], [b], [1000], kind="read"))
    assert res.messages.delivered_ps[0] == ser_ps(HDR, RATE) + LAT + 250_000 + ser_ps(1000 + HDR, RATE) + LAT


@pytest.mark.parametrize(("size", "txn"), [(10_000, 4096), (64 << 10, 16 << 10), (100_000, 3000)])
def test_write_window_of_one_serializes_transactions(size: int, txn: int) -> None:
    commit = 200_000
    t, a, b = pair(write_latency_ps=commit, max_outstanding_writes=1)
    res = podsim.simulate(t, podsim.Messages([a], [b], [size]), txn_bytes=txn)
    expect = 0
    for start in range(0, size, txn):
        data = sum(ser_ps(w, RATE) for w in packet_sizes(min(txn, size - start), MTU, HDR))
        expect += data + LAT + commit + ser_ps(HDR, RATE) + LAT
    assert res.messages.end_ps[0] == expect
    assert int(res.ledger.delivered_bytes.sum()) == size
    # One acknowledgement per transaction went back.
    assert res.channels.packets[1] == -(-size // txn)


@pytest.mark.parametrize(("size", "txn"), [(10_000, 4096), (64 << 10, 16 << 10)])
def test_read_window_of_one_serializes_transactions(size: int, txn: int) -> None:
    fetch = 150_000
    t, a, b = pair(read_latency_ps=fetch, max_outstanding_reads=1)
    res = podsim.simulate(t, podsim.Messages([a], [b], [size], kind="read"), txn_bytes=txn)
    expect = 0
    for start in range(0, size, txn):
        data = sum(ser_ps(w, RATE) for w in packet_sizes(min(txn, size - start), MTU, HDR))
        expect += ser_ps(HDR, RATE) + LAT + fetch + data + LAT
    assert res.messages.end_ps[0] == expect
    assert res.channels.packets[1] == -(-size // txn)  # one request per transaction


def test_window_bounds_bandwidth_to_window_over_round_trip() -> None:
    """W transactions of T bytes per round trip, until the link rate is reached."""
    commit = 1_000_000
    size, txn = 4 << 20, 4064
    rtt = ser_ps(MTU, RATE) + LAT + commit + ser_ps(HDR, RATE) + LAT
    achieved = {}
    for window in (1, 2, 4, 64):
        t, a, b = pair(write_latency_ps=commit, max_outstanding_writes=window)
        res = podsim.simulate(t, podsim.Messages([a], [b], [size]), txn_bytes=txn)
        achieved[window] = size / (res.messages.end_ps[0] * 1e-12)
        bound = min(window * txn / (rtt * 1e-12), RATE * (MTU - HDR) / MTU)
        assert achieved[window] == pytest.approx(bound, rel=0.02)
    assert achieved[1] < achieved[2] < achieved[4] < achieved[64]


def test_windows_are_per_kind() -> None:
    """Outstanding reads do not use up the write window, and the other way round."""
    t, a, b = pair(write_latency_ps=500_000, read_latency_ps=500_000, max_outstanding_writes=1, max_outstanding_reads=1)
    both = podsim.simulate(t, podsim.Messages([a, b], [b, a], [40_000, 40_000], kind=["write", "read"]), txn_bytes=4064)
    alone = podsim.simulate(t, podsim.Messages([a], [b], [40_000]), txn_bytes=4064)
    assert both.messages.end_ps[0] == pytest.approx(alone.messages.end_ps[0], rel=0.05)


def test_sprayed_transactions_complete_exactly_once() -> None:
    t = folded_clos(2, 4, 4, LinkParams(rate_Bps=RATE, latency_ps=LAT, switch_latency_ps=50_000), planes=2)
    h = t.endpoints
    src, dst = np.meshgrid(h, h)
    keep = src != dst
    n = int(keep.sum())
    msgs = podsim.Messages(src[keep], dst[keep], 50_000, kind=np.where(np.arange(n) % 2 == 0, "read", "write"))
    res = podsim.simulate(t, msgs, routing="spray", txn_bytes=10_000, check=True)
    assert res.complete and res.ledger.balanced
    # Every message: 5 transactions, so 5 acks or 5 requests besides its data packets.
    data_packets = n * len(packet_sizes(10_000, MTU, HDR)) * 5
    assert int(res.ledger.delivered_packets.sum()) == data_packets + 5 * n


def test_transaction_count_is_bounded() -> None:
    t, a, b = pair()
    with pytest.raises(ValueError, match="transactions"):
        podsim.simulate(t, podsim.Messages([a], [b], [2**40]), txn_bytes=1)


def test_endpoint_parameters_survive_save_and_load(tmp_path) -> None:
    t, a, b = pair(issue_latency_ps=7, read_latency_ps=8, write_latency_ps=9, max_outstanding_reads=3, max_outstanding_writes=4)
    t.save(tmp_path / "t.topo")
    back = podsim.Topology.load(tmp_path / "t.topo")
    cols = back.nodes()
    assert list(cols["issue_ps"]) == [7, 7] and list(cols["max_writes"]) == [4, 4]
    r1 = podsim.simulate(t, podsim.Messages([a], [b], [50_000], kind="read"), txn_bytes=4096)
    r2 = podsim.simulate(back, podsim.Messages([a], [b], [50_000], kind="read"), txn_bytes=4096)
    assert r1.messages.end_ps[0] == r2.messages.end_ps[0]


def test_target_write_engine_commits_at_its_rate() -> None:
    """Commit-limited: the last byte counts as delivered when the engine has committed every
    packet, one after another, from the first packet's arrival."""
    rate = 7_000_000_000
    t, a, b = pair(write_rate_Bps=rate)
    size = 100_000  # fits the 256 KiB receive buffer: no credit stall
    res = podsim.simulate(t, podsim.Messages([a], [b], [size]))
    wires = packet_sizes(size, MTU, HDR)
    commit = sum(ser_ps(w - HDR, rate) for w in wires)
    assert res.messages.delivered_ps[0] == ser_ps(wires[0], RATE) + LAT + commit


def test_slow_target_throttles_its_writer_through_credits() -> None:
    rate = 7_000_000_000
    t, a, b = pair(write_rate_Bps=rate)
    size = 8 << 20
    res = podsim.simulate(t, podsim.Messages([a], [b], [size]), check=True)
    achieved = size / (res.messages.delivered_ps[0] * 1e-12)
    assert achieved == pytest.approx(rate, rel=0.01)
    # The sender could not run ahead: its link was busy only about rate/link-rate of the time.
    assert res.channels.busy_ps[0] < 0.3 * res.messages.delivered_ps[0]


def test_target_read_engine_fetches_at_its_rate() -> None:
    rate = 9_000_000_000
    t, a, b = pair(read_rate_Bps=rate)
    size = 8 << 20
    res = podsim.simulate(t, podsim.Messages([a], [b], [size], kind="read"), txn_bytes=64 << 10)
    achieved = size / ((res.messages.delivered_ps[0] - res.messages.start_ps[0]) * 1e-12)
    assert achieved == pytest.approx(rate, rel=0.01)


def test_read_responses_are_not_committed_by_the_write_engine() -> None:
    """Only incoming write data goes through the write engine; read data lands at line rate."""
    slow = pair(write_rate_Bps=1_000_000_000)
    plain = pair()
    r_slow = podsim.simulate(slow[0], podsim.Messages([slow[1]], [slow[2]], [1 << 20], kind="read"))
    r_plain = podsim.simulate(plain[0], podsim.Messages([plain[1]], [plain[2]], [1 << 20], kind="read"))
    assert r_slow.messages.end_ps[0] == r_plain.messages.end_ps[0]


def test_initiator_write_issue_engine_paces_its_writes() -> None:
    """Packets of a write are created one payload-time apart; the last one then crosses the link."""
    rate = 7_000_000_000
    t, a, b = pair(write_issue_rate_Bps=rate)
    size = 100_000
    res = podsim.simulate(t, podsim.Messages([a], [b], [size]))
    wires = packet_sizes(size, MTU, HDR)
    last_created = sum(ser_ps(w - HDR, rate) for w in wires[:-1])
    assert res.messages.delivered_ps[0] == last_created + ser_ps(wires[-1], RATE) + LAT


def test_write_issue_engine_leaves_reads_alone() -> None:
    paced = pair(write_issue_rate_Bps=1_000_000_000)
    plain = pair()
    r1 = podsim.simulate(paced[0], podsim.Messages([paced[1]], [paced[2]], [1 << 20], kind="read"))
    r2 = podsim.simulate(plain[0], podsim.Messages([plain[1]], [plain[2]], [1 << 20], kind="read"))
    assert r1.messages.end_ps[0] == r2.messages.end_ps[0]


def test_transactions_of_several_messages_are_served_round_robin() -> None:
    """Starting every transaction of a message at once must not send that message before the
    others: packets alternate between messages, as with one transaction per message (a sender
    that serves messages one after another turns an all-to-all into a moving incast)."""
    from podsim.fabrics import star

    t = star(3, LinkParams(rate_Bps=RATE, latency_ps=LAT, switch_latency_ps=150_000))
    h = [int(x) for x in t.endpoints]
    msgs = podsim.Messages([h[0], h[0]], [h[1], h[2]], [10 * (MTU - HDR)] * 2)
    per_txn = podsim.simulate(t, msgs, txn_bytes=MTU - HDR, trace=1000)
    whole = podsim.simulate(t, msgs, trace=1000)
    up = int(np.flatnonzero(t.channels().src == h[0])[0])

    def order(res: podsim.Result) -> list[int]:
        data = (res.trace.channel == up) & (res.trace.payload_bytes > 0)
        return [int(m) for m in res.trace.msg[data]]

    # After the window's first packets (message 0 starts first), the two messages alternate.
    assert order(per_txn) == order(whole)
    assert order(per_txn)[4:10] == [1, 0, 1, 0, 1, 0] or order(per_txn)[4:10] == [0, 1, 0, 1, 0, 1]
    assert per_txn.messages.delivered_ps.max() == whole.messages.delivered_ps.max()
