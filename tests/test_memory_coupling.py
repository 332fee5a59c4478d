"""Endpoints coupled to their HBM: a send reads its data from the source's memory before the
packets leave, a receive writes it into the destination's, and delivery waits for memory."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import packet_sizes, ser_ps

import podsim
from podsim import _core, hbm

RATE = 28_000_000_000
LAT = 10_000
MTU, HDR = 4096, 32


def pair(rate: float = RATE) -> tuple[podsim.Topology, int, int]:
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    t.connect(a, b, rate_Bps=rate, latency_ps=LAT)
    return t, a, b


def device() -> hbm.Device:
    return hbm.Device(hbm.preset("HBM2E", gbps_per_pin=3.2), stacks=1)


def standalone_done(dev: hbm.Device, nbytes: int, is_write: bool, at_ps: int) -> int:
    """Completion time of one request, alone on a fresh device, submitted at ``at_ps``."""
    core = _core.HbmDevice(dev.config())
    core.submit(0, nbytes, is_write, 0, at_ps)
    done: list[int] = []
    while not done:
        done = list(core.advance_until(core.next_event_time())["done_ps"])
    return int(done[0])


def test_write_reads_source_memory_then_lands_in_destination_memory() -> None:
    t, a, b = pair()
    size = 1000
    dev = device()
    res = podsim.simulate(t, podsim.Messages([a], [b], [size]), memory={a: dev, b: dev})
    read_done = standalone_done(dev, size, False, 0)
    arrived = read_done + ser_ps(size + HDR, RATE) + LAT
    landed = standalone_done(dev, size, True, arrived)
    assert res.messages.delivered_ps[0] == landed
    assert res.messages.end_ps[0] == landed + ser_ps(HDR, RATE) + LAT
    assert list(res.ledger.hbm_read_bytes) == [size, 0]
    assert list(res.ledger.hbm_write_bytes) == [0, size]


def test_read_fetches_from_the_target_memory() -> None:
    t, a, b = pair()
    dev = device()
    res = podsim.simulate(t, podsim.Messages([a], [b], [2000], kind="read"), memory={a: dev})
    request = ser_ps(HDR, RATE) + LAT
    fetched = standalone_done(dev, 2000, False, request)
    assert res.messages.delivered_ps[0] == fetched + ser_ps(2000 + HDR, RATE) + LAT
    assert res.ledger.hbm_read_bytes[0] == 2000


def test_slow_memory_bounds_a_fast_link() -> None:
    """On a link far faster than one HBM2E stack, a large copy runs at memory speed, never above
    the pins."""
    t, a, b = pair(rate=5e12)
    dev = device()
    size = 8 << 20
    res = podsim.simulate(t, podsim.Messages([a], [b], [size]), memory={a: dev, b: dev}, txn_bytes=64 << 10, mtu=65536 + HDR, check=True)
    achieved = size / (res.messages.delivered_ps[0] * 1e-12)
    assert achieved <= dev.peak_Bps
    assert achieved > 0.5 * dev.peak_Bps
    assert res.ledger.balanced


def test_transaction_larger_than_memory_is_rejected() -> None:
    t, a, b = pair()
    dev = device()
    with pytest.raises(ValueError, match="exceeds the HBM"):
        podsim.simulate(t, podsim.Messages([a], [b], [dev.capacity_bytes + 1]), memory={a: dev}, txn_bytes=dev.capacity_bytes + 1)


def test_memory_needs_devices() -> None:
    t, a, b = pair()
    with pytest.raises(TypeError, match="memory"):
        podsim.simulate(t, podsim.Messages([a], [b], [10]), memory=True)
    with pytest.raises(TypeError, match="memory"):
        podsim.simulate(t, podsim.Messages([a], [b], [10]), memory={a: "HBM2E"})


def test_system_ranks_stream_through_their_hbm() -> None:
    s = podsim.system("hgx-h100")
    r = s.ranks
    src, dst = np.meshgrid(r, r)
    keep = src != dst
    msgs = podsim.Messages(src[keep], dst[keep], 256 << 10)
    coupled = podsim.simulate(s, msgs, memory=True)
    plain = podsim.simulate(s, msgs)
    assert coupled.complete and coupled.ledger.balanced
    per_rank = (len(r) - 1) * (256 << 10)
    assert set(coupled.ledger.hbm_read_bytes[: len(r)]) == {per_rank}
    assert set(coupled.ledger.hbm_write_bytes[: len(r)]) == {per_rank}
    assert coupled.makespan_ps > plain.makespan_ps


def test_hbm_and_links_overlap_when_no_transaction_size_is_given() -> None:
    """HGX H100's HBM (3.35 TB/s) barely slows its 450 GB/s of NVLink: memory works a
    transaction at a time, and one transaction per message put a whole read before the first
    packet and a whole write after the last (busbw 342 against 443 GB/s)."""
    s = podsim.system("hgx-h100")
    wl = podsim.workloads.all_reduce(s, 64 << 20)
    plain = wl.evaluate(podsim.simulate(s, wl)).busbw_Bps
    coupled = wl.evaluate(podsim.simulate(s, wl, memory=True)).busbw_Bps
    assert 0.95 * plain < coupled < plain
