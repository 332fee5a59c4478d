"""Argument checks shared by the public API: every failure names the field and the allowed range."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from podsim import _core

U64_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1
#: Latest simulated time, and the largest time, delay or latency accepted, ps (2^62, about 53
#: days): an event is at most the current time plus two of them, so simulated time cannot wrap.
MAX_TIME_PS: int = _core.MAX_TIME_PS
#: Rates accepted, bytes/s per direction: serialization is computed in whole milli-bytes per
#: second, so a rate below 1 B/s would be rounded to nothing.
MIN_RATE_BPS: float = 1.0
MAX_RATE_BPS: float = _core.MAX_RATE_BPS
#: Most ports a node may have connected (the engine's routing indexes them in 16 bits).
MAX_PORTS: int = _core.MAX_PORTS
#: Most (node, destination endpoint) pairs a simulated fabric may have: the engine keeps a
#: routing entry of ``ROUTE_ENTRY_BYTES`` (6) for each, so this is 12 GiB.
MAX_ROUTE_ENTRIES: int = _core.MAX_ROUTE_ENTRIES
ROUTE_ENTRY_BYTES: int = _core.ROUTE_ENTRY_BYTES
#: Most (input, output) pairs summed over a fabric's nodes: the engine keeps a virtual output
#: queue and a round-robin slot of ``QUEUE_PAIR_BYTES`` (12) for each, so this is 24 GiB; a
#: node of P ports alone has about P^2 of them.
MAX_QUEUE_PAIRS: int = _core.MAX_QUEUE_PAIRS
QUEUE_PAIR_BYTES: int = _core.QUEUE_PAIR_BYTES
#: Largest MTU and per-packet header accepted, bytes.
MAX_PACKET_BYTES: int = _core.MAX_PACKET_BYTES


@dataclass(frozen=True)
class FabricSize:
    """What the engine allocates for a fabric beyond its nodes and links, to check against its
    limits before building the fabric."""

    endpoints: int
    nodes: int
    queue_pairs: int  # (input + injection, output) pairs summed over the nodes: see queue_pairs()

    def problem(self) -> str | None:
        """Why the engine would refuse this fabric, or None."""
        entries = self.endpoints * self.nodes
        if entries > MAX_ROUTE_ENTRIES:
            return (f"{self.endpoints} endpoints and {self.nodes} nodes need {entries} routing entries of "
                    f"{ROUTE_ENTRY_BYTES} bytes; the engine allows at most {MAX_ROUTE_ENTRIES} (2^31)")
        if self.queue_pairs > MAX_QUEUE_PAIRS:
            return (f"its nodes need {self.queue_pairs} queues, one per (input, output) pair, of "
                    f"{QUEUE_PAIR_BYTES} bytes; the engine allows at most {MAX_QUEUE_PAIRS} (2^31)")
        return None


def queue_pairs(nodes: int, ports: int) -> int:
    """Queue pairs of ``nodes`` nodes of ``ports`` ports each (every input, and the injection
    input, to every output)."""
    return nodes * (ports + 1) * ports


def integer(value: Any, field: str, lo: int = 0, hi: int = U64_MAX, hi_why: str = "", lo_why: str = "") -> int:
    """Return ``value`` as an int in ``[lo, hi]`` or raise TypeError/ValueError naming ``field``
    (and saying why the limit it broke is there: ``hi_why`` above ``hi``, ``lo_why`` below ``lo``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise TypeError(f"{field}: expected an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        reason = hi_why if value > hi else lo_why
        why = f" ({reason})" if reason else ""
        raise ValueError(f"{field}: must be in [{lo}, {hi}]{why}, got {value}")
    return value


def positive_float(value: Any, field: str, hi: float = math.inf, unit: str = "") -> float:
    """Return ``value`` as a finite float in ``(0, hi]`` (``(0, inf)`` when ``hi`` is inf) or raise
    naming ``field`` (and the range's ``unit``, when it has one)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{field}: expected a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0 or value > hi:
        # With no upper bound the range is open at both ends: inf itself is refused.
        interval = "(0, inf)" if math.isinf(hi) else f"(0, {hi:g}]"
        raise ValueError(f"{field}: must be a finite number in {interval}{f' {unit}' if unit else ''}, got {value!r}")
    return value


def rate(value: Any, field: str) -> float:
    """Return ``value`` as a rate in bytes/s within ``[MIN_RATE_BPS, MAX_RATE_BPS]`` or raise naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{field}: expected a number, got {type(value).__name__} {value!r}")
    out = float(value)
    if not (math.isfinite(out) and MIN_RATE_BPS <= out <= MAX_RATE_BPS):
        raise ValueError(f"{field}: must be a finite number in [{MIN_RATE_BPS:g}, {MAX_RATE_BPS:g}] bytes/s, got {out!r}")
    return out


def seed(value: Any, field: str = "seed") -> int:
    """An engine seed: an integer in [0, 2**64 - 1], or a ``numpy.random.SeedSequence`` (its first
    64-bit word)."""
    if isinstance(value, np.random.SeedSequence):
        return int(value.generate_state(1, dtype=np.uint64)[0])
    return integer(value, field)


def callback(value: Any, field: str, what: str = "a callable") -> Any:
    """``value`` if it is None or callable; else TypeError naming ``field`` and ``what`` it must be
    (checked before a run starts, not at its first call)."""
    if value is not None and not callable(value):
        raise TypeError(f"{field}: expected {what} or None, got {type(value).__name__}")
    return value


def choice(value: Any, field: str, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of the strings ``options``, or raise naming ``field`` and them."""
    allowed = sorted(options)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{field}: must be one of {allowed}, got {value!r}")
    return value


def flag(value: Any, field: str) -> bool:
    """Return ``value`` as a bool if it is one (numpy's included), or raise naming ``field``: a
    truthy string such as ``"no"`` must not switch an option on."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{field}: expected True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def name(value: Any, field: str = "name") -> str:
    """Return a non-empty string or raise naming ``field``."""
    if not isinstance(value, str):
        raise TypeError(f"{field}: expected a string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{field}: must not be empty")
    return value


def int_array(values: Any, field: str, n: int | None, lo: int, hi: int, dtype: type) -> np.ndarray:
    """Convert to a 1-D integer array of ``dtype`` with every entry in ``[lo, hi]``.

    A scalar is broadcast to length ``n``. Floats are accepted only when integral; nothing is
    silently truncated or wrapped.
    """
    arr = np.asarray(values)
    if arr.dtype == object:
        # NumPy keeps Python integers beyond 64 bits as objects: integers, but out of range.
        flat = arr.ravel().tolist()
        if flat and all(isinstance(x, int) and not isinstance(x, bool) for x in flat):
            bad = next((x for x in flat if not lo <= x <= hi), None)
            if bad is not None:
                raise ValueError(f"{field}: entries must be in [{lo}, {hi}], got {bad!r}")
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{field}: expected integers, got an array of dtype {arr.dtype}")
    if arr.dtype.kind == "b":
        raise TypeError(f"{field}: expected integers, got booleans")
    if arr.ndim == 0 and n is not None:
        arr = np.full(n, arr)
    if arr.ndim != 1:
        raise ValueError(f"{field}: expected a 1-D sequence, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{field}: expected {n} entries, got {arr.shape[0]}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.floor(arr)):
            bad = arr[~(np.isfinite(arr) & (arr == np.floor(arr)))][0]
            raise ValueError(f"{field}: entries must be whole numbers, got {bad!r}")
    if arr.size:
        # As Python numbers: comparing a float16 array with 2**64 - 1 would overflow in float16.
        amin, amax = arr.min().item(), arr.max().item()
        if amin < lo or amax > hi:
            bad = amin if amin < lo else amax
            raise ValueError(f"{field}: entries must be in [{lo}, {hi}], got {bad!r}")
    return np.ascontiguousarray(arr.astype(dtype))


def exact_sum(values: np.ndarray) -> int:
    """The exact sum of non-negative integers below 2**64, as a Python int. NumPy sums in 64 bits
    and wraps around silently (768 ranks exchanging 2**48 bytes per pair total more than 2**64);
    summing the high and low 32-bit halves apart cannot wrap for fewer than 2**32 entries."""
    arr = np.asarray(values).astype(np.uint64, copy=False).reshape(-1)
    if arr.size >= 1 << 32:
        raise ValueError(f"exact_sum: at most 2**32 - 1 entries, got {arr.size}")
    high = int((arr >> np.uint64(32)).sum(dtype=np.uint64))
    low = int((arr & np.uint64(0xFFFFFFFF)).sum(dtype=np.uint64))
    return (high << 32) + low
