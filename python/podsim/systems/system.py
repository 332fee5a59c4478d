"""The :class:`System`: a spec, the fabric built from it, and what can be computed about it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from podsim.systems import clos, graph, single_tier
from podsim.systems import inventory as _inventory
from podsim.systems import peak as _peak
from podsim.systems.fabric import Fabric
from podsim.systems.memory import RankMemory, rank_memory
from podsim.systems.quantity import seconds_to_ps
from podsim.systems.spec import SystemSpec, load_spec
from podsim.topology import Topology

_BUILDERS: dict[str, Callable[[SystemSpec], Fabric]] = {
    "two-tier-clos": clos.build,
    "single-tier": single_tier.build,
}


class System:
    """A scale-up system built from a spec: its fabric graph, ranks, inventory and peak figures.

    Pass it anywhere a fabric is expected (``podsim.simulate(system, messages)``).

    Attributes:
        name: system name (``"cloudmatrix384"``).
        title: human-readable title.
        spec: the validated :class:`~podsim.systems.spec.SystemSpec` (sourced values).
        topology: the engine graph (:class:`podsim.Topology`).
        ranks: endpoint node ids of the compute ranks in rank order (dies on CloudMatrix, GPUs on
            NVL72/HGX); int64 array.
        rank_group: per rank, the index of its scale-up node / compute tray / board; int64 array.
        cpus: endpoint node ids of the CPUs on the scale-up fabric (may be empty); int64 array.
    """

    def __init__(self, spec: SystemSpec) -> None:
        if not isinstance(spec, SystemSpec):
            raise TypeError(f"spec: expected a SystemSpec, got {type(spec).__name__}")
        fab = _BUILDERS[spec.builder](spec)
        bad = graph.unreachable(fab.topology)
        if bad is not None:
            a, b = (fab.topology.names[i] for i in bad)
            field, value = _blame(spec, fab.role[bad[0]])
            raise spec.error(f"value {value}: endpoint {a!r} cannot reach {b!r} (no route through the switches)", field)
        self.spec = spec
        self.name = spec.name
        self.title = spec.title
        self._fabric = fab
        self.topology: Topology = fab.topology
        self.ranks: np.ndarray = fab.rank_array()
        self.rank_group: np.ndarray = np.asarray(fab.rank_group, dtype=np.int64)
        self.cpus: np.ndarray = np.asarray(fab.cpus, dtype=np.int64)
        self._inventory = _inventory.count(spec, fab)
        self._memory = rank_memory(spec)

    def run_defaults(self) -> dict[str, int]:
        """Packet and transaction sizes and fault-recovery times from the spec's ``[transport]``
        table, as keyword arguments of :func:`podsim.simulate` (``mtu``, ``header_bytes``,
        ``ack_bytes``, ``request_bytes``, ``txn_bytes``, ``retransmit_timeout_ps``,
        ``replay_ps``); a run uses them for every one it is not given."""
        sizes = {"mtu": "mtu", "header": "header_bytes", "ack": "ack_bytes", "request": "request_bytes", "txn": "txn_bytes"}
        times = {"retransmit_timeout": "retransmit_timeout_ps", "replay": "replay_ps"}
        t = self.spec.transport
        out = {arg: int(t[key].si) for key, arg in sizes.items() if key in t}
        out.update({arg: seconds_to_ps(t[key].si) for key, arg in times.items() if key in t})
        return out

    def inventory(self) -> _inventory.Inventory:
        """Counts of chips, dies, CPUs, switch chips and links per tier, optical modules, racks."""
        return self._inventory

    def peak(self) -> _peak.Peak:
        """Peak compute, HBM, scale-up/out bandwidth, optics and power, from counts x rates.

        Scale-up bandwidth is counted the way the CloudMatrix paper, SemiAnalysis and NVIDIA count
        it: the rates of the compute ranks' own links into the switch fabric, summed over ranks
        (per-NPU UB ports x port rate x NPUs; 18 NVLinks x 50 GB/s x GPUs), ``uni`` one direction,
        ``bidi`` = 2 x uni. CPU links, the 910C die-to-die link and switch-to-switch links are not
        counted. Details: :mod:`podsim.systems.peak`.
        """
        return _peak.compute(self.spec, self._fabric, self._inventory)

    @property
    def rank_memory(self) -> RankMemory:
        """HBM owned by each rank (910C die: 4 of the package's 8 stacks; a GPU: all of them)."""
        return self._memory

    def path_count(self, a: int | str, b: int | str) -> tuple[int, int]:
        """(channels on a minimal path, number of distinct minimal paths) from ``a`` to ``b``.

        ``a``/``b`` are node ids or names (``"node00/npu0/die0"``); counted on the built graph.
        """
        return graph.path_count(self.topology, self._node(a, "a"), self._node(b, "b"))

    def hop_histogram(self) -> dict[int, int]:
        """{switches crossed: ordered rank pairs} over all pairs of ranks, from the built graph."""
        return graph.hop_histogram(self.topology, self.ranks)

    def bisection_bandwidth_uni(self) -> float:
        """Max-flow rate, B/s one direction, from the first half of the ranks to the second half
        (ranks are in node order, so whole nodes/trays sit on each side)."""
        return graph.bisection_bandwidth(self.topology, self.ranks)

    def _node(self, node: int | str, field: str) -> int:
        if isinstance(node, str):
            return self.topology.id_of(node)
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)):
            raise TypeError(f"{field}: expected a node id or name, got {type(node).__name__}")
        if not 0 <= int(node) < self.topology.num_nodes:
            raise ValueError(f"{field}: node id must be in [0, {self.topology.num_nodes - 1}], got {node}")
        return int(node)

    def roles(self) -> np.ndarray:
        """Role name of every node, indexed by node id (``"die"``, ``"gpu"``, ``"cpu"``, ``"l1"``, ...)."""
        return np.asarray(self._fabric.role)

    def __repr__(self) -> str:
        inv = self._inventory
        return f"System({self.name!r}: {inv.chips} chips, {inv.ranks} ranks, {inv.switch_chips} switch chips)"


