"""Builder ``single-tier``: GPUs on one tier of switch chips (NVL72, HGX baseboards).

``chips`` packages, each with ``scale_up_links`` links spread over ``switches`` switch chips:
evenly when ``link_split`` is absent (NVL72: 18 links, 18 chips, one each), else
``link_split[s]`` links to switch s (HGX: 5/4/4/5). Every pair of GPUs is one switch hop apart.
``chips_per_group`` packages form a compute tray or board (:attr:`System.rank_group`).
"""

from __future__ import annotations

from podsim._validate import FabricSize, queue_pairs
from podsim.systems.fabric import Fabric, rank_role, require_ports, require_size, tier_name, time_ps, width
from podsim.systems.spec import SystemSpec, rank_ports, ranks_per_chip


def build(spec: SystemSpec) -> Fabric:
    """Build the single switch tier described by ``spec`` (builder ``single-tier``)."""
    top, chip, c = spec.topology, spec.chip, f"chips.{spec.chip_name}"
    n, per_group, n_sw = top["chips"].value, top["chips_per_group"].value, top["switches"].value
    links = chip["scale_up_links"].value
    # A partial last compute tray is allowed (only rank_group uses it); a partial switch tray is
    # not, because podsim.faults fails whole trays.
    per_tray = top["switches_per_tray"].value if "switches_per_tray" in top else 1
    if n_sw % per_tray:
        raise spec.error(f"topology.switches = {n_sw} switch chips do not fill whole trays of {per_tray}",
                         "topology.switches_per_tray", "topology.switches")
    if "link_split" in top:
        split = list(top["link_split"].value)
        if len(split) != n_sw:
            raise spec.error(f"has {len(split)} entries, expected topology.switches = {n_sw}",
                             "topology.link_split", "topology.switches")
        if sum(split) != links:
            raise spec.error(f"topology.link_split sums to {sum(split)}, expected {c}.scale_up_links = {links}",
                             "topology.link_split", f"{c}.scale_up_links")
    elif links % n_sw:
        raise spec.error(f"missing: {c}.scale_up_links = {links} links per rank do not spread evenly over "
                         f"topology.switches = {n_sw}", "topology.link_split", f"{c}.scale_up_links", "topology.switches")
    else:
        split = [links // n_sw] * n_sw
    per_chip = ranks_per_chip(chip)
    sw = spec.switches[top["switch"]]
    require_ports(spec, "switch", n * per_chip * max(split), "topology.chips", f"{c}.scale_up_links",
                  "topology.link_split")
    ranks = n * per_chip
    pairs = queue_pairs(ranks, rank_ports(chip)) + sum(queue_pairs(1, ranks * k) for k in split)
    require_size(spec, FabricSize(ranks, ranks + n_sw, pairs), "topology.chips", "topology.switches")

    rate = spec.link("rank_link")["rate_uni"].si
    lat = time_ps(top["rank_link"]["latency"], 1)
    fab = Fabric(chips=n)
    if "transceiver" in top["rank_link"]:
        fab.optical[tier_name(rank_role(chip), "switch")] = top["rank_link"]["transceiver"]
    switches = [fab.switch(f"nvswitch{s:0{width(n_sw)}d}" if chip["kind"] == "gpu" else f"switch{s:0{width(n_sw)}d}",
                           "switch", sw) for s in range(n_sw)]
    wg = width(n)
    for i in range(n):
        for r in fab.add_chip(f"{chip['kind']}{i:0{wg}d}", spec, i // per_group, top.get("die_link", {}).get("latency")):
            for s, k in zip(switches, split):
                for _ in range(k):
                    fab.topology.connect(r, s, rate_Bps=rate, latency_ps=lat)
    return fab
