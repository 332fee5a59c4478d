"""``podsim bench`` (the benchmark suite's cases) and ``podsim demo`` (a small all-to-all): the
engine's speed and a first run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pandas as pd

import podsim
from podsim import benchcases, report
from podsim.cli.options import EXIT_FAILED, EXIT_OK, QUIET_HELP, UsageError, add_output, arg, int_in, seed
from podsim.cli.progress import Progress
from podsim.cli.running import emit
from podsim.cli.workload_options import ROUTING_HELP
from podsim.units import format_bytes, format_rate, format_time_ps, parse_size


def bench_command(args: argparse.Namespace) -> int:
    """Run the selected benchmark cases; print a row per case (events/s, simulated vs wall time)."""
    selected = [c for c in benchcases.cases(quick=not args.full) if args.case is None or args.case in c.name]
    if not selected:
        raise UsageError(f"--case: no benchmark case name contains {args.case!r}; see 'podsim bench --list'")
    if args.list:
        print("\n".join(c.name for c in selected))
        return EXIT_OK
    rows = []
    for i, case in enumerate(selected, 1):
        with Progress(f"[{i}/{len(selected)}] {case.name}", quiet=args.quiet) as progress:
            res, row = benchcases.run_case(case, progress)
        if not (res.complete and res.ledger.balanced):
            print(f"podsim: error: benchmark case {case.name} did not complete with a balanced ledger", file=sys.stderr)
            return EXIT_FAILED
        rows.append(row)
    emit(args, benchcases.table(rows), rows, pd.DataFrame(rows))
    return EXIT_OK


def demo_command(args: argparse.Namespace) -> int:
    """A uniform all-to-all on a small CloudMatrix-shaped Clos, to show the engine end to end."""
    topo = benchcases.cm_shape(args.groups)
    msgs = podsim.workloads.all_to_all(topo.endpoints, args.bytes_per_pair)
    res = podsim.simulate(topo, msgs, routing=args.routing, seed=args.seed)
    peak = report.injection_peak_uni(topo, topo.endpoints)
    print(f"{topo!r}: all-to-all, {format_bytes(args.bytes_per_pair)} per pair, {len(msgs)} messages, routing={args.routing}")
    print(f"  last byte delivered after {format_time_ps(res.delivery_window_ps())} simulated (last acknowledgement "
          f"after {format_time_ps(res.makespan_ps)}), {res.wall_s:.2f} s wall, {res.events} events")
    print(f"  achieved {format_rate(res.achieved_bandwidth(), 'uni')} (bytes delivered over the time to the last byte) "
          f"of {format_rate(peak, 'uni')} injection peak")
    print(f"  ledger balanced: {res.ledger.balanced}")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    """``bench`` and ``demo``, on the subcommand set ``sub``."""
    p = sub.add_parser("bench", help="the benchmark suite's cases (quick set by default) and the engine's speed")
    p.add_argument("--full", action="store_true", help="all sizes (as 'pytest bench' without PODSIM_BENCH_QUICK)")
    p.add_argument("--case", metavar="TEXT", help="only cases whose name contains TEXT")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    add_output(p)
    p.set_defaults(func=bench_command)

    p = sub.add_parser("demo", help="run a small all-to-all on a CloudMatrix-shaped Clos")
    p.add_argument("--groups", type=int_in(1, 48), default=2, metavar="N", help="groups of 16 endpoints, in [1, 48] (default 2)")
    p.add_argument("--bytes-per-pair", type=arg(parse_size, "bytes_per_pair"), default=64 << 10, metavar="SIZE",
                   help="bytes from each endpoint to each other (default 64KiB)")
    p.add_argument("--routing", choices=sorted(podsim.ROUTING), default="adaptive", help=ROUTING_HELP)
    p.add_argument("--seed", type=seed, default=1, help="engine seed: ECMP hashes and adaptive tie-breaks (default 1)")
    p.set_defaults(func=demo_command)
