"""The README's MPI recipe: podsim.sweep on mpi4py's MPIPoolExecutor under mpiexec.

Needs mpi4py and an MPI runtime (``pip install mpi4py mpich``); skipped without them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from test_sweep import POINTS

pytest.importorskip("mpi4py.futures")
MPIEXEC = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


@pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec on PATH")
def test_bit_identical_on_mpi_pool(tmp_path: Path) -> None:
    script = tmp_path / "sweep_mpi.py"
    script.write_text(textwrap.dedent("""
        import concurrent.futures as cf
        import pandas as pd
        from mpi4py.futures import MPIPoolExecutor
        import podsim
        from test_sweep import POINTS, SEED, fabric_point, without_wall

        if __name__ == "__main__":
            with MPIPoolExecutor() as pool:
                on_mpi = podsim.sweep(fabric_point, POINTS, seed=SEED, executor=pool, progress=False)
            with cf.ThreadPoolExecutor(2) as pool:
                reference = podsim.sweep(fabric_point, POINTS, seed=SEED, executor=pool, progress=False)
            pd.testing.assert_frame_equal(without_wall(on_mpi), without_wall(reference), check_exact=True)
            print("identical", len(on_mpi))
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    assert MPIEXEC is not None
    run = subprocess.run(
        [MPIEXEC, "-n", "3", sys.executable, "-m", "mpi4py.futures", str(script)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"identical {len(POINTS)}" in run.stdout
