"""DeepSeek-V3/R1-style mixture-of-experts expert parallelism: token dispatch and combine.

Model (each assumption is a parameter where it matters):

* Every EP rank (one NPU die on CloudMatrix 384, one GPU on NVL72) holds ``tokens_per_rank``
  tokens. Each token picks ``top_k`` distinct routed experts; expert ``e`` is picked with
  probability proportional to ``(popularity_rank(e) + 1) ** -skew`` (Zipf; ``skew = 0`` is
  uniform), sampled successively without replacement. Tokens are independent: real gating is
  correlated across tokens and layers, which this does not model. Which experts are hot is a
  seeded random permutation, so hot experts do not all sit on the first ranks.
* Expert slots (``num_experts`` routed experts plus ``redundant_experts`` extra copies of the
  hottest experts, as EPLB does) are laid out in contiguous balanced blocks over the first
  ``n - shared_expert_ranks`` ranks. A token picking a replicated expert goes to one of its copies
  at random. By default there are just enough copies for every expert rank to hold a slot: EP768
  on CloudMatrix 384 with 256 experts gets 512 copies, where 256 slots would leave two dies in
  three without an expert (and their links idle).
* Shared experts: with ``shared_expert_ranks = 0`` every rank computes the shared expert locally
  (no traffic); otherwise the last ``shared_expert_ranks`` ranks host shared-expert replicas and
  every token is also sent to one of them (source rank modulo their number).
* Dispatch sends one copy of a token per destination *rank* (``dedup=True``: DeepEP normal mode,
  CloudMatrix-Infer) or per expert (``dedup=False``: DeepEP low-latency mode). Copies whose
  destination is the token's own rank stay local. Combine returns one BF16 copy along each
  dispatch copy's path in reverse: with ``dedup``, partial sums of a token's experts on a rank
  are added there first; without, one copy per expert comes back, as in DeepEP's low-latency mode.
* All copies between a pair of ranks in one phase form one message: the engine packetises it, so
  per-token messages would only add per-message overheads the engine does not model anyway.
* Each source rank lists its dispatch messages from its right neighbour on (destination
  ``(dst - src) mod n`` ascending), and each expert rank its combine messages likewise, the peer
  order of NCCL's point-to-point schedule and of :func:`~podsim.workloads.all_to_all`. The order
  matters: the engine starts a rank's messages in list order and serves them round robin, so
  were every rank to list rank 0 first, all ranks would send to the same few destinations at the
  same moment (a rolling incast that nearly doubles EP256 dispatch time on CloudMatrix 384).
* An expert rank starts its combine sends once *all* its dispatch traffic has arrived, plus
  ``compute_delay_ps``. The engine has no zero-byte join node, so this barrier is a 1-byte
  ``sync`` write from the rank to the next rank that depends on every dispatch message into it;
  its time falls between the dispatch and combine phases and is excluded from both. It crosses
  the fabric, so the layer's total time includes one small message's latency that a real rank
  does not wait for: measured against combine messages that depend on the dispatch messages
  directly (n^3 dependencies at EP n, too many for EP256), +8.4% on GB300 NVL72 and +15.4% on
  CloudMatrix 384 for 16 ranks x 4 tokens, +2.7% and +0.5% for 8 ranks x 128 tokens.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from podsim import _validate as v
from podsim.messages import MAX_MESSAGE_BYTES
from podsim.workloads._dag import MAX_MESSAGES, resolve_ranks, to_workload
from podsim.workloads._gating import gate_column
from podsim.workloads.workload import Workload

#: Bytes per element of the dtypes a token can travel in.
DTYPE_BYTES = {"int8": 1, "fp8": 1, "bf16": 2, "fp16": 2, "fp32": 4}


def _dtype(value: Any, field: str) -> str:
    return v.choice(value, field, DTYPE_BYTES)


def token_bytes(
    hidden: int = 7168,
    dtype: str = "int8",
    *,
    top_k: int = 8,
    quant_group: int = 128,
    scale_bytes: int = 4,
    route_bytes: int = 8,
) -> int:
    """Bytes one token occupies on the wire.

    ``hidden * bytes(dtype)``; 1-byte dtypes add one ``scale_bytes`` scale per ``quant_group``
    elements (DeepSeek-V3's FP32 scale per 1×128 activation tile); ``top_k > 0`` adds
    ``top_k * route_bytes`` of routing metadata (int32 expert index + FP32 gate weight).
    Dispatch, INT8/FP8 with metadata: 7168 + 56·4 + 8·8 = 7456 B (≈ 7.5 KB). Combine, BF16
    without metadata (``top_k=0``): 14,336 B (≈ 14 KB).

    Args:
        hidden: hidden size, elements, in [1, 2**20].
        dtype: one of ``int8``, ``fp8``, ``bf16``, ``fp16``, ``fp32``.
        top_k: experts per token whose routing metadata travels with it, in [0, 1024].
        quant_group: elements per scale for 1-byte dtypes, in [1, hidden].
        scale_bytes: bytes per scale, in [0, 16].
        route_bytes: metadata bytes per routed expert, in [0, 64].
    """
    hidden = v.integer(hidden, "hidden", 1, 1 << 20)
    _dtype(dtype, "dtype")
    top_k = v.integer(top_k, "top_k", 0, 1024)
    quant_group = v.integer(quant_group, "quant_group", 1, hidden)
    scale_bytes = v.integer(scale_bytes, "scale_bytes", 0, 16)
    route_bytes = v.integer(route_bytes, "route_bytes", 0, 64)
    elem = DTYPE_BYTES[dtype]
    scales = math.ceil(hidden / quant_group) * scale_bytes if elem == 1 else 0
    return hidden * elem + scales + top_k * route_bytes


def expert_distribution(rng: np.random.Generator, experts: int, skew: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zipf(``skew``) expert probabilities over a seeded random popularity order, and each
    expert's interval ``[begin, cdf)`` of the cumulative distribution (the last edge exactly 1)."""
    popularity = rng.permutation(experts)
    prob = (popularity + 1.0) ** -skew
    prob /= prob.sum()
    cdf = np.cumsum(prob)
    cdf[-1] = 1.0
    return prob, cdf - prob, cdf


def _gate(rng: np.random.Generator, tokens: int, experts: int, top_k: int, skew: float) -> tuple[np.ndarray, np.ndarray]:
    """``top_k`` distinct experts per token (tokens × top_k) and each expert's probability.

    Successive sampling without replacement, one column at a time by inverse CDF: a point drawn
    in the mass of the experts not yet taken is mapped back onto the full CDF by skipping the
    taken experts' intervals in ascending order. O(tokens × top_k²), no tokens × experts matrix.
    The per-token loop is the Cython kernel :func:`podsim.workloads._gating.gate_column`; numpy
    draws the uniforms, a column at a time, so a seed gives the same gating as a pure-numpy
    formulation (``tests/gating_reference.py``).
    """
    prob, begin, cdf = expert_distribution(rng, experts, skew)
    out = np.empty((tokens, top_k), dtype=np.int64)
    taken = np.empty(top_k, dtype=np.int64)
    again = np.empty(tokens, dtype=np.int64)
    for j in range(top_k):
        rows = np.arange(tokens, dtype=np.int64)
        for _ in range(_MAX_REDRAWS):
            if not len(rows):
                break
            n_again = gate_column(out, j, rows, rng.random(len(rows)), prob, begin, cdf, taken, again)
            # Rounding can land a point on a taken expert's interval edge: draw those rows again.
            rows = again[:n_again].copy()
        else:
            _draw_among_untaken(rng, out, j, rows, prob)
    return out, prob


#: Rounds of redrawing a column's clashing rows before :func:`_draw_among_untaken` places them.
#: A clash from rounding is rare and a redraw almost always clears it, so only the case that
#: never clears reaches the limit.
_MAX_REDRAWS = 64


def _draw_among_untaken(rng: np.random.Generator, out: np.ndarray, j: int, rows: np.ndarray, prob: np.ndarray) -> None:
    """Place column ``j`` of ``rows`` by drawing among each row's untaken experts directly, in
    proportion to their probability (the distribution successive sampling asks for).

    The inverse CDF cannot: with a steep skew and a large top-k, the untaken experts' mass falls
    below the floating-point resolution of a CDF that ends at 1 (1e-16), every point lands on a
    taken expert, and redrawing would never end (top_k=64, skew=10 did)."""
    for r in rows:
        free = np.ones(len(prob), dtype=bool)
        free[out[r, :j]] = False
        candidates = np.flatnonzero(free)
        weights = prob[candidates]
        out[r, j] = candidates[rng.choice(len(candidates), p=weights / weights.sum())]


def moe(
    target: Any,
    tokens_per_rank: int,
    *,
    num_experts: int = 256,
    top_k: int = 8,
    hidden: int = 7168,
    redundant_experts: int | None = None,
    shared_expert_ranks: int = 0,
    skew: float = 0.0,
    dispatch_dtype: str = "int8",
    combine_dtype: str = "bf16",
    dispatch_bytes: int | None = None,
    combine_bytes: int | None = None,
    compute_delay_ps: Any = 0,
    dedup: bool = True,
    seed: int | np.random.SeedSequence = 0,
) -> Workload:
    """One MoE layer's expert-parallel dispatch and combine over the given EP ranks.

    The EP degree is the number of ranks: pass ``system.ranks[:64]`` for EP64. See the module
    docstring for the model.

    Args:
        target: a system (``.ranks``) or a sequence of endpoint node ids, one per EP rank.
        tokens_per_rank: tokens each rank routes, in [1, 2**20].
        num_experts: routed experts, in [1, 2**16] and at least top_k.
        top_k: routed experts per token, in [1, min(num_experts, 1024)].
        hidden: hidden size, elements (for the default bytes per token).
        redundant_experts: extra copies of the hottest experts, in [0, 2**16]; None (the
            default) gives ``max(0, n - shared_expert_ranks - num_experts)``, one slot per expert
            rank at least. Fewer slots than expert ranks leave some ranks without an expert.
        shared_expert_ranks: ranks (the last ones) dedicated to shared experts, in [0, n - 1].
        skew: Zipf exponent of expert popularity, in [0, 10]; 0 is uniform.
        dispatch_dtype: dtype of dispatched tokens; their size is
            ``token_bytes(hidden, dispatch_dtype, top_k=top_k)`` (7456 B for INT8/FP8, hidden 7168).
        combine_dtype: dtype of combined tokens; ``token_bytes(hidden, combine_dtype, top_k=0)``
            (14,336 B for BF16).
        dispatch_bytes: bytes per dispatched token, in [1, 2**30], overriding ``dispatch_dtype``
            (e.g. to calibrate against a measured system).
        combine_bytes: bytes per combined token, in [1, 2**30], overriding ``combine_dtype``.
        compute_delay_ps: expert compute time between a rank's last dispatch arrival and its
            combine sends, ps in [0, 2^62]; a scalar or one value per rank.
        dedup: one dispatch copy per destination rank (True) or per expert (False).
        seed: integer or ``numpy.random.SeedSequence`` for the gating.

    Returns:
        A :class:`Workload` with phases ``dispatch``, ``sync`` and ``combine``; ``size_bytes`` is
        the mean bytes a rank sends over both phases (busbw factor 1). ``info`` holds the bytes
        per token, ``slot_rank`` and ``slot_expert`` (the placement), ``slot_load`` (token copies
        per expert slot, local ones included), ``local_fraction`` (token copies not sent) and
        ``ranks_without_expert`` (expert ranks holding no slot).
    """
    ranks, _ = resolve_ranks(target)
    n = len(ranks)
    tokens = v.integer(tokens_per_rank, "tokens_per_rank", 1, 1 << 20)
    top_k = v.integer(top_k, "top_k", 1, 1024)
    experts = v.integer(num_experts, "num_experts", 1, 1 << 16)
    if top_k > experts:  # name the field to change: a token picks top_k distinct experts
        raise ValueError(f"top_k: must be in [1, num_experts={experts}], got {top_k}")
    if n * tokens * top_k > MAX_MESSAGES:
        raise ValueError(f"tokens_per_rank: {n} ranks x {tokens} tokens x top_k {top_k} = {n * tokens * top_k} token "
                         f"copies to route, more than {MAX_MESSAGES} (2^28)")
    shared = v.integer(shared_expert_ranks, "shared_expert_ranks", 0, n - 1)
    hosts = n - shared
    if redundant_experts is None:
        extra = max(0, hosts - experts)
    else:
        extra = v.integer(redundant_experts, "redundant_experts", 0, 1 << 16)
    if isinstance(skew, bool) or not isinstance(skew, (int, float, np.integer, np.floating)):
        raise TypeError(f"skew: expected a number, got {type(skew).__name__}")
    if not 0.0 <= float(skew) <= 10.0:
        raise ValueError(f"skew: must be in [0, 10], got {skew!r}")
    if dispatch_bytes is None:
        d_bytes = token_bytes(hidden, _dtype(dispatch_dtype, "dispatch_dtype"), top_k=top_k)
    else:
        d_bytes = v.integer(dispatch_bytes, "dispatch_bytes", 1, 1 << 30)
    if combine_bytes is None:
        c_bytes = token_bytes(hidden, _dtype(combine_dtype, "combine_dtype"), top_k=0)
    else:
        c_bytes = v.integer(combine_bytes, "combine_bytes", 1, 1 << 30)
    delay = v.int_array(compute_delay_ps, "compute_delay_ps", n, 0, v.MAX_TIME_PS, np.uint64)
    if not isinstance(dedup, (bool, np.bool_)):
        raise TypeError(f"dedup: expected a bool, got {type(dedup).__name__}")
    if not isinstance(seed, np.random.SeedSequence):
        seed = np.random.SeedSequence(v.integer(seed, "seed"))
    rng = np.random.default_rng(seed)

    chosen, prob = _gate(rng, n * tokens, experts, top_k, float(skew))
    # Slots: experts 0..E-1, then copies of the hottest experts; contiguous blocks over hosts.
    slot_expert = np.concatenate([np.arange(experts), np.argsort(-prob, kind="stable")[np.arange(extra) % experts]])
    slot_rank = np.arange(len(slot_expert)) * hosts // len(slot_expert)
    # Replica choice: slots of each expert contiguous in `by_expert`; pick one uniformly.
    by_expert = np.argsort(slot_expert, kind="stable")
    copies = np.bincount(slot_expert, minlength=experts)
    first = np.concatenate([[0], np.cumsum(copies)[:-1]])
    pick = (rng.random(chosen.shape) * copies[chosen]).astype(np.int64)
    slot = by_expert[first[chosen] + pick]
    dest = slot_rank[slot]
    src = np.repeat(np.arange(n), tokens)
    if shared:
        dest = np.concatenate([dest, (hosts + src % shared)[:, None]], axis=1)
    keep = np.ones(dest.shape, dtype=bool)
    if dedup:  # one copy per destination rank: drop repeats in each sorted row
        dest = np.sort(dest, axis=1)
        keep[:, 1:] = dest[:, 1:] != dest[:, :-1]
    remote = keep & (dest != src[:, None])
    pair = (src[:, None] * n + dest)[remote]
    count = np.bincount(pair, minlength=n * n)
    ps, pd = np.divmod(np.flatnonzero(count), n)
    if len(ps) == 0:
        raise ValueError("shared_expert_ranks, num_experts: every token copy stays local, nothing to send")
    # Staggered peer order (see the module docstring): dispatch by source, then by how far right
    # of it the destination is; combine the same way seen from the combine sender (the expert
    # rank), so at any position in their lists the senders' destinations differ.
    order = np.lexsort(((pd - ps) % n, ps))
    d_src, d_dst = ps[order], pd[order]
    order = np.lexsort(((ps - pd) % n, pd))
    c_src, c_dst = pd[order], ps[order]
    d_copies = count[d_src * n + d_dst]
    c_copies = count[c_dst * n + c_src]  # combine returns along the dispatch pair c_dst -> c_src

    k = len(ps)
    # Layout: dispatch [0, k), sync [k, k + m), combine [k + m, 2k + m), each list in its own
    # staggered order; deps and delays are indexed through the same arrays.
    senders = np.unique(pd)  # ranks that received dispatch traffic, hence send combine traffic
    m = len(senders)
    sync_of = np.full(n, -1, dtype=np.int64)
    sync_of[senders] = k + np.arange(m)
    combine_ids = k + m + np.arange(k)
    deps = np.concatenate([
        np.stack([np.arange(k), sync_of[d_dst]], axis=1),    # every dispatch into r -> r's sync
        np.stack([sync_of[c_src], combine_ids], axis=1),     # r's sync -> every combine from r
    ])
    msg_src = np.concatenate([d_src, senders, c_src])
    msg_dst = np.concatenate([d_dst, (senders + 1) % n, c_dst])
    for copies, per_token, field in ((d_copies, d_bytes, "dispatch_bytes"), (c_copies, c_bytes, "combine_bytes")):
        if len(copies) and int(copies.max()) * per_token > MAX_MESSAGE_BYTES:
            raise ValueError(
                f"{field}: {int(copies.max())} tokens x {per_token} bytes between two ranks is more than "
                f"2**48 bytes, the largest message; lower tokens_per_rank or the bytes per token"
            )
    size = np.concatenate([d_copies * d_bytes, np.ones(m, dtype=np.int64), c_copies * c_bytes])
    phase = np.repeat(np.arange(3, dtype=np.uint8), [k, m, k])
    return to_workload(
        ranks, msg_src, msg_dst, size, deps, step=phase, phase=phase, name="moe",
        algorithm="dedup" if dedup else "per_expert",
        size_bytes=max(1, int(round(int(d_copies.sum()) * (d_bytes + c_bytes) / n))),
        bus_factor=1.0, phase_names=("dispatch", "sync", "combine"),
        delay_ps=np.concatenate([np.zeros(k + m, dtype=np.uint64), delay[c_src]]),
        info={
            "dispatch_bytes_per_token": d_bytes,
            "combine_bytes_per_token": c_bytes,
            "slot_rank": slot_rank,
            "slot_expert": slot_expert,
            "slot_load": np.bincount(slot.reshape(-1), minlength=len(slot_expert)),
            "local_fraction": 1.0 - int(remote.sum()) / int(keep.sum()),
            "ranks_without_expert": hosts - len(np.unique(slot_rank)),
        },
    )
