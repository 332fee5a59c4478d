"""The ``podsim`` command line: every command, machine-readable output, and one-line errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pytest

import podsim
from podsim import cli, report
from podsim.cli import entry, options, running, workload_options
from podsim.cli.progress import Progress
from podsim.units import (
    exact_size, exact_time, format_bytes, format_rate, format_time_ps, parse_size, parse_time_ps, parse_window_ps,
)

SMALL = "hgx-h100"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str, expect: int = 0) -> Any:
    code, out, err = run(capsys, *argv, "--json")
    assert code == expect, err
    return json.loads(out)


# --- units ----------------------------------------------------------------------------------


def test_parse_time_and_window() -> None:
    assert parse_time_ps("250ns") == 250_000
    assert parse_time_ps("1.5us") == 1_500_000
    assert parse_time_ps("2ms") == 2 * 10**9
    assert parse_time_ps("7ps") == 7 and parse_time_ps("0") == 0
    with pytest.raises(ValueError, match=r"retransmit_timeout: '10' needs a unit \(ps, ns, us, ms or s\), e.g. 250ns"):
        parse_time_ps("10", "retransmit_timeout")  # 10 ps, or 10 us? It used to be 10 ps, silently
    assert parse_window_ps("10us:20us") == (10**7, 2 * 10**7)
    assert parse_window_ps(":5us") == (0, 5 * 10**6)
    assert parse_window_ps("1us:") == (10**6, None)
    for bad in ("5 parsecs", "0.5ps", "-1us"):
        with pytest.raises(ValueError, match="time"):
            parse_time_ps(bad)
    for bad in ("10us", "20us:10us", "1:2:3"):
        with pytest.raises(ValueError, match="window"):
            parse_window_ps(bad)


def test_decimal_units_are_exact() -> None:
    """Decimal fractions are parsed exactly, not through binary floats."""
    assert parse_time_ps("2.01ns") == 2010
    assert parse_size("16.1KB") == 16_100
    assert parse_size("9007199254740993") == 9_007_199_254_740_993  # 2^53 + 1
    with pytest.raises(ValueError, match=r"size: must be a whole number of bytes >= 1, got '1.5' = 1.5 B"):
        parse_size("1.5")
    with pytest.raises(TypeError, match="size: expected a string"):
        parse_size(None)  # type: ignore[arg-type]
    assert parse_size("4kB") == parse_size("4KB") == 4000 and parse_size("4KiB") == 4096
    for bits in ("4Kb", "4kb", "1Gb", "8b", "4Kib"):  # it used to run 4Kb as 4,000 bytes
        with pytest.raises(ValueError, match=r"is in bits \(a lower-case b\); sizes are in bytes"):
            parse_size(bits)


@pytest.mark.parametrize("n", [1, 1000, 1024, 65536, 1_000_000, 3 << 20, 5 << 30, 7 << 40, 2**48 - 1])
def test_exact_sizes_and_times_read_back(n: int) -> None:
    """What the CLI shows as typed (its defaults) parses back to the same value."""
    assert parse_size(exact_size(n)) == n and parse_time_ps(exact_time(n)) == n
    assert exact_size(65536) == "64KiB" and exact_size(1_000_000) == "1000000" and exact_time(2_000_000) == "2us"


def test_sizes_never_show_an_exponent() -> None:
    assert format_bytes(1_033_973) == "1010 KiB"  # was '1.01e+03 KiB'
    assert format_bytes(14563) == "14.2 KiB" and format_bytes(3_000_000) == "2.86 MiB" and format_bytes(5000 * 2**40) == "5000 TiB"


def test_rates_stay_in_tb_per_s() -> None:
    assert format_rate(1.2288e15, "uni") == "1229 TB/s uni"
    assert format_rate(28e9, "bidi") == "28 GB/s bidi"


# --- commands -------------------------------------------------------------------------------


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0
    for name in [*podsim.list_systems(), *workload_options.WORKLOADS]:
        assert name in out
    data = run_json(capsys, "list")
    assert [s["name"] for s in data["systems"]] == podsim.list_systems()


def test_list_out_holds_systems_and_workloads(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, _ = run(capsys, "list", "--out", str(tmp_path / "l.csv"))
    table = pd.read_csv(tmp_path / "l.csv")
    assert code == 0 and list(table["name"]) == [*podsim.list_systems(), *workload_options.WORKLOADS]
    assert list(table["kind"]) == ["system"] * len(podsim.list_systems()) + ["workload"] * len(workload_options.WORKLOADS)


@pytest.mark.parametrize("workload", ["all-to-all", "broadcast", "moe", "p2p", "synthetic"])
def test_listed_defaults_are_the_ones_used(capsys: pytest.CaptureFixture[str], workload: str) -> None:
    """A run without options equals one given the defaults 'podsim list' shows, typed as shown."""
    listed = next(w for w in run_json(capsys, "list")["workloads"] if w["name"] == workload)
    code, out, _ = run(capsys, "list")
    line = next(x for x in out.splitlines() if x.split()[:1] == [workload])
    typed = line[line.rindex("[") + 1 : line.rindex("]")].split()
    assert sorted(typed[::2]) == sorted("--" + d.replace("_", "-") for d in listed["defaults"])
    bare = run_json(capsys, "run", SMALL, workload)
    given = run_json(capsys, "run", SMALL, workload, *typed)
    assert bare["time_s"] == given["time_s"] and bare["delivered_bytes"] == given["delivered_bytes"] > 0


def test_run_help_shows_every_workload_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "run", "--help")
    assert code == 0
    text = " ".join(out.split())
    bare = "".join(out.split())  # argparse wraps lines at hyphens too: "all-\n gather"
    assert "--duration TIME synthetic: arrival window, e.g. 5us (default 2us)" in text
    assert "(default1MiBforall-reduce,all-gather,reduce-scatter,broadcast,reduce;64KiBforp2p;4KiBforsynthetic)" in bare
    entries: dict[str, str] = {}  # option -> its help entry, from the line that starts it
    for line in out.splitlines():
        if line.startswith("  -"):
            flag = line.split()[0]
            entries[flag] = line
        elif line.startswith("   ") and entries:
            entries[flag] += line
    for dest in workload_options.WORKLOAD_OPTS:
        assert entries["--" + dest.replace("_", "-")].count("(default") == 1, dest


def test_peak_text_json_and_csv(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "peak", SMALL, "gb300-nvl72")
    assert code == 0
    assert "INT8 dense" in out and f"{podsim.system('gb300-nvl72').peak().int8_ops / 1e15:,.4g} POPS" in out
    assert "TB/s uni" in out and "TB/s bidi" in out and "gb300-nvl72" in out
    data = run_json(capsys, "peak", SMALL, "--out", str(tmp_path / "p.csv"))
    expected = podsim.system(SMALL).peak()
    assert data[0]["scale_up_bidi_Bps"] == expected.scale_up_bidi_Bps
    back = pd.read_csv(tmp_path / "p.csv")
    assert back.loc[0, "hbm_bandwidth_uni_Bps"] == expected.hbm_bandwidth_uni_Bps


def test_run_reports_what_the_api_computes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "run", SMALL, "all-reduce", "--size", "1MiB", "--seed", "3")
    assert code == 0
    assert "completed in" in out and "busbw" in out and "GB/s uni" in out and "TB/s bidi" in out
    data = run_json(capsys, "run", SMALL, "all-reduce", "--size", "1MiB", "--seed", "3")
    s = podsim.system(SMALL)
    wl = podsim.workloads.all_reduce(s, 1 << 20)
    stats = wl.evaluate(podsim.simulate(s, wl, seed=3))
    assert data["complete"] and data["ranks"] == 8
    assert data["time_s"] == pytest.approx(stats.time_s, rel=1e-12)
    assert data["busbw_Bps"] == pytest.approx(stats.busbw_Bps, rel=1e-12)
    assert data["peak_uni_Bps"] == s.peak().scale_up_uni_Bps
    assert 0 < data["efficiency"] <= 1


@pytest.mark.parametrize(
    "workload, options",
    [
        ("all-to-all", ["--bytes-per-pair", "4KiB"]),
        ("all-reduce", ["--size", "256KiB", "--algorithm", "tree", "--chunks", "2"]),
        ("all-gather", ["--size", "256KiB"]),
        ("reduce-scatter", ["--size", "256KiB", "--algorithm", "rhd"]),
        ("broadcast", ["--bytes", "256KiB", "--root", "3"]),  # --bytes: DESIGN.md's spelling of --size
        ("reduce", ["--size", "256KiB"]),
        ("moe", ["--tokens", "4", "--experts", "16", "--top-k", "2", "--skew", "1"]),
        ("p2p", ["--size", "8KiB", "--pattern", "latency", "--iterations", "4"]),
        ("synthetic", ["--pattern", "permutation", "--load", "0.3", "--duration", "1us", "--size", "2KiB"]),
    ],
)
def test_every_workload_runs(capsys: pytest.CaptureFixture[str], workload: str, options: list[str]) -> None:
    data = run_json(capsys, "run", SMALL, workload, *options, "--routing", "spray", "--mtu", "2KiB")
    assert data["complete"] and data["delivered_bytes"] > 0 and data["mtu"] == 2048 and data["routing"] == "spray"


def test_run_coupled_to_hbm(capsys: pytest.CaptureFixture[str]) -> None:
    plain = run_json(capsys, "run", SMALL, "all-gather", "--size", "1MiB")
    assert not plain["hbm_coupled"] and plain["hbm_bytes"] == 0
    data = run_json(capsys, "run", SMALL, "all-gather", "--size", "1MiB", "--hbm")
    # Every payload byte is read from the source's HBM once and written into the destination's once.
    assert data["hbm_coupled"] and data["hbm_bytes"] == 2 * data["delivered_bytes"] > 0
    assert data["hbm_peak_uni_Bps"] == podsim.system(SMALL).peak().hbm_bandwidth_uni_Bps
    code, out, _ = run(capsys, "run", SMALL, "all-gather", "--size", "1MiB", "--hbm")
    # The HBM rate is over the completion time, as the fabric's are, not the run's final acks.
    rate = format_rate(data["hbm_bytes"] / data["time_s"], "uni")
    assert code == 0 and f"HBM: 14 MiB read + written, {rate} over the completion time" in out


def test_run_on_a_subset_of_ranks(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "run", "gb300-nvl72", "all-to-all", "--ranks", "4", "--bytes-per-pair", "8KiB")
    s = podsim.system("gb300-nvl72")
    assert data["ranks"] == 4 and data["messages"] == 12
    assert data["peak_uni_Bps"] == pytest.approx(4 * s.peak().scale_up_uni_Bps / len(s.ranks))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_run_out_round_trip(capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str) -> None:
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    path = tmp_path / f"run{suffix}"
    code, _, err = run(capsys, "run", SMALL, "all-gather", "--size", "64KiB", "--out", str(path))
    assert code == 0 and str(path) in err
    back = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    s = podsim.system(SMALL)
    wl = podsim.workloads.all_gather(s, 64 << 10)
    res = podsim.simulate(s, wl)
    assert len(back) == len(wl)
    np.testing.assert_array_equal(back["end_ps"].to_numpy(dtype=np.uint64), res.messages.end_ps)
    assert set(back["phase"]) == set(wl.phase_names)


def test_parquet_without_pyarrow_names_the_extra(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    code, _, err = run(capsys, "peak", SMALL, "--out", str(tmp_path / "p.parquet"))
    assert code == 2
    assert err.count("\n") == 1 and "podsim[parquet]" in err


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
    assert len(achieved) == 14 and (achieved[achieved["metric"] == "delivered / peak"][[SMALL, "hgx-h20"]] <= 100).all().all()
    data = run_json(capsys, "compare", SMALL, "hgx-h20", "--workload", "broadcast", "--size", "64KiB")
    assert [r["system"] for r in data["runs"]["broadcast"]] == [SMALL, "hgx-h20"]
    assert all(r["complete"] for r in data["runs"]["broadcast"])


def test_readme_quick_start_table_is_what_compare_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """The README shows the output of its first command; it must not drift from it."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("| scope | metric | unit | cloudmatrix384 | gb300-nvl72 |")
    shown = readme[start : readme.index("\n\n", start)].splitlines()
    code, out, _ = run(capsys, "compare", "cloudmatrix384", "gb300-nvl72")
    assert code == 0
    assert out.splitlines()[: len(shown) + 1] == [*shown, ""]


