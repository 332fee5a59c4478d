"""Chrome trace-event export: valid JSON, the expected phases, windows and the size cap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import podsim
from podsim import cli
from podsim.cli import running
from podsim.trace_export import COUNTER_BINS, TraceTooLarge, chrome_trace, write_chrome_trace


@pytest.fixture(scope="module")
def system() -> podsim.System:
    return podsim.system("hgx-h100")


@pytest.fixture(scope="module")
def run(system: podsim.System) -> podsim.Result:
    return podsim.simulate(system, podsim.workloads.all_gather(system, 256 << 10), trace=100_000)


def _phases(events: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in events:
        out[e["ph"]] = out.get(e["ph"], 0) + 1
    return out


def test_whole_run(tmp_path: Path, system: podsim.System, run: podsim.Result) -> None:
    path = tmp_path / "t.json"
    meta = write_chrome_trace(path, run, system.topology, roles=system.roles())
    doc = json.loads(path.read_text())
    events = doc["traceEvents"]
    ph = _phases(events)
    assert ph["b"] == ph["e"] == len(run.messages) == meta["messages"]
    assert ph["X"] == len(run.trace) == meta["transmissions"]
    assert ph["C"] == COUNTER_BINS * 2  # gpu→switch and switch→gpu
    begin = {e["id"]: e["ts"] for e in events if e["ph"] == "b"}
    assert all(e["ts"] >= begin[e["id"]] for e in events if e["ph"] == "e")
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert "tier gpu→switch" in names and system.topology.names[int(system.ranks[0])] in names
    # Packet slices of one channel never overlap: it sends one packet at a time.
    x = sorted((e["tid"], e["ts"], e["dur"]) for e in events if e["ph"] == "X")
    for (c0, t0, d0), (c1, t1, _) in zip(x, x[1:]):
        assert c0 != c1 or t1 >= t0 + d0 - 1e-9


def test_window_clips_and_selects(system: podsim.System, run: podsim.Result) -> None:
    lo, hi = run.now_ps // 4, run.now_ps // 2
    doc = chrome_trace(run, system.topology, window_ps=(lo, hi))
    events = doc["traceEvents"]
    timed = [e for e in events if e["ph"] in "beX"]
    assert all(lo / 1e6 - 1e-9 <= e["ts"] <= hi / 1e6 + 1e-9 for e in timed if e["ph"] != "X")
    # Packet slices are cut to the window too (they once ran past both of its ends).
    assert all(lo / 1e6 - 1e-9 <= e["ts"] and e["ts"] + e["dur"] <= hi / 1e6 + 1e-9 and e["dur"] > 0
               for e in timed if e["ph"] == "X")
    whole = _phases(chrome_trace(run, system.topology)["traceEvents"])
    assert 0 < _phases(events)["X"] < whole["X"]
    with pytest.raises(ValueError, match=r"window: \[1000000000, 2000000000\) ps = \[1 ms, 2 ms\) is empty or after the run's end \(\d+ ps = [\d.]+ us\)"):
        chrome_trace(run, system.topology, window_ps=(10**9, 2 * 10**9))
    with pytest.raises(ValueError, match=r"window_ps: must be in \[0, "):
        chrome_trace(run, system.topology, window_ps=(-5, 100))
    with pytest.raises(ValueError, match=r"max_events: must be in \[1, "):
        chrome_trace(run, system.topology, max_events=-1)
    for window in (None, (0, 1, 2)):
        with pytest.raises(TypeError, match=r"window_ps: expected \(start, end\) in ps"):
            chrome_trace(run, system.topology, window_ps=window)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="topology: has 4 channels"):
        chrome_trace(run, podsim.fabrics.star(2, podsim.fabrics.LinkParams(rate_Bps=1e9, latency_ps=1)))
    tier, names = podsim.report.channel_tiers(system.topology)
    assert run.trace is not None
    with pytest.raises(ValueError, match="edges_ps: must be at least two increasing times"):
        podsim.report.tier_utilization_over_time(run.trace, tier, len(names), np.array([10.0, 5.0]))


def test_without_a_recorded_trace(system: podsim.System) -> None:
    res = podsim.simulate(system, podsim.workloads.all_gather(system, 64 << 10))
    events = chrome_trace(res, system.topology)["traceEvents"]
    ph = _phases(events)
    assert "X" not in ph and ph["b"] == len(res.messages)
    values = {e["args"]["busy"] for e in events if e["ph"] == "C" and e["pid"] == events[-1]["pid"]}
    assert len(values) == 1  # a whole-run mean: flat


def test_cap_on_events(system: podsim.System, run: podsim.Result) -> None:
    with pytest.raises(TraceTooLarge, match="narrow the window"):
        chrome_trace(run, system.topology, max_events=100)


def test_cli_trace_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace, png = tmp_path / "t.json", tmp_path / "p.png"
    code = cli.main(["run", "hgx-h100", "all-gather", "--size", "64KiB", "--trace", str(trace), "--trace-window", "1us:",
                     "--plot", str(png), "--quiet"])
    _, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(trace.read_text())
    assert doc["otherData"]["podsim"]["window_ps"][0] == 1_000_000
    assert {"M", "b", "e", "X", "C"} <= set(_phases(doc["traceEvents"]))
    assert png.stat().st_size > 20_000
    code = cli.main(["run", "hgx-h100", "all-gather", "--size", "64KiB", "--trace", str(trace), "--trace-max-events", "50"])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "--trace-window" in err
    assert np.isfinite(doc["traceEvents"][-1]["ts"])


def test_truncated_recording_falls_back_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(running, "TRACE_RECORD_LIMIT", 100)
    png, trace = tmp_path / "p.png", tmp_path / "t.json"
    code = cli.main(["run", "hgx-h100", "all-gather", "--size", "64KiB", "--plot", str(png), "--trace", str(trace)])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "recorded the first 100 packet transmissions only" in err and "warning" not in err
    assert png.stat().st_size > 10_000
    assert json.loads(trace.read_text())["otherData"]["podsim"]["trace_dropped"] > 0
