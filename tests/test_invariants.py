"""The engine's guarantees (DESIGN.md section 5), one property test per invariant, over random
fabrics (star, multi-plane Clos, ring, full mesh; heterogeneous rates, latencies, buffers,
cut-through), random message DAGs, engine parameters and seeds (see ``strategies.py``).

The expected values are recomputed from the inputs and from the transmission trace (every packet
transmission: channel, start, end, bytes, message), never read back from the counters under test,
so that a counter and the behaviour it counts must agree. The HBM half of invariant 6 (DRAM
timing, HBM achieved <= peak) belongs to the HBM model and is not covered here yet.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from invariant_checks import (
    TRACE,
    assert_same_result,
    check_credits,
    check_ledger,
    check_ledger_complete,
    endpoint_index,
    message_nodes,
    pause_times,
    run_to_end,
    trace_view,
)
from strategies import (
    DEADLOCK_FREE_SHAPES,
    Scenario,
    deadlock_prone_scenarios,
    is_deadlock_free,
    packet_wires,
    pause_fractions,
    scenarios,
    ser_ps,
)

import podsim
from podsim import NOT_YET

# ---------------------------------------------------------------------------------------------
# 1. Conservation


def conservation_property(scn: Scenario, fractions: list[float]) -> bool:
    """Invariant 1 on one scenario: checks at every pause and at the end; returns whether the run
    deadlocked."""
    whole, deadlocked = run_to_end(scn)
    sim = scn.simulation(trace=TRACE)
    for t in pause_times(whole.now, fractions):
        sim.run_until(t)
        assert sim.now == t
        check_ledger(sim, scn.built, scn.workload, t)
    try:
        sim.run()
    except podsim.Deadlock:
        assert deadlocked, "the paused run deadlocked, the one-shot run did not"
    assert_same_result(sim.result(), whole.result())
    check_ledger(sim, scn.built, scn.workload, sim.now)
    check_credits(sim, scn.built, scn.workload, sim.now)
    if not deadlocked:
        check_ledger_complete(sim, scn.built, scn.workload, scn.params.mtu, scn.params.header_bytes)
    return deadlocked


@given(scn=scenarios(), fractions=pause_fractions())
def test_conservation_at_every_pause_and_exactly_once(scn: Scenario, fractions: list[float]) -> None:
    """Injected = delivered + in flight at random pause points, per endpoint and globally; after
    the run every byte and packet was delivered exactly once and nothing was dropped. Pausing
    does not change the outcome (the paused run equals the one-shot run, bit for bit)."""
    conservation_property(scn, fractions)


@given(scn=deadlock_prone_scenarios(), fractions=pause_fractions(3))
def test_conservation_holds_at_a_deadlock(scn: Scenario, fractions: list[float]) -> None:
    """A ring that locks up is reported as Deadlock (never a hang), and at that pause, as at
    every earlier one, the ledger balances and every stuck byte is held in some buffer."""
    conservation_property(scn, fractions)


# ---------------------------------------------------------------------------------------------
# 2. Rate bound


@given(scn=scenarios())
def test_no_channel_exceeds_its_rate(scn: Scenario) -> None:
    """From the trace, per channel: transmissions never overlap, each lasts at least
    ceil(wire * 1e12 / rate), no packet exceeds the MTU, and in every window the bytes whose
    transmission starts inside it are at most rate x window + one MTU."""
    sim, _ = run_to_end(scn)
    tv = trace_view(sim, scn.built, scn.workload)
    model = scn.built.model
    mtu = scn.params.mtu
    assert np.all(tv["wire"] <= mtu)
    for c in np.unique(tv["channel"]):
        sel = np.flatnonzero(tv["channel"] == c)  # the trace is in start order
        start, end, wire = tv["start"][sel].tolist(), tv["end"][sel].tolist(), tv["wire"][sel].tolist()
        rate = model.ch_rate[c]
        for k in range(len(sel)):
            assert end[k] - start[k] >= ser_ps(wire[k], rate), f"channel {c}: {wire[k]} B in {end[k] - start[k]} ps"
            if k:
                assert start[k] >= end[k - 1], f"channel {c}: transmission at {start[k]} overlaps one ending {end[k - 1]}"
        # Windows [start_i, start_j] are the tightest (the count only grows at starts):
        # bytes(i..j) * 1e12 <= rate * (start_j - start_i) + MTU * 1e12 for all i <= j, checked
        # in O(n) with a running maximum of rate * start_i - bytes_before_i * 1e12. Python ints:
        # the products overflow 64 bits.
        best = None
        before = 0
        for k in range(len(sel)):
            cand = rate * start[k] - before * 10**12
            best = cand if best is None else max(best, cand)
            before += wire[k]
            assert before * 10**12 - rate * start[k] + best <= mtu * 10**12, f"channel {c}: window ending at {start[k]}"


def test_rate_is_never_rounded_up() -> None:
    """A channel never beats the rate it was given, even where rate x 1000 is not a double:
    ceil(1016131192 B * 1e12 / 107351338068367 B/s) = 9465474 ps. (Found by searching rates near
    1e15 for a product that rounds up and a packet size whose exact time is just above an
    integer; the generated fabrics use rates where the product is exact.)"""
    rate, wire = 107_351_338_068_367, 1_016_131_192
    t = podsim.Topology()
    a, b = t.add_endpoint("a", buffer_bytes=wire), t.add_endpoint("b", buffer_bytes=wire)
    t.connect(a, b, rate_Bps=rate, latency_ps=1)
    res = podsim.simulate(t, podsim.Messages([a], [b], [wire - 32]), mtu=wire, header_bytes=32, trace=10)
    assert res.trace is not None
    assert int(res.trace.end_ps[0] - res.trace.start_ps[0]) >= ser_ps(wire, rate)


# ---------------------------------------------------------------------------------------------
# 3. Credits


@given(scn=scenarios(), fractions=pause_fractions())
def test_credit_identity_at_every_pause(scn: Scenario, fractions: list[float]) -> None:
    """Credits at random pause points and at the end: the identity holds, and an idle fabric
    that finished has every credit home (a deadlocked one holds the stuck bytes in buffers)."""
    whole, deadlocked = run_to_end(scn)
    sim = scn.simulation(trace=TRACE)
    for t in pause_times(whole.now, fractions):
        sim.run_until(t)
        check_credits(sim, scn.built, scn.workload, t)
    check_credits(whole, scn.built, scn.workload, whole.now)
    cr = whole._core.credit_columns()
    if not deadlocked:
        # Finished: nothing on a wire or in a buffer. Credit returns still travelling back at the
        # last event are not events of their own (the sender absorbs them when it next looks), so
        # they count as returning rather than home.
        assert not cr["on_wire"].any() and not cr["buffered"].any()
        np.testing.assert_array_equal(cr["credits"] + cr["returning"], cr["buffer"])
    else:
        assert int(cr["buffered"].sum()) > 0 and int(cr["on_wire"].sum()) == 0


# ---------------------------------------------------------------------------------------------
# 4. Causality


@given(scn=scenarios())
def test_no_message_beats_its_dependencies_path_and_serialization(scn: Scenario) -> None:
    """start >= every dependency's delivery + delay; delivery >= start (+ the read request's
    minimal trip) + the data's lower bound (``FabricModel.data_lb``); a write ends no earlier
    than its acknowledgement's minimal trip after delivery; a read ends at delivery."""
    sim, _ = run_to_end(scn)
    ms = sim.result().messages
    w, p, model = scn.workload, scn.params, scn.built.model
    src, dst = message_nodes(scn.built, w)
    deps_of: dict[int, list[int]] = {}
    for b, a in w.deps:
        deps_of.setdefault(a, []).append(b)
    for m in range(len(w)):
        if ms.start_ps[m] == NOT_YET:
            continue
        start = int(ms.start_ps[m])
        ready = max([int(ms.delivered_ps[d]) for d in deps_of.get(m, [])], default=0)
        assert start >= ready + w.delay_ps[m], f"message {m} started at {start}, ready {ready} + delay {w.delay_ps[m]}"
        if ms.delivered_ps[m] == NOT_YET:
            continue
        s, d = int(src[m]), int(dst[m])
        data_at = start + (model.path_lb(d, s, p.request, True) if w.kind[m] else 0)
        bound = data_at + model.data_lb(s, d, w.size[m], p.mtu, p.header_bytes)
        note(f"message {m}: start {start}, data from {data_at}, bound {bound}")
        assert int(ms.first_byte_ps[m]) <= int(ms.delivered_ps[m])
        assert int(ms.delivered_ps[m]) >= bound, f"message {m} delivered at {ms.delivered_ps[m]} < bound {bound}"
        if ms.end_ps[m] == NOT_YET:
            continue
        if w.kind[m]:
            assert ms.end_ps[m] == ms.delivered_ps[m]
        else:
            assert int(ms.end_ps[m]) >= int(ms.delivered_ps[m]) + model.path_lb(d, s, p.ack, True)


