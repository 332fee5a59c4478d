"""Tests of podsim.workloads: closed forms of every generator, data-flow correctness of every
collective algorithm, and engine runs on toy fabrics (one big switch = ideal full bisection)."""

from __future__ import annotations

import hashlib
import math
from types import SimpleNamespace

import numpy as np
import pytest

import podsim
from podsim import workloads as W
from podsim.workloads import collectives as C
from podsim.workloads.synthetic import PATTERNS as SYNTHETIC_PATTERNS

RATE = 50e9  # bytes/s per direction of every toy link
LINK_PS = 10_000
SWITCH_PS = 100_000


def star(n: int, *, buffer_bytes: int = 1 << 20) -> tuple[podsim.Topology, np.ndarray]:
    """n endpoints on one switch with large buffers: an ideal full-bisection fabric."""
    t = podsim.Topology()
    eps = np.array([t.add_endpoint(f"e{i}") for i in range(n)])
    s = t.add_switch("s", latency_ps=SWITCH_PS, buffer_bytes=buffer_bytes)
    for e in eps:
        t.connect(int(e), s, rate_Bps=RATE, latency_ps=LINK_PS)
    return t, eps


def clos(leaves: int, hosts: int, spines: int) -> tuple[podsim.Topology, np.ndarray, np.ndarray]:
    """A two-level Clos: ``hosts`` endpoints per leaf, every leaf linked to every spine at
    ``hosts / spines`` times the host rate (full bisection). Returns topology, ranks, leaf per rank."""
    t = podsim.Topology()
    top = [t.add_switch(f"spine{k}", latency_ps=SWITCH_PS, buffer_bytes=1 << 20) for k in range(spines)]
    ranks, group = [], []
    for leaf in range(leaves):
        sw = t.add_switch(f"leaf{leaf}", latency_ps=SWITCH_PS, buffer_bytes=1 << 20)
        for k in top:
            t.connect(sw, k, rate_Bps=RATE * hosts / spines, latency_ps=LINK_PS)
        for h in range(hosts):
            e = t.add_endpoint(f"leaf{leaf}/h{h}")
            t.connect(e, sw, rate_Bps=RATE, latency_ps=LINK_PS)
            ranks.append(e)
            group.append(leaf)
    return t, np.array(ranks), np.array(group)


class FakeSystem:
    """Duck-typed stand-in for podsim's System: n ranks on a star, groups of ``g``."""

    def __init__(self, n: int, g: int) -> None:
        self.topology, self.ranks = star(n)
        self.rank_group = np.arange(n) // g
        self.name = f"toy{n}"


def per_rank(wl: W.Workload, side: str, mask: np.ndarray | None = None) -> np.ndarray:
    """Payload bytes per rank (rank order; the tests' rank ids ascend) by ``side`` "src" or "dst"."""
    pos = np.searchsorted(wl.ranks, getattr(wl, side))
    w = np.where(True if mask is None else mask, wl.size, 0).astype(float)
    return np.bincount(pos, weights=w, minlength=len(wl.ranks))


def sent(wl: W.Workload, mask: np.ndarray | None = None) -> np.ndarray:
    """Payload bytes sent per rank."""
    return per_rank(wl, "src", mask)


def received(wl: W.Workload, mask: np.ndarray | None = None) -> np.ndarray:
    """Payload bytes received per rank."""
    return per_rank(wl, "dst", mask)


def in_phase(wl: W.Workload, name: str) -> np.ndarray:
    return wl.phase == wl.phase_names.index(name)


# --- closed forms: message counts and bytes per endpoint ---------------------------------------

NS = [2, 3, 5, 8, 12, 16]
CHUNKS = [1, 3]


@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("unit", [1, 1000, 65536])
def test_ring_all_reduce_closed_form(n: int, chunks: int, unit: int) -> None:
    S = n * chunks * unit
    wl = W.all_reduce(np.arange(n) + 7, S, algorithm="ring", chunks=chunks)
    assert len(wl) == 2 * (n - 1) * n * chunks
    np.testing.assert_array_equal(sent(wl), 2 * (n - 1) / n * S)
    np.testing.assert_array_equal(received(wl), 2 * (n - 1) / n * S)
    np.testing.assert_array_equal(wl.dst - 7, (wl.src - 7 + 1) % n)  # the ring
    assert wl.bus_factor == pytest.approx(2 * (n - 1) / n)
    assert wl.size_bytes == S


@pytest.mark.parametrize("algorithm", ["ring", "tree", "rhd", "hierarchical"])
@pytest.mark.parametrize("S", [4 * 8 * 2 * 3 + 5, 1_000_003])
def test_uneven_sizes_split_exactly(algorithm: str, S: int) -> None:
    """Sizes that do not divide evenly: totals stay exact, per-rank bytes within rounding."""
    n, chunks = 8, 3
    wl = W.all_reduce(FakeSystem(n, 4), S, algorithm=algorithm, chunks=chunks)
    assert wl.total_bytes == 2 * (n - 1) * S
    assert wl.size.min() >= 1
    if algorithm != "tree":  # the double tree's per-rank bytes depend on its shape (tested above)
        assert np.abs(sent(wl) - 2 * (n - 1) / n * S).max() <= 2 * (n - 1) * chunks
    df = wl.to_pandas()
    assert list(df["phase"].unique()) == [p for p in wl.phase_names if (wl.phase == wl.phase_names.index(p)).any()]


@pytest.mark.parametrize("op", ["all_gather", "reduce_scatter"])
@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("algorithm", ["ring", "rhd"])
def test_gather_scatter_closed_form(op: str, n: int, algorithm: str) -> None:
    S = n * 3 * 512
    fn = getattr(W, op)
    if algorithm == "rhd" and n & (n - 1):
        with pytest.raises(ValueError, match="power-of-two"):
            fn(np.arange(n), S, algorithm=algorithm)
        return
    wl = fn(np.arange(n), S, algorithm=algorithm, chunks=3)
    steps = n - 1 if algorithm == "ring" else int(math.log2(n))
    assert len(wl) == steps * n * 3
    np.testing.assert_array_equal(sent(wl), (n - 1) / n * S)
    np.testing.assert_array_equal(received(wl), (n - 1) / n * S)
    assert wl.bus_factor == pytest.approx((n - 1) / n)


