"""The ``podsim`` command line.

Exit codes: 0 ok; 1 the simulation could not finish (deadlock); 2 bad usage, reported in one
line as ``podsim: error: ...``; 130 interrupted by Ctrl-C (what was reached is printed first).
"""

from __future__ import annotations

import argparse
from functools import partial
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd

import podsim
from podsim import benchcases, report
from podsim._validate import MAX_TIME_PS
from podsim.systems import load_spec
from podsim.units import (
    exact_size, exact_time, format_bytes, format_rate, format_time_ps, parse_size, parse_time_ps, parse_window_ps,
)
from podsim.workloads import ALGORITHMS, Workload
from podsim.workloads.p2p import PATTERNS as P2P_PATTERNS
from podsim.workloads.synthetic import PATTERNS as SYNTHETIC_PATTERNS

#: Packet transmissions a run records for ``--plot`` and ``--trace`` (about 40 bytes each).
TRACE_RECORD_LIMIT = 2_000_000
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A bad argument: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) and exit code 2; subcommands inherit it."""

    def error(self, message: str) -> NoReturn:
        print(f"podsim: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


class _CheckingParser(_Parser):
    """A parser that raises UsageError with argparse's reason instead of printing it: for command
    lines the CLI builds itself (a sweep's points), whose errors it reports in the user's terms."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _arg(parse: Callable[[str, str], Any], field: str) -> Callable[[str], Any]:
    """An argparse ``type=`` from a ``parse(text, field)`` of :mod:`podsim.units`."""

    def convert(text: str) -> Any:
        try:
            return parse(text, field)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = field  # argparse names the type in its messages
    return convert


def _fault_change(*, up: bool) -> Callable[[str], podsim.faults.Change]:
    """An argparse ``type=`` for ``KIND:NAME[@TIME]``: an element of :mod:`podsim.faults` failing
    (or, with ``up``, repaired) at TIME (a repair needs one). Names are checked against the system
    when the run starts."""

    def convert(text: str) -> podsim.faults.Change:
        element, at, when = text.rpartition("@") if "@" in text else (text, "", "")
        kind, sep, name = element.partition(":")
        if not sep or kind not in podsim.faults.KINDS or not name:
            raise argparse.ArgumentTypeError(f"expected KIND:NAME[@TIME] with KIND one of {', '.join(podsim.faults.KINDS)}, got {text!r}")
        if up and not at:
            raise argparse.ArgumentTypeError(f"a repair needs a time: KIND:NAME@TIME, got {text!r}")
        try:
            at_ps = parse_time_ps(when, "time") if at else 0
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        target = podsim.faults.Element(kind, name)
        return podsim.faults.repair(target, at_ps) if up else podsim.faults.fail(target, at_ps)

    convert.__name__ = "repair" if up else "fail"
    return convert


def _output(suffixes: tuple[str, ...]) -> Callable[[str], str]:
    """An argparse ``type=`` for a file to write: checked before any long run (known suffix,
    existing folder, Parquet support present), so a typo never costs a finished simulation."""

    def check(text: str) -> str:
        path = Path(text)
        if path.suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"expected a file ending in {' or '.join(suffixes)}, got {text!r}")
        if not path.parent.is_dir():
            raise argparse.ArgumentTypeError(f"folder {str(path.parent)!r} does not exist")
        if ".parquet" in suffixes:
            try:
                report.table_format(path)
            except ValueError as err:
                raise argparse.ArgumentTypeError(str(err).removeprefix("path: ")) from None
        return text

    return check


def _int_in(lo: int, hi: int | None = None, shown: str | None = None) -> Callable[[str], int]:
    """An argparse ``type=`` for a whole number >= lo, and <= hi when given (``shown``: how the
    range is written in the error; it gives the range, not every value)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if hi is None and value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        if hi is not None and not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be in [{shown or f'{lo}, {hi}'}], got {value}")
        return value

    return convert


_positive_int = _int_in(1)
_seed = _int_in(0, 2**64 - 1, "0, 2**64 - 1")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


# --- workloads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ranks:
    """A subset of a system's ranks, shaped like a system for the workload generators."""

    ranks: np.ndarray
    rank_group: np.ndarray
    topology: podsim.Topology


@dataclass(frozen=True)
class WorkloadKind:
    """A workload the command line can build.

    Attributes:
        make: builds it from a target (a system or :class:`_Ranks`) and the parsed arguments,
            in which every option it reads is set (given, or its default).
        defaults: the workload options (argparse dests) it reads, with the value each takes when
            not given (in the option's units: sizes in bytes, times in ps); others are refused.
        summary: one line for ``podsim list``, which adds the defaults.
    """

    make: Callable[[Any, argparse.Namespace], Workload]
    defaults: Mapping[str, Any]
    summary: str

    @property
    def options(self) -> frozenset[str]:
        """The workload options (argparse dests) it reads."""
        return frozenset(self.defaults)


def _given(value: Any, default: Any) -> Any:
    """``value`` if the option was given, else ``default``. Not ``value or default``: a given zero
    or empty value must reach the checks, not be replaced by the default."""
    return default if value is None else value


def _collective(fn: Callable[..., Workload], rooted: bool = False) -> Callable[[Any, argparse.Namespace], Workload]:
    def make(target: Any, a: argparse.Namespace) -> Workload:
        kw: dict[str, Any] = {"algorithm": a.algorithm, "chunks": a.chunks}
        if rooted:
            kw["root"] = a.root
        return fn(target, a.size, **kw)

    return make


def _algorithms(op: str) -> str:
    return f"--algorithm {'/'.join(ALGORITHMS[op])}"


_W = podsim.workloads
_COLLECTIVE = {"size": 1 << 20, "algorithm": "ring", "chunks": 1}
_ROOTED = {**_COLLECTIVE, "root": 0}
#: Workloads by command-line name. Defaults keep a run of the largest shipped system to seconds.
WORKLOADS: dict[str, WorkloadKind] = {
    "all-to-all": WorkloadKind(lambda t, a: _W.all_to_all(t, a.bytes_per_pair), {"bytes_per_pair": 1 << 10},
                               "every rank sends --bytes-per-pair to every other"),
    "all-reduce": WorkloadKind(_collective(_W.all_reduce), _COLLECTIVE, f"--size per rank; {_algorithms('all_reduce')}"),
    "all-gather": WorkloadKind(_collective(_W.all_gather), _COLLECTIVE, f"--size output per rank; {_algorithms('all_gather')}"),
    "reduce-scatter": WorkloadKind(_collective(_W.reduce_scatter), _COLLECTIVE,
                                   f"--size input per rank; {_algorithms('reduce_scatter')}"),
    "broadcast": WorkloadKind(_collective(_W.broadcast, rooted=True), _ROOTED, f"--size from --root; {_algorithms('broadcast')}"),
    "reduce": WorkloadKind(_collective(_W.reduce, rooted=True), _ROOTED, f"--size to --root; {_algorithms('reduce')}"),
    "moe": WorkloadKind(lambda t, a: _W.moe(t, a.tokens, num_experts=a.experts, top_k=a.top_k, skew=a.skew, seed=a.seed),
                        {"tokens": 16, "experts": 256, "top_k": 8, "skew": 0.0},
                        "MoE dispatch + combine: --tokens per rank, --experts, --top-k, --skew (Zipf exponent)"),
    "p2p": WorkloadKind(lambda t, a: _W.point_to_point(t, a.size, pattern=a.pattern, peer=a.peer, iterations=a.iterations),
                        {"size": 64 << 10, "pattern": "bandwidth", "iterations": 16, "peer": 1},
                        "rank 0 to rank --peer (on CloudMatrix 384 rank 1 is the other die of rank 0's package, "
                        "rank 2 another package, 16 another node): --size per message, "
                        "--pattern latency/bandwidth/ping_pong, --iterations"),
    "synthetic": WorkloadKind(lambda t, a: _W.synthetic(t, a.pattern, message_bytes=a.size, load=a.load,
                                                        duration_s=a.duration * 1e-12, seed=a.seed),
                              {"size": 4096, "pattern": "uniform", "load": 0.5, "duration": 2_000_000},
                              "open-loop traffic: --pattern uniform/permutation/shift/incast/hotspot/bisection, "
                              "--size per message, --load, --duration"),
}


