"""The engine's event queue, checked in C++ against a reference ordered multiset.

The queue decides the order of every event, and most events sit in bursts that share a
picosecond, which it radix sorts; a mistake there would change results without breaking any
conservation invariant. Python cannot reach the queue, so this compiles a small C++ checker
against the engine's headers (a C++ compiler is needed to build podsim from source anyway).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_event_queue_pops_in_time_then_payload_order(cxx: list[str], tmp_path: Path) -> None:
    exe = tmp_path / "event_queue_test"
    build = subprocess.run(
        [*cxx, f"-I{ROOT / 'csrc'}",
         str(ROOT / "tests" / "cpp" / "event_queue_test.cpp"), str(ROOT / "csrc" / "podsim" / "sim" / "huge_pages.cpp"),
         "-o", str(exe)],
        capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, check=False, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr
