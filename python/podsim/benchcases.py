"""The benchmark cases, in one place for ``bench/`` (pytest-benchmark) and ``podsim bench``.

* FT2-256: the reference workload on which htsim, BookSim2 and ns-3-UB were measured on this
  machine class (traffic files in ``benchdata/``, see its README): a 2-tier folded Clos of 256
  endpoints at 50 GB/s per direction, a 2 MB permutation under each routing policy, a uniform
  8 x 1 MB pattern (htsim's UNI-256), and BookSim2's uniform random traffic at half load in
  packets of 4,000 B (BookSim2's 16-flit packets; a flit is abstract there).
* The CloudMatrix-384 fabric shape (48 groups x 16 endpoints, 7 ports each, 7 planes x 16
  spines, 28 GB/s links) under a 64 KiB all-to-all, at growing group counts: cost versus size.

Quick mode (CI) runs every FT2-256 case but only the small CloudMatrix-shaped sizes.
"""

from __future__ import annotations

import ctypes
import gc
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from podsim.fabrics import LinkParams, folded_clos
from podsim.messages import Messages
from podsim.results import Result
from podsim.simulation import FabricLike, ProgressFn, simulate
from podsim.topology import Topology
from podsim.workloads import all_to_all

DATA = Path(__file__).parent / "benchdata"
FT2_PAYLOAD = 4000          # htsim's packet: 2,000,000 B flows are 500 packets
FT2_HEADER = 64             # our per-packet header on top of it (htsim's 4000 B carry theirs inside)
FT2_MTU = FT2_PAYLOAD + FT2_HEADER
FT2_QUEUE_PACKETS = 35      # htsim -q 35: per-port queue of 35 packets
FT2_RATE_BPS = 50e9         # 400 Gb/s per direction
FT2_LATENCY_PS = 500_000    # 500 ns per link


def ft2_256_fabric() -> Topology:
    """16 leaves x 16 hosts, 16 spines; 50 GB/s (400 Gb/s) per direction, 500 ns, 0 ns switches."""
    params = LinkParams(
        rate_Bps=FT2_RATE_BPS, latency_ps=FT2_LATENCY_PS, switch_latency_ps=0,
        buffer_bytes=FT2_QUEUE_PACKETS * FT2_MTU, endpoint_buffer_bytes=FT2_QUEUE_PACKETS * FT2_MTU,
    )
    return folded_clos(16, 16, 16, params)


def ft2_256_flows(name: str, topo: Topology) -> Messages:
    """Messages from a traffic file in ``benchdata/``: host h is the h-th endpoint of ``topo``.

    File format: ``SRC->DST id N start T_ps size BYTES`` per flow, after a two-line header.
    """
    src, dst, start, size = [], [], [], []
    for line in (DATA / name).read_text().splitlines():
        if "->" not in line:
            continue
        pair, rest = line.split(" ", 1)
        s, d = pair.split("->")
        fields = rest.split()
        src.append(int(s))
        dst.append(int(d))
        start.append(int(fields[fields.index("start") + 1]))
        size.append(int(fields[fields.index("size") + 1]))
    hosts = topo.endpoints
    # htsim start times are in ps already (its timebase); they become message delays.
    return Messages(hosts[np.array(src)], hosts[np.array(dst)], size, delay_ps=start)


def cm_shape(groups: int) -> Topology:
    """CloudMatrix-384-shaped UB fabric: ``groups`` x 16 endpoints, 7 planes x 16 spines, 28 GB/s links."""
    p = LinkParams(rate_Bps=28e9, latency_ps=10_000, switch_latency_ps=150_000, buffer_bytes=64 << 10)
    return folded_clos(groups, 16, 16, p, planes=7)


