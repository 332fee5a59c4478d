"""Degradation curves: what a workload achieves with k random elements failed, over seeded draws.

Every point (kind, k, sample) is one packet-level run on the faulted fabric. Draws are nested:
sample ``s`` of a kind draws one random order of all its elements, and the point with ``k``
failures takes the first ``k`` of that order, so a curve adds failures to the same machine (common
random numbers: the spread between samples is the spread between machines, not noise between k).
k = 0 is run once per kind and policy. Points run through :func:`podsim.sweep`, so any
``concurrent.futures.Executor`` (process pool by default, Dask, MPI) can run them.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import Any, Optional

import numpy as np
import pandas as pd

from podsim import _validate as v
from podsim.faults.apply import POLICIES, FaultedSystem, Unreachable, apply
from podsim.faults.elements import Catalog, Element
from podsim.simulation import ROUTING, simulate
from podsim.sweep import sweep
from podsim.systems.system import System
from podsim.systems.system import system as load_system
from podsim.workloads import all_reduce, all_to_all
from podsim.workloads.collectives import ALGORITHMS
from podsim.workloads.workload import Workload

#: A workload factory: builds the traffic for a faulted system, or returns None when fewer than two
#: of its ranks are in service (the point is then reported ``unhealthy``). It must be picklable to
#: run on a process pool: a module-level function or one of :class:`AllToAll`, :class:`AllReduce`.
WorkloadFn = Callable[[FaultedSystem], Optional[Workload]]


def _subset(system: FaultedSystem, ranks_per_group: int | None, groups: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Ranks in service among the first ``ranks_per_group`` ranks of each of the first ``groups``
    groups of the *intact* system, so a parked rank is dropped, not replaced by a spare.
    Builders list ranks group by group, so ``rank_group`` is sorted."""
    base = system.base
    keep = np.ones(len(base.ranks), dtype=bool)
    labels = np.unique(base.rank_group)
    if groups is not None:
        keep &= np.isin(base.rank_group, labels[:groups])
    if ranks_per_group is not None:
        first = np.searchsorted(base.rank_group, base.rank_group, side="left")
        keep &= np.arange(len(base.ranks)) - first < ranks_per_group
    keep &= np.isin(base.ranks, system.ranks)
    return base.ranks[keep], base.rank_group[keep]


