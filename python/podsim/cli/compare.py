"""``podsim compare``: the peak comparison of two or more systems and, with ``--workload``, what
each one achieves on the same traffic."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import podsim
from podsim import report
from podsim.cli.options import (
    EXIT_INTERRUPTED, EXIT_OK, IMAGE, QUIET_HELP, UsageError, add_output, flag, given, is_given, note, output,
)
from podsim.cli.running import emit, markdown, simulate, summary, table_rows
from podsim.cli.workload_options import (
    ENGINE_DEFAULTS, ENGINE_OPTS, WORKLOAD_OPTS, add_workload_options, build, check_workloads,
)
from podsim.units import format_bytes


#: What S is, by workload: NCCL's convention for the collectives.
_SIZE_MEANS = {"point_to_point": "the test's payload", "moe": "mean bytes a rank sends", "synthetic": "mean bytes a rank sends"}


def _ranks_per_chip(system: podsim.System) -> int:
    """Fabric endpoints (ranks) per compute package: 2 dies on CloudMatrix 384, 1 GPU on NVL72."""
    peak = system.peak()
    return peak.ranks // peak.chips


def _chips_used(workload: podsim.workloads.Workload, system: podsim.System) -> int:
    """Packages that ``workload``'s ranks are on (a package's ranks are adjacent in rank order)."""
    index = np.flatnonzero(np.isin(system.ranks, workload.ranks))  # their positions in rank order
    return len(np.unique(index // _ranks_per_chip(system)))


def _achieved_rows(name: str, summaries: list[report.RunSummary], chips: dict[str, int],
                   hops: dict[str, int]) -> list[dict[str, Any]]:
    """Rows of achieved figures of one workload on each system, in the comparison's layout
    (per system: ``chips`` its ranks are on, ``hops`` the channels between a point-to-point
    test's two ranks)."""
    what = f"achieved: {name} ({summaries[0].algorithm})"
    p2p = summaries[0].workload == "point_to_point"
    Metric = tuple[str, str, str, Callable[[report.RunSummary], float | None]]
    per_chip: tuple[Metric, ...] = () if p2p else (  # every rank sends (in a point-to-point test, one)
        ("busbw per chip (its ranks together), uni", "GB/s", "higher",
         lambda s: None if s.busbw_Bps is None else s.busbw_Bps * s.ranks / chips[s.system] / 1e9),
    )
    metrics: tuple[Metric, ...] = (
        # A rank is a fabric endpoint, a die on CloudMatrix 384 and a GPU on NVL72: the same
        # --ranks is half as many chips on the former, so a per-rank figure compares a die with
        # a GPU; per chip, a package with a package, as the peak rows do.
        ("ranks (fabric endpoints)", "", "", lambda s: s.ranks),
        ("chips (packages of those ranks)", "", "", lambda s: chips[s.system]),
        (f"size S ({_SIZE_MEANS.get(summaries[0].workload, 'NCCL convention')})", "MiB", "", lambda s: s.size_bytes / 2**20),
        # Neither vendor publishes its packet size, and short transfers depend on it: shown, so
        # that a comparison of two assumptions is not read as one of two machines.
        ("packet size (MTU), header included", "B", "", lambda s: s.mtu),
        ("completion time", "us", "lower", lambda s: None if s.time_s is None else s.time_s * 1e6),
        ("busbw per rank, uni", "GB/s", "higher", lambda s: None if s.busbw_Bps is None else s.busbw_Bps / 1e9),
        *per_chip,
        ("delivered, all ranks, uni", "TB/s", "higher", lambda s: s.achieved_uni_Bps / 1e12),
        ("peak injection, sending ranks, uni", "TB/s", "higher", lambda s: s.peak_uni_Bps / 1e12),
        ("delivered / peak", "%", "higher", lambda s: 100 * s.efficiency),
    )
    if p2p:
        # Rank 0 and --peer are not the same pair on every system (on CloudMatrix 384, rank 1 is
        # the sibling die, one die-to-die hop away): the path's length says how they differ.
        metrics += (("channels on the path (hops)", "", "", lambda s: hops.get(s.system)),)
    if p2p and not summaries[0].algorithm.startswith("bandwidth"):
        # A latency test: the latency, both ways of timing it (in a bandwidth test every message
        # starts at once, and its "latency" is mostly queueing behind the others).
        metrics += (
            ("message latency, mean, to last byte delivered", "us", "lower",
             lambda s: None if s.message_latency_s is None else s.message_latency_s * 1e6),
            ("message latency, mean, to completion at the initiator", "us", "lower",
             lambda s: None if s.completion_latency_s is None else s.completion_latency_s * 1e6),
        )
    if any(s.hbm_coupled for s in summaries):  # --hbm: the memory traffic too
        metrics += (
            ("HBM read + written, all ranks, uni", "TB/s", "", lambda s: None if s.hbm_uni_Bps is None else s.hbm_uni_Bps / 1e12),
            ("HBM / HBM peak", "%", "", lambda s: None if s.hbm_uni_Bps is None or not s.hbm_peak_uni_Bps
             else 100 * s.hbm_uni_Bps / s.hbm_peak_uni_Bps),
        )
    return table_rows(what, metrics, summaries, lambda s: s.system)


def _rank_note(systems: list[podsim.System]) -> str:
    """What a rank is on each system, and whose endpoint engines are ideal (upper bounds)."""
    kinds = "; ".join(f"{s.name} {_ranks_per_chip(s)} per chip" for s in systems)
    ideal = [s.name for s in systems if not s.spec.chip.get("endpoint")]
    text = f"A rank is one fabric endpoint ({kinds}); per-chip rows add a chip's ranks."
    if ideal and len(ideal) < len(systems):
        text += (f" Endpoint engines: {', '.join(ideal)} ideal (no published measurement to calibrate on: their "
                 "figures are upper bounds), the others calibrated on measurements (README, Calibration).")
    return text


def compare_command(args: argparse.Namespace) -> int:
    """Print the peak comparison of ``args.systems``, and each ``--workload``'s achieved rows."""
    if len(args.systems) < 2:
        raise UsageError(f"compare needs at least 2 systems, got {len(args.systems)}")
    systems = [podsim.system(n) for n in args.systems]
    if not args.workload:
        # (compare's parser leaves routing and seed unset, so that one given is seen here)
        options = [o for o in (*WORKLOAD_OPTS, *ENGINE_OPTS) if is_given(getattr(args, o))]
        if options:
            raise UsageError(f"{flag(options[0])}: applies to a workload run; add --workload NAME")
    for name, default in ENGINE_DEFAULTS.items():
        setattr(args, name, given(getattr(args, name), default))
    check_workloads(args.workload, args)  # before any long run
    comparison = podsim.compare(systems)
    rows: list[dict[str, Any]] = []
    runs: dict[str, list[report.RunSummary]] = {}
    chips: dict[str, dict[str, int]] = {}  # per workload and system
    hops: dict[str, int] = {}
    interrupted = False
    for w in args.workload:
        for s in systems:
            wl = build(s, w, args)
            chips.setdefault(w, {})[s.name] = _chips_used(wl, s)
            if wl.name == "point_to_point":
                hops[s.name] = s.path_count(int(wl.src[0]), int(wl.dst[0]))[0]
            res, interrupted = simulate(s, wl, args, trace=False)
            runs.setdefault(w, []).append(summary(s, wl, res, args))
            if interrupted:
                break
        if interrupted:
            break
    names = [s.name for s in systems]
    for w, summaries in runs.items():
        if len(summaries) == len(systems):
            rows += _achieved_rows(w, summaries, chips[w], hops)
    human = [comparison.to_markdown()]
    if rows:
        human += ["", *markdown(rows, names), ""]
        # What reproduces the runs (the table shows the sizes).
        for w, summaries in runs.items():
            sizes = "; ".join(f"{s.system} {s.messages:,} messages of "
                              f"{'several sizes' if s.message_bytes is None else format_bytes(s.message_bytes)}"
                              for s in summaries)
            human.append(f"{w}: routing {summaries[0].routing}, seed {summaries[0].seed}; {sizes}; each system with its "
                         "spec's packet and transaction sizes (`podsim run SYSTEM ...` for one, with its settings in full)")
        human.append(_rank_note(systems))
    if interrupted:
        human += ["", "interrupted; what was reached:"] + [line for ss in runs.values() for s in ss for line in s.lines()]
    data = {"peak": comparison.to_pandas().to_dict(orient="records"), "power_bases": comparison.power_bases(),
            "runs": {w: [s.to_dict() for s in ss] for w, ss in runs.items()}, "achieved": rows}
    table = pd.concat([comparison.to_pandas(), pd.DataFrame(rows)], ignore_index=True) if rows else comparison.to_pandas()
    emit(args, human, data, table)
    if args.plot is not None:
        from podsim import plot

        # Bars of the first workload's runs (their peak counts only the ranks used), else peaks alone.
        first = args.workload[0] if args.workload else None
        done = {s.system: s for s in runs.get(first, [])} if first else {}
        bars = [plot.Bar(s.name, done[s.name].peak_uni_Bps, done[s.name].achieved_uni_Bps) if s.name in done
                else plot.Bar(s.name, p.scale_up_uni_Bps, None) for s, p in zip(systems, comparison.peaks)]
        if done:
            one = next(iter(done.values()))
            title = f"{first} ({one.algorithm}): delivered vs peak injection"
        else:
            title = "peak scale-up bandwidth"
        plot.compare_figure(bars, args.plot, title=title)
        note(f"wrote {args.plot}")
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def add_command(sub: Any) -> None:
    """``compare``, on the subcommand set ``sub``."""
    p = sub.add_parser("compare", help="peak comparison table; with --workload also what each system achieves")
    p.add_argument("systems", nargs="+", metavar="SYSTEM", help="two or more; the first is the subject of the verdicts")
    p.add_argument("--workload", action="append", default=[], metavar="NAME", help="run this workload on each system (repeatable)")
    add_workload_options(p)
    p.set_defaults(**dict.fromkeys(ENGINE_DEFAULTS))  # filled in by compare_command (see there)
    add_output(p)
    p.add_argument("--plot", type=output(IMAGE), metavar="FILE.png", help="peak vs achieved bar chart")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    p.set_defaults(func=compare_command)