# ---------------------------------------------------------------------------------------------
# 5. Determinism


@given(scn=scenarios(), fractions=pause_fractions())
def test_same_inputs_identical_results(scn: Scenario, fractions: list[float]) -> None:
    """Same inputs, bit-identical results (trace included), however the runs are scheduled: a
    one-shot run, and two simulations stepped side by side in lockstep in the same process, one
    of them with the self-check on. Lockstep interleaves the two engines' work, so any state
    shared between instances (a global or static counter, a shared RNG) shows up as a
    difference; the checked twin shows that check=True observes and never steers, and since the
    default run is the unchecked one, that the self-check is off by default."""
    a, deadlocked = run_to_end(scn)
    b = scn.simulation(trace=TRACE)
    c = scn.simulation(trace=TRACE, check=True)
    for t in pause_times(a.now, fractions):
        b.run_until(t)
        c.run_until(t)
    for sim in (b, c):
        try:
            sim.run()
        except podsim.Deadlock:
            assert deadlocked
    assert_same_result(a.result(), b.result())
    assert_same_result(a.result(), c.result())


@given(scn=scenarios(shapes=DEADLOCK_FREE_SHAPES), data=st.data())
def test_relabelled_endpoints_same_aggregates(scn: Scenario, data: st.DataObject) -> None:
    """The same fabric built with its nodes created in another order (endpoints and switches
    interleaved: new node ids and endpoint indices) and its links connected in another order (new
    port numbers), with the messages mapped, gives the same aggregates.

    Exactly invariant, and compared: per-message delivered bytes and completion, the ledger per
    (mapped) endpoint, the packet_hops total and the total wire and payload bytes over all
    channels. Under minimal routing every packet crosses exactly dist(src, dst) channels whichever
    minimal path it takes, and graph distances are preserved by relabelling, so the hop and byte
    totals cannot depend on labels. Not invariant, and not compared: timings, per-channel loads
    and event counts, because ecmp hashes node ids and message ids, adaptive breaks ties by port
    order and the round-robin arbiters serve inputs in port order; all of these legitimately
    change with labels. Rings are excluded: whether a ring deadlocks depends on that arbitration.
    """
    spec = scn.fabric
    eps = spec.endpoints
    order = data.draw(st.permutations(range(len(spec.nodes))), label="node order")
    links = data.draw(st.permutations(range(len(spec.links))), label="link order")
    other = spec.build(order, links)
    a, _ = run_to_end(scn)
    sim_b = podsim.Simulation(other.topology, **scn.params.kwargs())
    sim_b.add(other.messages(scn.workload))
    sim_b.run()
    ra, rb = a.result(), sim_b.result()
    assert ra.complete and rb.complete
    np.testing.assert_array_equal(ra.messages.size, rb.messages.size)
    assert ra.packet_hops == rb.packet_hops
    assert int(ra.channels.wire_bytes.sum()) == int(rb.channels.wire_bytes.sum())
    assert int(ra.channels.payload_bytes.sum()) == int(rb.channels.payload_bytes.sum())
    # Ledger rows are in endpoint-index order, which is creation order: map through spec indices.
    ia, ib = endpoint_index(scn.built), endpoint_index(other)
    rows_a = [ia[int(scn.built.node_id[i])] for i in eps]
    rows_b = [ib[int(other.node_id[i])] for i in eps]
    la, lb = ra.ledger.to_pandas().iloc[rows_a], rb.ledger.to_pandas().iloc[rows_b]
    np.testing.assert_array_equal(la.drop(columns="endpoint").to_numpy(), lb.drop(columns="endpoint").to_numpy())


