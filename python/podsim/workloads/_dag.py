"""DAG-building helpers shared by every generator: rank resolution, round templates, chunking.

A collective is described once, for one unit of data, as a :class:`Template`: messages between
rank *indices* whose payload is a contiguous range ``[lo, hi)`` of the data in units of
``1 / den``. :func:`expand` turns it into concrete byte sizes for ``chunks`` pipelined copies of
the data, so every algorithm gets exact integer splitting and chunking from the same code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from podsim import _validate as v
from podsim.workloads.workload import Workload

#: Largest endpoint node id the engine accepts (``Messages.src``/``dst`` are uint32 minus a sentinel).
MAX_NODE_ID = 2**32 - 2


def resolve_ranks(target: Any, groups: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Endpoint node ids of the ranks (rank order) and, if known, their group per rank.

    Args:
        target: a system (anything with ``.ranks``, and optionally ``.rank_group``) or a sequence
            of distinct endpoint node ids.
        groups: group index per rank (scale-up node / tray / board); overrides ``rank_group``.

    Returns:
        ``(ranks, groups)``: uint32 node ids, and int64 group ids or None.
    """
    if hasattr(target, "ranks"):
        raw = target.ranks
        if groups is None:
            groups = getattr(target, "rank_group", None)
    else:
        raw = target
    if isinstance(raw, (str, bytes)) or np.ndim(raw) != 1:
        raise TypeError("ranks: expected a system with .ranks or a 1-D sequence of endpoint node ids")
    ranks = v.int_array(raw, "ranks", None, 0, MAX_NODE_ID, np.uint32)
    if len(ranks) < 2:
        raise ValueError(f"ranks: need at least 2 ranks, got {len(ranks)}")
    uniq, counts = np.unique(ranks, return_counts=True)
    if len(uniq) != len(ranks):
        raise ValueError(f"ranks: endpoint ids must be distinct, node {uniq[counts > 1][0]} appears twice")
    if groups is not None:
        groups = v.int_array(groups, "groups", len(ranks), 0, 2**62, np.int64)
    return ranks, groups


def split(total: int, parts: int) -> np.ndarray:
    """``total`` split into ``parts`` integers differing by at most one (larger first), int64."""
    base, extra = divmod(total, parts)
    return base + (np.arange(parts) < extra).astype(np.int64)


