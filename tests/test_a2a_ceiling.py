"""The script behind the README's all-to-all ceiling caveat runs, and its table says what it should."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "a2a_ceiling.py"


def test_a2a_ceiling_table_for_one_node(tmp_path: Path) -> None:
    out = tmp_path / "ceiling.md"
    done = subprocess.run([sys.executable, str(SCRIPT), "--dies", "16", "--out", str(out)],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [line.split(" | ") for line in out.read_text().splitlines()[2:]]
    assert len(rows) == 6
    assert all(cells[1] == "8 MiB" for cells in rows)
    busbw = {cells[2]: float(cells[3].removesuffix(" GB/s")) for cells in rows}
    # The shipped write engine (138.6 GB/s into a die) is what bounds the shipped system.
    assert busbw["shipped write engine (138.6 GB/s)"] <= 138.6
    assert busbw["ideal write engine, adaptive routing"] > 138.6
    # One node's dies reach each other through their L1 switches only.
    assert all(cells[6] == cells[7] == "unused" for cells in rows)


def test_a2a_ceiling_rejects_a_die_count_out_of_range(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--dies", "769"], capture_output=True, text=True,
                          check=False, cwd=tmp_path)
    assert done.returncode == 2
    assert "--dies: each must be 2 to 768, got 769" in done.stderr