# ---------------------------------------------------------------------------------------------
# 6. Achieved <= peak


@given(scn=scenarios(), fractions=pause_fractions(3))
def test_achieved_never_exceeds_peak(scn: Scenario, fractions: list[float]) -> None:
    """After the run: each channel was busy at most the run's duration and moved at most
    rate x busy time; each endpoint sent and received at most its port rates x duration. At
    pause points, the part of the busy time already elapsed is at most the elapsed time, and the
    achieved bandwidth reported so far is at most what the endpoints could have received."""
    whole, _ = run_to_end(scn)
    model = scn.built.model
    res = whole.result()
    ch = res.channels
    T = res.now_ps
    rate = model.ch_rate
    nc = len(ch)
    assert np.all(ch.busy_ps <= T)
    assert np.all(ch.utilization <= 1.0)
    for c in range(nc):
        assert int(ch.wire_bytes[c]) * 10**12 <= rate[c] * int(ch.busy_ps[c]), f"channel {c}"
    for e in model.endpoints:
        out_bytes = sum(int(ch.wire_bytes[c]) for c in model.out[e])
        in_bytes = sum(int(ch.wire_bytes[c]) for c in model.inc[e])
        assert out_bytes * 10**12 <= sum(rate[c] for c in model.out[e]) * T, f"endpoint {e} injects too fast"
        assert in_bytes * 10**12 <= sum(rate[c] for c in model.inc[e]) * T, f"endpoint {e} receives too fast"
    sim = scn.simulation(trace=TRACE)
    for t in pause_times(T, fractions):
        sim.run_until(t)
        tr = sim.result().trace
        assert tr is not None
        elapsed = np.minimum(tr.end_ps.astype(np.int64), t) - tr.start_ps.astype(np.int64)
        per_channel = np.bincount(tr.channel, weights=elapsed, minlength=nc)
        assert np.all(per_channel <= t)
        receive_Bps = sum(rate[c] for e in model.endpoints for c in model.inc[e])
        assert sim.result().achieved_bandwidth() <= receive_Bps * (1 + 1e-9), f"at t={t}"


