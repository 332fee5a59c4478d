"""The stepping API, callbacks, determinism, deadlock reporting and traces."""

from __future__ import annotations

import numpy as np
import pytest

import podsim
from podsim.fabrics import LinkParams, folded_clos, ring, star


def clos() -> podsim.Topology:
    return folded_clos(4, 4, 4, LinkParams(rate_Bps=50e9, latency_ps=20_000, switch_latency_ps=80_000), planes=2)


def all_to_all(t: podsim.Topology, size: int) -> podsim.Messages:
    h = t.endpoints
    src, dst = np.meshgrid(h, h)
    keep = src != dst
    return podsim.Messages(src[keep], dst[keep], size)


@pytest.mark.parametrize("routing", sorted(podsim.ROUTING))
def test_same_seed_same_result(routing: str) -> None:
    t = clos()
    runs = [podsim.simulate(t, all_to_all(t, 30_000), routing=routing, seed=5) for _ in range(2)]
    for field in ("start_ps", "delivered_ps", "end_ps"):
        np.testing.assert_array_equal(getattr(runs[0].messages, field), getattr(runs[1].messages, field))
    np.testing.assert_array_equal(runs[0].channels.busy_ps, runs[1].channels.busy_ps)
    assert runs[0].events == runs[1].events


def test_seed_changes_ecmp_paths() -> None:
    t = clos()
    a = podsim.simulate(t, all_to_all(t, 30_000), routing="ecmp", seed=1)
    b = podsim.simulate(t, all_to_all(t, 30_000), routing="ecmp", seed=2)
    assert not np.array_equal(a.channels.payload_bytes, b.channels.payload_bytes)
    assert a.ledger.delivered_bytes.sum() == b.ledger.delivered_bytes.sum()


def test_seed_sequence_accepted() -> None:
    t = clos()
    ss = np.random.SeedSequence(42)
    a = podsim.simulate(t, all_to_all(t, 5000), seed=ss)
    b = podsim.simulate(t, all_to_all(t, 5000), seed=np.random.SeedSequence(42))
    np.testing.assert_array_equal(a.messages.end_ps, b.messages.end_ps)


def test_stepping_matches_one_shot_run() -> None:
    t = clos()
    msgs = all_to_all(t, 20_000)
    whole = podsim.simulate(t, msgs)
    sim = podsim.Simulation(t)
    sim.add(msgs)
    checkpoints = 0
    while not sim.idle:
        sim.run_until(sim.now + 50_000)
        sim.check_invariants()
        led = sim.result().ledger
        assert led.balanced
        checkpoints += 1
    assert checkpoints > 10
    np.testing.assert_array_equal(sim.result().messages.end_ps, whole.messages.end_ps)


def test_run_until_cannot_go_back() -> None:
    sim = podsim.Simulation(clos())
    sim.run_until(1000)
    assert sim.now == 1000
    with pytest.raises(ValueError, match="t_ps"):
        sim.run_until(10)


def test_completion_callback_can_inject_at_completion_time() -> None:
    t = star(3, LinkParams(rate_Bps=10e9, latency_ps=1000))
    h = [int(x) for x in t.endpoints]
    sim = podsim.Simulation(t)
    seen: list[tuple[int, int]] = []

    def done(msg: int, end_ps: int) -> None:
        seen.append((msg, end_ps))
        assert sim.now == end_ps
        if msg == 0:
            sim.inject(h[1], h[2], 5000)

    sim.on_complete(done)
    sim.inject(h[0], h[1], 10_000)
    sim.run()
    res = sim.result()
    assert [m for m, _ in seen] == [0, 1]
    assert res.messages.start_ps[1] == res.messages.end_ps[0]
    assert res.complete


def test_callback_registered_late_hears_only_later_completions() -> None:
    """The engine records every completion; a first callback registered mid-run was once called
    for the earlier ones too, at the next completion's time."""
    t = star(4, LinkParams(rate_Bps=28e9, latency_ps=10_000))
    h = [int(x) for x in t.endpoints]
    sim = podsim.Simulation(t)
    sim.inject(h[0], h[1], 4096)
    sim.inject(h[2], h[3], 1 << 20)
    sim.run_until(1_000_000)
    assert sim.result().messages.end_ps[0] < 1_000_000 < sim.result().messages.end_ps[1]
    seen: list[tuple[int, int]] = []
    sim.on_complete(lambda m, end_ps: seen.append((m, end_ps)))
    sim.run()
    assert seen == [(1, int(sim.result().messages.end_ps[1]))]


