"""Running the engine: a stepping :class:`Simulation` and the one-call :func:`simulate`."""

from __future__ import annotations

import functools
import inspect
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, Union, cast

import numpy as np

from podsim import _core
from podsim import _validate as v
from podsim.messages import KINDS, MAX_MESSAGE_BYTES, Messages
from podsim.results import NOT_YET, ChannelStats, Ledger, MessageStats, Result, TransmissionTrace, traffic_end_ps
from podsim.topology import Topology

if TYPE_CHECKING:
    from podsim.faults.timeline import Change

#: Routing policies: how a node picks among the candidate ports of its minimal paths.
ROUTING = {"ecmp": 0, "spray": 1, "adaptive": 2}
#: What becomes of packets on a wire when it fails: ``"retransmit"`` (lost; their source sends
#: them again end to end after ``retransmit_timeout_ps``) or ``"replay"`` (link-level retry: the
#: sending node sends them again over another port about one link round trip later).
RECOVERY = {"retransmit": 0, "replay": 1}

#: A progress callback receives (simulated time in ps, events processed so far), and, when it
#: takes a third argument, the fraction of the added messages' payload delivered so far, in
#: [0, 1] (what a progress bar with an estimate of the time left needs).
ProgressFn = Union[Callable[[int, int], None], Callable[[int, int, float], None]]
#: A completion callback receives (message id, end time in ps).
CompletionFn = Callable[[int, int], None]

_NEVER = (1 << 64) - 1
#: Latest simulated time, ps (2^62, about 53 days); see :data:`podsim._validate.MAX_TIME_PS`.
MAX_TIME_PS = v.MAX_TIME_PS
_STOP_IDLE, _STOP_TIME, _STOP_EVENTS, _STOP_COMPLETION = 0, 1, 2, 3

InvariantViolation = _core.InvariantViolation
InvariantViolation.__doc__ = """Raised in check mode (``check=True``) by the first broken conservation identity (bytes,
packets or credits), naming the event, the time and the channel: an engine bug, to report."""
Deadlock = _core.Deadlock
Deadlock.__doc__ = """Raised when no event is left but messages are unfinished and no fault explains it: packets
are stuck in buffers (a cyclic buffer dependency of the topology and routing)."""
CutOff = _core.CutOff
CutOff.__doc__ = """Raised when faults left messages with no path between their endpoints and no repair is
scheduled. Not a subclass of :class:`Deadlock`: catch both (or ``RuntimeError``)."""


_F = TypeVar("_F", bound=Callable[..., Any])


def _one_thread(method: _F) -> _F:
    """Refuse ``method`` while another thread runs the simulation: the engine runs without the
    GIL, so a call from another thread would change or read its state mid-event (a crash, or a
    false invariant violation). Other calls hold the GIL throughout; one that finds the lock held
    by another thread's call (not a run) waits for it. The running thread's own callbacks may
    call anything (the lock is reentrant)."""

    @functools.wraps(method)
    def guarded(self: Simulation, *args: Any, **kwargs: Any) -> Any:
        while not self._in_use.acquire(timeout=0.001):
            runner = self._runner
            if runner is not None and runner != threading.get_ident():
                raise RuntimeError(
                    f"Simulation.{method.__name__}: the simulation is running in another thread; use it from one "
                    "thread at a time (to watch a run, pass progress= or register on_complete, which are called in "
                    "the running thread)"
                )
        try:
            return method(self, *args, **kwargs)
        finally:
            self._in_use.release()

    return cast(_F, guarded)


def _takes_done(fn: Callable[..., Any]) -> bool:
    """Whether a progress callback takes the third argument, the fraction delivered."""
    try:
        inspect.signature(fn).bind(0, 0, 0.0)
    except (TypeError, ValueError):  # (ValueError: no signature to read; the two-argument form)
        return False
    return True


class Interrupted(KeyboardInterrupt):
    """Raised by :func:`simulate` on Ctrl-C; ``result`` holds what was simulated up to then."""

    def __init__(self, result: Result) -> None:
        super().__init__(f"interrupted at t={result.now_ps} ps after {result.events} events")
        self.result = result


