"""Collective operations as message DAGs: all-to-all, all-gather, reduce-scatter, all-reduce,
broadcast and reduce, over any set of endpoints.

Every step of an algorithm is a set of messages; a step's send depends on the delivery of the
data it forwards or reduces (the previous step's message into the sender), so the engine, not the
generator, decides when each step happens. Reductions are assumed free (no compute delay).
Sizes follow the NCCL tests' conventions, so ``Workload.evaluate`` reports comparable algbw/busbw.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from podsim import _validate as v
from podsim.workloads._dag import MAX_MESSAGES, Template, binary_tree, depths, expand, resolve_ranks, to_workload
from podsim.workloads.workload import Workload

#: Algorithms accepted by each collective.
ALGORITHMS = {
    "all_reduce": ("ring", "tree", "rhd", "hierarchical"),
    "all_gather": ("ring", "rhd"),
    "reduce_scatter": ("ring", "rhd"),
    "broadcast": ("ring", "tree"),
    "reduce": ("ring", "tree"),
}

#: Largest number of chunks a collective may be cut into.
MAX_CHUNKS = 1 << 16
#: Bytes of the buffer per chunk when ``chunks`` is None on an algorithm that passes data along
#: a chain or tree (tree all-reduce, broadcast, reduce): NCCL's steps with its default 4 MiB
#: buffer in 8 steps (an assumption: NCCL's slicing also depends on protocol and version). Unlike
#: a ring's steps, such a transfer is as slow as sending all the data hop after hop unless it is
#: pipelined: 64 MiB broadcast on hgx-h100 in one chunk reaches a seventh of a link's rate.
AUTO_CHUNK_BYTES = 512 << 10
#: (operation, algorithm) pairs that chunks=None pipelines.
_CHAINED = {("all_reduce", "tree"), ("broadcast", "ring"), ("broadcast", "tree"), ("reduce", "ring"), ("reduce", "tree")}


def _algorithm(op: str, algorithm: Any) -> str:
    if algorithm not in ALGORITHMS[op]:
        raise ValueError(f"algorithm: {op} supports {list(ALGORITHMS[op])}, got {algorithm!r}")
    return str(algorithm)


def _chunking(chunks: Any, window: Any) -> tuple[int | None, int | None]:
    chunks = None if chunks is None else v.integer(chunks, "chunks", 1, MAX_CHUNKS)
    window = None if window is None else v.integer(window, "window", 1, MAX_CHUNKS)
    return chunks, window


def _auto_chunks(op: str, algorithm: str, size_bytes: int, t: Template) -> int:
    """The chunks of ``chunks=None``: one per :data:`AUTO_CHUNK_BYTES` of the buffer for a chain
    or tree (rounded up; within the limits on chunks and messages); 1 for the others."""
    if (op, algorithm) not in _CHAINED:
        return 1
    return max(1, min(-(-size_bytes // AUTO_CHUNK_BYTES), MAX_MESSAGES // t.count, MAX_CHUNKS))


def _power_of_two(n: int, algorithm: str, op: str) -> None:
    if n & (n - 1):
        raise ValueError(
            f"ranks: {op} with algorithm={algorithm!r} needs a power-of-two number of ranks, got {n} "
            "(all_reduce handles any count by folding the extra ranks in first)"
        )


# --- templates --------------------------------------------------------------------------------


def _ring_rounds(t: Template, rings: np.ndarray, seg_lo: np.ndarray, width: int, steps: range, phase: str) -> None:
    """Ring steps over each row of ``rings`` (rank indices): at step ``k`` member ``j`` sends its
    ring's segment ``(j - k) mod m``, i.e. units ``[seg_lo[row, seg], + width)``, to member ``j + 1``.
    Steps ``0..m-2`` are a reduce-scatter (member ``j`` ends owning segment ``j + 1``), steps
    ``m-1..2m-3`` the all-gather that follows it; an all-gather alone is steps ``0..m-2`` too."""
    m = rings.shape[1]
    src = rings.reshape(-1)
    dst = np.roll(rings, -1, axis=1).reshape(-1)
    rows = np.arange(rings.shape[0])[:, None]
    j = np.arange(m)[None, :]
    for k in steps:
        lo = seg_lo[rows, (j - k) % m].reshape(-1)
        t.round(src, dst, lo, lo + width, phase)


def _phases(op: str) -> tuple[str, ...]:
    """Phase names of a ring or recursive halving/doubling ``op``: an all-reduce is two."""
    return ("reduce_scatter", "all_gather") if op == "all_reduce" else (op,)


def _ring(n: int, op: str) -> Template:
    t = Template(n, n, _phases(op))
    rings, seg_lo = np.arange(n)[None, :], np.arange(n)[None, :]
    if op == "all_reduce":
        _ring_rounds(t, rings, seg_lo, 1, range(0, n - 1), "reduce_scatter")
        _ring_rounds(t, rings, seg_lo, 1, range(n - 1, 2 * n - 2), "all_gather")
    else:
        _ring_rounds(t, rings, seg_lo, 1, range(0, n - 1), op)
    return t


def _rhd(n: int, op: str) -> Template:
    """Recursive halving (reduce-scatter) and/or doubling (all-gather) among ``m = 2^floor(log2 n)``
    participants. The ``r = n - m`` extra ranks are folded in first: ranks ``0, 2, .., 2r-2`` send
    their whole buffer to ``1, 3, .., 2r-1`` and get the result back at the end (Rabenseifner)."""
    m = 1 << (n.bit_length() - 1)
    r = n - m
    t = Template(n, m, ("fold",) * bool(r) + _phases(op) + ("unfold",) * bool(r))
    part = np.concatenate([np.arange(1, 2 * r, 2), np.arange(2 * r, n)])
    q = np.arange(m)
    if r:
        t.round(np.arange(0, 2 * r, 2), np.arange(1, 2 * r, 2), 0, m, "fold")
    if op in ("all_reduce", "reduce_scatter"):
        d = m // 2
        while d >= 1:
            # Send the half of the current range that the partner keeps: units whose bits at d and
            # above match the partner's, i.e. the aligned block of d units starting at base.
            base = (q ^ d) & ~(d - 1)
            t.round(part, part[q ^ d], base, base + d, "reduce_scatter")
            d //= 2
    if op in ("all_reduce", "all_gather"):
        d = 1
        while d < m:
            base = q & ~(d - 1)  # the aligned block of d units this participant holds
            t.round(part, part[q ^ d], base, base + d, "all_gather")
            d *= 2
    if r:
        t.round(np.arange(1, 2 * r, 2), np.arange(0, 2 * r, 2), 0, m, "unfold")
    return t


def _hierarchical(n: int, groups: np.ndarray | None) -> Template:
    """Ring reduce-scatter inside each group, ring all-reduce across groups between the ranks that
    own the same local segment, ring all-gather inside each group."""
    if groups is None:
        raise ValueError("groups: the hierarchical algorithm needs a group per rank (a system's "
                         "rank_group or groups=...)")
    labels, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if not np.all(counts == counts[0]):
        raise ValueError(f"groups: every group must have the same number of ranks, got sizes {sorted(set(counts.tolist()))} "
                         f"(a subset of a system's ranks must hold whole groups: a multiple of {int(counts.max())} ranks)")
    n_groups, g = len(labels), int(counts[0])
    # intra[G, j]: rank index of local member j of group G (members in rank order).
    intra = np.argsort(inverse, kind="stable").reshape(n_groups, g)
    t = Template(n, n, ("intra_reduce_scatter", "inter_all_reduce", "intra_all_gather"))
    # Local segment L is units [L * n_groups, (L + 1) * n_groups): one unit per group for the inter ring.
    local_lo = np.broadcast_to(np.arange(g) * n_groups, (n_groups, g))
    _ring_rounds(t, intra, local_lo, n_groups, range(0, g - 1), "intra_reduce_scatter")
    # After the intra reduce-scatter, local member j owns local segment (j + 1) mod g.
    owned = ((np.arange(g) + 1) % g) * n_groups
    inter_lo = owned[:, None] + np.arange(n_groups)[None, :]
    _ring_rounds(t, intra.T.copy(), inter_lo, 1, range(0, 2 * n_groups - 2), "inter_all_reduce")
    _ring_rounds(t, intra, local_lo, n_groups, range(g - 1, 2 * g - 2), "intra_all_gather")
    return t


def _tree_messages(t: Template, parent: np.ndarray, lo: int, hi: int, *, up: bool, down: bool) -> None:
    """Reduce up and/or broadcast down a tree given by ``parent`` (rank space, -1 at the root).

    Up: a node sends its partial result once every child's has arrived. Down: the root starts once
    all its children's partial results have arrived (or at once for a pure broadcast); every other
    node forwards once its parent's message has arrived.
    """
    n = len(parent)
    depth = depths(parent)
    height = int(depth.max())
    kids = np.flatnonzero(parent >= 0)
    root = int(np.flatnonzero(parent < 0)[0])
    at_root = parent[kids] == root
    up_id = np.full(n, -1, dtype=np.int64)
    if up:
        up_id[kids] = t.add(kids, parent[kids], lo, hi, "reduce", step=height - depth[kids])
        inner = kids[~at_root]
        t.depend(up_id[inner], up_id[parent[inner]])
    if down:
        down_id = np.full(n, -1, dtype=np.int64)
        first = height if up else 0
        down_id[kids] = t.add(parent[kids], kids, lo, hi, "broadcast", step=first + depth[kids] - 1)
        top = kids[at_root]
        if up:
            before, after = np.meshgrid(up_id[top], down_id[top])
            t.depend(before, after)
        deeper = kids[~at_root]
        t.depend(down_id[parent[deeper]], down_id[deeper])


def _tree_parent(n: int, rank_of_position: np.ndarray) -> np.ndarray:
    """The balanced binary tree with position ``p`` played by rank ``rank_of_position[p]``."""
    pos_parent = binary_tree(n)
    parent = np.full(n, -1, dtype=np.int64)
    has = pos_parent >= 0
    parent[rank_of_position[has]] = rank_of_position[pos_parent[has]]
    return parent


def _double_tree(n: int) -> Template:
    """NCCL-style double binary tree: two trees, each reducing and broadcasting half the data.
    The second tree is the first mirrored (even n) or shifted by one (odd n), which turns the
    first tree's leaves (even ranks) into its interior nodes, so no rank is interior in both."""
    t = Template(n, 2, ("reduce", "broadcast"))
    pos = np.arange(n)
    second = n - 1 - pos if n % 2 == 0 else (pos + 1) % n
    for half, rank_of in enumerate((pos, second)):
        _tree_messages(t, _tree_parent(n, rank_of), half, half + 1, up=True, down=True)
    return t


