"""Hypothesis strategies for random fabrics and workloads, and the small graph model the
invariant tests judge the engine against.

Everything here is independent of the engine's internals: a :class:`FabricSpec` is a plain
description (nodes and links) that can be built into a :class:`podsim.Topology` in any node order,
and :class:`FabricModel` recomputes shortest paths and latency lower bounds from that description
alone, so that a routing or timing bug in the engine cannot hide behind the same code computing
the expected value.

Integer rates are drawn on purpose: ``floor(rate * 1000.0)`` is then exact in double precision
(rates stay far below 2**53 / 1000), so the exact serialization arithmetic of the tests
(``ceil(bytes * 1e12 / rate)`` in integers) is the engine's own, not an approximation of it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Sequence

import numpy as np
from hypothesis import strategies as st

import podsim
from podsim import fabrics

#: Shapes the fabric strategy draws. All are connected; only the ring can deadlock under minimal
#: routing (a cyclic buffer dependency), so tests that need completion exclude it.
SHAPES = ("clos", "ring", "full_mesh", "star")
DEADLOCK_FREE_SHAPES = ("clos", "full_mesh", "star")

#: Drawn rates, bytes/s per direction (uni): 100 MB/s .. 400 GB/s, integers (see module doc).
RATE_RANGE = (10**8, 4 * 10**11)
ROUTINGS = tuple(sorted(podsim.ROUTING))


def ser_ps(wire_bytes: int, rate_Bps: int) -> int:
    """Serialization time in ps, exactly as the engine must round it: ceil(bytes * 1e12 / rate)."""
    return -(-wire_bytes * 10**12 // rate_Bps)


# ---------------------------------------------------------------------------------------------
# Fabrics


@dataclass(frozen=True)
class NodeSpec:
    """One node of a fabric description."""

    name: str
    endpoint: bool
    latency_ps: int
    buffer_bytes: int
    cut_through: bool = False


@dataclass(frozen=True)
class LinkSpec:
    """One link (two channels) between node indices ``a`` and ``b`` of a :class:`FabricSpec`."""

    a: int
    b: int
    rate_Bps: int
    latency_ps: int


@dataclass(frozen=True)
class FabricSpec:
    """A fabric as plain data; node indices are positions in ``nodes``, not engine node ids."""

    shape: str
    nodes: tuple[NodeSpec, ...]
    links: tuple[LinkSpec, ...]

    @property
    def endpoints(self) -> list[int]:
        """Spec indices of the endpoints, in spec order."""
        return [i for i, n in enumerate(self.nodes) if n.endpoint]

    def build(self, node_order: Sequence[int] | None = None, link_order: Sequence[int] | None = None) -> Built:
        """Build the topology, creating nodes in ``node_order`` and links in ``link_order``
        (permutations of spec indices; default: spec order). Relabelling tests use this to get
        the same graph with other node ids, endpoint indices and port numbers."""
        order = list(range(len(self.nodes))) if node_order is None else list(node_order)
        links = list(range(len(self.links))) if link_order is None else list(link_order)
        t = podsim.Topology()
        node_id = np.zeros(len(self.nodes), dtype=np.int64)
        for i in order:
            n = self.nodes[i]
            if n.endpoint:
                node_id[i] = t.add_endpoint(n.name, buffer_bytes=n.buffer_bytes, latency_ps=n.latency_ps)
            else:
                node_id[i] = t.add_switch(
                    n.name, latency_ps=n.latency_ps, buffer_bytes=n.buffer_bytes, cut_through=n.cut_through
                )
        for k in links:
            lk = self.links[k]
            t.connect(int(node_id[lk.a]), int(node_id[lk.b]), rate_Bps=lk.rate_Bps, latency_ps=lk.latency_ps)
        return Built(spec=self, topology=t, node_id=node_id)


@dataclass(frozen=True)
class Built:
    """A :class:`FabricSpec` built into a topology, with the spec-index -> node-id map."""

    spec: FabricSpec
    topology: podsim.Topology
    node_id: np.ndarray

    def messages(self, w: Workload) -> podsim.Messages:
        """The workload with its spec-index endpoints mapped to this build's node ids."""
        return podsim.Messages(
            self.node_id[w.src], self.node_id[w.dst], w.size,
            kind=np.asarray(w.kind, dtype=np.uint8), deps=w.deps or None, delay_ps=w.delay_ps,
        )

    @cached_property
    def model(self) -> FabricModel:
        """The graph model of this build, indexed by engine node and channel ids."""
        return FabricModel(self.topology)


