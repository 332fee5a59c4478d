"""The workloads the command line builds (``run``, ``compare``, ``sweep``), their options and
defaults, and the engine options that go with them."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import podsim
from podsim.cli.options import AUTO, Once, UsageError, arg, auto, dest, flag, fraction, int_in, note, or_auto, positive_int, seed
from podsim.units import exact_size, exact_time, parse_size, parse_time_ps
from podsim.workloads import ALGORITHMS, Workload
from podsim.workloads.p2p import PATTERNS as P2P_PATTERNS
from podsim.workloads.synthetic import PATTERNS as SYNTHETIC_PATTERNS


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
        also: options it reads besides, with no default (None when not given).
    """

    make: Callable[[Any, argparse.Namespace], Workload]
    defaults: Mapping[str, Any]
    summary: str
    also: frozenset[str] = frozenset()

    @property
    def options(self) -> frozenset[str]:
        """The workload options (argparse dests) it reads."""
        return frozenset(self.defaults) | self.also


def _collective(fn: Callable[..., Workload], rooted: bool = False) -> Callable[[Any, argparse.Namespace], Workload]:
    def make(target: Any, a: argparse.Namespace) -> Workload:
        kw: dict[str, Any] = {"algorithm": a.algorithm, "chunks": auto(a.chunks)}
        if rooted:
            kw["root"] = a.root
        return fn(target, a.size, **kw)

    return make


def _all_to_all(target: Any, a: argparse.Namespace) -> Workload:
    """All-to-all of ``--bytes-per-pair``, or of ``--size`` S per rank in NCCL's convention (its
    own share included: S / ranks to each rank), which holds S fixed across systems of different
    rank counts."""
    if a.size is None:
        return _W.all_to_all(target, a.bytes_per_pair)
    n = len(target.ranks)
    per_pair = a.size // n
    if per_pair < 1:
        raise UsageError(f"--size: all-to-all over {n} ranks needs at least {n} B (1 per pair), got {a.size}")
    if per_pair * n != a.size:
        note(f"note: --size {exact_size(a.size)} over {n} ranks: {per_pair:,} B per pair, so S = {per_pair * n:,} B")
    return _W.all_to_all(target, per_pair)


def _algorithms(op: str) -> str:
    return f"--algorithm {'/'.join(ALGORITHMS[op])}"


