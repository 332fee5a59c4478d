"""Parametric fabrics for studies and tests: star, multi-plane two-tier folded Clos, ring, full mesh.

The shipped machines (CloudMatrix 384, NVL72, ...) come from sourced specs via
:func:`podsim.system`; these builders are the generic shapes behind them, with every parameter
explicit. All rates are per direction (uni), bytes/s; latencies are ps; buffers are bytes per
input port.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from dataclasses import dataclass

from podsim import _validate as v
from podsim.topology import DEFAULT_ENDPOINT_BUFFER, Topology


@dataclass(frozen=True)
class LinkParams:
    """What every link and switch of a parametric fabric shares.

    Attributes:
        rate_Bps: per-direction (uni) rate of every link, bytes/s.
        latency_ps: propagation latency of every link, ps.
        switch_latency_ps: switch pipeline latency, ps.
        buffer_bytes: switch buffer per input port, bytes.
        endpoint_buffer_bytes: endpoint receive buffer per input port, bytes.
        cut_through: switches forward once the head has arrived.
    """

    rate_Bps: float
    latency_ps: int
    switch_latency_ps: int = 0
    buffer_bytes: int = 64 << 10
    endpoint_buffer_bytes: int = DEFAULT_ENDPOINT_BUFFER
    cut_through: bool = False

    def __post_init__(self) -> None:
        # Checked here, under these names, rather than later under Topology's argument names.
        v.rate(self.rate_Bps, "LinkParams.rate_Bps")
        v.integer(self.latency_ps, "LinkParams.latency_ps", 1, v.MAX_TIME_PS)
        v.integer(self.switch_latency_ps, "LinkParams.switch_latency_ps", 0, v.MAX_TIME_PS)
        v.integer(self.buffer_bytes, "LinkParams.buffer_bytes", 1)
        v.integer(self.endpoint_buffer_bytes, "LinkParams.endpoint_buffer_bytes", 1)
        v.flag(self.cut_through, "LinkParams.cut_through")


def _check_params(params: object) -> LinkParams:
    if not isinstance(params, LinkParams):
        raise TypeError(f"params: expected a podsim.fabrics.LinkParams, got {type(params).__name__}")
    return params


def _check_size(what: str, size: v.FabricSize) -> None:
    """Refuse a fabric the engine could not simulate, before spending time and memory building it."""
    problem = size.problem()
    if problem is not None:
        raise ValueError(f"{what}: {problem}")


def _size_arg(n: Any, field: str, lo: int, cap: int, size: Callable[[int], v.FabricSize]) -> int:
    """``n`` as an int from ``lo`` up to the largest value (at most ``cap``) whose fabric
    ``size(n)`` the engine accepts (sizes grow with n): a builder's range says what it can really
    build, and why it stops there."""
    good, bad = lo, cap + 1
    while bad - good > 1:
        mid = (good + bad) // 2
        if size(mid).problem() is None:
            good = mid
        else:
            bad = mid
    problem = size(bad).problem() if bad <= cap else None
    return v.integer(n, field, lo, good, f"{field} = {bad}: {problem}" if problem else "")


_PORTS_WHY = "{node} has a port per {per}, and the engine allows at most " + str(v.MAX_PORTS) + " ports per node"


def _switch(t: Topology, name: str, p: LinkParams) -> int:
    return t.add_switch(name, latency_ps=p.switch_latency_ps, buffer_bytes=p.buffer_bytes, cut_through=p.cut_through)


def _link(t: Topology, a: int, b: int, p: LinkParams) -> None:
    t.connect(a, b, rate_Bps=p.rate_Bps, latency_ps=p.latency_ps)


def _star_size(n: int) -> v.FabricSize:
    return v.FabricSize(n, n + 1, v.queue_pairs(1, n) + v.queue_pairs(n, 1))


def star(n: int, params: LinkParams) -> Topology:
    """``n`` endpoints ``h000..`` on one switch ``sw``: an ideal full-bisection fabric.

    ``params`` (:class:`LinkParams`) sets every link, switch and endpoint buffer, here and in the
    other builders of this module."""
    n = _size_arg(n, "n", 2, v.MAX_PORTS, _star_size)  # the hub has a port per endpoint
    params = _check_params(params)
    t = Topology()
    s = _switch(t, "sw", params)
    for i in range(n):
        _link(t, t.add_endpoint(f"h{i:03d}", buffer_bytes=params.endpoint_buffer_bytes), s, params)
    return t


def folded_clos(groups: int, hosts_per_group: int, spines_per_plane: int, params: LinkParams, *, planes: int = 1) -> Topology:
    """A two-tier folded Clos with independent planes.

    Each of ``groups`` groups has ``hosts_per_group`` endpoints (``g03/h05``) and, per plane, one
    leaf switch (``p2/leaf03``); every endpoint has one port to the leaf of each plane of its group
    (so ``planes`` ports), and every leaf one link to each of the ``spines_per_plane`` spines of its
    plane (``p2/spine07``). ``planes=1`` is the classic leaf-spine; CloudMatrix 384's UB fabric has
    this shape with 48 groups × 16 dies, 7 planes and 16 spines per plane. ``params`` sets every
    link's rate and latency and every switch's latency and buffers (:class:`LinkParams`).
    """
    # A spine has a port per group, a leaf one per host and per spine, an endpoint one per plane.
    groups = v.integer(groups, "groups", 1, v.MAX_PORTS, _PORTS_WHY.format(node="a spine", per="group"))
    hosts = v.integer(hosts_per_group, "hosts_per_group", 1, v.MAX_PORTS - 1,
                      _PORTS_WHY.format(node="a leaf", per="host and one per spine"))
    spines = v.integer(spines_per_plane, "spines_per_plane", 1)
    if hosts + spines > v.MAX_PORTS:
        raise ValueError(f"spines_per_plane: a leaf has hosts_per_group + spines_per_plane ports, at most {v.MAX_PORTS}; "
                         f"got {hosts} + {spines}")
    planes = v.integer(planes, "planes", 1, v.MAX_PORTS, _PORTS_WHY.format(node="an endpoint", per="plane"))
    params = _check_params(params)
    leaves = groups * planes
    _check_size(f"folded_clos({groups}, {hosts}, {spines}, planes={planes})",
                v.FabricSize(groups * hosts, groups * hosts + leaves + planes * spines,
                      v.queue_pairs(groups * hosts, planes) + v.queue_pairs(leaves, hosts + spines) + v.queue_pairs(planes * spines, groups)))
    t = Topology()
    endpoint = [[t.add_endpoint(f"g{g:02d}/h{h:02d}", buffer_bytes=params.endpoint_buffer_bytes) for h in range(hosts)] for g in range(groups)]
    for p in range(planes):
        spine = [_switch(t, f"p{p}/spine{s:02d}", params) for s in range(spines)]
        for g in range(groups):
            leaf = _switch(t, f"p{p}/leaf{g:02d}", params)
            for e in endpoint[g]:
                _link(t, e, leaf, params)
            for s in spine:
                _link(t, leaf, s, params)
    return t


def _ring_size(n: int) -> v.FabricSize:
    return v.FabricSize(n, 2 * n, v.queue_pairs(n, 3) + v.queue_pairs(n, 1))  # a switch: its endpoint and two neighbours


def ring(n: int, params: LinkParams) -> Topology:
    """``n`` switches in a ring, one endpoint on each (``h000`` on ``s000``); ``params``: every
    link and switch (:class:`LinkParams`)."""
    n = _size_arg(n, "n", 3, 1 << 16, _ring_size)
    params = _check_params(params)
    t = Topology()
    sw = [_switch(t, f"s{i:03d}", params) for i in range(n)]
    for i in range(n):
        _link(t, t.add_endpoint(f"h{i:03d}", buffer_bytes=params.endpoint_buffer_bytes), sw[i], params)
    for i in range(n):
        _link(t, sw[i], sw[(i + 1) % n], params)
    return t


def _full_mesh_size(n: int) -> v.FabricSize:
    return v.FabricSize(n, n, v.queue_pairs(n, n - 1))


def full_mesh(n: int, params: LinkParams) -> Topology:
    """``n`` endpoints with a direct link between every pair (no switches); ``params``: every link
    (:class:`LinkParams`)."""
    n = _size_arg(n, "n", 2, 1 << 12, _full_mesh_size)
    params = _check_params(params)
    t = Topology()
    eps = [t.add_endpoint(f"h{i:03d}", buffer_bytes=params.endpoint_buffer_bytes) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            _link(t, eps[i], eps[j], params)
    return t