@pytest.mark.parametrize("n", NS + [6, 7, 13])
@pytest.mark.parametrize("S", [4096, 1 << 20, 999_983])
def test_rhd_all_reduce_closed_form(n: int, S: int) -> None:
    wl = W.all_reduce(np.arange(n), S, algorithm="rhd")
    m = 1 << (n.bit_length() - 1)
    r = n - m
    assert len(wl) == 2 * int(math.log2(m)) * m + 2 * r
    assert wl.total_bytes == 2 * (n - 1) * S  # folding adds 2r full buffers: 2(m-1) + 2r = 2(n-1)
    if S % m == 0:
        expect = np.full(n, 2 * (m - 1) / m * S)
        expect[0 : 2 * r : 2] = S  # folded ranks only send their buffer in
        expect[1 : 2 * r : 2] += S  # their partners also send the result back
        np.testing.assert_array_equal(sent(wl), expect)


@pytest.mark.parametrize("n", NS + [7, 31])
@pytest.mark.parametrize("chunks", CHUNKS)
def test_double_tree_closed_form(n: int, chunks: int) -> None:
    S = 2 * chunks * 640
    wl = W.all_reduce(np.arange(n), S, algorithm="tree", chunks=chunks)
    assert len(wl) == 2 * 2 * (n - 1) * chunks
    assert wl.total_bytes == 2 * (n - 1) * S
    up, down = in_phase(wl, "reduce"), in_phase(wl, "broadcast")
    # Each rank sends up once per tree and receives the result once per tree, except the two roots.
    up_sent, down_got = sent(wl, up), received(wl, down)
    assert sorted(set(up_sent.tolist())) == ([S / 2, S] if n > 2 else [S / 2])
    assert np.count_nonzero(up_sent == S / 2) == 2 and np.array_equal(up_sent, down_got)
    # Double-tree property: no rank is interior in both trees, so nobody sends more than 2S.
    assert sent(wl).max() <= 2 * S


def test_chains_and_trees_are_pipelined_by_default() -> None:
    """A chain or tree unpipelined sends all the data hop after hop: by default it is cut in 512
    KiB chunks of S; rings stay whole."""
    S = 64 << 20
    for op, algorithm in (("all_reduce", "tree"), ("broadcast", "ring"), ("broadcast", "tree"), ("reduce", "ring")):
        assert getattr(W, op)(np.arange(8), S, algorithm=algorithm).info["chunks"] == S // C.AUTO_CHUNK_BYTES, op
    assert W.broadcast(np.arange(8), S + 1).info["chunks"] == S // C.AUTO_CHUNK_BYTES + 1  # rounded up
    assert W.all_reduce(np.arange(8), 6, algorithm="tree").info["chunks"] == 1
    for op in ("all_reduce", "all_gather", "reduce_scatter"):
        assert getattr(W, op)(np.arange(8), S).info["chunks"] == 1
    assert W.all_reduce(np.arange(8), S, algorithm="rhd").info["chunks"] == 1
    assert W.broadcast(np.arange(8), S, chunks=1).info["chunks"] == 1


@pytest.mark.parametrize(("n", "g"), [(4, 2), (8, 4), (12, 3), (16, 4), (6, 6), (6, 1)])
def test_hierarchical_closed_form(n: int, g: int) -> None:
    G = n // g
    S = n * 2 * 100
    sysobj = FakeSystem(n, g)
    wl = W.all_reduce(sysobj, S, algorithm="hierarchical", chunks=2)
    assert len(wl) == 2 * n * 2 * (g - 1 + G - 1)
    np.testing.assert_allclose(sent(wl), 2 * (g - 1) / g * S + 2 * (G - 1) / (g * G) * S)
    grp = sysobj.rank_group[np.searchsorted(wl.ranks, wl.src)], sysobj.rank_group[np.searchsorted(wl.ranks, wl.dst)]
    inter = in_phase(wl, "inter_all_reduce")
    assert np.all(grp[0][inter] != grp[1][inter]) and np.all(grp[0][~inter] == grp[1][~inter])


@pytest.mark.parametrize("op", ["broadcast", "reduce"])
@pytest.mark.parametrize("algorithm", ["ring", "tree"])
@pytest.mark.parametrize(("n", "root"), [(2, 1), (5, 3), (8, 0), (13, 12)])
def test_rooted_closed_form(op: str, algorithm: str, n: int, root: int) -> None:
    S = 4 * 777
    wl = getattr(W, op)(np.arange(n), S, root=root, algorithm=algorithm, chunks=4)
    assert len(wl) == (n - 1) * 4 and wl.total_bytes == (n - 1) * S and wl.bus_factor == 1.0
    moved = received(wl) if op == "broadcast" else sent(wl)
    expect = np.full(n, float(S))
    expect[root] = 0
    np.testing.assert_array_equal(moved, expect)


@pytest.mark.parametrize("n", [2, 5, 16])
def test_all_to_all_uniform_and_matrix(n: int) -> None:
    wl = W.all_to_all(np.arange(n), 1000)
    assert len(wl) == n * (n - 1) and wl.size_bytes == n * 1000
    np.testing.assert_array_equal(sent(wl), (n - 1) * 1000)
    assert len(wl.deps) == 0 and wl.bus_factor == pytest.approx((n - 1) / n)
    mat = np.random.default_rng(n).integers(0, 5000, size=(n, n))
    mat[0, n - 1] = 0
    wm = W.all_to_all(np.arange(n), matrix=mat)
    off = mat * (1 - np.eye(n, dtype=int))
    assert len(wm) == np.count_nonzero(off)
    np.testing.assert_array_equal(wm.size, off[wm.src, wm.dst])
    np.testing.assert_array_equal(sent(wm), off.sum(axis=1))
    assert wm.size_bytes == round(mat.sum() / n)
    assert wm.bus_factor == pytest.approx(off.sum() / mat.sum())


def test_a_matrix_of_the_uniform_traffic_has_its_busbw() -> None:
    """The same messages as a uniform all-to-all, given as a matrix with a zero diagonal, must not
    report a lower busbw: it used to be (n-1)/n of it."""
    hgx = podsim.system("hgx-h100")
    mat = np.full((8, 8), 65536)
    np.fill_diagonal(mat, 0)
    uniform, given = W.all_to_all(hgx, 65536), W.all_to_all(hgx, matrix=mat)
    a, b = (wl.evaluate(podsim.simulate(hgx, wl)) for wl in (uniform, given))
    assert a.time_s == b.time_s and b.busbw_Bps == pytest.approx(a.busbw_Bps)


