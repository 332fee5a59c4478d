"""Bad-input fuzzing of the public API: random and malformed arguments (wrong types, dtypes and
shapes, NaN, infinities, negatives, huge values, strings, None, containers) to every entry point.
Each call either succeeds or raises ValueError/TypeError with a message; any other exception
type, an empty message or a crash (which would kill the test process) is a bug.

Arguments are drawn as "valid or garbage" one by one, so the fuzzer also gets past the first
argument check and reaches the later ones and the C++ side.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import podsim
from podsim.fabrics import LinkParams

U64 = 2**64 - 1

#: Awkward scalars: boundaries of every integer width, signed and not, non-finite and huge
#: floats, numpy scalars, booleans, exotic number types.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**48, 2**48 + 1, 2**63 - 1, 2**63, U64, U64 + 1, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -0.0, 0.5, 1.5e15]),
    st.sampled_from([np.uint64(U64), np.int8(-1), np.float32(np.nan), np.bool_(True), np.int64(-(2**63))]),
    st.complex_numbers(max_magnitude=1e6),
    st.fractions(max_denominator=10),
    st.decimals(allow_nan=True),
)

#: Awkward containers: numpy arrays of every dtype family and shape, lists, strings, dicts.
ARRAYS = st.one_of(
    hnp.arrays(
        hnp.scalar_dtypes(),
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
    ),
    st.lists(SCALARS, max_size=4),
    st.lists(st.lists(st.integers(-3, 10), max_size=3), max_size=3),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.tuples(st.integers(0, 5), st.integers(0, 5)).map(lambda t: [t]),
)

GARBAGE = st.one_of(SCALARS, ARRAYS, st.text(max_size=8), st.builds(object))


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a valid value, sometimes garbage."""
    return st.one_of(valid, valid, GARBAGE)


def _whole_number(x: Any) -> float | None:
    """x as a float if it is a real number with an integral value (what the API accepts as an
    integer), else None. Arrays and other containers are None: the API rejects them anyway."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        return None
    f = float(x)
    return f if math.isfinite(f) and f == math.floor(f) else None


def _countable_and_large(x: Any) -> bool:
    """True for values the API accepts as a count but that would build a huge fabric (hours of
    legitimate work, not a bug)."""
    f = _whole_number(x)
    return f is not None and 64 < f <= 2**20


def maybe_count(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A fabric dimension: valid, or garbage other than a legitimately huge count."""
    return st.one_of(valid, valid, GARBAGE.filter(lambda x: not _countable_and_large(x)))


#: Runs are only driven to the end when the accepted work is this small; a valid 2**48-byte
#: message is a legitimate multi-hour simulation, not a hang.
MAX_RUN_BYTES = 10**6


def only_clean_errors(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call fn; return its result, or None if it raised ValueError/TypeError with a message.
    Anything else propagates and fails the test."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError) as err:
        assert str(err).strip(), f"{type(err).__name__} without a message"
        return None


def small_fabric() -> tuple[podsim.Topology, list[int]]:
    """Three endpoints on one switch: node ids 1, 2, 3 are endpoints, 0 is the switch."""
    t = podsim.fabrics.star(3, LinkParams(rate_Bps=10e9, latency_ps=1000, buffer_bytes=16384, endpoint_buffer_bytes=16384))
    return t, [int(e) for e in t.endpoints]


@given(
    name=maybe(st.text(min_size=1, max_size=5)),
    buffer_bytes=maybe(st.integers(1, 2**20)),
    latency_ps=maybe(st.integers(0, 10**6)),
    max_ports=maybe(st.one_of(st.none(), st.integers(1, 8))),
    cut_through=maybe(st.booleans()),
    switch=st.booleans(),
)
def test_fuzz_add_node(name: Any, buffer_bytes: Any, latency_ps: Any, max_ports: Any, cut_through: Any, switch: bool) -> None:
    t = podsim.Topology()
    if switch:
        only_clean_errors(t.add_switch, name, latency_ps=latency_ps, buffer_bytes=buffer_bytes, cut_through=cut_through, max_ports=max_ports)
    else:
        only_clean_errors(t.add_endpoint, name, buffer_bytes=buffer_bytes, latency_ps=latency_ps, max_ports=max_ports)


@given(a=maybe(st.integers(0, 3)), b=maybe(st.integers(0, 3)), rate=maybe(st.floats(1, 1e15)), latency=maybe(st.integers(1, 10**6)))
def test_fuzz_connect(a: Any, b: Any, rate: Any, latency: Any) -> None:
    t, _ = small_fabric()
    only_clean_errors(t.connect, a, b, rate_Bps=rate, latency_ps=latency)


@given(
    n=maybe_count(st.integers(1, 4)),
    rate=maybe(st.floats(1, 1e15)),
    latency=maybe(st.integers(1, 10**6)),
    buffer=maybe(st.integers(1, 2**16)),
    shape=st.sampled_from(["star", "ring", "full_mesh", "folded_clos"]),
)
def test_fuzz_fabrics(n: Any, rate: Any, latency: Any, buffer: Any, shape: str) -> None:
    def build() -> podsim.Topology:
        params = LinkParams(rate_Bps=rate, latency_ps=latency, buffer_bytes=buffer)
        if shape == "folded_clos":
            return podsim.fabrics.folded_clos(n, n, n, params, planes=n)
        return getattr(podsim.fabrics, shape)(n, params)

    only_clean_errors(build)


@given(
    src=maybe(st.lists(st.integers(1, 3), min_size=1, max_size=3)),
    dst=maybe(st.lists(st.integers(1, 3), min_size=1, max_size=3)),
    size=maybe(st.one_of(st.integers(1, 10**5), st.lists(st.integers(1, 10**5), min_size=1, max_size=3))),
    kind=maybe(st.one_of(st.sampled_from(["write", "read"]), st.lists(st.sampled_from(["write", "read", "send"]), max_size=3))),
    deps=maybe(st.one_of(st.none(), st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=3))),
    delay_ps=maybe(st.one_of(st.integers(0, 10**6), st.lists(st.integers(0, 10**6), min_size=1, max_size=3))),
    tag=maybe(st.integers(0, 10)),
    run=st.booleans(),
)
def test_fuzz_messages_and_simulate(src: Any, dst: Any, size: Any, kind: Any, deps: Any, delay_ps: Any, tag: Any, run: bool) -> None:
    """Messages, then (when they were accepted) simulate them on a small star."""
    msgs = only_clean_errors(podsim.Messages, src, dst, size, kind=kind, deps=deps, delay_ps=delay_ps, tag=tag)
    if msgs is None or not run or msgs.total_bytes > MAX_RUN_BYTES:
        return
    t, _ = small_fabric()
    res = only_clean_errors(podsim.simulate, t, msgs, mtu=4096)
    if res is not None:
        assert res.complete and res.ledger.balanced


