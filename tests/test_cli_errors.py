"""The ``podsim`` command line: one-line errors, Ctrl-C and progress reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest
from cli_helpers import SMALL, run, run_json

import podsim
from podsim import cli
from podsim.cli import running
from podsim.cli.progress import Progress


@pytest.mark.parametrize(
    "argv, words",
    [
        (["peak", "nosuchsystem"], "no such spec file"),
        (["run", SMALL, "nosuchworkload"], "unknown workload"),
        (["run", SMALL, "all-to-all", "--bytes-per-pair", "12XB"], "bytes_per_pair"),
        # A negative value reaches the option's own check, not argparse's "expected one argument".
        (["run", SMALL, "all-to-all", "--bytes-per-pair", "-4KiB"], "bytes_per_pair: expected a size"),
        (["run", SMALL, "synthetic", "--duration", "-1.5us"], "duration"),
        # A given zero or empty value is checked, not replaced by the option's default.
        (["run", SMALL, "synthetic", "--duration", "0"], "--duration (duration_s): must be"),
        (["run", SMALL, "synthetic", "--pattern", ""], "pattern: must be one of"),
        (["run", SMALL, "all-reduce", "--algorithm", ""], "algorithm: all_reduce supports"),
        (["run", SMALL, "--", "--seed", "-1"], "unrecognized arguments: -1"),  # after --, nothing is joined
        (["run", SMALL, "all-reduce", "--bytes-per-pair", "1KiB"], "--bytes-per-pair does not apply to all-reduce"),
        (["run", SMALL, "all-reduce", "--algorithm", "magic"], "algorithm"),
        (["run", SMALL, "all-reduce", "--ranks", "1"], "--ranks"),
        (["run", SMALL, "all-reduce", "--ranks", "99"], "--ranks"),
        (["run", SMALL, "all-reduce", "--trace-window", "0:5us"], "--trace-window needs --trace"),
        (["run", SMALL, "all-reduce", "--trace-window", "5us"], "trace_window"),
        (["run", SMALL, "all-reduce", "--trace", "t.json", "--trace-window", "0:5000000000000s"],
         "trace_window: times must be at most 2**62 ps"),
        (["run", SMALL, "all-reduce", "--out", "table.xlsx"], ".csv or .parquet"),
        (["run", SMALL, "all-reduce", "--plot", "/nonexistent-dir/p.png"], "does not exist"),
        (["run", SMALL, "all-reduce", "--trace", "t.txt"], ".json"),
        (["run", SMALL, "all-reduce", "--routing", "random"], "routing"),
        (["run", SMALL, "synthetic", "--load", "2"], "load"),
        (["run", SMALL], "WORKLOAD"),
        (["compare", SMALL], "at least 2 systems"),
        (["run", SMALL, "all-reduce", "--size", "1KiB", "--bytes", "2KiB"], "--size/--bytes: given twice; give one value"),
        (["run", SMALL, "p2p", "--chunks", "auto"], "--chunks does not apply to p2p"),  # auto is a value like any other
        (["peak", SMALL, "gb300-nvl72", SMALL], f"systems: {SMALL!r} is given twice"),
        (["compare", SMALL, "hgx-h20", "--size", "1MiB"], "--size: applies to a workload run; add --workload NAME"),
        # Engine options, even those with a default, were once ignored without a workload.
        (["compare", SMALL, "hgx-h20", "--routing", "spray"], "--routing: applies to a workload run; add --workload NAME"),
        (["compare", SMALL, "hgx-h20", "--seed", "1"], "--seed: applies to a workload run"),
        (["compare", SMALL, "hgx-h20", "--seed", "0"], "--seed: applies to a workload run"),  # a given 0 equals False
        (["compare", SMALL, "hgx-h20", "--root", "0"], "--root: applies to a workload run"),
        (["compare", SMALL, "hgx-h20", "--ranks", "4"], "--ranks: applies to a workload run"),
        (["compare", SMALL, "hgx-h20", "--hbm"], "--hbm: applies to a workload run"),
        (["compare", SMALL, "hgx-h20", "--workload", "all-gather", "--tokens", "3"], "--tokens does not apply"),
        (["export", SMALL, "/nonexistent-dir/x.topo"], "x.topo"),
        (["bench", "--case", "nothing-like-this"], "no benchmark case"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], words: str) -> None:
    code = cli.main(argv)
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("podsim: error: ") and err.count("\n") == 1, err
    assert words in err
    assert "Traceback" not in err


def test_an_unwritable_output_is_refused_before_the_run(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder named like the file is found before the run, and the probe leaves nothing behind;
    a write that fails after the run (a full disk) still prints the results first."""
    (tmp_path / "d.csv").mkdir()
    for option, name in (("--out", "d.csv"), ("--plot", "p.png")):
        target = tmp_path / name
        if option == "--plot":
            target.mkdir()
        code, out, err = run(capsys, "run", SMALL, "all-reduce", option, str(target))
        assert code == 2 and out == "" and f"cannot write {str(target)!r}: Is a directory" in err
    code, out, err = run(capsys, "run", SMALL, "all-reduce", "--out", str(tmp_path / "t.csv"), "--plot", str(tmp_path / "q.png"),
                         "--json")
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "p.png", "q.png", "t.csv"]

    def disk_full(table: object, path: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(podsim.report, "write_table", disk_full)
    code, out, err = run(capsys, "run", SMALL, "all-reduce", "--out", str(tmp_path / "u.csv"))
    assert code == 2 and "completed in" in out
    assert err.strip().endswith("--out: cannot write " + repr(str(tmp_path / "u.csv")) + ": No space left on device; the results are above")
    assert not (tmp_path / "u.csv").exists()


@pytest.fixture
def ctrl_c_half_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine turns Ctrl-C into ``Interrupted`` with the partial result; stand in for it by
    stopping a real run half way, as the engine would."""
    real = podsim.simulate

    def half_then_ctrl_c(topology: object, messages: podsim.Messages, **kwargs: object) -> podsim.Result:
        kwargs.pop("progress")
        full = real(topology, messages, **kwargs)  # type: ignore[arg-type]
        plan = kwargs.pop("faults")
        sim = podsim.Simulation(topology, **kwargs)  # type: ignore[arg-type]
        sim.add(messages)
        sim.schedule(plan)  # type: ignore[arg-type]
        sim.run_until(full.now_ps // 2)
        raise podsim.Interrupted(sim.result())

    monkeypatch.setattr(podsim, "simulate", half_then_ctrl_c)


@pytest.mark.usefixtures("ctrl_c_half_way")
def test_ctrl_c_keeps_partial_results(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "run", SMALL, "all-reduce", "--size", "1MiB")
    assert code == 130
    assert "NOT COMPLETE" in out and "achieved" in out
    data = run_json(capsys, "run", SMALL, "all-reduce", "--size", "1MiB", expect=130)
    assert not data["complete"] and 0 < data["messages_done"] < data["messages"] and data["time_s"] is None


@pytest.mark.usefixtures("ctrl_c_half_way")
def test_ctrl_c_stops_a_comparison(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compare", SMALL, "hgx-h20", "--workload", "all-gather", "--size", "256KiB")
    assert code == 130
    assert "interrupted; what was reached:" in out and "NOT COMPLETE" in out
    assert "hgx-h20: all_gather" not in out  # the second system never ran


def test_progress_bar_follows_the_engine(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress("x", quiet=False, terminal=True) as bar:
        bar(1_000_000, 5_000, 0.1)
        bar(3_000_000, 12_000, 0.25)
        assert bar._bar.n == 25.0
        shown = str(bar._bar)
        assert "25% of the payload delivered" in shown and "12,000 events, 3 us simulated" in shown and " left" in shown


def test_progress_off_a_terminal_is_a_line_a_minute(capsys: pytest.CaptureFixture[str]) -> None:
    """A run logged to a file showed nothing until it ended, however many hours that took."""
    now = [1000.0]
    with Progress("sys wl", quiet=False, terminal=False, clock=lambda: now[0]) as progress:
        for t in (10.0, 59.0):  # the first minute: nothing
            now[0] = 1000.0 + t
            progress(1_000_000, 5_000, 0.0)
        assert capsys.readouterr().err == ""
        now[0] = 1060.0
        progress(2_000_000, 10_000, 0.0)
        now[0] = 1090.0
        progress(3_000_000, 20_000, 0.25)  # within a minute of the last line: nothing
        now[0] = 1120.0
        progress(4_000_000, 1_234_567, 0.25)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "podsim: sys wl: 0.0% of the payload delivered, 01:00 elapsed, no estimate of the time left yet; "
        "10,000 events, 2 us simulated",
        "podsim: sys wl: 25.0% of the payload delivered, 02:00 elapsed, about 06:00 left at this pace; "
        "1,234,567 events, 4 us simulated",
    ]
    now[0] = 5000.0
    with Progress("quiet", quiet=True, terminal=False, clock=lambda: now[0]) as progress:
        now[0] = 9000.0
        progress(1, 1, 0.5)
    assert capsys.readouterr().err == ""


def test_a_long_run_is_announced_before_it_starts(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A size off by a factor of 1,000 started a run of days without a word."""
    system = podsim.system(SMALL)
    # The packet count is the engine's: every data packet of a small run, acknowledgements aside.
    wl = podsim.workloads.all_reduce(system, (1 << 20) + 12345)
    res = podsim.simulate(system, wl)
    assert running.data_packets(system, wl, None) == res.ledger.injected_packets.sum() - len(wl)
    assert running.data_packets(system, wl, 1056) == float(np.ceil(wl.size / 1024).sum())

    def refuse_to_run(*args: Any, **kwargs: Any) -> NoReturn:
        raise KeyboardInterrupt

    monkeypatch.setattr(podsim, "simulate", refuse_to_run)
    code, _, err = run(capsys, "run", SMALL, "all-to-all", "--bytes-per-pair", "1TiB")
    packets = 56 * np.ceil(2**40 / (4096 - 32))  # 8 x 7 pairs, 4,064 B of data per 4 KiB packet
    assert code == 130 and f"moves {packets:,.0f} packets" in err
    assert f"that takes {running.in_words(packets / 2e6)} to {running.in_words(packets / 0.1e6)}" in err
    code, _, err = run(capsys, "run", SMALL, "all-to-all", "--bytes-per-pair", "64MiB")
    assert code == 130 and "moves" not in err  # 18 s at most: no note
    # The slowest pace measured decides: 60 M packets may take 10 minutes, where the fastest
    # would take 30 s (CloudMatrix 384's 1 GiB all-to-all, 201 M packets, took 24 minutes).
    code, _, err = run(capsys, "run", SMALL, "all-to-all", "--bytes-per-pair", "4500MiB")
    assert code == 130 and "moves 65,019,976 packets" in err and "that takes 33 seconds to 11 minutes" in err
    assert [running.in_words(s) for s in (90, 1800, 4 * 3600, 3.6 * 86400)] == ["90 seconds", "30 minutes", "4 hours", "3.6 days"]


def test_out_of_memory_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A fabric or run beyond the machine's memory (the engine's std::bad_alloc) ends in one line."""

    def too_big(topology: object, messages: object, **kwargs: object) -> None:
        raise MemoryError("std::bad_alloc")

    monkeypatch.setattr(podsim, "simulate", too_big)
    code, _, err = run(capsys, "run", SMALL, "all-reduce", "--size", "1MiB")
    assert code == 1
    assert err.startswith("podsim: error: out of memory") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        # An error of the Python API names the option that set the argument.
        (["run", SMALL, "all-to-all", "--retransmit-timeout", "0ps"], "--retransmit-timeout (retransmit_timeout_ps): must be in [1,"),
        (["run", "cloudmatrix384", "all-reduce", "--ranks", "20", "--algorithm", "hierarchical"],
         "--ranks (groups): every group must have the same number of ranks, got sizes [4, 16] (a subset of a system's ranks "
         "must hold whole groups: a multiple of 16 ranks)"),
        (["demo", "--groups", "0"], "--groups: must be in [1, 48], got 0"),
        # A repair must follow a failure of the same element.
        (["run", "gb300-nvl72", "all-to-all", "--fail", "tray:tray0@2us", "--repair", "tray:tray0@1us"],
         "--repair tray:tray0@1 us: not after its --fail (at 2 us)"),
        (["run", "gb300-nvl72", "all-to-all", "--repair", "tray:tray0@1us"],
         "--repair tray:tray0@1 us: repairs nothing, no --fail takes anything down"),
        # A failure of what is already down.
        (["run", "gb300-nvl72", "all-to-all", "--fail", "tray:tray0@1us", "--fail", "tray:tray0@2us"],
         "--fail tray:tray0@2 us: already down since 1 us, with no --repair before it"),
        (["run", "gb300-nvl72", "all-to-all", "--fail", "tray:tray0@2us", "--fail", "tray:tray0", "--repair", "tray:tray0@3us"],
         "--fail tray:tray0@2 us: already down since 0 ps, with no --repair before it"),
        # At one time the engine applies failures first: this --fail would do nothing.
        (["run", "gb300-nvl72", "all-to-all", "--fail", "tray:tray0@1us", "--repair", "tray:tray0@2us", "--fail", "tray:tray0@2us"],
         "--fail tray:tray0@2 us: already down since 1 us, with no --repair before it (at one time, failures apply first)"),
        # A field is only renamed when its option was given: here 'load' is the system's name.
        (["run", "load", "all-to-all"], "podsim: error: load: no such spec file"),
    ],
)
def test_errors_name_what_the_user_typed(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