def _rooted(n: int, root: int, op: str, algorithm: str) -> Template:
    """Broadcast (``op="broadcast"``) or reduce to ``root``: a pipelined chain or a binary tree."""
    t = Template(n, 1, (op,))
    if algorithm == "tree":
        top = (1 << (n.bit_length() - 1)) - 1  # position of the tree's root
        rank_of = (np.arange(n) - top + root) % n
        _tree_messages(t, _tree_parent(n, rank_of), 0, 1, up=op == "reduce", down=op == "broadcast")
        return t
    order = (root + np.arange(n)) % n
    if op == "broadcast":
        src, dst = order[:-1], order[1:]
    else:  # the far end starts; each rank adds its data and passes it towards the root
        src, dst = order[:0:-1], order[-2::-1]
    ids = t.add(src, dst, 0, 1, op, step=np.arange(n - 1))
    t.depend(ids[:-1], ids[1:])
    return t


# --- public generators ------------------------------------------------------------------------


def _collective(
    op: str, target: Any, size_bytes: Any, algorithm: Any, chunks: Any, window: Any,
    groups: Any = None, root: Any = None,
) -> Workload:
    algorithm = _algorithm(op, algorithm)
    ranks, groups = resolve_ranks(target, groups)
    n = len(ranks)
    size_bytes = v.integer(size_bytes, "size_bytes", 1, 1 << 48)
    chunks, window = _chunking(chunks, window)
    if algorithm == "ring" and op in ("all_reduce", "all_gather", "reduce_scatter"):
        t = _ring(n, op)
    elif algorithm == "rhd":
        if op != "all_reduce":
            _power_of_two(n, algorithm, op)
        t = _rhd(n, op)
    elif algorithm == "hierarchical":
        t = _hierarchical(n, groups)
    elif op == "all_reduce":  # tree
        t = _double_tree(n)
    else:
        t = _rooted(n, v.integer(root, "root", 0, n - 1), op, algorithm)
    if chunks is None:
        chunks = _auto_chunks(op, algorithm, size_bytes, t)
    src, dst, size, step, phase, deps = expand(t, size_bytes, chunks, window, f"{op} {algorithm}")
    factor = {"all_reduce": 2 * (n - 1) / n, "all_gather": (n - 1) / n, "reduce_scatter": (n - 1) / n}
    return to_workload(
        ranks, src, dst, size, deps, step=step, phase=phase, name=op, algorithm=algorithm,
        size_bytes=size_bytes, bus_factor=factor.get(op, 1.0), phase_names=t.phases,
        info={"chunks": chunks, "window": window, "steps": t.steps},
    )