@given(
    mtu=maybe(st.integers(2, 16384)),
    header=maybe(st.integers(0, 64)),
    ack=maybe(st.one_of(st.none(), st.integers(1, 64))),
    request=maybe(st.one_of(st.none(), st.integers(1, 64))),
    routing=maybe(st.sampled_from(sorted(podsim.ROUTING))),
    seed=maybe(st.one_of(st.integers(0, U64), st.integers(0, 99).map(np.random.SeedSequence))),
    window=maybe(st.one_of(st.none(), st.integers(1, 16))),
    check=st.booleans(),
    trace=maybe(st.one_of(st.none(), st.integers(1, 100))),
)
def test_fuzz_simulation_parameters(mtu: Any, header: Any, ack: Any, request: Any, routing: Any, seed: Any, window: Any, check: bool, trace: Any) -> None:
    t, h = small_fabric()
    sim = only_clean_errors(
        podsim.Simulation, t, mtu=mtu, header_bytes=header, ack_bytes=ack, request_bytes=request,
        routing=routing, seed=seed, endpoint_window_packets=window, check=check, trace=trace,
    )
    if sim is not None:
        sim.inject(h[0], h[1], 5000)
        sim.run()
        assert sim.result().complete


@given(
    src=maybe(st.integers(0, 4)),
    dst=maybe(st.integers(0, 4)),
    size=maybe(st.integers(1, 10**5)),
    kind=maybe(st.sampled_from(["write", "read"])),
    delay_ps=maybe(st.integers(0, 10**6)),
    deps=maybe(st.lists(st.integers(0, 3), max_size=3)),
    tag=maybe(st.integers(0, 10)),
    until=maybe(st.integers(0, 10**8)),
)
def test_fuzz_inject_and_run_until(src: Any, dst: Any, size: Any, kind: Any, delay_ps: Any, deps: Any, tag: Any, until: Any) -> None:
    """inject into a simulation that already has messages, then run_until and run."""
    t, h = small_fabric()
    sim = podsim.Simulation(t)
    for k in range(3):
        sim.inject(h[k], h[(k + 1) % 3], 3000)
    only_clean_errors(sim.inject, src, dst, size, kind=kind, delay_ps=delay_ps, deps=deps, tag=tag)
    if int(sim.result().messages.size.sum()) > MAX_RUN_BYTES:
        return
    only_clean_errors(sim.run_until, until)
    before = sim.now
    sim.run()
    res = sim.result()
    assert res.ledger.balanced and res.complete
    # Time only moves forward, also when a delay or a pause point is near the end of the clock.
    assert sim.now >= before
    assert np.all(res.messages.end_ps >= res.messages.start_ps)


def test_fuzz_reaches_the_engine() -> None:
    """Guard against a fuzzer that only ever trips the Python checks: the clean-error helper
    must see errors raised by the C++ side too (bindings translate std::invalid_argument)."""
    t, h = small_fabric()
    sim = podsim.Simulation(t)
    with pytest.raises(ValueError, match="does not exist yet"):
        sim.inject(h[0], h[1], 10, deps=[5])
    assert only_clean_errors(sim.inject, h[0], h[1], 10, deps=[5]) is None


@pytest.mark.parametrize("delay_ps", [2**64 - 1, 2**64 - 2000])
def test_huge_delay_is_rejected_or_keeps_time_monotone(delay_ps: int) -> None:
    """Times are bounded (2^62 ps) so that no sum of them can wrap around 2^64."""
    t, h = small_fabric()
    sim = podsim.Simulation(t)
    with pytest.raises(ValueError, match="delay_ps"):
        sim.inject(h[0], h[1], 5000, delay_ps=delay_ps)
    with pytest.raises(ValueError, match="delay_ps"):
        podsim.Messages([h[0]], [h[1]], [5000], delay_ps=[delay_ps])


def test_inject_after_the_end_of_time() -> None:
    """Time cannot be advanced past 2^62 ps, the last simulated time: a message injected then
    cannot run, and says so instead of letting time go past the limit (where sums could wrap)."""
    t, h = small_fabric()
    sim = podsim.Simulation(t)
    with pytest.raises(ValueError, match="t_ps"):
        sim.run_until(2**64 - 1)
    sim.run_until(2**62)
    sim.inject(h[0], h[1], 5000)
    with pytest.raises(OverflowError, match="past the last simulated time, 2\\^62 ps"):
        sim.run()


def test_float16_columns_are_validated_without_overflow() -> None:
    m = podsim.Messages([1], [2], np.array([1.0], dtype=np.float16), tag=np.float16(65504))
    assert int(m.size[0]) == 1 and int(m.tag[0]) == 65504
