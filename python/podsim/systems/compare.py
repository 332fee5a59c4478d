"""Side-by-side comparison of systems, row by row, with a verdict on "better on all metrics".

The first system is the one a claim is about ("CloudMatrix 384 is better than GB300 NVL72 on all
metrics"); every row says whether it beats each of the others, in the row's own direction (more
FLOP/s is better, more watts or more optical modules is worse).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from podsim.systems.peak import Peak
from podsim.systems.system import System, system


@dataclass(frozen=True)
class _Row:
    scope: Literal["system", "per chip", "per watt"]
    key: str
    label: str
    unit: str
    scale: float  # display value = value / scale
    better: Literal["higher", "lower"]


# Units of per-watt rows are per kW so that the numbers stay readable.
_ROWS = (
    _Row("system", "bf16_flops", "BF16 dense", "PFLOPS", 1e15, "higher"),
    _Row("system", "fp8_flops", "FP8 dense", "PFLOPS", 1e15, "higher"),
    _Row("system", "fp4_flops", "FP4 dense", "PFLOPS", 1e15, "higher"),
    _Row("system", "int8_ops", "INT8 dense", "POPS", 1e15, "higher"),
    _Row("system", "hbm_capacity_bytes", "HBM capacity", "TiB", 2**40, "higher"),
    _Row("system", "hbm_bandwidth_uni_Bps", "HBM bandwidth, uni", "TB/s", 1e12, "higher"),
    _Row("system", "scale_up_bidi_Bps", "Scale-up bandwidth, bidi", "TB/s", 1e12, "higher"),
    _Row("system", "scale_up_uni_Bps", "Scale-up bandwidth, uni", "TB/s", 1e12, "higher"),
    _Row("system", "scale_out_uni_Bps", "Scale-out bandwidth, uni", "TB/s", 1e12, "higher"),
    _Row("system", "chips", "Scale-up domain", "chips", 1, "higher"),
    _Row("system", "power_W", "Power, system figure", "kW", 1e3, "lower"),
    _Row("system", "transceivers", "Optical transceivers", "modules", 1, "lower"),
    _Row("system", "transceivers_scale_up", "Optical transceivers, scale-up", "modules", 1, "lower"),
    _Row("system", "optics_power_W", "Optics power, scale-up", "kW", 1e3, "lower"),
    _Row("per chip", "bf16_flops", "BF16 dense", "TFLOPS", 1e12, "higher"),
    _Row("per chip", "hbm_capacity_bytes", "HBM capacity", "GiB", 2**30, "higher"),
    _Row("per chip", "hbm_bandwidth_uni_Bps", "HBM bandwidth, uni", "TB/s", 1e12, "higher"),
    _Row("per chip", "scale_up_bidi_Bps", "Scale-up bandwidth, bidi", "GB/s", 1e9, "higher"),
    _Row("per chip", "scale_out_uni_Bps", "Scale-out bandwidth, uni", "GB/s", 1e9, "higher"),
    _Row("per chip", "power_W", "Power, share of the system figure", "W", 1, "lower"),
    _Row("per watt", "bf16_flops", "BF16 dense", "TFLOPS/kW", 1e9, "higher"),
    _Row("per watt", "hbm_capacity_bytes", "HBM capacity", "GiB/kW", 2**30 / 1e3, "higher"),
    _Row("per watt", "hbm_bandwidth_uni_Bps", "HBM bandwidth, uni", "GB/s/kW", 1e6, "higher"),
    _Row("per watt", "scale_up_bidi_Bps", "Scale-up bandwidth, bidi", "GB/s/kW", 1e6, "higher"),
)


def _value(peak: Peak, row: _Row) -> float | None:
    if row.scope == "system":
        raw = getattr(peak, row.key)
    elif row.scope == "per chip":
        raw = peak.per_chip()[row.key]
    else:
        raw = peak.per_watt()[row.key]
    return None if raw is None else float(raw)


def _fmt(x: float | None) -> str:
    return "–" if x is None else format(x, ",.5g")


class Comparison:
    """Every peak metric of several systems side by side, with ratios and verdicts.

    Attributes:
        systems: the systems compared; the first is the subject of the verdicts.
        peaks: their :class:`~podsim.systems.peak.Peak` figures, same order.
    """

    def __init__(self, systems: Sequence[System]) -> None:
        """Args:
            systems: at least two :class:`System` objects, each of its own name (columns are
                keyed by name); :func:`compare` also takes names."""
        self.systems = list(systems)
        if len(self.systems) < 2 or not all(isinstance(s, System) for s in self.systems):
            raise ValueError(f"systems: need at least 2 podsim.System objects, got {self.systems!r}")
        # Tables and their columns are keyed by system name: a repeated name would overwrite.
        refuse_same_names(self.systems)
        self.peaks = [s.peak() for s in self.systems]

    def _table(self) -> list[tuple[_Row, list[float | None], list[bool | None]]]:
        """Per row with any figure: display values per system, and per other system whether the
        first beats it (None when either figure is missing)."""
        out = []
        for row in _ROWS:
            values = [_value(p, row) for p in self.peaks]
            if all(v is None for v in values):
                continue
            shown = [None if v is None else v / row.scale for v in values]
            a = values[0]
            # Power figures on different bases (an all-in total, a power shelf's output) give a
            # ratio but no verdict.
            on_power = row.key == "power_W" or row.scope == "per watt"
            verdicts: list[bool | None] = []
            for other, b in zip(self.systems[1:], values[1:]):
                if a is None or b is None or (on_power and not self.power_alike(other)):
                    verdicts.append(None)
                else:
                    verdicts.append(a > b if row.better == "higher" else a < b)
            out.append((row, shown, verdicts))
        return out

    def to_pandas(self) -> pd.DataFrame:
        """One row per metric and scope; a column per system (display units, see ``unit``), then
        per other system ``X`` a ratio column ``<first>/X`` and a ``<first> better than X``
        column holding True, False or None (a figure is missing)."""
        first = self.systems[0].name
        records = []
        for row, shown, verdicts in self._table():
            rec: dict[str, Any] = {"scope": row.scope, "metric": row.label, "unit": row.unit, "better": row.better}
            rec.update({s.name: v for s, v in zip(self.systems, shown)})
            for s, v, ok in zip(self.systems[1:], shown[1:], verdicts):
                rec[f"{first}/{s.name}"] = shown[0] / v if shown[0] is not None and v else None
                rec[f"{first} better than {s.name}"] = ok
            records.append(rec)
        return pd.DataFrame.from_records(records)

    def better_on_all(self) -> bool:
        """True when the first system beats every other on every row where both have a figure."""
        return all(ok is not False for _, _, verdicts in self._table() for ok in verdicts)

    def failures(self) -> list[str]:
        """``"scope: metric"`` of the rows where the first system does not beat some other system."""
        return [f"{row.scope}: {row.label}" for row, _, verdicts in self._table() if False in verdicts]

    def to_markdown(self) -> str:
        """A GitHub-flavoured markdown table (ratios as ``1.23×``) and the overall verdict."""
        first = self.systems[0].name
        others = [s.name for s in self.systems[1:]]
        head = ["scope", "metric", "unit", *[s.name for s in self.systems]]
        align = ["---"] * 3 + ["---:"] * len(self.systems)
        for o in others:
            head += [f"{first} / {o}", f"{first} better than {o}?"]
            align += ["---:", "---"]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
        for row, shown, verdicts in self._table():
            cells = [row.scope, row.label, row.unit, *[_fmt(v) for v in shown]]
            for v, ok in zip(shown[1:], verdicts):
                cells.append(f"{shown[0] / v:.2f}×" if shown[0] is not None and v else "–")
                cells.append("–" if ok is None else ("yes" if ok else "**no**"))
            lines.append("| " + " | ".join(cells) + " |")
        verdict = "yes" if self.better_on_all() else "no"
        lines += ["", f"{first} better than {', '.join(others)} on every metric with figures for both: **{verdict}** "
                  "(a – is no figure: a data type the chip lacks, or a figure no source gives; or no ratio, over 0; or no verdict)"]
        bases = self.power_bases()
        if bases:
            unlike = [s.name for s in self.systems[1:] if s.name in bases and first in bases and not self.power_alike(s)]
            alike = ("" if not unlike else
                     f" The bases of {first} and {', '.join(unlike)} differ (or are not stated), so the power and "
                     "per-watt rows give no verdict between them.")
            lines += ["", "Power is each spec's system figure, on the basis its source states (compare only like with "
                      "like): " + "; ".join(f"{name}: {basis}" for name, basis in bases.items()) + "." + alike]
        return "\n".join(lines)

    def power_alike(self, other: System) -> bool:
        """The first system's power figure and ``other``'s are on the same stated basis
        (``[power] basis``, one of :data:`~podsim.systems.spec.POWER_BASES`)."""
        a, b = self.systems[0].spec.power.get("basis"), other.spec.power.get("basis")
        return a is not None and a == b

    def power_bases(self) -> dict[str, str]:
        """Per system with a power figure, what it is and where it comes from (the spec's
        ``[power] system`` value, basis, note, source and evidence)."""
        out = {}
        for s in self.systems:
            q = s.spec.power.get("system")
            if q is not None:
                basis = s.spec.power.get("basis", "basis not stated")
                out[s.name] = f"{q.value:,} {q.unit} ({basis}), {q.note} ({q.source} [{q.evidence}])"
        return out

    def __repr__(self) -> str:
        return f"Comparison({[s.name for s in self.systems]})"


def refuse_same_names(systems: Sequence[System]) -> None:
    """Raise ValueError naming the first two of ``systems`` (side by side in a table, keyed by
    name) that share a name: the same spec given twice, or two specs of one name."""
    first_of: dict[str, int] = {}
    for i, s in enumerate(systems):
        j = first_of.setdefault(s.name, i)
        if j != i:
            a, b = systems[j].spec.file, s.spec.file
            what = f"{a!r} is given twice" if a == b else f"{a!r} and {b!r} are both named {s.name!r}"
            raise ValueError(
                f"systems: {what} (positions {j + 1} and {i + 1}); each system compared needs its own "
                f"[system] name: to compare a variant, set one in its spec file, or with "
                f"podsim.system(..., overrides={{'system.name': ...}})"
            )


def compare(systems: Sequence[System | str | os.PathLike[str]]) -> Comparison:
    """Compare systems given as :class:`System` objects, shipped names or spec paths; at least two.

    The first system is the subject of the "better on all metrics" verdict. Each needs its own
    ``[system] name``: a variant of a shipped system gets one in its spec, or with
    ``podsim.system("hgx-h100", overrides={"system.name": "h100-fast", ...})``.
    """
    if isinstance(systems, (str, System)) or not isinstance(systems, Sequence):
        raise TypeError("systems: expected a list of systems or system names")
    if len(systems) < 2:
        raise ValueError(f"systems: need at least 2 systems to compare, got {len(systems)}")
    built = []
    for i, s in enumerate(systems):
        if isinstance(s, System):
            built.append(s)
        elif isinstance(s, (str, os.PathLike)):
            built.append(system(os.fspath(s)))
        else:
            raise TypeError(f"systems[{i}]: expected a System, a system name or a spec path, got {type(s).__name__}")
    return Comparison(built)