def _flag(dest: str) -> str:
    """The command-line flag of an argparse dest: ``top_k`` -> ``--top-k``."""
    return "--" + dest.replace("_", "-")


def _dest(flag: str) -> str:
    """The argparse dest of a command-line flag (the inverse of :func:`_flag`)."""
    return flag[2:].replace("-", "_")


def _is_given(value: Any) -> bool:
    """An option's parsed value says it was given: not None (unset) and not False (a flag left
    off). Not ``value not in (None, False)``: a given 0 equals False."""
    return value is not None and value is not False


def _shown(dest: str, value: Any) -> str:
    """A default as it would be typed on the command line, exactly (``64KiB``, ``2us``)."""
    if dest in ("size", "bytes_per_pair"):
        return exact_size(value)
    if dest == "duration":
        return exact_time(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _defaults_text(kind: WorkloadKind) -> str:
    """``kind``'s defaults, for ``podsim list``: ``--size 1MiB --chunks 1``."""
    return " ".join(f"{_flag(d)} {_shown(d, v)}" for d, v in kind.defaults.items())


def _default_help(dest: str) -> str:
    """The defaults of option ``dest`` for the workloads that read it, for ``--help``."""
    by_value: dict[str, list[str]] = {}
    for name, kind in WORKLOADS.items():
        if dest in kind.defaults:
            by_value.setdefault(_shown(dest, kind.defaults[dest]), []).append(name)
    if len(by_value) == 1:
        return f"(default {next(iter(by_value))})"
    return "(default " + "; ".join(f"{v} for {', '.join(names)}" for v, names in by_value.items()) + ")"


#: Engine options with a default; the others (--ranks, --mtu, --hbm) are unset until given.
_ENGINE_DEFAULTS = {"routing": "adaptive", "seed": 1}
_ROUTING_HELP = ("per-hop port choice: ecmp (hash of the message), spray (a message's packets round robin from its "
                 f"ECMP port), adaptive (least occupied) (default {_ENGINE_DEFAULTS['routing']})")
_ENGINE_OPTS = ("ranks", "routing", "seed", "hbm", "mtu")


def _add_workload_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("workload options (each workload reads some; see 'podsim list')")

    def add(*flags: str, text: str, **kw: Any) -> None:  # the help text, then the defaults of the workloads reading it
        g.add_argument(*flags, help=f"{text} {_default_help(_dest(flags[0]))}", **kw)

    add("--bytes-per-pair", type=_arg(parse_size, "bytes_per_pair"), metavar="SIZE", text="all-to-all: bytes from each rank to each other, e.g. 64KiB")
    add("--size", "--bytes", type=_arg(parse_size, "size"), metavar="SIZE", text="collectives: NCCL size S, e.g. 1GiB; p2p/synthetic: bytes per message")
    add("--algorithm", metavar="NAME", text="collective algorithm: ring, tree, rhd, hierarchical")
    add("--chunks", type=_positive_int, metavar="N", text="collectives: pipeline chunks")
    add("--root", type=int, metavar="RANK", text="broadcast/reduce: root rank index")
    add("--tokens", type=_positive_int, metavar="N", text="moe: tokens per rank")
    add("--experts", type=_positive_int, metavar="N", text="moe: routed experts")
    add("--top-k", type=_positive_int, metavar="K", text="moe: experts per token")
    add("--skew", type=float, metavar="S", text="moe: Zipf exponent of expert popularity")
    add("--pattern", metavar="NAME", text=f"p2p pattern: {', '.join(P2P_PATTERNS)}; synthetic: {', '.join(SYNTHETIC_PATTERNS)}")
    add("--iterations", type=_positive_int, metavar="N", text="p2p: messages")
    add("--peer", type=int, metavar="RANK", text="p2p: the rank that rank 0 sends to")
    add("--load", type=_fraction, metavar="F", text="synthetic: offered load per rank, in (0, 1]")
    add("--duration", type=_arg(parse_time_ps, "duration"), metavar="TIME", text="synthetic: arrival window, e.g. 5us")
    e = p.add_argument_group("engine options")
    e.add_argument("--ranks", type=_positive_int, metavar="N", help="use the first N ranks only (default: all)")
    e.add_argument("--routing", choices=sorted(podsim.ROUTING), default=_ENGINE_DEFAULTS["routing"], help=_ROUTING_HELP)
    e.add_argument("--seed", type=_seed, default=_ENGINE_DEFAULTS["seed"],
                   help=f"engine and workload seed (default {_ENGINE_DEFAULTS['seed']})")
    e.add_argument("--hbm", action="store_true", help="couple every rank to its HBM: sends read from memory, receives write to it")
    e.add_argument("--mtu", type=_arg(parse_size, "mtu"), metavar="SIZE",
                   help="largest packet, header included (default: the system's transport spec, else 4096)")


#: Every workload option (argparse dest), in the order of ``podsim run --help``.
_WORKLOAD_OPTS = tuple(dict.fromkeys(d for kind in WORKLOADS.values() for d in kind.defaults))


def _check_workloads(names: Sequence[str], args: argparse.Namespace) -> None:
    """Refuse unknown workload names, and options that none of the named workloads reads
    (with several workloads each one reads the options it takes and ignores the others)."""
    for name in names:
        if name not in WORKLOADS:
            raise UsageError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    taken = frozenset().union(*(WORKLOADS[n].options for n in names))
    for opt in _WORKLOAD_OPTS:
        if getattr(args, opt) is not None and opt not in taken:
            flag = _flag(opt)
            takes = ", ".join(_flag(o) for o in sorted(taken))
            raise UsageError(f"{flag} does not apply to {', '.join(names)} (it takes {takes})")


def _build(system: podsim.System, name: str, args: argparse.Namespace) -> Workload:
    """Workload ``name`` (checked by :func:`_check_workloads`) on ``system`` or its first ``--ranks`` ranks."""
    target: Any = system
    if args.ranks is not None:
        if not 2 <= args.ranks <= len(system.ranks):
            raise UsageError(f"--ranks: {system.name} has {len(system.ranks)} ranks, got {args.ranks} (need 2 or more)")
        target = _Ranks(system.ranks[: args.ranks], system.rank_group[: args.ranks], system.topology)
    kind = WORKLOADS[name]
    unset = {d: v for d, v in kind.defaults.items() if getattr(args, d) is None}
    return kind.make(target, argparse.Namespace(**{**vars(args), **unset}))


# --- running --------------------------------------------------------------------------------


class _Progress:
    """Progress of one run on stderr, fed by the engine's progress callback (about every million
    events): the share of the payload delivered (or what ``done_is`` says), the events processed
    (or what ``counts`` names) and the simulated time.

    On a terminal it is a tqdm bar, which estimates the time left. Otherwise (a log file, a pipe,
    a batch job) it is a line every ``LOG_EVERY_S`` seconds of wall time with the same estimate,
    so that a long unattended run shows it is alive and when it should end; a shorter run prints
    nothing. With ``quiet`` (--quiet) it is silent.
    """

    #: Wall-clock seconds between two progress lines when stderr is not a terminal.
    LOG_EVERY_S = 60.0

    def __init__(self, desc: str, *, quiet: bool, terminal: bool | None = None,
                 clock: Callable[[], float] = time.monotonic, counts: str = "events",
                 done_is: str = "of the payload delivered") -> None:
        from tqdm import tqdm

        terminal = sys.stderr.isatty() if terminal is None else terminal
        self._desc = desc
        self._counts = counts  # what the second argument counts
        self._done_is = done_is  # what the third one is the share of
        self._log = not quiet and not terminal
        self._clock = clock
        self._start = clock()
        self._next_line = self._start + self.LOG_EVERY_S
        self._bar = tqdm(desc=desc, total=100.0, disable=quiet or not terminal, leave=False, file=sys.stderr,
                         bar_format="{desc}: {percentage:3.0f}% " + done_is + " |{bar}| "
                                    "{elapsed} elapsed, {remaining} left{postfix}")  # (tqdm starts a postfix with ", ")

    def __call__(self, now_ps: int, events: int, done: float) -> None:
        self._bar.set_postfix_str(f"{events:,} {self._counts}, {format_time_ps(now_ps)} simulated", refresh=False)
        self._bar.update(100.0 * done - self._bar.n)
        if self._log and self._clock() >= self._next_line:
            self._line(now_ps, events, done)

    def _line(self, now_ps: int, events: int, done: float) -> None:
        from tqdm import tqdm

        elapsed = self._clock() - self._start
        self._next_line = self._clock() + self.LOG_EVERY_S
        left = (f"about {tqdm.format_interval(elapsed * (1 - done) / done)} left at this pace" if done > 0
                else "no estimate of the time left yet")
        _note(f"{self._desc}: {100 * done:.1f}% {self._done_is}, {tqdm.format_interval(elapsed)} elapsed, "
              f"{left}; {events:,} {self._counts}, {format_time_ps(now_ps)} simulated")

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()


def _note(text: str) -> None:
    print(f"podsim: {text}", file=sys.stderr)


#: Packets one core moves per second, from the fabrics measured in the README's "Cost and
#: speed": about 0.5 M on the 768-endpoint CloudMatrix-shaped all-to-all (four hops or more per
#: packet, state far beyond the cache) to 2 M on FT2-256. The note before a long run uses it.
_PACKETS_PER_S = (0.5e6, 2e6)
#: A run expected to take longer than this (at the faster rate) is announced before it starts.
_LONG_RUN_S = 600.0


def _in_words(seconds: float) -> str:
    """A duration as a person would say it: ``'40 minutes'``, ``'7 hours'``, ``'3.6 days'``."""
    for unit, scale in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= 2 * scale:
            return f"{seconds / scale:.2g} {unit}"
    return f"{seconds:.0f} seconds"


def _data_packets(system: podsim.System, wl: Workload, mtu: int | None) -> float:
    """Data packets the run of ``wl`` sends (acknowledgements and read requests not counted);
    0 when the MTU leaves no room for data (the run refuses it with its own message)."""
    defaults = {**podsim.simulation.DEFAULT_SIZES, **system.run_defaults()}
    payload = _given(mtu, defaults["mtu"]) - defaults["header_bytes"]
    return float(np.ceil(wl.size / payload).sum()) if payload > 0 else 0.0


def _note_if_long(system: podsim.System, wl: Workload, args: argparse.Namespace) -> None:
    """Say before a run starts that it will take long (a size off by a factor of 1,000 is an
    easy mistake), with the packets it moves and a range of wall times."""
    packets = _data_packets(system, wl, args.mtu)
    slow, fast = (packets / rate for rate in _PACKETS_PER_S)
    if fast > _LONG_RUN_S:
        _note(f"note: {system.name} {wl.name} moves {packets:,.0f} packets; at the 0.5 to 2 million packets a second "
              f"one core simulates, that takes {_in_words(fast)} to {_in_words(slow)}. Ctrl-C stops it and reports "
              "what was reached")


def _simulate(system: podsim.System, wl: Workload, args: argparse.Namespace, *, trace: bool) -> tuple[podsim.Result, bool]:
    """Run ``wl``; returns the result and whether Ctrl-C cut it short (the result is then partial)."""
    _note_if_long(system, wl, args)
    with _Progress(f"{system.name} {wl.name}", quiet=args.quiet) as progress, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            res = podsim.simulate(
                system, wl, routing=args.routing, seed=args.seed, mtu=args.mtu,
                trace=TRACE_RECORD_LIMIT if trace else None, memory=args.hbm or None, progress=progress,
                faults=getattr(args, "fail", []) + getattr(args, "repair", []),
                recovery=getattr(args, "recovery", "retransmit"),
                retransmit_timeout_ps=getattr(args, "retransmit_timeout", None),
            )
            interrupted = False
        except podsim.Interrupted as err:
            res, interrupted = err.result, True
    # The engine's own warning about a truncated trace is replaced by one that says what it means
    # here; any other warning is passed on as one line.
    for w in caught:
        if not (res.trace is not None and res.trace.dropped and str(w.message).startswith("trace:")):
            _note(f"warning: {w.message}")
    if res.trace is not None and res.trace.dropped:
        _note(f"note: recorded the first {len(res.trace):,} packet transmissions only ({res.trace.dropped:,} more were not); "
              "plots fall back to whole-run figures and the trace covers the recorded part")
    return res, interrupted


def _summary(system: podsim.System, wl: Workload, res: podsim.Result, args: argparse.Namespace) -> report.RunSummary:
    """The :class:`report.RunSummary` of one run; the HBM peak is the participating ranks' share."""
    hbm_peak = system.peak().hbm_bandwidth_uni_Bps * len(wl.ranks) / len(system.ranks)
    mtu = _given(args.mtu, system.run_defaults().get("mtu", podsim.simulation.DEFAULT_SIZES["mtu"]))
    return report.summarize(system.name, wl, res, system.topology, routing=args.routing, seed=args.seed, mtu=mtu,
                            hbm_coupled=args.hbm, hbm_peak_uni_Bps=hbm_peak)


def _emit(args: argparse.Namespace, human: list[str], data: Any, table: pd.DataFrame | None) -> None:
    """Print ``human`` lines, or ``data`` as JSON with --json; write ``table`` to --out if asked."""
    # The file first: a reader that stops early (| head) must not cost the user the file.
    out = getattr(args, "out", None)
    if out is not None and table is not None:
        report.write_table(table, out)
        _note(f"wrote {out}")
    if getattr(args, "json", False):
        print(report.to_json(data))
    else:
        print("\n".join(human))


# --- commands -------------------------------------------------------------------------------


def _cmd_list(args: argparse.Namespace) -> int:
    systems = [{"name": n, "title": load_spec(n).title} for n in podsim.list_systems()]
    workloads = [{"name": n, "options": sorted(k.options), "defaults": dict(k.defaults), "summary": k.summary}
                 for n, k in WORKLOADS.items()]
    width = max(len(s["name"]) for s in systems + workloads)
    human = ["systems:", *(f"  {s['name']:{width}}  {s['title']}" for s in systems),
             "workloads (defaults in brackets):",
             *(f"  {n:{width}}  {k.summary} [{_defaults_text(k)}]" for n, k in WORKLOADS.items())]
    # One table for --out: a row per system and per workload, told apart by 'kind'.
    table = pd.DataFrame([*({"kind": "system", "name": x["name"], "description": x["title"], "defaults": ""} for x in systems),
                          *({"kind": "workload", "name": n, "description": k.summary, "defaults": _defaults_text(k)}
                            for n, k in WORKLOADS.items())])
    _emit(args, human, {"systems": systems, "workloads": workloads}, table)
    return EXIT_OK


def _peta(unit: str) -> Callable[[float | None], str]:
    """A formatter of a per-second compute figure in peta-``unit`` (``PFLOPS``, ``POPS``)."""
    return lambda x: "–" if x is None else f"{x / 1e15:,.4g} P{unit}"


def _opt(fmt: Callable[[float], str]) -> Callable[[float | None], str]:
    return lambda x: "–" if x is None else fmt(x)


#: Rows of ``podsim peak``: Peak field, label, how to show it.
_PEAK_ROWS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("chips", "chips", str),
    ("ranks", "ranks (fabric endpoints)", str),
    ("bf16_flops", "BF16 dense", _peta("FLOPS")),
    ("fp8_flops", "FP8 dense", _peta("FLOPS")),
    ("fp4_flops", "FP4 dense", _peta("FLOPS")),
    ("int8_ops", "INT8 dense", _peta("OPS")),
    ("hbm_capacity_bytes", "HBM capacity", _opt(lambda x: f"{x / 1e12:,.4g} TB")),
    ("hbm_bandwidth_uni_Bps", "HBM bandwidth", _opt(lambda x: format_rate(x, "uni"))),
    ("scale_up_uni_Bps", "scale-up bandwidth", _opt(lambda x: format_rate(x, "uni"))),
    ("scale_up_bidi_Bps", "scale-up bandwidth", _opt(lambda x: format_rate(x, "bidi"))),
    ("scale_out_uni_Bps", "scale-out bandwidth", _opt(lambda x: format_rate(x, "uni"))),
    ("power_W", "power, system figure", _opt(lambda x: f"{x / 1e3:,.4g} kW")),
    ("transceivers", "optical transceivers", _opt(lambda x: f"{x:,}")),
)