@dataclass(frozen=True)
class BenchCase:
    """One benchmark: a fabric, its messages and the engine options.

    Attributes:
        name: case name (the pytest id, and the row of ``podsim bench``).
        build: makes ``(fabric, messages)`` (a topology or a system); called once per case,
            outside the timed run.
        options: keyword arguments of :func:`podsim.simulate` (mtu, header_bytes, routing, seed).
        min_makespan_ps: a physical lower bound on the makespan, ps (0 when none is asserted).
    """

    name: str
    build: Callable[[], tuple[FabricLike, Messages]]
    options: dict[str, Any] = field(default_factory=dict)
    min_makespan_ps: int = 0

    def run(self, topo: FabricLike, msgs: Messages, progress: ProgressFn | None = None) -> Result:
        """Simulate the case once on an already built fabric and message batch."""
        return simulate(topo, msgs, progress=progress, **self.options)


def _ft2(traffic: str) -> Callable[[], tuple[Topology, Messages]]:
    def build() -> tuple[Topology, Messages]:
        topo = ft2_256_fabric()
        return topo, ft2_256_flows(traffic, topo)

    return build


def _ft2_uniform_random() -> tuple[Topology, Messages]:
    """BookSim2's FT2-256 run: every host sends packets to uniformly random other hosts at half
    its link rate. BookSim2 retired 482,434 packets of 16 flits in 60,409 cycles at 0.5 flits per
    cycle per node; here Poisson arrivals of one-packet 4,000 B messages at 25 GB/s per host for
    300 us give about as many (481,515)."""
    from podsim.workloads import synthetic

    topo = ft2_256_fabric()
    return topo, synthetic(topo.endpoints, "uniform", message_bytes=FT2_PAYLOAD, load=0.5, duration_s=300e-6,
                           rate_Bps=FT2_RATE_BPS, seed=1)


def _cm(groups: int) -> Callable[[], tuple[Topology, Messages]]:
    def build() -> tuple[Topology, Messages]:
        topo = cm_shape(groups)
        return topo, all_to_all(topo.endpoints, 64 << 10)

    return build


def _system(name: str, make: Callable[[Any], Messages]) -> Callable[[], tuple[FabricLike, Messages]]:
    def build() -> tuple[FabricLike, Messages]:
        from podsim.systems import system  # the systems are only needed by these cases

        sys_ = system(name)
        return sys_, make(sys_)

    return build


def _system_cases(quick: bool) -> list[BenchCase]:
    from podsim import workloads as W

    ranks = 128 if quick else None  # quick: the first 8 nodes of CloudMatrix 384

    def a2a(per_pair: int) -> Callable[[Any], Messages]:
        return lambda s: W.all_to_all(s.ranks[:ranks] if ranks else s, per_pair)

    a2a_sizes = (16 << 10,) if quick else (64 << 10, 1 << 20)
    ar_size = (16 << 20) if quick else (1 << 30)
    ep = 32 if quick else 256
    out = [BenchCase(f"cloudmatrix384_all_to_all[{n >> 10}KiB per pair{', 128 ranks' if quick else ''}]", _system("cloudmatrix384", a2a(n)))
           for n in a2a_sizes]
    out.append(BenchCase(f"gb300-nvl72_all_reduce_ring[{ar_size >> 20}MiB]", _system("gb300-nvl72", lambda s: W.all_reduce(s, ar_size))))
    out.append(BenchCase(f"cloudmatrix384_moe_dispatch_combine[EP{ep}]", _system("cloudmatrix384", lambda s: W.moe(s.ranks[:ep], 128, seed=1))))
    return out