def all_reduce(
    target: Any, size_bytes: int, *, algorithm: str = "ring", chunks: int | None = None, window: int | None = 2,
    groups: Any = None,
) -> Workload:
    """All-reduce of a ``size_bytes`` buffer on every rank (NCCL ``S``; busbw factor ``2(n-1)/n``).

    Args:
        target: a system (``.ranks``, ``.rank_group``) or a sequence of endpoint node ids.
        size_bytes: buffer per rank, bytes, in [1, 2**48]; every message must get >= 1 byte.
        algorithm: ``"ring"`` (reduce-scatter then all-gather around one ring, ``2(n-1)`` steps),
            ``"tree"`` (NCCL double binary tree, half the data per tree), ``"rhd"`` (recursive
            halving-doubling; non-powers of two fold the extra ranks in first and out last) or
            ``"hierarchical"`` (ring reduce-scatter in each group, ring all-reduce across groups,
            ring all-gather in each group; needs equal-size groups).
        chunks: the buffer is cut into this many pipelined chunks, in [1, 65536]; None (the
            default) pipelines a chain or tree in chunks of :data:`AUTO_CHUNK_BYTES` (512 KiB)
            and leaves the others (ring, rhd, hierarchical) in one.
        window: chunks of one transfer in flight at once (chunk c of a message waits for chunk
            c - window of it to be delivered), in [1, 65536]; None for no limit. Chunks in flight
            from one rank share its links packet by packet (the engine serves a rank's messages
            round robin), so they are delivered together, not one after the other: 1 sends them
            in order, as NCCL does on one channel; 2 overlaps a chunk's latency with the next
            one's start, which costs a little (a 32-chunk 64 MiB ring broadcast on hgx-h100:
            184.8 us with 1, 199.5 us with 2); None delivers all chunks at about the same time
            and so undoes the pipelining (914.7 us there; 1 chunk: 1,053.6 us).
        groups: group per rank for ``"hierarchical"``; default the system's ``rank_group``.
    """
    return _collective("all_reduce", target, size_bytes, algorithm, chunks, window, groups=groups)


