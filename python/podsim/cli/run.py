"""``podsim run``: one workload on one system, optionally through faults, with plots and traces."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import podsim
from podsim.cli.options import (
    EXIT_INTERRUPTED, EXIT_OK, IMAGE, QUIET_HELP, SYSTEM_HELP, UsageError, add_output, arg, fault_change, given, note,
    output, positive_int,
)
from podsim.cli.running import emit, simulate, summary
from podsim.cli.workload_options import WORKLOADS, add_workload_options, build, check_workloads
from podsim.units import format_bytes, format_time_ps, parse_time_ps, parse_window_ps


def _element_text(change: podsim.faults.Change) -> str:
    t = change.target
    return f"{t.kind}:{t.name}" if isinstance(t, podsim.faults.Element) else str(t)


def _change_text(change: podsim.faults.Change) -> str:
    """A change as an option, with the time as podsim prints it: ``--fail switch:s0@20 us``."""
    return f"--{'repair' if change.up else 'fail'} {_element_text(change)}@{format_time_ps(change.at_ps)}"


def _check_fault_plan(fails: list[podsim.faults.Change], repairs: list[podsim.faults.Change]) -> None:
    """Per element as written: a --repair comes after a --fail of it, and a --fail does not take
    down what is already down. (A repair may also name a part of what failed, a switch of a
    failed tray, or a link written the other way round: those are left to the run.)"""
    for r in repairs:
        if not fails:
            raise UsageError(f"{_change_text(r)}: repairs nothing, no --fail takes anything down")
        same = [f.at_ps for f in fails if f.target == r.target]
        if same and min(same) >= r.at_ps:
            raise UsageError(f"{_change_text(r)}: not after its --fail (at {format_time_ps(min(same))})")
    # Replay each element's changes in time order, and at one time in the engine's order: it
    # applies them as scheduled, the failures first (see podsim.simulate).
    down_since: dict[Any, int] = {}
    for c in sorted([*fails, *repairs], key=lambda c: (c.at_ps, c.up)):
        if c.up:
            down_since.pop(c.target, None)
        elif c.target in down_since:
            raise UsageError(f"{_change_text(c)}: already down since "
                             f"{format_time_ps(down_since[c.target])}, with no --repair before it (at one time, "
                             "failures apply first)")
        else:
            down_since[c.target] = c.at_ps


def _fault_settings(system: podsim.System, args: argparse.Namespace) -> dict[str, Any]:
    """The run's fault plan as given (--fail options, then --repair options, each in command-line
    order), its recovery mode and the retransmission timeout it ran with, ps: given, else the
    system's ``[transport]`` spec, else podsim's default (as :func:`podsim.simulate` resolves it)."""
    defaults = {**podsim.simulation.DEFAULT_RECOVERY_PS, **system.run_defaults()}
    return {
        "faults": [{"action": "repair" if c.up else "fail", "element": _element_text(c), "at_ps": c.at_ps}
                   for c in args.fail + args.repair],
        "recovery": args.recovery,
        "retransmit_timeout_ps": given(args.retransmit_timeout, defaults["retransmit_timeout_ps"]),
    }


def _note_late_faults(changes: list[podsim.faults.Change], res: podsim.Result) -> None:
    """Say so when a fault or repair came after the traffic had ended: it changed nothing."""
    end = res.traffic_end_ps
    late = [c for c in changes if c.at_ps > end]
    if res.complete and late:
        flags = ", ".join(_change_text(c) for c in late)
        note(f"warning: {flags}: after the workload's last message completed ({format_time_ps(end)}), so it changed nothing")


def run_command(args: argparse.Namespace) -> int:
    """Simulate ``args.workload`` on ``args.system``; print its summary, write what was asked."""
    check_workloads([args.workload], args)
    _check_fault_plan(args.fail, args.repair)
    system = podsim.system(args.system)
    wl = build(system, args.workload, args)
    window = args.trace_window if args.trace_window is not None else (0, None)
    if args.trace_window is not None and args.trace is None:
        raise UsageError("--trace-window needs --trace FILE")
    res, interrupted = simulate(system, wl, args, trace=args.plot is not None or args.trace is not None)
    _note_late_faults(args.fail + args.repair, res)
    run = summary(system, wl, res, args)
    table = res.messages.to_pandas()
    table["phase"] = np.asarray(wl.phase_names)[wl.phase]
    # src and dst are fabric node ids; the ranks are what --peer, --root and --ranks count.
    rank = np.full(system.topology.num_nodes, -1, dtype=np.int64)
    rank[system.ranks] = np.arange(len(system.ranks))
    table["src_rank"], table["dst_rank"] = rank[table["src"]], rank[table["dst"]]
    human = run.lines()
    settings = _fault_settings(system, args)
    if args.fail or args.repair:  # the peaks are computed on the intact fabric
        plan = ", ".join(_change_text(c) for c in args.fail + args.repair)
        human.insert(-1, f"  fault plan: {plan} (the peaks above are of the intact fabric)")
        human.insert(-1, f"  recovery: {settings['recovery']}, retransmit timeout "
                         f"{format_time_ps(settings['retransmit_timeout_ps'])}")
    emit(args, human, {**run.to_dict(), **settings}, table)
    if args.plot is not None:
        report_title = f"{system.name}: {wl.name} ({wl.algorithm}), S = {format_bytes(wl.size_bytes)}"
        from podsim import plot  # matplotlib loads in ~0.5 s: only when a plot is asked for

        plot.run_figure(res, system.topology, args.plot, roles=system.roles(), peak_uni_Bps=run.peak_uni_Bps,
                        label=system.name, title=report_title)
        note(f"wrote {args.plot}")
    if args.trace is not None:
        from podsim import trace_export

        meta = trace_export.write_chrome_trace(args.trace, res, system.topology, window_ps=window,
                                               max_events=args.trace_max_events, roles=system.roles())
        note(f"wrote {args.trace}: {meta['messages']:,} messages, {meta['transmissions']:,} transmissions "
             f"in [{format_time_ps(meta['window_ps'][0])}, {format_time_ps(meta['window_ps'][1])}] (open in ui.perfetto.dev)")
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def add_command(sub: Any) -> None:
    """``run``, on the subcommand set ``sub``."""
    p = sub.add_parser("run", help="simulate a workload on a system: completion time, algbw/busbw, achieved vs peak")
    p.add_argument("system", metavar="SYSTEM", help=SYSTEM_HELP)
    p.add_argument("workload", metavar="WORKLOAD", help=", ".join(WORKLOADS))
    add_workload_options(p)
    add_output(p)
    p.add_argument("--plot", type=output(IMAGE), metavar="FILE.png", help="utilisation per tier, latency CDF, throughput over time, achieved vs peak")
    p.add_argument("--trace", type=output((".json",)), metavar="FILE.json", help="Chrome trace-event JSON for ui.perfetto.dev")
    p.add_argument("--trace-window", type=arg(parse_window_ps, "trace_window"), metavar="START:END", help="export only this span, e.g. 0:20us")
    p.add_argument("--trace-max-events", type=positive_int, default=1_000_000, metavar="N", help="refuse a trace larger than N events (default 1000000)")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    f = p.add_argument_group("faults during the run (see the README's 'Running through a failure')")
    f.add_argument("--fail", type=fault_change(up=False), action="append", default=[], metavar="KIND:NAME[@TIME]",
                   help="take an element down at TIME (default 0), e.g. switch:plane0/l2sw00@20us, tray:tray0 (repeatable)")
    f.add_argument("--repair", type=fault_change(up=True), action="append", default=[], metavar="KIND:NAME@TIME",
                   help="bring an element back at TIME (repeatable)")
    # One default for every system: link-level replay is documented for NVLink (faults.md §4.1)
    # but no spec field says so, and for UB it was not found (§4.2); the help points to it.
    f.add_argument("--recovery", choices=sorted(podsim.RECOVERY), default="retransmit",
                   help="packets on a failing wire: retransmit (the default, for every system): lost and sent "
                        "again end to end; replay: sent again by link-level retry. NVLink has flit CRC and link-level "
                        "replay (faults.md §4.1), so replay models NVL72 and HGX; no UB link-level retry is published (§4.2)")
    f.add_argument("--retransmit-timeout", type=arg(parse_time_ps, "retransmit_timeout"), metavar="TIME",
                   help="end-to-end retransmission timeout, e.g. 10us (default: the system's [transport] spec, else "
                        f"{format_time_ps(podsim.simulation.DEFAULT_RECOVERY_PS['retransmit_timeout_ps']).replace(' ', '')})")
    p.set_defaults(func=run_command)
