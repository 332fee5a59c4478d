"""The ``podsim`` command line. Exit codes: 0 ok, 2 bad usage (with a one-line reason)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import podsim
from podsim.fabrics import LinkParams, folded_clos
from podsim.units import format_bytes, format_rate, format_time_ps, parse_size


class UsageError(Exception):
    """A bad argument: reported in one line, exit code 2."""


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _demo(args: argparse.Namespace) -> int:
    """A uniform all-to-all on a small CloudMatrix-shaped Clos, to show the engine end to end."""
    params = LinkParams(rate_Bps=28e9, latency_ps=10_000, switch_latency_ps=150_000, buffer_bytes=64 << 10)
    topo = folded_clos(args.groups, 16, 16, params, planes=7)
    hosts = topo.endpoints
    src, dst = np.meshgrid(hosts, hosts)
    keep = src != dst
    msgs = podsim.Messages(src[keep], dst[keep], args.bytes_per_pair)
    res = podsim.simulate(topo, msgs, routing=args.routing, seed=args.seed)
    peak = len(hosts) * 7 * 28e9
    print(f"{topo!r}: all-to-all, {format_bytes(args.bytes_per_pair)} per pair, {len(msgs)} messages, routing={args.routing}")
    print(f"  completed in {format_time_ps(res.makespan_ps)} simulated, {res.wall_s:.2f} s wall, {res.events} events")
    print(f"  achieved {format_rate(res.achieved_bandwidth(), 'uni')} of {format_rate(peak, 'uni')} injection peak")
    print(f"  ledger balanced: {res.ledger.balanced}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``podsim`` command."""
    parser = argparse.ArgumentParser(prog="podsim", description="Packet-level simulation of AI scale-up supernodes.")
    parser.add_argument("--version", action="version", version=f"podsim {podsim.__version__}")
    parser.add_argument("--cmake-dir", action="store_true", help="print the CMake package directory (for find_package(podsim)) and exit")
    parser.add_argument("--include-dir", action="store_true", help="print the C++ include directory and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run a small all-to-all on a CloudMatrix-shaped Clos")
    demo.add_argument("--groups", type=int, default=2, choices=range(1, 49), metavar="N", help="groups of 16 endpoints (1-48)")
    demo.add_argument("--bytes-per-pair", type=_size, default=64 << 10, help="e.g. 64KiB (default)")
    demo.add_argument("--routing", choices=sorted(podsim.ROUTING), default="adaptive")
    demo.add_argument("--seed", type=int, default=1)
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.cmake_dir or args.include_dir:
        root = Path(podsim.__file__).parent
        print(root / "lib" / "cmake" / "podsim" if args.cmake_dir else root / "include")
        return 0
    if args.command is None:
        args = parser.parse_args(["demo"])
    try:
        return int(args.func(args))
    except (UsageError, ValueError, TypeError) as err:
        print(f"podsim: error: {err}", file=sys.stderr)
        return 2
