"""Sourced quantities: a spec value with its unit, source key and evidence tag.

Spec files write every hardware number as ``{ value, unit, source, evidence, note?, alternatives? }``
so that no number enters the model without saying where it comes from. :class:`Quantity` keeps the
value in the file's unit and exposes :attr:`Quantity.si` in base units (B/s, FLOP/s, W, B, s, ...).
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podsim._validate import MAX_RATE_BPS, MAX_TIME_PS, MIN_RATE_BPS, U64_MAX
from podsim.units import PS_PER_UNIT

#: Units accepted per dimension, with their factor to the base unit (first key of each entry).
#: Bandwidth units are per direction or summed as the field name says; GB = 1e9 B, Gb = 1e9 bit.
DIMENSIONS: dict[str, dict[str, float]] = {
    "count": {"count": 1.0},
    "ratio": {"ratio": 1.0},
    "bits": {"bit": 1.0},
    "bandwidth": {"B/s": 1.0, "GB/s": 1e9, "TB/s": 1e12, "Gb/s": 1e9 / 8, "Tb/s": 1e12 / 8},
    # Per-pin signalling rate: kept in Gb/s, the unit DRAM timing tables are indexed by.
    "pin_rate": {"Gb/s": 1.0},
    "flops": {"FLOP/s": 1.0, "TFLOPS": 1e12, "PFLOPS": 1e15},
    "ops": {"OP/s": 1.0, "TOPS": 1e12, "POPS": 1e15},
    "power": {"W": 1.0, "kW": 1e3},
    "bytes": {"B": 1.0, "KiB": 1024.0, "MiB": 1024.0**2, "GB": 1e9, "TB": 1e12},
    # DRAM capacity: its makers' "GB" are GiB (a "16 GB" HBM stack holds 16 x 2**30 bytes), so
    # only binary units, lest a decimal GB lose 7%.
    "dram_bytes": {"B": 1.0, "GiB": 1024.0**3, "TiB": 1024.0**4},
    "time": {"s": 1.0, "us": 1e-6, "ns": 1e-9, "ps": 1e-12},
    # Failure rate in FIT: failures per 1e9 device-hours (MTBF [h] = 1e9 / FIT). Base unit: per hour.
    "failure_rate": {"FIT": 1e-9},
    # A yes/no design choice: no unit, but it still carries a source and an evidence tag.
    "flag": {},
}

#: What the engine accepts (:mod:`podsim._validate`), per dimension: (lowest, highest, unit).
#: A time the engine simulates with must be a whole number of ps as written (the engine's time
#: step; see :func:`_whole_ps`). The lowest value applies to fields that must be > 0.
ENGINE_RANGE: dict[str, tuple[float, float, str]] = {
    "bandwidth": (MIN_RATE_BPS, MAX_RATE_BPS, "B/s"),
    "time": (1, MAX_TIME_PS, "ps"),
    "bytes": (1, U64_MAX, "B"),
}

#: Evidence tags of /work/shared/reference/hardware.md, plus "assumption" for unpublished values
#: and "user" for values set through ``podsim.system(..., overrides=...)``.
EVIDENCE = ("V", "P", "M", "A", "3P", "D", "cfg", "assumption", "user")

_QUANTITY_KEYS = {"value", "unit", "source", "evidence", "note", "alternatives"}
_ALTERNATIVE_KEYS = {"value", "source", "evidence", "note"}


@dataclass(frozen=True)
class Quantity:
    """One sourced spec value.

    Attributes:
        value: the number as written in the file, in ``unit`` (a bool for flags, a tuple for lists).
        unit: one of :data:`DIMENSIONS` for the field's dimension ("" for flags).
        si: ``value`` in the dimension's base unit (for lists, a tuple of them; for flags, the bool).
        source: source key of hardware.md (``CM-v2``, ``NV-GB200``, ...) or ``assumption``/``user``.
        evidence: one of :data:`EVIDENCE`.
        note: why / arithmetic, free text.
        alternatives: other sourced values the user may select with an override.
    """

    value: Any
    unit: str
    si: Any
    source: str
    evidence: str
    note: str = ""
    alternatives: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    def __float__(self) -> float:
        return float(self.si)


class SpecError(ValueError):
    """A spec file is malformed; the message names the file, the field and the offending value."""

    def __init__(self, file: str, field_path: str, message: str) -> None:
        super().__init__(f"{file}: {field_path}: {message}")
        self.file = file
        self.field = field_path
        self.message = message


#: Largest figure a spec may give, in its dimension's base unit (B/s, FLOPS, B, ...): far beyond
#: any hardware, and small enough that totals over any count of parts stay finite floats.
MAX_FIGURE = 1e30


def _number(raw: Any, file: str, path: str, minimum: float | None) -> float | int:
    """``raw`` as a finite Python number, at least ``minimum`` (None: > 0)."""
    if isinstance(raw, (bool, np.bool_)) or not isinstance(raw, numbers.Real):
        raise SpecError(file, path, f"expected a number, got {type(raw).__name__} {raw!r}")
    # numpy scalars (an override computed with numpy) become plain Python numbers.
    raw = int(raw) if isinstance(raw, numbers.Integral) else float(raw)
    try:
        finite = math.isfinite(raw)
    except OverflowError:  # an integer beyond any float
        raise SpecError(file, path, f"must be finite, got an integer of {len(str(abs(raw)))} digits") from None
    if not finite:
        raise SpecError(file, path, f"must be finite, got {raw!r}")
    if minimum is not None and raw < minimum:
        raise SpecError(file, path, f"must be >= {minimum:g}, got {raw!r}")
    if minimum is None and raw <= 0:
        raise SpecError(file, path, f"must be > 0, got {raw!r}")
    return raw


def _to_base(num: float | int, factor: float, integer: bool, file: str, path: str, written: str, base: str) -> float | int:
    """``num`` (in the file's unit) in the base unit; for an integer field, exactly, as an int
    (a byte count of 2^64 - 1 must not become the float 2^64)."""
    if not integer:
        return num * factor
    # The decimal the file wrote (1.07 GB is 1,070,000,000 B, which the binary float 1.07 is not).
    si = Fraction(str(num)) * Fraction(factor)
    if si.denominator != 1:
        raise SpecError(file, path, f"must be a whole number{f' of {base}' if base else ''}, got {written}")
    return int(si)


def seconds_to_ps(seconds: float) -> int:
    """A time in whole picoseconds: how every spec time reaches the engine. Rounding to nearest
    only removes the binary float's error (150 ns is 1.5e-07 s, which times 1e12 is not exactly
    150,000); a time the engine uses was checked to be whole ps as written (:func:`_whole_ps`)."""
    return round(seconds * 1e12)


def _whole_ps(num: float | int, unit: str, file: str, path: str, written: str) -> None:
    """Refuse a time that is not a whole number of picoseconds as the file writes it (1.4 ps,
    0.0015 ns): the engine's clock has no finer step, and rounding it would change the model
    without a word (the CLI refuses such times too)."""
    ps = Fraction(str(num)) * PS_PER_UNIT[unit]
    if ps.denominator != 1:
        shown = written if unit == "ps" else f"{written} = {float(ps):g} ps"
        raise SpecError(file, path, f"must be a whole number of picoseconds (the engine's time step), got {shown}")


def _exact(x: float) -> str:
    """A number in full when it is whole (limits such as 2^30 + 1 must not print as 1.07374e+09)."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e30 else f"{x:g}"


