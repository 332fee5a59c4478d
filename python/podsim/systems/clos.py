"""Builder ``two-tier-clos``: the CloudMatrix 384 UB fabric.

Each of ``nodes`` scale-up nodes holds ``chips_per_node`` packages, ``cpus_per_node`` CPUs and
``l1_per_node`` L1 switches; L1 switch k of every node belongs to sub-plane k, which has
``l2_per_plane`` L2 switches. Wiring (hardware.md §1.3-1.4): every rank (die) spreads its
``scale_up_links`` evenly over the L1 switches of its node (one link to each on CloudMatrix); every
L1 switch has one uplink to each L2 switch of its sub-plane, so 48 nodes use 48 L2 ports.
CPUs have ``cpu_link.links_per_l1`` links to every L1 switch of their node, sharing the CPU's
``scale_up_bandwidth_uni`` equally (the attach is unpublished: see the spec's note).
"""

from __future__ import annotations

from podsim._validate import MAX_PORTS, MIN_RATE_BPS, FabricSize, queue_pairs
from podsim.systems.fabric import Fabric, rank_role, require_ports, require_size, tier_name, time_ps, width
from podsim.systems.spec import SystemSpec, rank_ports, ranks_per_chip


def build(spec: SystemSpec) -> Fabric:
    """Build the two-tier Clos described by ``spec`` (builder ``two-tier-clos``)."""
    top, chip, c = spec.topology, spec.chip, f"chips.{spec.chip_name}"
    nodes, per_node = top["nodes"].value, top["chips_per_node"].value
    n_cpus, n_l1, n_l2 = top["cpus_per_node"].value, top["l1_per_node"].value, top["l2_per_plane"].value
    rank_links = chip["scale_up_links"].value
    if rank_links % n_l1:
        raise spec.error(
            f"{c}.scale_up_links = {rank_links} links per rank cannot be spread evenly over "
            f"topology.l1_per_node = {n_l1} L1 switches",
            f"{c}.scale_up_links", "topology.l1_per_node",
        )
    links_each = rank_links // n_l1
    if n_cpus and spec.cpu is None:
        raise spec.error(f"missing: topology.cpus_per_node = {n_cpus} needs a CPU chip", "system.cpu", "topology.cpus_per_node")
    cpu_chip = spec.cpu or {}  # read only when n_cpus > 0, and then present (checked above)
    if n_cpus and "cpu_link" not in top:
        raise spec.error(f"missing: topology.cpus_per_node = {n_cpus} needs it", "topology.cpu_link", "topology.cpus_per_node")
    cpu_links = top["cpu_link"]["links_per_l1"].value if n_cpus else 0
    if n_l1 * cpu_links > MAX_PORTS:
        raise spec.error(f"a CPU needs topology.l1_per_node x links_per_l1 = {n_l1 * cpu_links} ports, more than the engine's {MAX_PORTS}",
                         "topology.cpu_link.links_per_l1", "topology.l1_per_node")
    per_chip = ranks_per_chip(chip)

    l1_sw, l2_sw = spec.switches[top["l1_switch"]], spec.switches[top["l2_switch"]]
    l1_ports = per_node * per_chip * links_each + n_cpus * cpu_links + n_l2
    require_ports(spec, "l1_switch", l1_ports,
                  "topology.chips_per_node", f"{c}.scale_up_links", "topology.l2_per_plane", "topology.cpus_per_node")
    require_ports(spec, "l2_switch", nodes, "topology.nodes")
    ranks = nodes * per_node * per_chip
    pairs = (queue_pairs(ranks, rank_ports(chip)) + queue_pairs(nodes * n_cpus, n_l1 * cpu_links)
             + queue_pairs(nodes * n_l1, l1_ports) + queue_pairs(n_l1 * n_l2, nodes))
    endpoints = ranks + nodes * n_cpus
    require_size(spec, FabricSize(endpoints, endpoints + nodes * n_l1 + n_l1 * n_l2, pairs),
                 "topology.nodes", "topology.chips_per_node", "topology.l1_per_node", "topology.l2_per_plane")

    rank_rate = spec.link("rank_link")["rate_uni"].si
    up_rate = spec.link("uplink")["rate_uni"].si
    rank_lat = time_ps(top["rank_link"]["latency"], 1)
    up_lat = time_ps(top["uplink"]["latency"], 1)
    die_lat = top.get("die_link", {}).get("latency")

    if n_cpus:
        cpu_rate = cpu_chip["scale_up_bandwidth_uni"].si / (n_l1 * cpu_links)
        if cpu_rate < MIN_RATE_BPS:
            raise spec.error(f"chips.{spec.cpu_name}.scale_up_bandwidth_uni spread over topology.l1_per_node x "
                             f"cpu_link.links_per_l1 = {n_l1 * cpu_links} CPU links is {cpu_rate:g} B/s each, "
                             f"below the engine's {MIN_RATE_BPS:g} B/s",
                             f"chips.{spec.cpu_name}.scale_up_bandwidth_uni", "topology.cpu_link.links_per_l1",
                             "topology.l1_per_node")
        cpu_lat = time_ps(top["cpu_link"]["latency"], 1)
    fab = Fabric(chips=nodes * per_node)
    if "transceiver" in top["uplink"]:
        fab.optical[tier_name("l1", "l2")] = top["uplink"]["transceiver"]
    if "transceiver" in top["rank_link"]:
        fab.optical[tier_name(rank_role(chip), "l1")] = top["rank_link"]["transceiver"]
    wn, wc, wp, wl2 = width(nodes), width(per_node), width(n_l1), width(n_l2)
    l1_of_node: list[list[int]] = []
    for n in range(nodes):
        node = f"node{n:0{wn}d}"
        l1 = [fab.switch(f"{node}/l1sw{k:0{wp}d}", "l1", l1_sw) for k in range(n_l1)]
        l1_of_node.append(l1)
        for k in range(per_node):
            for r in fab.add_chip(f"{node}/{chip['kind']}{k:0{wc}d}", spec, n, die_lat):
                for s in l1:
                    for _ in range(links_each):
                        fab.topology.connect(r, s, rate_Bps=rank_rate, latency_ps=rank_lat)
        for i in range(n_cpus):
            cpu = fab.endpoint(f"{node}/cpu{i}", "cpu", n_l1 * cpu_links, cpu_chip)
            fab.cpus.append(cpu)
            for s in l1:
                for _ in range(cpu_links):
                    fab.topology.connect(cpu, s, rate_Bps=cpu_rate, latency_ps=cpu_lat)
    for k in range(n_l1):
        for j in range(n_l2):
            l2 = fab.switch(f"plane{k:0{wp}d}/l2sw{j:0{wl2}d}", "l2", l2_sw)
            for n in range(nodes):
                fab.topology.connect(l1_of_node[n][k], l2, rate_Bps=up_rate, latency_ps=up_lat)
    return fab