def test_size_limits_name_what_the_caller_gave() -> None:
    """Too large a total or message is refused naming the caller's arguments, not an internal column."""
    s = podsim.system("hgx-h100")
    with pytest.raises(ValueError, match=r"iterations: 65537 messages x size_bytes 281474976710656 is 2\*\*64"):
        podsim.workloads.point_to_point(s, 1 << 48, iterations=(1 << 16) + 1)
    with pytest.raises(ValueError, match=r"dispatch_bytes: 1048576 tokens x 1073741824 bytes between two ranks"):
        podsim.workloads.moe(s.ranks[:2], 1 << 20, num_experts=1, top_k=1, redundant_experts=0,
                             dispatch_bytes=1 << 30)


def test_totals_beyond_64_bits_are_exact() -> None:
    """NumPy's 64-bit sums wrapped silently: 200 ranks with 2**48 bytes per pair reported S = 1 B."""
    wl = podsim.workloads.all_to_all(list(range(200)), 1 << 48)
    assert wl.size_bytes == 200 * (1 << 48)
    msgs = podsim.Messages(src=[4] * 65537, dst=[5] * 65537, size=1 << 48)
    assert msgs.total_bytes == 65537 * (1 << 48)


@pytest.mark.parametrize("n", [2, 5, 16])
def test_all_to_all_ranks_list_their_peers_staggered(n: int) -> None:
    # Rank i's k-th message goes to i + k + 1: at each list position the destinations differ, so
    # the ranks do not all send to the same rank at once (the engine starts them in list order).
    for wl in (W.all_to_all(np.arange(n), 1000), W.all_to_all(np.arange(n), matrix=np.ones((n, n), dtype=int))):
        src = np.asarray(wl.src).reshape(n, n - 1)
        dst = np.asarray(wl.dst).reshape(n, n - 1)
        np.testing.assert_array_equal(src, np.repeat(np.arange(n)[:, None], n - 1, axis=1))
        np.testing.assert_array_equal(dst, (np.arange(n)[:, None] + np.arange(1, n)) % n)
        np.testing.assert_array_equal(np.asarray(wl.tag).reshape(n, n - 1), np.tile(np.arange(1, n), (n, 1)))


# --- data-flow correctness: follow what each message can carry through its dependencies --------


def flow(t: C.Template, init: list[list[int]]) -> list[list[int]]:
    """Contributions (bitmask of ranks) each rank holds per unit at the end, where a message carries
    only what its sender started with or received by messages among its dependency ancestors."""
    src, dst, lo, hi, _, _, deps = t.columns()
    parents: list[list[int]] = [[] for _ in range(t.count)]
    for b, a in deps:
        parents[a].append(int(b))
    anc = [0] * t.count
    carried: list[dict[int, int]] = [{} for _ in range(t.count)]
    done: set[int] = set()
    order = []
    while len(order) < t.count:  # Kahn's order (templates are small)
        ready = [m for m in range(t.count) if m not in done and all(p in done for p in parents[m])]
        assert ready, "dependency cycle"
        done.update(ready)
        order.extend(ready)
    for m in order:
        for p in parents[m]:
            anc[m] |= anc[p] | (1 << p)
        know = list(init[src[m]])
        for a in range(t.count):
            if anc[m] >> a & 1 and dst[a] == src[m]:
                for u, bits in carried[a].items():
                    know[u] |= bits
        carried[m] = {u: know[u] for u in range(lo[m], hi[m])}
    final = [list(row) for row in init]
    for m in range(t.count):
        for u, bits in carried[m].items():
            final[dst[m]][u] |= bits
    return final


def own_all(n: int, den: int) -> list[list[int]]:
    return [[1 << r] * den for r in range(n)]


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7, 8, 12])
@pytest.mark.parametrize("algorithm", ["ring", "tree", "rhd", "hierarchical"])
def test_all_reduce_data_flow(n: int, algorithm: str) -> None:
    if algorithm == "hierarchical":
        g = 2 if n % 2 == 0 else n
        t = C._hierarchical(n, np.arange(n) // g)
    else:
        t = {"ring": lambda: C._ring(n, "all_reduce"), "tree": lambda: C._double_tree(n),
             "rhd": lambda: C._rhd(n, "all_reduce")}[algorithm]()
    final = flow(t, own_all(n, t.den))
    assert all(bits == (1 << n) - 1 for row in final for bits in row)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8])
def test_gather_scatter_rooted_data_flow(n: int) -> None:
    full = (1 << n) - 1
    # all-gather: rank i starts with unit i only.
    for t in [C._ring(n, "all_gather")] + ([C._rhd(n, "all_gather")] if n & (n - 1) == 0 else []):
        init = [[(1 << r) if u == r else 0 for u in range(n)] for r in range(n)]
        assert all(row == [1 << u for u in range(n)] for row in flow(t, init))
    # reduce-scatter: every unit ends fully reduced at exactly the rank that owns it.
    for t, owner in [(C._ring(n, "reduce_scatter"), lambda r: (r + 1) % n)] + (
        [(C._rhd(n, "reduce_scatter"), lambda r: r)] if n & (n - 1) == 0 else []
    ):
        final = flow(t, own_all(n, n))
        assert all(final[r][owner(r)] == full for r in range(n))
    for algorithm in ("ring", "tree"):
        root = n - 1
        b = flow(C._rooted(n, root, "broadcast", algorithm), [[1 if r == root else 0] for r in range(n)])
        assert all(row == [1] for row in b)
        assert flow(C._rooted(n, root, "reduce", algorithm), own_all(n, 1))[root] == [full]


