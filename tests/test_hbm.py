"""HBM model: presets, exact analytic latencies, streaming bounds, refresh cost, trace validity, bad input."""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hbm_timing_check import check_trace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import podsim
from podsim import _core
from podsim.hbm import Device, Requests, preset, simulate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

H = podsim.hbm


def hbm2e(**kw) -> Device:
    """One 910C-class stack at 3.125 Gb/s (kept small so tests stay fast)."""
    return Device(preset("HBM2E", gbps_per_pin=3.125), stacks=kw.pop("stacks", 1), **kw)


# ---------------------------------------------------------------- presets


@pytest.mark.parametrize("type_", sorted(H.TYPES))
def test_preset_files_carry_units_and_sources(type_: str) -> None:
    spec = tomllib.loads(resources.files("podsim").joinpath("specs", "hbm", H.TYPES[type_]).read_text())
    assert spec["preset"]["type"] == type_
    for name in H.TIMING_NAMES:
        entry = spec["timing"][name]
        assert entry["unit"] in ("nCK", "ns")
        assert any(k in entry["source"] for k in ("[cfg]", "[D]")), name
    for name in H.ORGANISATION_NAMES:
        assert spec["organisation"][name]["source"]


def test_preset_at_reference_rate_is_the_source_table() -> None:
    p = preset("HBM2E", gbps_per_pin=3.2)
    # hardware.md §3.3 recommended set at tCK = 0.625 ns
    assert p.tck_ps == 625
    assert p.timing_nck["tCL"] == 23 and p.timing_ps["tCL"] == 23 * 625
    assert p.timing_nck["tRC"] == 76 and p.timing_nck["tFAW"] == 24
    assert p.timing_ps["tRFC"] == 350_000 and p.timing_ps["tREFI"] == 3_900_000
    h3 = preset("HBM3", 6.4)
    assert h3.timing_nck["tRCDRD"] == 31 and h3.timing_ps["tRCDRD"] == 31 * 625
    assert h3.timing_nck["tRFC"] == 560 and h3.timing_ps["tREFI"] == 6240 * 625


def test_preset_rescales_ns_to_the_new_clock() -> None:
    p = preset("HBM3E", gbps_per_pin=7.8125)
    tck = Fraction(4 * 10**9, 7_812_500)
    assert p.tck_ps == tck == 512
    # HBM3 nRCDRD = 31 at 625 ps -> ceil(19375 / 512) = 38 cycles
    assert p.timing_nck["tRCDRD"] == math.ceil(Fraction(31 * 625) / tck) == 38
    assert p.timing_nck["tCCD_S"] == 2  # one burst, kept in cycles
    for name in H.TIMING_NAMES:  # never faster than the source in ns (tREFI: never longer)
        src = preset("HBM3", 6.4).timing_ps[name]
        assert (p.timing_ps[name] <= src) if name == "tREFI" else (p.timing_ps[name] >= src or name == "tCCD_S")


def test_peak_is_pins_times_rate() -> None:
    die = Device(preset("HBM2E", 3.125), stacks=4)
    assert die.pins == 4 * 1024
    assert die.peak_Bps == 4 * 1024 * 3.125e9 / 8
    b200 = Device.from_chip("HBM3E", 7.8125, stacks=8, bus_bits_per_stack=1024)
    assert b200.peak_Bps == 8 * 1024 * 7.8125e9 / 8


# ---------------------------------------------------------------- exact latencies


def _one_by_one(dev: Device, addrs: list[int], writes: list[bool], size: int = 32) -> np.ndarray:
    """Latencies (ps) of requests issued 1 us apart, so each finds the device idle."""
    n = len(addrs)
    req = Requests.of(np.arange(n) * 1_000_000, addrs, size, np.array(writes))
    res = simulate(dev, req)
    return res.done_ps.astype(np.int64) - req.arrival_ps.astype(np.int64)


