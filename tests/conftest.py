"""Shared helpers for the tests: exact serialization arithmetic and small fabrics."""

from __future__ import annotations

import math
import os
import shlex
import shutil

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


@pytest.fixture(scope="module")
def cm() -> podsim.System:
    """CloudMatrix 384 as shipped (a System is immutable, so tests of one module share it)."""
    return podsim.system("cloudmatrix384")


@pytest.fixture(scope="module")
def nv() -> podsim.System:
    """GB300 NVL72 as shipped."""
    return podsim.system("gb300-nvl72")


@pytest.fixture(scope="module")
def cm_cat(cm: podsim.System) -> podsim.faults.Catalog:
    """The failable elements of CloudMatrix 384."""
    return podsim.faults.Catalog(cm)


@pytest.fixture
def params() -> podsim.fabrics.LinkParams:
    return podsim.fabrics.LinkParams(rate_Bps=28e9, latency_ps=10_000, switch_latency_ps=150_000, buffer_bytes=64 << 10)


# ---------------------------------------------------------------------------------------------
# Hypothesis profiles. "default" keeps the whole suite fast enough to run on every change;
# "thorough" (pytest --hypothesis-profile=thorough) searches much harder before a release or
# after an engine change. C++ call times vary with the machine's load, so no profile has a
# deadline. Under CI=true Hypothesis loads its own "ci" profile (derandomized, no deadline, no
# example database); it is re-registered below with the default example budget, keeping all of
# its own settings, so CI runs the same amount of search as a developer, deterministically,
# within the CI time budget.

from hypothesis import HealthCheck, settings  # noqa: E402

DEFAULT_EXAMPLES = 60

settings.register_profile(
    "default",
    max_examples=DEFAULT_EXAMPLES,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ci", parent=settings.get_profile("ci"), max_examples=DEFAULT_EXAMPLES, stateful_step_count=25
)


@pytest.fixture
def cxx() -> list[str]:
    """The C++ compiler command (``$CXX``, else c++ or g++ on PATH) with the project's warning
    flags. A compiler is needed to build podsim from source anyway."""
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not compiler:
        pytest.skip("no C++ compiler on PATH (set CXX)")
    # CXX may carry a launcher or flags ("ccache g++").
    return [*shlex.split(compiler), "-std=c++20", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Werror"]