class HasTopology(Protocol):
    """Anything that carries a fabric, such as a :class:`podsim.System`. A system may also offer
    ``run_defaults()``: packet and transaction sizes used when a run does not give them."""

    @property
    def topology(self) -> Topology:
        """The fabric to simulate."""
        ...


FabricLike = Union[Topology, HasTopology]


def _topology(fabric: FabricLike) -> Topology:
    if isinstance(fabric, Topology):
        return fabric
    topo = getattr(fabric, "topology", None)
    if isinstance(topo, Topology):
        return topo
    raise TypeError(f"topology: expected a podsim.Topology or a system with one, got {type(fabric).__name__}")


#: Sizes a run uses when neither the caller nor the system gives them.
DEFAULT_SIZES = {"mtu": 4096, "header_bytes": 32}
#: Bytes per transaction when endpoints are coupled to HBM and neither the caller nor the system
#: gives ``txn_bytes``. Memory is accessed a transaction at a time, so one transaction per message
#: would read a whole message from HBM before its first packet leaves and write it after its last
#: arrives, memory and link one after the other (a 64 MiB all-reduce on HGX H100 lost 23% of its
#: busbw that way); 64 KiB keeps them overlapped (an assumption: what GPUs use is unpublished).
MEMORY_TXN_BYTES = 64 << 10
#: Fault-recovery times a run uses when neither the caller nor the system's ``[transport]`` spec
#: gives them, ps. The end-to-end retransmission timeout of scale-up transports is unpublished
#: (faults.md §6): 10 us is an assumption, a few fabric round trips. Link-level replay costs about
#: one link round trip (faults.md §5.1 item 3), which the engine charges itself: nothing extra.
DEFAULT_RECOVERY_PS = {"retransmit_timeout_ps": 10_000_000, "replay_ps": 0}


def _sizes(fabric: FabricLike, given: dict[str, int | None]) -> dict[str, int | None]:
    """The caller's sizes, else the system's ``run_defaults()``, else :data:`DEFAULT_SIZES`."""
    system = getattr(fabric, "run_defaults", None)
    defaults = {**DEFAULT_SIZES, **DEFAULT_RECOVERY_PS, **(system() if callable(system) else {})}
    return {k: defaults.get(k) if val is None else val for k, val in given.items()}


def _memories(fabric: FabricLike, memory: bool | Mapping[int, Any] | None) -> dict[int, Any]:
    """Endpoint node id -> ``podsim.hbm.Device`` for the endpoints to couple to HBM."""
    if memory is None or memory is False:
        return {}
    from podsim import hbm  # the memory model is only needed when coupling

    if memory is True:
        ranks = getattr(fabric, "ranks", None)
        per_rank = getattr(fabric, "rank_memory", None)
        if ranks is None or per_rank is None:
            raise TypeError("memory=True needs a system (podsim.system(...)); pass {node: podsim.hbm.Device} for a Topology")
        device = hbm.Device.from_rank(per_rank)
        return {int(r): device for r in ranks}
    if not isinstance(memory, Mapping):
        raise TypeError(f"memory: expected True, None or a mapping node -> podsim.hbm.Device, got {type(memory).__name__}")
    out = {}
    for node, device in memory.items():
        if not isinstance(device, hbm.Device):
            raise TypeError(f"memory[{node!r}]: expected a podsim.hbm.Device, got {type(device).__name__}")
        out[v.integer(node, "memory node")] = device
    return out


