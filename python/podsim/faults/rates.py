"""Failures over time: expected failures per day, MTBF and job risk from per-element FIT, and
seeded Monte-Carlo draws of failure times for one job.

Rates come from the spec (``fit`` of the optical module and of the switch chips, faults.md §1.2,
§1.3) and counts from the built system (modules from the module <-> link mapping of
:class:`~podsim.faults.elements.Catalog`, switch chips from the graph). Constant rates make
failures a Poisson process: for ``N`` elements at ``FIT`` each, ``lambda = N x FIT x 1e-9`` per
hour, ``MTBF = 1 / lambda`` and ``P(>= 1 failure in T) = 1 - exp(-lambda T)`` (faults.md §5.3).
Electrical and copper links have no published rate (faults.md §3): they are listed with ``fit``
NaN and left out of the totals. Scale-out optics whose count the spec does not give (NVL72: a NIC
per GPU, no module count; faults.md §5.3 (iv)) are listed with ``count`` NA: they exist, so a
total over the scale-out domain is unknown (NaN), not the smaller scale-up figure.

A draw (:func:`draw`) gives the failure times of one job; :meth:`Schedule.at` turns a time into
the failed elements, which :func:`podsim.faults.apply` evaluates. A job's failures are hours apart
and a packet-level run lasts microseconds, so a drawn schedule is evaluated state by state; a
failure *during* a run is :func:`podsim.faults.fail` (:mod:`podsim.faults.timeline`).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from podsim import _validate as v
from podsim.faults.elements import Catalog, Element, optical_tiers

#: Hours per day, for the per-day columns.
HOURS_PER_DAY = 24.0
#: The failure domains of :func:`failure_rates` (its ``domain`` column).
DOMAINS = ("scale-up", "scale-out")
#: Weibull shapes :func:`draw` accepts: below 1 early-life failures, above 1 wear-out.
SHAPE_RANGE = (0.05, 20.0)


def failure_rates(system: Any, catalog: Catalog | None = None) -> pd.DataFrame:
    """One row per class of failable element of ``system`` (``catalog``: ``Catalog(system)`` when
    the caller has one already; it is built here otherwise).

    Columns: ``domain`` (``"scale-up"``: elements of the simulated fabric; ``"scale-out"``: the
    NIC network's optics, counted from the spec but not simulated; no row when the spec has no
    ``[scale_out]`` table), ``element``, ``draw`` (the :meth:`Catalog.names` kind listing these
    elements, ``""`` when they are not in the fabric), ``count`` (nullable integer: NA when the
    spec declares a scale-out network but no module count), ``fit`` (failures per 1e9
    element-hours; NaN = not published), ``source``, ``evidence``, ``note``,
    ``failures_per_day``, ``mtbf_h`` (mean hours between failures of the class; NaN when the
    count or the rate is unknown).

    Raises:
        TypeError: ``system`` is not a System (for a FaultedSystem, pass its ``.base``).
    """
    cat = catalog if catalog is not None else Catalog(system)
    spec = system.spec
    rows: list[dict[str, Any]] = []

    def add(domain: str, element: str, kind: str, count: int | None, q: Any, note: str = "") -> None:
        fit = float(q.value) if q is not None else math.nan
        rows.append({
            "domain": domain, "element": element, "draw": kind, "count": pd.NA if count is None else int(count), "fit": fit,
            "source": q.source if q is not None else "", "evidence": q.evidence if q is not None else "",
            "note": note or (q.note if q is not None else "no published failure rate"),
        })

    modules = optical_tiers(system)
    for tier, module_name in modules.items():
        n = int((cat.transceivers["tier"] == tier).sum())
        add("scale-up", f"optical module {module_name} ({tier})", f"transceiver:{tier}", n, spec.transceivers[module_name].get("fit"))
    roles = system.roles()
    for key in ("l1_switch", "l2_switch", "switch"):
        if key in spec.topology:
            role = {"l1_switch": "l1", "l2_switch": "l2", "switch": "switch"}[key]
            name = spec.topology[key]
            add("scale-up", f"switch chip {name} ({role})", f"switch:{role}", int((roles == role).sum()), spec.switches[name].get("fit"))
    for tier, n in system.inventory().links.items():
        if tier not in modules:
            add("scale-up", f"electrical link {tier}", f"link:{tier}", n, None,
                "no published failure rate for electrical/copper scale-up links (faults.md §3)")
    out_modules = system.inventory().transceivers_scale_out
    # A scale-out network with no module count (None) is listed, as unknown; 0 modules is none.
    if spec.scale_out and out_modules != 0:
        # The spec names no module type for the scale-out network: it gets the scale-up module's rate.
        q = next((spec.transceivers[m].get("fit") for m in modules.values()), None)
        notes = ["module count not in spec (scale_out.transceivers_per_chip)"] if out_modules is None else []
        notes.append("module type not in the spec; the scale-up module's FIT is assumed" if q is not None
                     else "module type and FIT not in the spec")
        add("scale-out", "optical module (scale-out network)", "", out_modules, q, "; ".join(notes))
    df = pd.DataFrame(rows).astype({"count": "Int64"})
    per_hour = df["count"].astype("float64") * df["fit"] * 1e-9
    df["failures_per_day"] = per_hour * HOURS_PER_DAY
    df["mtbf_h"] = 1.0 / per_hour
    return df


def job_risk(system: Any, hours: Sequence[float] = (24.0, 168.0), *, domains: Sequence[str] = ("scale-up",),
             catalog: Catalog | None = None) -> dict[str, float]:
    """Totals over the element classes of ``domains`` that have a published rate.

    A class whose count is unknown (``count`` NA in :func:`failure_rates`: NVL72's scale-out
    optics, whose module count its spec does not give) makes every total NaN, with a
    ``RuntimeWarning`` naming it: those parts exist and fail, so the total of the classes
    known would understate the risk. Classes with no published rate (copper links) are left out.

    Returns ``{"failures_per_day", "mtbf_h", "mtbf_days", "p_fail_<T>h"...}``: expected failures per
    day, mean time between failures (hours, days), and for each job length ``T`` (hours) the
    probability of at least one failure, ``1 - exp(-lambda T)``.

    Args:
        system: a :class:`podsim.System`.
        hours: job lengths, hours (each > 0, finite).
        domains: which of :data:`DOMAINS` to count.
        catalog: the system's :class:`Catalog`, if already built.
    """
    hours = [v.positive_float(h, "hours", unit="h") for h in hours]
    if isinstance(domains, str) or not set(domains) <= set(DOMAINS):
        raise ValueError(f"domains: each must be one of {list(DOMAINS)}, got {domains!r}")
    rates = failure_rates(system, catalog)
    unknown = rates[rates["domain"].isin(domains) & rates["count"].isna()]
    sel = rates[rates["domain"].isin(domains) & rates["fit"].notna() & rates["count"].notna()]
    per_hour = float((sel["count"].astype("float64") * sel["fit"]).sum() * 1e-9)
    if len(unknown):
        what = "; ".join(f"{r.domain} {r.element}: {r.note}" for r in unknown.itertuples())
        warnings.warn(f"job_risk: {system.name}: {what}; its failure rate is unknown, so every total is NaN "
                      "(domains=('scale-up',) counts the rest)", RuntimeWarning, stacklevel=2)
        per_hour = math.nan
    out = {"failures_per_day": per_hour * HOURS_PER_DAY,
           "mtbf_h": math.inf if per_hour == 0 else 1.0 / per_hour}
    out["mtbf_days"] = out["mtbf_h"] / HOURS_PER_DAY
    for h in hours:
        out[f"p_fail_{h:g}h"] = -math.expm1(-per_hour * h)
    return out


@dataclass(frozen=True)
class Schedule:
    """Failure times of one job: when each element fails (and comes back, with ``repair_h``).

    Attributes:
        events: one row per failure: ``time_h`` (hours from job start), ``kind``, ``name``,
            sorted by time.
        duration_h: job length, hours.
        repair_h: time to repair, hours (None: a failed element stays failed for the job).
    """

    events: pd.DataFrame
    duration_h: float
    repair_h: float | None = None
    _elements: tuple[Element, ...] = field(default=(), repr=False)

    def at(self, t_h: float) -> list[Element]:
        """Elements failed at time ``t_h`` (hours from the start): pass them to
        :func:`podsim.faults.apply` to evaluate the fabric in that state."""
        if not 0 <= t_h <= self.duration_h:
            raise ValueError(f"t_h: must be in [0, {self.duration_h}] hours, got {t_h!r}")
        t = self.events["time_h"].to_numpy()
        down = t <= t_h
        if self.repair_h is not None:
            down &= t + self.repair_h > t_h
        return [e for e, d in zip(self._elements, down) if d]

    def __len__(self) -> int:
        return len(self.events)


def draw(system: Any, duration_h: float, *, seed: int | np.random.SeedSequence = 0, shape: float = 1.0,
         age_h: float = 0.0, repair_h: float | None = None, catalog: Catalog | None = None) -> Schedule:
    """Draw the first failure time of every scale-up element with a published rate, for one job.

    Lifetimes are Weibull with ``shape`` (1 = constant rate, the Poisson model; < 1 = early-life
    failures, faults.md §5.1) and a scale that keeps the mean lifetime at ``MTBF = 1e9 / FIT``.
    Elements have already run ``age_h`` hours (burn-in): times are drawn conditional on survival
    to that age, which matters only when ``shape != 1``.

    Args:
        system: a :class:`podsim.System`.
        duration_h: job length, hours (> 0, finite).
        seed: root of a ``numpy.random.SeedSequence``; the same seed gives the same schedule.
        shape: Weibull shape parameter, in :data:`SHAPE_RANGE` (0.05 to 20: outside it the
            mean-preserving scale, ``Γ(1 + 1/shape)``, overflows or the model means nothing).
        age_h: element age at job start, hours (>= 0).
        repair_h: time to repair, hours (> 0), or None (no repair during the job).
        catalog: ``Catalog(system)`` when the caller has one already (it is built here otherwise).
    """
    duration_h = v.positive_float(duration_h, "duration_h", unit="h")
    shape = v.positive_float(shape, "shape")
    if not SHAPE_RANGE[0] <= shape <= SHAPE_RANGE[1]:
        raise ValueError(f"shape: Weibull shape must be in [{SHAPE_RANGE[0]}, {SHAPE_RANGE[1]}], got {shape!r}")
    if isinstance(age_h, bool) or not isinstance(age_h, numbers.Real):
        raise TypeError(f"age_h: expected a number, got {type(age_h).__name__} {age_h!r}")
    if not 0 <= float(age_h) < math.inf:
        raise ValueError(f"age_h: must be a finite number in [0, inf) h, got {age_h!r}")
    age_h = float(age_h)
    if repair_h is not None:
        repair_h = v.positive_float(repair_h, "repair_h", unit="h")
    cat = catalog if catalog is not None else Catalog(system)
    rates = failure_rates(system, cat)
    rng = np.random.default_rng(seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(v.integer(seed, "seed")))
    times: list[np.ndarray] = []
    elements: list[Element] = []
    for row in rates[(rates["domain"] == "scale-up") & rates["fit"].notna()].itertuples():
        names = cat.names(row.draw)
        kind = row.draw.partition(":")[0]
        scale = 1e9 / row.fit / math.gamma(1.0 + 1.0 / shape)
        # Inverse of the conditional survival exp(-((a + t)/scale)^k + (a/scale)^k) at an Exp(1) draw.
        e = rng.exponential(size=len(names))
        t = scale * ((age_h / scale) ** shape + e) ** (1.0 / shape) - age_h
        hit = t < duration_h
        times.append(t[hit])
        elements += [Element(kind, n) for n, h in zip(names, hit) if h]
    t_all = np.concatenate(times) if times else np.zeros(0)
    order = np.argsort(t_all, kind="stable")
    ordered = tuple(elements[i] for i in order)
    events = pd.DataFrame({"time_h": t_all[order], "kind": [e.kind for e in ordered], "name": [e.name for e in ordered]})
    return Schedule(events, float(duration_h), repair_h, ordered)