def cases(quick: bool = False) -> list[BenchCase]:
    """The benchmark cases; ``quick`` (what CI runs) keeps only the small CloudMatrix-shaped sizes."""
    ft2 = {"mtu": FT2_MTU, "header_bytes": FT2_HEADER, "seed": 1}
    # Each 2 MB flow needs at least its serialization at 50 GB/s.
    perm_bound = int(2_000_000 * 1e12 // FT2_RATE_BPS)
    out = [
        BenchCase(f"ft2_256_permutation_2MB[{r}]", _ft2("perm_256n_2MB.txt"), {**ft2, "routing": r}, perm_bound)
        for r in ("spray", "ecmp", "adaptive")
    ]
    out.append(BenchCase("ft2_256_uniform_8x1MB", _ft2("uni_256n_8x1MB.txt"), {**ft2, "routing": "spray"}))
    out.append(BenchCase("ft2_256_uniform_random[load=0.5]", _ft2_uniform_random, {**ft2, "routing": "spray"}))
    out += [
        BenchCase(f"cm_shape_all_to_all_64KiB[groups={g}]", _cm(g), {"routing": "adaptive"})
        for g in ((1, 2, 4) if quick else (1, 2, 4, 8, 16, 48))
    ]
    # The same fabric and traffic with more packets in flight: each endpoint keeps up to `window`
    # packets queued at its ports (the default is two per port).
    g = 4 if quick else 16
    out += [
        BenchCase(f"cm_shape_all_to_all_64KiB[groups={g}, window={w}]", _cm(g), {"routing": "adaptive", "endpoint_window_packets": w})
        for w in ((896,) if quick else (56, 224, 896))
    ]
    return out + _system_cases(quick)


def reset_peak_rss() -> None:
    """Start a new peak-RSS measurement, so that a case run after a larger one reports its own
    peak. Linux resets its high-water mark to the current RSS; elsewhere nothing is reset and
    :func:`peak_rss_mb` stays the process's peak so far."""
    gc.collect()
    try:
        # Memory an earlier case freed but the allocator kept would count towards this one.
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to hand back
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # not Linux, or not allowed: the process-wide peak is what remains measurable


def peak_rss_mb() -> float:
    """Peak resident set size since :func:`reset_peak_rss` (Linux), else of the process so far, MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass  # not Linux: fall back to the process-wide peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def metrics(case: str, res: Result, wall_s: float) -> dict[str, Any]:
    """What a benchmark row reports: engine work per wall second, makespan, achieved rate, RSS.

    ``wall_s`` is the best wall time of the case's rounds, seconds.
    """
    return {
        "case": case,
        "wall_s": wall_s,
        "events": res.events,
        "packet_hops": res.packet_hops,
        "packets": int(res.channels.packets.sum()),
        "events_per_s": res.events / wall_s,
        "packet_hops_per_s": res.packet_hops / wall_s,
        "sim_s_per_wall_s": res.now_ps * 1e-12 / wall_s,
        "makespan_us": res.makespan_ps / 1e6,
        "achieved_TBps_uni": res.achieved_bandwidth() / 1e12,
        "engine_wall_s": res.wall_s,
        "peak_packets_in_flight": res.peak_packets_in_flight,
        "peak_pending_events": res.peak_pending_events,
        "peak_rss_MiB": peak_rss_mb(),
    }


def run_case(case: BenchCase, progress: ProgressFn | None = None) -> tuple[Result, dict[str, Any]]:
    """Build and run one case once; returns the result and its :func:`metrics` row."""
    reset_peak_rss()
    topo, msgs = case.build()
    t0 = time.perf_counter()
    res = case.run(topo, msgs, progress)
    return res, metrics(case.name, res, time.perf_counter() - t0)


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The one-screen table of benchmark rows (from :func:`metrics`), as lines."""
    w = max([4, *(len(r["case"]) for r in rows)])
    out = [f"{'case':{w}} {'wall s':>7} {'events':>10} {'Mev/s':>6} {'Mhop/s':>6} {'makespan us':>11} {'TB/s uni':>8} "
           f"{'pkts in flight':>14} {'RSS MiB':>7}"]
    for r in rows:
        out.append(
            f"{r['case']:{w}} {r['wall_s']:7.2f} {r['events']:10d} {r['events_per_s'] / 1e6:6.2f} "
            f"{r['packet_hops_per_s'] / 1e6:6.2f} {r['makespan_us']:11.1f} {r['achieved_TBps_uni']:8.2f} "
            f"{r['peak_packets_in_flight']:14d} {r['peak_rss_MiB']:7.0f}"
        )
    out.append("makespan: first message start to the last message complete at its initiator (a write's "
               "acknowledgement back; 'podsim run' times to the last byte delivered)")
    out.append("TB/s uni: payload delivered over the time from the first start to the last byte delivered, "
               "so a little more than bytes / makespan")
    return out