def test_a_raising_callback_loses_no_other_call() -> None:
    """Each completion reaches every callback once, in order, even when one of them raises: the
    calls not yet made are made when the run resumes, with the message's own end time."""
    t = star(3, LinkParams(rate_Bps=10e9, latency_ps=1000))
    h = [int(x) for x in t.endpoints]
    sim = podsim.Simulation(t)
    calls: list[tuple[str, int, int]] = []

    def first(m: int, end_ps: int) -> None:
        calls.append(("first", m, end_ps))
        if m == 0:
            raise RuntimeError("first callback fails on message 0")

    sim.on_complete(first)
    sim.on_complete(lambda m, end_ps: calls.append(("second", m, end_ps)))
    sim.inject(h[0], h[1], 10_000)
    sim.inject(h[1], h[2], 50_000)
    with pytest.raises(RuntimeError, match="fails on message 0"):
        sim.run()
    sim.run()
    end = sim.result().messages.end_ps
    assert calls == [("first", 0, end[0]), ("second", 0, end[0]), ("first", 1, end[1]), ("second", 1, end[1])]


def test_progress_is_not_called_per_completion() -> None:
    """Progress comes every 2^20 events and at the end, whether or not a completion callback makes
    the engine pause at every completion."""
    t = clos()
    for listen in (False, True):
        sim = podsim.Simulation(t)
        sim.add(all_to_all(t, 4096))
        if listen:
            sim.on_complete(lambda m, end_ps: None)
        seen: list[int] = []
        sim.run(progress=lambda now, ev: seen.append(ev))
        events = sim.result().events
        assert len(sim.result().messages) > 100
        assert seen == [*range(1 << 20, events, 1 << 20), events]


def test_inject_with_dependency_on_earlier_message() -> None:
    t = star(3, LinkParams(rate_Bps=10e9, latency_ps=1000))
    h = [int(x) for x in t.endpoints]
    sim = podsim.Simulation(t)
    first = sim.inject(h[0], h[1], 10_000)
    second = sim.inject(h[1], h[2], 10_000, deps=[first], delay_ps=123)
    sim.run()
    m = sim.result().messages
    assert m.start_ps[second] == m.delivered_ps[first] + 123
    with pytest.raises(ValueError, match="deps"):
        sim.inject(h[0], h[1], 10, deps=[57])


def test_deadlock_is_reported_not_hung() -> None:
    """Minimal routing on a ring has a cyclic buffer dependency; with one-packet buffers and
    everyone sending two hops clockwise, it locks up. The run must say so."""
    n = 5
    p = LinkParams(rate_Bps=10e9, latency_ps=1000, switch_latency_ps=0, buffer_bytes=4096)
    t = ring(n, p)
    h = t.endpoints
    msgs = podsim.Messages(h, np.roll(h, -2), 1 << 20)
    with pytest.raises(podsim.Deadlock, match="stalled"):
        podsim.simulate(t, msgs)


def test_trace_records_every_transmission() -> None:
    t = clos()
    res = podsim.simulate(t, all_to_all(t, 9000), trace=10**6)
    tr = res.trace
    assert tr is not None and tr.dropped == 0
    assert len(tr) == res.packet_hops
    np.testing.assert_array_equal(np.bincount(tr.channel, weights=tr.wire_bytes, minlength=t.num_channels), res.channels.wire_bytes)
    assert np.all(tr.end_ps > tr.start_ps)


def test_trace_limit_is_announced() -> None:
    t = clos()
    with pytest.warns(RuntimeWarning, match="were not recorded"):
        res = podsim.simulate(t, all_to_all(t, 9000), trace=10)
    assert res.trace is not None and len(res.trace) == 10 and res.trace.dropped == res.packet_hops - 10


def test_progress_callback_sees_time_advance() -> None:
    t = clos()
    seen: list[tuple[int, int]] = []
    sim = podsim.Simulation(t)
    sim.add(all_to_all(t, 50_000))
    sim.run(progress=lambda now, ev: seen.append((now, ev)))
    assert seen and seen[-1][1] == sim.result().events
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))


def test_progress_callback_with_three_arguments_sees_the_payload_delivered() -> None:
    """A callback that takes a third argument gets the fraction of the payload delivered: it
    rises to 1 at the end, and a paused run reports what it has delivered so far."""
    p = LinkParams(rate_Bps=10e9, latency_ps=1000)
    t = star(3, p)
    a, b, c = (int(e) for e in t.endpoints)
    sim = podsim.Simulation(t)
    sim.add(podsim.Messages(src=[a], dst=[b], size=[4 << 20]))
    sim.inject(c, b, 4 << 20)
    seen: list[float] = []
    sim.run_until(200_000_000, progress=lambda now, ev, done: seen.append(done))
    delivered = int(sim.result().ledger.delivered_bytes.sum())
    assert seen[-1] == delivered / (8 << 20) and 0 < seen[-1] < 1
    sim.run(progress=lambda now, ev, done: seen.append(done))
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_achieved_bandwidth_of_a_paused_run_counts_the_time_so_far() -> None:
    """Paused after a small message is done and while a large one is half delivered, the bytes
    delivered so far are divided by the time so far, not by the small message's time (which
    reported several times the receiver's rate)."""
    p = LinkParams(rate_Bps=10e9, latency_ps=1000)
    t = star(3, p)
    a, b, c = (int(e) for e in t.endpoints)
    sim = podsim.Simulation(t)
    sim.add(podsim.Messages(src=[a, c], dst=[b, b], size=[4096, 4 << 20]))
    sim.run_until(200_000_000)  # 200 us: the 4 MiB message needs about 420 us into b
    res = sim.result()
    assert not res.complete and res.messages.complete.sum() == 1
    assert 0 < res.achieved_bandwidth() <= 10e9


