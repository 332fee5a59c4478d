"""Shipped and user-defined scale-up systems: sourced spec files -> fabric graph -> figures.

``podsim.system("cloudmatrix384")`` reads ``specs/systems/cloudmatrix384.toml`` and the component
catalog, validates every value (unit, source key, evidence tag), builds the fabric and returns a
:class:`System` with ``topology``, ``ranks``, ``rank_group``, ``cpus``, ``inventory()`` and
``peak()``. :func:`compare` puts systems side by side.
"""

from __future__ import annotations

from podsim.systems.compare import Comparison, compare
from podsim.systems.graph import bisection_bandwidth, hop_histogram, minimal_paths, path_count
from podsim.systems.inventory import Inventory
from podsim.systems.memory import RankMemory
from podsim.systems.peak import Peak
from podsim.systems.quantity import Quantity, SpecError
from podsim.systems.spec import SystemSpec, list_systems, load_spec, quantities
from podsim.systems.system import System, system

__all__ = [
    "Comparison",
    "Inventory",
    "Peak",
    "Quantity",
    "RankMemory",
    "SpecError",
    "System",
    "SystemSpec",
    "bisection_bandwidth",
    "compare",
    "hop_histogram",
    "list_systems",
    "load_spec",
    "minimal_paths",
    "path_count",
    "quantities",
    "system",
]
