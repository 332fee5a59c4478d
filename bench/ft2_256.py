"""The FT2-256 reference fabric and its traffic files (see data/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import podsim
from podsim.fabrics import LinkParams, folded_clos

DATA = Path(__file__).parent / "data"
PAYLOAD = 4000          # htsim's packet: 2,000,000 B flows are 500 packets
HEADER = 64             # our per-packet header on top of it (htsim's 4000 B carry theirs inside)
MTU = PAYLOAD + HEADER
QUEUE_PACKETS = 35      # htsim -q 35: per-port queue of 35 packets


def fabric() -> podsim.Topology:
    """16 leaves x 16 hosts, 16 spines; 50 GB/s (400 Gb/s) per direction, 500 ns, 0 ns switches."""
    params = LinkParams(
        rate_Bps=50e9, latency_ps=500_000, switch_latency_ps=0, buffer_bytes=QUEUE_PACKETS * MTU,
        endpoint_buffer_bytes=QUEUE_PACKETS * MTU,
    )
    return folded_clos(16, 16, 16, params)


def flows(name: str, topo: podsim.Topology) -> podsim.Messages:
    """Messages from a traffic file: host h is endpoint h (the h-th endpoint of the fabric)."""
    src, dst, start, size = [], [], [], []
    for line in (DATA / name).read_text().splitlines():
        if "->" not in line:
            continue
        pair, rest = line.split(" ", 1)
        s, d = pair.split("->")
        fields = rest.split()
        src.append(int(s))
        dst.append(int(d))
        start.append(int(fields[fields.index("start") + 1]))
        size.append(int(fields[fields.index("size") + 1]))
    hosts = topo.endpoints
    # htsim start times are in ps already (its timebase); they become message delays.
    return podsim.Messages(hosts[np.array(src)], hosts[np.array(dst)], size, delay_ps=start)