def test_utilization_at_a_pause_is_at_most_one() -> None:
    p = podsim.fabrics.LinkParams(rate_Bps=10e9, latency_ps=1000)
    t = podsim.fabrics.star(2, p)
    h = [int(e) for e in t.endpoints]
    sim = podsim.Simulation(t)
    sim.inject(h[0], h[1], 50_000)
    sim.run_until(10)
    assert np.all(sim.result().channels.utilization <= 1.0)


@given(scn=scenarios())
def test_peaks_are_the_most_alive_at_once(scn: Scenario) -> None:
    """The reported peak of packets in flight is the largest count seen when the run is stepped
    one event at a time (the pending-event peak is not observable from outside; it is at least
    one once anything ran)."""
    sim = scn.simulation()
    core = sim._core
    most_packets = core.packets_in_flight
    while not core.idle:
        core.run(2**62, 1)
        most_packets = max(most_packets, core.packets_in_flight)
    res = sim.result()
    assert res.peak_packets_in_flight == most_packets
    assert (res.peak_pending_events >= 1) == (res.events > 0)


# ---------------------------------------------------------------------------------------------
# 7. Topology and routes


@given(scn=scenarios())
def test_routes_reach_everyone_loop_free_and_minimal(scn: Scenario) -> None:
    """The routing tables agree with a breadth-first search of the channel table (every endpoint
    reaches every other; candidates are exactly the shortest-path next hops), and in the trace
    every transmission moves its packet one step closer to its destination while every message's
    packets cross exactly dist channels each: no loops, no detours."""
    b = scn.built
    model = b.model
    sim, deadlocked = run_to_end(scn)
    core = sim._core
    for di, d in enumerate(model.endpoints):
        dist = model.dist_to(d)
        for e in model.endpoints:
            assert dist[e] is not None, f"endpoint {e} cannot reach endpoint {d}"
        for u in range(model.num_nodes):
            if dist[u] is None:
                continue
            assert core.hops(u, di) == dist[u], f"hops({u}, {d})"
            assert sorted(core.candidates(u, di)) == sorted(model.minimal_next(u, d)), f"candidates({u}, {d})"

    tv = trace_view(sim, b, scn.workload)
    target = np.where(tv["data"], tv["msg_dst"], tv["msg_src"])
    for k in range(len(target)):
        dist = model.dist_to(int(target[k]))
        u, v = int(tv["from"][k]), int(tv["to"][k])
        assert dist[u] == dist[v] + 1, f"record {k}: {u} -> {v} is not a step towards {target[k]}"
        assert v == target[k] or not model.is_endpoint[v], f"record {k}: packet for {target[k]} went through endpoint {v}"
    if deadlocked:
        return
    p, w = scn.params, scn.workload
    for m in range(len(w)):
        s, d = int(b.node_id[w.src[m]]), int(b.node_id[w.dst[m]])
        sel = tv["msg"] == m
        npk = len(packet_wires(w.size[m], p.mtu, p.header_bytes))
        assert int((sel & tv["data"]).sum()) == npk * model.dist_to(d)[s], f"message {m}: data hops"
        assert int((sel & ~tv["data"]).sum()) == model.dist_to(s)[d], f"message {m}: control hops"