def _blame(spec: SystemSpec, role: str) -> tuple[str, Any]:
    """The spec field that gives endpoints of ``role`` their links, and its value."""
    if role == "cpu":
        return "topology.cpu_link.links_per_l1", spec.topology["cpu_link"]["links_per_l1"].value
    if "link_split" in spec.topology:
        return "topology.link_split", list(spec.topology["link_split"].value)
    return f"chips.{spec.chip_name}.scale_up_links", spec.chip["scale_up_links"].value


def system(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> System:
    """Build a shipped system by name, or a user's system from a ``.toml`` spec file.

    Args:
        name_or_path: one of :func:`list_systems` (``"cloudmatrix384"``, ``"gb300-nvl72"``, ...) or
            a path to a spec file (which may ``extends`` a shipped system and define its own
            ``[chips.*]``, ``[links.*]``, ``[transceivers.*]``, ``[switches.*]``).
        overrides: ``{"dotted.field": value}``, value in the field's own unit; e.g.
            ``{"chip.compute.bf16_dense": 752}`` (TFLOPS; 752 and 800 are listed alternatives and
            keep their source), ``{"switches.ub-l1.latency": 200}`` (ns),
            ``{"topology.cpu_link.links_per_l1": 2}``.

    Raises:
        ValueError: the spec is invalid; the message names the file, the field and the value.
    """
    if not isinstance(name_or_path, (str, Path)):
        raise TypeError(f"name_or_path: expected a system name or a path, got {type(name_or_path).__name__}")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError(f"overrides: expected a mapping of dotted field paths to values, got {type(overrides).__name__}")
    return System(load_spec(name_or_path, overrides))
