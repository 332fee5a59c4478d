"""Faults before the run: rebuild a system's fabric without its failed elements.

The engine computes its routes from the graph, so removing links is all it takes for traffic to
re-spread over the remaining minimal paths. What happens to the *ranks* is a policy, named after
practice (faults.md §4.4, §5.1):

* ``"re-spread"`` (default; CloudMatrix UB): every rank stays; traffic uses the surviving paths.
* ``"adaptive-bandwidth"`` (NVIDIA Adaptive Bandwidth Mode): every GPU stays, at the reduced
  bandwidth its surviving links give. In this model it is the same mechanism as ``re-spread``;
  the name records which operating mode a result stands for.
* ``"full-bandwidth"`` (NVIDIA Full Bandwidth Mode): a rank that lost any of its own links is
  *parked* (removed from :attr:`FaultedSystem.ranks`, so workloads built on the faulted system do
  not use it); the rest run at full per-rank bandwidth. Losing a switch chip takes a link from
  every GPU of an NVL72, so every GPU is parked: NVIDIA's UNHEALTHY partition.

Reachability is checked on the graph after parking. A rank cut off from the others is reported by
name, never left to the engine: ``on_unreachable="raise"`` (default) raises :class:`Unreachable`,
``"park"`` parks every rank outside the largest mutually reachable group, ``"keep"`` keeps them and
lists them in :attr:`FaultedSystem.cut_off` (a workload that needs them is then rejected by
:func:`podsim.simulate` with a ValueError naming the pair).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from podsim.faults.elements import Catalog, Element
from podsim.topology import Topology

#: Rank policies (see the module docs).
POLICIES = ("re-spread", "adaptive-bandwidth", "full-bandwidth")
#: What to do with ranks that cannot reach the others.
ON_UNREACHABLE = ("raise", "park", "keep")


class Unreachable(ValueError):
    """Some ranks cannot reach the others after the failures.

    Attributes:
        cut_off: node names of the ranks outside the largest mutually reachable group.
        example: one unreachable (source, destination) pair of node names.
    """

    def __init__(self, cut_off: list[str], example: tuple[str, str]) -> None:
        shown = ", ".join(repr(n) for n in cut_off[:8]) + (f" and {len(cut_off) - 8} more" if len(cut_off) > 8 else "")
        super().__init__(
            f"failures: {len(cut_off)} rank(s) cut off from the others: {shown}; e.g. {example[0]!r} cannot reach "
            f"{example[1]!r} (on_unreachable='park' excludes them)"
        )
        self.cut_off = cut_off
        self.example = example


class FaultedSystem:
    """A system with failed elements removed from its fabric, usable wherever a fabric is.

    ``podsim.simulate(faulted, workload)`` runs on the degraded graph and
    ``podsim.workloads.all_to_all(faulted, ...)`` uses only the ranks still in service; with
    ``memory=True`` those ranks are coupled to their HBM, and ``podsim.hbm.simulate_system``
    streams on them. The failure rates (``faults.failure_rates``) are those of the intact build:
    pass :attr:`base`.

    Attributes:
        base: the intact :class:`podsim.System`.
        name, title, spec: those of ``base``.
        failures: the failed elements, as given.
        policy: one of :data:`POLICIES`.
        topology: the rebuilt fabric (same node ids as ``base``; failed links absent).
        removed_links: first-channel ids (in ``base.topology``) of the links taken down, sorted.
        channel_map: per channel of ``base.topology``, its id in :attr:`topology` or -1 (removed).
        ranks: endpoint node ids of the ranks in service (``base.ranks`` minus :attr:`parked`).
        rank_group: their groups (nodes/trays), from ``base.rank_group``.
        cpus: CPUs that kept at least one link.
        parked: node ids of the ranks taken out of service by the policy or ``on_unreachable``.
        cut_off: node ids of ranks in service that cannot reach the rest (``on_unreachable="keep"``).
        rank_capacity: per rank of ``base.ranks``, surviving / original rate of its own links into
            the switch fabric (1.0 = untouched; NVL72 minus one tray: 16/18).
        rank_memory: ``base.rank_memory`` (failures take links and switches, not HBM).
    """

    def __init__(self, base: Any, failures: tuple[Element, ...], policy: str, on_unreachable: str,
                 catalog: Catalog) -> None:
        self.base = base
        self.name, self.title, self.spec = base.name, base.title, base.spec
        self.failures = failures
        self.policy = policy
        removed = np.unique(np.concatenate([catalog.resolve(e) for e in failures])) if failures else np.zeros(0, np.int64)
        self.removed_links = removed
        self.topology, self.channel_map = _rebuild(base.topology, removed)
        self.rank_capacity = _rank_capacity(base.topology, self.topology, base.ranks)
        in_service = np.ones(len(base.ranks), dtype=bool)
        if policy == "full-bandwidth":
            # Full Bandwidth Mode parks a GPU as soon as one of its links is gone (faults.md §4.4).
            in_service &= self.rank_capacity >= 1.0
        groups = _reach_groups(self.topology, base.ranks[in_service])
        lost = np.zeros(len(base.ranks), dtype=bool)
        lost[np.flatnonzero(in_service)[groups != 0]] = True
        self.cut_off = np.zeros(0, dtype=np.int64)
        if lost.any():
            names = self.topology.names
            cut = [names[r] for r in base.ranks[lost]]
            keep = base.ranks[in_service & ~lost]
            peer = _unreachable_peer(self.topology, int(base.ranks[lost][0]), np.concatenate([keep, base.ranks[lost]]))
            example = (cut[0], names[peer] if peer is not None else cut[-1])
            if on_unreachable == "raise":
                raise Unreachable(cut, example)
            if on_unreachable == "park":
                in_service &= ~lost
            else:
                self.cut_off = base.ranks[lost].astype(np.int64)
        self.ranks: np.ndarray = base.ranks[in_service]
        self.rank_group: np.ndarray = base.rank_group[in_service]
        self.parked: np.ndarray = base.ranks[~in_service]
        ch = self.topology.channels()
        attached = np.unique(ch.src)
        self.cpus: np.ndarray = base.cpus[np.isin(base.cpus, attached)]

    @property
    def health(self) -> str:
        """NVIDIA's partition-health words for the state (faults.md §4.4): ``"healthy"`` (nothing
        lost), ``"bandwidth"`` (links lost, every rank kept), ``"degraded"`` (some ranks parked),
        ``"unhealthy"`` (fewer than two ranks left)."""
        if len(self.ranks) < 2:
            return "unhealthy"
        if len(self.parked):
            return "degraded"
        return "bandwidth" if len(self.removed_links) else "healthy"

    @property
    def rank_memory(self) -> Any:
        """The intact system's per-rank HBM: failures take links and switches, not memory."""
        return self.base.rank_memory

    def run_defaults(self) -> dict[str, int]:
        """The intact system's run sizes (MTU, header, transaction bytes), so that a run on the
        faulted system differs from one on ``base`` only in its fabric."""
        return self.base.run_defaults()

    def roles(self) -> np.ndarray:
        """Role name of every node (as ``base.roles()``; node ids are unchanged)."""
        return self.base.roles()

    def __repr__(self) -> str:
        return (
            f"FaultedSystem({self.name!r}: {len(self.failures)} failed elements, {len(self.removed_links)} links down, "
            f"{len(self.ranks)}/{len(self.base.ranks)} ranks in service, policy={self.policy!r}, {self.health})"
        )


