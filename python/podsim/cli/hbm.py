"""``podsim hbm``: an access pattern streamed through every rank's HBM, achieved against the pin
peak, for one or more systems."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pandas as pd

import podsim
from podsim._validate import MAX_TIME_PS
from podsim.cli.options import (
    EXIT_INTERRUPTED, EXIT_OK, QUIET_HELP, UsageError, add_output, arg, note, positive_int, seed,
)
from podsim.cli.progress import Progress
from podsim.cli.running import emit, markdown, table_rows
from podsim.systems.compare import refuse_same_names
from podsim.units import format_bytes, format_rate, format_time_ps, parse_size, parse_time_ps

#: ``podsim hbm --pattern`` names and the :mod:`podsim.hbm` patterns they make (with the
#: pattern's own request size unless --request is given).
_PATTERNS: dict[str, Callable[..., podsim.hbm.Pattern]] = {
    "sequential-read": podsim.hbm.sequential_read,
    "sequential-write": podsim.hbm.sequential_write,
    "copy": podsim.hbm.copy,
    "random": podsim.hbm.random,
    "strided": podsim.hbm.strided,
}


def _pattern(args: argparse.Namespace) -> podsim.hbm.Pattern:
    """The access pattern of ``podsim hbm``'s options, refusing options the pattern does not read."""
    if args.pattern == "strided" and args.stride is None:
        raise UsageError("--pattern strided needs --stride SIZE")
    if args.pattern != "strided" and args.stride is not None:
        raise UsageError(f"--stride: only with --pattern strided, not {args.pattern}")
    mixed = args.pattern in ("random", "strided")
    if args.write_fraction is not None and not mixed:
        raise UsageError(f"--write-fraction: only with --pattern random or strided, not {args.pattern} "
                         "(sequential-write writes only, copy reads and writes alternately)")
    kwargs: dict[str, Any] = {} if args.request is None else {"request_bytes": args.request}
    if mixed and args.write_fraction is not None:
        kwargs["write_fraction"] = args.write_fraction
    if args.stride is not None:
        kwargs["stride_bytes"] = args.stride
    return _PATTERNS[args.pattern](**kwargs)


def _lines(name: str, args: argparse.Namespace, pattern: podsim.hbm.Pattern, res: podsim.hbm.Result) -> list[str]:
    """Human-readable report of one system's HBM run, one fact per line."""
    lat, ranks = res.latency, res.devices
    latency = (f"latency mean {format_time_ps(lat.mean_ps)}, p50 {format_time_ps(lat.p50_ps)}, p99 {format_time_ps(lat.p99_ps)} "
               f"(submit to last data beat, {lat.count:,} requests)" if lat.count else "no request completed in the window")
    what = f"{format_bytes(pattern.request_bytes)} requests"
    if pattern.stride_bytes:
        what += f" every {format_bytes(pattern.stride_bytes)}"
    if pattern.write_fraction and args.pattern in ("random", "strided"):
        what += f", {pattern.write_fraction:.0%} writes"
    return [
        f"{name}: HBM {args.pattern} ({what}, {args.outstanding} in flight per rank), {ranks} ranks, "
        f"{format_time_ps(res.duration_ps)} simulated",
        f"  achieved {format_rate(res.achieved_Bps, 'uni')} read + written of {format_rate(res.peak_Bps, 'uni')} pin peak "
        f"({res.efficiency:.1%}); per rank {format_rate(res.achieved_Bps / ranks, 'uni')}",
        f"  {latency}",
        f"  row hits {res.row_hit_rate:.1%}, refresh {res.refresh_fraction:.1%} of channel time",
        f"  engine: {res.requests:,} requests in {res.cpu_s:.2f} s CPU",
    ]


