"""What a builder produces, and the small helpers every builder shares.

A builder turns a :class:`~podsim.systems.spec.SystemSpec` into a :class:`Fabric`: the engine
:class:`~podsim.topology.Topology` plus the labels the rest of the package needs (which endpoints
are compute ranks, which are CPUs, the role of every node, which link tiers are optical).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podsim._validate import FabricSize
from podsim.systems.quantity import Quantity, seconds_to_ps
from podsim.systems.spec import SystemSpec, rank_ports
from podsim.topology import Topology


@dataclass
class Fabric:
    """A built system fabric.

    Attributes:
        topology: the engine graph.
        ranks: endpoint node ids of the compute ranks (dies or GPUs), in rank order.
        rank_group: per rank, the index of its scale-up node / compute tray / board.
        cpus: endpoint node ids of CPUs attached to the scale-up fabric (may be empty).
        chips: number of compute packages.
        role: per node id, its role name (``"die"``, ``"gpu"``, ``"cpu"``, ``"l1"``, ``"l2"``, ``"switch"``).
        optical: link tier name (``"l1-l2"``) -> transceiver catalog name, for tiers built from optics.
    """

    topology: Topology = field(default_factory=Topology)
    ranks: list[int] = field(default_factory=list)
    rank_group: list[int] = field(default_factory=list)
    cpus: list[int] = field(default_factory=list)
    chips: int = 0
    role: list[str] = field(default_factory=list)
    optical: dict[str, str] = field(default_factory=dict)

    def endpoint(self, name: str, role: str, ports: int, chip: dict[str, Any]) -> int:
        """Add an endpoint of ``chip`` with ``ports`` fabric ports; returns its node id."""
        nid = self.topology.add_endpoint(name, max_ports=max(ports, 1), **endpoint_params(chip))
        self.role.append(role)
        return nid

    def switch(self, name: str, role: str, sw: dict[str, Any]) -> int:
        """Add a switch chip described by catalog table ``sw``; returns its node id."""
        nid = self.topology.add_switch(
            name,
            latency_ps=time_ps(sw["latency"]),
            buffer_bytes=int(sw["buffer_per_port"].si),
            cut_through=sw["cut_through"].si,
            max_ports=sw["ports"].value,
        )
        self.role.append(role)
        return nid

    def add_chip(self, prefix: str, spec: SystemSpec, group: int, die_latency: Quantity | None) -> list[int]:
        """Add one package of ``spec``'s compute chip; returns the node ids of its fabric
        endpoints (its ranks).

        A package whose dies are separate endpoints (``die_endpoints``) gets one endpoint per die,
        named ``prefix/dieK``, joined pairwise by the die-to-die link; otherwise one endpoint
        named ``prefix``.
        """
        chip = spec.chip
        if not chip["die_endpoints"]:
            nid = self.endpoint(prefix, rank_role(chip), rank_ports(chip), chip)
            self.ranks.append(nid)
            self.rank_group.append(group)
            return [nid]
        dies = chip["dies"].value
        if dies > 1 and die_latency is None:
            c = f"chips.{spec.chip_name}"
            raise spec.error(f"missing: {c} has {dies} endpoint dies (die_endpoints)", "topology.die_link.latency",
                             f"{c}.dies", f"{c}.die_endpoints")
        ids = [self.endpoint(f"{prefix}/die{d}", "die", rank_ports(chip), chip) for d in range(dies)]
        if die_latency is not None:  # else one die: no die-to-die link
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    self.topology.connect(a, b, rate_Bps=chip["die_to_die_rate_uni"].si, latency_ps=time_ps(die_latency, 1))
        self.ranks.extend(ids)
        self.rank_group.extend([group] * dies)
        return ids

    def rank_array(self) -> np.ndarray:
        """:attr:`ranks` as an int64 array."""
        return np.asarray(self.ranks, dtype=np.int64)


def endpoint_params(chip: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :meth:`podsim.Topology.add_endpoint` from a chip's ``endpoint`` table
    (integer picoseconds and counts, float rates)."""
    table = chip.get("endpoint", {})
    out: dict[str, Any] = {}
    for key, arg in (("issue_latency", "issue_latency_ps"), ("read_latency", "read_latency_ps"), ("write_latency", "write_latency_ps")):
        if key in table:
            out[arg] = time_ps(table[key])
    for key in ("max_outstanding_reads", "max_outstanding_writes"):
        if key in table:
            out[key] = table[key].value
    if "read_rate_uni" in table:
        out["read_rate_Bps"] = table["read_rate_uni"].si
    if "write_rate_uni" in table:
        at_initiator = table.get("write_limit_at", "target") == "initiator"
        out["write_issue_rate_Bps" if at_initiator else "write_rate_Bps"] = table["write_rate_uni"].si
    return out


def time_ps(q: Quantity, at_least: int = 0) -> int:
    """A time quantity in integer picoseconds, rounded to nearest and raised to ``at_least``.

    Links pass ``at_least=1``: the engine needs a non-zero latency on every channel so credits and
    acknowledgements always travel forward in time.
    """
    return max(seconds_to_ps(q.si), at_least)


def require_ports(spec: SystemSpec, switch: str, needed: int, *counts: str) -> None:
    """Raise when the wiring needs more ports on each switch of topology field ``switch``
    (``"l1_switch"``) than the chip has; ``counts``: the fields the need comes from."""
    name = spec.topology[switch]
    have = spec.switches[name]["ports"].value
    if needed > have:
        raise spec.error(
            f"the wiring needs {needed} ports on each {name!r} switch (from {', '.join(counts)}), "
            f"but switches.{name}.ports = {have}",
            f"switches.{name}.ports", *counts,
        )


def require_size(spec: SystemSpec, size: FabricSize, *counts: str) -> None:
    """Raise, before building, when the engine could not simulate a fabric of ``size``;
    ``counts``: the fields that make it that large."""
    problem = size.problem()
    if problem is not None:
        raise spec.error(f"the fabric is too large for the engine ({', '.join(counts)}): {problem}", *counts)


#: Order of roles in a link tier's name, endpoints first: "die-l1", "l1-l2", "gpu-switch".
ROLE_ORDER = ("die", "npu", "gpu", "cpu", "l1", "l2", "switch")


def tier_name(a: str, b: str) -> str:
    """Name of the link tier joining roles ``a`` and ``b`` (order-independent)."""
    x, y = sorted((a, b), key=ROLE_ORDER.index)
    return f"{x}-{y}"


def rank_role(chip: dict[str, Any]) -> str:
    """Role name of a chip's rank endpoints: ``"die"`` when dies are endpoints, else the chip kind."""
    return "die" if chip["die_endpoints"] else chip["kind"]


def width(n: int) -> int:
    """Digits needed to print indices 0..n-1 (names sort in numeric order)."""
    return len(str(max(n - 1, 0)))