def _cmd_peak(args: argparse.Namespace) -> int:
    peaks = [podsim.system(n).peak() for n in args.systems]
    rows = [[label, *(fmt(getattr(p, key)) for p in peaks)] for key, label, fmt in _PEAK_ROWS]
    head = ["", *(p.system for p in peaks)]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    human = ["  ".join(f"{c:>{w}}" if i else f"{c:{w}}" for i, (c, w) in enumerate(zip(r, widths))) for r in [head, *rows]]
    data = [p.to_dict() for p in peaks]
    _emit(args, human, data, pd.DataFrame(data))
    return EXIT_OK


def _element_text(change: podsim.faults.Change) -> str:
    t = change.target
    return f"{t.kind}:{t.name}" if isinstance(t, podsim.faults.Element) else str(t)


def _check_fault_plan(fails: list[podsim.faults.Change], repairs: list[podsim.faults.Change]) -> None:
    """Per element as written: a --repair comes after a --fail of it, and a --fail does not take
    down what is already down. (A repair may also name a part of what failed, a switch of a
    failed tray, or a link written the other way round: those are left to the run.)"""
    for r in repairs:
        what = f"{_element_text(r)}@{format_time_ps(r.at_ps)}"
        if not fails:
            raise UsageError(f"--repair {what}: repairs nothing, no --fail takes anything down")
        same = [f.at_ps for f in fails if f.target == r.target]
        if same and min(same) >= r.at_ps:
            raise UsageError(f"--repair {what}: not after its --fail (at {format_time_ps(min(same))})")
    # Replay each element's changes in time order, and at one time in the engine's order: it
    # applies them as scheduled, the failures first (see _simulate).
    down_since: dict[Any, int] = {}
    for c in sorted([*fails, *repairs], key=lambda c: (c.at_ps, c.up)):
        if c.up:
            down_since.pop(c.target, None)
        elif c.target in down_since:
            raise UsageError(f"--fail {_element_text(c)}@{format_time_ps(c.at_ps)}: already down since "
                             f"{format_time_ps(down_since[c.target])}, with no --repair before it (at one time, "
                             "failures apply first)")
        else:
            down_since[c.target] = c.at_ps


