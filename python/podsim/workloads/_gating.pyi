"""Type stub of the compiled MoE gating kernel (csrc/cython/_gating.pyx)."""

import numpy as np
import numpy.typing as npt

def gate_column(
    out: npt.NDArray[np.int64],
    j: int,
    rows: npt.NDArray[np.int64],
    u: npt.NDArray[np.float64],
    prob: npt.NDArray[np.float64],
    begin: npt.NDArray[np.float64],
    cdf: npt.NDArray[np.float64],
    taken: npt.NDArray[np.int64],
    again: npt.NDArray[np.int64],
) -> int: ...
