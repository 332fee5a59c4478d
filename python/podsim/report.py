"""Reports on runs: channel tiers, tier utilisation over time, achieved-versus-peak summaries,
and writing tables to CSV or Parquet. Shared by :mod:`podsim.plot`, :mod:`podsim.trace_export`
and the command line.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from podsim.results import NOT_YET, Result, TransmissionTrace
from podsim.topology import Topology
from podsim.units import format_bytes, format_rate, format_time_ps
from podsim.workloads import Workload, WorkloadStats


def node_levels(topology: Topology) -> np.ndarray:
    """Per node id, its distance in links from the nearest endpoint (endpoints are level 0).

    This puts leaf switches at 1 and spines at 2 on any Clos or fat-tree whatever the names,
    which is what makes the tiers below general.
    """
    n = topology.num_nodes
    ch = topology.channels()
    order = np.argsort(ch.src, kind="stable")
    starts = np.searchsorted(ch.src[order], np.arange(n + 1))
    dst = ch.dst[order]
    level = np.full(n, -1, dtype=np.int64)
    eps = topology.endpoints
    level[eps] = 0
    queue = deque(int(e) for e in eps)
    while queue:
        a = queue.popleft()
        for b in dst[starts[a] : starts[a + 1]]:
            if level[b] < 0:
                level[b] = level[a] + 1
                queue.append(int(b))
    return level


def require_fabric(result: Result, topology: Topology) -> None:
    """Raise ValueError unless ``result`` is a run on ``topology`` (as many channels): a figure or
    trace of one run drawn over another fabric would mislabel every channel."""
    if topology.num_channels != len(result.channels):
        raise ValueError(f"topology: has {topology.num_channels} channels, the result {len(result.channels)}: "
                         "not the run's fabric")


def channel_tiers(topology: Topology, roles: Sequence[str] | np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Group channels into tiers by the levels (and, if given, the roles) of their two ends.

    Args:
        topology: the fabric.
        roles: optional role name per node id (``System.roles()``: ``"die"``, ``"l1"``, ...);
            without it nodes are called ``endpoint``, ``L1``, ``L2``... by :func:`node_levels`.

    Returns:
        ``(tier, names)``: tier index per channel (channel id order) and the tier names such as
        ``"endpoint→L1"``, ordered from the edge of the fabric inwards, up before down.
    """
    level = node_levels(topology)
    if roles is None:
        label = np.array(["endpoint" if lv == 0 else f"L{lv}" for lv in level], dtype=object)
    else:
        if len(roles) != topology.num_nodes:
            raise ValueError(f"roles: expected one per node ({topology.num_nodes}), got {len(roles)}")
        label = np.asarray(roles, dtype=object)
    ch = topology.channels()
    keys: dict[tuple[int, int, int, str, str], int] = {}
    raw = np.empty(len(ch), dtype=np.int64)
    for i, (a, b) in enumerate(zip(ch.src, ch.dst)):
        la, lb = int(level[a]), int(level[b])
        key = (min(la, lb), max(la, lb), int(la > lb), str(label[a]), str(label[b]))
        raw[i] = keys.setdefault(key, len(keys))
    ordered = sorted(keys, key=lambda k: k)
    remap = np.empty(len(keys), dtype=np.int64)
    for new, key in enumerate(ordered):
        remap[keys[key]] = new
    return remap[raw], [f"{k[3]}→{k[4]}" for k in ordered]