def _note_late_faults(changes: list[podsim.faults.Change], res: podsim.Result) -> None:
    """Say so when a fault or repair came after the traffic had ended: it changed nothing."""
    end = res.traffic_end_ps
    late = [c for c in changes if c.at_ps > end]
    if res.complete and late:
        flags = ", ".join(f"--{'repair' if c.up else 'fail'} {_element_text(c)}@{format_time_ps(c.at_ps)}" for c in late)
        _note(f"warning: {flags}: after the workload's last message completed ({format_time_ps(end)}), so it changed nothing")


def _cmd_run(args: argparse.Namespace) -> int:
    _check_workloads([args.workload], args)
    _check_fault_plan(args.fail, args.repair)
    system = podsim.system(args.system)
    wl = _build(system, args.workload, args)
    window = args.trace_window if args.trace_window is not None else (0, None)
    if args.trace_window is not None and args.trace is None:
        raise UsageError("--trace-window needs --trace FILE")
    res, interrupted = _simulate(system, wl, args, trace=args.plot is not None or args.trace is not None)
    _note_late_faults(args.fail + args.repair, res)
    summary = _summary(system, wl, res, args)
    table = res.messages.to_pandas()
    table["phase"] = np.asarray(wl.phase_names)[wl.phase]
    human = summary.lines()
    if args.fail or args.repair:  # the peaks are computed on the intact fabric
        plan = ", ".join(f"--{'repair' if c.up else 'fail'} {_element_text(c)}@{format_time_ps(c.at_ps)}"
                         for c in args.fail + args.repair)
        human.insert(-1, f"  fault plan: {plan} (the peaks above are of the intact fabric)")
    _emit(args, human, summary.to_dict(), table)
    if args.plot is not None:
        report_title = f"{system.name}: {wl.name} ({wl.algorithm}), S = {format_bytes(wl.size_bytes)}"
        from podsim import plot  # matplotlib loads in ~0.5 s: only when a plot is asked for

        plot.run_figure(res, system.topology, args.plot, roles=system.roles(), peak_uni_Bps=summary.peak_uni_Bps,
                        label=system.name, title=report_title)
        _note(f"wrote {args.plot}")
    if args.trace is not None:
        from podsim import trace_export

        meta = trace_export.write_chrome_trace(args.trace, res, system.topology, window_ps=window,
                                               max_events=args.trace_max_events, roles=system.roles())
        _note(f"wrote {args.trace}: {meta['messages']:,} messages, {meta['transmissions']:,} transmissions "
              f"in [{format_time_ps(meta['window_ps'][0])}, {format_time_ps(meta['window_ps'][1])}] (open in ui.perfetto.dev)")
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def _achieved_rows(name: str, summaries: list[report.RunSummary]) -> list[dict[str, Any]]:
    """Rows of achieved figures of one workload on each system, in the comparison's layout."""
    what = f"achieved: {name} ({summaries[0].algorithm})"
    metrics: tuple[tuple[str, str, str, Callable[[report.RunSummary], float | None]], ...] = (
        ("size S (NCCL convention)", "MiB", "", lambda s: s.size_bytes / 2**20),
        ("completion time", "us", "lower", lambda s: None if s.time_s is None else s.time_s * 1e6),
        ("busbw per rank, uni", "GB/s", "higher", lambda s: None if s.busbw_Bps is None else s.busbw_Bps / 1e9),
        ("delivered, all ranks, uni", "TB/s", "higher", lambda s: s.achieved_uni_Bps / 1e12),
        ("peak injection, sending ranks, uni", "TB/s", "higher", lambda s: s.peak_uni_Bps / 1e12),
        ("delivered / peak", "%", "higher", lambda s: 100 * s.efficiency),
    )
    if summaries[0].workload == "point_to_point":  # a latency test: the latency, both ways of timing it
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
    return [{"scope": what, "metric": label, "unit": unit, "better": better, **{s.system: get(s) for s in summaries}}
            for label, unit, better, get in metrics]