def spec_from_topology(t: podsim.Topology, shape: str) -> FabricSpec:
    """Read a built topology (e.g. from :mod:`podsim.fabrics`) back into a :class:`FabricSpec`.
    Links are the channel pairs (2k, 2k + 1) that :meth:`podsim.Topology.connect` creates."""
    nodes = t.nodes()
    ch = t.channels()
    node_specs = tuple(
        NodeSpec(
            name=str(r.name), endpoint=r.kind == "endpoint", latency_ps=int(r.latency_ps),
            buffer_bytes=int(r.buffer_bytes), cut_through=bool(r.cut_through),
        )
        for r in nodes.itertuples()
    )
    links = tuple(
        LinkSpec(int(ch.src[c]), int(ch.dst[c]), int(ch.rate_Bps[c]), int(ch.latency_ps[c]))
        for c in range(0, len(ch), 2)
    )
    return FabricSpec(shape, node_specs, links)


@st.composite
def link_params(draw: st.DrawFn, mtu: int) -> fabrics.LinkParams:
    """Shared link and switch parameters; buffers hold at least one MTU (the engine's minimum)."""
    return fabrics.LinkParams(
        rate_Bps=draw(st.integers(*RATE_RANGE)),
        latency_ps=draw(st.integers(1, 200_000)),
        switch_latency_ps=draw(st.integers(0, 300_000)),
        buffer_bytes=draw(buffers(mtu)),
        endpoint_buffer_bytes=draw(buffers(mtu)),
        cut_through=draw(st.booleans()),
    )


def buffers(mtu: int) -> st.SearchStrategy[int]:
    """Buffer sizes from exactly one MTU (the tightest legal, where credit stalls are most
    frequent) to a few MTUs, not necessarily multiples of it."""
    return st.builds(lambda k, extra: k * mtu + extra, st.integers(1, 4), st.integers(0, mtu - 1))


def _shape_topology(draw: st.DrawFn, shape: str, p: fabrics.LinkParams) -> podsim.Topology:
    if shape == "star":
        return fabrics.star(draw(st.integers(2, 6)), p)
    if shape == "ring":
        return fabrics.ring(draw(st.integers(3, 6)), p)
    if shape == "full_mesh":
        return fabrics.full_mesh(draw(st.integers(2, 5)), p)
    groups = draw(st.integers(1, 3))
    hosts = draw(st.integers(2 if groups == 1 else 1, 3))
    return fabrics.folded_clos(groups, hosts, draw(st.integers(1, 3)), p, planes=draw(st.integers(1, 3)))


@st.composite
def fabric_specs(draw: st.DrawFn, mtu: int, shapes: Sequence[str] = SHAPES) -> FabricSpec:
    """A random fabric of one of ``shapes``, made by :mod:`podsim.fabrics` with random shared
    parameters; half of the time every link, switch and endpoint then gets its own parameters
    (heterogeneous rates, latencies, buffers, cut-through), which the generators cannot express."""
    shape = draw(st.sampled_from(shapes))
    spec = spec_from_topology(_shape_topology(draw, shape, draw(link_params(mtu))), shape)
    if not draw(st.booleans()):
        return spec
    nodes = tuple(
        replace(
            n,
            latency_ps=draw(st.integers(0, 50_000 if n.endpoint else 300_000)),
            buffer_bytes=draw(buffers(mtu)),
            cut_through=(not n.endpoint) and draw(st.booleans()),
        )
        for n in spec.nodes
    )
    links = tuple(
        replace(lk, rate_Bps=draw(st.integers(*RATE_RANGE)), latency_ps=draw(st.integers(1, 200_000)))
        for lk in spec.links
    )
    return FabricSpec(shape, nodes, links)


# ---------------------------------------------------------------------------------------------
# Workloads