def all_gather(
    target: Any, size_bytes: int, *, algorithm: str = "ring", chunks: int | None = None, window: int | None = 2
) -> Workload:
    """All-gather whose output is ``size_bytes`` per rank (each contributes ``size_bytes / n``;
    busbw factor ``(n-1)/n``). ``algorithm`` is ``"ring"`` or ``"rhd"`` (recursive doubling,
    power-of-two rank counts only); other arguments as :func:`all_reduce`."""
    return _collective("all_gather", target, size_bytes, algorithm, chunks, window)


def reduce_scatter(
    target: Any, size_bytes: int, *, algorithm: str = "ring", chunks: int | None = None, window: int | None = 2
) -> Workload:
    """Reduce-scatter of a ``size_bytes`` input per rank (each ends with ``size_bytes / n``;
    busbw factor ``(n-1)/n``). ``algorithm`` is ``"ring"`` or ``"rhd"`` (recursive halving,
    power-of-two rank counts only); other arguments as :func:`all_reduce`."""
    return _collective("reduce_scatter", target, size_bytes, algorithm, chunks, window)


def broadcast(
    target: Any, size_bytes: int, *, root: int = 0, algorithm: str = "ring", chunks: int | None = None,
    window: int | None = 2,
) -> Workload:
    """Broadcast of ``size_bytes`` from rank index ``root`` (busbw factor 1). ``algorithm`` is
    ``"ring"`` (a pipelined chain root, root+1, ...) or ``"tree"`` (balanced binary tree); other
    arguments as :func:`all_reduce`."""
    return _collective("broadcast", target, size_bytes, algorithm, chunks, window, root=root)


