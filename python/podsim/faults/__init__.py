"""Failures: systems with failed links, transceivers, switch chips or trays; degradation curves;
failure rates and seeded failure draws over a job.

Two ways to fail things. Before the run, :func:`apply` rebuilds the fabric without the failed
elements (a *state*, used by :func:`degradation`). During the run, :func:`fail` and
:func:`repair` schedule changes at simulated times (``podsim.simulate(..., faults=[...])``): the
engine loses or replays the packets on a failing wire, reroutes, and counts lost, retransmitted
and replayed bytes in the ledger (:mod:`podsim.faults.timeline`). :class:`Schedule` (from
:func:`draw`) gives failure times over a job of hours; ``schedule.at(t)`` is the state at time
``t``, evaluated with :func:`apply`; :func:`job` does that for every state of many drawn jobs
(Monte Carlo) and :func:`job_summary` weights the results by time.

    import podsim
    from podsim import faults
    nv = podsim.system("gb300-nvl72")
    f = faults.apply(nv, [faults.tray(4)], policy="adaptive-bandwidth")
    res = podsim.simulate(f, podsim.workloads.all_to_all(f, bytes_per_pair=65536))
    plan = [faults.fail(faults.tray(4), at_ps=1_000_000), faults.repair(faults.tray(4), at_ps=50_000_000)]
    res = podsim.simulate(nv, podsim.workloads.all_to_all(nv, bytes_per_pair=65536), faults=plan)
    faults.failure_rates(podsim.system("cloudmatrix384"))     # expected failures per day, MTBF
"""

from __future__ import annotations

from podsim.faults.apply import ON_UNREACHABLE, POLICIES, FaultedSystem, Unreachable, apply
from podsim.faults.degradation import AllReduce, AllToAll, Given, degradation, summarize
from podsim.faults.elements import KINDS, Catalog, Element, direction, link, switch, transceiver, tray
from podsim.faults.job import job, job_summary
from podsim.faults.optics import NOT_PUBLISHED, optics
from podsim.faults.plot import plot
from podsim.faults.rates import Schedule, draw, failure_rates, job_risk
from podsim.faults.timeline import Change, channels_of, fail, repair

__all__ = [
    "KINDS",
    "NOT_PUBLISHED",
    "AllReduce",
    "AllToAll",
    "ON_UNREACHABLE",
    "POLICIES",
    "Catalog",
    "Change",
    "Element",
    "FaultedSystem",
    "Given",
    "Schedule",
    "Unreachable",
    "apply",
    "channels_of",
    "degradation",
    "direction",
    "draw",
    "fail",
    "failure_rates",
    "job",
    "job_risk",
    "job_summary",
    "link",
    "optics",
    "plot",
    "repair",
    "summarize",
    "switch",
    "transceiver",
    "tray",
]