@pytest.mark.parametrize("refresh", [False, True])
def test_row_hit_and_row_miss_latency_exact(refresh: bool) -> None:
    dev = hbm2e(refresh=refresh)
    t = dev.preset.timing_ps
    bl = dev.burst_ps
    assert bl == 1280  # 32 B on 64 pins at 3.125 Gb/s
    other_row = dev.capacity_bytes // dev.rows  # same PC, bank group, bank and column, next row
    # all three requests complete before the first refresh is due (tREFI = 3.9 us)
    lat = _one_by_one(dev, [0, 0, other_row], [False, False, False])
    assert lat[0] == t["tRCDRD"] + t["tCL"] + bl  # closed bank
    assert lat[1] == t["tCL"] + bl  # row hit
    assert lat[2] == t["tRP"] + t["tRCDRD"] + t["tCL"] + bl  # row conflict
    wl = _one_by_one(dev, [0, 0, other_row], [True, True, True])
    assert wl[0] == t["tRCDWR"] + t["tCWL"] + bl
    assert wl[1] == t["tCWL"] + bl
    assert wl[2] == t["tRP"] + t["tRCDWR"] + t["tCWL"] + bl


def test_close_page_always_pays_the_activate() -> None:
    dev = hbm2e(page_policy="close", refresh=False)
    t = dev.preset.timing_ps
    lat = _one_by_one(dev, [0, 0], [False, False])
    assert list(lat) == [t["tRCDRD"] + t["tCL"] + dev.burst_ps] * 2


def test_many_burst_request_streams_at_the_bus_rate() -> None:
    dev = hbm2e(refresh=False, interleave_bytes=256)
    t = dev.preset.timing_ps
    # 256 B = 8 bursts in one PC alternating over 2 bank groups: the second bank's ACT is tRRD_S
    # after the first, its first column tRCD later; from there one burst per tCCD_S (= the burst).
    assert dev.bg_spread == 2 and t["tCCD_S"] == dev.burst_ps
    lat = _one_by_one(dev, [0], [False], size=256)
    last_col = t["tRRD_S"] + t["tRCDRD"] + 6 * t["tCCD_S"]
    assert lat[0] == last_col + t["tCL"] + dev.burst_ps


# ---------------------------------------------------------------- streaming bounds


def test_sequential_streaming_efficiency_matches_the_timing_bound() -> None:
    duration = 40_000_000
    res = simulate(hbm2e(refresh=False), H.sequential_read(4096), duration_ps=duration)
    t = preset("HBM2E", 3.125).timing_ps
    # Pins bound the rate; the stream cannot deliver before the first ACT + tRCD + tCL.
    upper = 1 - (t["tRCDRD"] + t["tCL"]) / duration
    assert 0.97 <= res.efficiency <= upper
    assert res.read_bytes > 0 and res.write_bytes == 0
    assert res.row_hit_rate > 0.8


@pytest.mark.parametrize("type_, gbps", [("HBM2E", 3.125), ("HBM3", 6.4), ("HBM3E", 7.8125)])
def test_refresh_costs_its_share_of_time(type_: str, gbps: float) -> None:
    duration = 80_000_000
    kw = dict(stacks=1)
    on = simulate(Device(preset(type_, gbps), refresh=True, **kw), H.sequential_read(), duration_ps=duration)
    off = simulate(Device(preset(type_, gbps), refresh=False, **kw), H.sequential_read(), duration_ps=duration)
    t = preset(type_, gbps).timing_ps
    share = t["tRFC"] / t["tREFI"]
    # PC time held in refresh: refreshes x tRFC / time, within 1 % (of the time) of tRFC / tREFI.
    assert abs(on.refresh_fraction - share) <= 0.01
    # Bandwidth lost: each refresh also needs all banks precharged first (tRTP + tRP) and a row
    # re-opened after (tRCD), minus the burst that was in flight; the bus idles that long.
    gap = t["tRFC"] + t["tRTP"] + t["tRP"] + t["tRCDRD"] - Device(preset(type_, gbps)).burst_ps
    loss = 1 - on.achieved_Bps / off.achieved_Bps
    assert share <= loss
    assert abs(loss - gap / t["tREFI"]) <= 0.005
    assert on.efficiency <= 1 - share


def test_random_small_requests_are_far_slower_and_activate_bound() -> None:
    dev = hbm2e(refresh=False)
    t = dev.preset.timing_ps
    rnd = simulate(dev, H.random(request_bytes=64), duration_ps=20_000_000, seed=3, outstanding=1024)
    seq = simulate(dev, H.sequential_read(), duration_ps=20_000_000)
    assert rnd.row_hit_rate < 0.01
    # Each 64 B access opens a row in `bg_spread` banks; a PC activates at most once per tRRD_S
    # and four times per tFAW.
    acts_per_access = dev.bg_spread
    pc_peak = dev.peak_Bps / dev.pcs
    ps_per_act = max(t["tRRD_S"], t["tFAW"] / 4)
    bound = 64 / (acts_per_access * ps_per_act * 1e-12) / pc_peak
    assert rnd.efficiency <= bound
    assert rnd.efficiency < 0.5 * seq.efficiency
    assert 0 < rnd.efficiency <= 1 and 0 < seq.efficiency <= 1


