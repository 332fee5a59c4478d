"""Shared helpers for the tests: exact serialization arithmetic and small fabrics."""

from __future__ import annotations

import math

import pytest

import podsim


def ser_ps(wire_bytes: int, rate_Bps: int) -> int:
    """Exact serialization time in ps: ceil(bytes * 1e12 / rate), in integers."""
    return -(-wire_bytes * 10**12 // rate_Bps)


def packet_sizes(size: int, mtu: int, header: int) -> list[int]:
    """Wire sizes of the packets a message of ``size`` payload bytes is cut into."""
    payload = mtu - header
    n = math.ceil(size / payload)
    return [payload + header] * (n - 1) + [size - payload * (n - 1) + header]


@pytest.fixture
def params() -> podsim.fabrics.LinkParams:
    return podsim.fabrics.LinkParams(rate_Bps=28e9, latency_ps=10_000, switch_latency_ps=150_000, buffer_bytes=64 << 10)
