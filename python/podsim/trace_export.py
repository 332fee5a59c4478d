"""Export a run, or a time window of it, to Chrome trace-event JSON (opens in ui.perfetto.dev
and chrome://tracing).

Layout of the trace:

* one process per endpoint, named after it, holding its messages as async slices (``b``/``e``
  events, id = message id) from start to end; a message still running at the end of the window
  is cut there;
* one process per channel tier (``endpoint→L1``, ``L1→L2``, ...), with a counter track of the
  tier's mean utilisation per time bin and, when the run recorded a trace, one thread per
  channel holding its packet transmissions as complete slices (``X`` events; a channel sends
  one packet at a time, so they never overlap). The counter averages over the tier's channels
  that carried traffic in the run.

Timestamps are microseconds as the format requires (``ts = ps / 1e6``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from podsim import _validate as v
from podsim.report import channel_tiers, require_fabric, tier_utilization_over_time
from podsim.results import NOT_YET, Result
from podsim.topology import Topology
from podsim.units import format_time_ps

#: Default cap on the events of one export (about 150 bytes each in the file).
MAX_EVENTS = 1_000_000
#: Counter samples per tier over the window.
COUNTER_BINS = 200


class TraceTooLarge(ValueError):
    """The window holds more events than the cap; the message says how many and what to do."""


def _us(ps: np.ndarray | float) -> Any:
    return np.asarray(ps, dtype=np.float64) / 1e6


def chrome_trace(
    result: Result,
    topology: Topology,
    *,
    window_ps: tuple[int, int | None] = (0, None),
    max_events: int = MAX_EVENTS,
    roles: Sequence[str] | np.ndarray | None = None,
) -> dict[str, Any]:
    """The trace-event document of ``result`` within ``window_ps`` as a JSON-ready dict.

    Args:
        result: a run; with ``trace=`` set the channels get packet slices and exact counters.
        topology: the fabric it ran on (names and tiers).
        window_ps: ``(start, end)`` in ps; ``end`` None is the end of the traffic
            (:attr:`Result.traffic_end_ps`).
        max_events: most events to write; a larger window raises :class:`TraceTooLarge`.
        roles: role name per node (``System.roles()``) for tier names; optional.

    Raises:
        TraceTooLarge: the window holds more than ``max_events`` events.
        ValueError: the window is empty or starts after the run.
    """
    if not isinstance(window_ps, (tuple, list)) or len(window_ps) != 2:
        raise TypeError(f"window_ps: expected (start, end) in ps, end None for the end of the traffic, got {window_ps!r}")
    lo = v.integer(window_ps[0], "window_ps", 0, v.MAX_TIME_PS)
    hi = result.traffic_end_ps if window_ps[1] is None else v.integer(window_ps[1], "window_ps", 0, v.MAX_TIME_PS)
    max_events = v.integer(max_events, "max_events", 1)
    require_fabric(result, topology)
    if hi <= lo or lo >= max(result.now_ps, 1):
        raise ValueError(f"window: [{lo}, {hi}) ps = [{format_time_ps(lo)}, {format_time_ps(hi)}) is empty or after "
                         f"the run's end ({result.now_ps} ps = {format_time_ps(result.now_ps)})")
    names = topology.names
    m = result.messages
    start = m.start_ps.astype(np.float64)
    start[m.start_ps == NOT_YET] = np.inf
    end = np.where(m.end_ps == NOT_YET, float(result.now_ps), m.end_ps.astype(np.float64))
    msg = np.flatnonzero((start < hi) & (end > lo))
    tier, tier_names = channel_tiers(topology, roles)
    tr = result.trace
    tx = np.zeros(0, dtype=np.int64)
    if tr is not None:
        tx = np.flatnonzero((tr.start_ps < hi) & (tr.end_ps > lo))
    endpoints = np.unique(m.src[msg]) if len(msg) else np.zeros(0, dtype=np.int64)
    channels = np.unique(tr.channel[tx]) if tr is not None and len(tx) else np.zeros(0, dtype=np.int64)
    count = 2 * len(msg) + len(tx) + COUNTER_BINS * len(tier_names) + len(endpoints) + len(tier_names) + len(channels)
    if count > max_events:
        raise TraceTooLarge(
            f"trace window [{lo}, {hi}) ps holds {count:,} events, more than max_events={max_events:,}; "
            "narrow the window (window_ps, --trace-window START:END) or raise the cap (max_events, --trace-max-events)"
        )

    events: list[dict[str, Any]] = []
    # Process ids: endpoints keep their node id + 1; tiers come after every node.
    for e in endpoints:
        events.append({"ph": "M", "name": "process_name", "pid": int(e) + 1, "tid": 0, "args": {"name": names[e]}})
    # Plain Python lists: building a million dicts from numpy scalars is several times slower.
    t0s = _us(np.maximum(start[msg], lo)).tolist()
    t1s = _us(np.minimum(end[msg], hi)).tolist()
    srcs, dsts, sizes = m.src[msg].tolist(), m.dst[msg].tolist(), m.size[msg].tolist()
    kinds, done = m.kind[msg].tolist(), (m.end_ps[msg] != NOT_YET).tolist()
    for i, t0, t1, s, d, size, kind, ok in zip(msg.tolist(), t0s, t1s, srcs, dsts, sizes, kinds, done):
        label = f"{'write' if kind == 0 else 'read'} → {names[d]}"
        args = {"msg": i, "bytes": size, "dst": names[d], "complete": ok}
        events.append({"ph": "b", "cat": "message", "name": label, "id": i, "pid": s + 1, "tid": 0, "ts": t0, "args": args})
        events.append({"ph": "e", "cat": "message", "name": label, "id": i, "pid": s + 1, "tid": 0, "ts": t1})

    tier_pid = topology.num_nodes + 1
    for t, tname in enumerate(tier_names):
        events.append({"ph": "M", "name": "process_name", "pid": tier_pid + t, "tid": 0, "args": {"name": f"tier {tname}"}})
    ch = topology.channels()
    for c in channels:
        events.append({"ph": "M", "name": "thread_name", "pid": tier_pid + int(tier[c]), "tid": int(c) + 1,
                       "args": {"name": f"{names[ch.src[c]]} → {names[ch.dst[c]]}"}})
    if tr is not None and len(tx):
        pids = (tier_pid + tier[tr.channel[tx]]).tolist()
        # Cut to the window, as the message slices are.
        t0, t1 = np.maximum(tr.start_ps[tx], lo), np.minimum(tr.end_ps[tx], hi)
        cols = (tr.channel[tx] + 1).tolist(), _us(t0).tolist(), _us(t1 - t0).tolist()
        more = tr.msg[tx].tolist(), tr.wire_bytes[tx].tolist(), tr.payload_bytes[tx].tolist()
        for pid, tid, ts, dur, mid, wire, payload in zip(pids, *cols, *more):
            events.append({"ph": "X", "cat": "packet", "name": f"msg {mid}", "pid": pid, "tid": tid, "ts": ts, "dur": dur,
                           "args": {"wire_bytes": wire, "payload_bytes": payload}})
    edges = np.linspace(lo, hi, COUNTER_BINS + 1)
    if tr is not None and tr.dropped == 0:
        util = tier_utilization_over_time(tr, tier, len(tier_names), edges, result.channels.packets > 0)
        what = "utilisation"
    else:
        # Without a complete trace only whole-run busy time is known: a flat counter says so.
        u = result.channels.utilization
        mean = np.array([u[tier == t].mean() if np.any(tier == t) else 0.0 for t in range(len(tier_names))])
        util = np.repeat(mean[:, None], COUNTER_BINS, axis=1)
        what = "utilisation (run mean)"
    for t in range(len(tier_names)):
        for k in range(COUNTER_BINS):
            events.append({"ph": "C", "name": what, "pid": tier_pid + t, "tid": 0, "ts": float(_us(edges[k])),
                           "args": {"busy": round(float(util[t, k]), 6)}})
    meta = {"window_ps": [lo, hi], "messages": len(msg), "transmissions": len(tx),
            "trace_recorded": tr is not None, "trace_dropped": 0 if tr is None else int(tr.dropped)}
    return {"traceEvents": events, "displayTimeUnit": "ns", "otherData": {"podsim": meta}}


def write_chrome_trace(path: str | Path, result: Result, topology: Topology, **kwargs: Any) -> dict[str, Any]:
    """Write :func:`chrome_trace` to ``path`` (keyword arguments as there); returns its
    ``otherData.podsim`` summary (window, message and transmission counts)."""
    doc = chrome_trace(result, topology, **kwargs)
    Path(path).write_text(json.dumps(doc, separators=(",", ":")))
    return doc["otherData"]["podsim"]