class Simulation:
    """A simulation you can step: inject messages, advance time, read results at any point.

    Args:
        topology: a :class:`Topology` (or a system holding one).
        mtu: largest packet on the wire, header included, bytes (> header_bytes). Sizes left as
            None come from the system's ``[transport]`` spec, else 4096 (mtu) and 32 (header).
        header_bytes: per-packet header on the wire, bytes.
        ack_bytes: wire size of a write acknowledgement, bytes (default: header_bytes).
        request_bytes: wire size of a read request, bytes (default: header_bytes).
        routing: ``"ecmp"`` (hash per message and hop), ``"spray"`` (a message's packets round
            robin over the candidates, starting at its ECMP choice: a one-packet message routes
            as with ECMP) or ``"adaptive"`` (least occupied candidate output).
        seed: integer or ``numpy.random.SeedSequence``; same inputs and seed give identical results.
        endpoint_window_packets: packets an endpoint keeps queued at its ports ahead of
            transmission (default 2 per port that is up: a port a fault takes down stops counting,
            so a fabric with an element failed at time 0 runs as the one ``faults.apply`` builds).
        check: verify the ledger and credit identities after every event and raise
            :class:`InvariantViolation` on the first broken one (slow; off by default).
        txn_bytes: bytes per memory transaction. A write transaction is acknowledged by its
            target, a read transaction is one request answered by its data; endpoints keep at most
            their ``max_outstanding_reads``/``writes`` in flight. None: the system's
            ``[transport]`` spec, else each message is one transaction (one request or one
            acknowledgement), except with ``memory``: :data:`MEMORY_TXN_BYTES`.
        memory: couple endpoints to their HBM: ``True`` gives every compute rank of a system its
            own device (``podsim.hbm.Device.from_rank``), or pass ``{endpoint node id:
            podsim.hbm.Device}``. Sends read their data from the source's HBM, receives write it
            into the destination's, a transaction at a time (see ``txn_bytes``), and a message is
            delivered once it has landed in memory. None/False: the fabric alone.
        trace: record up to this many packet transmissions (channel, start, end, bytes) into
            :attr:`Result.trace`; None records nothing. Transmissions past the limit are counted
            in ``trace.dropped`` and :meth:`result` warns about them.
        recovery: what becomes of packets on a wire when it fails, one of :data:`RECOVERY`.
            Packets left with no path are always lost and retransmitted by their source.
        retransmit_timeout_ps: from a packet's loss to its source sending it again, ps (None: the
            system's ``[transport]`` spec, else :data:`DEFAULT_RECOVERY_PS`).
        replay_ps: link-level retry cost beyond the failed link's round trip, ps (None: as above).

    Faults: :meth:`fail` and :meth:`repair` take channels, links or whole elements (switch chips,
    transceivers, trays) down and back at given simulated times; see :mod:`podsim.faults`.
    """

    def __init__(
        self,
        topology: FabricLike,
        *,
        mtu: int | None = None,
        header_bytes: int | None = None,
        ack_bytes: int | None = None,
        request_bytes: int | None = None,
        routing: str = "adaptive",
        seed: int | np.random.SeedSequence = 1,
        endpoint_window_packets: int | None = None,
        check: bool = False,
        trace: int | None = None,
        txn_bytes: int | None = None,
        memory: bool | Mapping[int, Any] | None = None,
        recovery: str = "retransmit",
        retransmit_timeout_ps: int | None = None,
        replay_ps: int | None = None,
    ) -> None:
        self._fabric = topology
        self._topology = _topology(topology)
        sizes = _sizes(
            topology,
            {"mtu": mtu, "header_bytes": header_bytes, "ack_bytes": ack_bytes, "request_bytes": request_bytes,
             "txn_bytes": txn_bytes, "retransmit_timeout_ps": retransmit_timeout_ps, "replay_ps": replay_ps},
        )
        mtu, header_bytes, ack_bytes, request_bytes, txn_bytes, retransmit_timeout_ps, replay_ps = sizes.values()
        memories = _memories(topology, memory)
        if memories and txn_bytes is None:
            txn_bytes = MEMORY_TXN_BYTES
        routing = v.choice(routing, "routing", ROUTING)
        recovery = v.choice(recovery, "recovery", RECOVERY)
        header_bytes = v.integer(header_bytes, "header_bytes", 0, v.MAX_PACKET_BYTES - 1)
        mtu = v.integer(mtu, "mtu", header_bytes + 1, v.MAX_PACKET_BYTES, lo_why=f"more than header_bytes = {header_bytes}")

        def control_bytes(given: int | None, field: str) -> int:
            # An acknowledgement or a read request is a bare header unless its size is given.
            if given is None:
                return v.integer(header_bytes, f"{field} (default: header_bytes)", 1, mtu)
            return v.integer(given, field, 1, mtu)

        self._retransmit_timeout_ps = v.integer(retransmit_timeout_ps, "retransmit_timeout_ps", 1, MAX_TIME_PS)
        self._core = _core.Simulator(
            self._topology._core,
            mtu,
            header_bytes,
            control_bytes(ack_bytes, "ack_bytes"),
            control_bytes(request_bytes, "request_bytes"),
            ROUTING[routing],
            v.seed(seed),
            0 if endpoint_window_packets is None else v.integer(endpoint_window_packets, "endpoint_window_packets", 1, 2**32 - 1),
            v.flag(check, "check"),
            0 if trace is None else v.integer(trace, "trace", 1),
            0 if txn_bytes is None else v.integer(txn_bytes, "txn_bytes", 1, MAX_MESSAGE_BYTES),
            RECOVERY[recovery],
            self._retransmit_timeout_ps,
            v.integer(replay_ps, "replay_ps", 0, MAX_TIME_PS),
        )
        self.recovery = recovery
        self._tracing = trace is not None
        for node, device in memories.items():
            self._core.attach_memory(node, device.config())
        self.routing = routing
        self.mtu = mtu
        self.header_bytes = header_bytes
        self._callbacks: list[CompletionFn] = []
        # Completions not yet passed to every callback: (message, end_ps, index of the next
        # callback). A callback that raises leaves the rest here; they are made first on resuming.
        self._undelivered: deque[tuple[int, int, int]] = deque()
        self._wall_s = 0.0
        self._in_use = threading.RLock()  # held by the thread using the engine (see _one_thread)
        self._runner: int | None = None  # the thread running the engine, while it runs
        # Of every message added, for progress(now_ps, events, done); a float, as the sum may pass
        # 2^64 (2^26 messages of up to 2^48 bytes) and a fraction needs no more precision.
        self._payload_bytes = 0.0

    @property
    def topology(self) -> Topology:
        """The fabric being simulated."""
        return self._topology

    @property
    @_one_thread
    def now(self) -> int:
        """Current simulated time, ps."""
        return self._core.now

    @property
    @_one_thread
    def next_event_ps(self) -> int | None:
        """Time of the next pending event, ps, or None when idle."""
        t = self._core.next_event_time
        return None if t == _NEVER else t

    @property
    @_one_thread
    def idle(self) -> bool:
        """True when no event is pending."""
        return self._core.idle

    @_one_thread
    def inject(
        self,
        src: int,
        dst: int,
        size: int,
        *,
        kind: str = "write",
        delay_ps: int = 0,
        deps: Sequence[int] = (),
        tag: int = 0,
    ) -> int:
        """Add one message now; returns its id.

        It starts ``delay_ps`` after ``now`` (or after its dependencies are delivered).

        Args:
            src, dst: endpoint node ids.
            size: payload bytes, in [1, 2**48].
            kind: ``"write"`` or ``"read"``, as in :class:`podsim.Messages`.
            delay_ps: ps after now (or after the dependencies), in [0, 2**62].
            deps: ids of earlier messages that must be delivered first.
            tag: free integer carried into the results (e.g. a phase or step number).
        """
        kind = v.choice(kind, "kind", KINDS)
        if isinstance(deps, (str, bytes)) or not isinstance(deps, Iterable):
            raise TypeError(f"deps: expected a sequence of earlier message ids, got {type(deps).__name__} {deps!r}")
        dep_list = [v.integer(d, "deps", 0, 2**32 - 1) for d in deps]
        src = v.integer(src, "src", 0, 2**32 - 2)
        dst = v.integer(dst, "dst", 0, 2**32 - 2)
        size = v.integer(size, "size", 1, MAX_MESSAGE_BYTES)
        msg = self._core.add_message(
            src,
            dst,
            size,
            KINDS[kind],
            v.integer(delay_ps, "delay_ps", 0, MAX_TIME_PS),
            v.integer(tag, "tag"),
            dep_list,
        )
        self._payload_bytes += size
        return int(msg)

    @_one_thread
    def add(self, messages: Messages) -> np.ndarray:
        """Add a batch of messages now; returns their ids. Dependencies stay within the batch."""
        if not isinstance(messages, Messages):
            raise TypeError(f"messages: expected podsim.Messages, got {type(messages).__name__}")
        first = self._core.add_messages(
            messages.src,
            messages.dst,
            messages.size,
            messages.kind,
            messages.delay_ps,
            messages.tag,
            np.ascontiguousarray(messages.deps[:, 0]),
            np.ascontiguousarray(messages.deps[:, 1]),
        )
        self._payload_bytes += float(messages.size.sum(dtype=np.float64))
        return np.arange(first, first + len(messages), dtype=np.uint32)

    @_one_thread
    def fail(self, target: Any, at_ps: int | None = None) -> None:
        """Take ``target`` down at ``at_ps`` (default: now).

        ``target`` is a channel id (one direction), or, on a system, a
        :class:`podsim.faults.Element` (``faults.link("a", "b")``, ``faults.direction(...)``,
        ``faults.transceiver(...)``, ``faults.switch(...)``, ``faults.tray(k)``): every channel it
        carries. Packets on a failing wire follow :attr:`recovery`; packets queued for it are
        rerouted; paths are recomputed over what is still up. ``at_ps`` is in [now, 2^62 - the
        retransmission timeout], so that the run has room to go on after the change.
        """
        self._change(target, at_ps, up=False)

    @_one_thread
    def repair(self, target: Any, at_ps: int | None = None) -> None:
        """Bring ``target`` (as in :meth:`fail`) back at ``at_ps`` (default: now)."""
        self._change(target, at_ps, up=True)

    @_one_thread
    def schedule(self, changes: Iterable[Change]) -> None:
        """Apply a fault schedule, ``changes``: :func:`podsim.faults.fail` / :func:`podsim.faults.repair` items."""
        from podsim.faults.timeline import Change

        if not isinstance(changes, Iterable):
            raise TypeError(f"changes: expected a list of podsim.faults.fail(...)/repair(...) items, got {type(changes).__name__}")
        for change in changes:
            if not isinstance(change, Change):
                raise TypeError(f"faults: expected podsim.faults.fail(...)/repair(...) items, got {type(change).__name__}")
            self._change(change.target, change.at_ps, up=change.up)

    def _change(self, target: Any, at_ps: int | None, *, up: bool) -> None:
        from podsim.faults.elements import Element
        from podsim.faults.timeline import channels_of

        # A run goes on after a change (packets a failure loses are sent again a timeout later,
        # waiting ones move on a repair): a change at the last simulated time would end the run
        # mid-way with an overflow that names no cause, so it is refused here, naming the change.
        what = f"{'repair' if up else 'fail'} of {target if isinstance(target, Element) else f'channel {target}'}"
        when = v.integer(self.now if at_ps is None else at_ps, f"at_ps ({what})", 0,
                         MAX_TIME_PS - self._retransmit_timeout_ps,
                         hi_why=f"2^62 ps, the last simulated time, less the retransmission timeout, "
                                f"{self._retransmit_timeout_ps} ps, to leave the run room after the change")
        if when < self.now:
            raise ValueError(f"at_ps: must be >= now ({self.now}), got {when}")
        for c in channels_of(self._fabric, target):
            self._core.schedule_fault(int(c), when, up)

    @_one_thread
    def channel_up(self, channel: int) -> bool:
        """Whether channel ``channel`` is in service now."""
        return bool(self._core.channel_up(v.integer(channel, "channel", 0, 2**32 - 1)))

    @_one_thread
    def on_complete(self, fn: CompletionFn) -> None:
        """Call ``fn(message_id, end_ps)`` whenever a message completes from now on, with
        :attr:`now` equal to its end time, so the callback may :meth:`inject` follow-up work.

        Callbacks are called in the order they were registered. If one raises, the run stops
        with its exception; the calls not yet made are made first when the run is resumed."""
        if not callable(fn):
            raise TypeError("on_complete: expected a callable")
        if not self._callbacks:
            # The engine keeps a record of every completion; those before the first callback was
            # registered are not news to it (and their end times are long past).
            self._core.take_completed()
            self._core.set_stop_on_completion(True)
        self._callbacks.append(fn)

    @_one_thread
    def run_until(self, t_ps: int, *, progress: ProgressFn | None = None) -> None:
        """Process every event at or before ``t_ps``, then set :attr:`now` to ``t_ps``.

        Args:
            t_ps: the time to stop at, ps, in [now, 2**62].
            progress: called as ``progress(now_ps, events)`` (or ``progress(now_ps, events, done)``,
                see :data:`ProgressFn`) every 2**20 events and when the run stops.
        """
        t_ps = v.integer(t_ps, "t_ps", 0, MAX_TIME_PS)
        if t_ps < self.now:
            raise ValueError(f"t_ps: must be >= now ({self.now}), got {t_ps}")
        self._drive(t_ps, progress)
        self._core.advance_until(t_ps)

    @_one_thread
    def run(self, *, progress: ProgressFn | None = None) -> None:
        """Run until no event is left. Raises :class:`CutOff` if faults left messages with no
        path, :class:`Deadlock` if messages are otherwise unfinished.

        Args:
            progress: called as ``progress(now_ps, events)`` (or ``progress(now_ps, events, done)``,
                see :data:`ProgressFn`) every 2**20 events and when the run stops.
        """
        self._drive(_NEVER, progress)
        self._core.throw_if_stalled()

    def _drive(self, until: int, progress: ProgressFn | None) -> None:
        v.callback(progress, "progress", "a function (now_ps, events) -> None")
        # The engine calls progress(now_ps, events); a callback that takes `done` too gets it here.
        engine_progress = (self._with_done(cast("Callable[[int, int, float], None]", progress))
                           if progress is not None and _takes_done(progress)
                           else cast("Callable[[int, int], None] | None", progress))
        t0 = time.perf_counter()
        outer, self._runner = self._runner, threading.get_ident()  # (outer: a run from a callback)
        try:
            self._notify()
            while True:
                stop = self._core.run(until, _NEVER, engine_progress)
                if stop == _STOP_COMPLETION:
                    # The engine paused right after the completing event, so now is the end time.
                    self._undelivered.extend((int(m), self.now, 0) for m in self._core.take_completed())
                    self._notify()
                elif self._core.idle or self._core.next_event_time > until:
                    break
                # else the progress call at the stop added work that is due: run it too.
        finally:
            self._runner = outer
            self._wall_s += time.perf_counter() - t0

    def _with_done(self, fn: Callable[[int, int, float], None]) -> Callable[[int, int], None]:
        return lambda now_ps, events: fn(now_ps, events, self._delivered_fraction())

    def _delivered_fraction(self) -> float:
        """Payload delivered so far over the payload of every message added (1 when none)."""
        delivered = float(self._core.ledger_columns()["delivered_bytes"].sum(dtype=np.float64))
        return delivered / self._payload_bytes if self._payload_bytes else 1.0

    def _notify(self) -> None:
        """Pass each completion to every callback in turn; a call is counted as made before it is
        made, so that a callback that raises is not called again for the same message."""
        while self._undelivered:
            m, end_ps, k = self._undelivered[0]
            if k == len(self._callbacks):
                self._undelivered.popleft()
                continue
            self._undelivered[0] = (m, end_ps, k + 1)
            self._callbacks[k](m, end_ps)

    @_one_thread
    def check_invariants(self) -> None:
        """Verify every credit and ledger identity now; raises :class:`InvariantViolation`."""
        self._core.check_invariants()

    @_one_thread
    def result(self) -> Result:
        """A snapshot of everything measured so far."""
        core = self._core
        mc = core.message_columns()
        ch = self._topology.channels()
        cc = core.channel_columns()
        lc = core.ledger_columns()
        trace = None
        if self._tracing:
            tc: dict[str, Any] = core.trace_columns()
            trace = TransmissionTrace(**tc)
            if trace.dropped:
                warnings.warn(
                    f"trace: {trace.dropped} transmissions past the limit of {len(trace)} were not recorded; "
                    "raise trace= to record them all",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return Result(
            messages=MessageStats(
                src=mc["src"], dst=mc["dst"], size=mc["size"], kind=mc["kind"], tag=mc["tag"],
                delay_ps=mc["delay_ps"], start_ps=mc["start_ps"], first_byte_ps=mc["first_byte_ps"],
                delivered_ps=mc["delivered_ps"], end_ps=mc["end_ps"],
            ),
            channels=ChannelStats(
                src=ch.src, dst=ch.dst, rate_Bps=ch.rate_Bps, latency_ps=ch.latency_ps,
                wire_bytes=cc["wire_bytes"], payload_bytes=cc["payload_bytes"], packets=cc["packets"],
                busy_ps=cc["busy_ps"], duration_ps=traffic_end_ps(mc["end_ps"], core.messages_incomplete == 0, core.now),
                start_ps=int(mc["start_ps"].min()) if (mc["start_ps"] != NOT_YET).any() else 0,
            ),
            ledger=Ledger(
                endpoint=self._topology.endpoints, engine_packets_in_flight=core.packets_in_flight,
                engine_packets_awaiting_retransmit=core.packets_awaiting_retransmit + core.packets_stranded, **lc,
            ),
            events=core.events,
            packet_hops=core.packet_hops,
            now_ps=core.now,
            wall_s=self._wall_s,
            peak_packets_in_flight=core.peak_packets_in_flight,
            peak_pending_events=core.peak_pending_events,
            packet_latency_histogram=core.packet_latency_histogram(),
            complete=core.messages_incomplete == 0,
            trace=trace,
        )


def simulate(
    topology: FabricLike,
    messages: Messages,
    *,
    mtu: int | None = None,
    header_bytes: int | None = None,
    ack_bytes: int | None = None,
    request_bytes: int | None = None,
    routing: str = "adaptive",
    seed: int | np.random.SeedSequence = 1,
    endpoint_window_packets: int | None = None,
    check: bool = False,
    trace: int | None = None,
    txn_bytes: int | None = None,
    memory: bool | Mapping[int, Any] | None = None,
    faults: Iterable[Change] = (),
    recovery: str = "retransmit",
    retransmit_timeout_ps: int | None = None,
    replay_ps: int | None = None,
    progress: ProgressFn | None = None,
) -> Result:
    """Simulate ``messages`` on ``topology`` until every message completes; return the :class:`Result`.

    ``messages`` is a :class:`Messages` (or a workload, which is one). ``faults`` is a fault schedule
    (``[podsim.faults.fail(element, at_ps=...), podsim.faults.repair(element, at_ps=...)]``).
    ``progress(now_ps, events)`` (or ``progress(now_ps, events, done)``, ``done`` the fraction of
    the payload delivered: see :data:`ProgressFn`) is called every 2**20 events and at the end.
    The run releases the GIL.
    Ctrl-C raises :class:`Interrupted` carrying the partial result. A run that cannot finish raises
    :class:`CutOff` (faults left no path) or :class:`Deadlock`.

    The other arguments are :class:`Simulation`'s (listed below from its documentation).
    """
    sim = Simulation(
        topology, mtu=mtu, header_bytes=header_bytes, ack_bytes=ack_bytes, request_bytes=request_bytes,
        routing=routing, seed=seed, endpoint_window_packets=endpoint_window_packets, check=check, trace=trace,
        txn_bytes=txn_bytes, memory=memory, recovery=recovery, retransmit_timeout_ps=retransmit_timeout_ps,
        replay_ps=replay_ps,
    )
    sim.add(messages)
    sim.schedule(faults)
    try:
        sim.run(progress=progress)
    except KeyboardInterrupt:
        raise Interrupted(sim.result()) from None
    return sim.result()


def _args_section(cls: type) -> str:
    """The ``Args:`` section of ``cls``'s docstring ("" when docstrings are stripped, python -OO)."""
    doc = cls.__doc__ or ""
    start = doc.find("    Args:\n")
    if start < 0:
        return ""
    end = doc.find("\n\n", start)  # the next section, if Args is not the last
    return doc[start:None if end < 0 else end].rstrip()


# help(podsim.simulate) describes every option, from the one description of them (Simulation's).
if simulate.__doc__:
    simulate.__doc__ = f"{simulate.__doc__.rstrip()}\n\n{_args_section(Simulation)}\n"