@pytest.mark.parametrize("algorithm", ["ring", "tree", "rhd", "hierarchical"])
def test_dependencies_follow_data_and_window(algorithm: str) -> None:
    n, chunks, window = 8, 5, 2
    wl = W.all_reduce(FakeSystem(n, 4), 1 << 16, algorithm=algorithm, chunks=chunks, window=window)
    per_chunk = len(wl) // chunks
    b, a = wl.deps[:, 0].astype(np.int64), wl.deps[:, 1].astype(np.int64)
    windowed = a - b == window * per_chunk
    # Window dependencies link the same transfer in chunks c - window and c ...
    assert windowed.sum() == (chunks - window) * per_chunk
    assert np.all(wl.src[b[windowed]] == wl.src[a[windowed]]) and np.all(wl.dst[b[windowed]] == wl.dst[a[windowed]])
    # ... every other one is data a message's sender needed (it arrived at that sender) or, in
    # step-synchronous algorithms, the sender's previous send (program order).
    data = wl.dst[b] == wl.src[a]
    order = (wl.src[b] == wl.src[a]) & (algorithm != "tree")
    assert np.all((data | order)[~windowed])
    assert np.all(b[~windowed] // per_chunk == a[~windowed] // per_chunk)
    no_window = W.all_reduce(FakeSystem(n, 4), 1 << 16, algorithm=algorithm, chunks=chunks, window=None)
    assert len(no_window.deps) == len(wl.deps) - windowed.sum()


def test_binary_tree_is_a_balanced_tree() -> None:
    for n in range(1, 200):
        parent = C.binary_tree(n)
        assert np.count_nonzero(parent < 0) == 1
        assert np.all(np.bincount(parent[parent >= 0], minlength=n) <= 2)
        assert C.depths(parent).max() == int(math.log2(n))  # height of a balanced tree
        odd_positions = np.arange(0, n, 2)  # 1-based odd positions are leaves
        assert not np.isin(odd_positions, parent).any()


# --- input validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda: W.all_reduce([0], 100), ValueError, "ranks"),
        (lambda: W.all_reduce([0, 1, 1], 100), ValueError, "ranks"),
        (lambda: W.all_reduce("ab", 100), TypeError, "ranks"),
        (lambda: W.all_reduce([0, 1], 0), ValueError, "size_bytes"),
        (lambda: W.all_reduce([0, 1, 2], 5, chunks=2), ValueError, "size_bytes"),
        (lambda: W.all_reduce([0, 1], 100, algorithm="magic"), ValueError, "algorithm"),
        (lambda: W.all_reduce([0, 1], 100, chunks=0), ValueError, "chunks"),
        (lambda: W.all_reduce([0, 1], 100, window=0), ValueError, "window"),
        (lambda: W.all_reduce([0, 1, 2, 3], 100, algorithm="hierarchical"), ValueError, "groups"),
        (lambda: W.all_reduce([0, 1, 2], 300, algorithm="hierarchical", groups=[0, 0, 1]), ValueError, "groups"),
        (lambda: W.all_gather([0, 1, 2], 300, algorithm="rhd"), ValueError, "power-of-two"),
        (lambda: W.broadcast([0, 1, 2], 300, root=3), ValueError, "root"),
        (lambda: W.all_to_all([0, 1]), ValueError, "bytes_per_pair"),
        (lambda: W.all_to_all([0, 1], matrix=[[0, 1]]), ValueError, "matrix"),
        (lambda: W.all_to_all([0, 1], matrix=[[5, 0], [0, 5]]), ValueError, "matrix"),
        (lambda: W.all_to_all([0, 1], matrix=[[0, -1], [1, 0]]), ValueError, "matrix"),
        (lambda: W.moe([0, 1], 0), ValueError, "tokens_per_rank"),
        (lambda: W.moe([0, 1], 4, top_k=9, num_experts=8), ValueError, r"top_k: must be in \[1, num_experts=8\], got 9"),
        (lambda: W.moe([0, 1], 4, skew=-1.0), ValueError, "skew"),
        (lambda: W.moe([0, 1], 4, shared_expert_ranks=2), ValueError, "shared_expert_ranks"),
        (lambda: W.moe([0, 1], 4, dedup=1), TypeError, "dedup"),
        (lambda: W.token_bytes(dtype="int4"), ValueError, "dtype"),
        (lambda: W.moe([0, 1], 4, combine_dtype="fp4"), ValueError, "combine_dtype"),
        (lambda: W.moe([0, 1], 4, dispatch_bytes=0), ValueError, "dispatch_bytes"),
        (lambda: W.moe([0, 1], 4, compute_delay_ps=[1, 2, 3]), ValueError, "compute_delay_ps"),
        (lambda: W.synthetic([0, 1], "hotspot", message_bytes=64, load=0.5, duration_s=1e-6, rate_Bps=1e9, hot_fraction=2), ValueError, "hot_fraction"),
        (lambda: W.point_to_point([0, 1], pattern="bandwidth", iterations=4, window=5), ValueError, "window"),
        (lambda: W.point_to_point([0, 1], peer=0), ValueError, "peer"),
        (lambda: W.point_to_point([0, 1], pattern="ping_pong", kind="read"), ValueError, "kind"),
        (lambda: W.point_to_point([0, 1], pattern="flood"), ValueError, "pattern"),
        (lambda: W.synthetic([0, 1], "uniform", message_bytes=64, load=0.5, duration_s=1e-6), ValueError, "rate_Bps"),
        (lambda: W.synthetic([0, 1], "uniform", message_bytes=64, load=1.5, duration_s=1e-6, rate_Bps=1e9), ValueError, "load"),
        (lambda: W.synthetic([0, 1, 2], "bisection", message_bytes=64, load=0.5, duration_s=1e-6, rate_Bps=1e9), ValueError, "even"),
        (lambda: W.synthetic([0, 1], "tornado", message_bytes=64, load=0.5, duration_s=1e-6, rate_Bps=1e9), ValueError, "pattern"),
        (lambda: W.synthetic([0, 1], "uniform", message_bytes=64, load=1.0, duration_s=1.0, rate_Bps=1e12), ValueError, "duration_s"),
        (lambda: W.synthetic([0, 1], "uniform", message_bytes=64, load=1.0, duration_s=2e3, rate_Bps=1e9), ValueError,
         r"duration_s: must be a finite number in \(0, 1000\] s, got 2000.0"),
        (lambda: W.Workload([0], [1], 8, name="w", algorithm="a", ranks=[0, 1], size_bytes=8, bus_factor=1.0,
                            phase=[299], phase_names=[f"p{i}" for i in range(300)]),
         ValueError, "phase_names: must name 1 to 256 phases, got 300"),
        (lambda: W.Workload([0], [1], 8, name="w", algorithm="a", ranks=[0, 1], size_bytes=8, bus_factor=1.0,
                            phase_names="dispatch"), TypeError, "phase_names: expected a sequence of names"),
        (lambda: W.Workload([0], [1], 8, name="w", algorithm="a", ranks=[0, 1], size_bytes=8, bus_factor=1.0, info=5),
         TypeError, "info: expected a dict"),
        (lambda: W.point_to_point([0, 1], pattern="latency", window=-1), ValueError, "window: applies to pattern='bandwidth' only"),
        (lambda: W.Workload([4], [6], 8, name="w", algorithm="a", ranks=[6, 7], size_bytes=8, bus_factor=1.0),
         ValueError, r"src: message 0's endpoint 4 is not one of ranks \(1 such messages\)"),
    ],
)
def test_bad_input_names_the_field(call, error: type, field: str) -> None:
    with pytest.raises(error, match=field):
        call()