def binary_tree(n: int) -> np.ndarray:
    """Parent position of each position ``0..n-1`` of a balanced in-order binary tree (-1: root).

    With 1-based position ``p`` and ``b`` its lowest set bit, ``p``'s children are ``p - b/2``
    and the largest ``p + c`` (``c`` a power of two below ``b``) that exists. Hence ``p`` is a left
    child of ``p + b`` when ``p / b = 1 (mod 4)`` and that node exists, else a right child of
    ``p - b``. Every odd position is a leaf, which is what makes the double tree work: the second
    tree maps positions to ranks so that its interior nodes are the first tree's leaves.
    """
    p = np.arange(1, n + 1, dtype=np.int64)
    b = p & -p
    right_child = ((p // b) % 4 == 3) | (p + b > n)
    parent = np.where(right_child, p - b, p + b) - 1  # back to 0-based; root gets -1
    return parent


def depths(parent: np.ndarray) -> np.ndarray:
    """Depth of each node of a tree given by ``parent`` (-1 at the root), int64."""
    depth = np.zeros(len(parent), dtype=np.int64)
    has_parent = parent >= 0
    # One sweep per level: a node's depth is final once its parent's is (height ~ log2 n sweeps).
    while True:
        new = np.where(has_parent, depth[np.maximum(parent, 0)] + 1, 0)
        if np.array_equal(new, depth):
            return depth
        depth = new


class Template:
    """A message DAG over rank indices for one unit of data, sizes in units of ``1 / den``.

    Args:
        n: number of ranks.
        den: the data is cut into ``den`` equal units; each message carries units ``[lo, hi)``.
        phases: phase names; messages refer to them by index.
    """

    def __init__(self, n: int, den: int, phases: tuple[str, ...]) -> None:
        self.n = n
        self.den = den
        self.phases = phases
        self.count = 0
        self.steps = 0
        self._cols: list[tuple[np.ndarray, ...]] = []
        self._deps: list[np.ndarray] = []
        # Latest message into each rank (the data its next send forwards or reduces) and each rank's
        # latest send (program order), for round().
        self._last_in = np.full(n, -1, dtype=np.int64)
        self._last_out = np.full(n, -1, dtype=np.int64)
        self._unsent = np.zeros(n, dtype=bool)  # received since its last send

    def add(self, src: Any, dst: Any, lo: Any, hi: Any, phase: str, step: Any = None) -> np.ndarray:
        """Append messages ``src -> dst`` carrying units ``[lo, hi)``; returns their template ids.

        ``step`` (per message or scalar) defaults to a new step number for this call.
        """
        src = np.asarray(src, dtype=np.int64).reshape(-1)
        k = len(src)
        dst = np.broadcast_to(np.asarray(dst, dtype=np.int64), (k,))
        lo = np.broadcast_to(np.asarray(lo, dtype=np.int64), (k,))
        hi = np.broadcast_to(np.asarray(hi, dtype=np.int64), (k,))
        if step is None:
            step = self.steps
        step = np.broadcast_to(np.asarray(step, dtype=np.int64), (k,))
        self.steps = max(self.steps, int(step.max()) + 1) if k else self.steps
        ph = np.full(k, self.phases.index(phase), dtype=np.uint8)
        self._cols.append((src, dst, lo, hi, step, ph))
        ids = np.arange(self.count, self.count + k, dtype=np.int64)
        self.count += k
        return ids

    def depend(self, before: Any, after: Any) -> None:
        """``after[i]`` starts only once ``before[i]`` is delivered (template ids, broadcast)."""
        b, a = np.broadcast_arrays(np.asarray(before, dtype=np.int64), np.asarray(after, dtype=np.int64))
        self._deps.append(np.stack([b.reshape(-1), a.reshape(-1)], axis=1))

    def round(self, src: Any, dst: Any, lo: Any, hi: Any, phase: str) -> np.ndarray:
        """Append one round of a step-synchronous algorithm (each rank receives at most once).

        A rank's send waits for the latest message into it (the data a ring or recursive-halving
        step forwards) and for its own previous send (steps run in program order, as with
        MPI_Sendrecv). Together these make every earlier message into the sender an ancestor, so
        a send that carries data received several steps ago (recursive doubling, the unfold of
        non-power-of-two ranks, a hierarchical all-gather) still waits for all of it.
        """
        src = np.asarray(src, dtype=np.int64).reshape(-1)
        dst = np.asarray(dst, dtype=np.int64).reshape(-1)
        sending = np.zeros(self.n, dtype=bool)
        sending[src] = True
        if np.any(self._unsent[dst] & ~sending[dst]):
            # A rank receiving twice without sending in between would lose the first message
            # from its later sends' ancestry; no built-in algorithm does this.
            raise RuntimeError("Template.round: a rank receives twice without sending in between")
        ids = self.add(src, dst, lo, hi, phase)
        for prev in (self._last_in[src], self._last_out[src]):
            has = prev >= 0
            self.depend(prev[has], ids[has])
        self._last_out[src] = ids
        self._unsent[src] = False
        self._last_in[dst] = ids
        self._unsent[dst] = True
        return ids

    def columns(self) -> tuple[np.ndarray, ...]:
        """``(src, dst, lo, hi, step, phase, deps)`` over all messages added so far."""
        cols = tuple(np.concatenate(c) for c in zip(*self._cols))
        deps = np.concatenate(self._deps) if self._deps else np.zeros((0, 2), dtype=np.int64)
        return (*cols, deps)


#: Most messages (or MoE token copies) one generator call may produce: numpy holds some 60 bytes
#: per message before the engine sees them, so 2^28 of them take about 16 GB. Beyond it a call
#: is refused, naming the argument, rather than failing in numpy's allocator.
MAX_MESSAGES = 1 << 28


def expand(
    t: Template, size_bytes: int, chunks: int, window: int | None, what: str
) -> tuple[np.ndarray, ...]:
    """Concrete messages for ``size_bytes`` of data cut into ``chunks`` pipelined copies of ``t``.

    Chunk ``c`` is an independent copy of the template over bytes ``split(size_bytes, chunks)[c]``;
    with ``window = w`` a message of chunk ``c`` also waits for the same message of chunk ``c - w``
    (at most ``w`` chunks of one transfer in flight, like NCCL's staging slots).

    Returns:
        ``(src, dst, size, step, phase, deps)`` with rank indices, bytes, and ``(k, 2)`` deps;
        message id ``c * t.count + i`` is template message ``i`` of chunk ``c``.
    """
    if t.count * chunks > MAX_MESSAGES:
        raise ValueError(f"chunks: {what} of {t.count} messages per chunk, in {chunks} chunks, would make "
                         f"{t.count * chunks} messages, more than {MAX_MESSAGES} (2^28)")
    src, dst, lo, hi, step, phase, deps = t.columns()
    per_chunk = split(size_bytes, chunks)
    if per_chunk.min() < t.den:
        raise ValueError(
            f"size_bytes: {what} cuts the data into {t.den} units per chunk, so it needs at least "
            f"chunks × {t.den} = {chunks * t.den} bytes (every message at least one byte), got {size_bytes}"
        )
    # Exact integer split: unit j of chunk c starts at byte floor(j * bytes_c / den); a small
    # table of those offsets turns the per-message sizes into gathers instead of divisions.
    start = (np.arange(t.den + 1, dtype=np.int64)[None, :] * per_chunk[:, None]) // t.den
    size = start[:, hi] - start[:, lo]
    n_t = t.count
    offsets = (np.arange(chunks, dtype=np.int64) * n_t)[:, None, None]
    all_deps = [(deps[None, :, :] + offsets).reshape(-1, 2)]
    if window is not None and chunks > window:
        after = np.arange(window * n_t, chunks * n_t, dtype=np.int64)
        all_deps.append(np.stack([after - window * n_t, after], axis=1))
    return (
        np.tile(src, chunks),
        np.tile(dst, chunks),
        size.reshape(-1),
        np.tile(step, chunks),
        np.tile(phase, chunks),
        np.concatenate(all_deps),
    )


def to_workload(
    ranks: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    size: np.ndarray,
    deps: np.ndarray,
    *,
    step: np.ndarray | int = 0,
    phase: np.ndarray | int = 0,
    **meta: Any,
) -> Workload:
    """A :class:`~podsim.workloads.Workload` from columns over rank indices (``src``/``dst``)."""
    return Workload(ranks[src], ranks[dst], size, deps=deps, tag=step, phase=phase, ranks=ranks, **meta)