def _spread(start: np.ndarray, end: np.ndarray, weight: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per bin of ``edges``, the sum over intervals ``[start, end)`` of ``weight`` times the
    fraction of the interval inside the bin (zero-length intervals count at their end).

    The amount up to ``t`` is ``sum_i a_i (min(e_i, t) - min(s_i, t))`` with ``a_i = w_i / (e_i - s_i)``,
    and ``sum_i a_i min(x_i, t)`` comes from prefix sums over sorted ``x``: exact, and no interval is
    ever split over bins one by one.
    """
    s = start.astype(np.float64)
    e = np.maximum(end.astype(np.float64), s + 1e-9)
    a = weight.astype(np.float64) / (e - s)

    def sum_min(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        xs, aw = x[order], a[order]
        ax_prefix = np.concatenate([[0.0], np.cumsum(aw * xs)])
        a_suffix = np.concatenate([np.cumsum(aw[::-1])[::-1], [0.0]])
        k = np.searchsorted(xs, edges, side="left")
        return ax_prefix[k] + edges * a_suffix[k]

    return np.diff(sum_min(e) - sum_min(s))


def tier_utilization_over_time(
    trace: TransmissionTrace, tier: np.ndarray, n_tiers: int, edges_ps: np.ndarray, used: np.ndarray | None = None
) -> np.ndarray:
    """Mean utilisation of each tier's channels in each time bin, exactly, from a trace.

    Args:
        trace: the recorded transmissions (complete: ``dropped == 0`` for exact figures).
        tier: tier index per channel (:func:`channel_tiers`).
        n_tiers: number of tiers.
        edges_ps: increasing bin edges, ps.
        used: optional boolean per channel: average over these channels only (e.g. those that
            carried traffic, so a run on a subset of ranks is not diluted by idle links).

    Returns:
        ``(n_tiers, len(edges_ps) - 1)`` array of fractions in [0, 1].
    """
    edges = np.asarray(edges_ps, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError(f"edges_ps: must be at least two increasing times, got {edges_ps!r}")
    per_tier = np.bincount(tier, weights=None if used is None else used.astype(np.float64), minlength=n_tiers)
    out = np.zeros((n_tiers, len(edges) - 1))
    tx_tier = tier[trace.channel]
    for t in range(n_tiers):
        sel = tx_tier == t
        if not sel.any() or per_tier[t] == 0:
            continue
        # Weight = duration: a transmission contributes its busy time spread over the bins it spans.
        s, e = trace.start_ps[sel], trace.end_ps[sel]
        busy = _spread(s, e, (e - s).astype(np.float64), edges)
        out[t] = busy / (per_tier[t] * np.diff(edges))
    return np.clip(out, 0.0, 1.0)


def injection_peak_uni(topology: Topology, endpoints: Sequence[int] | np.ndarray) -> float:
    """What the given endpoints can inject together, bytes/s one direction (uni): the sum of their
    :meth:`Topology.injection_rates_uni` (their links into switches; all their links on a fabric
    without switches).

    For all compute ranks of a shipped system this is ``System.peak().scale_up_uni_Bps``; for a
    subset of ranks it is the peak that subset can inject.
    """
    mine = np.zeros(topology.num_nodes, dtype=bool)
    mine[np.asarray(endpoints, dtype=np.int64)] = True
    return float(topology.injection_rates_uni()[mine].sum())


def path_peak_uni(topology: Topology, src: int, dst: Sequence[int] | np.ndarray) -> float:
    """Sum of the rates of endpoint ``src``'s links that lie on a minimal path to any of the
    endpoints ``dst``, bytes/s one direction (uni): what a point-to-point transfer can use,
    whichever of them its routing takes (on CloudMatrix 384, a die's link to its sibling die
    rather than its switch ports)."""
    ch = topology.channels()
    is_endpoint = topology.is_endpoint()
    into: dict[int, list[int]] = {}
    for c, (a, b) in enumerate(zip(ch.src.tolist(), ch.dst.tolist())):
        into.setdefault(b, []).append(c)
    # Hops to the nearest destination, walking channels backwards; only switches relay.
    hops = np.full(topology.num_nodes, -1)
    frontier = [int(d) for d in np.asarray(dst, dtype=np.int64)]
    hops[frontier] = 0
    while frontier:
        nxt = []
        for node in frontier:
            if hops[node] > 0 and is_endpoint[node]:
                continue
            for c in into.get(node, []):
                a = int(ch.src[c])
                if hops[a] < 0:
                    hops[a] = hops[node] + 1
                    nxt.append(a)
        frontier = nxt
    # A next hop is a switch or the destination itself, as the engine's routing takes it.
    relays = ~is_endpoint[ch.dst] | (hops[ch.dst] == 0)
    mine = (ch.src == src) & relays & (hops[ch.dst] >= 0) & (hops[ch.dst] == hops[src] - 1)
    return float(ch.rate_Bps[mine].sum())


@dataclass(frozen=True)
class RunSummary:
    """One run in numbers. Times in seconds, rates bytes/s; ``None`` where the run did not finish.

    Attributes:
        system, workload, algorithm: what was run.
        ranks: participating ranks; ``messages``: messages in the workload.
        size_bytes: the workload's NCCL-convention size S, bytes (for a point-to-point test, the
            payload of all its messages).
        message_bytes: the size of every message when they are all one size, else None.
        routing, seed, mtu: engine options.
        complete: every message finished; ``messages_done``: how many did.
        simulated_s: simulated time reached, seconds.
        time_s: workload completion time (first start to last delivery), seconds.
        message_latency_s: mean over the messages of start to last byte delivered, seconds (a
            latency test's one-way latency; for reads, request plus data).
        completion_latency_s: mean over the messages of start to completion at the initiator,
            seconds: for a write, until its acknowledgement is back (after the target committed
            the data), which is what an initiator waits for and what :mod:`podsim.calibration`
            fits to measured latencies; for a read, the same as ``message_latency_s``.
        algbw_Bps, busbw_Bps: NCCL-convention algorithm and bus bandwidth, bytes/s.
        achieved_uni_Bps: payload delivered per second over the run, all ranks together (uni).
        offered_uni_Bps: for open-loop traffic (synthetic), the load offered, all senders
            together (uni), else None; the achieved figure spans first start to last delivery,
            the drain included.
        peak_uni_Bps: what the links of the ranks that send payload can inject, all together
            (uni): every rank's links into switches for a collective; for a point-to-point test,
            which sends one way at a time, the sender's links on a minimal path to its peer (a
            ping-pong alternates its two ranks; the data of a read flows from its target), see
            :func:`path_peak_uni`.
        peak_per_rank_uni_Bps: what one participating rank's links can inject, on average over
            the ranks (uni; what busbw is compared with); for a point-to-point test, the same
            as ``peak_uni_Bps``.
        delivered_bytes: payload delivered.
        hbm_coupled: the ranks' HBM was simulated with the fabric (``memory=True``).
        hbm_bytes: bytes the ranks read from and wrote into their HBM (0 when not coupled).
        hbm_peak_uni_Bps: HBM peak of the participating ranks, bytes/s (0 when unknown).
        lost_packets, replayed_packets: packets lost to faults (retransmitted end to end) and
            replayed by link-level retry (0 without faults).
        events, wall_s, events_per_s: engine work and speed.
    """

    system: str
    workload: str
    algorithm: str
    ranks: int
    messages: int
    size_bytes: int
    message_bytes: int | None
    routing: str
    seed: int
    mtu: int
    complete: bool
    messages_done: int
    simulated_s: float
    time_s: float | None
    message_latency_s: float | None
    completion_latency_s: float | None
    algbw_Bps: float | None
    busbw_Bps: float | None
    achieved_uni_Bps: float
    offered_uni_Bps: float | None
    peak_uni_Bps: float
    peak_per_rank_uni_Bps: float
    delivered_bytes: int
    hbm_coupled: bool
    hbm_bytes: int
    hbm_peak_uni_Bps: float
    lost_packets: int
    replayed_packets: int
    events: int
    wall_s: float
    events_per_s: float

    @property
    def efficiency(self) -> float:
        """Achieved over peak injection bandwidth, both uni, in [0, 1]."""
        return self.achieved_uni_Bps / self.peak_uni_Bps if self.peak_uni_Bps > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        """All fields and ``efficiency``, JSON-ready."""
        return {**asdict(self), "efficiency": self.efficiency}

    @property
    def hbm_uni_Bps(self) -> float | None:
        """HBM bytes read and written per second, all ranks together, over the completion time
        (the window of the fabric's figures: first start to the last byte landed in memory; the
        run goes on while the last acknowledgements travel back), or over the run so far when it
        did not complete; None when the HBM was not coupled."""
        if not self.hbm_coupled or self.simulated_s <= 0:
            return None
        window = self.time_s if self.complete and self.time_s else self.simulated_s
        return self.hbm_bytes / window

    def lines(self) -> list[str]:
        """Human-readable report, one fact per line."""
        each = "" if self.message_bytes is None else f" of {format_bytes(self.message_bytes)}"
        head = (f"{self.system}: {self.workload} ({self.algorithm}), {self.ranks} ranks, S = {format_bytes(self.size_bytes)}, "
                f"{self.messages} messages{each}")
        out = [head, f"  routing={self.routing} seed={self.seed} mtu={self.mtu} B"]
        if self.complete and self.time_s is not None and self.algbw_Bps is not None and self.busbw_Bps is not None:
            out.append(f"  completed in {format_time_ps(self.time_s * 1e12)} (simulated, first start to last byte delivered)")
            if self.message_latency_s is not None and self.completion_latency_s is not None:
                line = f"  message latency {format_time_ps(self.message_latency_s * 1e12)} mean (start to last byte delivered)"
                if self.completion_latency_s != self.message_latency_s:  # writes: the acknowledgement comes back later
                    line += (f"; {format_time_ps(self.completion_latency_s * 1e12)} to completion at the initiator "
                             "(write acknowledged)")
                out.append(line)
            out.append(f"  algbw {format_rate(self.algbw_Bps, 'uni')}, busbw {format_rate(self.busbw_Bps, 'uni')} per rank"
                       f" (link peak {format_rate(self.peak_per_rank_uni_Bps, 'uni')} per rank, {self.busbw_Bps / self.peak_per_rank_uni_Bps:.1%})")
        else:
            out.append(f"  NOT COMPLETE: reached {format_time_ps(self.simulated_s * 1e12)} simulated, {self.messages_done} of {self.messages} messages done")
        out.append(f"  achieved {format_rate(self.achieved_uni_Bps, 'uni')} of {format_rate(self.peak_uni_Bps, 'uni')} peak injection"
                   f" ({format_rate(2 * self.peak_uni_Bps, 'bidi')}), {self.efficiency:.1%}")
        if self.offered_uni_Bps is not None:
            out.append(f"  offered {format_rate(self.offered_uni_Bps, 'uni')} ({self.offered_uni_Bps / self.peak_uni_Bps:.1%} of that peak) "
                       "while messages arrive; the figures above run to the last delivery, the drain included")
        rate = self.hbm_uni_Bps
        if rate is not None:
            over = "the completion time" if self.complete and self.time_s else "the run so far"
            of_peak = f" of {format_rate(self.hbm_peak_uni_Bps, 'uni')} peak ({rate / self.hbm_peak_uni_Bps:.1%})" if self.hbm_peak_uni_Bps else ""
            out.append(f"  HBM: {format_bytes(self.hbm_bytes)} read + written, {format_rate(rate, 'uni')} over {over}{of_peak}")
        if self.lost_packets or self.replayed_packets:
            out.append(f"  faults: {self.lost_packets:,} packets lost (retransmitted end to end), "
                       f"{self.replayed_packets:,} replayed by link-level retry")
        out.append(f"  engine: {self.events:,} events in {self.wall_s:.2f} s wall ({self.events_per_s / 1e6:.2f} M events/s)")
        return out


def _mean_latency_s(stats: WorkloadStats) -> float:
    """Mean message latency over all phases (each phase's mean weighted by its messages)."""
    phases = list(stats.phases.values())
    return sum(p.mean_message_latency_s * p.messages for p in phases) / sum(p.messages for p in phases)


def summarize(
    system: str, workload: Workload, result: Result, topology: Topology, *, routing: str, seed: int, mtu: int,
    hbm_coupled: bool = False, hbm_peak_uni_Bps: float = 0.0,
) -> RunSummary:
    """A :class:`RunSummary` of ``result``, a run of ``workload`` on the fabric ``topology``.

    Works on partial results (an interrupted run): completion time and algbw/busbw are then None.

    Args:
        system: the system's name, as shown.
        workload, result, topology: what ran, what it gave, and on which fabric.
        routing, seed, mtu: the run's settings, recorded in the summary.
        hbm_coupled: the run had ``memory=True``.
        hbm_peak_uni_Bps: the participating ranks' HBM peak, bytes/s.
    """
    ledger = result.ledger
    done = result.messages.complete
    stats = workload.evaluate(result) if result.complete else None
    n = len(workload.ranks)
    senders = np.unique(workload.src)  # data flows src -> dst, for reads too
    # A generator whose ranks take turns (a point-to-point test) says how many send at once.
    senders = senders[: workload.info.get("concurrent_senders", len(senders))]
    if "concurrent_senders" in workload.info:
        # A point-to-point test: the links on its path (all of them, the die-to-die link of
        # sibling dies included), not every link of the ranks.
        peak = sum(path_peak_uni(topology, int(s), workload.dst[workload.src == s]) for s in senders)
        peak_per_rank = peak / len(senders)
    else:
        peak = injection_peak_uni(topology, senders)
        peak_per_rank = injection_peak_uni(topology, workload.ranks) / n
    return RunSummary(
        system=system, workload=workload.name, algorithm=workload.algorithm, ranks=n, messages=len(workload),
        size_bytes=int(workload.size_bytes),
        message_bytes=int(workload.size[0]) if len(workload) and np.all(workload.size == workload.size[0]) else None,
        routing=routing, seed=seed, mtu=mtu, complete=result.complete,
        messages_done=int(done.sum()), simulated_s=result.now_ps * 1e-12,
        time_s=None if stats is None else stats.time_s,
        message_latency_s=None if stats is None else _mean_latency_s(stats),
        completion_latency_s=None if stats is None else float(result.messages.latency_ps.mean()) * 1e-12,
        algbw_Bps=None if stats is None else stats.algbw_Bps,
        busbw_Bps=None if stats is None else stats.busbw_Bps,
        achieved_uni_Bps=result.achieved_bandwidth(),
        offered_uni_Bps=float(np.sum(workload.info["offered_Bps"])) if "offered_Bps" in workload.info else None,
        peak_uni_Bps=peak,
        peak_per_rank_uni_Bps=peak_per_rank,
        delivered_bytes=int(ledger.delivered_bytes.sum()), hbm_coupled=hbm_coupled,
        hbm_bytes=int(ledger.hbm_read_bytes.sum() + ledger.hbm_write_bytes.sum()), hbm_peak_uni_Bps=hbm_peak_uni_Bps,
        lost_packets=int(ledger.lost_packets.sum()), replayed_packets=int(ledger.replayed_packets.sum()),
        events=result.events, wall_s=result.wall_s,
        events_per_s=result.events_per_second,
    )


def arrived_over_time(result: Result, topology: Topology, edges_ps: np.ndarray) -> tuple[np.ndarray, bool]:
    """Payload bytes arriving at endpoints in each time bin, and whether that is packet-accurate.

    With a complete trace, each last-hop transmission's payload is spread over its serialization
    interval (so a bin shorter than a packet never shows more than the link rate): what the
    destinations' links carry. A target whose write engine is slower than its links (an
    endpoint's ``write_rate``) commits that data later, from its receive buffer, so for a while
    this can exceed what the targets commit. Without a complete trace, each message's bytes count
    at its delivery time (when committed; coarse for large messages).
    """
    edges = np.asarray(edges_ps, dtype=np.float64)
    tr = result.trace
    if tr is not None and tr.dropped == 0 and len(tr):
        last_hop = topology.is_endpoint()[topology.channels().dst][tr.channel]
        return _spread(tr.start_ps[last_hop], tr.end_ps[last_hop], tr.payload_bytes[last_hop], edges), True
    m = result.messages
    got = m.delivered_ps != NOT_YET
    hist, _ = np.histogram(m.delivered_ps[got].astype(np.float64), bins=edges, weights=m.size[got].astype(np.float64))
    return hist, False


def table_format(path: str | Path) -> str:
    """``"csv"`` or ``"parquet"`` from the suffix of ``path``.

    Raises:
        ValueError: another suffix, or Parquet without pyarrow (the message names the extra).
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401  (pandas picks the engine itself; checked here for a clear message)
        except ImportError:
            raise ValueError("path: Parquet needs pyarrow; install it with pip install 'podsim[parquet]' or write .csv") from None
        return "parquet"
    raise ValueError(f"path: expected a file ending in .csv or .parquet, got {str(path)!r}")


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path``: ``.csv``, or ``.parquet`` (needs the ``[parquet]`` extra: pyarrow).

    Raises:
        ValueError: see :func:`table_format`.
    """
    path = Path(path)
    if table_format(path) == "csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


def to_json(obj: Any) -> str:
    """JSON text of dicts/lists holding numpy scalars and arrays (converted to Python numbers/lists);
    NaN and infinity become null so that any JSON reader accepts the output."""

    def clean(x: Any) -> Any:
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if isinstance(x, np.ndarray):
            return clean(x.tolist())
        if isinstance(x, np.generic):
            return clean(x.item())
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return x

    return json.dumps(clean(obj), indent=2)