# --- engine runs ------------------------------------------------------------------------------


def test_ring_all_reduce_busbw_approaches_link_rate() -> None:
    t, eps = star(8)
    busbw = {}
    for S in (1 << 14, 1 << 24):
        wl = W.all_reduce(eps, S, algorithm="ring", chunks=4)
        busbw[S] = wl.evaluate(podsim.simulate(t, wl)).busbw_Bps
    payload_share = (4096 - 32) / 4096  # per-packet headers are not payload
    assert busbw[1 << 24] == pytest.approx(RATE * payload_share, rel=0.03)
    assert busbw[1 << 24] <= RATE
    assert busbw[1 << 14] < 0.7 * busbw[1 << 24]  # small sizes are latency-bound


@pytest.mark.parametrize("algorithm", ["tree", "rhd", "hierarchical"])
def test_other_all_reduce_algorithms_run_and_respect_link_rate(algorithm: str) -> None:
    sysobj = FakeSystem(8, 4)
    wl = W.all_reduce(sysobj, 1 << 20, algorithm=algorithm, chunks=2)
    res = podsim.simulate(sysobj, wl)
    st = wl.evaluate(res)
    assert res.complete and 0.2 * RATE < st.busbw_Bps <= RATE
    assert st.time_s * 1e12 == pytest.approx(res.messages.delivered_ps.max() - res.messages.start_ps.min())
    assert st.busbw_Bps == pytest.approx(st.algbw_Bps * 2 * 7 / 8)
    assert sum(p.messages for p in st.phases.values()) == len(wl)


@pytest.mark.parametrize(
    "make",
    [
        lambda r, g: W.all_reduce(r, 1 << 18, algorithm="hierarchical", groups=g, chunks=2),
        lambda r, g: W.all_reduce(r, 1 << 18, algorithm="rhd"),
        lambda r, g: W.all_to_all(r, 1 << 14),
        lambda r, g: W.moe(r, 16, seed=2),
        lambda r, g: W.synthetic(r, "bisection", message_bytes=4096, load=0.5, duration_s=5e-6, rate_Bps=RATE),
    ],
)
def test_workloads_complete_on_a_two_level_clos(make) -> None:
    t, ranks, group = clos(4, 4, 2)
    wl = make(ranks, group)
    res = podsim.simulate(t, wl, routing="adaptive")
    st = wl.evaluate(res)
    assert res.complete and res.ledger.balanced and st.time_s > 0
    assert sum(p.messages for p in st.phases.values()) == len(wl)
    assert int(res.ledger.delivered_bytes.sum()) == wl.total_bytes


def test_evaluate_checks_the_result_and_offsets() -> None:
    t, eps = star(4)
    a = W.all_to_all(eps, 4096)
    b = W.all_reduce(eps, 4096)
    sim = podsim.Simulation(t)
    sim.add(a)
    ids = sim.add(b)
    sim.run()
    res = sim.result()
    st = b.evaluate(res, first_id=int(ids[0]))
    assert st.time_s > 0
    with pytest.raises(ValueError, match="result"):
        b.evaluate(res)  # the first messages are the all-to-all's
    with pytest.raises(TypeError, match="result"):
        b.evaluate(None)


def test_rank_send_rate_is_credited_to_the_sender(nv: podsim.System) -> None:
    """A ring broadcast of 1 MiB from rank 0 in one chunk is the chain 0 -> 1 -> 2 -> 3: the last
    rank only receives, so it sent nothing (0 by definition); rank 0 sent the whole buffer in its
    one message, so its rate is S over that message's start to delivery."""
    size = 1 << 20
    wl = W.broadcast(nv.ranks[:4], size, chunks=1)
    res = podsim.simulate(nv, wl)
    send = wl.evaluate(res).phases["broadcast"].rank_send_Bps
    m = res.messages
    first = np.flatnonzero(m.src == nv.ranks[0])
    assert len(first) == 1 and m.size[first[0]] == size
    span_s = (int(m.delivered_ps[first[0]]) - int(m.start_ps[first[0]])) * 1e-12
    assert send[0] == pytest.approx(size / span_s, rel=1e-12)
    assert send[3] == 0


def _one_way_ps(wire_bytes: int) -> int:
    ser = math.ceil(wire_bytes / RATE * 1e12)
    return 2 * (ser + LINK_PS) + SWITCH_PS  # store-and-forward through one switch


def test_point_to_point_latency_bandwidth_ping_pong() -> None:
    sysobj = FakeSystem(4, 2)
    lat = {}
    for kind in ("write", "read"):
        wl = W.point_to_point(sysobj, 512, pattern="latency", kind=kind, iterations=8)
        st = wl.evaluate(podsim.simulate(sysobj, wl))
        lat[kind] = st.phases["p2p"].mean_message_latency_s * 1e12
        # One message at a time: the run takes iterations one-way latencies.
        assert st.time_s * 1e12 == pytest.approx(8 * lat[kind], rel=1e-9)
    assert lat["write"] == pytest.approx(_one_way_ps(512 + 32), rel=0.02)
    # A read is a header-only request out, then the data back.
    assert lat["read"] == pytest.approx(_one_way_ps(32) + _one_way_ps(512 + 32), rel=0.02)
    pp = W.point_to_point(sysobj, 512, pattern="ping_pong", iterations=4, initiator=3, peer=0)
    assert len(pp) == 8 and set(zip(pp.src.tolist(), pp.dst.tolist())) == {(3, 0), (0, 3)}
    st = pp.evaluate(podsim.simulate(sysobj, pp))
    # Half a round trip is one write's latency, plus at most the previous write's acknowledgement
    # serializing ahead of the reply on the same link.
    half_rtt = st.phases["p2p"].mean_message_latency_s * 1e12
    assert lat["write"] <= half_rtt <= lat["write"] + math.ceil(32 / RATE * 1e12)
    for kind in ("write", "read"):
        bw = W.point_to_point(sysobj, 1 << 20, pattern="bandwidth", kind=kind, iterations=8, window=4)
        assert bw.size_bytes == 8 << 20
        got = bw.evaluate(podsim.simulate(sysobj, bw)).algbw_Bps
        assert RATE * 0.95 * (4096 - 32) / 4096 < got <= RATE
    # Without a window, 16 messages are in flight, or all of them when there are fewer.
    assert len(W.point_to_point(sysobj, 512, pattern="bandwidth", iterations=4).deps) == 0
    assert W.point_to_point(sysobj, 512, pattern="bandwidth", iterations=40).deps[:, 1].min() == 16


