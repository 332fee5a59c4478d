"""Checks shared by the invariant tests and the state machine: each takes a paused or finished
:class:`podsim.Simulation` and recomputes what must hold from the inputs and from the transmission
trace, independently of the engine counters it compares against."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from hypothesis import event
from strategies import Built, Scenario, Workload, is_deadlock_free, packet_wires

import podsim
from podsim import NOT_YET

#: Large enough that no generated run drops a trace record (checked: trace.dropped == 0).
TRACE = 10**7


# ---------------------------------------------------------------------------------------------
# Helpers


def run_to_end(scn: Scenario, **extra: object) -> tuple[podsim.Simulation, bool]:
    """Run ``scn`` to idle with a full trace; returns the simulation and whether it deadlocked.
    A deadlock is legitimate only where minimal routing has cyclic buffer dependencies."""
    sim = scn.simulation(trace=TRACE, **extra)
    event(f"shape: {scn.fabric.shape}")
    try:
        sim.run()
    except podsim.Deadlock:
        assert not is_deadlock_free(scn.fabric.shape), f"deadlock on a {scn.fabric.shape}, which cannot deadlock"
        event("deadlocked")
        return sim, True
    event(f"packet hops: {'<100' if sim.result().packet_hops < 100 else '100+'}")
    return sim, False


def pause_times(horizon: int, fractions: list[float]) -> list[int]:
    """Pause points at the given fractions of ``horizon`` ps (sorted, so never backwards)."""
    return [int(f * horizon) for f in fractions]


def endpoint_index(built: Built) -> dict[int, int]:
    """Engine node id -> endpoint index (position in ``Topology.endpoints``, the ledger order)."""
    return {int(n): i for i, n in enumerate(built.topology.endpoints)}


def message_nodes(built: Built, w: Workload) -> tuple[np.ndarray, np.ndarray]:
    """Engine node ids of each message's data source and destination."""
    return built.node_id[w.src], built.node_id[w.dst]


def assert_same_result(a: podsim.Result, b: podsim.Result) -> None:
    """Bit-identical results: every column, counter and trace record (wall time aside)."""
    for f in fields(a):
        if f.name == "wall_s":
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if hasattr(x, "__dataclass_fields__"):
            for g in fields(x):
                np.testing.assert_array_equal(getattr(x, g.name), getattr(y, g.name), err_msg=f"{f.name}.{g.name}")
        else:
            np.testing.assert_array_equal(x, y, err_msg=f.name)


def trace_view(sim: podsim.Simulation, built: Built, w: Workload) -> dict[str, np.ndarray]:
    """The trace with derived columns: arrival times, and per record whether it carries data
    (payload > 0: data packets always carry >= 1 byte) or a control packet (ack/request, no
    payload), its channel's ends, and the message's endpoints."""
    tr = sim.result().trace
    assert tr is not None and tr.dropped == 0
    m = built.model
    ch = tr.channel.astype(np.int64)
    msg = tr.msg.astype(np.int64)
    src, dst = message_nodes(built, w)
    return {
        "channel": ch, "msg": msg, "start": tr.start_ps.astype(np.int64), "end": tr.end_ps.astype(np.int64),
        "wire": tr.wire_bytes.astype(np.int64), "payload": tr.payload_bytes.astype(np.int64),
        "arrive": m.arrival_ps(ch, tr.start_ps.astype(np.int64), tr.end_ps.astype(np.int64)),
        "data": tr.payload_bytes > 0, "from": m.ch_src[ch], "to": m.ch_dst[ch],
        "into_ep": m.is_endpoint[m.ch_dst[ch]], "out_of_ep": m.is_endpoint[m.ch_src[ch]],
        "msg_src": src[msg], "msg_dst": dst[msg],
    }


def check_ledger(sim: podsim.Simulation, built: Built, w: Workload, t: int) -> None:
    """Invariant 1 at pause time ``t``: the ledger balances per endpoint and globally, and agrees
    with the packets the trace shows arriving at their destinations by ``t``."""
    res = sim.result()
    led = res.ledger
    assert led.balanced, led.to_pandas()
    assert np.all(led.delivered_bytes <= led.injected_bytes)
    assert np.all(led.delivered_packets <= led.injected_packets)
    assert int(led.in_flight_packets.sum()) == led.engine_packets_in_flight
    assert int(led.delivered_bytes.sum()) == int(led.received_bytes.sum())

    tv = trace_view(sim, built, w)
    idx = endpoint_index(built)
    ne = len(idx)
    to_idx = np.vectorize(lambda n: idx[int(n)], otypes=[np.int64])
    arrived = tv["into_ep"] & (tv["arrive"] <= t)
    # Every packet reaching an endpoint reached its own destination (data: the message's dst;
    # control: the message's src), so a delivery is counted once and in the right place.
    np.testing.assert_array_equal(tv["to"][arrived & tv["data"]], tv["msg_dst"][arrived & tv["data"]])
    np.testing.assert_array_equal(tv["to"][arrived & ~tv["data"]], tv["msg_src"][arrived & ~tv["data"]])
    # The packet's creator: the data source for data, the data destination for acks/requests.
    creator = np.where(tv["data"], tv["msg_src"], tv["msg_dst"])
    if arrived.any():
        got_bytes = np.bincount(to_idx(tv["msg_src"][arrived]), weights=tv["payload"][arrived], minlength=ne)
        got_recv = np.bincount(to_idx(tv["to"][arrived]), weights=tv["payload"][arrived], minlength=ne)
        got_pkts = np.bincount(to_idx(creator[arrived]), minlength=ne)
    else:
        got_bytes = got_recv = got_pkts = np.zeros(ne)
    np.testing.assert_array_equal(led.delivered_bytes, got_bytes.astype(np.uint64))
    np.testing.assert_array_equal(led.received_bytes, got_recv.astype(np.uint64))
    np.testing.assert_array_equal(led.delivered_packets, got_pkts.astype(np.uint64))
    # A packet that left its creator was injected; one still on a wire is still alive.
    sent = tv["out_of_ep"]
    if sent.any():
        sent_pkts = np.bincount(to_idx(tv["from"][sent]), minlength=ne)
        sent_bytes = np.bincount(to_idx(tv["from"][sent]), weights=tv["payload"][sent], minlength=ne)
        assert np.all(led.injected_packets >= sent_pkts)
        assert np.all(led.injected_bytes >= sent_bytes)
    in_transit = int(((tv["start"] <= t) & (tv["arrive"] > t)).sum())
    assert led.engine_packets_in_flight >= in_transit

    # Per message: never more than its size delivered, all of it exactly when it is delivered.
    per_msg = np.bincount(tv["msg"][arrived & tv["data"]], weights=tv["payload"][arrived & tv["data"]], minlength=len(w))
    size = np.asarray(w.size)
    done = res.messages.delivered_ps != NOT_YET
    assert np.all(per_msg <= size)
    np.testing.assert_array_equal(per_msg[done], size[done])
    assert np.all(per_msg[~done] < size[~done])
    assert np.all(res.messages.delivered_ps[done] <= t)