def test_export_round_trip(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "h100.topo"
    code, out, _ = run(capsys, "export", SMALL, str(path))
    assert code == 0 and "wrote" in out
    # No transaction size of its own: coupled to HBM, a run takes memory=True's.
    assert podsim._core.load_sim_config(f"{path}.run", with_memory=False)["txn_bytes"] == 0
    assert podsim._core.load_sim_config(f"{path}.run", with_memory=True)["txn_bytes"] == podsim.simulation.MEMORY_TXN_BYTES
    back = podsim.Topology.load(path)
    topo = podsim.system(SMALL).topology
    assert (back.num_nodes, back.num_channels) == (topo.num_nodes, topo.num_channels)
    np.testing.assert_array_equal(back.channels().rate_Bps, topo.channels().rate_Bps)


def test_export_tells_a_cpp_host_the_run_settings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The file holds the fabric only: CloudMatrix 384's packet and transaction sizes must reach a
    C++ host some other way, or its results differ from podsim.simulate's."""
    code, out, _ = run(capsys, "export", "cloudmatrix384", str(tmp_path / "cm.topo"))
    assert code == 0 and "podsim::load_sim_config" in out
    # They go in FILE.run, exactly as podsim.simulate(system) runs, with and without HBM.
    cm = podsim.system("cloudmatrix384")
    for memory in (False, True):
        loaded = podsim._core.load_sim_config(str(tmp_path / "cm.topo.run"), with_memory=memory)
        assert loaded == podsim.Simulation(cm, memory=memory)._core.config
        assert (loaded["mtu_bytes"], loaded["header_bytes"], loaded["txn_bytes"]) == (4128, 32, 4096)
    # Its endpoints mix dies and CPUs: the ranks are listed, as endpoint indices in rank order.
    listed = [int(x) for x in (tmp_path / "cm.topo.ranks").read_text().split()]
    assert cm.topology.endpoints[listed].tolist() == cm.ranks.tolist() and listed[16] != 16
    # And one rank's HBM, as memory=True gives every rank: a 910C die's four HBM2E stacks.
    loaded = podsim._core.HbmConfig.load(str(tmp_path / "cm.topo.hbm"))
    want = podsim.hbm.Device.from_rank(cm.rank_memory).config()
    assert "podsim::memory::load_hbm_config" in out
    assert hbm_fields(loaded) == hbm_fields(want) and loaded.peak_Bps == cm.peak().hbm_bandwidth_uni_Bps / 768


def hbm_fields(config: podsim._core.HbmConfig) -> dict[str, object]:
    """Every field of an HBM configuration, the timings included."""
    def public(obj: object) -> dict[str, object]:
        return {k: getattr(obj, k) for k in dir(obj) if not k.startswith("_") and not callable(getattr(obj, k))}

    return {**public(config), "timing": public(config.timing)}


def test_bench_runs_the_suites_cases(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "bench", "--list", "--full")
    names = out.split()
    assert any(n.startswith("ft2_256_permutation") for n in names) and "cm_shape_all_to_all_64KiB[groups=48]" in names
    code, out, _ = run(capsys, "bench", "--case", "[groups=1]")
    assert code == 0 and out.splitlines()[0].startswith("case") and "cm_shape_all_to_all_64KiB[groups=1]" in out
    data = run_json(capsys, "bench", "--case", "[groups=1]", "--out", str(tmp_path / "b.csv"))
    assert data[0]["events"] > 0 and pd.read_csv(tmp_path / "b.csv").loc[0, "events"] == data[0]["events"]


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "run", "--help")
    assert code == 0 and "--bytes-per-pair" in out and "--trace-window" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"podsim {podsim.__version__}"


