"""Point-to-point tests as vendors publish them: one-way latency, bandwidth, ping-pong.

* ``latency``: ``iterations`` messages one after another (each starts when the previous is
  delivered); the one-way latency is ``PhaseStats.mean_message_latency_s``, start to last byte
  delivered (like ``ib_write_lat`` / ``ib_read_lat``; a read's latency includes its request).
  A write completes at its initiator later, when the acknowledgement is back (after the target
  committed the data): ``Result.messages.latency_ps``, the run summary's
  ``completion_latency_s``, and what :mod:`podsim.calibration` fits to measured latencies.
* ``bandwidth``: ``iterations`` messages with ``window`` in flight (like ``ib_write_bw`` with a
  TX depth); the bandwidth is ``WorkloadStats.algbw_Bps``.
* ``ping_pong``: writes bouncing between the two ranks; half the round trip is
  ``mean_message_latency_s``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from podsim import _validate as v
from podsim.workloads._dag import resolve_ranks, to_workload
from podsim.workloads.workload import Workload

#: Test patterns of :func:`point_to_point`.
PATTERNS = ("latency", "bandwidth", "ping_pong")


def point_to_point(
    target: Any,
    size_bytes: int = 512,
    *,
    pattern: str = "latency",
    kind: str = "write",
    initiator: int = 0,
    peer: int = 1,
    iterations: int = 16,
    window: int | None = None,
) -> Workload:
    """Messages between two ranks for a vendor-style latency or bandwidth test.

    Args:
        target: a system (``.ranks``) or a sequence of endpoint node ids.
        size_bytes: bytes per message, in [1, 2**48].
        pattern: ``"latency"``, ``"bandwidth"`` or ``"ping_pong"`` (writes only).
        kind: ``"write"`` (initiator pushes data to peer) or ``"read"`` (initiator pulls data
            from peer: data flows peer -> initiator after a request).
        initiator: rank index that issues the operations, in [0, n-1].
        peer: the other rank index, in [0, n-1], != initiator.
        iterations: messages (round trips for ping_pong), in [1, 2**24].
        window: messages in flight for ``"bandwidth"``, in [1, iterations]; None: 16, or
            ``iterations`` if fewer. The other patterns keep one.

    Returns:
        A :class:`Workload` over the two ranks (its ``ranks``, in rank order) with one
        phase ``p2p``; ``size_bytes`` is the total payload, so ``algbw`` is the achieved
        bandwidth (busbw factor 1). ``info["concurrent_senders"]`` is 1: data goes one way at a
        time, so the injection peak it is compared with is one rank's.
    """
    ranks, _ = resolve_ranks(target)
    n = len(ranks)
    size = v.integer(size_bytes, "size_bytes", 1, 1 << 48)
    if pattern not in PATTERNS:
        raise ValueError(f"pattern: must be one of {list(PATTERNS)}, got {pattern!r}")
    if kind not in ("write", "read"):
        raise ValueError(f"kind: must be 'write' or 'read', got {kind!r}")
    if pattern == "ping_pong" and kind != "write":
        raise ValueError("kind: ping_pong bounces writes between the ranks, so it must be 'write'")
    a = v.integer(initiator, "initiator", 0, n - 1)
    b = v.integer(peer, "peer", 0, n - 1)
    if a == b:
        raise ValueError(f"peer: must differ from initiator ({a})")
    iters = v.integer(iterations, "iterations", 1, 1 << 24)
    if pattern != "bandwidth":
        if window is not None and window != 1:  # (a window of 1 is what they keep: harmless)
            raise ValueError(f"window: applies to pattern='bandwidth' only; {pattern} keeps one message in flight, got {window!r}")
        w = 1
    else:
        w = min(16, iters) if window is None else v.integer(window, "window", 1, iters)
    count = 2 * iters if pattern == "ping_pong" else iters
    if count * size >= 1 << 64:
        raise ValueError(f"iterations: {count} messages x size_bytes {size} is 2**64 bytes or more in total; lower either")
    i = np.arange(count)
    # Over the two ranks only, in rank order: they are the workload's ranks, so peaks and
    # per-rank figures are theirs, not the whole system's.
    pair = sorted((a, b))
    ia, ib = pair.index(a), pair.index(b)
    if pattern == "ping_pong":
        src = np.where(i % 2 == 0, ia, ib)
    else:
        src = np.full(count, ib if kind == "read" else ia)  # a read's data flows peer -> initiator
    dst = ia + ib - src
    # Message i waits for message i - w: w operations outstanding, as a posted-work-queue depth.
    deps = np.stack([i[: count - w], i[w:]], axis=1)
    return to_workload(
        ranks[pair], src, dst, np.full(count, size), deps, step=i, name="point_to_point",
        algorithm=f"{pattern}_{kind}", size_bytes=count * size, bus_factor=1.0, phase_names=("p2p",),
        kind=kind, info={"concurrent_senders": 1},  # one way at a time (a ping-pong alternates)
    )
