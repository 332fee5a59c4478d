"""The ``podsim run`` command: every workload, its output files, faults during the run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import SMALL, run, run_json

import podsim
from podsim import report
from podsim.cli import options
from podsim.units import format_rate, format_time_ps


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


def test_out_names_the_ranks_of_each_message(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--peer and --root count ranks, src and dst are fabric node ids (rank 5 of NVL72 is node 23):
    the file gives both."""
    path = tmp_path / "p2p.csv"
    code, _, _ = run(capsys, "run", "cloudmatrix384", "p2p", "--peer", "16", "--iterations", "2", "--out", str(path))
    back = pd.read_csv(path)
    assert code == 0 and (back["src_rank"] == 0).all() and (back["dst_rank"] == 16).all()
    ranks = podsim.system("cloudmatrix384").ranks
    assert (back["src"] == ranks[0]).all() and (back["dst"] == ranks[16]).all() and ranks[16] != 16


def test_the_printed_latencies_are_the_means_of_the_written_columns(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The summary's message latency (to the last byte) and completion latency (to the write's
    acknowledgement) are the means of --out's delivered_latency_ps and latency_ps: the file had
    only the latter, under the name the summary gives the former."""
    path = tmp_path / "a2a.csv"
    data = run_json(capsys, "run", SMALL, "all-to-all", "--bytes-per-pair", "16KiB", "--out", str(path))
    back = pd.read_csv(path)
    assert (back["delivered_latency_ps"] < back["latency_ps"]).all()  # writes: the acknowledgement comes after
    assert data["message_latency_s"] == pytest.approx(back["delivered_latency_ps"].mean() * 1e-12, rel=1e-9)
    assert data["completion_latency_s"] == pytest.approx(back["latency_ps"].mean() * 1e-12, rel=1e-9)


def test_parquet_without_pyarrow_names_the_extra(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    code, _, err = run(capsys, "peak", SMALL, "--out", str(tmp_path / "p.parquet"))
    assert code == 2
    assert err.count("\n") == 1 and "podsim[parquet]" in err


def test_run_through_a_failure(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "run", "gb300-nvl72", "all-to-all", "--bytes-per-pair", "64KiB", "--fail", "tray:tray0@4us",
                         "--recovery", "replay", "--retransmit-timeout", "1us")
    assert code == 0, err
    assert "packets lost (retransmitted end to end)" in out and "replayed by link-level retry" in out
    data = run_json(capsys, "run", "gb300-nvl72", "all-to-all", "--bytes-per-pair", "64KiB", "--fail", "tray:tray0@4us",
                    "--repair", "tray:tray0@6us")
    assert data["complete"] and data["lost_packets"] > 0


def test_run_records_its_fault_settings(capsys: pytest.CaptureFixture[str]) -> None:
    """The JSON of a run says which faults it went through and how packets were recovered, so a
    saved result can be told apart from a fault-free one and rerun."""
    data = run_json(capsys, "run", "gb300-nvl72", "p2p", "--fail", "link:nvswitch00~gpu00@1us", "--recovery", "replay")
    assert data["faults"] == [{"action": "fail", "element": "link:nvswitch00~gpu00", "at_ps": 1_000_000}]
    assert data["recovery"] == "replay"
    # Not given: podsim's default, as no [transport] table of NVL72 gives one.
    assert data["retransmit_timeout_ps"] == podsim.simulation.DEFAULT_RECOVERY_PS["retransmit_timeout_ps"]
    data = run_json(capsys, "run", "cloudmatrix384", "p2p", "--fail", "switch:node00/l1sw0@1us",
                    "--repair", "switch:node00/l1sw0@2us", "--retransmit-timeout", "3us")
    assert [(c["action"], c["at_ps"]) for c in data["faults"]] == [("fail", 1_000_000), ("repair", 2_000_000)]
    assert (data["recovery"], data["retransmit_timeout_ps"]) == ("retransmit", 3_000_000)
    data = run_json(capsys, "run", "cloudmatrix384", "p2p")
    assert data["faults"] == [] and data["retransmit_timeout_ps"] == podsim.system("cloudmatrix384").run_defaults()["retransmit_timeout_ps"]
    code, out, _ = run(capsys, "run", "gb300-nvl72", "p2p", "--fail", "link:nvswitch00~gpu00@1us")
    assert code == 0 and "  recovery: retransmit, retransmit timeout 10 us" in out
    code, out, _ = run(capsys, "run", "gb300-nvl72", "p2p")
    assert "retransmit timeout" not in out


def test_run_help_states_the_recovery_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "run", "--help")
    text = " ".join(out.split())
    assert code == 0 and "retransmit (the default, for every system)" in text and "faults.md §4.1" in text
    assert "(default: the system's [transport] spec, else 10us)" in text


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
    # Sibling dies talk over their die-to-die link, not their switch ports: that is the peak, and
    # with ideal endpoint engines the test comes near it, never past it.
    ideal = podsim.system("cloudmatrix384", overrides={"chip.endpoint.write_rate_uni": 1e6, "chip.endpoint.read_rate_uni": 1e6})
    sibling = podsim.workloads.point_to_point(ideal, 1 << 20, pattern="bandwidth", peer=1, iterations=16)
    summary = report.summarize(ideal.name, sibling, podsim.simulate(ideal, sibling), ideal.topology,
                               routing="adaptive", seed=1, mtu=4096)
    die_to_die = ideal.spec.chip["die_to_die_rate_uni"].si
    assert summary.peak_uni_Bps == summary.peak_per_rank_uni_Bps == die_to_die
    assert 0.9 < summary.efficiency <= 1 and summary.busbw_Bps > one_rank
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


def test_summary_of_a_fabric_without_switches() -> None:
    """A direct-connect mesh injects over all its links: 3 x 100 GB/s per rank of a 4-mesh (a peak
    of links into switches would be 0, and every share of it a division by zero)."""
    mesh = podsim.fabrics.full_mesh(4, podsim.fabrics.LinkParams(100e9, 100_000))
    wl = podsim.workloads.all_to_all(mesh.endpoints, 1 << 20)
    summary = report.summarize("mesh", wl, podsim.simulate(mesh, wl), mesh, routing="adaptive", seed=1, mtu=4096)
    assert summary.peak_per_rank_uni_Bps == 300e9 and summary.peak_uni_Bps == 4 * 300e9
    assert 0.9 < summary.efficiency <= 1
    assert any("link peak 300 GB/s uni per rank, 97." in line for line in summary.lines())



def test_bidi_peak_is_twice_the_uni_peak(capsys: pytest.CaptureFixture[str]) -> None:
    """8 GB300 GPUs x 18 NVLink5 links x 50 GB/s = 7.2 TB/s uni into the fabric; both directions
    summed, 14.4 TB/s bidi."""
    code, out, _ = run(capsys, "run", "gb300-nvl72", "all-reduce", "--size", "1MiB", "--ranks", "8")
    assert code == 0
    assert "of 7.2 TB/s uni peak injection (14.4 TB/s bidi)" in out


def test_per_rank_link_peak_counts_ranks_that_only_receive(capsys: pytest.CaptureFixture[str]) -> None:
    """Incast over 8 GPUs: 7 send, one only receives. The injection peak is the senders' links
    (7 x 18 x 50 GB/s = 6.3 TB/s), but busbw is per rank, so its link peak is one GPU's
    18 NVLink5 links x 50 GB/s = 900 GB/s uni, not the senders' peak spread over all 8."""
    argv = ("run", "gb300-nvl72", "synthetic", "--pattern", "incast", "--ranks", "8")
    data = run_json(capsys, *argv)
    assert data["peak_uni_Bps"] == pytest.approx(7 * 18 * 50e9, rel=1e-12)
    assert data["peak_per_rank_uni_Bps"] == pytest.approx(18 * 50e9, rel=1e-12)
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "(link peak 900 GB/s uni per rank, " in out