def _markdown(rows: list[dict[str, Any]], systems: list[str]) -> list[str]:
    """A markdown table of achieved rows, with the first system's ratio to each other one."""
    head = ["scope", "metric", "unit", *systems, *(f"{systems[0]} / {o}" for o in systems[1:])]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (2 * len(systems) - 1)) + "|"]
    for r in rows:
        vals = [r[s] for s in systems]
        cells = [r["scope"], r["metric"], r["unit"], *("–" if v is None else f"{v:,.4g}" for v in vals)]
        cells += ["–" if vals[0] is None or not v else f"{vals[0] / v:.2f}×" for v in vals[1:]]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _cmd_compare(args: argparse.Namespace) -> int:
    if len(args.systems) < 2:
        raise UsageError(f"compare needs at least 2 systems, got {len(args.systems)}")
    systems = [podsim.system(n) for n in args.systems]
    if not args.workload:
        # (compare's parser leaves routing and seed unset, so that one given is seen here)
        given = [o for o in (*_WORKLOAD_OPTS, *_ENGINE_OPTS) if _is_given(getattr(args, o))]
        if given:
            raise UsageError(f"{_flag(given[0])}: applies to a workload run; add --workload NAME")
    for name, default in _ENGINE_DEFAULTS.items():
        setattr(args, name, _given(getattr(args, name), default))
    _check_workloads(args.workload, args)  # before any long run
    comparison = podsim.compare(systems)
    rows: list[dict[str, Any]] = []
    runs: dict[str, list[report.RunSummary]] = {}
    interrupted = False
    for w in args.workload:
        for s in systems:
            wl = _build(s, w, args)
            res, interrupted = _simulate(s, wl, args, trace=False)
            runs.setdefault(w, []).append(_summary(s, wl, res, args))
            if interrupted:
                break
        if interrupted:
            break
    names = [s.name for s in systems]
    for w, summaries in runs.items():
        if len(summaries) == len(systems):
            rows += _achieved_rows(w, summaries)
    human = [comparison.to_markdown()]
    if rows:
        human += ["", *_markdown(rows, names)]
    if interrupted:
        human += ["", "interrupted; what was reached:"] + [line for ss in runs.values() for s in ss for line in s.lines()]
    data = {"peak": comparison.to_pandas().to_dict(orient="records"), "power_bases": comparison.power_bases(),
            "runs": {w: [s.to_dict() for s in ss] for w, ss in runs.items()}}
    table = pd.concat([comparison.to_pandas(), pd.DataFrame(rows)], ignore_index=True) if rows else comparison.to_pandas()
    _emit(args, human, data, table)
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
        _note(f"wrote {args.plot}")
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


#: Values of ``--vary hbm=...`` that couple the memory, and that do not.
_HBM_ON = frozenset({"1", "true", "yes", "on"})
_HBM_OFF = frozenset({"0", "false", "no", "off"})
#: Options of ``run`` a sweep may vary (everything that changes what is simulated).
_SWEEPABLE = ("routing", "seed", "mtu", "ranks", "hbm", *sorted(_WORKLOAD_OPTS))


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


def _sweep_point(base: list[str], point: dict[str, Any], _point_seed: np.random.SeedSequence) -> dict[str, Any]:
    """One design point of ``podsim sweep``: the ``run`` command line with the point's values,
    simulated quietly; returns the run's summary. Module level, so process pools can pickle it.

    The point's own SeedSequence is not used: every point runs with the sweep's ``--seed`` (in
    ``base``) unless seed is varied, so that points differ only in what the sweep varies."""
    argv = ["run", *base]
    for name, value in point.items():
        flag = _flag(name)
        if name == "hbm":
            argv += [flag] if str(value).lower() in _HBM_ON else []
        else:
            argv += [flag, str(value)]
    args = build_parser().parse_args([*argv, "--quiet"])
    _check_workloads([args.workload], args)
    system = podsim.system(args.system)
    wl = _build(system, args.workload, args)
    res = podsim.simulate(system, wl, routing=args.routing, seed=args.seed, mtu=args.mtu, memory=args.hbm or None)
    row = _summary(system, wl, res, args).to_dict()
    # The point's own values are already columns; the sweep adds its own wall_s.
    row["engine_wall_s"] = row.pop("wall_s")
    return {k: v for k, v in row.items() if k not in point}


