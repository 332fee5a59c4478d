"""The pure-numpy formulation of MoE gating: the oracle for the Cython kernel behind
``podsim.workloads.moe._gate`` (same draws, same arithmetic, so the same picks), and the
baseline of its speed-up (``python tests/gating_reference.py``)."""

from __future__ import annotations

import time

import numpy as np

from podsim.workloads.moe import expert_distribution


def gate(rng: np.random.Generator, tokens: int, experts: int, top_k: int, skew: float) -> tuple[np.ndarray, np.ndarray]:
    """``top_k`` distinct experts per token and each expert's probability, vectorised over tokens."""
    prob, begin, cdf = expert_distribution(rng, experts, skew)
    out = np.empty((tokens, top_k), dtype=np.int64)
    for j in range(top_k):
        rows = np.arange(tokens)
        while len(rows):
            taken = np.sort(out[rows, :j], axis=1)
            x = rng.random(len(rows)) * (1.0 - prob[taken].sum(axis=1))
            for c in range(j):
                x += np.where(begin[taken[:, c]] <= x, prob[taken[:, c]], 0.0)
            pick = np.minimum(np.searchsorted(cdf, x, side="right"), experts - 1)
            out[rows, j] = pick
            rows = rows[(taken == pick[:, None]).any(axis=1)]
    return out, prob


def main() -> None:
    """Time both on the biggest case of the README (768 ranks x 4096 tokens, top-8 of 256)."""
    from podsim.workloads.moe import _gate

    tokens = 768 * 4096
    for name, fn in (("numpy", gate), ("cython", _gate)):
        t0 = time.perf_counter()
        fn(np.random.default_rng(1), tokens, 256, 8, 1.0)
        print(f"{name}: {time.perf_counter() - t0:.2f} s for {tokens:,} tokens")


if __name__ == "__main__":
    main()
