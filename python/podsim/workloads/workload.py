"""The :class:`Workload` result type: a message batch plus what it means, and how to score a run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from podsim import _validate as v
from podsim.messages import Messages
from podsim.results import NOT_YET, Result


@dataclass(frozen=True)
class PhaseStats:
    """Timing of one phase (e.g. MoE dispatch) of a simulated workload.

    Attributes:
        name: phase name.
        messages: number of messages in the phase.
        bytes: payload bytes of the phase.
        start_ps: earliest start of a phase message, ps.
        end_ps: latest delivery (last byte at its destination) of a phase message, ps.
        latency_s: ``end_ps - start_ps`` in seconds.
        mean_message_latency_s: mean over messages of delivery minus start, seconds (one-way
            latency for writes; request plus data for reads).
        rank_send_Bps: per rank (rank order), payload bytes the rank sent in the phase divided by
            the span from its first send's start to its last send's delivery, bytes/s (uni);
            0 for ranks that send nothing in the phase.
    """

    name: str
    messages: int
    bytes: int
    start_ps: int
    end_ps: int
    latency_s: float
    mean_message_latency_s: float
    rank_send_Bps: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class WorkloadStats:
    """What a run of a :class:`Workload` achieved, in NCCL conventions.

    Attributes:
        time_s: from the first message start to the last delivery, seconds.
        algbw_Bps: ``size_bytes / time_s``, bytes/s.
        busbw_Bps: ``algbw_Bps * bus_factor``, bytes/s: comparable to the per-rank link rate (uni).
        phases: per phase name, its :class:`PhaseStats`.
    """

    time_s: float
    algbw_Bps: float
    busbw_Bps: float
    phases: Mapping[str, PhaseStats]


def _among(ids: np.ndarray, of: np.ndarray) -> np.ndarray:
    """Whether each of ``ids`` is in ``of``: a lookup table over the ids when they are node-id
    sized (ten times faster than np.isin on millions of messages), np.isin otherwise."""
    top = int(max(ids.max(initial=0), of.max(initial=0)))
    if top >= 1 << 24:
        return np.isin(ids, of)
    table = np.zeros(top + 1, dtype=bool)
    table[of] = True
    return table[ids]


class Workload(Messages):
    """A :class:`podsim.Messages` batch with the meaning of the traffic attached.

    It *is* a ``Messages``, so ``podsim.simulate(system, workload)`` runs it directly. The extra
    keyword arguments (after those of :class:`Messages`):

    Args:
        name: what it is, e.g. ``"all_reduce"``, ``"moe"``.
        algorithm: how it is done, e.g. ``"ring"``.
        ranks: endpoint node ids of the participating ranks, in rank order.
        size_bytes: the NCCL-convention size ``S`` in bytes (all-reduce: the buffer; all-gather:
            the output per rank; reduce-scatter: the input per rank; all-to-all: bytes each rank
            sends including to itself), used for ``algbw = S / t``.
        bus_factor: ``busbw / algbw`` (all-reduce ``2(n-1)/n``, all-gather, reduce-scatter and
            all-to-all ``(n-1)/n``, broadcast/reduce and point-to-point ``1``).
        phase: phase index per message, into ``phase_names``.
        phase_names: names of the phases.
        info: free metadata of the generator (bytes per token, expert loads, ...).
    """

    def __init__(
        self,
        src: Sequence[int] | np.ndarray,
        dst: Sequence[int] | np.ndarray,
        size: Sequence[int] | np.ndarray | int,
        *,
        kind: str | Sequence[str] | np.ndarray = "write",
        deps: Sequence[tuple[int, int]] | np.ndarray | None = None,
        delay_ps: Sequence[int] | np.ndarray | int = 0,
        tag: Sequence[int] | np.ndarray | int = 0,
        name: str,
        algorithm: str,
        ranks: Sequence[int] | np.ndarray,
        size_bytes: int,
        bus_factor: float,
        phase: Sequence[int] | np.ndarray | int = 0,
        phase_names: Sequence[str] = ("all",),
        info: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(src, dst, size, kind=kind, deps=deps, delay_ps=delay_ps, tag=tag)
        self.name = v.name(name, "name")
        self.algorithm = v.name(algorithm, "algorithm")
        self.ranks = v.int_array(ranks, "ranks", None, 0, 2**32 - 2, np.uint32)
        self.size_bytes = v.integer(size_bytes, "size_bytes", 1)
        self.bus_factor = v.positive_float(bus_factor, "bus_factor")
        if isinstance(phase_names, (str, bytes)) or not isinstance(phase_names, Iterable):
            raise TypeError(f"phase_names: expected a sequence of names such as ('dispatch', 'combine'), "
                            f"got {type(phase_names).__name__} {phase_names!r}")
        self.phase_names = tuple(v.name(p, "phase_names") for p in phase_names)
        if not 1 <= len(self.phase_names) <= 256:  # a phase index is one byte per message
            raise ValueError(f"phase_names: must name 1 to 256 phases, got {len(self.phase_names)}")
        self.phase = v.int_array(phase, "phase", len(self), 0, len(self.phase_names) - 1, np.uint8)
        if info is not None and not isinstance(info, Mapping):
            raise TypeError(f"info: expected a dict of extra facts, got {type(info).__name__} {info!r}")
        self.info = dict(info or {})
        # evaluate() attributes each message's bytes to its ranks: every end must be one.
        for field, ends in (("src", self.src), ("dst", self.dst)):
            outside = np.flatnonzero(~_among(ends, self.ranks))
            if outside.size:
                i = int(outside[0])
                raise ValueError(f"{field}: message {i}'s endpoint {int(ends[i])} is not one of ranks ({outside.size} such messages)")

    def evaluate(self, result: Result, *, first_id: int = 0) -> WorkloadStats:
        """Score a run: completion time, algbw, busbw and per-phase timing.

        Args:
            result: what :func:`podsim.simulate` returned for a run containing this workload.
            first_id: engine id of this workload's first message (0 when it was the only batch).

        Raises:
            ValueError: if ``result`` does not hold these messages at ``first_id`` or some of
                them were not delivered.
        """
        if not isinstance(result, Result):
            raise TypeError(f"result: expected a podsim.Result, got {type(result).__name__}")
        n = len(self)
        first_id = v.integer(first_id, "first_id", 0, max(len(result.messages) - n, 0))
        m = result.messages
        sl = slice(first_id, first_id + n)
        if len(m) < first_id + n or not (
            np.array_equal(m.src[sl], self.src) and np.array_equal(m.dst[sl], self.dst)
            and np.array_equal(m.size[sl], self.size)
        ):
            raise ValueError(f"result: messages {first_id}..{first_id + n - 1} are not this workload's")
        start = m.start_ps[sl].astype(np.int64)
        delivered = m.delivered_ps[sl]
        if np.any(delivered == NOT_YET):
            missing = int(np.count_nonzero(delivered == NOT_YET))
            raise ValueError(f"result: {missing} of this workload's {n} messages were not delivered")
        delivered = delivered.astype(np.int64)
        t = (int(delivered.max()) - int(start.min())) * 1e-12
        algbw = self.size_bytes / t if t > 0 else float("inf")
        phases = {name: self._phase_stats(i, start, delivered) for i, name in enumerate(self.phase_names)}
        return WorkloadStats(time_s=t, algbw_Bps=algbw, busbw_Bps=algbw * self.bus_factor, phases=phases)

    def _phase_stats(self, index: int, start: np.ndarray, delivered: np.ndarray) -> PhaseStats:
        sel = self.phase == index
        if not sel.any():
            return PhaseStats(self.phase_names[index], 0, 0, 0, 0, 0.0, 0.0, np.zeros(len(self.ranks)))
        s, d, size = start[sel], delivered[sel], self.size[sel].astype(np.float64)
        # Per-rank windows with ufunc.at over rank positions: no Python loop over messages.
        order = np.argsort(self.ranks)
        rank_of = order[np.searchsorted(self.ranks, self.src[sel], sorter=order)]
        k = len(self.ranks)
        first = np.full(k, np.iinfo(np.int64).max)
        last = np.full(k, -1, dtype=np.int64)
        sent = np.zeros(k)
        np.minimum.at(first, rank_of, s)
        np.maximum.at(last, rank_of, d)
        np.add.at(sent, rank_of, size)
        span = (last - first) * 1e-12
        bw = np.divide(sent, span, out=np.zeros(k), where=(last >= 0) & (span > 0))
        return PhaseStats(
            name=self.phase_names[index],
            messages=int(sel.sum()),
            bytes=int(size.sum()),
            start_ps=int(s.min()),
            end_ps=int(d.max()),
            latency_s=(int(d.max()) - int(s.min())) * 1e-12,
            mean_message_latency_s=float((d - s).mean()) * 1e-12,
            rank_send_Bps=bw,
        )

    def to_pandas(self) -> pd.DataFrame:
        """One row per message: the :class:`Messages` columns plus its phase name."""
        df = super().to_pandas()
        df["phase"] = np.asarray(self.phase_names)[self.phase]
        return df

    def __repr__(self) -> str:
        return (
            f"Workload({self.name}/{self.algorithm}, {len(self.ranks)} ranks, S={self.size_bytes} B, "
            f"{len(self)} messages, {self.total_bytes} bytes, {len(self.deps)} dependencies)"
        )
