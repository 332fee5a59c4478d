"""The run file (FILE.run of ``podsim export``): a run's settings as text, which a C++ host loads
with ``podsim::load_sim_config`` to run a shipped system as ``podsim.simulate`` does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import podsim
from podsim import _core

STAR = podsim.fabrics.star(4, podsim.fabrics.LinkParams(rate_Bps=28e9, latency_ps=10_000))


def _saved(tmp_path: Path, memory_txn_bytes: int = 65536, **settings: Any) -> Path:
    """A run file of a small fabric's run with ``settings``."""
    path = tmp_path / "star.run"
    sim = podsim.Simulation(STAR, **settings)
    sim._core.save_config(str(path), memory_txn_bytes)
    return path


def test_a_run_file_round_trips(tmp_path: Path) -> None:
    """Every setting survives, also a hand edit (comments, blank lines, CRLF, another order)."""
    sim = podsim.Simulation(STAR, mtu=2080, header_bytes=48,
                            ack_bytes=64, request_bytes=40, txn_bytes=8192, routing="spray", seed=7,
                            endpoint_window_packets=3, check=True, trace=10, recovery="replay",
                            retransmit_timeout_ps=123_456, replay_ps=789)
    path = tmp_path / "star.run"
    sim._core.save_config(str(path), 12_345)
    assert _core.load_sim_config(str(path), with_memory=False) == sim._core.config
    assert _core.load_sim_config(str(path), with_memory=True) == {**sim._core.config, "txn_bytes": 12_345}
    lines = path.read_text().splitlines()
    assert "routing spray" in lines and "recovery replay" in lines
    edited = [lines[0], "# edited by hand", "", *reversed(lines[1:-1]), lines[-1]]
    path.write_bytes(("\r\n".join(edited) + "\r\n").encode())
    assert _core.load_sim_config(str(path), with_memory=False) == sim._core.config


def _edit(name: str, value: str) -> Any:
    """An edit giving field ``name`` the text ``value``."""
    return lambda ls: [ls[0], *((f"{name} {value}" if x.startswith(f"{name} ") else x) for x in ls[1:])]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda ls: ["podsim-run 2", *ls[1:]], "run file: line 1 must be 'podsim-run 1', got 'podsim-run 2'"),
    (lambda ls: ls[:-1], "with no end record: the file is cut short"),
    (lambda ls: [x for x in ls if not x.startswith("mtu_bytes ")], "run file: mtu_bytes: missing"),
    (lambda ls: [*ls[:2], ls[1], *ls[2:]], "run file: line 3: mtu_bytes: given twice"),
    (lambda ls: [ls[0], "mtu 4096", *ls[1:]], "run file: line 2: unknown field 'mtu' (the fields: mtu_bytes, header_bytes,"),
    (_edit("routing", "minimal"), "routing: must be one of ecmp, spray, adaptive, got 'minimal'"),
    (_edit("recovery", "2"), "recovery: must be one of retransmit, replay, got '2'"),
    (_edit("check", "2"), "check: must be 0 or 1, got 2"),
    (_edit("mtu_bytes", "99999999999999999999999"), "mtu_bytes: must be at most 4294967295, got 99999999999999999999999"),
    # What loads is validated as the engine would: an MTU without room for a payload.
    (_edit("mtu_bytes", "32"), "run file: mtu_bytes: must be larger than header_bytes = 32, got 32"),
    (_edit("mtu_bytes", "-1"), "mtu_bytes: expected a non-negative integer, got '-1'"),
    (_edit("mtu_bytes", "4294967296"), "mtu_bytes: must be at most 4294967295, got 4294967296"),
    (_edit("seed", "1 # the default"), "unexpected text after seed: '# the default' (a comment must be on a line of its own)"),
    (lambda ls: [*ls, "seed 2"], "a 'seed' record after the end record"),
])
def test_a_bad_run_file_is_refused_with_its_line(tmp_path: Path, edit: Any, message: str) -> None:
    path = _saved(tmp_path)
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    with pytest.raises(ValueError, match=re.escape(message)):
        _core.load_sim_config(str(path), with_memory=False)


def test_a_run_file_that_is_not_there(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a directory, not a run file"):
        _core.load_sim_config(str(tmp_path), with_memory=False)
    with pytest.raises(ValueError, match="cannot read"):
        _core.load_sim_config(str(tmp_path / "missing.run"), with_memory=False)
