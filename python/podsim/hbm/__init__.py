"""HBM memory model: sourced timing presets, a per-die/GPU device, access patterns, simulation.

::

    import podsim
    die = podsim.hbm.Device(podsim.hbm.preset("HBM2E", gbps_per_pin=3.125), stacks=4)
    res = podsim.hbm.simulate(die, podsim.hbm.sequential_read(), duration_ps=20_000_000)
    res.achieved_Bps, res.efficiency, res.latency, res.row_hit_rate
    cm = podsim.systems.system("cloudmatrix384")
    pod = podsim.hbm.simulate_system(cm, podsim.hbm.sequential_read(), duration_ps=1_000_000)  # 768 dies
"""

from __future__ import annotations

from podsim.hbm.device import MAP_FIELDS, PAGE_POLICIES, Device
from podsim.hbm.patterns import (
    KINDS,
    Pattern,
    Requests,
    copy,
    mix,
    random,
    sequential_read,
    sequential_write,
    strided,
)
from podsim.hbm.presets import ORGANISATION_NAMES, TIMING_NAMES, TYPES, Preset, preset
from podsim.hbm.simulate import COMMANDS, Interrupted, Latency, Result, simulate, simulate_system

__all__ = [
    "COMMANDS",
    "KINDS",
    "MAP_FIELDS",
    "ORGANISATION_NAMES",
    "PAGE_POLICIES",
    "TIMING_NAMES",
    "TYPES",
    "Device",
    "Interrupted",
    "Latency",
    "Pattern",
    "Preset",
    "Requests",
    "Result",
    "copy",
    "mix",
    "preset",
    "random",
    "sequential_read",
    "sequential_write",
    "simulate",
    "simulate_system",
    "strided",
]
