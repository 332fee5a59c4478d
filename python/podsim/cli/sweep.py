"""``podsim sweep``: one workload over a grid of design points, a ``podsim run`` per point."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

import podsim
from podsim.cli.errors import as_option
from podsim.cli.options import (
    EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, SYSTEM_HELP, CheckingParser, Parser, UsageError, add_output, flag, is_given, note,
    positive_int,
)
from podsim.cli.running import emit, summary
from podsim.cli.workload_options import WORKLOAD_OPTS, WORKLOADS, add_workload_options, build, check_workloads
from podsim.units import format_rate, format_time_ps

#: Values of ``--vary hbm=...`` that couple the memory, and that do not.
_HBM_ON = frozenset({"1", "true", "yes", "on"})
_HBM_OFF = frozenset({"0", "false", "no", "off"})
#: Options of ``run`` a sweep may vary (everything that changes what is simulated).
_SWEEPABLE = ("routing", "seed", "mtu", "ranks", "hbm", *sorted(WORKLOAD_OPTS))


def _vary(text: str) -> tuple[str, list[str]]:
    """``NAME=V1,V2,...`` -> (option name, values as typed)."""
    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not values:
        raise argparse.ArgumentTypeError(f"expected NAME=V1,V2,... (e.g. routing=ecmp,adaptive), got {text!r}")
    if name not in _SWEEPABLE:
        raise argparse.ArgumentTypeError(f"{name!r} cannot be varied; choose from {', '.join(_SWEEPABLE)}")
    vals = [v.strip() for v in values.split(",")]
    bad = [v for v in vals if name == "hbm" and v.lower() not in _HBM_ON | _HBM_OFF]
    if bad:
        raise argparse.ArgumentTypeError(f"hbm: values must be on or off ({', '.join(sorted(_HBM_ON | _HBM_OFF))}), got {bad[0]!r}")
    same = [(str(v.lower() in _HBM_ON) if name == "hbm" else v) for v in vals]
    if len(set(same)) != len(same):
        twice = next(v for i, v in enumerate(vals) if same[i] in same[:i])
        raise argparse.ArgumentTypeError(f"{name}: {twice!r} is given twice (each point of the grid is run once)")
    return name, vals


def _run_parser(parser_class: type[Parser] = Parser) -> argparse.ArgumentParser:
    """The whole ``podsim`` parser, whose ``run`` reads a point's command line. (Imported here:
    the parser is built from the commands, this one included.)"""
    from podsim.cli.parser import build_parser

    return build_parser(parser_class)


def _point(base: list[str], point: dict[str, Any], _point_seed: np.random.SeedSequence) -> dict[str, Any]:
    """One design point of ``podsim sweep``: the ``run`` command line with the point's values,
    simulated quietly; returns the run's summary. Module level, so process pools can pickle it.

    The point's own SeedSequence is not used: every point runs with the sweep's ``--seed`` (in
    ``base``) unless seed is varied, so that points differ only in what the sweep varies."""
    argv = ["run", *base]
    for name, value in point.items():
        if name == "hbm":
            argv += [flag(name)] if str(value).lower() in _HBM_ON else []
        else:
            argv += [flag(name), str(value)]
    args = _run_parser().parse_args([*argv, "--quiet"])
    check_workloads([args.workload], args)
    system = podsim.system(args.system)
    wl = build(system, args.workload, args)
    res = podsim.simulate(system, wl, routing=args.routing, seed=args.seed, mtu=args.mtu, memory=args.hbm or None)
    row = summary(system, wl, res, args).to_dict()
    # The point's own values are already columns; the sweep adds its own wall_s.
    row["engine_wall_s"] = row.pop("wall_s")
    return {k: v for k, v in row.items() if k not in point}


def _text(table: pd.DataFrame, axes: list[str]) -> str:
    """The sweep's table as text, in the units ``podsim run`` prints (--json and --out keep the
    base units: s, B/s and the fraction)."""
    def text(value: Any, fmt: Callable[[Any], str]) -> str:
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt(value)

    columns: dict[str, tuple[str, Callable[[Any], str]]] = {
        "time_s": ("time", lambda t: format_time_ps(t * 1e12)),
        "busbw_Bps": ("busbw", lambda b: format_rate(b, "uni")),
        "achieved_uni_Bps": ("achieved", lambda b: format_rate(b, "uni")),
        "efficiency": ("of peak", lambda e: f"{100 * e:.1f}%"),
        "error": ("error", str),
    }
    shown = pd.DataFrame({c: table[c] for c in (*axes, "complete") if c in table})
    for column, (title, fmt) in columns.items():
        if column in table:
            shown[title] = [text(v, fmt) for v in table[column]]
    return shown.to_string(index=False)


def sweep_command(args: argparse.Namespace) -> int:
    """Check every point of the grid, then run them all; print a row per point."""
    from podsim.sweep import SweepInterrupted, grid, sweep

    axes = dict(args.vary)
    if len(axes) != len(args.vary):
        raise UsageError("--vary: each option may be varied once")
    if args.resume and args.out_dir is None:
        raise UsageError("--resume needs --out-dir")
    varied = [name for name in axes if name != "seed" and is_given(getattr(args, name, None))]
    if varied:  # (--seed has a default, so it cannot be told apart from one given)
        raise UsageError(f"{flag(varied[0])}: also varied by --vary {varied[0]}=...; give one or the other")
    # The fixed part of the run command: system, workload and every option given (not varied).
    base = [args.system, args.workload]
    for name in _SWEEPABLE:
        value = getattr(args, name, None)
        # Every point runs with the same --seed (unless seed is varied): a comparison of routing
        # policies, say, must not mix in the noise of a different seed per point.
        if name in axes or not is_given(value):
            continue
        # Parsed values go back as text the run command parses the same way (a time in ps needs its unit).
        text = f"{value}ps" if name == "duration" else str(value)
        base += [flag(name)] + ([] if value is True else [text])
    # Check every value, then the whole grid's command lines, before anything runs: a typo fails
    # at once, named as the --vary value it is.
    checking = _run_parser(CheckingParser)
    for name, values in axes.items():
        for value in values if name != "hbm" else ():  # (hbm values were checked by _vary)
            try:
                checking.parse_args(["run", *base, f"{flag(name)}={value}"])
            except UsageError as err:  # (argparse's "argument --routing: " would name the run option)
                raise UsageError(f"--vary {name}={value}: {re.sub(r'^argument [^:]+: ', '', str(err))}") from None
    points = grid(**axes)
    system = podsim.system(args.system)
    header_bytes = system.run_defaults().get("header_bytes", podsim.simulation.DEFAULT_SIZES["header_bytes"])
    built: set[tuple[Any, ...]] = set()
    for point in points:
        trial = checking.parse_args(["run", *base, *[f"{flag(k)}={v}" for k, v in point.items() if k != "hbm"]])
        check_workloads([trial.workload], trial)
        if trial.mtu is not None and trial.mtu <= header_bytes:
            option = f"--vary mtu={point['mtu']}" if "mtu" in point else "--mtu"
            raise UsageError(f"{option}: must be larger than {args.system}'s header ({header_bytes} bytes), got {trial.mtu}")
        # Build the point's workload (once per distinct workload): a value the system cannot take
        # (--ranks 100 on 72 ranks, a --root past the last rank) is a usage error, found now.
        key = tuple(getattr(trial, o) for o in ("ranks", "seed", *WORKLOAD_OPTS))
        if key not in built:
            built.add(key)
            try:
                build(system, trial.workload, trial)
            except (UsageError, ValueError, TypeError) as err:
                where = " ".join(f"{k}={v}" for k, v in point.items())
                raise UsageError(f"--vary point {where}: {as_option(str(err), trial)}") from None
    # One worker runs in this process (no start-up cost for small sweeps, and Ctrl-C stops it).
    try:
        table = sweep(partial(_point, base), points, seed=args.seed, max_workers=0 if args.workers == 1 else args.workers,
                      out_dir=args.out_dir, resume=args.resume, progress=not args.quiet and sys.stderr.isatty())
    except SweepInterrupted as stop:  # what was finished, then the usual exit code of Ctrl-C
        done = stop.frame["point"].nunique() if len(stop.frame) else 0
        human = [f"{args.system} {args.workload}: interrupted, {done} of {len(points)} points done",
                 *([_text(stop.frame, list(axes))] if done else [])]
        emit(args, human, stop.frame.to_dict(orient="records"), stop.frame)
        note("interrupted")
        return EXIT_INTERRUPTED
    human = [f"{args.system} {args.workload}: {len(points)} points", _text(table, list(axes))]
    emit(args, human, table.to_dict(orient="records"), table)
    return EXIT_FAILED if "error" in table and table["error"].notna().any() else EXIT_OK


def add_command(sub: Any) -> None:
    """``sweep``, on the subcommand set ``sub``."""
    p = sub.add_parser("sweep", help="run a workload over a grid of design points (podsim.sweep), one row per point")
    p.add_argument("system", metavar="SYSTEM", help=SYSTEM_HELP)
    p.add_argument("workload", metavar="WORKLOAD", help=", ".join(WORKLOADS))
    p.add_argument("--vary", type=_vary, action="append", required=True, metavar="NAME=V1,V2",
                   help="a run option and its values (repeatable; the grid is every combination), e.g. routing=ecmp,adaptive; "
                        "every point runs with the same --seed unless seed is varied")
    add_workload_options(p)
    p.add_argument("--workers", type=positive_int, default=None, metavar="N", help="processes (default: one per core; 1 runs in-process)")
    p.add_argument("--out-dir", metavar="DIR", help="also write one file per point into DIR")
    p.add_argument("--resume", action="store_true", help="with --out-dir: read the points whose file exists, run the rest")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_output(p)
    # No default here, so that a --routing given with --vary routing=... can be told apart (each
    # point's run command still defaults to adaptive).
    p.set_defaults(func=sweep_command, routing=None)
