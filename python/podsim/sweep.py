"""Parameter sweeps: one simulation per design point, on any ``concurrent.futures`` executor.

A script (the process pool's workers import it, hence the top-level function and the guard)::

    import numpy as np
    import podsim
    from podsim.fabrics import LinkParams, folded_clos
    from podsim.sweep import grid   # podsim.sweep itself is the function below

    def run_point(point, seed):
        t = folded_clos(4, 8, 4, LinkParams(rate_Bps=point["rate"], latency_ps=20_000))
        src = t.endpoints[np.random.default_rng(seed).permutation(t.num_endpoints)]
        msgs = podsim.Messages(src=src, dst=np.roll(src, 1), size=1 << 20)   # a random permutation
        res = podsim.simulate(t, msgs, routing=point["routing"], seed=seed)
        return {"makespan_ps": int(res.now_ps)}

    if __name__ == "__main__":
        points = grid(rate=[25e9, 50e9], routing=["ecmp", "adaptive"])   # or any list of dicts
        df = podsim.sweep(run_point, points, seed=42, out_dir="sweep-out")

Point ``i`` gets child ``i`` of ``SeedSequence(seed)``, so a point's result depends only on the
point, its index and ``seed``: never on the executor, the number of workers or the order in which
points finish. Any ``concurrent.futures.Executor`` runs the points:

* default: a ``ProcessPoolExecutor`` (``spawn`` start method) with ``max_workers`` processes;
* ``max_workers=0``: no pool, the points one after another in the calling thread (Ctrl-C stops
  the point under way, which a pool's thread or process cannot be made to);
* ``concurrent.futures.ThreadPoolExecutor``: podsim releases the GIL while it simulates;
* Dask: ``distributed.Client(...).get_executor()`` (a ``LocalCluster``, or ``dask_jobqueue``'s
  ``SLURMCluster`` for a batch system);
* MPI: ``mpi4py.futures.MPIPoolExecutor()``, launched as
  ``mpiexec -n N python -m mpi4py.futures script.py``.

For executors that run in other processes, ``fn`` must be picklable and importable by the workers:
a function defined at the top level of a module or script (not a lambda, not a function defined in
a notebook; there, use ``max_workers=0``, a ``ThreadPoolExecutor``, or move it to a module).
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import multiprocessing
import numbers
import os
import pickle
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import pandas as pd

#: What a point function returns: one row of results, or a table of rows for the point.
PointResult = Union[Mapping[str, Any], pd.DataFrame]
#: ``fn(point, seed) -> results``: runs one design point with its own seed sequence.
PointFn = Callable[[dict[str, Any], np.random.SeedSequence], PointResult]
#: ``progress(done, total)``, called in the calling process as points finish.
ProgressFn = Callable[[int, int], None]

#: Columns every sweep adds; parameters and results may not use these names.
RESERVED = ("point", "seed_entropy", "seed_spawn_key", "wall_s", "error")

_Scalar = (numbers.Number, str, bool, np.generic, type(None))


class PointFailedWarning(RuntimeWarning):
    """Some points of a sweep raised; their rows carry the error, the other points are complete."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sweep. ``frame`` holds the rows of the points finished by then (read back
    or run), in point order, as :func:`sweep` would have returned them; ``points`` is how many
    the sweep had."""

    def __init__(self, frame: pd.DataFrame, points: int) -> None:
        super().__init__(f"sweep interrupted: {frame['point'].nunique() if len(frame) else 0} of {points} points done")
        self.frame = frame
        self.points = points


@dataclass(frozen=True)
class _Task:
    index: int
    point: dict[str, Any]
    seed: np.random.SeedSequence
    fn: PointFn
    path: str | None
    file_format: str | None


@dataclass(frozen=True)
class _Outcome:
    index: int
    frame: pd.DataFrame
    traceback: str | None


def _seed_columns(seed: np.random.SeedSequence) -> dict[str, str]:
    # Strings: the entropy of an unseeded SeedSequence has 128 bits, more than any integer column
    # (or Parquet) holds. SeedSequence(int(entropy), spawn_key=tuple(...)) rebuilds the seed.
    return {"seed_entropy": str(seed.entropy), "seed_spawn_key": "/".join(str(k) for k in seed.spawn_key)}


def _frame(task: _Task, result: PointResult | None, wall_s: float, error: str | None) -> pd.DataFrame:
    """The rows of one point: its index, parameters, results, seed, wall time and error."""
    if result is None:
        rows = pd.DataFrame(index=[0])
    elif isinstance(result, pd.DataFrame):
        rows = result.reset_index(drop=True)
    elif isinstance(result, Mapping):
        rows = pd.DataFrame([dict(result)])
    else:
        raise TypeError(f"fn returned {type(result).__name__}; expected a mapping of results or a pandas DataFrame")
    clash = sorted(set(map(str, rows.columns)) & (set(task.point) | set(RESERVED)))
    if clash:
        raise ValueError(f"fn returned results named like parameters or sweep columns: {clash}")
    head = {"point": task.index, **task.point}
    out = pd.concat([pd.DataFrame([head] * max(len(rows), 1)), rows], axis=1)
    for k, val in {**_seed_columns(task.seed), "wall_s": wall_s, "error": error}.items():
        out[k] = val
    return out


def _write(frame: pd.DataFrame, path: str, file_format: str) -> None:
    # Written under a temporary name, then renamed: a file that exists is complete, which is what
    # resume relies on after a crash.
    tmp = f"{path}.tmp-{os.getpid()}"
    if file_format == "parquet":
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _run_point(task: _Task) -> _Outcome:
    """Runs in a worker: one point, its file, and any error turned into data."""
    t0 = time.perf_counter()
    try:
        result = task.fn(dict(task.point), task.seed)
        frame = _frame(task, result, time.perf_counter() - t0, None)
        if task.path is not None and task.file_format is not None:
            _write(frame, task.path, task.file_format)
        return _Outcome(task.index, frame, None)
    except Exception as err:  # noqa: BLE001 - a failing point must not lose the others
        return _failure(task, err, time.perf_counter() - t0)


def _failure(task: _Task, err: BaseException, wall_s: float) -> _Outcome:
    tb = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    return _Outcome(task.index, _frame(task, None, wall_s, f"{type(err).__name__}: {err}"), tb)


def _read(path: Path, file_format: str) -> pd.DataFrame:
    if file_format == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={"seed_entropy": str, "seed_spawn_key": str})


def _text(value: Any) -> str:
    # Parameters compared as text survive both file formats; CSV reads None back as NaN.
    return "<NA>" if value is None or pd.isna(value) else str(value)


def _resumed(task: _Task) -> _Outcome | None:
    """The point's result from an earlier run of the same sweep, if its file exists."""
    assert task.path is not None and task.file_format is not None
    path = Path(task.path)
    if not path.exists():
        return None
    frame = _read(path, task.file_format)
    want = {"point": _text(task.index), **_seed_columns(task.seed), **{k: _text(val) for k, val in task.point.items()}}
    # Compared as written: CSV would read a parameter "0.50" back as the number 0.5.
    as_written = frame if task.file_format == "parquet" else pd.read_csv(path, dtype=str)
    got = {k: _text(as_written[k].iloc[0]) if k in as_written.columns and len(as_written) else None for k in want}
    if got != want:
        raise ValueError(
            f"out_dir: {path} belongs to another sweep (it has {got}, this point is {want}); "
            "use another out_dir, or delete the file"
        )
    return _Outcome(task.index, frame, None)


def _file_format(requested: str) -> str:
    if requested not in ("auto", "parquet", "csv"):
        raise ValueError(f"file_format: must be 'auto', 'parquet' or 'csv', got {requested!r}")
    if requested == "csv":
        return "csv"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        if requested == "parquet":
            raise ImportError("file_format='parquet' needs pyarrow: pip install pyarrow") from None
        return "csv"
    return "parquet"


def grid(**axes: Sequence[Any]) -> list[dict[str, Any]]:
    """All combinations of the given parameter values, the last axis varying fastest.

    ``grid(rate_Bps=[25e9, 50e9], routing=["ecmp", "adaptive"])`` gives 4 points, from
    ``{"rate_Bps": 25e9, "routing": "ecmp"}`` to ``{"rate_Bps": 50e9, "routing": "adaptive"}``.
    """
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise TypeError(f"{name}: expected a non-empty sequence of values, got {values!r}")
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def _points(points: Sequence[Mapping[str, Any]] | pd.DataFrame) -> list[dict[str, Any]]:
    if isinstance(points, pd.DataFrame):
        return _points(points.to_dict("records"))
    if isinstance(points, (str, bytes, Mapping)) or not isinstance(points, Sequence):
        raise TypeError(f"points: expected a sequence of dicts, got {type(points).__name__}")
    out = []
    for i, p in enumerate(points):
        if not isinstance(p, Mapping):
            raise TypeError(f"points[{i}]: expected a dict of parameters, got {type(p).__name__}")
        for k, val in p.items():
            if not isinstance(k, str):
                raise TypeError(f"points[{i}]: parameter names must be strings, got {k!r}")
            if k in RESERVED:
                raise ValueError(f"points[{i}]: parameter name {k!r} is reserved for a sweep column")
            # Parameters become columns (and Parquet fields): scalars only.
            if not isinstance(val, _Scalar):
                raise TypeError(f"points[{i}][{k!r}]: expected a scalar (number, string, bool, None), got {type(val).__name__}")
        out.append(dict(p))
    return out