def test_auto_chunks_and_expert_copies(capsys: pytest.CaptureFixture[str]) -> None:
    """--chunks and --redundant-experts default to the generator's choice, which 'auto' also asks for."""
    size = ["--size", "4MiB"]
    pipelined = run_json(capsys, "run", SMALL, "broadcast", *size)
    assert pipelined["messages"] == 7 * 8  # a chain of 8 ranks, in 8 chunks of 512 KiB
    assert run_json(capsys, "run", SMALL, "broadcast", *size, "--chunks", "auto")["time_s"] == pipelined["time_s"]
    assert run_json(capsys, "run", SMALL, "broadcast", *size, "--chunks", "1")["messages"] == 7
    assert run_json(capsys, "run", SMALL, "all-reduce", *size)["messages"] == 2 * 7 * 8  # a ring stays whole
    # EP8 of 4 experts: 4 copies by default, one slot per rank; none leaves half the ranks without
    # an expert, so every dispatch goes to one of 4 ranks (3 per sender holding one, 4 otherwise).
    moe = ["moe", "--experts", "4", "--top-k", "2", "--tokens", "64"]
    bare = run_json(capsys, "run", SMALL, *moe, "--redundant-experts", "0")
    auto = run_json(capsys, "run", SMALL, *moe, "--redundant-experts", "auto")
    assert auto["time_s"] == run_json(capsys, "run", SMALL, *moe)["time_s"] and auto["messages"] > bare["messages"]
    assert bare["messages"] == 2 * (4 * 3 + 4 * 4) + 4  # dispatch, combine, and a sync per expert rank


def test_all_to_all_by_size_per_rank(capsys: pytest.CaptureFixture[str]) -> None:
    """--size gives all-to-all's S (its own share included), so S is the same on systems of
    different rank counts; a size that does not divide says what it became."""
    by_pair = run_json(capsys, "run", SMALL, "all-to-all", "--bytes-per-pair", "1KiB")
    by_size = run_json(capsys, "run", SMALL, "all-to-all", "--size", "8KiB")
    assert by_size["size_bytes"] == 8 << 10 and by_size["time_s"] == by_pair["time_s"]
    code, out, err = run(capsys, "run", SMALL, "all-to-all", "--size", "1001")
    assert code == 0 and "note: --size 1001 over 8 ranks: 125 B per pair, so S = 1,000 B" in err
    code, _, err = run(capsys, "run", SMALL, "all-to-all", "--size", "4", "--bytes-per-pair", "1KiB")
    assert code == 2 and "--size, --bytes-per-pair: all-to-all takes one of them" in err
    code, _, err = run(capsys, "run", SMALL, "all-to-all", "--size", "4")
    assert code == 2 and "--size: all-to-all over 8 ranks needs at least 8 B" in err
    data = run_json(capsys, "compare", SMALL, "gb300-nvl72", "--workload", "all-to-all", "--size", "72KiB")
    assert [r["size_bytes"] for r in data["runs"]["all-to-all"]] == [72 << 10, 72 << 10]
    # With other workloads, --bytes-per-pair is all-to-all's and --size theirs.
    data = run_json(capsys, "compare", SMALL, "gb300-nvl72", "--workload", "all-reduce", "--workload", "all-to-all",
                    "--size", "256KiB", "--bytes-per-pair", "1KiB")
    assert [r["size_bytes"] for r in data["runs"]["all-to-all"]] == [8 << 10, 72 << 10]
    assert [r["size_bytes"] for r in data["runs"]["all-reduce"]] == [256 << 10, 256 << 10]