def _sweep_text(table: pd.DataFrame, axes: list[str]) -> str:
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


#: ``podsim hbm --pattern`` names and the :mod:`podsim.hbm` patterns they make (with the
#: pattern's own request size unless --request is given).
_HBM_PATTERNS: dict[str, Callable[..., podsim.hbm.Pattern]] = {
    "sequential-read": podsim.hbm.sequential_read,
    "sequential-write": podsim.hbm.sequential_write,
    "copy": podsim.hbm.copy,
    "random": podsim.hbm.random,
    "strided": podsim.hbm.strided,
}


def _hbm_pattern(args: argparse.Namespace) -> podsim.hbm.Pattern:
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
    return _HBM_PATTERNS[args.pattern](**kwargs)


def _hbm_lines(name: str, args: argparse.Namespace, pattern: podsim.hbm.Pattern, res: podsim.hbm.Result) -> list[str]:
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


def _cmd_hbm(args: argparse.Namespace) -> int:
    pattern = _hbm_pattern(args)
    if not 0 < args.duration <= MAX_TIME_PS:
        raise UsageError(f"--duration: must be longer than 0 and at most 2**62 ps (about 53 days), "
                         f"got {format_time_ps(args.duration)}")
    systems = [podsim.system(n) for n in args.systems]
    names = [s.name for s in systems]
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise UsageError(f"systems: {twice!r} is given twice")
    for s in systems:  # all checked before any long run
        if args.ranks is not None and args.ranks > len(s.ranks):
            raise UsageError(f"--ranks: {s.name} has {len(s.ranks)} ranks, got {args.ranks}")
    human: list[str] = []
    data: list[dict[str, Any]] = []
    interrupted = None
    for s in systems:
        ranks = len(s.ranks) if args.ranks is None else args.ranks
        with _Progress(f"{s.name} HBM {args.pattern}", quiet=args.quiet, counts="requests",
                       done_is="of the time simulated") as show:

            def progress(now_ps: int, requests: int) -> None:
                show(now_ps, requests, now_ps / args.duration)

            try:
                res = podsim.hbm.simulate(
                    podsim.hbm.Device.from_rank(s.rank_memory), pattern, duration_ps=args.duration, devices=ranks,
                    outstanding=args.outstanding, seed=args.seed, progress=progress)
            except podsim.hbm.Interrupted as err:  # Ctrl-C: what this system reached, and no more systems
                res, interrupted = err.result, s.name
        human += [*([""] if human else []), *_hbm_lines(s.name, args, pattern, res)]
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
        metrics = (("achieved, read + written, all ranks", "TB/s", "higher", lambda d: d["achieved_Bps"] / 1e12),
                   ("pin peak, all ranks", "TB/s", "higher", lambda d: d["peak_Bps"] / 1e12),
                   ("achieved / pin peak", "%", "higher", lambda d: 100 * d["efficiency"]),
                   ("achieved per rank", "TB/s", "higher", lambda d: d["achieved_Bps"] / d["ranks"] / 1e12),
                   (f"mean latency, {args.outstanding} in flight per rank", "ns", "lower",
                    lambda d: None if d["latency"]["mean_ps"] is None else d["latency"]["mean_ps"] / 1e3))
        what = f"HBM {args.pattern}"
        rows = [{"scope": what, "metric": label, "unit": unit, "better": better, **{d["system"]: get(d) for d in data}}
                for label, unit, better, get in metrics]
        human += ["", *_markdown(rows, [d["system"] for d in data])]
    _emit(args, human, data, pd.json_normalize(data))
    if interrupted is not None:
        _note("interrupted")
        return EXIT_INTERRUPTED
    return EXIT_OK


def _cmd_sweep(args: argparse.Namespace) -> int:
    from podsim.sweep import grid, sweep

    axes = dict(args.vary)
    if len(axes) != len(args.vary):
        raise UsageError("--vary: each option may be varied once")
    if args.resume and args.out_dir is None:
        raise UsageError("--resume needs --out-dir")
    given = [name for name in axes if name != "seed" and _is_given(getattr(args, name, None))]
    if given:  # (--seed has a default, so it cannot be told apart from one given)
        flag = _flag(given[0])
        raise UsageError(f"{flag}: also varied by --vary {given[0]}=...; give one or the other")
    # The fixed part of the run command: system, workload and every option given (not varied).
    base = [args.system, args.workload]
    for name in _SWEEPABLE:
        value = getattr(args, name, None)
        # Every point runs with the same --seed (unless seed is varied): a comparison of routing
        # policies, say, must not mix in the noise of a different seed per point.
        if name in axes or not _is_given(value):
            continue
        # Parsed values go back as text the run command parses the same way (a time in ps needs its unit).
        text = f"{value}ps" if name == "duration" else str(value)
        base += [_flag(name)] + ([] if value is True else [text])
    # Check every value, then the whole grid's command lines, before anything runs: a typo fails
    # at once, named as the --vary value it is.
    checking = build_parser(_CheckingParser)
    for name, values in axes.items():
        for value in values if name != "hbm" else ():  # (hbm values were checked by _vary)
            try:
                checking.parse_args(["run", *base, f"{_flag(name)}={value}"])
            except UsageError as err:  # (argparse's "argument --routing: " would name the run option)
                raise UsageError(f"--vary {name}={value}: {re.sub(r'^argument [^:]+: ', '', str(err))}") from None
    points = grid(**axes)
    system = podsim.system(args.system)
    header_bytes = system.run_defaults().get("header_bytes", podsim.simulation.DEFAULT_SIZES["header_bytes"])
    built: set[tuple[Any, ...]] = set()
    for point in points:
        trial = checking.parse_args(["run", *base, *[f"{_flag(k)}={v}" for k, v in point.items() if k != "hbm"]])
        _check_workloads([trial.workload], trial)
        if trial.mtu is not None and trial.mtu <= header_bytes:
            option = f"--vary mtu={point['mtu']}" if "mtu" in point else "--mtu"
            raise UsageError(f"{option}: must be larger than {args.system}'s header ({header_bytes} bytes), got {trial.mtu}")
        # Build the point's workload (once per distinct workload): a value the system cannot take
        # (--ranks 100 on 72 ranks, a --root past the last rank) is a usage error, found now.
        key = tuple(getattr(trial, o) for o in ("ranks", "seed", *_WORKLOAD_OPTS))
        if key not in built:
            built.add(key)
            try:
                _build(system, trial.workload, trial)
            except (UsageError, ValueError, TypeError) as err:
                where = " ".join(f"{k}={v}" for k, v in point.items())
                raise UsageError(f"--vary point {where}: {_as_option(str(err), trial)}") from None
    # One worker runs in this process (no start-up cost for small sweeps, and Ctrl-C stops it).
    table = sweep(partial(_sweep_point, base), points, seed=args.seed, max_workers=0 if args.workers == 1 else args.workers,
                  out_dir=args.out_dir, resume=args.resume, progress=not args.quiet and sys.stderr.isatty())
    human = [f"{args.system} {args.workload}: {len(points)} points", _sweep_text(table, list(axes))]
    _emit(args, human, table.to_dict(orient="records"), table)
    return EXIT_FAILED if "error" in table and table["error"].notna().any() else EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
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


