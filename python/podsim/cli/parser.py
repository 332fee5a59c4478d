"""The ``podsim`` argument parser: global flags, and each command's subparser from its module."""

from __future__ import annotations

import argparse

import podsim
from podsim.cli import bench, compare, export, hbm, info, run, sweep
from podsim.cli.options import Parser


def build_parser(parser_class: type[Parser] = Parser) -> argparse.ArgumentParser:
    """The argument parser of the ``podsim`` command (``parser_class``: how it reports errors)."""
    parser = parser_class(prog="podsim", description="Packet-level simulation of AI scale-up supernodes: peak figures, "
                          "and what the fabric delivers under real traffic.")
    parser.add_argument("--version", action="version", version=f"podsim {podsim.__version__}")
    parser.add_argument("--cmake-dir", action="store_true", help="print the CMake package directory (for find_package(podsim)) and exit")
    parser.add_argument("--include-dir", action="store_true", help="print the C++ include directory and exit")
    parser.add_argument("--lib-dir", action="store_true", help="print the directory of libpodsim.a (builds without CMake) and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # In the order of 'podsim --help'.
    info.add_commands(sub)
    compare.add_command(sub)
    run.add_command(sub)
    hbm.add_command(sub)
    sweep.add_command(sub)
    export.add_command(sub)
    bench.add_commands(sub)
    return parser
