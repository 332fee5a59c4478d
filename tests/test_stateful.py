"""A Hypothesis state machine driving the stepping API the way a host simulator does: inject
messages (with dependencies on earlier ones) at arbitrary times, advance by arbitrary steps, run to
idle, and inject again. After every step the ledger, the credits, the counters and the clock are
checked; at the end everything is drained and every byte must have arrived exactly once."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from invariant_checks import TRACE, check_credits, check_ledger, check_ledger_complete
from strategies import Built, RunParams, Workload, fabric_and_params, is_deadlock_free, message_sizes

import podsim


class SteppingMachine(RuleBasedStateMachine):
    """One Simulation, stepped by random rules; the model is just the list of injected messages."""

    def __init__(self) -> None:
        super().__init__()
        self.built: Built
        self.params: RunParams
        self.sim: podsim.Simulation
        self.msgs = Workload([], [], [], [], [], [])
        self.deadlocked = False
        self.last: dict[str, np.ndarray] = {}
        self.last_now = 0

    @initialize(fp=fabric_and_params())
    def build(self, fp: tuple) -> None:
        spec, self.params = fp
        self.built = spec.build()
        self.sim = podsim.Simulation(self.built.topology, trace=TRACE, **self.params.kwargs())

    @rule(data=st.data())
    def inject(self, data: st.DataObject) -> None:
        """A message now, optionally after up to two earlier ones (which may be long done)."""
        eps = self.built.spec.endpoints
        s, d = data.draw(st.lists(st.sampled_from(eps), min_size=2, max_size=2, unique=True), label="src, dst")
        size = data.draw(message_sizes(self.params.payload), label="size")
        kind = data.draw(st.integers(0, 1), label="kind")
        delay = data.draw(st.one_of(st.just(0), st.integers(0, 2_000_000)), label="delay_ps")
        n = len(self.msgs)
        deps = sorted(data.draw(st.sets(st.integers(0, n - 1), max_size=2), label="deps")) if n else []
        mid = self.sim.inject(
            int(self.built.node_id[s]), int(self.built.node_id[d]), size,
            kind=("write", "read")[kind], delay_ps=delay, deps=deps,
        )
        assert mid == n
        self.msgs.src.append(s)
        self.msgs.dst.append(d)
        self.msgs.size.append(size)
        self.msgs.kind.append(kind)
        self.msgs.delay_ps.append(delay)
        self.msgs.deps.extend((b, n) for b in deps)

    @rule(dt=st.one_of(st.integers(0, 100_000), st.integers(0, 50_000_000)))
    def advance(self, dt: int) -> None:
        """run_until an arbitrary later time (zero steps included: pausing twice is harmless)."""
        t = self.sim.now + dt
        self.sim.run_until(t)
        assert self.sim.now == t
        check_ledger(self.sim, self.built, self.msgs, t)

    @precondition(lambda self: len(self.msgs) > 0)
    @rule()
    def run_to_idle(self) -> None:
        """Run until nothing is pending; only a ring may report a deadlock."""
        try:
            self.sim.run()
        except podsim.Deadlock:
            assert not is_deadlock_free(self.built.spec.shape)
            self.deadlocked = True
        assert self.sim.idle

    @invariant()
    def ledger_balances(self) -> None:
        led = self.sim.result().ledger
        assert led.balanced
        assert np.all(led.injected_packets >= led.delivered_packets)
        assert np.all(led.injected_bytes >= led.delivered_bytes)

    @invariant()
    def credits_hold(self) -> None:
        check_credits(self.sim, self.built, self.msgs, self.sim.now)

    @invariant()
    def counters_monotone_and_time_forward(self) -> None:
        """Every cumulative counter only grows, and the clock never goes back."""
        res = self.sim.result()
        now = {
            "wire": res.channels.wire_bytes, "payload": res.channels.payload_bytes,
            "packets": res.channels.packets, "busy": res.channels.busy_ps,
            "inj_b": res.ledger.injected_bytes, "del_b": res.ledger.delivered_bytes,
            "inj_p": res.ledger.injected_packets, "del_p": res.ledger.delivered_packets,
            "recv": res.ledger.received_bytes, "scalars": np.array([res.events, res.packet_hops], dtype=np.uint64),
        }
        for k, v in now.items():
            if k in self.last:
                assert np.all(v >= self.last[k]), f"counter {k} went down"
        self.last = {k: v.copy() for k, v in now.items()}
        assert self.sim.now >= self.last_now
        self.last_now = self.sim.now

    def teardown(self) -> None:
        """Drain; unless the ring locked up, every message arrived whole and exactly once."""
        if not hasattr(self, "sim"):
            return
        try:
            self.sim.run()
        except podsim.Deadlock:
            assert not is_deadlock_free(self.built.spec.shape)
            self.deadlocked = True
        check_ledger(self.sim, self.built, self.msgs, self.sim.now)
        check_credits(self.sim, self.built, self.msgs, self.sim.now)
        if not self.deadlocked:
            check_ledger_complete(self.sim, self.built, self.msgs, self.params.mtu, self.params.header_bytes)


TestStepping = SteppingMachine.TestCase
