"""Access patterns for the HBM model.

A :class:`Pattern` is a compact description expanded inside the engine (each device keeps a fixed
number of requests outstanding and issues the next one when one completes). :class:`Requests` is
an explicit open-loop request list held as numpy arrays.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from podsim._validate import MAX_TIME_PS, U64_MAX, int_array, integer
#: Pattern kinds and their engine codes.
KINDS: dict[str, int] = {"sequential": 0, "strided": 1, "random": 2, "copy": 3}


def _fraction(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{field}: expected a number, got {type(value).__name__}")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{field}: must be in [0, 1], got {value!r}")
    return value


@dataclass(frozen=True)
class Pattern:
    """A synthetic request stream of one device.

    Attributes:
        kind: ``"sequential"`` (request i at ``base + i * request_bytes``), ``"strided"`` (at
            ``base + i * stride_bytes``), ``"random"`` (uniform, aligned to ``request_bytes``) or
            ``"copy"`` (read source[i], then write destination[i]; the footprint's two halves).
        request_bytes: bytes per request, >= 1.
        stride_bytes: distance between consecutive requests in bytes (``"strided"`` only).
        base: first byte of the footprint.
        footprint_bytes: bytes the addresses wrap within; 0 = from ``base`` to the end of the device.
        write_fraction: probability that a request is a write, in [0, 1] (ignored by ``"copy"``).
    """

    kind: str
    request_bytes: int = 4096
    stride_bytes: int = 0
    base: int = 0
    footprint_bytes: int = 0
    write_fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: must be one of {tuple(KINDS)}, got {self.kind!r}")
        integer(self.request_bytes, "request_bytes", 1, 1 << 40)
        integer(self.stride_bytes, "stride_bytes", 1 if self.kind == "strided" else 0, 1 << 40)
        integer(self.base, "base", 0, U64_MAX)
        integer(self.footprint_bytes, "footprint_bytes", 0, U64_MAX)
        _fraction(self.write_fraction, "write_fraction")


def sequential_read(request_bytes: int = 4096, *, base: int = 0, footprint_bytes: int = 0) -> Pattern:
    """Sequential reads of ``request_bytes`` bytes each (``base``, ``footprint_bytes``: see
    :class:`Pattern`)."""
    return Pattern("sequential", request_bytes, base=base, footprint_bytes=footprint_bytes)


def sequential_write(request_bytes: int = 4096, *, base: int = 0, footprint_bytes: int = 0) -> Pattern:
    """Sequential writes of ``request_bytes`` bytes each (``base``, ``footprint_bytes``: see
    :class:`Pattern`)."""
    return Pattern("sequential", request_bytes, base=base, footprint_bytes=footprint_bytes, write_fraction=1.0)


def copy(request_bytes: int = 4096, *, base: int = 0, footprint_bytes: int = 0) -> Pattern:
    """A memcpy of ``request_bytes`` requests: alternate reads of the footprint's first half and
    writes of its second half (``base``, ``footprint_bytes``: see :class:`Pattern`)."""
    return Pattern("copy", request_bytes, base=base, footprint_bytes=footprint_bytes)


def strided(
    stride_bytes: int, request_bytes: int = 64, *, write_fraction: float = 0.0, base: int = 0, footprint_bytes: int = 0
) -> Pattern:
    """Requests of ``request_bytes`` every ``stride_bytes`` bytes (``write_fraction``, ``base``,
    ``footprint_bytes``: see :class:`Pattern`)."""
    return Pattern("strided", request_bytes, stride_bytes, base, footprint_bytes, write_fraction)


def random(
    request_bytes: int = 64, *, footprint_bytes: int = 0, write_fraction: float = 0.0, base: int = 0
) -> Pattern:
    """Uniformly random, ``request_bytes``-aligned requests over ``footprint_bytes`` (0 = the device)
    from ``base`` (``write_fraction``: see :class:`Pattern`). The request size comes first, as in
    the other patterns: ``random(4096)`` is 4 KiB requests."""
    return Pattern("random", request_bytes, 0, base, footprint_bytes, write_fraction)


def mix(
    write_fraction: float, address: str = "random", request_bytes: int = 64, *, footprint_bytes: int = 0
) -> Pattern:
    """Requests of ``request_bytes``, reads and writes mixed at ``write_fraction`` (in [0, 1]), with
    ``address`` ``"random"`` or ``"sequential"`` (``footprint_bytes``: see :class:`Pattern`)."""
    if address not in ("random", "sequential"):
        raise ValueError(f"address: must be 'random' or 'sequential', got {address!r}")
    return Pattern(address, request_bytes, footprint_bytes=footprint_bytes, write_fraction=write_fraction)


@dataclass(frozen=True)
class Requests:
    """An explicit open-loop request list (numpy arrays of one length). Built from array-likes,
    which are checked and converted (scalars broadcast to the length of ``addr``).

    Attributes:
        arrival_ps: arrival time of each request, integer ps, non-decreasing.
        addr: byte address of each request.
        bytes: size of each request in bytes, >= 1.
        is_write: True for a write.
    """

    arrival_ps: np.ndarray
    addr: np.ndarray
    bytes: np.ndarray
    is_write: np.ndarray

    def __post_init__(self) -> None:
        n = int(np.asarray(self.addr).size)
        arrival = int_array(self.arrival_ps, "arrival_ps", n, 0, MAX_TIME_PS, np.uint64)
        a = int_array(self.addr, "addr", n, 0, U64_MAX, np.uint64)
        b = int_array(self.bytes, "bytes", n, 1, 1 << 40, np.uint64)
        w = np.asarray(self.is_write)
        if w.ndim == 0:
            w = np.full(n, w)
        if w.dtype != np.bool_:
            raise TypeError(f"is_write: expected booleans, got an array of dtype {w.dtype}")
        if not (arrival.size == a.size == b.size == w.size):
            raise ValueError("arrival_ps, addr, bytes, is_write: must have the same length")
        if arrival.size > 1 and np.any(np.diff(arrival.astype(np.int64)) < 0):
            raise ValueError("arrival_ps: must be non-decreasing")
        for name, value in (("arrival_ps", arrival), ("addr", a), ("bytes", b), ("is_write", w)):
            object.__setattr__(self, name, value)

    @classmethod
    def of(cls, arrival_ps: Any, addr: Any, bytes: Any, is_write: Any) -> Requests:  # noqa: A002
        """The same as ``Requests(arrival_ps, addr, bytes, is_write)``."""
        return cls(arrival_ps, addr, bytes, is_write)