@pytest.mark.parametrize(
    "pattern",
    [H.sequential_write(), H.copy(), H.strided(1 << 20, 256), H.mix(0.3), H.mix(0.5, "sequential", 1024)],
    ids=["write", "copy", "strided", "mix-random", "mix-seq"],
)
def test_no_pattern_exceeds_the_pins(pattern: H.Pattern) -> None:
    res = simulate(hbm2e(), pattern, duration_ps=10_000_000, seed=1)
    assert 0 < res.efficiency <= 1
    busy = res.counters["busy_ps"]
    bursts = res.counters["read_bursts"] + res.counters["write_bursts"]
    assert np.all(busy == bursts * hbm2e().burst_ps)


def test_many_devices_are_each_simulated() -> None:
    die = hbm2e()
    one = simulate(die, H.sequential_read(), duration_ps=5_000_000)
    three = simulate(die, H.sequential_read(), duration_ps=5_000_000, devices=3)
    assert three.counters["accesses"].shape == (3, die.pcs)
    assert three.read_bytes == 3 * one.read_bytes  # identical deterministic streams
    assert three.peak_Bps == 3 * die.peak_Bps
    rnd = simulate(die, H.random(), duration_ps=2_000_000, devices=2, seed=5)
    assert not np.array_equal(rnd.counters["activates"][0], rnd.counters["activates"][1])  # own seeds


def test_deterministic_and_requests_mode() -> None:
    die = hbm2e()
    a = simulate(die, H.mix(0.4), requests=2000, seed=9)
    b = simulate(die, H.mix(0.4), requests=2000, seed=9)
    assert a.requests == 2000 and (a.read_bytes + a.write_bytes) == 2000 * 64
    assert a.duration_ps == b.duration_ps and a.latency == b.latency
    for k in a.counters:
        assert np.array_equal(a.counters[k], b.counters[k])


def test_progress_callback() -> None:
    seen: list[tuple[int, int]] = []
    simulate(hbm2e(), H.sequential_read(), duration_ps=25_000_000, progress=lambda t, n: seen.append((t, n)))
    assert [t for t, _ in seen] == [10_000_000, 20_000_000, 25_000_000]


# ---------------------------------------------------------------- trace validity (property)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    n=st.integers(1, 120),
    policy=st.sampled_from(["open", "close"]),
    bg_spread=st.sampled_from([1, 2, 4]),
    interleave=st.sampled_from([128, 256, 512]),
    lookahead=st.integers(1, 8),
    queue_depth=st.integers(1, 16),
    type_=st.sampled_from(["HBM2E", "HBM3", "HBM3E"]),
)
def test_trace_never_violates_timing(data, n, policy, bg_spread, interleave, lookahead, queue_depth, type_) -> None:
    dev = Device(
        preset(type_),
        stacks=1,
        rows=8,
        page_policy=policy,
        bg_spread=bg_spread,
        interleave_bytes=interleave,
        lookahead=lookahead,
        queue_depth=queue_depth,
    )
    cap = dev.capacity_bytes
    # mostly back-to-back traffic, sometimes idle gaps across several refresh intervals
    gap = st.one_of(st.integers(0, 400_000), st.integers(0, 400_000), st.integers(0, 20_000_000))
    gaps = data.draw(st.lists(gap, min_size=n, max_size=n))
    arrival = np.cumsum(gaps)
    size = np.array(data.draw(st.lists(st.integers(1, 1024), min_size=n, max_size=n)))
    addr = np.array(data.draw(st.lists(st.integers(0, cap - 1), min_size=n, max_size=n)))
    addr = np.minimum(addr, cap - size)
    writes = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    res = simulate(dev, Requests.of(arrival, addr, size, writes), trace=True)
    tr = res.trace
    t = dev.preset.timing_ps
    errors = check_trace(tr, t, dev.burst_ps, dev.preset.organisation["banks_per_group"])
    assert errors == []
    # every burst of every request is a column command
    bursts = ((addr + size - 1) // 32 - addr // 32 + 1).sum()
    assert np.count_nonzero((tr["command"] == 2) | (tr["command"] == 3)) == bursts
    lat = res.done_ps.astype(np.int64) - arrival
    assert lat.min() >= min(t["tCL"], t["tCWL"]) + dev.burst_ps


# ---------------------------------------------------------------- bad input


def test_bad_preset_arguments() -> None:
    with pytest.raises(ValueError, match="type: must be one of"):
        preset("HBM9")
    with pytest.raises(TypeError, match="type"):
        preset(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"gbps_per_pin: must be in \[0.5, 20"):
        preset("HBM3", 40)
    with pytest.raises(ValueError, match="gbps_per_pin"):
        preset("HBM3", -1)
    with pytest.raises(TypeError, match="gbps_per_pin"):
        preset("HBM3", "fast")  # type: ignore[arg-type]


def test_bad_device_arguments() -> None:
    p = preset("HBM2E")
    with pytest.raises(TypeError, match="preset"):
        Device("HBM2E")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"stacks: must be in \[1, 64\]"):
        Device(p, 0)
    with pytest.raises(ValueError, match="mapping: must be a permutation"):
        Device(p, mapping=("pc", "pc", "ba", "co", "ro"))
    with pytest.raises(ValueError, match="page_policy"):
        Device(p, page_policy="half")
    with pytest.raises(ValueError, match="bg_spread: must divide"):
        Device(p, bg_spread=3)
    with pytest.raises(ValueError, match="interleave_bytes: must be a multiple"):
        Device(p, interleave_bytes=100)
    with pytest.raises(ValueError, match="interleave_bytes / bg_spread"):
        Device(p, interleave_bytes=4096, bg_spread=2)
    with pytest.raises(ValueError, match="lookahead"):
        Device(p, lookahead=0)
    with pytest.raises(ValueError, match="bus_bits_per_stack"):
        Device.from_chip("HBM2E", 3.2, 4, 2048)