# --- synthetic ---------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", SYNTHETIC_PATTERNS)
def test_synthetic_patterns(pattern: str) -> None:
    n, size, load, dur = 16, 4096, 0.4, 20e-6
    sysobj = FakeSystem(n, 4)
    wl = W.synthetic(sysobj, pattern, message_bytes=size, load=load, duration_s=dur, seed=5, shift=3, hot_rank=2)
    src = np.searchsorted(wl.ranks, wl.src)
    dst = np.searchsorted(wl.ranks, wl.dst)
    senders = n - 1 if pattern == "incast" else n
    # Poisson arrivals: the count is within 5 standard deviations of load * rate * duration / size.
    expect = senders * load * RATE * dur / size
    assert abs(len(wl) - expect) < 5 * math.sqrt(expect)
    assert np.all(wl.delay_ps < dur * 1e12) and np.all(np.diff(wl.delay_ps.astype(np.int64)) >= 0)
    assert np.all(src != dst)
    if pattern == "permutation":
        partner = {}
        for s, d in zip(src.tolist(), dst.tolist()):
            assert partner.setdefault(s, d) == d
        assert len(set(partner.values())) == len(partner)
    elif pattern == "shift":
        assert np.all(dst == (src + 3) % n)
    elif pattern == "bisection":
        assert np.all((src < n // 2) != (dst < n // 2))
    elif pattern == "incast":
        assert np.all(dst == 2)
    elif pattern == "hotspot":
        assert 0.4 < np.mean(dst[src != 2] == 2) < 0.65  # half to the hotspot plus its uniform share
    elif pattern == "uniform":
        assert len(np.unique(dst)) == n
    again = W.synthetic(sysobj, pattern, message_bytes=size, load=load, duration_s=dur, seed=5, shift=3, hot_rank=2)
    np.testing.assert_array_equal(again.delay_ps, wl.delay_ps)
    np.testing.assert_array_equal(again.dst, wl.dst)
    other = W.synthetic(sysobj, pattern, message_bytes=size, load=load, duration_s=dur, seed=6, shift=3, hot_rank=2)
    assert len(other) != len(wl) or not np.array_equal(other.delay_ps, wl.delay_ps)


def test_synthetic_checks_shift_only_for_the_shift_pattern() -> None:
    args = dict(message_bytes=64, load=0.5, duration_s=1e-6, rate_Bps=1e9)
    assert len(W.synthetic([0, 1], "uniform", shift=5, **args)) > 0
    with pytest.raises(ValueError, match=r"shift: must be in \[1, 1\], got 5"):
        W.synthetic([0, 1], "shift", shift=5, **args)


def test_synthetic_uniform_below_saturation_is_accepted() -> None:
    sysobj = FakeSystem(8, 4)
    wl = W.synthetic(sysobj, "uniform", message_bytes=8192, load=0.3, duration_s=10e-6, seed=1)
    st = wl.evaluate(podsim.simulate(sysobj, wl))
    offered = wl.info["offered_Bps"].mean()
    assert offered == pytest.approx(0.3 * RATE)
    # Accepted throughput per rank ~ offered (the window also holds the last messages' latency).
    assert 0.7 * offered < st.algbw_Bps <= offered * 1.2


def test_synthetic_load_is_of_the_links_into_the_fabric() -> None:
    """A 910C die's link to its sibling die is not injection into the fabric: load 0.5 must offer
    half of its 7 x 28 GB/s UB links, not of those plus the 270 GB/s die-to-die link."""
    cm = podsim.system("cloudmatrix384")
    first_node = SimpleNamespace(ranks=cm.ranks[:16], topology=cm.topology)  # the ranks of one node
    wl = W.synthetic(first_node, "uniform", message_bytes=4096, load=0.5, duration_s=5e-6, seed=1)
    assert wl.info["offered_Bps"].mean() == pytest.approx(0.5 * 7 * 28e9, rel=0.02)


def test_synthetic_rate_must_be_one_or_one_per_rank() -> None:
    args = dict(message_bytes=64, load=0.5, duration_s=1e-6)
    with pytest.raises(ValueError, match=r"rate_Bps: expected one number or one per rank \(4\), got shape \(2,\)"):
        W.synthetic([0, 1, 2, 3], "uniform", rate_Bps=[1e9, 2e9], **args)
    with pytest.raises(TypeError, match="rate_Bps: expected a number or one per rank, got str"):
        W.synthetic([0, 1, 2, 3], "uniform", rate_Bps="1e9", **args)


# --- MoE ---------------------------------------------------------------------------------------


def test_moe_dtypes_set_bytes_per_token() -> None:
    bf16 = W.moe(np.arange(8), 8, dispatch_dtype="bf16", combine_dtype="fp32", seed=1)
    assert bf16.info["dispatch_bytes_per_token"] == 2 * 7168 + 8 * 8
    assert bf16.info["combine_bytes_per_token"] == 4 * 7168
    given = W.moe(np.arange(8), 8, hidden=4096, dispatch_bytes=4200, seed=1)
    assert given.info["dispatch_bytes_per_token"] == 4200 and given.info["combine_bytes_per_token"] == 8192


def test_token_bytes_closed_forms() -> None:
    assert W.token_bytes() == 7168 + 7168 // 128 * 4 + 8 * 8 == 7456  # ~7.5 KB INT8 dispatch
    assert W.token_bytes(dtype="fp8") == 7456
    assert W.token_bytes(dtype="bf16", top_k=0) == 14336  # ~14 KB BF16 combine
    assert W.token_bytes(4096, "int8", top_k=0, quant_group=4096) == 4096 + 4


@pytest.mark.parametrize("dedup", [True, False])
@pytest.mark.parametrize(("n", "shared"), [(8, 0), (16, 0), (10, 2)])
def test_moe_conservation_and_mirror(dedup: bool, n: int, shared: int) -> None:
    T, k = 32, 8
    wl = W.moe(np.arange(n) * 2, T, num_experts=64, top_k=k, shared_expert_ranks=shared, dedup=dedup, seed=3)
    d, s, c = (in_phase(wl, p) for p in ("dispatch", "sync", "combine"))
    db, cb = wl.info["dispatch_bytes_per_token"], wl.info["combine_bytes_per_token"]
    assert (db, cb) == (7456, 14336)
    copies = wl.size[d] // db
    assert np.all(wl.size[d] % db == 0)
    # Combine mirrors dispatch pair by pair (each phase listed in its own order, so compare sorted).
    there = np.stack([wl.src[d], wl.dst[d], copies], axis=1).astype(np.int64)
    back = np.stack([wl.dst[c], wl.src[c], wl.size[c] // cb], axis=1).astype(np.int64)
    np.testing.assert_array_equal(there[np.lexsort(there.T[::-1])], back[np.lexsort(back.T[::-1])])
    # Every routed copy is either sent or local; shared-expert copies add one per token.
    load = wl.info["slot_load"]
    assert load.sum() == n * T * k
    per_token = k + (1 if shared else 0)
    total = copies.sum() / (1 - wl.info["local_fraction"])
    if not dedup:
        assert total == pytest.approx(n * T * per_token)
    else:
        assert total <= n * T * per_token
    assert np.all(wl.info["slot_rank"] < n - shared)
    if shared:
        assert np.all(received(wl, d)[n - shared :] > 0)
    # Barrier: each expert rank's sync depends on all dispatch into it, its combines on the sync.
    sync_ids = np.flatnonzero(s)
    for sid in sync_ids:
        r = wl.src[sid]
        into = set(np.flatnonzero(d & (wl.dst == r)).tolist())
        assert set(wl.deps[wl.deps[:, 1] == sid, 0].tolist()) == into
        out = set(np.flatnonzero(c & (wl.src == r)).tolist())
        assert set(wl.deps[wl.deps[:, 0] == sid, 1].tolist()) == out
    assert wl.size[s].tolist() == [1] * len(sync_ids)


@pytest.mark.parametrize(("n", "shared", "dedup", "digest"), [(16, 0, True, "dad0476d71d84160"),
                                                              (10, 2, False, "e551442076301690")])
def test_moe_ranks_list_their_peers_staggered(n: int, shared: int, dedup: bool, digest: str) -> None:
    wl = W.moe(np.arange(n) * 2, 32, num_experts=64, skew=1.0, shared_expert_ranks=shared, dedup=dedup,
               compute_delay_ps=np.arange(n) * 1000, seed=3)
    src, dst = wl.src.astype(np.int64) // 2, wl.dst.astype(np.int64) // 2
    for name in ("dispatch", "combine"):
        p = in_phase(wl, name)
        # Listed by sender, then by how far right of the sender the receiver is: at each position
        # of their lists the senders target different ranks (the engine starts them in list order).
        key = src[p] * n + (dst[p] - src[p]) % n
        assert np.all(np.diff(key) > 0)
    c = in_phase(wl, "combine")
    np.testing.assert_array_equal(wl.delay_ps[c], src[c] * 1000)  # the combine sender's compute delay
    # Only the order changed: the sorted (phase, src, dst, size, delay) rows hash to what the
    # rank-0-first generator (commit f3c0a3f) produced for the same arguments.
    rows = np.stack([wl.phase, wl.src, wl.dst, wl.size, wl.delay_ps], axis=1).astype("<i8")
    rows = np.ascontiguousarray(rows[np.lexsort(rows.T[::-1])])
    assert hashlib.sha256(rows.tobytes()).hexdigest()[:16] == digest


def test_moe_skew_and_redundant_experts() -> None:
    n, T = 32, 256
    flat = W.moe(np.arange(n), T, seed=1)
    hot = W.moe(np.arange(n), T, skew=1.5, seed=1)
    load_flat, load_hot = flat.info["slot_load"], hot.info["slot_load"]
    mean = n * T * 8 / 256
    assert load_flat.max() < 1.25 * mean  # uniform: binomial spread only
    assert load_hot.max() > 5 * mean  # Zipf: a hot expert
    spread = W.moe(np.arange(n), T, skew=1.5, redundant_experts=32, seed=1)
    sl, se = spread.info["slot_load"], spread.info["slot_expert"]
    assert len(sl) == 288 and len(np.unique(se)) == 256
    hottest = np.argmax(load_hot[:256])
    assert se[256] == hottest  # the first redundant copy replicates the hottest expert
    copies = sl[se == hottest]
    assert len(copies) == 2 and copies.min() > 0.35 * copies.sum()
    assert sl.max() < load_hot.max()
    again = W.moe(np.arange(n), T, skew=1.5, seed=1)
    np.testing.assert_array_equal(again.size, hot.size)
    assert not np.array_equal(W.moe(np.arange(n), T, skew=1.5, seed=2).size, hot.size)


def test_moe_gives_every_expert_rank_a_slot_by_default() -> None:
    """EP300 of 256 experts: 44 copies of the hottest experts by default, one slot per rank; without
    them 44 ranks would hold no expert and receive nothing."""
    filled = W.moe(np.arange(300), 4, seed=1)
    assert len(filled.info["slot_expert"]) == 300 and filled.info["ranks_without_expert"] == 0
    assert np.array_equal(np.unique(filled.info["slot_rank"]), np.arange(300))
    bare = W.moe(np.arange(300), 4, redundant_experts=0, seed=1)
    assert bare.info["ranks_without_expert"] == 44
    assert len(np.setdiff1d(np.arange(300), bare.dst[in_phase(bare, "dispatch")])) == 44  # they receive nothing
    shared = W.moe(np.arange(300), 4, shared_expert_ranks=20, seed=1)
    assert len(shared.info["slot_expert"]) == 280 and shared.info["ranks_without_expert"] == 0
    assert W.moe(np.arange(64), 4, seed=1).info["ranks_without_expert"] == 0  # 256 slots: 4 per rank


def test_moe_size_counts_dispatch_and_combine(nv: podsim.System) -> None:
    """S is what a rank sends in both phases. A dispatched INT8 token with top_k 2 is
    7168 + ceil(7168 / 128) * 4 + 2 * 8 = 7408 B (values, per-128 scales, expert ids and weights),
    a combined BF16 token 2 * 7168 = 14336 B. Two experts on two ranks, each token to both: one
    copy stays local and exactly one goes to the other rank (and comes back), so each rank sends
    4 * (7408 + 14336) = 86976 B; dispatch alone would be 4 * 7408 = 29632 B."""
    wl = W.moe(nv.ranks[:2], 4, num_experts=2, top_k=2)
    assert wl.info["dispatch_bytes_per_token"] == 7408
    assert wl.size_bytes == 86976


@pytest.mark.parametrize("ep", [8, 16, 32, 64, 72, 128, 256])
def test_moe_ep_degrees_generate(ep: int) -> None:
    wl = W.moe(np.arange(ep), 16, redundant_experts=32 if ep >= 64 else 0, seed=ep)
    assert np.all(np.isin(wl.src, wl.ranks)) and np.all(np.isin(wl.dst, wl.ranks))
    assert wl.info["slot_load"].sum() == ep * 16 * 8


def test_moe_phases_on_the_engine() -> None:
    sysobj = FakeSystem(16, 4)
    delay = 2_000_000
    wl = W.moe(sysobj, 32, compute_delay_ps=delay, seed=7)
    res = podsim.simulate(sysobj, wl)
    st = wl.evaluate(res)
    m = res.messages
    d, c = in_phase(wl, "dispatch"), in_phase(wl, "combine")
    # A rank's combine starts no earlier than its last dispatch arrival plus the compute delay.
    for r in wl.ranks:
        into = d & (wl.dst == r)
        out = c & (wl.src == r)
        if out.any():
            assert m.start_ps[out].min() >= m.delivered_ps[into].max() + delay
    disp, comb = st.phases["dispatch"], st.phases["combine"]
    assert comb.start_ps >= disp.start_ps + delay and st.time_s * 1e12 >= disp.latency_s * 1e12 + delay
    assert comb.bytes / disp.bytes == pytest.approx(14336 / 7456)
    assert 0 < disp.rank_send_Bps.max() <= RATE and 0 < comb.rank_send_Bps.max() <= RATE


def test_gating_is_successive_sampling_without_replacement() -> None:
    from podsim.workloads.moe import _gate

    tokens = 60_000
    chosen, prob = _gate(np.random.default_rng(4), tokens, 4, 2, 2.0)
    assert np.all(chosen[:, 0] != chosen[:, 1])
    got = np.bincount(chosen[:, 0] * 4 + chosen[:, 1], minlength=16).reshape(4, 4) / tokens
    exact = prob[:, None] * prob[None, :] / (1 - prob[:, None])
    np.fill_diagonal(exact, 0)
    sigma = np.sqrt(exact * (1 - exact) / tokens)
    assert np.all(np.abs(got - exact) <= 5 * sigma + 1e-12)
    eight, _ = _gate(np.random.default_rng(5), 5000, 256, 8, 1.2)
    assert np.all(np.diff(np.sort(eight, axis=1), axis=1) > 0)  # top-8 distinct per token


def test_gating_ends_when_the_untaken_mass_is_below_rounding() -> None:
    """top_k=64 at skew 10 redrew forever: the experts left had less mass than the CDF resolves."""
    from podsim.workloads.moe import _gate

    every, prob = _gate(np.random.default_rng(0), 50, 64, 64, 10.0)
    assert np.all(np.sort(every, axis=1) == np.arange(64))  # each token takes every expert once
    # Where the inverse CDF cannot place a row, it is drawn among the untaken experts in
    # proportion to their probability, as successive sampling asks.
    from podsim.workloads.moe import _draw_among_untaken

    rows = 20_000
    out = np.zeros((rows, 2), dtype=np.int64)  # every row took expert 0 first
    _draw_among_untaken(np.random.default_rng(1), out, 1, np.arange(rows), np.array([0.5, 0.3, 0.2]))
    share = np.mean(out[:, 1] == 1)
    assert set(out[:, 1].tolist()) == {1, 2} and abs(share - 0.6) <= 5 * np.sqrt(0.24 / rows)
    wl = W.moe(FakeSystem(2, 1).ranks, 1, num_experts=256, top_k=256, skew=7.0, seed=0)
    assert len(wl) > 0


@pytest.mark.parametrize(("tokens", "experts", "top_k", "skew"), [(5000, 256, 8, 0.0), (5000, 256, 8, 1.5), (3000, 16, 16, 3.0),
                                                                  (2000, 4, 3, 10.0), (100, 2048, 32, 0.7)])
def test_cython_gating_matches_the_numpy_formulation(tokens: int, experts: int, top_k: int, skew: float) -> None:
    # Same seed, same uniforms, same arithmetic: the kernel must pick exactly what numpy picks.
    from gating_reference import gate

    from podsim.workloads.moe import _gate

    for seed in range(3):
        fast, p_fast = _gate(np.random.default_rng(seed), tokens, experts, top_k, skew)
        ref, p_ref = gate(np.random.default_rng(seed), tokens, experts, top_k, skew)
        np.testing.assert_array_equal(p_fast, p_ref)
        np.testing.assert_array_equal(fast, ref)


def test_generators_refuse_more_messages_than_memory_holds() -> None:
    """Refused by the argument that makes them, not in numpy's allocator ("Unable to allocate 575 GiB")."""
    with pytest.raises(ValueError, match=r"chunks: all_reduce ring of 1178112 messages per chunk, in 65536 chunks, would make 77208748032 messages, more than 268435456"):
        W.all_reduce(np.arange(768), 1 << 40, chunks=65536)
    with pytest.raises(ValueError, match=r"tokens_per_rank: 768 ranks x 1048576 tokens x top_k 8 = .* more than 268435456"):
        W.moe(np.arange(768), 1 << 20, seed=1)