def _cmd_bench(args: argparse.Namespace) -> int:
    selected = [c for c in benchcases.cases(quick=not args.full) if args.case is None or args.case in c.name]
    if not selected:
        raise UsageError(f"--case: no benchmark case name contains {args.case!r}; see 'podsim bench --list'")
    if args.list:
        print("\n".join(c.name for c in selected))
        return EXIT_OK
    rows = []
    for i, case in enumerate(selected, 1):
        with _Progress(f"[{i}/{len(selected)}] {case.name}", quiet=args.quiet) as progress:
            res, row = benchcases.run_case(case, progress)
        if not (res.complete and res.ledger.balanced):
            print(f"podsim: error: benchmark case {case.name} did not complete with a balanced ledger", file=sys.stderr)
            return EXIT_FAILED
        rows.append(row)
    _emit(args, benchcases.table(rows), rows, pd.DataFrame(rows))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    """A uniform all-to-all on a small CloudMatrix-shaped Clos, to show the engine end to end."""
    topo = benchcases.cm_shape(args.groups)
    msgs = _W.all_to_all(topo.endpoints, args.bytes_per_pair)
    res = podsim.simulate(topo, msgs, routing=args.routing, seed=args.seed)
    peak = report.injection_peak_uni(topo, topo.endpoints)
    print(f"{topo!r}: all-to-all, {format_bytes(args.bytes_per_pair)} per pair, {len(msgs)} messages, routing={args.routing}")
    print(f"  completed in {format_time_ps(res.makespan_ps)} simulated, {res.wall_s:.2f} s wall, {res.events} events")
    print(f"  achieved {format_rate(res.achieved_bandwidth(), 'uni')} of {format_rate(peak, 'uni')} injection peak")
    print(f"  ledger balanced: {res.ledger.balanced}")
    return EXIT_OK


def _add_output(p: argparse.ArgumentParser, out: bool = True) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    if out:
        p.add_argument("--out", type=_output((".csv", ".parquet")), metavar="FILE", help="also write the table to FILE.csv or FILE.parquet (needs podsim[parquet])")


#: Image formats matplotlib's Agg canvas writes.
_IMAGE = (".png", ".svg", ".pdf")


_QUIET_HELP = "no progress on stderr (a bar on a terminal; otherwise a line a minute once a run takes longer)"