def test_bad_simulate_arguments() -> None:
    die = hbm2e()
    with pytest.raises(ValueError, match="give exactly one"):
        simulate(die, H.sequential_read())
    with pytest.raises(ValueError, match="give exactly one"):
        simulate(die, H.sequential_read(), duration_ps=1, requests=1)
    with pytest.raises(ValueError, match="duration_ps: must be in"):
        simulate(die, H.sequential_read(), duration_ps=0)
    with pytest.raises(TypeError, match="duration_ps"):
        simulate(die, H.sequential_read(), duration_ps=1.5)
    with pytest.raises(ValueError, match="devices"):
        simulate(die, H.sequential_read(), duration_ps=1, devices=0)
    with pytest.raises(ValueError, match="trace: only with devices=1"):
        simulate(die, H.sequential_read(), duration_ps=1, devices=2, trace=True)
    with pytest.raises(TypeError, match="pattern"):
        simulate(die, "stream", duration_ps=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="footprint_bytes"):
        simulate(die, H.random(footprint_bytes=die.capacity_bytes * 2), duration_ps=1)
    with pytest.raises(ValueError, match="footprint_bytes: must be >="):
        simulate(die, H.copy(4096, footprint_bytes=4096), duration_ps=1)
    with pytest.raises(ValueError, match="base"):
        simulate(die, H.sequential_read(base=die.capacity_bytes), duration_ps=1)


def test_bad_patterns_and_requests() -> None:
    with pytest.raises(ValueError, match="kind"):
        H.Pattern("zigzag")
    with pytest.raises(ValueError, match="request_bytes"):
        H.sequential_read(0)
    with pytest.raises(ValueError, match="stride_bytes"):
        H.strided(0)
    with pytest.raises(ValueError, match=r"write_fraction: must be in \[0, 1\]"):
        H.mix(1.5)
    with pytest.raises(ValueError, match="address"):
        H.mix(0.5, "diagonal")
    with pytest.raises(ValueError, match="arrival_ps: must be non-decreasing"):
        Requests.of([5, 1], [0, 0], 32, False)
    with pytest.raises(ValueError, match="bytes"):
        Requests.of([0], [0], 0, False)
    with pytest.raises(TypeError, match="is_write"):
        Requests.of([0], [0], 32, [1])
    die = hbm2e()
    with pytest.raises(ValueError, match="addr: every"):
        simulate(die, Requests.of([0], [die.capacity_bytes - 16], 32, False))
    with pytest.raises(ValueError, match="duration_ps, requests: only with a Pattern"):
        simulate(die, Requests.of([0], [0], 32, False), duration_ps=1)
    with pytest.raises(ValueError, match="devices"):
        simulate(die, Requests.of([0], [0], 32, False), devices=2)


