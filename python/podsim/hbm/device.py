"""The HBM memory of one die or GPU: a preset, a stack count, an address map and controller policy."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Sequence

from podsim import _core
from podsim._validate import flag, integer
from podsim.hbm.presets import TIMING_NAMES, Preset, preset

#: Address-map field names (low to high order in :attr:`Device.mapping`) and their engine codes.
MAP_FIELDS: dict[str, int] = {"pc": 0, "bg": 1, "ba": 2, "co": 3, "ro": 4}
PAGE_POLICIES: tuple[str, ...] = ("open", "close")


class Device:
    """Configuration of one HBM device (all stacks of one die or GPU).

    Args:
        preset: a :class:`~podsim.hbm.Preset`, e.g. ``podsim.hbm.preset("HBM2E", 3.125)``.
        stacks: HBM stacks attached to the die/GPU, in [1, 64].
        interleave_bytes: bytes of contiguous address kept in one pseudo-channel (PC) before the
            map moves on; a multiple of ``burst_bytes * bg_spread`` whose per-bank share divides the
            row size. ``None``: 256, or 128 per bank group spread over when that is more (HBM3E's
            four: 512), so that an activate opens a row for at least 128 bytes (at 64, random
            4 KiB reads were held to half their bandwidth by tFAW).
        bg_spread: bank groups the bursts of one interleave chunk alternate over (1 = a chunk stays
            in one bank group, so tCCD_L paces it); divides the bank-group count. ``None`` picks the
            smallest divisor s with s x tCCD_S >= tCCD_L, so a chunk streams at the bus rate while
            opening as few banks as possible.
        mapping: order of the address-map fields above the chunk, lowest first; a permutation of
            ``"pc"`` (pseudo-channel), ``"bg"`` (bank group), ``"ba"`` (bank), ``"co"`` (column),
            ``"ro"`` (row). Fields are mixed-radix digits, so PC counts need not be powers of two.
        page_policy: ``"open"`` (rows stay open; FR-FCFS favours hits) or ``"close"`` (precharge
            after every access).
        refresh: all-bank refresh of every PC each tREFI, lasting tRFC.
        lookahead: accesses per PC whose commands are committed ahead of the data bus, in [1, 1024].
        queue_depth: oldest queued accesses per PC the FR-FCFS scheduler considers, in [1, 65536].
        rows: rows per bank; ``None`` keeps the preset's (sets the capacity).

    Raises:
        TypeError, ValueError: naming the offending argument and its allowed range.
    """

    def __init__(
        self,
        preset: Preset,
        stacks: int = 4,
        *,
        interleave_bytes: int | None = None,
        bg_spread: int | None = None,
        mapping: Sequence[str] = ("pc", "bg", "ba", "co", "ro"),
        page_policy: str = "open",
        refresh: bool = True,
        lookahead: int = 8,
        queue_depth: int = 32,
        rows: int | None = None,
    ) -> None:
        if not isinstance(preset, Preset):
            raise TypeError(f"preset: expected a podsim.hbm.Preset, got {type(preset).__name__}")
        if isinstance(mapping, str) or not all(isinstance(f, str) for f in mapping):
            raise TypeError("mapping: expected a sequence of field names such as ('pc', 'bg', 'ba', 'co', 'ro')")
        if sorted(mapping) != sorted(MAP_FIELDS):
            raise ValueError(f"mapping: must be a permutation of {tuple(MAP_FIELDS)}, got {tuple(mapping)}")
        if page_policy not in PAGE_POLICIES:
            raise ValueError(f"page_policy: must be one of {PAGE_POLICIES}, got {page_policy!r}")
        org = preset.organisation
        self.preset = preset
        self.stacks = integer(stacks, "stacks", 1, 64)
        if bg_spread is None:
            t = preset.timing_ps
            bg_spread = next(
                s for s in range(1, org["bank_groups"] + 1)
                if org["bank_groups"] % s == 0 and (s * t["tCCD_S"] >= t["tCCD_L"] or s == org["bank_groups"])
            )  # fmt: skip
        self.bg_spread = integer(bg_spread, "bg_spread", 1, org["bank_groups"])
        if interleave_bytes is None:
            interleave_bytes = max(256, 128 * self.bg_spread)
        self.interleave_bytes = integer(interleave_bytes, "interleave_bytes", 1, 1 << 30)
        self.mapping = tuple(mapping)
        self.page_policy = page_policy
        self.refresh = flag(refresh, "refresh")
        self.lookahead = integer(lookahead, "lookahead", 1, 1024)
        self.queue_depth = integer(queue_depth, "queue_depth", 1, 65536)
        self.rows = org["rows"] if rows is None else integer(rows, "rows", 1, (1 << 32) - 2)
        if org["bank_groups"] % self.bg_spread:
            raise ValueError(f"bg_spread: must divide the {org['bank_groups']} bank groups, got {self.bg_spread}")
        unit = org["burst_bytes"] * self.bg_spread
        if self.interleave_bytes % unit:
            raise ValueError(
                f"interleave_bytes: must be a multiple of burst_bytes * bg_spread = {unit}, got {self.interleave_bytes}"
            )
        per_bank = self.interleave_bytes // self.bg_spread
        if per_bank > org["row_bytes"] or org["row_bytes"] % per_bank:
            raise ValueError(
                f"interleave_bytes: interleave_bytes / bg_spread = {per_bank} must divide the "
                f"{org['row_bytes']}-byte row"
            )
        self.config(trace=False).validate()

    @classmethod
    def from_chip(
        cls, type: str, gbps_per_pin: float, stacks: int, bus_bits_per_stack: int, **kwargs: Any  # noqa: A002
    ) -> Device:
        """Build from a chip spec's HBM fields (``type``, ``gbps_per_pin``, ``stacks``, bus bits per stack).

        Raises:
            ValueError: ``bus_bits_per_stack`` disagrees with the preset's PCs x PC width.
        """
        p = preset(type, gbps_per_pin)
        pins = p.organisation["pcs_per_stack"] * p.organisation["pc_width_bits"]
        if integer(bus_bits_per_stack, "bus_bits_per_stack", 1, 1 << 20) != pins:
            raise ValueError(f"bus_bits_per_stack: the {type} preset has {pins} bits per stack, got {bus_bits_per_stack}")
        return cls(p, stacks, **kwargs)

    @classmethod
    def from_rank(cls, rank: Any, **kwargs: Any) -> Device:
        """Build from the HBM of one rank of a system (``podsim.systems.system(...).rank_memory``).

        ``rank`` needs ``type``, ``gbps_per_pin``, ``stacks``, ``bus_bits_per_stack`` and
        ``capacity_bytes``; other keyword arguments go to :class:`Device`.

        The rows per bank come from the rank's capacity in bytes, unless ``rows`` is given. Spec
        sheets quote HBM in the DRAM industry's gigabytes, 2**30 bytes (a "24 GB" HBM3E stack
        holds 24 GiB), as the shipped specs write them: GB300's eight 12-high "36 GB" stacks are
        288 GiB, half as many rows again as the preset's 8-high stacks.
        """
        for name in ("type", "gbps_per_pin", "stacks", "bus_bits_per_stack", "capacity_bytes"):
            if not hasattr(rank, name):
                raise TypeError(f"rank: expected a RankMemory-like object with '{name}', got {type(rank).__name__}")
        if "rows" not in kwargs:
            org = preset(rank.type, rank.gbps_per_pin).organisation
            row_bytes = integer(rank.stacks, "stacks", 1, 64) * org["pcs_per_stack"] * org["bank_groups"] * (
                org["banks_per_group"] * org["row_bytes"]
            )
            kwargs["rows"] = math.floor(Fraction(str(rank.capacity_bytes)) / row_bytes)
        return cls.from_chip(rank.type, rank.gbps_per_pin, rank.stacks, rank.bus_bits_per_stack, **kwargs)

    @property
    def pcs(self) -> int:
        """Pseudo-channels of the device (stacks x PCs per stack)."""
        return self.stacks * self.preset.organisation["pcs_per_stack"]

    @property
    def pins(self) -> int:
        """Data pins of the device."""
        return self.pcs * self.preset.organisation["pc_width_bits"]

    @property
    def peak_Bps(self) -> float:
        """Peak pin bandwidth in bytes/s, pins x per-pin rate / 8 (a memory figure: reads + writes)."""
        return self.pins * self.preset.rate_kbps * 1e3 / 8

    @property
    def capacity_bytes(self) -> int:
        """Addressable bytes: PCs x banks x rows x row bytes."""
        org = self.preset.organisation
        return self.pcs * org["bank_groups"] * org["banks_per_group"] * self.rows * org["row_bytes"]

    @property
    def burst_ps(self) -> int:
        """Data-bus time of one burst in ps (rounded up)."""
        return int(self.config(trace=False).burst_ps)

    def config(self, trace: bool = False) -> _core.HbmConfig:
        """The engine configuration (internal); ``trace`` records every DRAM command."""
        org = self.preset.organisation
        c = _core.HbmConfig()
        t = _core.HbmTiming()
        for name in TIMING_NAMES:
            setattr(t, name, self.preset.timing_ps[name])
        c.timing = t
        c.stacks = self.stacks
        c.pcs_per_stack = org["pcs_per_stack"]
        c.pc_width_bits = org["pc_width_bits"]
        c.rate_kbps = self.preset.rate_kbps
        c.burst_bytes = org["burst_bytes"]
        c.bank_groups = org["bank_groups"]
        c.banks_per_group = org["banks_per_group"]
        c.row_bytes = org["row_bytes"]
        c.rows = self.rows
        c.interleave_bytes = self.interleave_bytes
        c.bg_spread = self.bg_spread
        c.order = [MAP_FIELDS[f] for f in self.mapping]
        c.close_page = self.page_policy == "close"
        c.refresh = self.refresh
        c.lookahead = self.lookahead
        c.queue_depth = self.queue_depth
        c.trace = trace
        return c

    def __repr__(self) -> str:
        return (
            f"Device({self.preset.type} @ {self.preset.gbps_per_pin:g} Gb/s, stacks={self.stacks}, pcs={self.pcs}, "
            f"peak={self.peak_Bps / 1e12:.4g} TB/s)"
        )
