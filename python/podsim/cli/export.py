"""``podsim export``: a system's fabric, rank list and HBM as files a C++ host loads."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import podsim
from podsim.cli.options import EXIT_OK


def export_command(args: argparse.Namespace) -> int:
    """Write FILE (the topology), FILE.ranks and FILE.hbm; print the run settings they leave out."""
    system = podsim.system(args.system)
    system.topology.save(args.file)
    print(f"podsim: wrote {args.file}: {system.name}, {system.topology!r} (load with podsim::load_topology or podsim.Topology.load)")
    # Which endpoints are compute ranks: CPUs may be endpoints too (CloudMatrix 384), so a C++
    # host cannot take "the first N endpoints".
    index = {int(node): i for i, node in enumerate(system.topology.endpoints)}
    ranks = Path(f"{args.file}.ranks")
    ranks.write_text("".join(f"{index[int(r)]}\n" for r in system.ranks))
    print(f"podsim: wrote {ranks}: the endpoint indices of its {len(system.ranks)} compute ranks, in rank order, one per line")
    hbm = Path(f"{args.file}.hbm")
    podsim.hbm.Device.from_rank(system.rank_memory).config().save(str(hbm))
    print(f"podsim: wrote {hbm}: the HBM of one rank, from the sourced presets (load with podsim::memory::load_hbm_config "
          "and couple a rank with Simulator::attach_memory)")
    # The file holds the fabric only; the system's packet and transaction sizes are run settings,
    # which a C++ host must set itself to get what podsim.simulate(system, ...) gets.
    fields = {"mtu": "mtu_bytes"}
    defaults = system.run_defaults()
    settings = ", ".join(f"{fields.get(k, k)} = {v}" for k, v in defaults.items())
    if settings:
        print(f"run settings of {system.name} (not in the file; a C++ host sets them in podsim::SimConfig): {settings}")
    if "txn_bytes" not in defaults:
        print(f"with {hbm.name} attached, set txn_bytes = {podsim.simulation.MEMORY_TXN_BYTES} as memory=True does "
              "(memory is accessed a transaction at a time)")
    return EXIT_OK


def add_command(sub: Any) -> None:
    """``export``, on the subcommand set ``sub``."""
    p = sub.add_parser("export", help="write a system's fabric to a topology file for C++ hosts")
    p.add_argument("system", metavar="SYSTEM")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=export_command)
