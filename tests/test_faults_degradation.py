"""podsim.faults.degradation: seeded nested draws, one packet-level run per point, summary and plot."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import podsim
from podsim import faults
from podsim.sweep import PointFailedWarning


@pytest.fixture(scope="module")
def trays(nv: podsim.System) -> pd.DataFrame:
    # Two processes: the points really go through the process pool.
    return faults.degradation(nv, faults.AllToAll(64 << 10), kinds="tray", k=[0, 1, 2], samples=2, seed=7,
                              policy=["adaptive-bandwidth", "full-bandwidth"], workers=2)


def test_rows_statuses_and_relative_bandwidth(trays: pd.DataFrame) -> None:
    assert len(trays) == 2 * (1 + 2 * 2)
    adaptive = trays[trays["policy"] == "adaptive-bandwidth"].sort_values(["k", "sample"])
    assert (adaptive["status"] == "ok").all() and (adaptive["ranks"] == 72).all()
    assert adaptive[adaptive["k"] == 0]["rel_busbw"].tolist() == [1.0]
    means = adaptive.groupby("k")["rel_busbw"].mean()
    assert means[0] > means[1] > means[2]
    # The analytic per-GPU share: each tray takes 2 of 18 links from every GPU.
    assert adaptive[adaptive["k"] == 2]["min_rank_capacity"].tolist() == pytest.approx([14 / 18] * 2)
    full = trays[(trays["policy"] == "full-bandwidth") & (trays["k"] > 0)]
    assert (full["status"] == "unhealthy").all() and (full["parked"] == 72).all() and full["busbw_Bps"].isna().all()


def test_draws_are_nested_and_seeded(nv: podsim.System, trays: pd.DataFrame) -> None:
    rows = trays[trays["policy"] == "adaptive-bandwidth"]
    for s in (0, 1):
        one = rows[(rows["k"] == 1) & (rows["sample"] == s)]["failed"].item()
        two = rows[(rows["k"] == 2) & (rows["sample"] == s)]["failed"].item()
        assert two.split(";")[0] == one and len(two.split(";")) == 2
    again = faults.degradation(nv, faults.AllToAll(4096), kinds="tray", k=[1, 2], samples=2, seed=7, workers=1)
    assert again.sort_values(["k", "sample"])["failed"].tolist() == rows[rows["k"] > 0].sort_values(["k", "sample"])["failed"].tolist()
    other = faults.degradation(nv, faults.AllToAll(4096), kinds="switch", k=[3], samples=3, seed=8, workers=1)
    assert other["failed"].nunique() > 1


def _broken(system: faults.FaultedSystem) -> None:
    raise RuntimeError("workload generator failed")


def test_executor_seed_sequence_and_failing_points(nv: podsim.System) -> None:
    seq = np.random.SeedSequence(11)
    with ThreadPoolExecutor(max_workers=2) as pool:
        a = faults.degradation(nv, faults.AllToAll(4096), kinds="switch", k=[2], samples=2, seed=seq, executor=pool)
    b = faults.degradation(nv, faults.AllToAll(4096), kinds="switch", k=[2], samples=2, seed=seq, workers=1)
    assert a["failed"].tolist() == b["failed"].tolist() and a["busbw_Bps"].tolist() == b["busbw_Bps"].tolist()
    with pytest.warns(PointFailedWarning):
        bad = faults.degradation(nv, _broken, kinds="tray", k=[1], samples=1, workers=1)
    assert bad["status"].tolist() == ["error"] and "workload generator failed" in bad["error"].item()
    with pytest.raises(ValueError, match="rows: no run completed"):  # not an empty figure
        faults.plot(bad)


def test_summary_and_plot(trays: pd.DataFrame, tmp_path: Path) -> None:
    table = faults.summarize(trays)
    row = table[(table["policy"] == "adaptive-bandwidth") & (table["k"] == 1)].iloc[0]
    sel = trays[(trays["policy"] == "adaptive-bandwidth") & (trays["k"] == 1)]["busbw_Bps"]
    assert (row["runs"], row["failed_runs"]) == (2, 0)
    assert row["busbw_Bps_mean"] == pytest.approx(sel.mean()) and row["busbw_Bps_min"] == sel.min()
    assert table[(table["policy"] == "full-bandwidth") & (table["k"] == 2)]["failed_runs"].item() == 2
    out = tmp_path / "curve.png"
    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()
    ax = faults.plot(trays, out, title="NVL72, trays")
    assert out.stat().st_size > 1000 and len(ax.get_lines()) == 2
    # Each call once left a pyplot figure open (matplotlib warns past 20).
    assert plt.get_fignums() == open_before


def test_all_reduce_on_a_subset(nv: podsim.System) -> None:
    df = faults.degradation(nv, faults.AllReduce(1 << 20, ranks_per_group=1), kinds="switch", k=[0, 4],
                            samples=1, seed=0, workers=1)
    assert (df["ranks"] == len(np.unique(nv.rank_group))).all()
    assert df.sort_values("k")["busbw_Bps"].is_monotonic_decreasing


def test_subset_drops_parked_ranks_and_may_leave_too_few(nv: podsim.System) -> None:
    f = faults.apply(nv, [faults.link("gpu00", "nvswitch00")], policy="full-bandwidth")
    wl = faults.AllToAll(4096, ranks_per_group=3, groups=2)(f)
    assert wl is not None and sorted(wl.ranks.tolist()) == sorted(nv.ranks[[1, 2, 4, 5, 6]].tolist())
    assert faults.AllReduce(4096, ranks_per_group=2, groups=1)(f) is None


def test_bad_arguments(nv: podsim.System) -> None:
    wl = faults.AllToAll(4096)
    with pytest.raises(ValueError, match="k: 10 failures"):
        faults.degradation(nv, wl, kinds="tray", k=[10], workers=1)
    with pytest.raises(ValueError, match="no scale-up optical modules"):
        faults.degradation(nv, wl, kinds="transceiver", k=[1], workers=1)
    with pytest.raises(ValueError, match="policy"):
        faults.degradation(nv, wl, kinds="tray", policy="fast", workers=1)
    with pytest.raises(ValueError, match="samples"):
        faults.degradation(nv, wl, kinds="tray", samples=0, workers=1)
    with pytest.raises(ValueError, match=r"routing: must be one of \['adaptive', 'ecmp', 'spray'\], got 'bogus'"):
        faults.degradation(nv, wl, kinds="tray", routing="bogus", workers=1)
    with pytest.raises(TypeError, match="k: expected an integer, got float 1.7"):
        faults.degradation(nv, wl, kinds="tray", k=[1.7], workers=1)
    with pytest.raises(ValueError, match="bytes_per_pair"):
        faults.AllToAll(0)
    with pytest.raises(ValueError, match=r"algorithm: must be one of \['hierarchical', 'rhd', 'ring', 'tree'\], got 'x'"):
        faults.AllReduce(4096, algorithm="x")
    with pytest.raises(ValueError, match=r"seed: must be in \[0, "):
        faults.draw(nv, 24, seed=-1)
    with pytest.raises(TypeError, match="intact"):
        faults.degradation(faults.apply(nv, []), wl, kinds="tray", workers=1)
    with pytest.raises(ValueError, match="metric"):
        faults.summarize(pd.DataFrame({"status": []}), "speed")


@pytest.mark.slow
def test_cloudmatrix_transceiver_curve() -> None:
    cm = podsim.system("cloudmatrix384")
    df = faults.degradation(cm, faults.AllToAll(16 << 10, ranks_per_group=4), kinds="transceiver",
                            k=[0, 16, 64], samples=2, seed=1)
    assert (df["status"] == "ok").all()
    assert (df["rel_busbw"] <= 1.05).all()


def test_degradation_takes_a_system_name_and_a_ready_workload() -> None:
    # The form of the issue: a shipped system by name and a workload built on the intact system.
    # 256 KiB per pair is bandwidth-bound (at 16 KiB a 1 us run is decided by latency and packet
    # placement, and losing a switch can even shorten it).
    hgx = podsim.system("hgx-h100")
    wl = podsim.workloads.all_to_all(hgx, 256 << 10)
    rows = faults.degradation("hgx-h100", wl, kinds="switch", k=[0, 1], samples=1, workers=1).set_index("k")
    assert list(rows["status"]) == ["ok", "ok"]
    assert rows.loc[1, "busbw_Bps"] < rows.loc[0, "busbw_Bps"]
    with pytest.warns(PointFailedWarning):
        # One GPU link down parks that GPU under full-bandwidth, and the workload needs it.
        parked = faults.degradation("hgx-h100", wl, kinds="link", k=[1], samples=1, workers=1,
                                    policy="full-bandwidth")
    assert parked["status"].iloc[0] == "error" and "is parked" in str(parked["error"].iloc[0])


@pytest.mark.parametrize("routing", ["adaptive", "spray"])
def test_a_tray_failed_at_time_zero_runs_as_the_fabric_built_without_it(nv: podsim.System, routing: str) -> None:
    """The degradation curves remove elements (faults.apply) and the mid-run table fails them at
    time 0; both are the same fabric. Each endpoint queued two packets per port, dead ports
    included, so a GPU that lost 2 of its 18 ports kept 36 packets queued where the rebuilt
    fabric gave it 32 (3-7% apart on adaptive and spray)."""
    wl = podsim.workloads.all_to_all(nv, bytes_per_pair=16 << 10)
    failed_at_0 = podsim.simulate(nv, wl, faults=[faults.fail(faults.tray(0), 0)], routing=routing, seed=1)
    removed = podsim.simulate(faults.apply(nv, [faults.tray(0)]), wl, routing=routing, seed=1)
    assert np.array_equal(failed_at_0.messages.end_ps, removed.messages.end_ps)