def _in_range(
    si: float, written: str, file: str, path: str, dimension: str, minimum: float | None, bounds: tuple[float, float, str] | None,
    engine: bool,
) -> None:
    """Raise unless ``si`` is within ``bounds`` (base units) and, for a value the engine
    simulates with (``engine``), within :data:`ENGINE_RANGE` of its dimension; ``written`` is the
    value as the file gives it, for the message."""
    unit = "" if dimension in ("count", "ratio") else f" {next(iter(DIMENSIONS[dimension]))}"
    if bounds is not None and not bounds[0] <= si <= bounds[1]:
        lo, hi, why = bounds
        raise SpecError(file, path, f"must be in [{_exact(lo)}, {_exact(hi)}]{unit} ({why}), got {written}")
    if not engine or dimension not in ENGINE_RANGE:
        return
    lo, hi, engine_unit = ENGINE_RANGE[dimension]
    x = seconds_to_ps(si) if dimension == "time" else si
    if minimum is not None:
        lo = 0
    if not lo <= x <= hi:
        shown = f"{written} = {_exact(x)} {engine_unit}" if dimension == "time" else written
        raise SpecError(file, path, f"must be in [{_exact(lo)}, {_exact(hi)}] {engine_unit} (the engine's range), got {shown}")


def parse_quantity(
    raw: Any,
    file: str,
    path: str,
    dimension: str,
    *,
    integer: bool = False,
    minimum: float | None = None,
    bounds: tuple[float, float, str] | None = None,
    is_list: bool = False,
    engine: bool = True,
) -> Quantity:
    """Validate one value table and return it as a :class:`Quantity`.

    Args:
        raw: the TOML table.
        file, path: where it came from, for error messages.
        dimension: key of :data:`DIMENSIONS`; the unit must belong to it.
        integer: the value must be a whole number.
        minimum: smallest allowed value (inclusive); None means the value must be > 0.
        bounds: (lowest, highest, why) allowed values in the dimension's base unit, inclusive,
            beyond :data:`ENGINE_RANGE`, and the limit they come from, which the message gives;
            None: no further bound.
        is_list: the value is a non-empty list of numbers rather than one number.
        engine: the value reaches the simulation engine, so it must also be within
            :data:`ENGINE_RANGE` (False for figures only reported or compared, such as a quoted
            bandwidth).

    Raises:
        SpecError: (a ValueError) naming ``file`` and ``path`` on any problem.
    """
    if not isinstance(raw, dict):
        raise SpecError(file, path, f"expected a table {{ value, unit, source, evidence }}, got {raw!r}")
    unknown = sorted(set(raw) - _QUANTITY_KEYS)
    if unknown:
        raise SpecError(file, path, f"unknown key(s) {unknown}; allowed: {sorted(_QUANTITY_KEYS)}")
    required = ("value", "source", "evidence") if dimension == "flag" else ("value", "unit", "source", "evidence")
    for key in required:
        if key not in raw:
            raise SpecError(file, f"{path}.{key}", "missing")
    units = DIMENSIONS[dimension]
    unit = raw.get("unit", "")
    if dimension == "flag":
        if not isinstance(raw["value"], (bool, np.bool_)):
            raise SpecError(file, f"{path}.value", f"expected true or false, got {raw['value']!r}")
        raw = {**raw, "value": bool(raw["value"])}  # (a numpy bool from an override computed with numpy)
        if unit:
            raise SpecError(file, f"{path}.unit", f"a flag has no unit, got {unit!r}")
    elif unit not in units:
        why = " (DRAM makers' GB are GiB)" if dimension == "dram_bytes" else ""
        raise SpecError(file, f"{path}.unit", f"expected one of {sorted(units)}{why}, got {unit!r}")
    source, evidence, note = raw["source"], raw["evidence"], raw.get("note", "")
    if not isinstance(source, str) or not source:
        raise SpecError(file, f"{path}.source", f"expected a non-empty source key, got {source!r}")
    if evidence not in EVIDENCE:
        raise SpecError(file, f"{path}.evidence", f"expected one of {list(EVIDENCE)}, got {evidence!r}")
    if not isinstance(note, str):
        raise SpecError(file, f"{path}.note", f"expected a string, got {note!r}")
    if evidence in ("assumption", "D") and not note:
        raise SpecError(file, f"{path}.note", f"evidence {evidence!r} needs a note saying why / how")

    # Counts and ratios are written bare ("got 7", not "got 7 count").
    shown_unit = "" if dimension in ("count", "ratio") else unit
    base = next(iter(units), "") if dimension not in ("count", "ratio") else ""

    def one(x: Any, where: str) -> tuple[Any, Any]:
        num = _number(x, file, where, minimum)
        written = f"{_exact(num)} {shown_unit}".rstrip()
        si = _to_base(num, units[unit], integer, file, where, written, base)
        if abs(si) > MAX_FIGURE:  # (system totals multiply it by counts: they must stay finite)
            in_base = f"{MAX_FIGURE:g} {base}" if base else f"{MAX_FIGURE:g}"
            raise SpecError(file, where, f"must be at most {in_base} in base units, got {written}")
        if dimension == "time" and engine:
            _whole_ps(num, unit, file, where, written)
        if integer and isinstance(num, float) and num.is_integer():
            num = int(num)  # 32.0 B is written 32
        return num, si

    def convert(v: Any, where: str) -> tuple[Any, Any]:
        if dimension == "flag":
            return v, v
        if is_list:
            if not isinstance(v, list) or not v:
                raise SpecError(file, where, f"expected a non-empty list of numbers, got {v!r}")
            pairs = [one(x, f"{where}[{i}]") for i, x in enumerate(v)]
            return tuple(n for n, _ in pairs), tuple(si for _, si in pairs)
        num, si = one(v, where)
        _in_range(si, f"{_exact(num)} {shown_unit}".rstrip(), file, where, dimension, minimum, bounds, engine)
        return num, si

    value, si = convert(raw["value"], f"{path}.value")
    alternatives = raw.get("alternatives", [])
    if not isinstance(alternatives, list):
        raise SpecError(file, f"{path}.alternatives", f"expected a list of tables, got {alternatives!r}")
    alts = []
    for i, alt in enumerate(alternatives):
        where = f"{path}.alternatives[{i}]"
        if not isinstance(alt, dict):
            raise SpecError(file, where, f"expected a table, got {alt!r}")
        extra = sorted(set(alt) - _ALTERNATIVE_KEYS)
        if extra:
            raise SpecError(file, where, f"unknown key(s) {extra}; allowed: {sorted(_ALTERNATIVE_KEYS)}")
        # Same checks as the main value: an alternative is a full sourced value in the same unit.
        checked = parse_quantity(
            {"unit": unit, **alt} if dimension != "flag" else alt, file, where, dimension,
            integer=integer, minimum=minimum, bounds=bounds, is_list=is_list, engine=engine,
        )
        alts.append({"value": checked.value, "source": checked.source, "evidence": checked.evidence, "note": checked.note})
    return Quantity(value, unit, si, source, evidence, note, tuple(alts))