def check_ledger_complete(sim: podsim.Simulation, built: Built, w: Workload, mtu: int, header: int) -> None:
    """Invariant 1 after a complete run: every byte and packet is accounted for exactly, from the
    workload alone; each message's packets crossed its last hop exactly once."""
    res = sim.result()
    led = res.ledger
    idx = endpoint_index(built)
    ne = len(idx)
    src, dst = message_nodes(built, w)
    npk = np.array([len(packet_wires(s, mtu, header)) for s in w.size], dtype=np.int64)
    si = np.array([idx[int(n)] for n in src], dtype=np.int64)
    di = np.array([idx[int(n)] for n in dst], dtype=np.int64)
    size = np.asarray(w.size, dtype=np.float64)
    exp_bytes = np.bincount(si, weights=size, minlength=ne).astype(np.uint64)
    # Each message has exactly one control packet, created at its data destination: the write's
    # acknowledgement or the read's request.
    exp_pkts = (np.bincount(si, weights=npk, minlength=ne) + np.bincount(di, minlength=ne)).astype(np.uint64)
    np.testing.assert_array_equal(led.injected_bytes, exp_bytes)
    np.testing.assert_array_equal(led.delivered_bytes, exp_bytes)
    np.testing.assert_array_equal(led.received_bytes, np.bincount(di, weights=size, minlength=ne).astype(np.uint64))
    np.testing.assert_array_equal(led.injected_packets, exp_pkts)
    np.testing.assert_array_equal(led.delivered_packets, exp_pkts)
    assert led.engine_packets_in_flight == 0
    assert res.complete and res.messages.complete.all()

    tv = trace_view(sim, built, w)
    last = tv["into_ep"]
    for m in range(len(w)):
        data = last & tv["data"] & (tv["msg"] == m)
        ctrl = last & ~tv["data"] & (tv["msg"] == m)
        assert sorted(tv["wire"][data].tolist()) == sorted(packet_wires(w.size[m], mtu, header)), f"message {m}"
        assert int(tv["payload"][data].sum()) == w.size[m]
        assert int(ctrl.sum()) == 1, f"message {m}: {int(ctrl.sum())} control packets delivered"
    # The channel counters are the trace, summed.
    nc = built.topology.num_channels
    ch = res.channels
    np.testing.assert_array_equal(ch.wire_bytes, np.bincount(tv["channel"], weights=tv["wire"], minlength=nc).astype(np.uint64))
    np.testing.assert_array_equal(ch.payload_bytes, np.bincount(tv["channel"], weights=tv["payload"], minlength=nc).astype(np.uint64))
    np.testing.assert_array_equal(ch.packets, np.bincount(tv["channel"], minlength=nc).astype(np.uint64))
    np.testing.assert_array_equal(ch.busy_ps, np.bincount(tv["channel"], weights=tv["end"] - tv["start"], minlength=nc).astype(np.uint64))
    assert len(tv["channel"]) == res.packet_hops


def check_credits(sim: podsim.Simulation, built: Built, w: Workload, t: int) -> None:
    """Invariant 3 at pause time ``t``: 0 <= credits <= buffer and credits + on wire + buffered +
    returning = buffer per channel; the buffer is the receiving node's; on the wire is exactly
    what the trace shows sent and not yet arrived."""
    cr = sim._core.credit_columns()
    model = built.model
    buf = cr["buffer"].astype(object)  # Python ints: a wrapped uint64 must not wrap back
    parts = [cr[k].astype(object) for k in ("credits", "on_wire", "buffered", "returning")]
    np.testing.assert_array_equal(buf, model.buffer[model.ch_dst])
    for name, p in zip(("credits", "on_wire", "buffered", "returning"), parts):
        assert np.all((p >= 0) & (p <= buf)), f"{name} out of [0, buffer]: {p} vs {buf}"
    np.testing.assert_array_equal(sum(parts), buf)
    tv = trace_view(sim, built, w)
    transit = (tv["start"] <= t) & (tv["arrive"] > t)
    on_wire = np.bincount(tv["channel"][transit], weights=tv["wire"][transit], minlength=len(buf))
    np.testing.assert_array_equal(cr["on_wire"], on_wire.astype(np.uint64))