def hbm_command(args: argparse.Namespace) -> int:
    """Run the pattern on each of ``args.systems`` in turn; print each, and a table for two or more."""
    pattern = _pattern(args)
    if not 0 < args.duration <= MAX_TIME_PS:
        raise UsageError(f"--duration: must be longer than 0 and at most 2**62 ps (about 53 days), "
                         f"got {format_time_ps(args.duration)}")
    systems = [podsim.system(n) for n in args.systems]
    refuse_same_names(systems)  # (a column twice is a typo for another system)
    for s in systems:  # all checked before any long run
        if args.ranks is not None and args.ranks > len(s.ranks):
            raise UsageError(f"--ranks: {s.name} has {len(s.ranks)} ranks, got {args.ranks}")
    human: list[str] = []
    data: list[dict[str, Any]] = []
    interrupted = None
    for s in systems:
        ranks = len(s.ranks) if args.ranks is None else args.ranks
        with Progress(f"{s.name} HBM {args.pattern}", quiet=args.quiet, counts="requests",
                      done_is="of the time simulated") as show:

            def progress(now_ps: int, requests: int) -> None:
                show(now_ps, requests, now_ps / args.duration)

            try:
                res = podsim.hbm.simulate(
                    podsim.hbm.Device.from_rank(s.rank_memory), pattern, duration_ps=args.duration, devices=ranks,
                    outstanding=args.outstanding, seed=args.seed, progress=progress)
            except podsim.hbm.Interrupted as err:  # Ctrl-C: what this system reached, and no more systems
                res, interrupted = err.result, s.name
        human += [*([""] if human else []), *_lines(s.name, args, pattern, res)]
        figures = res.to_dict()
        # A copy reads and writes alternately (its pattern ignores write_fraction).
        writes = 0.5 if pattern.kind == "copy" else pattern.write_fraction
        data.append({"system": s.name, "pattern": args.pattern, "request_bytes": pattern.request_bytes,
                     "stride_bytes": pattern.stride_bytes, "write_fraction": writes,
                     "ranks": figures.pop("devices"), "outstanding": args.outstanding, "seed": args.seed,
                     "complete": interrupted is None, **figures})
        if interrupted is not None:
            human.append(f"  INTERRUPTED: measured over the {format_time_ps(res.duration_ps)} simulated of "
                         f"{format_time_ps(args.duration)}; {len(data) - 1} of {len(systems)} systems done")
            break
    if len(data) > 1:
        metrics = (("achieved, read + written, all ranks, uni", "TB/s", "higher", lambda d: d["achieved_Bps"] / 1e12),
                   ("pin peak, all ranks, uni", "TB/s", "higher", lambda d: d["peak_Bps"] / 1e12),
                   ("achieved / pin peak", "%", "higher", lambda d: 100 * d["efficiency"]),
                   ("achieved per rank, uni", "TB/s", "higher", lambda d: d["achieved_Bps"] / d["ranks"] / 1e12),
                   ("mean latency (queueing included)", "ns", "lower",
                    lambda d: None if d["latency"]["mean_ps"] is None else d["latency"]["mean_ps"] / 1e3))
        # The requests each rank keeps in flight bound what it achieves (Little's law), whatever
        # its pseudo-channel count: part of what is compared.
        what = f"HBM {args.pattern}, {args.outstanding} requests in flight per rank"
        rows = table_rows(what, metrics, data, lambda d: d["system"])
        human += ["", *markdown(rows, [d["system"] for d in data])]
    emit(args, human, data, pd.json_normalize(data))
    if interrupted is not None:
        note("interrupted")
        return EXIT_INTERRUPTED
    return EXIT_OK


def add_command(sub: Any) -> None:
    """``hbm``, on the subcommand set ``sub``."""
    p = sub.add_parser("hbm", help="stream an access pattern through every rank's HBM: achieved vs pin peak, latency")
    p.add_argument("systems", nargs="+", metavar="SYSTEM", help="one or more; with two or more, a table compares them")
    p.add_argument("--pattern", choices=list(_PATTERNS), default="sequential-read",
                   help="access pattern of every rank (default sequential-read)")
    p.add_argument("--request", type=arg(parse_size, "request_bytes"), metavar="SIZE",
                   help="bytes per request (default 4KiB for sequential-read, sequential-write and copy; 64 for random and strided)")
    p.add_argument("--stride", type=arg(parse_size, "stride_bytes"), metavar="SIZE", help="strided: distance between requests")
    p.add_argument("--write-fraction", type=float, metavar="F", help="random and strided: share of writes, in [0, 1] (default 0)")
    p.add_argument("--duration", type=arg(parse_time_ps, "duration"), default=10_000_000, metavar="TIME",
                   help="simulated time, e.g. 10us (default; all 768 dies of cloudmatrix384 take about 10 s for it)")
    p.add_argument("--ranks", type=positive_int, metavar="N", help="simulate the first N ranks' HBM (default: all)")
    p.add_argument("--outstanding", type=positive_int, default=256, metavar="N", help="requests in flight per rank (default 256)")
    p.add_argument("--seed", type=seed, default=1,
                   help="seed of the random draws (random addresses, which requests write); each rank draws from it and its index (default 1)")
    add_output(p)
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    p.set_defaults(func=hbm_command)
