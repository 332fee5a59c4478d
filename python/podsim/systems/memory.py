"""HBM attached to one rank (die or GPU), for coupling fabric endpoints to the memory model.

A package whose dies are separate endpoints splits its stacks evenly between them (910C: 8 stacks,
4 per die, CM-v2 §3.3.1); otherwise the rank owns all the package's stacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from podsim.systems.spec import SystemSpec, ranks_per_chip


@dataclass(frozen=True)
class RankMemory:
    """HBM of one rank.

    Attributes:
        type: ``"HBM2E"``, ``"HBM3"``, ``"HBM3E"`` (selects DRAM timings).
        stacks: stacks attached to this rank.
        bus_bits_per_stack: interface width of one stack, bits.
        gbps_per_pin: signalling rate, Gb/s per pin.
        capacity_bytes: capacity of this rank's stacks, bytes.
        bandwidth_uni_Bps: peak of this rank's stacks, bytes/s (half-duplex bus).
    """

    type: str
    stacks: int
    bus_bits_per_stack: int
    gbps_per_pin: float
    capacity_bytes: float
    bandwidth_uni_Bps: float


def rank_memory(spec: SystemSpec) -> RankMemory:
    """The HBM one rank of ``spec``'s compute chip owns."""
    chip, hbm = spec.chip, spec.chip["hbm"]
    per_chip = ranks_per_chip(chip)
    stacks = hbm["stacks"].value
    if stacks % per_chip:
        c = f"chips.{spec.chip_name}"
        raise spec.error(f"{c}.hbm.stacks = {stacks} does not split evenly over the {per_chip} endpoint dies "
                         f"({c}.dies)", f"{c}.hbm.stacks", f"{c}.dies")
    per_rank = stacks // per_chip
    bits = hbm["bus_bits_per_stack"].value
    return RankMemory(
        type=hbm["type"],
        stacks=per_rank,
        bus_bits_per_stack=bits,
        gbps_per_pin=hbm["gbps_per_pin"].value,
        capacity_bytes=per_rank * hbm["capacity_per_stack"].si,
        bandwidth_uni_Bps=per_rank * bits * hbm["gbps_per_pin"].value * 1e9 / 8,
    )
