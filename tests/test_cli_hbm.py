"""The ``podsim hbm`` command: every rank's HBM streaming an access pattern."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cli_helpers import SMALL, run, run_json

import podsim
from podsim import cli
from podsim.cli import entry


def test_hbm_streams_every_rank_as_the_python_api_does(capsys: pytest.CaptureFixture[str]) -> None:
    system = podsim.system(SMALL)
    [got] = run_json(capsys, "hbm", SMALL, "--duration", "2us")
    want = podsim.hbm.simulate_system(system, podsim.hbm.sequential_read(4096), duration_ps=2_000_000, seed=1)
    assert (got["ranks"], got["request_bytes"], got["read_bytes"], got["write_bytes"]) == (8, 4096, want.read_bytes, 0)
    assert got["peak_Bps"] == pytest.approx(system.peak().hbm_bandwidth_uni_Bps, rel=1e-12)
    assert got["efficiency"] == got["achieved_Bps"] / got["peak_Bps"] and 0.5 < got["efficiency"] < 1
    code, out, _ = run(capsys, "hbm", SMALL, "--duration", "2us")
    assert code == 0 and out.splitlines()[0] == (
        "hgx-h100: HBM sequential-read (4 KiB requests, 256 in flight per rank), 8 ranks, 2 us simulated")
    assert f"({got['efficiency']:.1%})" in out and "|" not in out  # one system: no comparison table


def test_hbm_patterns_and_a_comparison_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["hbm", "gb300-nvl72", SMALL, "--ranks", "2", "--duration", "1us", "--pattern", "strided", "--stride", "1KiB",
            "--write-fraction", "0.5", "--seed", "3"]
    rows = run_json(capsys, *argv)
    assert [(r["system"], r["ranks"], r["stride_bytes"], r["request_bytes"], r["write_fraction"]) for r in rows] == [
        ("gb300-nvl72", 2, 1024, 64, 0.5), (SMALL, 2, 1024, 64, 0.5)]
    assert all(r["write_bytes"] > 0 and r["read_bytes"] > 0 for r in rows)
    # The peak is that of the ranks simulated.
    assert rows[0]["peak_Bps"] == pytest.approx(2 / 72 * podsim.system("gb300-nvl72").peak().hbm_bandwidth_uni_Bps, rel=1e-12)
    code, out, _ = run(capsys, *argv, "--out", str(tmp_path / "hbm.csv"))
    ratio = rows[0]["achieved_Bps"] / rows[1]["achieved_Bps"]
    assert code == 0 and f"| HBM strided, 256 requests in flight per rank | achieved, read + written, all ranks, uni | TB/s | {rows[0]['achieved_Bps'] / 1e12:,.4g} | " \
        f"{rows[1]['achieved_Bps'] / 1e12:,.4g} | {ratio:.2f}× |" in out
    table = pd.read_csv(tmp_path / "hbm.csv")
    assert table["system"].tolist() == ["gb300-nvl72", SMALL] and table["latency.p99_ps"].gt(0).all()
    [random] = run_json(capsys, "hbm", SMALL, "--ranks", "1", "--duration", "1us", "--pattern", "random")
    assert random["request_bytes"] == 64 and random["write_bytes"] == 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--pattern", "strided"], "--pattern strided needs --stride SIZE"),
    (["--stride", "4KiB"], "--stride: only with --pattern strided, not sequential-read"),
    (["--pattern", "copy", "--write-fraction", "0.5"], "--write-fraction: only with --pattern random or strided, not copy"),
    (["--pattern", "random", "--write-fraction", "2"], "--write-fraction (write_fraction): must be in [0, 1], got 2.0"),
    (["--duration", "0"], "--duration: must be longer than 0 and at most 2**62 ps (about 53 days), got 0 ps"),
    (["--duration", "5000000s"], "--duration: must be longer than 0 and at most 2**62 ps (about 53 days), got 5e+06 s"),
    (["--ranks", "9"], "--ranks: hgx-h100 has 8 ranks, got 9"),
    (["--request", "1TiB"], "--request (request_bytes): this pattern needs 1099511627776 bytes, more than"),
    (["--outstanding", "0"], "--outstanding: must be >= 1, got 0"),
])
def test_hbm_refuses_bad_options(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "hbm", SMALL, *argv)
    assert code == 2 and message in err and out == "", err


def test_hbm_edge_cases(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Requests whose state would not fit in memory are refused before anything runs (a 1 GiB
    # request, 256 in flight on 8 GPUs, took the machine's 24 GB and was killed).
    code, _, err = run(capsys, "hbm", SMALL, "--request", "1GiB")
    assert code == 2 and "8 devices x 256 requests in flight x 4,194,305 accesses" in err
    # No request completed: no latency, not a latency of 0.
    [short] = run_json(capsys, "hbm", SMALL, "--duration", "10ns")
    assert short["requests"] == 0 and short["latency"]["count"] == 0 and short["latency"]["mean_ps"] is None
    code, out, _ = run(capsys, "hbm", SMALL, "--duration", "10ns")
    assert "no request completed in the window" in out
    # A copy reads and writes alternately.
    [copy] = run_json(capsys, "hbm", SMALL, "--ranks", "1", "--duration", "1us", "--pattern", "copy")
    assert copy["write_fraction"] == 0.5 and copy["write_bytes"] > 0 and copy["read_bytes"] > 0
    # The file is written even when the reader of stdout goes away (| head).
    class ClosedPipe:
        def write(self, text: str) -> int:
            raise BrokenPipeError

        def flush(self) -> None:
            pass

        def fileno(self) -> int:
            return 1

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    monkeypatch.setattr(entry.os, "dup2", lambda *a: None)  # main points fd 1 at /dev/null: not pytest's
    out_file = tmp_path / "hbm.csv"
    assert cli.main(["hbm", SMALL, "--ranks", "1", "--duration", "1us", "--out", str(out_file)]) == 0
    assert pd.read_csv(out_file)["system"].tolist() == [SMALL]


def test_ctrl_c_in_hbm_reports_what_was_reached(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (a KeyboardInterrupt, which a signal raises between engine steps; here from the
    progress callback) keeps what was simulated: in the API, the window up to the step reached."""
    calls: list[int] = []

    def interrupt_at_the_second_step(now_ps: int, requests: int) -> None:
        calls.append(now_ps)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(podsim.hbm.Interrupted) as got:
        podsim.hbm.simulate_system(podsim.system(SMALL), podsim.hbm.sequential_read(), duration_ps=5_000_000,
                                   progress=interrupt_at_the_second_step)
    assert got.value.result.duration_ps == calls[1] == 2_500_000 and got.value.result.requests > 0

    # A signal arriving while the engine runs a step raises when that step returns: its work is
    # counted, and so must its time be (measured up to the step before, 2 ranks read at 1.5x peak).
    class StoppedInStep(podsim._core.HbmStream):
        def run_until(self, t: int) -> bool:
            done = super().run_until(t)
            if t >= 2_500_000:
                raise KeyboardInterrupt
            return done

    monkeypatch.setattr(podsim._core, "HbmStream", StoppedInStep)
    with pytest.raises(podsim.hbm.Interrupted) as got:
        podsim.hbm.simulate_system(podsim.system(SMALL), podsim.hbm.sequential_read(), duration_ps=5_000_000)
    stopped = got.value.result
    assert stopped.duration_ps == 2_500_000 and 0.5 < stopped.efficiency <= 1
    monkeypatch.undo()
    # From the command line, in the second of three systems: the first in full, the second up to
    # where it was (steps of 5 us on 2 ranks), the third not at all; exit 130.
    original = podsim.hbm.simulate
    systems: list[int] = []

    def second_interrupted(*args: Any, **kwargs: Any) -> podsim.hbm.Result:
        systems.append(1)
        if len(systems) % 2 == 0:
            kwargs["progress"] = interrupt_at_the_second_step
            calls.clear()
        return original(*args, **kwargs)

    monkeypatch.setattr(podsim.hbm, "simulate", second_interrupted)
    code, out, err = run(capsys, "hbm", SMALL, "gb300-nvl72", "hgx-h20", "--ranks", "2", "--duration", "20us")
    assert code == 130 and "podsim: interrupted" in err and len(systems) == 2
    assert out.startswith("hgx-h100: HBM sequential-read") and "gb300-nvl72: HBM" in out and "hgx-h20" not in out
    assert "INTERRUPTED: measured over the 10 us simulated of 20 us; 1 of 3 systems done" in out
    data = run_json(capsys, "hbm", SMALL, "gb300-nvl72", "--ranks", "2", "--duration", "20us", expect=130)
    assert [r["complete"] for r in data] == [True, False] and data[1]["duration_ps"] == 10_000_000


def test_hbm_refuses_a_system_given_twice(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "hbm", SMALL, SMALL)
    assert code == 2 and "systems: 'hgx-h100' is given twice" in err
