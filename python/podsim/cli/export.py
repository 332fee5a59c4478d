"""``podsim export``: a system's fabric, rank list and HBM as files a C++ host loads."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import podsim
from podsim.cli.options import EXIT_OK, SYSTEM_HELP


def export_command(args: argparse.Namespace) -> int:
    """Write FILE (the topology), FILE.ranks, FILE.hbm and FILE.run, saying what each holds."""
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
    # Packet and transaction sizes are run settings, not part of the fabric: FILE.run holds them
    # as podsim.simulate(system) runs with its defaults, and the transaction size of a run coupled
    # to HBM (the system's own, else memory=True's).
    run = Path(f"{args.file}.run")
    sim = podsim.Simulation(system)
    memory_txn = system.run_defaults().get("txn_bytes", podsim.simulation.MEMORY_TXN_BYTES)
    sim._core.save_config(str(run), memory_txn)
    txn = f"transactions of {sim._core.config['txn_bytes']:,} bytes" if sim._core.config["txn_bytes"] else "a message per transaction"
    print(f"podsim: wrote {run}: its run settings ({sim.mtu:,}-byte packets with {sim.header_bytes}-byte headers, {txn}; "
          f"coupled to its HBM, transactions of {memory_txn:,} bytes), as podsim.simulate runs it by default "
          "(load with podsim::load_sim_config)")
    return EXIT_OK


def add_command(sub: Any) -> None:
    """``export``, on the subcommand set ``sub``."""
    p = sub.add_parser(
        "export", help="write a system's fabric, ranks, HBM and run settings as files for C++ hosts",
        description="Write FILE (the fabric: podsim::load_topology), FILE.ranks (the compute ranks' endpoint "
                    "indices, in rank order), FILE.hbm (one rank's HBM: podsim::memory::load_hbm_config) and "
                    "FILE.run (the run settings of podsim.simulate(SYSTEM): podsim::load_sim_config).")
    p.add_argument("system", metavar="SYSTEM", help=SYSTEM_HELP)
    p.add_argument("file", metavar="FILE", help="path of the topology file; the others are named after it")
    p.set_defaults(func=export_command)
