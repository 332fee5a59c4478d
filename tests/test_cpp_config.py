"""The C++ core as a host links it: SimConfig values Python cannot pass (it checks them first) are
refused by the Simulator itself. Compiled against the installed package's headers and library,
as an embedder does."""

from __future__ import annotations

import subprocess
from pathlib import Path

import podsim

ROOT = Path(__file__).resolve().parent.parent


def test_cpp_host_config_out_of_range_is_refused(cxx: list[str], tmp_path: Path) -> None:
    package = Path(podsim.__file__).resolve().parent
    exe = tmp_path / "config_test"
    build = subprocess.run(
        [*cxx, f"-I{package / 'include'}", str(ROOT / "tests" / "cpp" / "config_test.cpp"),
         str(package / "lib" / "libpodsim.a"), "-o", str(exe)],
        capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, check=False, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr
