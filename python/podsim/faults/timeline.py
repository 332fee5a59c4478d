"""Faults during a run: elements that fail and are repaired at given simulated times.

A schedule is a list of changes, given to :func:`podsim.simulate` (``faults=``) or to
:meth:`podsim.Simulation.schedule`::

    from podsim import faults
    cm = podsim.system("cloudmatrix384")
    wl = podsim.workloads.all_to_all(cm.ranks[cm.rank_group < 8], 64 << 10)   # the first 8 nodes
    plan = [faults.fail(faults.switch("plane0/l2sw03"), at_ps=2_000_000),
            faults.repair(faults.switch("plane0/l2sw03"), at_ps=40_000_000)]
    res = podsim.simulate(cm, wl, faults=plan, recovery="replay")
    res.ledger.to_pandas()[["lost_packets", "retransmitted_packets", "replayed_packets"]].sum()

In the engine a failure is per channel: the packets on its wire are lost (retransmitted end to
end) or replayed by link-level retry, packets queued for it are rerouted, and minimal paths are
recomputed over the channels still up. Unlike :func:`podsim.faults.apply` (a fabric rebuilt
without the failed elements before the run), a ``"direction"`` fault here takes down that one
direction only.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from podsim import _validate as v
from podsim.faults.elements import Catalog, Element


@dataclass(frozen=True)
class Change:
    """One change of a run's fault state: ``target`` fails (``up=False``) or is repaired
    (``up=True``) at simulated time ``at_ps``.

    ``target`` is an :class:`Element` of the system, or a channel id (one direction).
    """

    target: Element | int
    at_ps: int
    up: bool

    def __post_init__(self) -> None:
        if not isinstance(self.target, Element):
            v.integer(self.target, "target", 0, 2**32 - 1)
        v.integer(self.at_ps, "at_ps", 0, 1 << 62)


def fail(target: Element | int, at_ps: int = 0) -> Change:
    """``target`` goes down at ``at_ps`` (0: from the start of the run)."""
    return Change(target, at_ps, up=False)


def repair(target: Element | int, at_ps: int) -> Change:
    """``target`` comes back at ``at_ps``."""
    return Change(target, at_ps, up=True)


def channels_of(fabric: Any, target: Element | int) -> np.ndarray:
    """Channel ids of ``fabric``'s topology that ``target`` takes down.

    An integer is a channel id. An :class:`Element` needs a system (``podsim.system(...)`` or a
    :class:`podsim.faults.FaultedSystem`, whose elements are named as in its base system).

    Raises:
        TypeError: an Element on a bare Topology.
        ValueError: naming the element when the system has no such element, or when a
            FaultedSystem already lost all of it before the run. Of an element it lost in part
            (a switch one of whose links was failed), the channels still there are returned.
    """
    if not isinstance(target, Element):
        topology = getattr(fabric, "topology", fabric)
        return np.array([v.integer(target, "channel", 0, topology.num_channels - 1)], dtype=np.int64)
    base = getattr(fabric, "base", None)
    system = fabric if base is None else base
    if not hasattr(system, "spec"):
        raise TypeError(f"faults: {target} names an element of a system; on a bare Topology give channel ids")
    channels = _catalog(system).channels(target)
    if base is None:
        return channels
    mapped = np.asarray(fabric.channel_map)[channels]
    if np.all(mapped < 0):
        raise ValueError(f"faults: {target} already failed before the run (it is not in this FaultedSystem)")
    return mapped[mapped >= 0].astype(np.int64)


#: One catalog per live system object: building one walks every link of the system.
_CATALOGS: weakref.WeakKeyDictionary[Any, Catalog] = weakref.WeakKeyDictionary()


def _catalog(system: Any) -> Catalog:
    catalog = _CATALOGS.get(system)
    if catalog is None:
        catalog = _CATALOGS[system] = Catalog(system)
    return catalog
