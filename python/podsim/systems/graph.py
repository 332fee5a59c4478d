"""Facts computed from a built topology graph: minimal paths, hop counts, bisection, reachability.

Everything here reads only ``Topology.channels()`` and the endpoint/switch flags, never the spec
counts, so a test comparing these numbers to the spec arithmetic checks the builder's wiring. Paths
follow the engine's rule: endpoints never forward, so a path is source, switches..., destination
(or a direct endpoint-endpoint link, used only between those two endpoints). Paths are counted as
distinct channel sequences, so two parallel links make two paths.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from podsim.topology import Topology

#: Sources handled together by the vectorized breadth-first search (bounds memory: batch x channels).
_BATCH = 64


@dataclass(frozen=True)
class Paths:
    """Minimal routes from several sources to every node.

    Attributes:
        sources: node ids of the sources (one row each).
        channels: channels on a minimal path (``-1`` where unreachable), shape (sources, nodes).
        count: number of distinct minimal paths (channel sequences), shape (sources, nodes).
    """

    sources: np.ndarray
    channels: np.ndarray
    count: np.ndarray


def minimal_paths(topology: Topology, sources: Sequence[int] | np.ndarray) -> Paths:
    """Breadth-first search from each source in which only switches (and the source) forward.

    Path counts are exact integers (int64): at every level a node's count is the sum of the counts
    of its predecessors on the previous level.
    """
    src_nodes = np.asarray(sources, dtype=np.int64)
    ch = topology.channels()
    n = topology.num_nodes
    forwards = ~topology.is_endpoint()
    # Channels grouped by destination so the per-level sums are one reduceat, not a Python loop.
    order = np.argsort(ch.dst, kind="stable")
    c_src, c_dst = ch.src[order].astype(np.int64), ch.dst[order].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, c_dst[1:] != c_dst[:-1]])
    targets = c_dst[starts]
    dist_out = np.full((len(src_nodes), n), -1, dtype=np.int64)
    count_out = np.zeros((len(src_nodes), n), dtype=np.int64)
    for lo in range(0, len(src_nodes), _BATCH):
        batch = src_nodes[lo : lo + _BATCH]
        rows = np.arange(len(batch))
        dist = np.full((len(batch), n), -1, dtype=np.int64)
        count = np.zeros((len(batch), n), dtype=np.int64)
        dist[rows, batch] = 0
        count[rows, batch] = 1
        fwd = np.broadcast_to(forwards, (len(batch), n)).copy()
        fwd[rows, batch] = True
        level = 0
        while True:
            frontier = (dist == level) & fwd
            if not frontier.any():
                break
            contrib = np.where(frontier[:, c_src], count[:, c_src], 0)
            summed = np.add.reduceat(contrib, starts, axis=1)
            fresh = (summed > 0) & (dist[:, targets] == -1)
            r, k = np.nonzero(fresh)
            dist[r, targets[k]] = level + 1
            count[r, targets[k]] = summed[r, k]
            level += 1
        dist_out[lo : lo + len(batch)] = dist
        count_out[lo : lo + len(batch)] = count
    return Paths(src_nodes, dist_out, count_out)


def path_count(topology: Topology, a: int, b: int) -> tuple[int, int]:
    """(channels on a minimal path, number of minimal paths) from node ``a`` to node ``b``."""
    p = minimal_paths(topology, [a])
    return int(p.channels[0, b]), int(p.count[0, b])


def hop_histogram(topology: Topology, ranks: np.ndarray) -> dict[int, int]:
    """Switch hops (channels - 1) of the minimal path, counted over all ordered pairs of ``ranks``.

    Raises:
        ValueError: when some rank cannot reach another.
    """
    p = minimal_paths(topology, ranks)
    hops = p.channels[:, ranks]
    off_diag = ~np.eye(len(ranks), dtype=bool)
    if (hops[off_diag] < 0).any():
        i, j = np.argwhere((hops < 0) & off_diag)[0]
        raise ValueError(f"ranks: {topology.names[ranks[i]]!r} cannot reach {topology.names[ranks[j]]!r}")
    values, counts = np.unique(hops[off_diag] - 1, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def unreachable(topology: Topology) -> tuple[int, int] | None:
    """The first pair of endpoints (a, b) with no route from a to b, or None if all pairs connect.

    Endpoints do not forward, so every endpoint must touch a switch and all those switches must
    lie in one connected component of the switch-only graph (a direct endpoint link serves only
    its own two endpoints).
    """
    ch = topology.channels()
    is_ep = topology.is_endpoint()
    eps = topology.endpoints
    if len(eps) < 2:
        return None
    parent = np.arange(topology.num_nodes)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return int(x)

    for s, d in zip(ch.src, ch.dst):
        if not is_ep[s] and not is_ep[d]:
            parent[root(int(s))] = root(int(d))
    touching: dict[int, int] = {}  # endpoint -> switch component
    for s, d in zip(ch.src, ch.dst):
        if is_ep[s] and not is_ep[d]:
            touching.setdefault(int(s), root(int(d)))
    lonely = [int(e) for e in eps if int(e) not in touching]
    if lonely:
        a = lonely[0]
        direct = set(ch.dst[ch.src == a].tolist()) | {a}
        return a, next(int(e) for e in eps if int(e) not in direct)
    first = int(eps[0])
    for e in eps[1:]:
        if touching[int(e)] != touching[first]:
            return first, int(e)
    return None


def max_flow(topology: Topology, sources: Sequence[int], sinks: Sequence[int]) -> float:
    """Largest total rate (B/s, uni) that ``sources`` can push to ``sinks`` at once over the links.

    Dinic's algorithm on the channel graph with a super-source and super-sink. Endpoints do not
    forward: channels out of an endpoint are kept only for sources, channels into one only for
    sinks (dropping the others cannot lower the flow, since sources have unlimited supply and
    sinks unlimited demand).
    """
    ch = topology.channels()
    is_ep = topology.is_endpoint()
    src_set, dst_set = set(map(int, sources)), set(map(int, sinks))
    if src_set & dst_set:
        raise ValueError(f"sinks: must not overlap sources, shared node ids {sorted(src_set & dst_set)[:5]}")
    n = topology.num_nodes
    s_node, t_node = n, n + 1
    head: list[int] = []
    cap: list[float] = []
    adj: list[list[int]] = [[] for _ in range(n + 2)]

    def edge(u: int, v: int, c: float) -> None:
        adj[u].append(len(head))
        head.append(v)
        cap.append(c)
        adj[v].append(len(head))
        head.append(u)
        cap.append(0.0)

    for u, v, r in zip(ch.src.tolist(), ch.dst.tolist(), ch.rate_Bps.tolist()):
        if (is_ep[u] and u not in src_set) or (is_ep[v] and v not in dst_set):
            continue
        edge(u, v, r)
    for u in src_set:
        edge(s_node, u, math.inf)
    for v in dst_set:
        edge(v, t_node, math.inf)

    # Rates are ~1e10-1e12 B/s: treat residuals below 1e-6 B/s as zero so float noise cannot loop.
    eps = 1e-6
    flow = 0.0
    while True:
        level = [-1] * (n + 2)
        level[s_node] = 0
        queue = deque([s_node])
        while queue:
            u = queue.popleft()
            for e in adj[u]:
                if cap[e] > eps and level[head[e]] < 0:
                    level[head[e]] = level[u] + 1
                    queue.append(head[e])
        if level[t_node] < 0:
            return flow
        it = [0] * (n + 2)
        while True:
            pushed = _augment(s_node, t_node, adj, head, cap, level, it, eps)
            if pushed <= eps:
                break
            flow += pushed


def _augment(s: int, t: int, adj: list[list[int]], head: list[int], cap: list[float],
             level: list[int], it: list[int], eps: float) -> float:
    """One augmenting path of the level graph (iterative DFS with current-arc pointers)."""
    path: list[int] = []
    u = s
    while True:
        if u == t:
            amount = min(cap[e] for e in path)
            for e in path:
                cap[e] -= amount
                cap[e ^ 1] += amount
            return amount
        advanced = False
        while it[u] < len(adj[u]):
            e = adj[u][it[u]]
            v = head[e]
            if cap[e] > eps and level[v] == level[u] + 1:
                path.append(e)
                u = v
                advanced = True
                break
            it[u] += 1
        if not advanced:
            if u == s:
                return 0.0
            level[u] = -1  # dead end: prune it from this phase
            e = path.pop()
            u = head[e ^ 1]
            it[u] += 1


def bisection_bandwidth(topology: Topology, ranks: np.ndarray) -> float:
    """Max-flow rate (B/s, uni) from the first half of ``ranks`` to the second half.

    Ranks come in scale-up-node order, so the halves keep nodes and trays whole. This is the
    bandwidth across that one cut, not the minimum over every possible bisection.
    """
    half = len(ranks) // 2
    if half == 0:
        raise ValueError(f"ranks: need at least 2 ranks for a bisection, got {len(ranks)}")
    return max_flow(topology, ranks[:half].tolist(), ranks[half:].tolist())