# ---------------------------------------------------------------------------------------------
# The engine's self-check


@given(scn=scenarios())
def test_self_check_passes_on_random_runs(scn: Scenario) -> None:
    """check=True verifies the credit identity and the packet ledger after every event; on any
    correct run it raises nothing (a deadlock is reported as Deadlock, not as a violation)."""
    sim = scn.simulation(check=True)
    try:
        sim.run()
    except podsim.Deadlock:
        assert not is_deadlock_free(scn.fabric.shape)


def test_self_check_is_off_by_default() -> None:
    """The documented default: Simulation(check=False). Checked through the signature so that a
    change of default is a deliberate API change, not an accident."""
    assert inspect.signature(podsim.Simulation).parameters["check"].default is False
    assert inspect.signature(podsim.simulate).parameters["check"].default is False


def test_check_invariants_at_a_deadlock() -> None:
    """A deadlocked ring is a legitimate outcome, and conservation holds at it: every stuck
    byte sits in a buffer, so Simulation.check_invariants() must pass there."""
    p = podsim.fabrics.LinkParams(rate_Bps=10e9, latency_ps=1000, buffer_bytes=4096, endpoint_buffer_bytes=4096)
    t = podsim.fabrics.ring(5, p)
    h = t.endpoints
    sim = podsim.Simulation(t)
    sim.add(podsim.Messages(h, np.roll(h, -2), 1 << 16))
    with pytest.raises(podsim.Deadlock):
        sim.run()
    assert sim.result().ledger.balanced
    sim.check_invariants()
