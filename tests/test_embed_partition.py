"""Partition readiness: a later conservative parallel engine needs lookahead on every channel.

Such an engine cuts the fabric at channels; each partition may run ahead of the others by the
smallest latency of a cut channel. Data, credit returns and acknowledgements all travel on
channels, so every channel of every shipped system must have latency > 0, and every channel must
have a reverse channel for its credits.
"""

from __future__ import annotations

import numpy as np
import pytest

import podsim


@pytest.mark.parametrize("name", podsim.list_systems())
def test_every_channel_has_latency(name: str) -> None:
    ch = podsim.system(name).topology.channels()
    assert len(ch) > 0
    zero = np.flatnonzero(ch.latency_ps == 0)
    assert zero.size == 0, f"{name}: channels {zero[:10].tolist()} have zero latency"
    # Credits for channel i return on reverse[i], which leads back: i -> reverse -> i.
    assert np.array_equal(ch.reverse[ch.reverse], np.arange(len(ch)))
    assert np.array_equal(ch.src[ch.reverse], ch.dst)


def test_zero_latency_links_are_refused() -> None:
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    with pytest.raises(ValueError, match="latency_ps"):
        t.connect(a, b, rate_Bps=1e9, latency_ps=0)
