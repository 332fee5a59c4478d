"""Synthetic traffic patterns at an offered load: uniform random, permutation, shift, incast,
hotspot and bisection.

Each sending rank offers ``load`` times its injection rate: fixed-size messages arrive as a
Poisson process (seeded) over ``duration_s``, and each message starts at its arrival time
(``delay_ps``), independent of the others.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from podsim import _validate as v
from podsim.workloads._dag import resolve_ranks, to_workload
from podsim.workloads.workload import Workload

#: Destination patterns of :func:`synthetic`.
PATTERNS = ("uniform", "permutation", "shift", "incast", "hotspot", "bisection")

#: Most messages one call may generate: lower than the other generators' limit, as drawing the
#: arrivals takes a dense matrix of senders x draws (keeps a typo in duration from exhausting memory).
MAX_MESSAGES = 1 << 26


def _injection_rate(target: Any, ranks: np.ndarray, rate_Bps: Any) -> np.ndarray:
    """Per-rank injection rate, bytes/s (uni): given (one number, or one per rank), or the sum of
    :meth:`Topology.injection_rates_uni` of the rank."""
    if rate_Bps is not None:
        if isinstance(rate_Bps, (str, bytes)):
            raise TypeError(f"rate_Bps: expected a number or one per rank, got {type(rate_Bps).__name__} {rate_Bps!r}")
        rate = np.asarray(rate_Bps, dtype=np.float64)
        if rate.ndim > 1 or (rate.ndim == 1 and len(rate) != len(ranks)):
            raise ValueError(f"rate_Bps: expected one number or one per rank ({len(ranks)}), got shape {rate.shape}")
        rate = np.broadcast_to(rate, ranks.shape)
        if not np.all(np.isfinite(rate) & (rate > 0)):
            raise ValueError("rate_Bps: must be finite and > 0 (bytes/s per rank)")
        return rate
    topo = getattr(target, "topology", None)
    if topo is None:
        raise ValueError("rate_Bps: needed when the target has no topology to take link rates from")
    rate = topo.injection_rates_uni()[ranks]
    if np.any(rate <= 0):
        raise ValueError(f"ranks: endpoint {ranks[np.argmax(rate <= 0)]} has no outgoing link")
    return rate


def _destinations(rng: np.random.Generator, pattern: str, src: np.ndarray, n: int, shift: int,
                  hot: int, hot_fraction: float) -> np.ndarray:
    other = (src + 1 + rng.integers(0, n - 1, size=len(src))) % n  # uniform over the other ranks
    if pattern == "uniform":
        return other
    if pattern == "permutation":
        # A random single-cycle permutation: never maps a rank to itself.
        cycle = rng.permutation(n)
        target = np.empty(n, dtype=np.int64)
        target[cycle] = np.roll(cycle, -1)
        return target[src]
    if pattern == "shift":
        return (src + shift) % n
    if pattern == "bisection":
        return (src + n // 2) % n
    if pattern == "incast":
        return np.full(len(src), hot)
    to_hot = (rng.random(len(src)) < hot_fraction) & (src != hot)  # hotspot
    return np.where(to_hot, hot, other)


def synthetic(
    target: Any,
    pattern: str,
    *,
    message_bytes: int,
    load: float,
    duration_s: float,
    rate_Bps: Any = None,
    shift: int = 1,
    hot_rank: int = 0,
    hot_fraction: float = 0.5,
    kind: str = "write",
    seed: int | np.random.SeedSequence = 0,
) -> Workload:
    """Open-loop synthetic traffic.

    Args:
        target: a system (``.ranks``, ``.topology``) or a sequence of endpoint node ids.
        pattern: ``"uniform"`` (each message to a random other rank), ``"permutation"`` (each rank
            to one fixed random partner), ``"shift"`` (rank i to i + shift), ``"incast"``
            (everyone to ``hot_rank``, n -> 1), ``"hotspot"`` (a ``hot_fraction`` of messages to
            ``hot_rank``, the rest uniform) or ``"bisection"`` (rank i to i + n/2: every message
            crosses the middle of the rank order; n must be even).
        message_bytes: bytes per message, in [1, 2**48].
        load: offered load per sending rank as a fraction of its injection rate, in (0, 1].
        duration_s: arrivals happen in [0, duration_s), seconds, in (0, 1000].
        rate_Bps: injection rate per rank, bytes/s (uni), scalar or per rank; default the sum of
            the rates of the rank's links into switches in ``target.topology`` (all its links on a
            fabric without switches).
        shift: offset for ``"shift"``, in [1, n-1].
        hot_rank: rank index of the hotspot, in [0, n-1].
        hot_fraction: share of messages to the hotspot for ``"hotspot"``, in [0, 1].
        kind: ``"write"`` or ``"read"``.
        seed: integer or ``numpy.random.SeedSequence``.

    Returns:
        A :class:`Workload` (phase ``synthetic``) whose ``size_bytes`` is the mean payload per
        rank, so ``algbw`` is the throughput per rank from the first start to the last delivery
        (busbw factor 1). That span includes the drain after the last arrival, so over an arrival
        window not much longer than the fabric's latency it reads below the offered load even
        when the fabric keeps up (``podsim run gb300-nvl72 synthetic --load 0.5``: 35.7% of the
        link peak with the default 2 us window, 48.6% with 20 us). ``info`` holds
        ``offered_Bps`` (per sender), ``senders`` and ``duration_s``.
    """
    ranks, _ = resolve_ranks(target)
    n = len(ranks)
    if pattern not in PATTERNS:
        raise ValueError(f"pattern: must be one of {list(PATTERNS)}, got {pattern!r}")
    size = v.integer(message_bytes, "message_bytes", 1, 1 << 48)
    load = v.positive_float(load, "load", 1.0)
    duration = v.positive_float(duration_s, "duration_s", 1e3, "s")
    if pattern == "shift":  # the other patterns ignore it
        shift = v.integer(shift, "shift", 1, n - 1)
    hot = v.integer(hot_rank, "hot_rank", 0, n - 1)
    if isinstance(hot_fraction, bool) or not isinstance(hot_fraction, numbers.Real) or not 0.0 <= float(hot_fraction) <= 1.0:
        raise ValueError(f"hot_fraction: must be a number in [0, 1], got {hot_fraction!r}")
    if pattern == "bisection" and n % 2:
        raise ValueError(f"ranks: bisection pairs rank i with i + n/2, so n must be even, got {n}")
    if not isinstance(seed, np.random.SeedSequence):
        seed = np.random.SeedSequence(v.integer(seed, "seed"))
    rng = np.random.default_rng(seed)

    senders = np.arange(n) if pattern != "incast" else np.delete(np.arange(n), hot)
    lam = load * _injection_rate(target, ranks, rate_Bps)[senders] / size  # messages per second
    expected = lam * duration
    if expected.sum() > MAX_MESSAGES:
        raise ValueError(f"duration_s: would give ~{int(expected.sum())} messages, more than {MAX_MESSAGES} (2^26)")
    # Draw enough exponential gaps that running past the duration is all but certain (mean + 8 sd).
    draws = int(np.ceil(expected.max() + 8 * np.sqrt(expected.max()) + 8))
    arrival = np.cumsum(rng.exponential(1.0, size=(len(senders), draws)), axis=1) / lam[:, None]
    live = arrival < duration
    src = np.broadcast_to(senders[:, None], live.shape)[live]
    if len(src) == 0:
        raise ValueError(f"duration_s: {duration} s is too short for any message to arrive at this load")
    delay_ps = np.round(arrival[live] * 1e12).astype(np.uint64)
    order = np.argsort(delay_ps, kind="stable")  # ids in arrival order, easier to read
    src, delay_ps = src[order], delay_ps[order]
    dst = _destinations(rng, pattern, src, n, shift, hot, float(hot_fraction))
    return to_workload(
        ranks, src, dst, np.full(len(src), size), np.zeros((0, 2), dtype=np.int64), name="synthetic",
        algorithm=pattern, size_bytes=max(1, int(round(len(src) * size / n))), bus_factor=1.0,
        phase_names=("synthetic",), delay_ps=delay_ps, kind=kind,
        info={"offered_Bps": lam * size, "senders": senders, "duration_s": duration},
    )
