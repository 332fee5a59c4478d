"""Counting what a built system contains: chips, dies, CPUs, switch chips, links, optics, racks.

Switch and link counts come from the built graph (node roles and channels), not from the spec's
counts, so they double as a check of the builder. Optical modules are derived from the optical
link tiers: each end of a link needs module capacity, and one module carries
``electrical_lanes x lane_rate_uni`` worth of links (hardware.md §1.6: a 400G module's four electrical
lanes carry exactly two 224 Gb/s UB links).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podsim.systems.fabric import Fabric, tier_name
from podsim.systems.spec import SystemSpec

#: Relative slack when dividing rates, so 56e9 / 28e9 counts as exactly 2 links per module.
_RATE_SLACK = 1e-9


@dataclass(frozen=True)
class Inventory:
    """Component counts of one system.

    Attributes:
        chips: compute packages (NPUs, GPUs).
        dies: physical compute dies in them.
        ranks: fabric endpoints that compute (dies on CloudMatrix, GPUs elsewhere).
        cpus: CPUs on the scale-up fabric.
        switches: switch chips per tier role (``{"l1": ..., "l2": ...}`` or ``{"switch": ...}``).
        links: bidirectional links per tier (``"die-l1"``, ``"l1-l2"``, ``"cpu-l1"``, ``"die-die"``, ``"gpu-switch"``).
        transceivers_scale_up: optical modules on the scale-up fabric (0 when it is all electrical).
        transceivers_scale_out: optical modules of the scale-out network, None when the spec has no figure.
        racks: racks (compute + network), None when the spec has no figure.
    """

    chips: int
    dies: int
    ranks: int
    cpus: int
    switches: dict[str, int] = field(default_factory=dict)
    links: dict[str, int] = field(default_factory=dict)
    transceivers_scale_up: int = 0
    transceivers_scale_out: int | None = None
    racks: int | None = None

    @property
    def transceivers(self) -> int | None:
        """All optical modules (scale-up + scale-out); None when the scale-out count is unknown."""
        if self.transceivers_scale_out is None:
            return None
        return self.transceivers_scale_up + self.transceivers_scale_out

    @property
    def switch_chips(self) -> int:
        """Switch chips over all tiers."""
        return sum(self.switches.values())

    def to_dict(self) -> dict[str, Any]:
        """Flat dict, one entry per count (``switches.l1``, ``links.l1-l2``, ...)."""
        out: dict[str, Any] = {"chips": self.chips, "dies": self.dies, "ranks": self.ranks, "cpus": self.cpus}
        out.update({f"switches.{k}": v for k, v in self.switches.items()})
        out.update({f"links.{k}": v for k, v in self.links.items()})
        out.update(
            transceivers_scale_up=self.transceivers_scale_up,
            transceivers_scale_out=self.transceivers_scale_out,
            transceivers=self.transceivers,
            racks=self.racks,
        )
        return out


def modules_per_end(links: int, rate_Bps: float, module: dict[str, Any]) -> int:
    """Optical modules needed at one end of ``links`` links of ``rate_Bps`` (uni) each."""
    capacity = module["electrical_lanes"].value * module["lane_rate_uni"].si
    if rate_Bps <= capacity * (1 + _RATE_SLACK):
        per_module = math.floor(capacity / rate_Bps * (1 + _RATE_SLACK))
        return math.ceil(links / per_module)
    # A link faster than one module spans several modules.
    return links * math.ceil(rate_Bps / capacity * (1 - _RATE_SLACK))


def optical_modules(spec: SystemSpec, fab: Fabric) -> dict[str, int]:
    """Optical modules per optical link tier (both ends of every link), ``{"l1-l2": ...}``."""
    role = np.asarray(fab.role)
    ch = fab.topology.channels()
    first = ch.reverse > np.arange(len(ch))
    tier_arr = np.asarray([tier_name(a, b) for a, b in zip(role[ch.src[first]], role[ch.dst[first]])])
    rates = ch.rate_Bps[first]
    out: dict[str, int] = {}
    for tier, module_name in fab.optical.items():
        module = spec.transceivers[module_name]
        out[tier] = 0
        for rate in np.unique(rates[tier_arr == tier]):
            n = int(np.count_nonzero((tier_arr == tier) & (rates == rate)))
            out[tier] += 2 * modules_per_end(n, float(rate), module)
    return out


def count(spec: SystemSpec, fab: Fabric) -> Inventory:
    """Count the components of a built system."""
    topo = fab.topology
    role = np.asarray(fab.role)
    is_ep = topo.is_endpoint()
    switches = Counter(role[~is_ep].tolist())
    ch = topo.channels()
    first = ch.reverse > np.arange(len(ch))  # one channel per link
    links = Counter(tier_name(a, b) for a, b in zip(role[ch.src[first]], role[ch.dst[first]]))
    optical = sum(optical_modules(spec, fab).values())
    per_chip = spec.scale_out.get("transceivers_per_chip")
    racks = None
    if spec.racks:
        racks = spec.racks["compute"].value + (spec.racks["network"].value if "network" in spec.racks else 0)
    return Inventory(
        chips=fab.chips,
        dies=fab.chips * spec.chip["dies"].value,
        ranks=len(fab.ranks),
        cpus=len(fab.cpus),
        switches=dict(sorted(switches.items())),
        links=dict(sorted(links.items())),
        transceivers_scale_up=optical,
        transceivers_scale_out=None if per_chip is None else fab.chips * per_chip.value,
        racks=racks,
    )
