"""Monte-Carlo over jobs: what a workload delivers through the failures a job of hours meets.

Each sample draws the failure (and repair) times of one job (:func:`podsim.faults.draw`). The job
passes through a sequence of fabric states, constant between two changes; each distinct state is
evaluated once with a packet-level run on the fabric rebuilt without its failed elements
(:func:`podsim.faults.apply`). Failures are hours apart and a run lasts microseconds, so states are
evaluated one by one rather than in one run; what a failure costs *while* a collective runs is
:func:`podsim.faults.fail` (:mod:`podsim.faults.timeline`).

    rows = faults.job(cm, faults.AllToAll(64 << 10, groups=8), duration_h=168, samples=20, seed=1)
    faults.job_summary(rows)      # per sample: time-weighted busbw, worst state, hours degraded
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from podsim import _validate as v
from podsim.faults.apply import POLICIES
from podsim.faults.degradation import WorkloadFn, evaluate_state, resolve
from podsim.faults.elements import Catalog, Element
from podsim.faults.rates import draw
from podsim.systems.system import System
from podsim.workloads.workload import Workload


def job(
    system: System | str,
    workload: WorkloadFn | Workload,
    duration_h: float,
    *,
    samples: int = 8,
    seed: int = 0,
    shape: float = 1.0,
    age_h: float = 0.0,
    repair_h: float | None = None,
    policy: str = "re-spread",
    routing: str = "adaptive",
) -> pd.DataFrame:
    """Draw ``samples`` jobs of ``duration_h`` hours and evaluate every fabric state each meets.

    Args:
        system: a :class:`podsim.System` or a shipped system's name.
        workload: as in :func:`podsim.faults.degradation` (a factory such as ``AllToAll(...)``, or
            a workload built on the intact system).
        duration_h: job length, hours.
        samples: number of jobs drawn; sample ``i`` uses seed ``[seed, i]``.
        shape, age_h, repair_h: failure-time model, as in :func:`podsim.faults.draw`.
        policy: one of :data:`podsim.faults.POLICIES`.
        routing: the engine's routing policy.

    Returns:
        One row per (sample, state interval): ``sample``, ``start_h``, ``end_h``, ``k`` (elements
        down), ``failed`` (``;``-separated ``kind:name``), and the result columns of
        :func:`podsim.faults.degradation` (``status``: ``ok``, ``unreachable`` or ``unhealthy``;
        ``ranks``, ``parked``, ``cut_off``, ``time_s``, ``algbw_Bps``, ``busbw_Bps``,
        ``min_rank_capacity``). States repeated across intervals or
        samples are simulated once.
    """
    system, workload = resolve(system, workload)
    v.choice(policy, "policy", POLICIES)
    samples = v.integer(samples, "samples", 1)
    seed = v.integer(seed, "seed")
    catalog = Catalog(system)
    evaluated: dict[tuple[Element, ...], dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for i in range(samples):
        sched = draw(system, duration_h, seed=np.random.SeedSequence([seed, i]), shape=shape, age_h=age_h,
                     repair_h=repair_h, catalog=catalog)
        t = sched.events["time_h"].to_numpy()
        changes = np.concatenate([t, t + repair_h]) if repair_h is not None else t
        edges = np.unique(np.concatenate([[0.0, duration_h], changes[changes < duration_h]]))
        for start, end in zip(edges[:-1], edges[1:]):
            failed = tuple(sorted(sched.at(float(start)), key=str))
            if failed not in evaluated:
                # The engine runs with simulate()'s default seed: states differ only in their failures.
                evaluated[failed] = evaluate_state(system, catalog, failed, workload, policy=policy, routing=routing,
                                                   seed=1)
            rows.append({"sample": i, "start_h": float(start), "end_h": float(end), "k": len(failed),
                         "failed": ";".join(map(str, failed)), **evaluated[failed]})
    return pd.DataFrame(rows)


def job_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per sample of :func:`job`'s ``rows``: ``failures`` (elements that failed during the job;
    each fails at most once, see :func:`draw`), ``max_down`` (most elements down at once: fewer than
    ``failures`` when repairs come between them), ``hours_degraded`` (hours with any element
    down), ``hours_down`` (hours in which the workload could not run), ``mean_busbw_Bps``
    (time-weighted over the hours it could run) and ``worst_busbw_Bps``."""
    out = []
    for sample, g in rows.groupby("sample"):
        hours = g["end_h"] - g["start_h"]
        ok = g["status"] == "ok"
        out.append({
            "sample": sample,
            "failures": len(set().union(*(f.split(";") for f in g["failed"] if f))),
            "max_down": int(g["k"].max()),
            "hours_degraded": float(hours[g["k"] > 0].sum()),
            "hours_down": float(hours[~ok].sum()),
            "mean_busbw_Bps": float(np.average(g["busbw_Bps"][ok], weights=hours[ok])) if ok.any() else np.nan,
            "worst_busbw_Bps": float(g["busbw_Bps"][ok].min()) if ok.any() else np.nan,
        })
    return pd.DataFrame(out)