def build_parser(parser_class: type[_Parser] = _Parser) -> argparse.ArgumentParser:
    """The argument parser of the ``podsim`` command (``parser_class``: how it reports errors)."""
    parser = parser_class(prog="podsim", description="Packet-level simulation of AI scale-up supernodes: peak figures, "
                     "and what the fabric delivers under real traffic.")
    parser.add_argument("--version", action="version", version=f"podsim {podsim.__version__}")
    parser.add_argument("--cmake-dir", action="store_true", help="print the CMake package directory (for find_package(podsim)) and exit")
    parser.add_argument("--include-dir", action="store_true", help="print the C++ include directory and exit")
    parser.add_argument("--lib-dir", action="store_true", help="print the directory of libpodsim.a (builds without CMake) and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="shipped systems and workloads")
    _add_output(p)
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("peak", help="peak figures of systems (compute, HBM, scale-up uni/bidi, power)")
    p.add_argument("systems", nargs="+", metavar="SYSTEM", help="shipped name (see 'podsim list') or a .toml spec")
    _add_output(p)
    p.set_defaults(func=_cmd_peak)

    p = sub.add_parser("compare", help="peak comparison table; with --workload also what each system achieves")
    p.add_argument("systems", nargs="+", metavar="SYSTEM", help="two or more; the first is the subject of the verdicts")
    p.add_argument("--workload", action="append", default=[], metavar="NAME", help="run this workload on each system (repeatable)")
    _add_workload_options(p)
    p.set_defaults(**dict.fromkeys(_ENGINE_DEFAULTS))  # filled in by _cmd_compare (see there)
    _add_output(p)
    p.add_argument("--plot", type=_output(_IMAGE), metavar="FILE.png", help="peak vs achieved bar chart")
    p.add_argument("--quiet", action="store_true", help=_QUIET_HELP)
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("run", help="simulate a workload on a system: completion time, algbw/busbw, achieved vs peak")
    p.add_argument("system", metavar="SYSTEM")
    p.add_argument("workload", metavar="WORKLOAD", help=", ".join(WORKLOADS))
    _add_workload_options(p)
    _add_output(p)
    p.add_argument("--plot", type=_output(_IMAGE), metavar="FILE.png", help="utilisation per tier, latency CDF, throughput over time, achieved vs peak")
    p.add_argument("--trace", type=_output((".json",)), metavar="FILE.json", help="Chrome trace-event JSON for ui.perfetto.dev")
    p.add_argument("--trace-window", type=_arg(parse_window_ps, "trace_window"), metavar="START:END", help="export only this span, e.g. 0:20us")
    p.add_argument("--trace-max-events", type=_positive_int, default=1_000_000, metavar="N", help="refuse a trace larger than N events (default 1000000)")
    p.add_argument("--quiet", action="store_true", help=_QUIET_HELP)
    f = p.add_argument_group("faults during the run (see the README's 'Running through a failure')")
    f.add_argument("--fail", type=_fault_change(up=False), action="append", default=[], metavar="KIND:NAME[@TIME]",
                   help="take an element down at TIME (default 0), e.g. switch:plane0/l2sw00@20us, tray:tray0 (repeatable)")
    f.add_argument("--repair", type=_fault_change(up=True), action="append", default=[], metavar="KIND:NAME@TIME",
                   help="bring an element back at TIME (repeatable)")
    f.add_argument("--recovery", choices=sorted(podsim.RECOVERY), default="retransmit",
                   help="packets on a failing wire: lost and retransmitted end to end, or replayed by link-level retry")
    f.add_argument("--retransmit-timeout", type=_arg(parse_time_ps, "retransmit_timeout"), metavar="TIME",
                   help="end-to-end retransmission timeout, e.g. 10us (default: the system's transport spec)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("hbm", help="stream an access pattern through every rank's HBM: achieved vs pin peak, latency")
    p.add_argument("systems", nargs="+", metavar="SYSTEM", help="one or more; with two or more, a table compares them")
    p.add_argument("--pattern", choices=list(_HBM_PATTERNS), default="sequential-read",
                   help="access pattern of every rank (default sequential-read)")
    p.add_argument("--request", type=_arg(parse_size, "request_bytes"), metavar="SIZE",
                   help="bytes per request (default 4KiB for sequential-read, sequential-write and copy; 64 for random and strided)")
    p.add_argument("--stride", type=_arg(parse_size, "stride_bytes"), metavar="SIZE", help="strided: distance between requests")
    p.add_argument("--write-fraction", type=float, metavar="F", help="random and strided: share of writes, in [0, 1] (default 0)")
    p.add_argument("--duration", type=_arg(parse_time_ps, "duration"), default=10_000_000, metavar="TIME",
                   help="simulated time, e.g. 10us (default; all 768 dies of cloudmatrix384 take about 10 s for it)")
    p.add_argument("--ranks", type=_positive_int, metavar="N", help="simulate the first N ranks' HBM (default: all)")
    p.add_argument("--outstanding", type=_positive_int, default=256, metavar="N", help="requests in flight per rank (default 256)")
    p.add_argument("--seed", type=_seed, default=1)
    _add_output(p)
    p.add_argument("--quiet", action="store_true", help=_QUIET_HELP)
    p.set_defaults(func=_cmd_hbm)

    p = sub.add_parser("sweep", help="run a workload over a grid of design points (podsim.sweep), one row per point")
    p.add_argument("system", metavar="SYSTEM")
    p.add_argument("workload", metavar="WORKLOAD", help=", ".join(WORKLOADS))
    p.add_argument("--vary", type=_vary, action="append", required=True, metavar="NAME=V1,V2",
                   help="a run option and its values (repeatable; the grid is every combination), e.g. routing=ecmp,adaptive; "
                        "every point runs with the same --seed unless seed is varied")
    _add_workload_options(p)
    p.add_argument("--workers", type=_positive_int, default=None, metavar="N", help="processes (default: one per core; 1 runs in-process)")
    p.add_argument("--out-dir", metavar="DIR", help="also write one file per point into DIR")
    p.add_argument("--resume", action="store_true", help="with --out-dir: read the points whose file exists, run the rest")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_output(p)
    # No default here, so that a --routing given with --vary routing=... can be told apart (each
    # point's run command still defaults to adaptive).
    p.set_defaults(func=_cmd_sweep, routing=None)

    p = sub.add_parser("export", help="write a system's fabric to a topology file for C++ hosts")
    p.add_argument("system", metavar="SYSTEM")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("bench", help="the benchmark suite's cases (quick set by default) and the engine's speed")
    p.add_argument("--full", action="store_true", help="all sizes (as 'pytest bench' without PODSIM_BENCH_QUICK)")
    p.add_argument("--case", metavar="TEXT", help="only cases whose name contains TEXT")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--quiet", action="store_true", help=_QUIET_HELP)
    _add_output(p)
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("demo", help="run a small all-to-all on a CloudMatrix-shaped Clos")
    p.add_argument("--groups", type=_int_in(1, 48), default=2, metavar="N", help="groups of 16 endpoints, in [1, 48] (default 2)")
    p.add_argument("--bytes-per-pair", type=_arg(parse_size, "bytes_per_pair"), default=64 << 10, help="e.g. 64KiB (default)")
    p.add_argument("--routing", choices=sorted(podsim.ROUTING), default="adaptive", help=_ROUTING_HELP)
    p.add_argument("--seed", type=_seed, default=1)
    p.set_defaults(func=_cmd_demo)
    return parser


# A value that starts like a negative number or size: "-4KiB", "-1.5us", "-.5".
_NEGATIVE_VALUE = re.compile(r"-\.?\d")


def _attach_negative_values(argv: Sequence[str]) -> list[str]:
    """``--opt -4KiB`` as ``--opt=-4KiB``. argparse reads a token that starts with ``-`` as an
    option unless it is a plain negative number, so a negative size or time would otherwise be
    reported as a missing argument instead of by the option's own range check."""
    out: list[str] = []
    for i, token in enumerate(argv):
        if token == "--":  # what follows is positional: leave it alone
            return out + list(argv[i:])
        prev = out[-1] if out else ""
        if _NEGATIVE_VALUE.match(token) and prev.startswith("--") and "=" not in prev:
            out[-1] = f"{prev}={token}"
        else:
            out.append(token)
    return out


#: Arguments of the Python API that a command-line option sets, so that an error the API raises
#: about one names the option the user typed.
_OPTION_OF = {
    "retransmit_timeout_ps": "--retransmit-timeout", "size_bytes": "--size", "message_bytes": "--size",
    "bytes_per_pair": "--bytes-per-pair", "tokens_per_rank": "--tokens", "num_experts": "--experts",
    "top_k": "--top-k", "skew": "--skew", "duration_s": "--duration", "load": "--load", "chunks": "--chunks",
    "root": "--root", "mtu": "--mtu", "window": "--trace-window", "groups": "--ranks", "peer": "--peer",
    "request_bytes": "--request", "stride_bytes": "--stride", "write_fraction": "--write-fraction",
    "outstanding": "--outstanding", "devices": "--ranks", "duration_ps": "--duration",
}


def _as_option(message: str, args: argparse.Namespace) -> str:
    """``"retransmit_timeout_ps: must be ..."`` -> ``"--retransmit-timeout (retransmit_timeout_ps): must be ..."``,
    when that option was given (else the field is not the user's: a spec file's, a default's)."""
    field, sep, rest = message.partition(": ")
    option = _OPTION_OF.get(field) if sep else None
    dest = _dest(option) if option else ""
    given = getattr(args, dest, None)
    if option and given is None:
        # Not given, but the workload took the option's default: say so, or the user is told
        # of a value they never typed.
        names = getattr(args, "workload", None) or []
        kinds = [WORKLOADS[n] for n in ([names] if isinstance(names, str) else names) if n in WORKLOADS]
        if any(dest in k.defaults for k in kinds):
            return f"{option} ({field}): {rest} (the default of {option}; give {option} to change it)"
    if not _is_given(given):
        return message
    return f"{option} ({field}): {rest}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (argparse's own exits, --help and bad usage, included)."""
    parser = build_parser()
    try:
        args = parser.parse_args(_attach_negative_values(sys.argv[1:] if argv is None else argv))
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    sdk = {"cmake_dir": ("lib", "cmake", "podsim"), "include_dir": ("include",), "lib_dir": ("lib",)}
    for flag, parts in sdk.items():
        if getattr(args, flag):
            print(Path(podsim.__file__).parent.joinpath(*parts))
            return EXIT_OK
    if args.command is None:
        args = parser.parse_args(["demo"])
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader went away (podsim list | head): not an error. Point stdout at /dev/null so
        # that the interpreter's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except podsim.Deadlock as err:
        print(f"podsim: error: the run deadlocked: {err}", file=sys.stderr)
        return EXIT_FAILED
    except podsim.CutOff as err:
        print(f"podsim: error: the faults cut ranks off: {err}", file=sys.stderr)
        return EXIT_FAILED
    except (UsageError, ValueError, TypeError, OSError) as err:
        print(f"podsim: error: {_as_option(str(err), args)}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("podsim: error: out of memory: the fabric or the run is too large for this machine "
              "(README, 'Limits', gives what the engine keeps per node, port and packet)", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("podsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