def test_engine_rejects_bad_calls_without_crashing() -> None:
    cfg = hbm2e().config()
    dev = _core.HbmDevice(cfg)
    with pytest.raises(ValueError, match="bytes"):
        dev.submit(0, 0, False, 0, 0)
    with pytest.raises(ValueError, match="addr"):
        dev.submit(cfg.capacity_bytes, 32, False, 0, 0)
    dev.submit(0, 32, False, 7, 100)
    out = dev.advance_until(1_000_000)
    assert list(out["id"]) == [7]
    with pytest.raises(ValueError, match="now"):
        dev.submit(0, 32, False, 0, 5)
    with pytest.raises(ValueError, match="t: must be"):
        dev.advance_until(5)
    bad = hbm2e().config()
    bad.lookahead = 0
    with pytest.raises(ValueError, match="lookahead"):
        _core.HbmDevice(bad)
    bad = hbm2e().config()
    t = bad.timing
    t.tCL = 0
    bad.timing = t
    with pytest.raises(ValueError, match="tCL"):
        _core.HbmDevice(bad)


def test_the_trace_checker_catches_a_violation() -> None:
    dev = hbm2e(rows=8)
    other_row = dev.capacity_bytes // dev.rows
    res = simulate(dev, Requests.of([0, 0, 0], [0, other_row, 64], 64, False), trace=True)
    t = dev.preset.timing_ps
    args = (t, dev.burst_ps, dev.preset.organisation["banks_per_group"])
    assert check_trace(res.trace, *args) == []
    # Every command was placed at its earliest legal time (all requests arrive at 0), so moving
    # any of them 1 ps earlier must break a constraint the checker knows.
    for i in np.flatnonzero(res.trace["time_ps"] > 0):
        tr = {k: v.copy() for k, v in res.trace.items()}
        tr["time_ps"][i] -= 1
        assert check_trace(tr, *args) != [], (i, res.trace["command"][i])


@pytest.mark.parametrize(
    "pattern", [H.sequential_read(), H.copy(1024), H.mix(0.5), H.mix(0.5, "sequential", 256)], ids=["seq", "copy", "mix", "mix-seq"]
)
@pytest.mark.parametrize("type_", ["HBM2E", "HBM3E"])
def test_saturated_stream_trace_is_valid(pattern: H.Pattern, type_: str) -> None:
    dev = Device(preset(type_), stacks=1, rows=64)
    res = simulate(dev, pattern, duration_ps=9_000_000, trace=True, outstanding=64)  # two refreshes
    assert int(res.counters["refreshes"].min()) >= 2
    errors = check_trace(res.trace, dev.preset.timing_ps, dev.burst_ps, dev.preset.organisation["banks_per_group"])
    assert errors == []


@pytest.mark.parametrize("bg_spread", [1, 2, 4])
@pytest.mark.parametrize("pattern", [H.sequential_read(), H.copy(1024), H.mix(0.5, "sequential", 512)], ids=["seq", "copy", "mix-seq"])
def test_closed_form_bursts_equal_burst_by_burst(pattern: H.Pattern, bg_spread: int) -> None:
    # With trace=True the engine walks every burst; without, long accesses are closed-form.
    dev = Device(preset("HBM3E"), stacks=1, bg_spread=bg_spread, interleave_bytes=512)
    fast = simulate(dev, pattern, duration_ps=6_000_000)
    slow = simulate(dev, pattern, duration_ps=6_000_000, trace=True)
    assert fast.latency == slow.latency and fast.read_bytes == slow.read_bytes
    for k in fast.counters:
        assert np.array_equal(fast.counters[k], slow.counters[k]), k


