"""The ``podsim compare`` command: peak and achieved figures of systems side by side."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import SMALL, run, run_json


def test_compare_peak_and_achieved(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "compare", SMALL, "hgx-h20")
    assert code == 0
    assert out.startswith("| scope | metric |") and "hgx-h100 better than hgx-h20" in out
    png, csv = tmp_path / "c.png", tmp_path / "c.csv"
    code, out, _ = run(capsys, "compare", SMALL, "hgx-h20", "--workload", "all-reduce", "--workload", "all-to-all",
                       "--size", "256KiB", "--plot", str(png), "--out", str(csv))
    assert code == 0, out
    assert "| achieved: all-reduce (ring) | size S (NCCL convention) | MiB | 0.25 | 0.25 |" in out
    assert "achieved: all-to-all (uniform)" in out
    assert "| achieved: all-reduce (ring) | packet size (MTU), header included | B | 4,096 | 4,096 |" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    back = pd.read_csv(csv)
    achieved = back[back["scope"].str.startswith("achieved")]
    assert len(achieved) == 2 * 10 and (achieved[achieved["metric"] == "delivered / peak"][[SMALL, "hgx-h20"]] <= 100).all().all()
    # The achieved rows carry the ratio and the verdict as the peak rows do (they were left empty).
    ratio, verdict = f"{SMALL}/hgx-h20", f"{SMALL} better than hgx-h20"
    assert (achieved[ratio] == achieved[SMALL] / achieved["hgx-h20"]).all()
    time = achieved[achieved["metric"] == "completion time"].iloc[0]
    assert time[verdict] == (time[SMALL] < time["hgx-h20"])
    assert achieved[achieved["metric"] == "ranks (fabric endpoints)"][verdict].isna().all()  # neither better
    data = run_json(capsys, "compare", SMALL, "hgx-h20", "--workload", "broadcast", "--size", "64KiB")
    assert [r["system"] for r in data["runs"]["broadcast"]] == [SMALL, "hgx-h20"]
    assert all(r[ratio] == pytest.approx(r[SMALL] / r["hgx-h20"]) for r in data["achieved"])
    assert all(r["complete"] for r in data["runs"]["broadcast"])


def test_readme_quick_start_table_is_what_compare_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """The README shows the output of its first command; it must not drift from it."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("| scope | metric | unit | cloudmatrix384 | gb300-nvl72 |")
    shown = readme[start : readme.index("\n\n", start)].splitlines()
    code, out, _ = run(capsys, "compare", "cloudmatrix384", "gb300-nvl72")
    assert code == 0
    assert out.splitlines()[: len(shown) + 1] == [*shown, ""]


def test_compare_names_a_system_given_twice(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "compare", SMALL, SMALL)
    assert code == 2
    assert f"'{SMALL}' is given twice" in err and "Traceback" not in err


def test_compare_a_latency_test_shows_its_latencies_and_power_bases(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["compare", SMALL, "gb300-nvl72", "--workload", "p2p", "--pattern", "latency", "--size", "512"]
    data = run_json(capsys, *argv)
    nv = data["runs"]["p2p"][1]
    code, out, _ = run(capsys, *argv)
    row = next(line for line in out.splitlines() if "message latency, mean, to completion at the initiator" in line)
    assert code == 0 and f"| {nv['completion_latency_s'] * 1e6:,.4g} |" in row
    # Only GB300 has a power figure, and the JSON says on what basis, as the text does.
    assert list(data["power_bases"]) == ["gb300-nvl72"] and "power-shelf DC output" in data["power_bases"]["gb300-nvl72"]


def test_compare_reports_hbm_when_coupled(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["compare", SMALL, "hgx-h20", "--workload", "all-gather", "--size", "1MiB"]
    code, plain, _ = run(capsys, *argv)
    assert code == 0 and "HBM read + written" not in plain
    data = run_json(capsys, *argv, "--hbm")
    h100 = data["runs"]["all-gather"][0]
    code, out, _ = run(capsys, *argv, "--hbm")
    row = next(line for line in out.splitlines() if "HBM read + written, all ranks, uni" in line)
    # Every payload byte is read once and written once, over the completion time.
    assert f"| {h100['hbm_bytes'] / h100['time_s'] / 1e12:,.4g} |" in row and "| HBM / HBM peak | % |" in out


def test_compare_says_what_a_rank_is_and_compares_chips(capsys: pytest.CaptureFixture[str]) -> None:
    """The same --ranks is 8 CloudMatrix 384 packages (two dies each) and 16 GPUs: per chip, the
    busbw of a package's ranks together; the note says what a rank is and whose engines are ideal."""
    argv = ["compare", "cloudmatrix384", "gb300-nvl72", "--workload", "all-reduce", "--ranks", "16", "--size", "1MiB"]
    data = run_json(capsys, *argv)
    cm, nv = data["runs"]["all-reduce"]
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "| chips (packages of those ranks) |  | 8 | 16 |" in out
    row = next(line for line in out.splitlines() if "busbw per chip (its ranks together), uni" in line)
    assert f"| {2 * cm['busbw_Bps'] / 1e9:,.4g} | {nv['busbw_Bps'] / 1e9:,.4g} |" in row
    assert "A rank is one fabric endpoint (cloudmatrix384 2 per chip; gb300-nvl72 1 per chip)" in out
    assert "gb300-nvl72 ideal (no published measurement to calibrate on" in out
    # A point-to-point test: one rank sends (no per-chip row), to a peer that is not at the same
    # distance everywhere (rank 1 is CloudMatrix 384's sibling die, over its die-to-die link); a
    # bandwidth test's messages all start at once, so it shows no latency.
    code, out, _ = run(capsys, "compare", "cloudmatrix384", "gb300-nvl72", "--workload", "p2p", "--size", "64KiB")
    assert code == 0 and "per chip (its ranks" not in out and "message latency" not in out
    assert "| channels on the path (hops) |  | 1 | 2 |" in out and "| chips (packages of those ranks) |  | 1 | 2 |" in out
    assert "| size S (the test's payload) | MiB | 1 | 1 |" in out
    rows = run_json(capsys, "compare", "cloudmatrix384", "gb300-nvl72", "--workload", "p2p", "--size", "64KiB")["achieved"]
    hops = next(r for r in rows if r["metric"] == "channels on the path (hops)")
    assert (hops["cloudmatrix384"], hops["gb300-nvl72"]) == (1, 2)  # the JSON has every row the table has