def _positive(value: int | None, field: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
        raise ValueError(f"{field}: expected None or an integer >= 1, got {value!r}")
    return value


@dataclass(frozen=True)
class AllToAll:
    """All-to-all of ``bytes_per_pair`` bytes between the ranks in service (picklable factory).

    Attributes:
        bytes_per_pair: payload per ordered pair, bytes.
        ranks_per_group: use only the first this many ranks of every node/tray (None: all).
        groups: use only the first this many nodes/trays (None: all).
    """

    bytes_per_pair: int
    ranks_per_group: int | None = None
    groups: int | None = None

    def __post_init__(self) -> None:
        _positive(self.bytes_per_pair, "bytes_per_pair")
        _positive(self.ranks_per_group, "ranks_per_group")
        _positive(self.groups, "groups")

    def __call__(self, system: FaultedSystem) -> Workload | None:
        ranks, _ = _subset(system, self.ranks_per_group, self.groups)
        return all_to_all(ranks, bytes_per_pair=self.bytes_per_pair) if len(ranks) >= 2 else None


@dataclass(frozen=True)
class AllReduce:
    """All-reduce of a ``size_bytes`` buffer among the ranks in service (picklable factory).

    Attributes:
        size_bytes: buffer per rank, bytes.
        algorithm: ``"ring"``, ``"tree"``, ``"rhd"`` or ``"hierarchical"``.
        ranks_per_group, groups: rank subset, as in :class:`AllToAll`.
    """

    size_bytes: int
    algorithm: str = "ring"
    ranks_per_group: int | None = None
    groups: int | None = None

    def __post_init__(self) -> None:
        _positive(self.size_bytes, "size_bytes")
        _positive(self.ranks_per_group, "ranks_per_group")
        _positive(self.groups, "groups")
        v.choice(self.algorithm, "algorithm", ALGORITHMS["all_reduce"])

    def __call__(self, system: FaultedSystem) -> Workload | None:
        ranks, groups = _subset(system, self.ranks_per_group, self.groups)
        if len(ranks) < 2:
            return None
        return all_reduce(ranks, self.size_bytes, algorithm=self.algorithm, groups=groups)


@dataclass(frozen=True)
class Given:
    """A workload built on the intact system, run as it is at every point (picklable factory).

    It fits the ``re-spread`` and ``adaptive-bandwidth`` policies, which keep every rank. A point
    whose policy parked one of its ranks reports ``status="error"`` naming the rank: use
    :class:`AllToAll` or :class:`AllReduce` there, which rebuild the traffic on the ranks in service.
    """

    workload: Workload

    def __call__(self, system: FaultedSystem) -> Workload:
        missing = np.setdiff1d(self.workload.ranks, system.ranks)
        if len(missing):
            name = system.topology.names[int(missing[0])]
            raise ValueError(
                f"workload: rank {name!r} is parked under policy {system.policy!r}; pass faults.AllToAll(...) or "
                "faults.AllReduce(...) to build the traffic on the ranks in service"
            )
        return self.workload


@dataclass(frozen=True)
class _Context:
    """What every point of one curve shares (bound to the point function, pickled per task)."""

    spec: Any
    workload: WorkloadFn
    routing: str
    sim_seed: int


# Per worker process: systems and their catalogs, keyed by a digest of the pickled spec, so a
# worker builds each system once however many points it runs.
_CACHE: dict[bytes, tuple[Any, Catalog]] = {}


def _key(spec: Any) -> bytes:
    return hashlib.sha256(pickle.dumps(spec)).digest()


def _system(spec: Any) -> tuple[Any, Catalog]:
    key = _key(spec)
    if key not in _CACHE:
        built = System(spec)
        _CACHE[key] = (built, Catalog(built))
    return _CACHE[key]


#: Result columns of a point and their values before (or without) a run.
_RESULTS: dict[str, Any] = {"status": "ok", "ranks": 0, "parked": 0, "cut_off": "", "time_s": np.nan, "algbw_Bps": np.nan,
                            "busbw_Bps": np.nan, "min_rank_capacity": np.nan}


def evaluate_state(system: System, catalog: Catalog, failed: Sequence[Element], workload: WorkloadFn, *,
                   policy: str, routing: str, seed: int) -> dict[str, Any]:
    """One fabric state: apply the failures, build the workload, simulate, score. Returns the
    result columns of :func:`degradation` (``status``, ``ranks``, ``parked``, ``cut_off``,
    ``time_s``, ``algbw_Bps``, ``busbw_Bps``, ``min_rank_capacity``)."""
    row: dict[str, Any] = dict(_RESULTS)
    try:
        f = apply(system, list(failed), policy=policy, catalog=catalog)
    except Unreachable as err:
        row.update(status="unreachable", cut_off=";".join(err.cut_off))
        return row
    row.update(parked=len(f.parked), min_rank_capacity=float(f.rank_capacity.min()))
    wl = workload(f) if len(f.ranks) >= 2 else None
    if wl is None:
        row.update(status="unhealthy")
        return row
    stats = wl.evaluate(simulate(f, wl, routing=routing, seed=seed))
    row.update(ranks=len(wl.ranks), time_s=stats.time_s, algbw_Bps=stats.algbw_Bps, busbw_Bps=stats.busbw_Bps)
    return row


def resolve(system: System | str, workload: WorkloadFn | Workload) -> tuple[System, WorkloadFn]:
    """A system given by name is loaded; a workload built on the intact system becomes
    :class:`Given`; anything else must already be a callable factory."""
    if isinstance(system, str):
        system = load_system(system)
    if isinstance(workload, Workload):
        workload = Given(workload)
    if not isinstance(system, System):
        raise TypeError(f"system: expected an intact podsim.System (failures are drawn here), got {type(system).__name__}")
    if not callable(workload):
        raise TypeError("workload: expected a podsim Workload or a callable fn(faulted_system) -> Workload")
    return system, workload


def _run(point: dict[str, Any], _seed: np.random.SeedSequence, *, ctx: _Context) -> dict[str, Any]:
    """One point of :func:`podsim.sweep`: :func:`evaluate_state` of the point's failures.

    The sweep's per-point seed is not used: every point runs the engine with ``ctx.sim_seed``, so
    points differ only in their failures (common random numbers)."""
    system, catalog = _system(ctx.spec)
    failed = point["failed"].split(";") if point["failed"] else []
    elements = [catalog.element(point["kind"], n) for n in failed]
    return {"system": system.name, **evaluate_state(system, catalog, elements, ctx.workload, policy=point["policy"],
                                                     routing=ctx.routing, seed=ctx.sim_seed)}


def degradation(
    system: System | str,
    workload: WorkloadFn | Workload,
    *,
    kinds: str | Sequence[str] = "transceiver",
    k: Iterable[int] = (0, 1, 4, 16, 64),
    samples: int = 4,
    seed: int | np.random.SeedSequence = 0,
    policy: str | Sequence[str] = "re-spread",
    routing: str = "adaptive",
    workers: int | None = None,
    executor: Executor | None = None,
) -> pd.DataFrame:
    """Achieved bandwidth and completion time against the number of failed elements.

    Args:
        system: a :class:`podsim.System` or a shipped system's name (it is rebuilt from its spec
            in each worker).
        workload: ``fn(faulted_system) -> Workload``, e.g. ``AllToAll(4096, ranks_per_group=2)``,
            or a :class:`~podsim.workloads.Workload` built on the intact system (run as it is,
            see :class:`Given`).
        kinds: element kinds drawn (``"transceiver"``, ``"link"``, ``"link:l1-l2"``, ``"switch"``,
            ``"switch:l2"``, ``"tray"``); one curve each.
        k: numbers of failed elements; each must be <= the number of elements of every kind.
        samples: random draws per k > 0.
        seed: root of a ``numpy.random.SeedSequence``: one child per (kind, sample) draws the
            element order, one more seeds the engine (the same for every point).
        policy: one or several of :data:`podsim.faults.POLICIES`; one curve each.
        routing: the engine's routing policy.
        workers: processes of the default pool (1 = in this process, no pickling);
            only without ``executor``.
        executor: any ``concurrent.futures.Executor`` to run the points on (see :func:`podsim.sweep`).

    Returns:
        One row per run: ``kind, policy, k, sample, failed`` (element names, ``;``-separated),
        ``system``, ``status`` (``ok``; ``unreachable``: some rank cut off; ``unhealthy``: fewer
        than two ranks left; ``error``: the point raised, see ``error``), ``ranks`` (in the workload),
        ``parked``, ``cut_off`` (names), ``time_s``, ``algbw_Bps``, ``busbw_Bps`` (bytes/s),
        ``rel_busbw`` (busbw / the k = 0 busbw of the same kind and policy),
        ``min_rank_capacity`` (smallest surviving share of a rank's own link rate), ``wall_s``,
        ``error`` (None or the exception). :func:`summarize` aggregates it.
    """
    system, workload = resolve(system, workload)
    kind_list = [kinds] if isinstance(kinds, str) else list(kinds)
    policies = [policy] if isinstance(policy, str) else list(policy)
    for p in policies:
        v.choice(p, "policy", POLICIES)
    v.choice(routing, "routing", ROUTING)  # here, not once per point in the workers
    ks = sorted({v.integer(x, "k") for x in k})
    if not ks:
        raise ValueError(f"k: expected numbers of failed elements >= 0, got {list(k)}")
    samples = v.integer(samples, "samples", 1)
    # A fresh SeedSequence: spawn() counts children on the object, and the same seed must draw
    # the same failures on every call.
    root = (np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
            if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed))
    children = root.spawn(len(kind_list) * samples + 1)
    sim_seed = int(children[-1].generate_state(1, dtype=np.uint32)[0])
    catalog = Catalog(system)
    # Points run in this process (workers=1, or a thread pool) share its cache: they reuse the caller's system.
    _CACHE.setdefault(_key(system.spec), (system, catalog))
    points: list[dict[str, Any]] = []
    for i, kind in enumerate(kind_list):
        names = catalog.names(kind)
        if ks[-1] > len(names):
            raise ValueError(f"k: {ks[-1]} failures asked, but {system.name} has only {len(names)} elements of kind {kind!r}")
        for s in range(samples):
            order = np.random.default_rng(children[i * samples + s]).permutation(len(names))
            for kk in ks:
                if kk == 0 and s > 0:
                    continue
                failed = ";".join(names[j] for j in order[:kk])
                points += [{"kind": kind, "policy": p, "k": kk, "sample": s, "failed": failed} for p in policies]
    fn = partial(_run, ctx=_Context(system.spec, workload, routing, sim_seed))
    # workers=1 runs here (no process to spawn for small curves, and Ctrl-C stops it).
    in_process = executor is None and workers == 1
    df = sweep(fn, points, executor=executor, max_workers=0 if in_process else None if executor is not None else workers,
               progress=False)
    df = df.drop(columns=["point", "seed_entropy", "seed_spawn_key"])
    # Points that raised have no result columns; when all raised, the columns are missing.
    for col, empty in {"system": system.name, **_RESULTS}.items():
        if col not in df.columns:
            df[col] = empty
    df.loc[df["error"].notna(), "status"] = "error"
    base = df[df["k"] == 0].set_index(["kind", "policy"])["busbw_Bps"]
    df["rel_busbw"] = df["busbw_Bps"].to_numpy() / base.reindex(pd.MultiIndex.from_frame(df[["kind", "policy"]])).to_numpy()
    return df


def summarize(rows: pd.DataFrame, metric: str = "busbw_Bps") -> pd.DataFrame:
    """Mean, min and max of ``metric`` (and of ``time_s``) per (system, kind, policy, k) over the
    ``rows`` of :func:`degradation` that completed, with the count of runs and of those that could
    not run (``failed_runs``)."""
    if metric not in rows.columns:
        raise ValueError(f"metric: no column {metric!r}; columns: {list(rows.columns)}")
    keys = ["system", "kind", "policy", "k"]
    ok = rows[rows["status"] == "ok"]
    out = ok.groupby(keys)[[metric, "time_s"]].agg(["mean", "min", "max"])
    out.columns = [f"{m}_{a}" for m, a in out.columns]
    counts = rows.groupby(keys)["status"].agg(runs="size", failed_runs=lambda s: int((s != "ok").sum()))
    return counts.join(out).reset_index()
