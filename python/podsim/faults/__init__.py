"""Failures: systems with failed links, transceivers, switch chips or trays; degradation curves;
failure rates and seeded failure draws over a job.

The engine has no mid-run fault model yet, so every evaluation here is of a *state*: a fabric with
some elements failed before the run starts. :class:`Schedule` (from :func:`draw`) gives the failure
times of a job; ``schedule.at(t)`` is the state at time ``t``, evaluated with :func:`apply`.

    import podsim
    from podsim import faults
    nv = podsim.system("gb300-nvl72")
    f = faults.apply(nv, [faults.tray(4)], policy="adaptive-bandwidth")
    res = podsim.simulate(f, podsim.workloads.all_to_all(f, bytes_per_pair=65536))
    faults.failure_rates(podsim.system("cloudmatrix384"))     # expected failures per day, MTBF
"""

from __future__ import annotations

from podsim.faults.apply import ON_UNREACHABLE, POLICIES, FaultedSystem, Unreachable, apply
from podsim.faults.degradation import AllReduce, AllToAll, degradation, summarize
from podsim.faults.elements import KINDS, Catalog, Element, direction, link, switch, transceiver, tray
from podsim.faults.optics import NOT_PUBLISHED, optics
from podsim.faults.plot import plot
from podsim.faults.rates import Schedule, draw, failure_rates, job_risk

__all__ = [
    "KINDS",
    "NOT_PUBLISHED",
    "AllReduce",
    "AllToAll",
    "ON_UNREACHABLE",
    "POLICIES",
    "Catalog",
    "Element",
    "FaultedSystem",
    "Schedule",
    "Unreachable",
    "apply",
    "degradation",
    "direction",
    "draw",
    "failure_rates",
    "job_risk",
    "link",
    "optics",
    "plot",
    "summarize",
    "switch",
    "transceiver",
    "tray",
]