def test_demo_and_install_paths(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--groups", "1", "--bytes-per-pair", "4KiB")
    assert code == 0 and "ledger balanced: True" in out
    code, out, _ = run(capsys, "--cmake-dir")
    assert code == 0 and (Path(out.strip()) / "podsimConfig.cmake").is_file()
    code, out, _ = run(capsys, "--include-dir")
    assert code == 0 and (Path(out.strip()) / "podsim" / "podsim.h").is_file()
    code, out, _ = run(capsys, "--lib-dir")
    assert code == 0 and (Path(out.strip()) / "libpodsim.a").is_file()


def test_module_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "podsim", "peak", "hgx-h20"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "hgx-h20" in done.stdout


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
    assert code == 0 and f"| HBM strided | achieved, read + written, all ranks | TB/s | {rows[0]['achieved_Bps'] / 1e12:,.4g} | " \
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


# --- errors and interruption ------------------------------------------------------------------


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
        (["run", SMALL, "all-reduce", "--out", "table.xlsx"], ".csv or .parquet"),
        (["run", SMALL, "all-reduce", "--plot", "/nonexistent-dir/p.png"], "does not exist"),
        (["run", SMALL, "all-reduce", "--trace", "t.txt"], ".json"),
        (["run", SMALL, "all-reduce", "--routing", "random"], "routing"),
        (["run", SMALL, "synthetic", "--load", "2"], "load"),
        (["run", SMALL], "WORKLOAD"),
        (["compare", SMALL], "at least 2 systems"),
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
    assert f"that takes {running.in_words(packets / 2e6)} to {running.in_words(packets / 0.5e6)}" in err
    code, _, err = run(capsys, "run", SMALL, "all-to-all", "--bytes-per-pair", "64MiB")
    assert code == 130 and "moves" not in err  # 3.7 s at most: no note
    assert [running.in_words(s) for s in (90, 1800, 4 * 3600, 3.6 * 86400)] == ["90 seconds", "30 minutes", "4 hours", "3.6 days"]


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


def test_run_through_a_failure(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "run", "gb300-nvl72", "all-to-all", "--bytes-per-pair", "64KiB", "--fail", "tray:tray0@4us",
                         "--recovery", "replay", "--retransmit-timeout", "1us")
    assert code == 0, err
    assert "packets lost (retransmitted end to end)" in out and "replayed by link-level retry" in out
    data = run_json(capsys, "run", "gb300-nvl72", "all-to-all", "--bytes-per-pair", "64KiB", "--fail", "tray:tray0@4us",
                    "--repair", "tray:tray0@6us")
    assert data["complete"] and data["lost_packets"] > 0


def test_run_fault_errors_name_the_problem(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run", "gb300-nvl72", "all-to-all", "--fail", "bogus")
    assert code == options.EXIT_USAGE and "KIND:NAME[@TIME]" in err
    code, _, err = run(capsys, "run", "gb300-nvl72", "all-to-all", "--repair", "tray:tray0")
    assert code == options.EXIT_USAGE and "a repair needs a time" in err
    code, _, err = run(capsys, "run", "gb300-nvl72", "all-to-all", "--fail", "tray:tray99@1us")
    assert code == options.EXIT_USAGE and "9 switch trays" in err
    every_switch = [a for k in range(4) for a in ("--fail", f"switch:nvswitch{k}")]
    code, _, err = run(capsys, "run", "hgx-h100", "all-to-all", "--bytes-per-pair", "64KiB", *every_switch)
    assert code == options.EXIT_FAILED and "cut ranks off" in err and "cannot reach" in err


def test_out_of_memory_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A fabric or run beyond the machine's memory (the engine's std::bad_alloc) ends in one line."""

    def too_big(topology: object, messages: object, **kwargs: object) -> None:
        raise MemoryError("std::bad_alloc")

    monkeypatch.setattr(podsim, "simulate", too_big)
    code, _, err = run(capsys, "run", SMALL, "all-reduce", "--size", "1MiB")
    assert code == 1
    assert err.startswith("podsim: error: out of memory") and err.count("\n") == 1


def test_compare_names_a_system_given_twice(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "compare", SMALL, SMALL)
    assert code == 2
    assert f"'{SMALL}' is given twice" in err and "Traceback" not in err


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


def test_fail_again_after_a_repair_and_late_faults(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run", "gb300-nvl72", "all-to-all", "--bytes-per-pair", "8KiB", "--fail", "tray:tray0@100ns",
                       "--repair", "tray:tray0@200ns", "--fail", "tray:tray0@300ns")
    assert code == 0 and "warning" not in err, err
    # A change after the last message completed does nothing: said, not silently accepted.
    code, out, err = run(capsys, "run", "gb300-nvl72", "all-to-all", "--fail", "tray:tray0@1ms")
    assert code == 0 and "completed in" in out
    assert "warning: --fail tray:tray0@1 ms: after the workload's last message completed (" in err and "changed nothing" in err


def test_a_run_with_faults_says_its_peaks_are_the_intact_fabrics(capsys: pytest.CaptureFixture[str]) -> None:
    """A tray down from the start lost nothing in flight, so nothing in the output said a tray was
    down, beside peaks of the whole machine."""
    code, out, _ = run(capsys, "run", "gb300-nvl72", "all-to-all", "--fail", "tray:tray0", "--repair", "tray:tray0@1us")
    assert code == 0
    assert "  fault plan: --fail tray:tray0@0 ps, --repair tray:tray0@1 us (the peaks above are of the intact fabric)" in out
    code, out, _ = run(capsys, "run", "gb300-nvl72", "all-to-all")
    assert "fault plan" not in out


def test_a_repair_may_name_part_of_what_failed(capsys: pytest.CaptureFixture[str]) -> None:
    """A switch of a failed tray, or a link written the other way round: valid plans the run handles."""
    for fail, repair in (("tray:tray0@1us", "switch:nvswitch00@2us"),
                         ("link:nvswitch00~gpu00#0@1us", "link:gpu00~nvswitch00#0@2us")):
        code, _, err = run(capsys, "run", "gb300-nvl72", "all-to-all", "--bytes-per-pair", "8KiB", "--fail", fail, "--repair", repair)
        assert code == 0, err


def test_p2p_peer(capsys: pytest.CaptureFixture[str]) -> None:
    """On CloudMatrix 384 rank 1 is rank 0's sibling die (the on-package link); --peer reaches the
    UB fabric: another package (2) and another node (16) take longer."""
    times = [run_json(capsys, "run", "cloudmatrix384", "p2p", "--pattern", "latency", "--size", "512", "--peer", p)["time_s"]
             for p in ("1", "2", "16")]
    assert times[0] < times[1] < times[2]
    code, _, err = run(capsys, "run", "cloudmatrix384", "p2p", "--peer", "0")
    assert code == 2 and "--peer (peer): must" in err
    # A latency test reports its latency; its injection peak is that of the rank that sends the
    # data (the initiator of a write, the target of a read, both in a ping-pong), its per-rank
    # peak that of one of its two ranks.
    data = run_json(capsys, "run", "cloudmatrix384", "p2p", "--pattern", "latency", "--size", "512", "--peer", "2")
    assert data["ranks"] == 2 and data["time_s"] == pytest.approx(16 * data["message_latency_s"], rel=1e-12)
    one_rank = podsim.system("cloudmatrix384").peak().scale_up_uni_Bps / 768
    assert data["peak_uni_Bps"] == data["peak_per_rank_uni_Bps"] == one_rank
    # A ping-pong alternates: one rank sends at a time, so "of peak" agrees with busbw's share.
    data = run_json(capsys, "run", "cloudmatrix384", "p2p", "--pattern", "ping_pong", "--size", "512", "--peer", "2")
    assert data["peak_uni_Bps"] == data["peak_per_rank_uni_Bps"] == one_rank
    assert data["efficiency"] == data["achieved_uni_Bps"] / one_rank == data["busbw_Bps"] / one_rank
    system = podsim.system("cloudmatrix384")
    reads = podsim.workloads.point_to_point(system, 512, pattern="bandwidth", kind="read", peer=2, iterations=4)
    summary = report.summarize(system.name, reads, podsim.simulate(system, reads), system.topology,
                               routing="adaptive", seed=1, mtu=4096)
    assert summary.peak_uni_Bps == summary.peak_per_rank_uni_Bps == one_rank
    code, out, _ = run(capsys, "run", "cloudmatrix384", "p2p", "--pattern", "latency", "--size", "512", "--peer", "2")
    assert out.splitlines()[0].endswith("2 ranks, S = 8 KiB, 16 messages of 512 B")  # S: the test's whole payload
    assert (f"message latency {format_time_ps(data['message_latency_s'] * 1e12)} mean (start to last byte delivered); "
            f"{format_time_ps(data['completion_latency_s'] * 1e12)} to completion at the initiator (write acknowledged)") in out
    # Completion is what the calibration fits: on this path (die to a die of another package), the
    # measured 1.3 us; delivery comes before it, by the write commit and the acknowledgement.
    assert data["completion_latency_s"] == pytest.approx(1.3e-6, rel=0.01) and data["message_latency_s"] < 0.7 * 1.3e-6


def test_synthetic_reports_the_load_it_offered(capsys: pytest.CaptureFixture[str]) -> None:
    """Open-loop traffic: the delivered figure spans the drain too, so the offered load is shown
    beside it (a short window read as a fabric that cannot keep up)."""
    data = run_json(capsys, "run", SMALL, "synthetic", "--pattern", "uniform", "--load", "0.5")
    assert data["offered_uni_Bps"] == pytest.approx(0.5 * data["peak_uni_Bps"], rel=1e-12)
    assert data["achieved_uni_Bps"] < data["offered_uni_Bps"]  # 2 us of arrivals, then the drain
    code, out, _ = run(capsys, "run", SMALL, "synthetic", "--pattern", "uniform", "--load", "0.5")
    assert f"offered {format_rate(data['offered_uni_Bps'], 'uni')} (50.0% of that peak) while messages arrive" in out
    assert run_json(capsys, "run", SMALL, "all-to-all")["offered_uni_Bps"] is None


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
