"""Run the HBM model: one device or many streaming together, from a pattern or a request list."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

from podsim import _core
from podsim import _validate as v
from podsim._validate import MAX_TIME_PS, U64_MAX, flag, integer
from podsim.hbm.device import Device
from podsim.hbm.patterns import KINDS, Pattern, Requests

#: Command codes in :attr:`Result.trace` ``["command"]``.
COMMANDS: dict[int, str] = {0: "ACT", 1: "PRE", 2: "RD", 3: "WR", 4: "REF"}
# Simulated time per GIL-free engine call: 10 us of one device, shared out over the devices so a
# call costs about the same wall time at any device count and Ctrl-C stays responsive; but at
# least 1 us, so each device runs a few hundred requests per visit while its state is in cache.
_CHUNK_DEVICE_PS = 10_000_000
_MIN_CHUNK_PS = 1_000_000
#: Most accesses (the part of a request in one interleave chunk, 32 bytes of engine state each)
#: the requests in flight may hold at once, all devices together: 2**27, 4 GiB of state. More is
#: refused before it runs, not left to exhaust the machine's memory.
MAX_ACCESSES_IN_FLIGHT = 1 << 27


@dataclass(frozen=True)
class Latency:
    """Request latency (submit to last data beat), in ps.

    ``p50_ps``/``p99_ps`` are exact for request lists; for patterns they come from 1 ns bins and
    report the bin's upper edge capped at the maximum (so they never understate).
    """

    count: int
    mean_ps: float
    min_ps: int
    max_ps: int
    p50_ps: int
    p99_ps: int


@dataclass(frozen=True)
class Result:
    """Outcome of :func:`simulate`.

    Attributes:
        devices: devices simulated.
        duration_ps: measured window in ps: the requested duration, or for a request list from
            its first arrival to its last completion.
        requests: requests completed inside the window.
        read_bytes, write_bytes: bytes of those requests.
        peak_Bps: devices x per-device pin peak, bytes/s (reads + writes share the pins).
        latency: :class:`Latency` of the completed requests.
        counters: per-PC counters, arrays of shape (devices, PCs): read_bursts, write_bursts,
            accesses, row_hits, activates, precharges, refreshes, busy_ps. They count each
            command when the controller issues it, so with ``duration_ps`` they include work
            issued before the window's end but finishing after it (bursts and busy time may
            then exceed what the window holds by a few accesses per PC); ``read_bytes`` and
            ``write_bytes`` count only requests completed inside the window.
        trace: command trace of device 0 sorted by time (``time_ps``, ``pc``, ``bank_group``,
            ``bank``, ``row``, ``command`` with codes :data:`COMMANDS`), or None.
        done_ps: completion time of each request of a :class:`Requests` list, else None.
        wall_s: wall-clock seconds the engine ran.
        cpu_s: CPU seconds of the calling thread meanwhile (the engine runs there; steadier than
            wall time on a shared machine).
        trfc_ps: the device's tRFC in ps (for :attr:`refresh_fraction`).
    """

    devices: int
    duration_ps: int
    requests: int
    read_bytes: int
    write_bytes: int
    peak_Bps: float
    latency: Latency
    counters: dict[str, np.ndarray] = field(repr=False)
    trace: dict[str, np.ndarray] | None = field(default=None, repr=False)
    done_ps: np.ndarray | None = field(default=None, repr=False)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    trfc_ps: int = 0

    @property
    def achieved_Bps(self) -> float:
        """Achieved memory bandwidth, bytes/s (read + write) over the window, all devices."""
        return (self.read_bytes + self.write_bytes) * 1e12 / self.duration_ps if self.duration_ps else 0.0

    @property
    def efficiency(self) -> float:
        """Achieved / pin peak, in [0, 1]."""
        return self.achieved_Bps / self.peak_Bps

    @property
    def row_hit_rate(self) -> float:
        """Accesses (the part of a request in one PC) that found their rows open, in [0, 1]."""
        acc = int(self.counters["accesses"].sum())
        return int(self.counters["row_hits"].sum()) / acc if acc else 0.0

    @property
    def refresh_fraction(self) -> float:
        """Share of PC time spent in refresh: refreshes x tRFC / (PCs x devices x duration).

        Refresh is placed when a PC next schedules, so a PC idle at the end of the window has not
        yet booked its last refreshes: on streams that leave PCs idle this reads low.
        """
        pcs = self.counters["refreshes"].size
        return int(self.counters["refreshes"].sum()) * self.trfc_ps / (pcs * self.duration_ps) if self.duration_ps else 0.0

    @property
    def requests_per_s(self) -> float:
        """Requests simulated per second of wall time."""
        return self.requests / self.wall_s if self.wall_s > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """The scalar fields and figures, JSON-ready: the latency as a nested dict (all None but
        the count when no request completed), and ``achieved_Bps``, ``efficiency``,
        ``row_hit_rate`` and ``refresh_fraction``; not the per-PC counters, the trace or
        ``done_ps`` (arrays)."""
        arrays = {"counters", "trace", "done_ps"}
        out = {f: getattr(self, f) for f in self.__dataclass_fields__ if f not in arrays}
        # With no request completed there is no latency to report, not a latency of 0.
        out["latency"] = {k: (v if k == "count" or self.latency.count else None) for k, v in asdict(self.latency).items()}
        out.update(achieved_Bps=self.achieved_Bps, efficiency=self.efficiency, row_hit_rate=self.row_hit_rate,
                   refresh_fraction=self.refresh_fraction)
        return out


class Interrupted(KeyboardInterrupt):
    """Raised by :func:`simulate` on Ctrl-C; ``result`` measures the window simulated up to then
    (its ``duration_ps`` is the time reached)."""

    def __init__(self, result: Result) -> None:
        super().__init__(f"interrupted at t={result.duration_ps} ps after {result.requests} requests")
        self.result = result


def _latency_from_hist(count: int, sum_ps: float, min_ps: int, max_ps: int, hist: np.ndarray) -> Latency:
    if count == 0:
        return Latency(0, 0.0, 0, 0, 0, 0)
    cum = np.cumsum(hist)

    def q(frac: float) -> int:
        i = int(np.searchsorted(cum, frac * count))
        # the last bin collects every latency beyond the histogram: only the maximum bounds it
        return max_ps if i == hist.size - 1 else min((i + 1) * 1000, max_ps)

    return Latency(count, sum_ps / count, min_ps, max_ps, q(0.5), q(0.99))


def simulate(
    device: Device,
    pattern: Pattern | Requests,
    *,
    duration_ps: int | None = None,
    requests: int | None = None,
    seed: int | np.random.SeedSequence = 0,
    devices: int = 1,
    outstanding: int = 256,
    trace: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Simulate ``devices`` copies of ``device`` under ``pattern`` and measure bandwidth and latency.

    With a :class:`Pattern`, every device keeps ``outstanding`` requests in flight (its own stream,
    seeded from ``seed`` and its index) and all devices advance together in time; give exactly one
    of ``duration_ps`` (measure bytes completed by then) or ``requests`` (per device; measure until
    the last completes). With a :class:`Requests` list (one device), every request is replayed at
    its arrival time and ``done_ps`` gives its completion.

    Args:
        device: the :class:`Device` configuration.
        pattern: a :class:`Pattern` or :class:`Requests`.
        duration_ps: simulated window in integer ps, in [1, 2**62].
        requests: requests per device, >= 1.
        seed: integer in [0, 2**64 - 1], or a ``numpy.random.SeedSequence``.
        devices: devices simulated together, in [1, 1_000_000].
        outstanding: requests kept in flight per device, in [1, 1_000_000].
        trace: record every DRAM command (debug; one device only).
        progress: called as ``progress(now_ps, completed_requests)`` between engine calls (each
            covers 10 us / devices of simulated time, at least 1 us).

    Raises:
        TypeError, ValueError: naming the argument and its allowed range.
        Interrupted: on Ctrl-C, with the result of the window simulated so far.
    """
    if not isinstance(device, Device):
        raise TypeError(f"device: expected a podsim.hbm.Device, got {type(device).__name__}")
    seed = v.seed(seed)
    progress = v.callback(progress, "progress")
    devices = integer(devices, "devices", 1, 1_000_000)
    outstanding = integer(outstanding, "outstanding", 1, 1_000_000)
    trace = flag(trace, "trace")
    if trace and devices != 1:
        raise ValueError(f"trace: only with devices=1 (the trace is per command), got devices={devices}")
    cfg = device.config(trace=trace)
    if isinstance(pattern, Requests):
        if duration_ps is not None or requests is not None:  # a replay runs every request to its end
            raise ValueError("duration_ps, requests: only with a Pattern; a Requests list is replayed whole")
        return _replay(device, cfg, pattern, devices)
    if not isinstance(pattern, Pattern):
        raise TypeError(f"pattern: expected a podsim.hbm.Pattern or Requests, got {type(pattern).__name__}")
    if (duration_ps is None) == (requests is None):
        raise ValueError("duration_ps, requests: give exactly one")
    if duration_ps is not None:
        until = integer(duration_ps, "duration_ps", 1, MAX_TIME_PS)
        max_requests = U64_MAX
    else:
        until = None
        max_requests = integer(requests, "requests", 1, U64_MAX >> 1)
    cap = device.capacity_bytes
    if pattern.base >= cap:
        raise ValueError(f"base: must be below the device capacity of {cap} bytes, got {pattern.base}")
    span = pattern.footprint_bytes or cap - pattern.base
    if span > cap - pattern.base:
        raise ValueError(f"footprint_bytes: base + footprint must be <= {cap} bytes, got {pattern.base + span}")
    need = max(pattern.request_bytes, pattern.stride_bytes) * (2 if pattern.kind == "copy" else 1)
    if span < need:
        if pattern.footprint_bytes:
            raise ValueError(f"footprint_bytes: must be >= {need} bytes for this pattern, got {span}")
        # The footprint is the whole device: it is the request (or stride) that does not fit.
        big = "request_bytes" if pattern.request_bytes >= pattern.stride_bytes else "stride_bytes"
        raise ValueError(f"{big}: this pattern needs {need} bytes, more than the {span} bytes of the device from base")
    per_request = -(-pattern.request_bytes // device.interleave_bytes) + 1  # +1: a request may start mid-chunk
    if devices * outstanding * per_request > MAX_ACCESSES_IN_FLIGHT:
        raise ValueError(
            f"outstanding, request_bytes: {devices} devices x {outstanding} requests in flight x {per_request:,} accesses "
            f"of up to {device.interleave_bytes} B (requests of {pattern.request_bytes:,} B) is more than the "
            f"{MAX_ACCESSES_IN_FLIGHT:,} accesses (4 GiB of state) the model holds at once; lower request_bytes, "
            "outstanding or the devices"
        )
    stream = _core.HbmStream(
        cfg, KINDS[pattern.kind], pattern.request_bytes, pattern.stride_bytes, pattern.base,
        pattern.footprint_bytes, float(pattern.write_fraction), devices, outstanding, max_requests, seed,
    )  # fmt: skip
    chunk = max(_MIN_CHUNK_PS, _CHUNK_DEVICE_PS // devices)
    start, cpu_start = time.perf_counter(), time.thread_time()

    def result(window_ps: int) -> Result:
        lat = stream.latency()
        return Result(
            devices=devices,
            duration_ps=window_ps,
            requests=int(stream.completed),
            read_bytes=int(stream.read_bytes),
            write_bytes=int(stream.write_bytes),
            peak_Bps=devices * device.peak_Bps,
            latency=_latency_from_hist(lat["count"], lat["sum_ps"], lat["min_ps"], lat["max_ps"], lat["hist_ns"]),
            counters=stream.counters(),
            trace=_sorted_trace(stream.trace()) if trace else None,
            wall_s=time.perf_counter() - start,
            cpu_s=time.thread_time() - cpu_start,
            trfc_ps=device.preset.timing_ps["tRFC"],
        )

    t = 0
    try:
        while True:
            t = min(t + chunk, until) if until is not None else t + chunk
            finished = stream.run_until(t)
            if progress is not None:
                progress(t, stream.completed)
            if (until is not None and t >= until) or (until is None and finished):
                break
    except KeyboardInterrupt:
        # The engine stops between steps: the counters hold every device's work up to the
        # stream's time, the step under way when Ctrl-C came included, so that is the window.
        raise Interrupted(result(stream.now)) from None
    return result(until if until is not None else int(stream.last_completion))


def _replay(device: Device, cfg: _core.HbmConfig, req: Requests, devices: int) -> Result:
    if devices != 1:
        raise ValueError(f"devices: a Requests list drives one device, got devices={devices}")
    cap = device.capacity_bytes
    if req.addr.size and np.any(req.addr.astype(object) + req.bytes.astype(object) > cap):
        raise ValueError(f"addr: every [addr, addr + bytes) must lie inside the capacity of {cap} bytes")
    dev = _core.HbmDevice(cfg)
    start, cpu_start = time.perf_counter(), time.thread_time()
    done = dev.replay(req.arrival_ps, req.addr, req.bytes, req.is_write.astype(np.uint8))
    wall, cpu = time.perf_counter() - start, time.thread_time() - cpu_start
    lat = (done - req.arrival_ps).astype(np.int64)
    w = req.is_write.astype(bool)
    # From the first arrival: a list that starts late must not count the idle time before it.
    duration = int(done.max()) - int(req.arrival_ps.min()) if done.size else 0
    latency = (
        Latency(
            int(lat.size), float(lat.mean()), int(lat.min()), int(lat.max()),
            int(np.percentile(lat, 50, method="inverted_cdf")), int(np.percentile(lat, 99, method="inverted_cdf")),
        )  # fmt: skip
        if lat.size
        else Latency(0, 0.0, 0, 0, 0, 0)
    )
    return Result(
        devices=1,
        duration_ps=duration,
        requests=int(done.size),
        read_bytes=int(req.bytes[~w].sum()),
        write_bytes=int(req.bytes[w].sum()),
        peak_Bps=device.peak_Bps,
        latency=latency,
        counters=dev.counters(),
        trace=_sorted_trace(dev.trace()) if cfg.trace else None,
        done_ps=done,
        wall_s=wall,
        cpu_s=cpu,
        trfc_ps=device.preset.timing_ps["tRFC"],
    )


def _sorted_trace(tr: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    order = np.argsort(tr["time_ps"], kind="stable")
    return {k: v[order] for k, v in tr.items()}


def simulate_system(system: Any, pattern: Pattern, **kwargs: Any) -> Result:
    """Every rank (die or GPU) of a ``podsim.systems.System`` streams ``pattern`` at once (of a
    ``podsim.faults.FaultedSystem``: every rank still in service).

    Each rank gets its own :class:`Device` built from ``system.rank_memory``; all of them are
    simulated (no symmetry shortcut) and :attr:`Result.peak_Bps` is ranks x the rank's pin peak.
    ``device`` (a dict) holds :class:`Device` options; the other keyword arguments go to
    :func:`simulate` (``devices`` is set here).

    Raises:
        TypeError: ``system`` lacks ``rank_memory`` or ``ranks``.
    """
    if not hasattr(system, "rank_memory") or not hasattr(system, "ranks"):
        raise TypeError(f"system: expected a podsim.systems.System, got {type(system).__name__}")
    if "devices" in kwargs:
        raise TypeError("devices: set by simulate_system from the system's ranks")
    device_kwargs = kwargs.pop("device", {})
    if not isinstance(device_kwargs, Mapping):
        raise TypeError(f"device: expected a dict of podsim.hbm.Device options, got {type(device_kwargs).__name__}")
    fixed = sorted(set(device_kwargs) & {"preset", "stacks"})
    if fixed:
        raise ValueError(f"device: {fixed[0]!r} comes from the system's rank_memory; give only other podsim.hbm.Device "
                         f"options (interleave_bytes, bg_spread, mapping, page_policy, refresh, lookahead, queue_depth, rows)")
    return simulate(Device.from_rank(system.rank_memory, **device_kwargs), pattern, devices=len(system.ranks), **kwargs)
