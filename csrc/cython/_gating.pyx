# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The per-token inner loop of MoE gating (podsim.workloads.moe._gate), over typed memoryviews.

One call places column ``j`` (the j-th expert of each token) for the given rows, by inverse CDF
over the mass of the experts the token has not taken yet: the point ``u * (1 - taken mass)`` is
mapped back onto the full CDF by skipping the taken experts' intervals in ascending order. The
arithmetic follows the numpy formulation operation for operation (taken masses summed in
ascending expert order, the same products and comparisons), so both give identical picks for the
same uniforms. Rows whose point rounds onto a taken expert's interval edge are returned to be
drawn again, as the numpy version does.
"""


def gate_column(long long[:, ::1] out, Py_ssize_t j, const long long[::1] rows, const double[::1] u,
                const double[::1] prob, const double[::1] begin, const double[::1] cdf,
                long long[::1] taken, long long[::1] again):
    """Write out[rows[i], j] for every i; return how many rows were written to ``again``.

    ``taken`` is scratch of at least ``j`` entries; ``again`` has room for ``len(rows)``.
    """
    cdef Py_ssize_t i, c, d, lo, n, half, r
    cdef Py_ssize_t experts = cdf.shape[0]
    cdef Py_ssize_t n_again = 0
    cdef long long e, pick
    cdef double mass, x
    cdef bint clash
    for i in range(rows.shape[0]):
        r = rows[i]
        # The row's taken experts, ascending (insertion sort: j is at most top_k - 1).
        for c in range(j):
            e = out[r, c]
            d = c
            while d > 0 and taken[d - 1] > e:
                taken[d] = taken[d - 1]
                d -= 1
            taken[d] = e
        mass = 0.0
        for c in range(j):
            mass = mass + prob[taken[c]]
        x = u[i] * (1.0 - mass)
        for c in range(j):
            if begin[taken[c]] <= x:
                x = x + prob[taken[c]]
        # First index whose cumulative probability exceeds x (numpy.searchsorted, side="right"),
        # by a branch-free halving search: the comparisons are coin flips a predictor cannot learn.
        lo = 0
        n = experts
        while n > 1:
            half = n >> 1
            lo = lo + half if cdf[lo + half - 1] <= x else lo
            n -= half
        lo = lo + 1 if cdf[lo] <= x else lo
        pick = lo if lo < experts else experts - 1
        out[r, j] = pick
        clash = False
        for c in range(j):
            if taken[c] == pick:
                clash = True
        if clash:
            again[n_again] = r
            n_again += 1
    return n_again
