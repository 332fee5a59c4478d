"""Type stubs for podsim._core (internal; use the podsim package)."""

from typing import Any

import numpy as np
import numpy.typing as npt

# Only the HBM section is stubbed so far; other names of the module type as Any until their
# binding files add sections here.
def __getattr__(name: str) -> Any: ...

# ---------------------------------------------------------------- HBM (csrc/bindings/memory.cpp)

class HbmTiming:
    """DRAM timing constraints, each in integer picoseconds."""

    tCL: int
    tCWL: int
    tRCDRD: int
    tRCDWR: int
    tRP: int
    tRAS: int
    tRC: int
    tWR: int
    tRTP: int
    tCCD_S: int
    tCCD_L: int
    tRRD_S: int
    tRRD_L: int
    tFAW: int
    tWTR_S: int
    tWTR_L: int
    tRTW: int
    tRFC: int
    tREFI: int
    def __init__(self) -> None: ...

class HbmConfig:
    """Organisation, timing, address map and controller policy of one HBM device."""

    timing: HbmTiming
    stacks: int
    pcs_per_stack: int
    pc_width_bits: int
    rate_kbps: int  # per pin, kbit/s
    burst_bytes: int
    bank_groups: int
    banks_per_group: int
    row_bytes: int
    rows: int
    interleave_bytes: int
    bg_spread: int
    order: list[int]  # address-map field codes, low to high: 0 pc, 1 bg, 2 ba, 3 co, 4 ro
    close_page: bool
    refresh: bool
    lookahead: int
    queue_depth: int
    trace: bool
    def __init__(self) -> None: ...
    def validate(self) -> None: ...
    @property
    def burst_ps(self) -> int: ...
    @property
    def peak_Bps(self) -> float: ...
    @property
    def capacity_bytes(self) -> int: ...

class HbmDevice:
    """One HBM device: submit requests, ask next_event_time(), advance_until(t) for completions."""

    def __init__(self, config: HbmConfig) -> None: ...
    def submit(self, addr: int, bytes: int, is_write: bool, id: int, now: int) -> None: ...
    def next_event_time(self) -> int: ...
    # keys: id, submit_ps, done_ps, bytes, is_write
    def advance_until(self, t: int) -> dict[str, npt.NDArray[Any]]: ...
    def replay(
        self,
        arrival_ps: npt.NDArray[np.uint64],
        addr: npt.NDArray[np.uint64],
        bytes: npt.NDArray[np.uint64],
        is_write: npt.NDArray[np.uint8],
    ) -> npt.NDArray[np.uint64]: ...
    @property
    def now(self) -> int: ...
    @property
    def in_flight(self) -> int: ...
    def counters(self) -> dict[str, npt.NDArray[np.uint64]]: ...
    def trace(self) -> dict[str, npt.NDArray[Any]]: ...

class HbmStream:
    """Devices streaming a synthetic pattern together, each with a fixed number of requests outstanding."""

    def __init__(
        self,
        config: HbmConfig,
        kind: int,
        request_bytes: int,
        stride_bytes: int,
        base: int,
        footprint_bytes: int,
        write_fraction: float,
        devices: int,
        outstanding: int,
        max_requests: int,
        seed: int,
    ) -> None: ...
    def run_until(self, t: int) -> bool: ...
    @property
    def now(self) -> int: ...
    @property
    def completed(self) -> int: ...
    @property
    def read_bytes(self) -> int: ...
    @property
    def write_bytes(self) -> int: ...
    @property
    def last_completion(self) -> int: ...
    # keys: count, min_ps, max_ps, sum_ps, hist_ns
    def latency(self) -> dict[str, Any]: ...
    def counters(self) -> dict[str, npt.NDArray[np.uint64]]: ...
    def trace(self) -> dict[str, npt.NDArray[Any]]: ...
