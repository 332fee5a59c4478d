"""Type stubs for podsim._core, the C++ engine (internal: use the podsim package)."""

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

# The engine's limits (see podsim._validate, which checks against them).
MAX_TIME_PS: int
MAX_RATE_BPS: float
MAX_PORTS: int
MAX_ROUTE_ENTRIES: int
ROUTE_ENTRY_BYTES: int
MAX_QUEUE_PAIRS: int
QUEUE_PAIR_BYTES: int
MAX_PACKET_BYTES: int
MAX_MESSAGE_BYTES: int

class InvariantViolation(RuntimeError): ...
class Deadlock(RuntimeError): ...
class CutOff(RuntimeError): ...

class Topology:
    def __init__(self) -> None: ...
    def add_endpoint(
        self,
        name: str,
        buffer_bytes: int,
        latency_ps: int = 0,
        max_ports: int = 0,
        issue_ps: int = 0,
        read_fetch_ps: int = 0,
        write_commit_ps: int = 0,
        max_reads: int = 0,
        max_writes: int = 0,
        read_rate_Bps: float = 0.0,
        write_rate_Bps: float = 0.0,
        write_issue_rate_Bps: float = 0.0,
    ) -> int: ...
    def add_switch(self, name: str, latency_ps: int, buffer_bytes: int, cut_through: bool, max_ports: int = 0) -> int: ...
    def connect(self, a: int, b: int, rate_Bps: float, latency_ps: int) -> int: ...
    def save(self, path: str) -> None: ...
    @staticmethod
    def load(path: str) -> Topology: ...
    @property
    def num_nodes(self) -> int: ...
    @property
    def num_channels(self) -> int: ...
    @property
    def num_endpoints(self) -> int: ...
    @property
    def endpoints(self) -> npt.NDArray[np.uint32]: ...
    @property
    def node_names(self) -> list[str]: ...
    def node_columns(self) -> dict[str, np.ndarray]: ...
    def channel_columns(self) -> dict[str, np.ndarray]: ...

def load_sim_config(path: str, with_memory: bool) -> dict[str, int]:
    """The settings of a run file, as ``Simulator.config`` gives them; ``with_memory``: its
    ``txn_bytes`` is the file's ``memory_txn_bytes``."""

class Simulator:
    def __init__(
        self,
        topology: Topology,
        mtu: int,
        header_bytes: int,
        ack_bytes: int,
        request_bytes: int,
        routing: int,
        seed: int,
        endpoint_window_packets: int,
        check: bool,
        trace_limit: int,
        txn_bytes: int,
        recovery: int = 0,
        retransmit_timeout_ps: int = ...,
        replay_ps: int = 0,
    ) -> None: ...
    @property
    def config(self) -> dict[str, int]:
        """The run's settings (routing and recovery by their codes, as the constructor takes them)."""
    def save_config(self, path: str, memory_txn_bytes: int) -> None:
        """Write the run's settings as a run file (``podsim::load_sim_config`` reads it), with the
        ``txn_bytes`` of a run coupled to HBM."""
    def add_message(self, src: int, dst: int, size: int, kind: int, delay_ps: int, tag: int, deps: list[int]) -> int: ...
    def add_messages(
        self,
        src: npt.NDArray[np.uint32],
        dst: npt.NDArray[np.uint32],
        size: npt.NDArray[np.uint64],
        kind: npt.NDArray[np.uint8],
        delay_ps: npt.NDArray[np.uint64],
        tag: npt.NDArray[np.uint64],
        dep_before: npt.NDArray[np.uint32],
        dep_after: npt.NDArray[np.uint32],
    ) -> int: ...
    def run(
        self,
        until: int,
        max_events: int,
        progress: Callable[[int, int], None] | None = None,
        chunk_events: int = ...,
    ) -> int: ...
    def advance_until(self, t: int) -> None: ...
    def attach_memory(self, endpoint: int, config: HbmConfig) -> None: ...
    def throw_if_stalled(self) -> None: ...
    def schedule_fault(self, channel: int, at_ps: int, up: bool) -> None: ...
    def channel_up(self, channel: int) -> bool: ...
    @property
    def packets_awaiting_retransmit(self) -> int: ...
    @property
    def packets_stranded(self) -> int: ...
    def check_invariants(self) -> None: ...
    def settle_credits(self) -> None: ...
    def set_stop_on_completion(self, on: bool) -> None: ...
    def take_completed(self) -> npt.NDArray[np.uint32]: ...
    @property
    def now(self) -> int: ...
    @property
    def next_event_time(self) -> int: ...
    @property
    def idle(self) -> bool: ...
    @property
    def events(self) -> int: ...
    @property
    def packet_hops(self) -> int: ...
    @property
    def packets_in_flight(self) -> int: ...
    @property
    def messages_incomplete(self) -> int: ...
    @property
    def peak_pending_events(self) -> int: ...
    @property
    def peak_packets_in_flight(self) -> int: ...
    @property
    def num_messages(self) -> int: ...
    def message_columns(self) -> dict[str, np.ndarray]: ...
    def channel_columns(self) -> dict[str, np.ndarray]: ...
    def credit_columns(self) -> dict[str, np.ndarray]: ...
    def ledger_columns(self) -> dict[str, np.ndarray]: ...
    def trace_columns(self) -> dict[str, np.ndarray | int]: ...
    def packet_latency_histogram(self) -> npt.NDArray[np.uint64]: ...
    def hops(self, node: int, dst_ep: int) -> int: ...
    def candidates(self, node: int, dst_ep: int) -> list[int]: ...

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
    def save(self, path: str) -> None: ...
    @staticmethod
    def load(path: str) -> HbmConfig: ...

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