@pytest.mark.parametrize("mapping", [("pc", "bg", "ba", "co", "ro"), ("co", "ba", "pc", "ro", "bg")])
@pytest.mark.parametrize("type_, stacks", [("HBM2E", 1), ("HBM3", 5)])  # 5 stacks: 160 PCs, not a power of two
def test_address_map_is_the_documented_mixed_radix(mapping, type_: str, stacks: int) -> None:
    dev = Device(preset(type_), stacks=stacks, mapping=mapping, rows=16, refresh=False)
    org = dev.preset.organisation
    s, burst = dev.bg_spread, org["burst_bytes"]
    chunk_bursts = dev.interleave_bytes // burst
    radix = {
        "pc": dev.pcs,
        "bg": org["bank_groups"] // s,
        "ba": org["banks_per_group"],
        "co": org["row_bytes"] // burst // (chunk_bursts // s),
        "ro": dev.rows,
    }
    addr, size = 3 * dev.interleave_bytes + 96, 200_000  # many chunks, unaligned ends
    expected = set()
    for b in range(addr // burst, (addr + size - 1) // burst + 1):
        rest, digit = b // chunk_bursts, {}
        for f in mapping:
            rest, digit[f] = divmod(rest, radix[f])
        bg = digit["bg"] * s + (b % chunk_bursts) % s
        expected.add((digit["pc"], bg, digit["ba"], digit["ro"]))
    res = simulate(dev, Requests.of([0], [addr], size, False), trace=True)
    tr = res.trace
    reads = tr["command"] == 2
    assert np.count_nonzero(reads) == (addr + size - 1) // burst - addr // burst + 1
    acts = tr["command"] == 0
    got = set(zip(*(tr[k][acts].tolist() for k in ("pc", "bank_group", "bank", "row"))))
    assert got == expected


def test_long_idle_gap_books_refreshes_without_walking_them() -> None:
    dev = hbm2e(stacks=1)
    t = dev.preset.timing_ps
    gap = 10**15  # 1,000 s idle: 2.6e8 refresh intervals per PC
    res = simulate(dev, Requests.of([0, gap], [0, 0], 32, False))
    assert res.latency.max_ps == t["tRCDRD"] + t["tCL"] + dev.burst_ps  # the row was closed by refresh
    assert int(res.counters["refreshes"][0, 0]) == gap // t["tREFI"]
    with pytest.raises(ValueError, match="arrival_ps"):
        Requests.of([2**63], [0], 32, False)


@pytest.mark.parametrize("name", ["cloudmatrix384", "gb200-nvl72", "gb300-nvl72", "hgx-h100"])
def test_pin_peak_agrees_with_the_system_spec(name: str) -> None:
    sy = podsim.systems.system(name)
    dev = Device.from_rank(sy.rank_memory)
    assert dev.peak_Bps * len(sy.ranks) == pytest.approx(sy.peak().hbm_bandwidth_uni_Bps, rel=1e-12)
    assert dev.peak_Bps == pytest.approx(sy.rank_memory.bandwidth_uni_Bps, rel=1e-12)


@pytest.mark.parametrize("name", ["cloudmatrix384", "gb200-nvl72", "gb300-nvl72", "hgx-h100", "hgx-h20"])
def test_capacity_agrees_with_the_system_spec(name: str) -> None:
    """The spec quotes HBM in the industry's 2**30-byte gigabytes: every rank's device holds its
    spec capacity so counted. GB300's 12-high stacks once got the preset's 8-high rows (192 GiB)."""
    rank = podsim.systems.system(name).rank_memory
    assert Device.from_rank(rank).capacity_bytes == rank.capacity_bytes
    assert Device.from_rank(rank, rows=1024).rows == 1024


@pytest.mark.parametrize("type_", ["HBM2E", "HBM3", "HBM3E"])
@pytest.mark.parametrize("gbps", [0.5, 1.0, 1.5, 2.0, 3.2, 6.4, 9.6, 20.0])
def test_same_group_spacings_are_never_shorter_than_across_groups(type_: str, gbps: float) -> None:
    """Rounded to cycles apart, tCCD_L came out below tCCD_S at low pin rates; JEDEC orders them."""
    t = preset(type_, gbps).timing_nck
    assert t["tCCD_L"] >= t["tCCD_S"] and t["tRRD_L"] >= t["tRRD_S"] and t["tWTR_L"] >= t["tWTR_S"]


def test_all_ranks_of_a_system_stream_together() -> None:
    sy = podsim.systems.system("gb200-nvl72")
    res = H.simulate_system(sy, H.sequential_read(), duration_ps=500_000, device={"refresh": False}, outstanding=64)
    assert res.devices == len(sy.ranks)
    assert res.counters["accesses"].shape[0] == len(sy.ranks)
    assert np.all(res.counters["accesses"].sum(axis=1) > 0)  # every GPU really ran
    assert res.peak_Bps == pytest.approx(sy.peak().hbm_bandwidth_uni_Bps, rel=1e-12)
    assert 0 < res.efficiency <= 1
    with pytest.raises(TypeError, match="system"):
        H.simulate_system("nvl72", H.sequential_read(), duration_ps=1)
    with pytest.raises(TypeError, match="rank"):
        Device.from_rank(object())


def test_pattern_latency_percentiles_bound_the_truth() -> None:
    res = simulate(hbm2e(), H.mix(0.3), duration_ps=3_000_000, seed=2)
    lat = res.latency
    assert lat.min_ps <= lat.p50_ps <= lat.p99_ps <= lat.max_ps
    assert lat.min_ps <= lat.mean_ps <= lat.max_ps
    # one request alone: every percentile is its exact latency rounded up to the ns, capped at it
    one = simulate(hbm2e(refresh=False), H.sequential_read(32), requests=1, outstanding=1)
    t = preset("HBM2E", 3.125).timing_ps
    exact = t["tRCDRD"] + t["tCL"] + hbm2e().burst_ps
    assert one.latency.min_ps == one.latency.max_ps == one.latency.p50_ps == one.latency.p99_ps == exact


def test_a_request_list_is_measured_from_its_first_arrival() -> None:
    """A list arriving late must show the bandwidth it got, not be diluted by the idle time before
    it: the same list shifted by 1 ms gets the same rate, up to where refreshes fall (it was 0.039
    against 0.88)."""
    dev = Device(preset("HBM3E"), 2)
    addr = np.arange(20_000) * 4096
    now, late = (simulate(dev, Requests.of(np.full(20_000, t), addr, 4096, False)) for t in (0, 10**9))
    assert late.efficiency == pytest.approx(now.efficiency, rel=0.02) and now.efficiency > 0.5


def test_every_pattern_takes_the_request_size_first() -> None:
    """random(4096) used to mean 64 B requests over a 4 KiB footprint, unlike sequential_read(4096)."""
    for make in (H.sequential_read, H.sequential_write, H.copy, H.random):
        assert make(4096).request_bytes == 4096


def test_requests_built_directly_are_checked() -> None:
    """The constructor checks and converts as Requests.of does (it passed raw arrays to the
    engine, which answered with a multi-line binding error)."""
    die = hbm2e()
    direct = Requests(np.array([0]), np.array([0]), np.array([64]), np.array([False]))
    assert simulate(die, direct).requests == 1
    with pytest.raises(TypeError, match="is_write: expected booleans"):
        Requests(np.array([0]), np.array([0]), np.array([64]), np.array([1]))
    again = dataclasses.replace(direct, arrival_ps=np.array([5]))  # checked again, and still valid
    assert again.arrival_ps.tolist() == [5] and again.is_write.tolist() == [False]


def test_run_options_are_checked_before_the_run() -> None:
    die = hbm2e()
    with pytest.raises(TypeError, match="progress: expected a callable or None, got int"):
        simulate(die, H.sequential_read(), duration_ps=1_000_000, progress=5)  # type: ignore[arg-type]
    seq = np.random.SeedSequence(3)
    a, b = (simulate(die, H.random(), duration_ps=1_000_000, seed=seq) for _ in range(2))
    assert a.read_bytes == b.read_bytes > 0
    gb300 = podsim.system("gb300-nvl72")
    with pytest.raises(ValueError, match="device: 'stacks' comes from the system's rank_memory"):
        H.simulate_system(gb300, H.sequential_read(), duration_ps=1000, device={"stacks": 3})
    with pytest.raises(TypeError, match="device: expected a dict of podsim.hbm.Device options, got int"):
        H.simulate_system(gb300, H.sequential_read(), duration_ps=1000, device=5)
    with pytest.raises(ValueError, match=r"request_bytes: this pattern needs 1099511627776 bytes, more than the"):
        simulate(die, H.sequential_read(1 << 40), duration_ps=1000)


def test_hbm3e_random_reads_are_not_held_back_by_the_default_map() -> None:
    """HBM3E spreads a chunk over four bank groups; with 256-byte chunks an activate served 64 B
    and tFAW held random 4 KiB reads to about half of HBM3's efficiency."""
    eff = {t: simulate(Device(preset(t), 2), H.random(4096), duration_ps=2_000_000, seed=1).efficiency for t in ("HBM3", "HBM3E")}
    assert Device(preset("HBM3E"), 2).interleave_bytes == 512 and Device(preset("HBM3"), 2).interleave_bytes == 256
    assert eff["HBM3E"] > 0.75 * eff["HBM3"]


def _saved_config(tmp_path: Path) -> list[str]:
    path = tmp_path / "die.hbm"
    Device(preset("HBM2E", 3.125), stacks=4).config().save(str(path))
    return path.read_text().splitlines()


def test_an_hbm_file_round_trips(tmp_path: Path) -> None:
    """The text form C++ hosts load (podsim::memory::load_hbm_config): every field survives, a
    hand edit (comments, blank lines, CRLF, another order of fields) too."""
    device = Device(preset("HBM3E", 9.6), stacks=8, mapping=("ro", "co", "ba", "bg", "pc"), page_policy="close")
    path = tmp_path / "gpu.hbm"
    device.config().save(str(path))
    back = _core.HbmConfig.load(str(path))
    want = device.config()
    for name in ("stacks", "rate_kbps", "rows", "close_page", "order", "interleave_bytes", "queue_depth"):
        assert getattr(back, name) == getattr(want, name), name
    for name in ("tCL", "tRFC", "tREFI", "tFAW"):
        assert getattr(back.timing, name) == getattr(want.timing, name), name
    lines = path.read_text().splitlines()
    edited = [lines[0], "# edited by hand", "", *reversed(lines[1:-1]), lines[-1]]
    path.write_bytes(("\r\n".join(edited) + "\r\n").encode())
    assert _core.HbmConfig.load(str(path)).timing.tRFC == want.timing.tRFC


@pytest.mark.parametrize(("edit", "message"), [
    (lambda ls: ["podsim-hbm 2", *ls[1:]], "HBM file: line 1 must be 'podsim-hbm 1', got 'podsim-hbm 2'"),
    (lambda ls: ls[:-1], "with no end record: the file is cut short"),
    (lambda ls: [x for x in ls if not x.startswith("tRFC ")], "HBM file: tRFC: missing"),
    (lambda ls: [*ls[:2], ls[1], *ls[2:]], "HBM file: line 3: tCL: given twice"),
    (lambda ls: [ls[0], "tXYZ 5", *ls[1:]], "HBM file: line 2: unknown field 'tXYZ'"),
    (lambda ls: [ls[0], *(("stacks -1" if x.startswith("stacks ") else x) for x in ls[1:])],
     "stacks: expected a non-negative integer, got '-1'"),
    (lambda ls: [ls[0], *(("stacks 4294967296" if x.startswith("stacks ") else x) for x in ls[1:])],
     "stacks: must be at most 4294967295, got 4294967296"),
    (lambda ls: [ls[0], *(("refresh 2" if x.startswith("refresh ") else x) for x in ls[1:])],
     "refresh: must be 0 or 1, got 2"),
    (lambda ls: [ls[0], *(("stacks 99999999999999999999999" if x.startswith("stacks ") else x) for x in ls[1:])],
     "stacks: must be at most 4294967295, got 99999999999999999999999"),
    (lambda ls: [ls[0], *(("order pc bg ba co" if x.startswith("order ") else x) for x in ls[1:])],
     "order: needs all five fields"),
    (lambda ls: [ls[0], *(("order pc bg ba co xx" if x.startswith("order ") else x) for x in ls[1:])],
     "order: unknown field 'xx'"),
    (lambda ls: [ls[0], *(("tCL 5 # ns" if x.startswith("tCL ") else x) for x in ls[1:])],
     "line 2: unexpected text after tCL: '# ns' (a comment must be on a line of its own)"),
    (lambda ls: [*ls, "tCL 5"], "a 'tCL' record after the end record"),
    # What loads is validated as the device would: a zero timing, a map that is no permutation.
    (lambda ls: [ls[0], *(("tCL 0" if x.startswith("tCL ") else x) for x in ls[1:])], "HBM file: tCL: must be in"),
    (lambda ls: [ls[0], *(("order pc pc ba co ro" if x.startswith("order ") else x) for x in ls[1:])],
     "HBM file: order: must be a permutation"),
])
def test_a_bad_hbm_file_is_refused_with_its_line(tmp_path: Path, edit: Any, message: str) -> None:
    path = tmp_path / "bad.hbm"
    path.write_text("\n".join(edit(_saved_config(tmp_path))) + "\n")
    with pytest.raises(ValueError, match=re.escape(message)):
        _core.HbmConfig.load(str(path))


def test_an_hbm_file_that_is_not_there(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a directory, not an HBM file"):
        _core.HbmConfig.load(str(tmp_path))
    with pytest.raises(ValueError, match="cannot read"):
        _core.HbmConfig.load(str(tmp_path / "missing.hbm"))
