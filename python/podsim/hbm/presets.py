"""Sourced HBM timing presets (``python/podsim/specs/hbm/*.toml``) converted to integer picoseconds.

Each preset file gives its timings in clock cycles at a reference pin rate (or in ns), every value
with its source key. :func:`preset` keeps each value in ns and re-rounds it to whole clock cycles
of the requested pin rate, as hardware.md §3.3 prescribes for HBM2E at 3.125 Gb/s or HBM3E at
7.8 Gb/s; values marked ``keep = "cycles"`` (tCCD_S: one burst) stay whole cycles. Minimum-distance constraints round *up* (never faster than the source); the refresh
interval tREFI rounds *down* (never refreshes less often than the source).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from typing import Any, Mapping

from podsim._validate import positive_float

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

#: Timing names, in the order of :class:`podsim._core.HbmTiming`.
TIMING_NAMES: tuple[str, ...] = (
    "tCL", "tCWL", "tRCDRD", "tRCDWR", "tRP", "tRAS", "tRC", "tWR", "tRTP", "tCCD_S", "tCCD_L",
    "tRRD_S", "tRRD_L", "tFAW", "tWTR_S", "tWTR_L", "tRTW", "tRFC", "tREFI",
)  # fmt: skip
ORGANISATION_NAMES: tuple[str, ...] = (
    "pcs_per_stack", "pc_width_bits", "burst_bytes", "bank_groups", "banks_per_group", "row_bytes", "rows",
)  # fmt: skip
#: Memory types with a preset file, mapped to the file name.
TYPES: dict[str, str] = {"HBM2E": "hbm2e.toml", "HBM3": "hbm3.toml", "HBM3E": "hbm3e.toml"}
# Pin rates accepted by preset(), Gb/s: a sanity range around the HBM generations modelled.
_MIN_GBPS, _MAX_GBPS = 0.5, 20.0


@dataclass(frozen=True)
class Preset:
    """DRAM timing and organisation of one HBM type at one pin rate.

    Attributes:
        type: ``"HBM2E"``, ``"HBM3"`` or ``"HBM3E"``.
        rate_kbps: per-pin data rate in kbit/s (an exact integer).
        tck_ps: clock period in ps (exact rational; timings are whole multiples of it, rounded).
        timing_ps: every timing constraint in integer picoseconds (keys: :data:`TIMING_NAMES`).
        timing_nck: the same in whole clock cycles at this rate.
        organisation: per-stack organisation (keys: :data:`ORGANISATION_NAMES`); counts, bits, bytes.
        sources: the source key of every value, as written in the preset file.
    """

    type: str
    rate_kbps: int
    tck_ps: Fraction
    timing_ps: Mapping[str, int]
    timing_nck: Mapping[str, int]
    organisation: Mapping[str, int]
    sources: Mapping[str, str] = field(repr=False)

    @property
    def gbps_per_pin(self) -> float:
        """Per-pin data rate in Gb/s."""
        return self.rate_kbps / 1e6

    @property
    def stack_peak_Bps(self) -> float:
        """Peak pin bandwidth of one stack in bytes/s (read + write share the pins): pins x rate / 8."""
        pins = self.organisation["pcs_per_stack"] * self.organisation["pc_width_bits"]
        return pins * self.rate_kbps * 1e3 / 8


def _load(type_: str) -> dict[str, Any]:
    text = resources.files("podsim").joinpath("specs", "hbm", TYPES[type_]).read_text(encoding="utf-8")
    return tomllib.loads(text)


def preset(type: str, gbps_per_pin: float | None = None) -> Preset:  # noqa: A002 - the spec's field name
    """Return the timing preset for an HBM ``type`` at ``gbps_per_pin`` (Gb/s per pin).

    Args:
        type: ``"HBM2E"``, ``"HBM3"`` or ``"HBM3E"`` (the ``type`` field of a chip spec).
        gbps_per_pin: per-pin data rate in Gb/s, in [0.5, 20]; resolved to whole kbit/s.
            ``None`` takes the file's default rate (HBM2E 3.2, HBM3 6.4, HBM3E 7.8125).

    Raises:
        TypeError: ``type`` is not a string or the rate not a number.
        ValueError: unknown ``type`` or a rate out of range.
    """
    if not isinstance(type, str):
        raise TypeError(f"type: expected a string, got {type.__class__.__name__}")
    if type not in TYPES:
        raise ValueError(f"type: must be one of {sorted(TYPES)}, got {type!r}")
    spec = _load(type)
    head = spec["preset"]
    if gbps_per_pin is None:
        rate_kbps = int(head["default_rate_kbps"])
    else:
        gbps = positive_float(gbps_per_pin, "gbps_per_pin", unit="Gb/s per pin")
        if not _MIN_GBPS <= gbps <= _MAX_GBPS:
            raise ValueError(f"gbps_per_pin: must be in [{_MIN_GBPS}, {_MAX_GBPS}] Gb/s, got {gbps}")
        rate_kbps = round(gbps * 1e6)
    beats = int(head["beats_per_ck"])
    tck_ref = Fraction(beats * 10**9, int(head["reference_rate_kbps"]))  # ps
    tck = Fraction(beats * 10**9, rate_kbps)  # ps
    timing_ps: dict[str, int] = {}
    timing_nck: dict[str, int] = {}
    sources: dict[str, str] = {}
    for name in TIMING_NAMES:
        entry = spec["timing"][name]
        unit = entry["unit"]
        if unit == "nCK":
            ns_ps = entry["value"] * tck_ref
        elif unit == "ns":
            ns_ps = Fraction(entry["value"]) * 1000
        else:  # pragma: no cover - guarded by the preset-file test
            raise ValueError(f"{TYPES[type]}: timing {name}: unit must be 'nCK' or 'ns', got {unit!r}")
        keep = entry.get("keep", "ns")
        if keep not in ("ns", "cycles") or (keep == "cycles" and unit != "nCK"):
            raise ValueError(f"{TYPES[type]}: timing {name}: keep must be 'ns', or 'cycles' with unit 'nCK'")
        cycles = Fraction(entry["value"]) if keep == "cycles" else ns_ps / tck
        n = math.floor(cycles) if name == "tREFI" else math.ceil(cycles)
        timing_nck[name] = n
        timing_ps[name] = math.floor(n * tck) if name == "tREFI" else math.ceil(n * tck)
        sources[name] = entry["source"]
    # Rounded apart, a "long" (same bank group) spacing kept in ns can come out shorter than its
    # "short" counterpart kept in cycles at low pin rates (tCCD_L 1 < tCCD_S 2 at 0.5 Gb/s HBM3);
    # JEDEC orders them long >= short, so the long one is raised to the short one.
    for long, short in (("tCCD_L", "tCCD_S"), ("tRRD_L", "tRRD_S"), ("tWTR_L", "tWTR_S")):
        if timing_nck[long] < timing_nck[short]:
            timing_nck[long], timing_ps[long] = timing_nck[short], timing_ps[short]
    organisation = {}
    for name in ORGANISATION_NAMES:
        organisation[name] = int(spec["organisation"][name]["value"])
        sources[name] = spec["organisation"][name]["source"]
    return Preset(
        type=type,
        rate_kbps=rate_kbps,
        tck_ps=tck,
        timing_ps=timing_ps,
        timing_nck=timing_nck,
        organisation=organisation,
        sources=sources,
    )