_W = podsim.workloads
_COLLECTIVE = {"size": 1 << 20, "algorithm": "ring", "chunks": AUTO}
_ROOTED = {**_COLLECTIVE, "root": 0}
#: Workloads by command-line name. Defaults keep a run of the largest shipped system to seconds.
WORKLOADS: dict[str, WorkloadKind] = {
    "all-to-all": WorkloadKind(_all_to_all, {"bytes_per_pair": 1 << 10},
                               "every rank sends --bytes-per-pair to every other (or --size S per rank)",
                               also=frozenset({"size"})),
    "all-reduce": WorkloadKind(_collective(_W.all_reduce), _COLLECTIVE, f"--size per rank; {_algorithms('all_reduce')}"),
    "all-gather": WorkloadKind(_collective(_W.all_gather), _COLLECTIVE, f"--size output per rank; {_algorithms('all_gather')}"),
    "reduce-scatter": WorkloadKind(_collective(_W.reduce_scatter), _COLLECTIVE,
                                   f"--size input per rank; {_algorithms('reduce_scatter')}"),
    "broadcast": WorkloadKind(_collective(_W.broadcast, rooted=True), _ROOTED, f"--size from --root; {_algorithms('broadcast')}"),
    "reduce": WorkloadKind(_collective(_W.reduce, rooted=True), _ROOTED, f"--size to --root; {_algorithms('reduce')}"),
    "moe": WorkloadKind(lambda t, a: _W.moe(t, a.tokens, num_experts=a.experts, top_k=a.top_k, skew=a.skew,
                                              redundant_experts=auto(a.redundant_experts), seed=a.seed),
                        {"tokens": 16, "experts": 256, "top_k": 8, "skew": 0.0, "redundant_experts": AUTO},
                        "MoE dispatch + combine (dedup: one copy of a token per destination rank, DeepEP's normal "
                        "mode; hidden size 7168, a token dispatched in FP8 with its scales and routing, 7,456 B at "
                        "top-k 8, and combined in BF16, 14,336 B): --tokens per rank, --experts, --top-k, --skew (Zipf exponent), --redundant-experts"),
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
#: Every workload option (argparse dest), in the order of ``podsim run --help``.
WORKLOAD_OPTS = tuple(dict.fromkeys(d for kind in WORKLOADS.values() for d in (*kind.defaults, *sorted(kind.also))))


def _shown(dest: str, value: Any) -> str:
    """A default as it would be typed on the command line, exactly (``64KiB``, ``2us``, ``auto``)."""
    if dest in ("size", "bytes_per_pair"):
        return exact_size(value)
    if dest == "duration":
        return exact_time(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def defaults_text(kind: WorkloadKind) -> str:
    """``kind``'s defaults, for ``podsim list``: ``--size 1MiB --chunks 1``."""
    return " ".join(f"{flag(d)} {_shown(d, v)}" for d, v in kind.defaults.items())


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
ENGINE_DEFAULTS = {"routing": "adaptive", "seed": 1}
ROUTING_HELP = ("per-hop port choice: ecmp (hash of the message), spray (a message's packets round robin from its "
                f"ECMP port), adaptive (least occupied) (default {ENGINE_DEFAULTS['routing']})")
ENGINE_OPTS = ("ranks", "routing", "seed", "hbm", "mtu")


def add_workload_options(p: argparse.ArgumentParser) -> None:
    """The workload options (each workload reads some) and the engine options, on ``p``."""
    g = p.add_argument_group("workload options (each workload reads some; see 'podsim list')")

    def add(*flags: str, text: str, **kw: Any) -> None:  # the help text, then the defaults of the workloads reading it
        g.add_argument(*flags, help=f"{text} {_default_help(dest(flags[0]))}", **kw)

    add("--bytes-per-pair", type=arg(parse_size, "bytes_per_pair"), metavar="SIZE", text="all-to-all: bytes from each rank to each other, e.g. 64KiB")
    add("--size", "--bytes", type=arg(parse_size, "size"), metavar="SIZE", action=Once,
        text="collectives: NCCL size S, e.g. 1GiB (all-to-all: instead of --bytes-per-pair, S / ranks to each rank, "
             "the same S on every system); p2p/synthetic: bytes per message")
    add("--algorithm", metavar="NAME", text="collective algorithm: ring, tree, rhd, hierarchical")
    add("--chunks", type=or_auto(positive_int), metavar="N",
        text="collectives: pipeline chunks; auto is 512 KiB of S per chunk for tree all-reduce, broadcast and "
             "reduce (a chain or tree is slow unpipelined), 1 for the others")
    add("--root", type=int, metavar="RANK", text="broadcast/reduce: root rank index")
    add("--tokens", type=positive_int, metavar="N", text="moe: tokens per rank")
    add("--experts", type=positive_int, metavar="N", text="moe: routed experts")
    add("--top-k", type=positive_int, metavar="K", text="moe: experts per token")
    add("--skew", type=float, metavar="S", text="moe: Zipf exponent of expert popularity")
    add("--redundant-experts", type=or_auto(int_in(0, 1 << 16)), metavar="N",
        text="moe: extra copies of the hottest experts; auto gives every expert rank a slot (EP768 of 256 experts: 512)")
    add("--pattern", metavar="NAME", text=f"p2p pattern: {', '.join(P2P_PATTERNS)}; synthetic: {', '.join(SYNTHETIC_PATTERNS)}")
    add("--iterations", type=positive_int, metavar="N", text="p2p: messages")
    add("--peer", type=int, metavar="RANK", text="p2p: the rank that rank 0 sends to")
    add("--load", type=fraction, metavar="F", text="synthetic: offered load per rank, in (0, 1]")
    add("--duration", type=arg(parse_time_ps, "duration"), metavar="TIME", text="synthetic: arrival window, e.g. 5us")
    e = p.add_argument_group("engine options")
    e.add_argument("--ranks", type=positive_int, metavar="N", help="use the first N ranks only (default: all)")
    e.add_argument("--routing", choices=sorted(podsim.ROUTING), default=ENGINE_DEFAULTS["routing"], help=ROUTING_HELP)
    e.add_argument("--seed", type=seed, default=ENGINE_DEFAULTS["seed"],
                   help=f"engine and workload seed (default {ENGINE_DEFAULTS['seed']})")
    e.add_argument("--hbm", action="store_true", help="couple every rank to its HBM: sends read from memory, receives write to it")
    e.add_argument("--mtu", type=arg(parse_size, "mtu"), metavar="SIZE",
                   help="largest packet, header included (default: the system's transport spec, else 4096)")


def check_workloads(names: Sequence[str], args: argparse.Namespace) -> None:
    """Refuse unknown workload names, and options that none of the named workloads reads
    (with several workloads each one reads the options it takes and ignores the others)."""
    for name in names:
        if name not in WORKLOADS:
            raise UsageError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    if list(names) == ["all-to-all"] and args.size is not None and args.bytes_per_pair is not None:
        raise UsageError("--size, --bytes-per-pair: all-to-all takes one of them (S = ranks x bytes per pair)")
    taken = frozenset().union(*(WORKLOADS[n].options for n in names))
    for opt in WORKLOAD_OPTS:
        if getattr(args, opt) is not None and opt not in taken:
            takes = ", ".join(flag(o) for o in sorted(taken))
            raise UsageError(f"{flag(opt)} does not apply to {', '.join(names)} (it takes {takes})")


def build(system: podsim.System, name: str, args: argparse.Namespace) -> Workload:
    """Workload ``name`` (checked by :func:`check_workloads`) on ``system`` or its first ``--ranks`` ranks."""
    target: Any = system
    if args.ranks is not None:
        if not 2 <= args.ranks <= len(system.ranks):
            raise UsageError(f"--ranks: {system.name} has {len(system.ranks)} ranks, got {args.ranks} (need 2 or more)")
        target = _Ranks(system.ranks[: args.ranks], system.rank_group[: args.ranks], system.topology)
    kind = WORKLOADS[name]
    given = vars(args)
    if name == "all-to-all" and args.bytes_per_pair is not None:  # it wins; --size is the other workloads'
        given = {**given, "size": None}
    unset = {d: v for d, v in kind.defaults.items() if given[d] is None}
    return kind.make(target, argparse.Namespace(**{**given, **unset}))
