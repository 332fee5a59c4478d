"""The ``podsim sweep`` command: a grid of runs, resumable, in parallel."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cli_helpers import run, run_json

import podsim
from podsim.units import format_time_ps


def test_ctrl_c_stops_an_in_process_sweep() -> None:
    """A real SIGINT to a one-worker sweep stops the point under way: it once ran in a pool
    thread, which a signal cannot reach, and the process waited for the run to finish."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "podsim", "sweep", "gb300-nvl72", "all-to-all", "--bytes-per-pair", "1GiB",
         "--vary", "routing=ecmp,spray", "--workers", "1", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(5)  # well into the first point (after start-up), which alone would run for hours
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "podsim: interrupted" in err, err


def test_an_interrupted_sweep_keeps_the_points_it_finished(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C during the second of three points: the API raises SweepInterrupted with the first
    point's rows, and the command prints them before exiting 130 (it printed only "interrupted")."""
    module = sys.modules["podsim.sweep"]
    real, calls = module._run_point, []

    def second_interrupted(task: Any) -> Any:
        calls.append(task.index)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(module, "_run_point", second_interrupted)
    code, out, err = run(capsys, "sweep", "hgx-h100", "all-reduce", "--size", "64KiB", "--vary", "routing=ecmp,spray,adaptive",
                         "--workers", "1")
    assert code == 130 and "podsim: interrupted" in err
    assert out.startswith("hgx-h100 all-reduce: interrupted, 1 of 3 points done") and "ecmp" in out and "spray" not in out
    calls.clear()
    with pytest.raises(podsim.SweepInterrupted) as stop:
        podsim.sweep(_one_row, [{"x": 1}, {"x": 2}, {"x": 3}], max_workers=0, progress=False)
    assert stop.value.points == 3 and stop.value.frame["x"].tolist() == [1]


def _one_row(point: dict[str, Any], seed: Any) -> dict[str, Any]:
    return {"y": 2 * point["x"]}


def test_sweep_resumes_from_its_out_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--out-dir was documented as resumable, but nothing resumed: every point ran again."""
    argv = ["sweep", "hgx-h100", "all-reduce", "--size", "64KiB", "--vary", "routing=ecmp,spray", "--workers", "1",
            "--out-dir", str(tmp_path)]
    first = run_json(capsys, *argv)
    written = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    again = run_json(capsys, *argv, "--resume")
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == written and len(written) == 2
    assert [r["busbw_Bps"] for r in again] == [r["busbw_Bps"] for r in first]


def test_sweep_runs_the_grid(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = run_json(capsys, "sweep", "hgx-h100", "all-reduce", "--size", "1MiB",
                    "--vary", "routing=ecmp,spray", "--vary", "algorithm=ring,tree", "--workers", "1")
    assert [(r["routing"], r["algorithm"]) for r in rows] == [("ecmp", "ring"), ("ecmp", "tree"), ("spray", "ring"), ("spray", "tree")]
    assert all(r["complete"] and r["error"] is None for r in rows)
    by = {(r["routing"], r["algorithm"]): r["busbw_Bps"] for r in rows}
    # One hashed path per message cannot use the 18 NVLinks of a GPU the way spraying does.
    assert by["spray", "ring"] > 2 * by["ecmp", "ring"]
    # Same command, same seeds: identical figures.
    again = run_json(capsys, "sweep", "hgx-h100", "all-reduce", "--size", "1MiB",
                     "--vary", "routing=ecmp,spray", "--vary", "algorithm=ring,tree", "--workers", "1")
    assert [r["time_s"] for r in again] == [r["time_s"] for r in rows]
    out = tmp_path / "sweep.csv"
    code, text, _ = run(capsys, "sweep", "hgx-h100", "all-to-all", "--bytes-per-pair", "4KiB", "--vary", "ranks=2,4",
                        "--workers", "1", "--quiet", "--out", str(out))
    table = pd.read_csv(out)
    assert code == 0 and list(table["ranks"]) == [2, 4]
    # The text shows the units run prints (the time was "0.000002" in seconds, rates in raw B/s);
    # the file keeps the base units.
    lines = text.splitlines()
    assert lines[1].split() == ["ranks", "complete", "time", "busbw", "achieved", "of", "peak", "error"]
    first = table.iloc[0]
    assert lines[2].split()[:4] == ["2", "True", *format_time_ps(first["time_s"] * 1e12).split()]
    assert f"{first['busbw_Bps'] / 1e9:.4g} GB/s uni" in lines[2] and f"{100 * first['efficiency']:.1f}%" in lines[2]
    assert "None" not in text and "nan" not in text.lower()


def test_sweep_points_differ_only_in_what_is_varied(capsys: pytest.CaptureFixture[str]) -> None:
    """Every point runs with the sweep's seed: a point is the run of the same options, and a
    comparison of routing policies is not mixed with the noise of a seed per point."""
    # MoE: the seed draws the gating, so a point run with any other seed has other figures.
    rows = run_json(capsys, "sweep", "gb300-nvl72", "moe", "--vary", "routing=ecmp,adaptive", "--seed", "3", "--workers", "1")
    for row in rows:
        alone = run_json(capsys, "run", "gb300-nvl72", "moe", "--routing", row["routing"], "--seed", "3")
        assert row["time_s"] == alone["time_s"] and row["busbw_Bps"] == alone["busbw_Bps"]
    # A duration goes back to each point's run command with its unit.
    timed = run_json(capsys, "sweep", "hgx-h100", "synthetic", "--duration", "2us", "--vary", "routing=ecmp,adaptive", "--workers", "1")
    assert all(r["complete"] for r in timed)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["sweep", "hgx-h100", "all-reduce"], "--vary"),
        (["sweep", "hgx-h100", "all-reduce", "--vary", "routing"], "NAME=V1,V2"),
        (["sweep", "hgx-h100", "all-reduce", "--vary", "colour=red"], "cannot be varied"),
        (["sweep", "hgx-h100", "all-reduce", "--vary", "size=1XB"], "size"),
        (["sweep", "hgx-h100", "all-reduce", "--vary", "bytes_per_pair=1KiB"], "does not apply"),
        (["sweep", "hgx-h100", "all-reduce", "--vary", "routing=adaptive,adaptive"], "routing: 'adaptive' is given twice"),
        (["sweep", "hgx-h100", "all-reduce", "--vary", "hbm=on,1"], "hbm: '1' is given twice"),
        (["sweep", "hgx-h100", "all-reduce", "--vary", "routing=ecmp,spray", "--routing", "adaptive"],
         "--routing: also varied by --vary routing=...; give one or the other"),
        (["sweep", "hgx-h100", "all-reduce", "--vary", "routing=ecmp", "--vary", "routing=spray"], "once"),
        # Values run refuses fail the sweep at once, not as error rows after the other points ran.
        # They are named as the --vary value the user typed, and point to sweep's help, not run's.
        (["sweep", "hgx-h100", "all-reduce", "--vary", "seed=-1,2"], "error: --vary seed=-1: must be in [0, 2**64 - 1], got -1\n"),
        (["sweep", "hgx-h100", "all-reduce", "--vary", "mtu=32,4096"], "error: --vary mtu=32: must be larger than hgx-h100's header"),
        (["sweep", "hgx-h100", "all-reduce", "--vary", "routing=ecmp,ecmpp"],
         "error: --vary routing=ecmpp: invalid choice: 'ecmpp' (choose from 'adaptive', 'ecmp', 'spray')\n"),
        (["sweep", "hgx-h100", "all-reduce", "--mtu", "32", "--vary", "seed=1,2"], "error: --mtu: must be larger than"),
        (["sweep", "hgx-h100", "all-reduce", "--vary", "hbm=ture,no"], "hbm: values must be on or off"),
        (["sweep", "hgx-h100", "all-reduce", "--vary", "seed=1,2", "--resume"], "--resume needs --out-dir"),
        # Values the system cannot take are found by building each point's workload before any run.
        (["sweep", "hgx-h100", "all-to-all", "--vary", "ranks=2,100"], "error: --vary point ranks=100: --ranks: hgx-h100 has 8 ranks"),
        (["sweep", "hgx-h100", "broadcast", "--vary", "root=0,100"], "error: --vary point root=100: --root (root): must be in [0, 7]"),
        (["sweep", "hgx-h100", "moe", "--experts", "7", "--vary", "seed=1,2"],
         "--top-k (top_k): must be in [1, num_experts=7], got 8 (the default of --top-k; give --top-k to change it)"),
    ],
)
def test_sweep_bad_usage_is_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
