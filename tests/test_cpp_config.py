"""The C++ core as a host links it: SimConfig values Python cannot pass (it checks them first) are
refused by the Simulator itself, and callbacks behave as documented. Compiled against the
installed package's headers and library, as an embedder does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sdk(flag: str) -> Path:
    """A directory of the C++ SDK, as the README tells a host without CMake to find it."""
    done = subprocess.run([sys.executable, "-m", "podsim", flag], capture_output=True, text=True, check=True)
    return Path(done.stdout.strip())


def _host(cxx: list[str], tmp_path: Path, source: str, *flags: str) -> str:
    """Build tests/cpp/``source`` as an embedder does and run it; returns what it printed."""
    exe = tmp_path / Path(source).stem
    build = subprocess.run(
        [*cxx, *flags, f"-I{_sdk('--include-dir')}", str(ROOT / "tests" / "cpp" / source),
         str(_sdk("--lib-dir") / "libpodsim.a"), "-o", str(exe)],
        capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout.strip()


def test_cpp_host_config_out_of_range_is_refused(cxx: list[str], tmp_path: Path) -> None:
    assert _host(cxx, tmp_path, "config_test.cpp") == "ok"


def test_cpp_host_callbacks(cxx: list[str], tmp_path: Path) -> None:
    # AddressSanitizer in the host's code: a callback that outlived its own storage reads freed memory.
    assert _host(cxx, tmp_path, "callbacks_test.cpp", "-fsanitize=address,undefined", "-fno-omit-frame-pointer") == "ok"