def _root_seed(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        # A fresh copy: spawn() counts children on the object, and a second sweep with the same
        # seed must get the same children.
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"seed: expected a non-negative integer or numpy.random.SeedSequence, got {seed!r}")
    return np.random.SeedSequence(int(seed))


def _progress(progress: bool | ProgressFn | None) -> ProgressFn | None:
    if callable(progress):
        return progress
    if progress is None:
        progress = sys.stderr.isatty()
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress: expected True, False, None or a function (done, total) -> None, "
                        f"got {type(progress).__name__} {progress!r}")
    if not progress:
        return None

    def show(done: int, total: int) -> None:
        sys.stderr.write(f"\rsweep: {done}/{total} points" + ("\n" if done == total else ""))
        sys.stderr.flush()

    return show


def sweep(
    fn: PointFn,
    points: Sequence[Mapping[str, Any]] | pd.DataFrame,
    *,
    seed: int | np.random.SeedSequence = 0,
    executor: cf.Executor | None = None,
    max_workers: int | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    file_format: Literal["auto", "parquet", "csv"] = "auto",
    resume: bool = False,
    progress: bool | ProgressFn | None = None,
) -> pd.DataFrame:
    """Run ``fn(point, seed)`` for every design point and gather the results in one DataFrame.

    Args:
        fn: runs one point. It receives the point (a dict of parameters) and that point's own
            ``numpy.random.SeedSequence``, to pass to ``podsim.simulate(..., seed=)`` and
            ``numpy.random.default_rng``. It returns a mapping of results (one row) or a
            DataFrame (several rows, e.g. one per message). Must be picklable for process-based
            executors.
        points: the design points: dicts of scalar parameters (they become columns), e.g. from
            :func:`grid`, or a DataFrame with one point per row.
        seed: root of the seeds; point ``i`` gets child ``i`` of ``SeedSequence(seed)``. A given
            SeedSequence is not modified.
        executor: any ``concurrent.futures.Executor`` (thread pool, Dask's
            ``client.get_executor()``, ``mpi4py.futures.MPIPoolExecutor``...). It is used, not
            shut down. Default: a process pool with the ``spawn`` start method, shut down at the end.
        max_workers: processes of the default pool (default: ``os.cpu_count()``); only without
            ``executor``. 0 runs the points in this process and thread, one after another, with no
            pool: Ctrl-C then stops the point under way at once (a thread of a pool cannot be
            interrupted), and nothing needs to pickle.
        out_dir: if given, each point also writes its rows to ``out_dir/point-<i>.parquet`` (or
            ``.csv``), from the worker, as soon as it is done. With several machines, it must be a
            shared file system. Failed points write no file.
        file_format: ``"parquet"`` (needs pyarrow), ``"csv"``, or ``"auto"``: Parquet when
            pyarrow is installed, else CSV. The choice is in ``df.attrs["sweep"]["file_format"]``.
        resume: with ``out_dir``, points whose file exists are read back instead of run again
            (re-run an interrupted or partly failed sweep with the same arguments). A file from a
            different point or seed raises ValueError.
        progress: ``progress(done, total)`` as points finish; True prints a line to stderr; None
            (default) prints only when stderr is a terminal.

    Returns:
        One DataFrame, rows ordered by point: ``point`` (index into ``points``), the parameters,
        the results, ``seed_entropy`` and ``seed_spawn_key`` (strings; the point's seed is
        ``SeedSequence(int(seed_entropy), spawn_key=tuple(map(int, seed_spawn_key.split("/"))))``),
        ``wall_s`` (the point's run time; the only column that varies between identical runs)
        and ``error`` (None, or ``"Type: message"`` for a point that raised; its results are
        missing). ``df.attrs["sweep"]`` holds the root seed, counts and file format, and
        ``df.attrs["tracebacks"]`` the traceback of each failed point.

    Ctrl-C raises :class:`SweepInterrupted` (a ``KeyboardInterrupt``) carrying the rows of the
    points finished by then. A point that raises does not stop the others; the sweep then warns with
    :class:`PointFailedWarning`. A worker process that dies (crash, out of memory) fails the points
    it took with it; ``resume=True`` then re-runs only those.

    When every point fails because the default pool broke, the warning says why that most
    often happens: a script that calls this at its top level, without ``if __name__ ==
    "__main__":``.
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a callable, got {type(fn).__name__}")
    pts = _points(points)
    root = _root_seed(seed)
    children = root.spawn(len(pts))
    if executor is not None and max_workers is not None:
        raise ValueError("max_workers: only for the default process pool; size your executor yourself")
    if max_workers is not None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, numbers.Integral) or max_workers < 0:
            raise ValueError(f"max_workers: must be an integer >= 0 (0: in this process), got {max_workers!r}")
    if executor is not None and not isinstance(executor, cf.Executor):
        raise TypeError(f"executor: expected a concurrent.futures.Executor, got {type(executor).__name__}")
    if resume and out_dir is None:
        raise ValueError("resume: needs out_dir")

    fmt: str | None = None
    paths: list[str | None] = [None] * len(pts)
    if out_dir is not None:
        fmt = _file_format(file_format)
        directory = Path(out_dir)
        directory.mkdir(parents=True, exist_ok=True)
        # A fixed width, not the grid's: a grown grid resumes from the same file names, and the
        # names sort in point order up to a million points.
        paths = [str(directory / f"point-{i:06d}.{fmt}") for i in range(len(pts))]
    tasks = [_Task(i, p, children[i], fn, paths[i], fmt) for i, p in enumerate(pts)]

    outcomes: dict[int, _Outcome] = {}
    if resume:
        for t in tasks:
            done = _resumed(t)
            if done is not None:
                outcomes[t.index] = done
    todo = [t for t in tasks if t.index not in outcomes]
    report = _progress(progress)

    def finished() -> pd.DataFrame:  # the rows of the points done so far, in point order
        done = [outcomes[i].frame for i in sorted(outcomes)]
        return pd.concat(done, ignore_index=True) if done else pd.DataFrame(columns=list(RESERVED))

    if executor is None and max_workers == 0:
        try:
            for t in todo:  # here, so that a KeyboardInterrupt reaches the point under way
                outcomes[t.index] = _run_point(t)
                if report is not None:
                    report(len(outcomes), len(tasks))
        except KeyboardInterrupt:
            raise SweepInterrupted(finished(), len(tasks)) from None
        todo_left: list[_Task] = []
    else:
        todo_left = todo
    own = executor is None and bool(todo_left)
    pool: cf.Executor | None = executor
    if own:
        try:
            pickle.dumps(fn)
        except (pickle.PicklingError, TypeError, AttributeError) as err:
            raise TypeError(
                f"fn: the default process pool needs a function it can pickle (defined at the top level of a "
                f"module), got {fn!r} ({err}); or pass executor=concurrent.futures.ThreadPoolExecutor()"
            ) from err
        pool = cf.ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        if todo_left:
            assert pool is not None
            futures = {pool.submit(_run_point, t): t for t in todo_left}
            for fut in cf.as_completed(futures):
                task = futures[fut]
                try:
                    outcomes[task.index] = fut.result()
                except Exception as err:  # noqa: BLE001 - the worker died or the task did not pickle
                    outcomes[task.index] = _failure(task, err, 0.0)
                    # A broken pool fails every future with one exception object, and each raise
                    # would add its frames to the last: each point gets its own raise's frames.
                    err.__traceback__ = None
                if report is not None:
                    report(len(outcomes), len(tasks))
    except KeyboardInterrupt:
        raise SweepInterrupted(finished(), len(tasks)) from None
    finally:
        if own and pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    ordered = [outcomes[i] for i in range(len(tasks))]
    frame = (
        pd.concat([o.frame for o in ordered], ignore_index=True)
        if ordered
        else pd.DataFrame(columns=list(RESERVED))
    )
    tracebacks = {o.index: o.traceback for o in ordered if o.traceback is not None}
    # A worker that dies breaks the whole pool, so every point not yet done fails with it. When
    # none ran, the most common cause is a script that starts the pool at its top level, which
    # each spawned worker runs again on import: say so (it may also be a crash on the first point).
    broken = [t.index for t in todo if t.index in tracebacks and "BrokenProcessPool" in tracebacks[t.index]]
    hint = ""
    if own and broken and len(broken) == len(todo):
        hint = (" Every worker process died before finishing a point: if this is a script, it must start the "
                "sweep under `if __name__ == \"__main__\":` (each worker imports the script again), or pass "
                "max_workers=0 (no pool); else a point crashed its worker.")
    frame.attrs["sweep"] = {
        "seed_entropy": str(root.entropy),
        "points": len(tasks),
        "failed": len(tracebacks),
        "resumed": len(tasks) - len(todo),
        "file_format": fmt,
        "out_dir": None if out_dir is None else str(out_dir),
    }
    frame.attrs["tracebacks"] = tracebacks
    if tracebacks:
        first = min(tracebacks)
        warnings.warn(
            f"sweep: {len(tracebacks)} of {len(tasks)} points failed (see the 'error' column and "
            f"df.attrs['tracebacks']); first: point {first}: {ordered[first].frame['error'].iloc[0]}.{hint}",
            PointFailedWarning,
            stacklevel=2,
        )
    return frame