def reduce(
    target: Any, size_bytes: int, *, root: int = 0, algorithm: str = "ring", chunks: int | None = None,
    window: int | None = 2,
) -> Workload:
    """Reduce of a ``size_bytes`` buffer per rank to rank index ``root`` (busbw factor 1): the
    mirror image of :func:`broadcast`, with the same arguments."""
    return _collective("reduce", target, size_bytes, algorithm, chunks, window, root=root)


def all_to_all(target: Any, bytes_per_pair: int | None = None, *, matrix: Any = None) -> Workload:
    """All-to-all: every rank sends to every other at once (no dependencies).

    ``target`` is a system (``.ranks``) or a sequence of endpoint node ids; then give exactly one
    of ``bytes_per_pair`` and ``matrix``.

    Args:
        target: the ranks, as above.
        bytes_per_pair: bytes from each rank to each other rank, in [1, 2**48]; NCCL ``S`` is
            ``n * bytes_per_pair`` (the self share counts, as in nccl-tests).
        matrix: ``(n, n)`` bytes from rank i to rank j (uneven all-to-all); the diagonal and zero
            entries send nothing. ``S`` is the mean row sum, diagonal included.

    The busbw factor is the share of the bytes that cross the fabric: ``(n-1)/n`` for
    ``bytes_per_pair``, off-diagonal total / total for a matrix (1 when its diagonal is zero),
    so that busbw is the mean bytes each rank sends to others per second either way.

    Each rank lists its messages from its right neighbour on: rank ``i``'s ``k``-th message goes
    to rank ``(i + k) mod n`` (``tag`` = ``k``), the peer order of NCCL's point-to-point schedule.
    The order matters: the engine starts a rank's messages in list order and serves them packet by
    packet round robin, so were every rank to list rank 0 first, all ranks would send to the same
    few destinations at the same moment (a rolling incast: on CloudMatrix 384, busbw 72.9 instead of
    109.0 GB/s at 1 MiB per rank, 72.3 instead of 133.9 at 64 MiB).
    """
    ranks, _ = resolve_ranks(target)
    n = len(ranks)
    if (bytes_per_pair is None) == (matrix is None):
        raise ValueError("bytes_per_pair, matrix: give exactly one of them")
    if matrix is None:
        per = v.integer(bytes_per_pair, "bytes_per_pair", 1, 1 << 48)
        mat = np.full((n, n), per, dtype=np.int64)
        algorithm = "uniform"
    else:
        if np.shape(matrix) != (n, n):
            raise ValueError(f"matrix: expected shape ({n}, {n}) for {n} ranks, got {np.shape(matrix)}")
        mat = v.int_array(np.asarray(matrix).reshape(-1), "matrix", n * n, 0, 1 << 48, np.int64).reshape(n, n)
        algorithm = "matrix"
    off = mat.copy()
    np.fill_diagonal(off, 0)
    src, dst = np.nonzero(off)
    if len(src) == 0:
        raise ValueError("matrix: every off-diagonal entry is zero, nothing to send")
    # Staggered peer order (see above): at any position in their lists, the ranks' destinations
    # are all different.
    step = (dst - src) % n
    order = np.lexsort((step, src))
    src, dst, step = src[order], dst[order], step[order]
    total = v.exact_sum(mat)
    size_bytes = max(1, round(Fraction(total, n)))
    return to_workload(
        ranks, src, dst, off[src, dst], np.zeros((0, 2), dtype=np.int64), step=step,
        name="all_to_all", algorithm=algorithm, size_bytes=size_bytes, bus_factor=float(Fraction(v.exact_sum(off), total)),
        phase_names=("all_to_all",),
    )
