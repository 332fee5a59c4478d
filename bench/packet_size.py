"""The packet size as the knob that trades fidelity for speed: the README's "Cost and speed" table.

    python bench/packet_size.py [--payloads 4000 16000 64000] [--repeat 3]

FT2-256 (the peers' reference fabric, ``podsim.benchcases``) under its 2 MB permutation with
spraying, at several payloads per packet. Switch and endpoint buffers hold at least four packets
(the fabric's own 35 x 4,064 B, or four of the larger packets), so that a larger packet is never
throttled by a buffer smaller than a few of it. Wall time is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import time

import podsim
from podsim import benchcases as B
from podsim.fabrics import LinkParams, folded_clos
from podsim.units import format_time_ps

#: Packets a buffer holds at least.
MIN_BUFFER_PACKETS = 4


def row(payload: int, repeat: int) -> str:
    """One table row: payload, events, packet-hops, best wall time, last flow acknowledged."""
    mtu = payload + B.FT2_HEADER
    buffer = max(B.FT2_QUEUE_PACKETS * B.FT2_MTU, MIN_BUFFER_PACKETS * mtu)
    params = LinkParams(rate_Bps=B.FT2_RATE_BPS, latency_ps=B.FT2_LATENCY_PS, switch_latency_ps=0,
                        buffer_bytes=buffer, endpoint_buffer_bytes=buffer)
    fabric = folded_clos(16, 16, 16, params)
    flows = B.ft2_256_flows("perm_256n_2MB.txt", fabric)
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = podsim.simulate(fabric, flows, mtu=mtu, header_bytes=B.FT2_HEADER, routing="spray", seed=1)
        walls.append(time.perf_counter() - t0)
    return (f"| {payload:,} B | {res.events:,} | {res.packet_hops:,} | {min(walls):.3f} s | "
            f"{format_time_ps(res.makespan_ps).replace('us', 'µs')} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--payloads", type=int, nargs="+", default=[4000, 16000, 64000], help="payload bytes per packet")
    ap.add_argument("--repeat", type=int, default=3, help="runs per payload; the best wall time is shown")
    args = ap.parse_args()
    print("| payload per packet | events | packet-hops | wall | last flow done (simulated) |")
    print("|---|---|---|---|---|")
    for payload in args.payloads:
        print(row(payload, args.repeat), flush=True)


if __name__ == "__main__":
    main()