def test_result_tables() -> None:
    t = clos()
    res = podsim.simulate(t, all_to_all(t, 5000))
    df = res.messages.to_pandas()
    assert len(df) == 240 and df["latency_ps"].notna().all()
    ch = res.channels.to_pandas()
    assert (ch["utilization"] <= 1.0).all()
    assert res.ledger.to_pandas()["in_flight_bytes"].sum() == 0
    assert res.achieved_bandwidth() > 0


def test_ctrl_c_stops_a_long_run_and_keeps_the_partial_result() -> None:
    """KeyboardInterrupt (here from a timer, as Ctrl-C would) reaches the engine between chunks;
    simulate raises Interrupted carrying a consistent partial result."""
    import _thread
    import threading

    t = folded_clos(8, 16, 16, LinkParams(rate_Bps=28e9, latency_ps=10_000, switch_latency_ps=150_000), planes=7)
    msgs = all_to_all(t, 1 << 20)  # about a minute of work: far longer than the timer
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(podsim.Interrupted) as info:
            podsim.simulate(t, msgs)
    finally:
        timer.cancel()
    partial = info.value.result
    assert not partial.complete
    assert 0 < partial.events
    assert partial.ledger.balanced
    assert int(partial.ledger.delivered_bytes.sum()) < msgs.total_bytes


def test_another_thread_is_refused_while_one_runs() -> None:
    """The engine runs without the GIL: another thread's call would change its state mid-event (a
    crash, or a false invariant violation), so it is refused while the run lasts."""
    import threading

    t = clos()
    sim = podsim.Simulation(t)
    sim.add(all_to_all(t, 64 << 10))
    in_run, go, refused = threading.Event(), threading.Event(), []

    def watch(now_ps: int, events: int) -> None:  # called in the running thread, which may use sim
        assert sim.now == now_ps
        in_run.set()
        go.wait(timeout=60)  # the run stays in progress while the other thread tries

    runner = threading.Thread(target=lambda: sim.run(progress=watch))
    runner.start()
    assert in_run.wait(timeout=60)
    for call in (lambda: sim.add(all_to_all(t, 64)), lambda: sim.inject(t.endpoints[0], t.endpoints[1], 64),
                 sim.check_invariants, sim.result, sim.run, lambda: sim.now):
        with pytest.raises(RuntimeError, match="running in another thread") as e:
            call()
        refused.append(str(e.value).split(":")[0])
    go.set()
    runner.join()
    assert refused == ["Simulation.add", "Simulation.inject", "Simulation.check_invariants", "Simulation.result",
                       "Simulation.run", "Simulation.now"]
    assert sim.result().complete and sim.idle


def test_a_reading_thread_never_refuses_the_thread_that_runs() -> None:
    """Only a run makes another thread's call unsafe: a monitor reading results between runs
    waits for nothing and refuses nothing (a call that found it reading was once refused)."""
    import threading

    t = clos()
    sim = podsim.Simulation(t)
    sim.add(all_to_all(t, 16 << 10))
    stop, reads, refused = threading.Event(), [], []

    def monitor() -> None:
        while not stop.is_set():
            try:
                reads.append(sim.result().events)
            except RuntimeError:
                refused.append(1)  # while a run is under way: expected

    watcher = threading.Thread(target=monitor)
    watcher.start()
    try:
        while not sim.idle:
            sim.run_until(sim.now + 100_000)
    finally:
        stop.set()
        watcher.join()
    assert sim.result().complete and reads == sorted(reads)


def test_work_added_by_the_last_progress_call_runs() -> None:
    """run() goes on while events are due: a message injected when progress reports the stop runs too."""
    t = clos()
    sim = podsim.Simulation(t)
    sim.add(all_to_all(t, 4096))
    a, b = t.endpoints[:2]
    added: list[int] = []

    def more(now_ps: int, events: int) -> None:
        if sim.idle and not added:  # the call at the stop
            added.append(sim.inject(a, b, 4096))

    sim.run(progress=more)
    assert added and sim.result().complete and sim.result().messages.end_ps[added[0]] > 0
    sim.run_until(sim.now + 10**6, progress=lambda now_ps, events: added.append(sim.inject(b, a, 64)) if len(added) == 1 else None)
    assert len(added) == 2 and sim.result().complete
