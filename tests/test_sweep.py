"""podsim.sweep: seeds independent of the executor, failures kept as data, files per point, resume."""

from __future__ import annotations

import concurrent.futures as cf
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import podsim
from podsim.fabrics import LinkParams
from podsim.sweep import PointFailedWarning, grid

# 2 link rates x 3 buffer sizes x 3 routing policies = 18 small simulations.
POINTS = grid(rate_Bps=[25e9, 50e9], buffer_bytes=[8 << 10, 32 << 10, 128 << 10], routing=["ecmp", "spray", "adaptive"])
SEED = 7


def fabric_point(point: dict[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    """A random cyclic shift of random sizes on an 8-host two-tier Clos (top level: picklable)."""
    traffic_seed, sim_seed = seed.spawn(2)  # independent streams for the traffic and the engine
    params = LinkParams(
        rate_Bps=point["rate_Bps"], latency_ps=20_000, switch_latency_ps=100_000, buffer_bytes=point["buffer_bytes"]
    )
    topo = podsim.fabrics.folded_clos(2, 4, 2, params)
    rng = np.random.default_rng(traffic_seed)
    order = topo.endpoints[rng.permutation(topo.num_endpoints)]
    sizes = rng.integers(8 << 10, 64 << 10, size=len(order))
    res = podsim.simulate(
        topo, podsim.Messages(src=order, dst=np.roll(order, 1), size=sizes), routing=point["routing"], seed=sim_seed
    )
    return {
        "makespan_ps": int(res.now_ps),
        "mean_latency_ps": float(res.messages.latency_ps.mean()),
        "events": int(res.events),
        "bytes": int(sizes.sum()),
    }


def per_message_point(point: dict[str, Any], seed: np.random.SeedSequence) -> pd.DataFrame:
    """A richer record: one row per message."""
    topo = podsim.fabrics.star(3, LinkParams(rate_Bps=point["rate_Bps"], latency_ps=10_000))
    eps = topo.endpoints
    res = podsim.simulate(topo, podsim.Messages(src=eps[:2], dst=eps[1:], size=[1000, 2000]), seed=seed)
    return pd.DataFrame({"size": res.messages.size, "end_ps": res.messages.end_ps})


def crashing_point(point: dict[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    """Takes its worker process down with it on the marked point."""
    if point["crash"]:
        os._exit(3)
    return {"ok": 1}


def never_called(point: dict[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    raise AssertionError("resume should not run this point again")


def without_wall(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns="wall_s")


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    """The sweep on the default process pool."""
    return podsim.sweep(fabric_point, POINTS, seed=SEED, max_workers=2, progress=False)


def test_results_and_columns(reference: pd.DataFrame) -> None:
    assert len(reference) == len(POINTS) >= 16
    assert list(reference["point"]) == list(range(len(POINTS)))
    assert reference["error"].isna().all()
    pd.testing.assert_frame_equal(reference[["rate_Bps", "buffer_bytes", "routing"]], pd.DataFrame(POINTS))
    assert (reference["makespan_ps"] > 0).all()
    # Every point has its own seed: child i of SeedSequence(SEED).
    children = np.random.SeedSequence(SEED).spawn(len(POINTS))
    assert list(reference["seed_entropy"]) == [str(SEED)] * len(POINTS)
    assert list(reference["seed_spawn_key"]) == ["/".join(map(str, c.spawn_key)) for c in children]
    assert reference.attrs["sweep"]["failed"] == 0
    # The sweep's knobs matter: the design points do not all give the same answer.
    assert reference["makespan_ps"].nunique() > 1


def test_bit_identical_in_process(reference: pd.DataFrame) -> None:
    """max_workers=0 runs the points here, in order: the same table, and a function that cannot
    pickle (a lambda) is fine."""
    seen: list[int] = []
    here = podsim.sweep(lambda p, s: fabric_point(p, s), POINTS, seed=SEED, max_workers=0,
                        progress=lambda done, total: seen.append(done))
    pd.testing.assert_frame_equal(without_wall(here), without_wall(reference), check_exact=True)
    assert seen == list(range(1, len(POINTS) + 1))
    with pytest.raises(ValueError, match=r"max_workers: must be an integer >= 0 \(0: in this process\), got -1"):
        podsim.sweep(fabric_point, POINTS, max_workers=-1)


def test_point_equals_a_direct_call(reference: pd.DataFrame) -> None:
    i = 11
    row = reference.iloc[i]
    seed = np.random.SeedSequence(int(row["seed_entropy"]), spawn_key=tuple(map(int, row["seed_spawn_key"].split("/"))))
    assert fabric_point(POINTS[i], seed) == {k: row[k] for k in ("makespan_ps", "mean_latency_ps", "events", "bytes")}


def test_bit_identical_on_a_thread_pool(reference: pd.DataFrame) -> None:
    with cf.ThreadPoolExecutor(max_workers=3) as pool:
        threads = podsim.sweep(fabric_point, POINTS, seed=SEED, executor=pool, progress=False)
    pd.testing.assert_frame_equal(without_wall(threads), without_wall(reference), check_exact=True)


def test_another_seed_changes_results(reference: pd.DataFrame) -> None:
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        other = podsim.sweep(fabric_point, POINTS, seed=SEED + 1, executor=pool, progress=False)
    assert not other["makespan_ps"].equals(reference["makespan_ps"])


def test_a_seed_sequence_is_not_consumed() -> None:
    root = np.random.SeedSequence(123)
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        a = podsim.sweep(fabric_point, POINTS[:3], seed=root, executor=pool, progress=False)
        b = podsim.sweep(fabric_point, POINTS[:3], seed=root, executor=pool, progress=False)
    pd.testing.assert_frame_equal(without_wall(a), without_wall(b), check_exact=True)
    assert root.n_children_spawned == 0


def test_a_failing_point_does_not_lose_the_others(reference: pd.DataFrame) -> None:
    points = [*POINTS[:5], {**POINTS[5], "rate_Bps": -1.0}, *POINTS[6:8]]
    with cf.ThreadPoolExecutor(max_workers=2) as pool, pytest.warns(PointFailedWarning, match="1 of 8 points failed"):
        df = podsim.sweep(fabric_point, points, seed=SEED, executor=pool, progress=False)
    bad = df.iloc[5]
    assert bad["rate_Bps"] == -1.0 and bad["routing"] == POINTS[5]["routing"]
    assert bad["error"].startswith("ValueError: LinkParams.rate_Bps")
    assert pd.isna(bad["makespan_ps"])
    assert "Traceback" in df.attrs["tracebacks"][5]
    good = df.drop(index=5)
    assert good["error"].isna().all()
    cols = ["makespan_ps", "mean_latency_ps", "events"]
    np.testing.assert_array_equal(good[cols].to_numpy(), reference.iloc[[0, 1, 2, 3, 4, 6, 7]][cols].to_numpy())


def test_a_dying_worker_fails_only_points_it_took() -> None:
    points = [{"crash": i == 2} for i in range(4)]
    with pytest.warns(PointFailedWarning):
        df = podsim.sweep(crashing_point, points, max_workers=1, progress=False)
    assert len(df) == 4
    assert "BrokenProcessPool" in df.loc[2, "error"]
    ok = df["error"].isna()
    assert (df.loc[ok, "ok"] == 1).all()
    # A crash on the first point breaks the pool for all: still a table of failed rows, not an error.
    with pytest.warns(PointFailedWarning, match="else a point crashed its worker"):
        first = podsim.sweep(crashing_point, [{"crash": True}, {"crash": False}], max_workers=1, progress=False)
    assert len(first) == 2 and first["error"].notna().all()
    # Every point failed by the one BrokenProcessPool has a traceback of its own, not a growing pile.
    lengths = {len(tb.splitlines()) for tb in first.attrs["tracebacks"].values()}
    assert len(lengths) == 1, first.attrs["tracebacks"]


def test_a_script_without_a_main_guard_is_told_why_nothing_ran(tmp_path: Path) -> None:
    """The spawned workers import the script again and die starting their own pools: the warning
    must say why, not only report a table of failed points."""
    script = tmp_path / "unguarded.py"
    script.write_text("import podsim\n\ndef point(p, seed):\n    return {'x': 1}\n\n"
                      "podsim.sweep(point, [{'a': 1}, {'a': 2}], max_workers=1, progress=False)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert "PointFailedWarning: sweep: 2 of 2 points failed" in done.stderr
    assert 'Every worker process died before finishing a point: if this is a script, it must start the sweep under ' \
           '`if __name__ == "__main__":`' in done.stderr


def test_files_per_point_and_resume(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    points = POINTS[:4]
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        df = podsim.sweep(fabric_point, points, seed=SEED, executor=pool, out_dir=tmp_path, progress=False)
        assert df.attrs["sweep"]["file_format"] == "parquet"
        assert sorted(p.name for p in tmp_path.iterdir()) == [f"point-{i:06d}.parquet" for i in range(4)]
        on_disk = pd.read_parquet(tmp_path).sort_values("point", ignore_index=True)
        pd.testing.assert_frame_equal(on_disk, df, check_dtype=False)

        # A missing file is the only point run again.
        (tmp_path / "point-000001.parquet").unlink()
        calls: list[int] = []
        again = podsim.sweep(
            fabric_point, points, seed=SEED, executor=pool, out_dir=tmp_path, resume=True,
            progress=lambda done, total: calls.append(done),
        )
        assert again.attrs["sweep"]["resumed"] == 3
        assert calls[-1] == 4
        pd.testing.assert_frame_equal(without_wall(again), without_wall(df), check_dtype=False)

        resumed = podsim.sweep(never_called, points, seed=SEED, executor=pool, out_dir=tmp_path, resume=True, progress=False)
        pd.testing.assert_frame_equal(without_wall(resumed), without_wall(again), check_dtype=False)

        with pytest.raises(ValueError, match="belongs to another sweep"):
            podsim.sweep(never_called, points, seed=SEED + 1, executor=pool, out_dir=tmp_path, resume=True, progress=False)


def test_csv_files(tmp_path: Path) -> None:
    points = [{"rate_Bps": 25e9, "label": None}, {"rate_Bps": 50e9, "label": "x"}]
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        df = podsim.sweep(per_message_point, points, executor=pool, out_dir=tmp_path, file_format="csv", progress=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["point-000000.csv", "point-000001.csv"]
        again = podsim.sweep(never_called, points, executor=pool, out_dir=tmp_path, file_format="csv", resume=True, progress=False)
    np.testing.assert_array_equal(again["end_ps"], df["end_ps"])


def test_resume_after_the_grid_grew_and_with_numeric_looking_text(tmp_path: Path) -> None:
    """File names did not survive a grid growing past a power of ten (point-0 became point-00),
    and CSV read a parameter "0.50" back as 0.5, a point of "another sweep"."""
    points = [{"rate_Bps": 25e9 + i, "label": "0.50"} for i in range(12)]
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        podsim.sweep(per_message_point, points[:10], executor=pool, out_dir=tmp_path, file_format="csv", progress=False)
        grown = podsim.sweep(per_message_point, points, executor=pool, out_dir=tmp_path, file_format="csv",
                             resume=True, progress=False)
    assert grown.attrs["sweep"]["resumed"] == 10
    assert len(list(tmp_path.iterdir())) == 12


def test_a_table_per_point() -> None:
    points = [{"rate_Bps": 25e9}, {"rate_Bps": 50e9}]
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        df = podsim.sweep(per_message_point, points, executor=pool, progress=False)
    assert list(df["point"]) == [0, 0, 1, 1]
    assert list(df["rate_Bps"]) == [25e9, 25e9, 50e9, 50e9]
    assert list(df["size"]) == [1000, 2000, 1000, 2000]
    # Twice the rate, less time: the rows did land on their own points.
    assert (df["end_ps"].to_numpy()[2:] < df["end_ps"].to_numpy()[:2]).all()


def clashing_point(point: dict[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    return {"rate_Bps": 1}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"points": [{"x": [1, 2]}]}, TypeError, "expected a scalar"),
        ({"points": [{"error": 1}]}, ValueError, "reserved"),
        ({"points": {"x": 1}}, TypeError, "sequence of dicts"),
        ({"points": [1]}, TypeError, "dict of parameters"),
        ({"points": [{"x": 1}], "seed": -1}, TypeError, "seed"),
        ({"points": [{"x": 1}], "resume": True}, ValueError, "needs out_dir"),
        ({"points": [{"x": 1}], "file_format": "xlsx", "out_dir": "unused"}, ValueError, "file_format"),
        ({"points": [{"x": 1}], "progress": 5}, TypeError, "progress: expected True, False, None or a function"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        podsim.sweep(fabric_point, **kwargs)


def test_bad_executor_arguments() -> None:
    with cf.ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="max_workers"):
        podsim.sweep(fabric_point, POINTS, executor=pool, max_workers=2)
    with pytest.raises(TypeError, match="Executor"):
        podsim.sweep(fabric_point, POINTS, executor=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pickle"):
        podsim.sweep(lambda point, seed: {}, POINTS)


def test_results_may_not_overwrite_parameters() -> None:
    with cf.ThreadPoolExecutor(1) as pool, pytest.warns(PointFailedWarning):
        df = podsim.sweep(clashing_point, [{"rate_Bps": 5.0}], executor=pool, progress=False)
    assert "named like parameters" in df.loc[0, "error"]
    assert df.loc[0, "rate_Bps"] == 5.0


def test_grid_order() -> None:
    assert grid(a=[1, 2], b=["x", "y", "z"])[:4] == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}, {"a": 2, "b": "x"},
    ]
    assert len(POINTS) == 18 and POINTS[-1] == {"rate_Bps": 50e9, "buffer_bytes": 128 << 10, "routing": "adaptive"}
    with pytest.raises(TypeError, match="non-empty sequence"):
        grid(a="abc")


def test_points_from_a_dataframe(reference: pd.DataFrame) -> None:
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        df = podsim.sweep(fabric_point, pd.DataFrame(POINTS[:4]), seed=SEED, executor=pool, progress=False)
    pd.testing.assert_frame_equal(without_wall(df), without_wall(reference.iloc[:4]), check_exact=True)


def test_no_points() -> None:
    df = podsim.sweep(fabric_point, [], progress=False)
    assert len(df) == 0 and "error" in df.columns