def apply(system: Any, failures: Iterable[Element], *, policy: str = "re-spread",
          on_unreachable: str = "raise", catalog: Catalog | None = None) -> FaultedSystem:
    """Build ``system`` with ``failures`` taken out, before the run.

    Args:
        system: a :class:`podsim.System`, or a :class:`FaultedSystem` (its failures are kept and
            ``failures`` added).
        failures: :class:`~podsim.faults.elements.Element` items (``faults.switch("nvswitch03")``,
            ``faults.transceiver("node00/l1sw0/xcvr3")``, ``faults.link(a, b)``, ``faults.tray(4)``).
        policy: one of :data:`POLICIES` (module docs).
        on_unreachable: ``"raise"``, ``"park"`` or ``"keep"`` (module docs).
        catalog: a :class:`Catalog` of ``system`` to reuse (building one takes ~0.5 s on
            CloudMatrix 384).

    Raises:
        Unreachable: (a ValueError) some ranks are cut off and ``on_unreachable="raise"``.
        ValueError: an element does not exist, or a bad ``policy``/``on_unreachable``.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy: must be one of {list(POLICIES)}, got {policy!r}")
    if on_unreachable not in ON_UNREACHABLE:
        raise ValueError(f"on_unreachable: must be one of {list(ON_UNREACHABLE)}, got {on_unreachable!r}")
    if isinstance(failures, Element) or isinstance(failures, str) or not isinstance(failures, Iterable):
        raise TypeError("failures: expected a list of podsim.faults.Element")
    items = tuple(failures)
    if isinstance(system, FaultedSystem):
        items = system.failures + items
        system = system.base
    if catalog is None:
        catalog = Catalog(system)
    return FaultedSystem(system, items, policy, on_unreachable, catalog)


def _rebuild(topo: Topology, removed: np.ndarray) -> tuple[Topology, np.ndarray]:
    """A copy of ``topo`` with the links whose first channel is in ``removed`` left out.

    The copy goes through the engine's own lossless text format (:meth:`Topology.save`): every
    node parameter, present and future, carries over without this module listing them, and rates
    stay exact. Node lines keep their order, so node ids, names and ranks are unchanged; the link
    lines (one per link, in channel order: link ``i`` is channels ``2i``, ``2i + 1``) of removed
    links are dropped, and the end record's link count lowered to match.
    """
    n_links = topo.num_channels // 2
    keep = np.ones(n_links, dtype=bool)
    keep[removed // 2] = False
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fabric.txt"
        topo.save(path)
        lines = path.read_text().splitlines(keepends=True)
        links = [i for i, line in enumerate(lines) if line.startswith("link ")]
        if len(links) != n_links:
            raise RuntimeError(f"topology file has {len(links)} link lines for {n_links} links")
        drop = {links[i] for i in np.flatnonzero(~keep).tolist()}
        end = f"end {topo.num_nodes} {int(keep.sum())}\n"
        path.write_text("".join(end if line.startswith("end ") else line for i, line in enumerate(lines) if i not in drop))
        out = Topology.load(path)
    mapping = np.full(topo.num_channels, -1, dtype=np.int64)
    new_link = np.cumsum(keep) - 1
    kept = np.flatnonzero(keep)
    mapping[2 * kept] = 2 * new_link[kept]
    mapping[2 * kept + 1] = 2 * new_link[kept] + 1
    return out, mapping


def _rank_capacity(before: Topology, after: Topology, ranks: np.ndarray) -> np.ndarray:
    """Per rank, the rate of its channels into switches after / before (1.0 when untouched)."""

    def up_rate(topo: Topology) -> np.ndarray:
        ch = topo.channels()
        is_ep = topo.is_endpoint()
        up = ~is_ep[ch.dst]
        return np.bincount(ch.src[up], weights=ch.rate_Bps[up], minlength=topo.num_nodes)[ranks]

    full = up_rate(before)
    return np.divide(up_rate(after), full, out=np.ones(len(ranks)), where=full > 0)


def _switch_components(topo: Topology) -> dict[int, set[int]]:
    """Per endpoint, the switch-only components it has a link into (each named by one switch).

    Endpoints do not forward (the engine's rule), so two ranks reach each other only through a
    switch component they both touch, or over a direct link between the two of them (a 910C's
    die-to-die link).
    """
    ch = topo.channels()
    is_ep = topo.is_endpoint()
    parent = np.arange(topo.num_nodes)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = int(parent[x])
        return int(x)

    both_sw = ~is_ep[ch.src] & ~is_ep[ch.dst]
    for s, d in zip(ch.src[both_sw].tolist(), ch.dst[both_sw].tolist()):
        parent[root(s)] = root(d)
    up = is_ep[ch.src] & ~is_ep[ch.dst]
    touched: dict[int, set[int]] = {}
    for s, d in zip(ch.src[up].tolist(), ch.dst[up].tolist()):
        touched.setdefault(s, set()).add(root(d))
    return touched


def _reach_groups(topo: Topology, ranks: np.ndarray) -> np.ndarray:
    """Per rank, 0 if it touches the switch component that the most ranks touch, else 1.

    The ranks on the main component all reach one another (see :func:`_switch_components`); any
    other rank cannot reach them all, so it is the one reported.
    """
    touched = _switch_components(topo)
    votes: dict[int, int] = {}
    for r in ranks.tolist():
        for c in touched.get(r, ()):
            votes[c] = votes.get(c, 0) + 1
    if not votes:
        return np.ones(len(ranks), dtype=np.int64)
    main = max(votes, key=lambda c: votes[c])
    return np.array([0 if main in touched.get(r, ()) else 1 for r in ranks.tolist()], dtype=np.int64)


def _unreachable_peer(topo: Topology, src: int, peers: np.ndarray) -> int | None:
    """The first of ``peers`` that ``src`` cannot reach: no switch component in common and no
    direct link between them (:func:`_switch_components`)."""
    touched = _switch_components(topo)
    ch = topo.channels()
    direct = set(ch.dst[ch.src == src].tolist())
    mine = touched.get(src, set())
    for p in peers.tolist():
        if p != src and p not in direct and not (mine & touched.get(p, set())):
            return int(p)
    return None
