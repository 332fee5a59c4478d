"""Peak aggregates of a system, computed from component counts x rates.

How each figure is counted (the same way the CloudMatrix paper, SemiAnalysis and NVIDIA count):

* **scale-up bandwidth**: the sum, over the compute ranks (dies or GPUs), of the rates of their
  links into the switch fabric, read from the built graph; ``uni`` is one direction, ``bidi`` is
  both directions summed (2 x uni). It is per-NPU UB ports x port rate x NPUs (paper: 14 x 28 GB/s
  per NPU; SemiAnalysis: 7 x 400 Gb/s per NPU; NVIDIA: 18 x 50 GB/s per GPU). CPU links, the
  910C die-to-die link and the switch-to-switch tier are not counted: they are not the chips'
  scale-up ports.
* **compute**: chips x dense per-chip rate (no sparsity).
* **HBM bandwidth**: chips x stacks x bus bits per stack x Gb/s per pin / 8. HBM is a
  half-duplex bus: the figure is the rate in the one direction it carries at a time (uni). **HBM capacity**: chips x stacks x capacity per stack.
* **scale-out**: chips x per-chip NIC rate, uni.
* **power**: the spec's system figure, on the basis its note states (an analyst's all-in estimate
  for CloudMatrix 384 and GB200 NVL72, the power shelves' DC output for GB300 NVL72); per-watt
  values divide by it. **Optics power**:
  scale-up optical modules x the module's ``power`` (0 with no optics; None when a module type
  has no power figure).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np

from podsim.systems.fabric import Fabric
from podsim.systems.inventory import Inventory, optical_modules
from podsim.systems.spec import SystemSpec


@dataclass(frozen=True)
class Peak:
    """Peak figures of one system. Units: FLOP/s, OP/s, bytes, bytes/s, watts; None = no figure.

    Attributes:
        system: system name.
        chips: compute packages; ``ranks``: compute endpoints.
        bf16_flops, fp8_flops, fp4_flops: dense tensor FLOP/s of the whole system.
        int8_ops: dense INT8 OP/s of the whole system.
        hbm_capacity_bytes: HBM capacity, bytes (the DRAM makers' "GB" are GiB, 2**30 bytes).
        hbm_bandwidth_uni_Bps: HBM bandwidth, bytes/s (half-duplex: reads or writes at a time).
        scale_up_uni_Bps, scale_up_bidi_Bps: scale-up bandwidth, one direction / both summed.
        scale_out_uni_Bps: scale-out (NIC) bandwidth, one direction.
        transceivers, transceivers_scale_up, transceivers_scale_out: optical modules.
        power_W: the spec's system power figure, watts (see the module notes for its basis);
            ``chip_power_W``: one package.
        optics_power_W: power of the scale-up optical modules, watts (part of ``power_W``).
    """

    system: str
    chips: int
    ranks: int
    bf16_flops: float
    fp8_flops: float | None
    fp4_flops: float | None
    int8_ops: float | None
    hbm_capacity_bytes: float
    hbm_bandwidth_uni_Bps: float
    scale_up_uni_Bps: float
    scale_up_bidi_Bps: float
    scale_out_uni_Bps: float | None
    transceivers: int | None
    transceivers_scale_up: int
    transceivers_scale_out: int | None
    power_W: float | None
    chip_power_W: float
    optics_power_W: float | None = None

    #: Fields that are system totals and so have per-chip and per-watt forms.
    RATES: ClassVar[tuple[str, ...]] = ("bf16_flops", "fp8_flops", "fp4_flops", "int8_ops", "hbm_capacity_bytes", "hbm_bandwidth_uni_Bps",
             "scale_up_uni_Bps", "scale_up_bidi_Bps", "scale_out_uni_Bps")

    def per_chip(self) -> dict[str, float | None]:
        """System totals divided by the number of chips (same units, per package)."""
        return {k: _div(getattr(self, k), self.chips) for k in (*self.RATES, "power_W")}

    def per_watt(self) -> dict[str, float | None]:
        """System totals divided by system power (units per watt); None without a power figure."""
        return {k: _div(getattr(self, k), self.power_W) for k in self.RATES}

    def to_dict(self) -> dict[str, object]:
        """All fields as a dict."""
        return asdict(self)


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def compute(spec: SystemSpec, fab: Fabric, inv: Inventory) -> Peak:
    """Peak figures from the spec's per-component rates and the built system's counts."""
    chips = inv.chips
    comp, hbm = spec.chip["compute"], spec.chip["hbm"]
    bf16 = chips * comp["bf16_dense"].si
    if "int8_dense" in comp:
        int8 = chips * comp["int8_dense"].si
    elif "int8_per_bf16" in comp:
        int8 = bf16 * comp["int8_per_bf16"].si
    else:
        int8 = None
    pins = hbm["stacks"].value * hbm["bus_bits_per_stack"].value
    ch = fab.topology.channels()
    is_ep = fab.topology.is_endpoint()
    ranks = np.zeros(fab.topology.num_nodes, dtype=bool)
    ranks[fab.ranks] = True
    up = ranks[ch.src] & ~is_ep[ch.dst]  # a rank's channels into the switch fabric
    scale_up_uni = float(ch.rate_Bps[up].sum())
    out = spec.scale_out.get("rate_uni_per_chip")
    power = spec.power.get("system")
    optics_power: float | None = 0.0
    for tier, n in optical_modules(spec, fab).items():
        module_power = spec.transceivers[fab.optical[tier]].get("power")
        optics_power = None if module_power is None or optics_power is None else optics_power + n * module_power.si
    return Peak(
        system=spec.name,
        chips=chips,
        ranks=inv.ranks,
        bf16_flops=bf16,
        fp8_flops=chips * comp["fp8_dense"].si if "fp8_dense" in comp else None,
        fp4_flops=chips * comp["fp4_dense"].si if "fp4_dense" in comp else None,
        int8_ops=int8,
        hbm_capacity_bytes=chips * hbm["stacks"].value * hbm["capacity_per_stack"].si,
        hbm_bandwidth_uni_Bps=chips * pins * hbm["gbps_per_pin"].value * 1e9 / 8,
        scale_up_uni_Bps=scale_up_uni,
        scale_up_bidi_Bps=2 * scale_up_uni,
        scale_out_uni_Bps=None if out is None else chips * out.si,
        transceivers=inv.transceivers,
        transceivers_scale_up=inv.transceivers_scale_up,
        transceivers_scale_out=inv.transceivers_scale_out,
        power_W=None if power is None else power.si,
        chip_power_W=spec.chip["power"].si,
        optics_power_W=optics_power,
    )