@dataclass(frozen=True)
class Workload:
    """Messages between spec-index endpoints; ``deps`` are (before, after) pairs with before < after."""

    src: list[int]
    dst: list[int]
    size: list[int]
    kind: list[int]  # 0 write, 1 read
    delay_ps: list[int]
    deps: list[tuple[int, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.src)


def message_sizes(payload: int) -> st.SearchStrategy[int]:
    """Message sizes from 1 byte to a few dozen packets: small, exactly one packet, one byte over,
    and large are all likely. Large stays bounded so an example runs in milliseconds."""
    return st.one_of(
        st.integers(1, payload),
        st.sampled_from([payload, payload + 1, 2 * payload]),
        st.integers(payload, 24 * payload),
    )


@st.composite
def workloads(draw: st.DrawFn, endpoints: Sequence[int], payload: int, max_messages: int = 10) -> Workload:
    """A random message DAG with write/read mixes, delays and dependencies on earlier messages.

    The pattern is either free (random pairs), an incast (everyone to one endpoint: the heaviest
    credit pressure) or a shift (endpoint i to i + k: on a ring, the classic cyclic buffer
    dependency), each message then optionally depending on up to two earlier ones.
    """
    eps = list(endpoints)
    pattern = draw(st.sampled_from(["free", "incast", "shift"]))
    pairs: list[tuple[int, int]]
    if pattern == "incast":
        sink = draw(st.sampled_from(eps))
        pairs = [(e, sink) for e in eps if e != sink] * draw(st.integers(1, 2))
    elif pattern == "shift":
        k = draw(st.integers(1, len(eps) - 1))
        pairs = [(e, eps[(i + k) % len(eps)]) for i, e in enumerate(eps)]
    else:
        n = draw(st.integers(1, max_messages))
        pairs = [tuple(draw(st.lists(st.sampled_from(eps), min_size=2, max_size=2, unique=True))) for _ in range(n)]
    pairs = pairs[: 2 * max_messages]
    same_size = draw(st.one_of(st.none(), message_sizes(payload)))
    size, kind, delay, deps = [], [], [], []
    for i in range(len(pairs)):
        size.append(same_size if same_size is not None else draw(message_sizes(payload)))
        kind.append(draw(st.integers(0, 1)))
        delay.append(draw(st.one_of(st.just(0), st.integers(0, 5_000_000))))
        if i:
            deps += [(b, i) for b in draw(st.sets(st.integers(0, i - 1), max_size=2))]
    return Workload([p[0] for p in pairs], [p[1] for p in pairs], size, kind, delay, sorted(deps))


@dataclass(frozen=True)
class RunParams:
    """Engine parameters of one run (keyword arguments of :func:`podsim.simulate`)."""

    mtu: int
    header_bytes: int
    ack_bytes: int | None
    request_bytes: int | None
    routing: str
    seed: int

    @property
    def payload(self) -> int:
        """Message bytes per full packet."""
        return self.mtu - self.header_bytes

    @property
    def ack(self) -> int:
        """Wire bytes of an acknowledgement (the engine's default is the header size)."""
        return self.header_bytes if self.ack_bytes is None else self.ack_bytes

    @property
    def request(self) -> int:
        """Wire bytes of a read request."""
        return self.header_bytes if self.request_bytes is None else self.request_bytes

    def kwargs(self) -> dict[str, object]:
        """As keyword arguments of :class:`podsim.Simulation` / :func:`podsim.simulate`."""
        return {
            "mtu": self.mtu, "header_bytes": self.header_bytes, "ack_bytes": self.ack_bytes,
            "request_bytes": self.request_bytes, "routing": self.routing, "seed": self.seed,
        }


@st.composite
def run_params(draw: st.DrawFn) -> RunParams:
    """MTU, header and control-packet sizes, routing policy and seed. A zero header is allowed
    (a header_bytes of 0 makes acks and requests 1+ bytes only through ack_bytes/request_bytes)."""
    mtu = draw(st.one_of(st.sampled_from([64, 256, 1500, 4096, 9000]), st.integers(2, 9216)))
    header = draw(st.integers(0, min(64, mtu - 1)))
    ack = draw(st.one_of(st.none(), st.integers(1, mtu))) if header else draw(st.integers(1, mtu))
    req = draw(st.one_of(st.none(), st.integers(1, mtu))) if header else draw(st.integers(1, mtu))
    return RunParams(mtu, header, ack, req, draw(st.sampled_from(ROUTINGS)), draw(st.integers(0, 2**64 - 1)))


@dataclass(frozen=True)
class Scenario:
    """A fabric, engine parameters and a workload: one complete random input."""

    fabric: FabricSpec
    params: RunParams
    workload: Workload

    @cached_property
    def built(self) -> Built:
        """The fabric built in spec order."""
        return self.fabric.build()

    def simulation(self, **extra: object) -> podsim.Simulation:
        """A fresh :class:`podsim.Simulation` of this scenario with the workload added."""
        sim = podsim.Simulation(self.built.topology, **{**self.params.kwargs(), **extra})
        sim.add(self.built.messages(self.workload))
        return sim


@st.composite
def fabric_and_params(draw: st.DrawFn, shapes: Sequence[str] = SHAPES) -> tuple[FabricSpec, RunParams]:
    """Engine parameters and a fabric whose buffers fit their MTU (for stateful tests, which draw
    their workload step by step)."""
    params = draw(run_params())
    return draw(fabric_specs(params.mtu, shapes)), params


@st.composite
def scenarios(draw: st.DrawFn, shapes: Sequence[str] = SHAPES, max_messages: int = 10) -> Scenario:
    """A random :class:`Scenario` over ``shapes``."""
    params = draw(run_params())
    fabric = draw(fabric_specs(params.mtu, shapes))
    return Scenario(fabric, params, draw(workloads(fabric.endpoints, params.payload, max_messages)))


@st.composite
def deadlock_prone_scenarios(draw: st.DrawFn) -> Scenario:
    """Rings with one-MTU buffers and every endpoint writing several packets two or more hops
    clockwise: the cyclic buffer dependency of minimal ring routing usually locks up, which is
    where conservation must still hold and the engine must report Deadlock rather than hang."""
    params = draw(run_params())
    mtu = params.mtu
    n = draw(st.integers(3, 6))
    p = fabrics.LinkParams(
        rate_Bps=draw(st.integers(*RATE_RANGE)), latency_ps=draw(st.integers(1, 50_000)),
        switch_latency_ps=draw(st.integers(0, 50_000)), buffer_bytes=mtu, endpoint_buffer_bytes=mtu,
        cut_through=draw(st.booleans()),
    )
    spec = spec_from_topology(fabrics.ring(n, p), "ring")
    eps = spec.endpoints
    k = draw(st.integers(2, n - 1)) if n > 3 else 2
    size = draw(st.integers(4 * params.payload, 24 * params.payload))
    w = Workload(eps, [eps[(i + k) % n] for i in range(n)], [size] * n, [0] * n, [0] * n)
    return Scenario(spec, params, w)


def pause_fractions(max_pauses: int = 6) -> st.SearchStrategy[list[float]]:
    """Pause points as fractions of a run's length (sorted, duplicates allowed: two pauses at the
    same time must be harmless)."""
    return st.lists(st.floats(0.0, 1.0), min_size=1, max_size=max_pauses).map(sorted)


# ---------------------------------------------------------------------------------------------
# The graph model: distances and latency lower bounds, computed from the channel table only


def packet_wires(size: int, mtu: int, header: int) -> list[int]:
    """Wire sizes of the data packets a message of ``size`` payload bytes is cut into."""
    payload = mtu - header
    n = -(-size // payload)
    return [mtu] * (n - 1) + [size - payload * (n - 1) + header]


class FabricModel:
    """Shortest paths (in channels, through switches only: endpoints never forward) and
    minimal-path latency lower bounds of a topology, indexed by engine node and channel ids."""

    def __init__(self, t: podsim.Topology) -> None:
        ch = t.channels()
        nodes = t.nodes()
        self.num_nodes = t.num_nodes
        self.endpoints = [int(e) for e in t.endpoints]
        self.is_endpoint = (nodes["kind"] == "endpoint").to_numpy()
        self.node_latency = nodes["latency_ps"].to_numpy(dtype=np.int64)
        self.cut_through = nodes["cut_through"].to_numpy(dtype=bool)
        self.buffer = nodes["buffer_bytes"].to_numpy(dtype=np.int64)
        self.ch_src = ch.src.astype(np.int64)
        self.ch_dst = ch.dst.astype(np.int64)
        self.ch_latency = ch.latency_ps.astype(np.int64)
        # The engine holds rates in milli-bytes/s; for the integer rates drawn here the table's
        # float is exact, so this integer is the rate the engine uses.
        self.ch_rate = [int(r) for r in ch.rate_Bps]
        self.out: list[list[int]] = [[] for _ in range(self.num_nodes)]
        self.inc: list[list[int]] = [[] for _ in range(self.num_nodes)]
        for c in range(len(ch)):
            self.out[int(ch.src[c])].append(c)
            self.inc[int(ch.dst[c])].append(c)

    @lru_cache(maxsize=None)  # noqa: B019 - one model per built topology, kept by the test
    def dist_to(self, dst: int) -> tuple[int | None, ...]:
        """Channels on a shortest path from every node to endpoint node ``dst`` (None: unreachable).
        Breadth-first search backwards from ``dst`` that expands through switches only."""
        dist: list[int | None] = [None] * self.num_nodes
        dist[dst] = 0
        q = deque([dst])
        while q:
            u = q.popleft()
            for c in self.inc[u]:
                v = int(self.ch_src[c])
                if dist[v] is None:
                    dist[v] = dist[u] + 1  # type: ignore[operator]
                    if not self.is_endpoint[v]:
                        q.append(v)
        return tuple(dist)

    def minimal_next(self, u: int, dst: int) -> list[int]:
        """Out-channels of ``u`` that lie on a shortest path to endpoint node ``dst``."""
        d = self.dist_to(dst)
        if d[u] is None or d[u] == 0:
            return []
        return [
            c for c in self.out[u]
            if d[int(self.ch_dst[c])] == d[u] - 1 and (int(self.ch_dst[c]) == dst or not self.is_endpoint[self.ch_dst[c]])
        ]

    def arrival_ps(self, channel: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """When each transmission's arrival event happens at the channel's far node: after the
        link and node latency, counted from the head (start) at a cut-through switch and from the
        tail (end) otherwise (endpoints and store-and-forward switches)."""
        dst = self.ch_dst[channel]
        from_head = self.cut_through[dst] & ~self.is_endpoint[dst]
        return np.where(from_head, start, end) + self.ch_latency[channel] + self.node_latency[dst]

    @lru_cache(maxsize=None)  # noqa: B019
    def path_lb(self, src: int, dst: int, wire: int, first_hop_ser: bool) -> int:
        """A lower bound, ps, on how long a packet of ``wire`` bytes takes from the start of its
        first transmission at ``src`` to its arrival at ``dst``, over the minimal paths.

        Derivation (e_i = end of the transmission on hop i, L_i its link latency, l_i the latency
        of the node it enters): the arrival is e_h + L_h + l_h. Entering a store-and-forward
        switch, the next transmission starts no earlier than e_i + L_i + l_i and lasts at least its
        serialization, so e_(i+1) >= e_i + L_i + l_i + ser_(i+1). Entering a cut-through switch,
        the tail cannot leave before it arrived: e_(i+1) >= e_i + L_i + l_i. So the bound is the
        minimum over minimal paths of sum(L_i + l_i), plus the serialization of every hop that
        leaves a store-and-forward switch, plus that of the first hop when ``first_hop_ser``.
        """
        if src == dst:
            return 0
        best: int | None = None
        for c in self.minimal_next(src, dst):
            v = int(self.ch_dst[c])
            own = ser_ps(wire, self.ch_rate[c]) if (first_hop_ser or not (self.is_endpoint[src] or self.cut_through[src])) else 0
            cost = own + int(self.ch_latency[c]) + int(self.node_latency[v]) + self.path_lb(v, dst, wire, False)
            best = cost if best is None else min(best, cost)
        if best is None:
            raise ValueError(f"no minimal path from node {src} to endpoint {dst}")
        return best

    def data_lb(self, src: int, dst: int, size: int, mtu: int, header: int) -> int:
        """A lower bound, ps, from a message's data becoming available at ``src`` to its last
        byte at ``dst``.

        All W wire bytes leave ``src`` over the first-hop channels of its minimal paths, of total
        rate R: the transmission that ends last does so no earlier than W / R after the start
        (each channel j needs B_j / r_j for its B_j bytes, and max_j B_j / r_j >= W / R). That
        packet (at least the smallest packet's size) then still needs the rest of a minimal path;
        and the largest packet needs a whole path on its own.
        """
        wires = packet_wires(size, mtu, header)
        rate = sum(self.ch_rate[c] for c in self.minimal_next(src, dst))
        spread = -(-sum(wires) * 10**12 // rate) + self.path_lb(src, dst, min(wires), False)
        return max(spread, self.path_lb(src, dst, max(wires), True))


def is_deadlock_free(shape: str) -> bool:
    """Whether minimal routing on ``shape`` is free of cyclic buffer dependencies (up/down paths
    in trees and Clos, single hops in a full mesh); on a ring it is not."""
    return shape in DEADLOCK_FREE_SHAPES

