"""The ``podsim`` command line: list, peak, export, bench, demo, help and the entry points."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import SMALL, run, run_json

import podsim
from podsim.cli import workload_options


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
    # Capacity in TiB from 1 TiB on, else GiB: 8 x 80 GiB is 640 GiB, 72 x 288 GiB 20.25 TiB.
    assert [line.split()[2:] for line in out.splitlines() if line.startswith("HBM capacity")] == [
        ["640", "GiB", "20.25", "TiB"]
    ]
    # A power figure says what it counts (hgx-h100 has none).
    assert [line.split()[-1] for line in out.splitlines() if line.startswith("power basis")] == ["output"]
    data = run_json(capsys, "peak", SMALL, "gb300-nvl72", "--out", str(tmp_path / "p.csv"))
    expected = podsim.system(SMALL).peak()
    assert data[0]["scale_up_bidi_Bps"] == expected.scale_up_bidi_Bps
    assert (data[0]["power_basis"], data[1]["power_basis"]) == (None, "power-shelf output")
    back = pd.read_csv(tmp_path / "p.csv")
    assert back.loc[0, "hbm_bandwidth_uni_Bps"] == expected.hbm_bandwidth_uni_Bps


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


def test_export_gives_a_cpp_host_the_run_settings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The topology file holds the fabric only: CloudMatrix 384's packet and transaction sizes
    reach a C++ host in FILE.run, else its results would differ from podsim.simulate's."""
    code, out, _ = run(capsys, "export", "cloudmatrix384", str(tmp_path / "cm.topo"))
    assert code == 0 and "podsim::load_sim_config" in out
    assert "4,128-byte packets with 32-byte headers, transactions of 4,096 bytes" in out
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
    # The printed rate is over the printed time to the last byte (it was printed next to the
    # time to the last acknowledgement): 16 x 15 pairs of 4 KiB.
    time = re.search(r"last byte delivered after ([\d.]+) us", out)
    rate = re.search(r"achieved ([\d.]+) ([GT])B/s uni", out)
    assert time and rate and "last acknowledgement after" in out
    scale = {"G": 1e9, "T": 1e12}[rate[2]]
    assert float(rate[1]) * scale * float(time[1]) * 1e-6 == pytest.approx(16 * 15 * 4096, rel=2e-3)
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
