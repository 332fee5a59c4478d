"""Sizes and rates as people write them: ``64KiB``, ``1GiB``, ``28GB/s``; and back to text.

Decimal prefixes are powers of 1000 (GB = 1e9 B, TB/s = 1e12 B/s), binary ones powers of 1024
(KiB, MiB, GiB), throughout the project.
"""

from __future__ import annotations

import re
from fractions import Fraction

_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str, field: str = "size") -> int:
    """Bytes from ``"4096"``, ``"64KiB"``, ``"1.5MB"``, ``"1GiB"``; ValueError names ``field``.

    Prefixes may be upper or lower case (``kB``, ``KB``), but a lower-case ``b`` is refused:
    in networking it means bits (``4Kb`` is 500 bytes, not 4,000)."""
    m = _SIZE_RE.match(_text(text, field))
    if m and m.group(2).endswith("b"):
        raise ValueError(f"{field}: {text!r} is in bits (a lower-case b); sizes are in bytes, e.g. 4KB or 4KiB")
    unit = m.group(2).lower() if m else None
    if not m or unit not in _SIZE_UNITS:
        raise ValueError(f"{field}: expected a size like 4096, 64KiB, 1MiB or 1GB, got {text!r}")
    value = Fraction(m.group(1)) * _SIZE_UNITS[unit]  # exact: "16.1KB" is 16,100 bytes, not 16,099.99...
    if value.denominator != 1 or value < 1:
        raise ValueError(f"{field}: must be a whole number of bytes >= 1, got {text!r} = {float(value)} B")
    return int(value)


def _text(text: object, field: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{field}: expected a string such as '64KiB' or '250ns', got {type(text).__name__} {text!r}")
    return text


def format_bytes(n: float) -> str:
    """``1048576 -> '1 MiB'``, ``3_000_000 -> '2.86 MiB'``, ``1_033_973 -> '1010 KiB'``: binary
    prefixes, 3 significant digits (whole units from 1000 on: never an exponent)."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            x = n / scale
            return f"{x:.0f} {unit}" if abs(x) >= 999.5 else f"{x:.3g} {unit}"
    return f"{n:.0f} B"


def exact_size(n: int) -> str:
    """``65536 -> '64KiB'``, ``1000000 -> '1000000'``: ``n`` bytes in the largest binary unit it
    is a whole number of, as typed; :func:`parse_size` reads it back exactly."""
    unit = next((u for u in ("TiB", "GiB", "MiB", "KiB") if n % _SIZE_UNITS[u.lower()] == 0), "")
    return f"{n // _SIZE_UNITS[unit.lower()]}{unit}"


def format_rate(bytes_per_s: float, direction: str) -> str:
    """``1.5e12, 'uni' -> '1.5 TB/s uni'``: decimal prefixes, with the direction spelled out."""
    if direction not in ("uni", "bidi"):
        raise ValueError(f"direction: must be 'uni' or 'bidi', got {direction!r}")
    # TB/s is the largest unit: it is the one the vendors and the papers quote system figures in.
    for unit, scale in (("TB/s", 1e12), ("GB/s", 1e9), ("MB/s", 1e6)):
        if abs(bytes_per_s) >= scale:
            return f"{bytes_per_s / scale:.4g} {unit} {direction}"
    return f"{bytes_per_s:.4g} B/s {direction}"


def format_time_ps(ps: float) -> str:
    """``1_500_000 -> '1.5 us'``: picoseconds in the largest unit that keeps the number >= 1."""
    for unit, scale in (("s", 1e12), ("ms", 1e9), ("us", 1e6), ("ns", 1e3)):
        if abs(ps) >= scale:
            return f"{ps / scale:.4g} {unit}"
    return f"{ps:.0f} ps"


#: Picoseconds per time unit, exact integers (a time is converted from its decimal, not a float).
PS_PER_UNIT = {"": 1, "ps": 1, "ns": 10**3, "us": 10**6, "µs": 10**6, "ms": 10**9, "s": 10**12}
_TIME_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Zµ]*)\s*$")


def parse_time_ps(text: str, field: str = "time") -> int:
    """Picoseconds from ``"250ns"``, ``"1.5us"``, ``"2ms"``, ``"1s"``, ``"7ps"``; a number needs its
    unit (``"2"`` could mean anything), except 0.

    ValueError names ``field``; fractions of a picosecond are refused (engine time is integer ps).
    """
    m = _TIME_RE.match(_text(text, field))
    if m and not m.group(2) and Fraction(m.group(1)) != 0:
        raise ValueError(f"{field}: {text!r} needs a unit (ps, ns, us, ms or s), e.g. 250ns")
    unit = m.group(2).lower() if m else None
    if not m or unit not in PS_PER_UNIT:
        raise ValueError(f"{field}: expected a time like 250ns, 1.5us, 2ms or 1s, got {text!r}")
    value = Fraction(m.group(1)) * PS_PER_UNIT[unit]  # exact: "2.01ns" is 2,010 ps
    if value.denominator != 1:
        raise ValueError(f"{field}: must be a whole number of picoseconds, got {text!r} = {float(value)} ps")
    return int(value)


def parse_window_ps(text: str, field: str = "window") -> tuple[int, int | None]:
    """``"START:END"`` as ps, each side a time for :func:`parse_time_ps`; an empty side means the
    run's start (0) or end (None). ``"10us:20us"``, ``":5us"``, ``"1ms:"``."""
    if text.count(":") != 1:
        raise ValueError(f"{field}: expected START:END such as 10us:20us (either side may be empty), got {text!r}")
    lo_text, hi_text = text.split(":")
    lo = parse_time_ps(lo_text, field) if lo_text.strip() else 0
    hi = parse_time_ps(hi_text, field) if hi_text.strip() else None
    if hi is not None and hi <= lo:
        raise ValueError(f"{field}: END must be after START, got {text!r}")
    if max(lo, hi or 0) > 1 << 62:  # (found here, not after the run that the window is of)
        raise ValueError(f"{field}: times must be at most 2**62 ps (about 53 days, the last simulated time), got {text!r}")
    return lo, hi


def exact_time(ps: int) -> str:
    """``2_000_000 -> '2us'``, ``1500 -> '1500ps'``: ``ps`` in the largest unit it is a whole
    number of, as typed; :func:`parse_time_ps` reads it back exactly."""
    unit = next(u for u in ("s", "ms", "us", "ns", "ps") if ps % PS_PER_UNIT[u] == 0)
    return f"{ps // PS_PER_UNIT[unit]}{unit}"
