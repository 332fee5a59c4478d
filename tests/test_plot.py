"""Tiers, tier utilisation over time, and the plots (non-empty PNGs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

import podsim
from podsim import plot, report
from podsim.results import TransmissionTrace

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def clos() -> podsim.Topology:
    p = podsim.fabrics.LinkParams(rate_Bps=28e9, latency_ps=10_000, switch_latency_ps=150_000, buffer_bytes=64 << 10)
    return podsim.fabrics.folded_clos(2, 4, 2, p)


@pytest.fixture(scope="module")
def traced(clos: podsim.Topology) -> podsim.Result:
    h = clos.endpoints
    src, dst = np.meshgrid(h, h)
    keep = src != dst
    return podsim.simulate(clos, podsim.Messages(src[keep], dst[keep], 16 << 10), trace=1_000_000)


def test_levels_and_tiers_of_a_clos(clos: podsim.Topology) -> None:
    level = report.node_levels(clos)
    assert set(level[clos.endpoints]) == {0} and set(level) == {0, 1, 2}
    tier, names = report.channel_tiers(clos)
    assert names == ["endpoint→L1", "L1→endpoint", "L1→L2", "L2→L1"]
    ch = clos.channels()
    up = tier == names.index("L1→L2")
    assert np.all(level[ch.src[up]] == 1) and np.all(level[ch.dst[up]] == 2)
    assert np.bincount(tier).sum() == clos.num_channels


def test_tiers_use_roles_of_a_system() -> None:
    cm = podsim.system("cloudmatrix384")
    _, names = report.channel_tiers(cm.topology, cm.roles())
    assert names[0] == "die→die"  # the die-to-die link: both ends at level 0
    assert {"die→l1", "cpu→l1", "l1→l2", "l2→l1", "l1→die"} <= set(names)
    with pytest.raises(ValueError, match="roles"):
        report.channel_tiers(cm.topology, ["x"])


def test_tier_utilization_is_exact_on_a_hand_made_trace() -> None:
    # One channel busy [10, 30) and [35, 40) ps; bins [0, 20), [20, 40).
    tr = TransmissionTrace(start_ps=np.array([10, 35]), end_ps=np.array([30, 40]), channel=np.array([0, 0]),
                           msg=np.array([0, 0]), wire_bytes=np.array([1, 1]), payload_bytes=np.array([1, 1]), dropped=0)
    util = report.tier_utilization_over_time(tr, np.array([0, 1]), 2, np.array([0, 20, 40]))
    np.testing.assert_allclose(util, [[0.5, 0.75], [0.0, 0.0]])


def test_tier_utilization_adds_up_to_busy_time(clos: podsim.Topology, traced: podsim.Result) -> None:
    tier, names = report.channel_tiers(clos)
    edges = np.linspace(0, traced.now_ps, 17)
    util = report.tier_utilization_over_time(traced.trace, tier, len(names), edges)
    per_tier = np.bincount(tier)
    busy = (util * np.diff(edges)).sum(axis=1) * per_tier
    np.testing.assert_allclose(busy, np.bincount(tier, weights=traced.channels.busy_ps), rtol=1e-9)


def test_arrived_over_time_counts_every_byte(clos: podsim.Topology, traced: podsim.Result) -> None:
    edges = np.linspace(0, traced.now_ps + 1, 11)
    total = int(traced.messages.size.sum())
    per_bin, exact = report.arrived_over_time(traced, clos, edges)
    assert exact and per_bin.sum() == pytest.approx(total, rel=1e-9)
    # Spread over serialization, no bin beats the endpoints' total link rate.
    assert per_bin.max() <= report.injection_peak_uni(clos, clos.endpoints) * np.diff(edges)[0] * 1e-12 * (1 + 1e-9)
    untraced = podsim.simulate(clos, podsim.Messages(traced.messages.src, traced.messages.dst, traced.messages.size))
    per_bin, exact = report.arrived_over_time(untraced, clos, edges)
    assert not exact and per_bin.sum() == total


def test_injection_peak_matches_the_system_peak() -> None:
    s = podsim.system("gb300-nvl72")
    assert report.injection_peak_uni(s.topology, s.ranks) == s.peak().scale_up_uni_Bps


def test_a_path_peak_counts_the_links_routing_can_take() -> None:
    """Endpoints do not relay: of S's two 2-hop paths to D, only the one through a switch counts,
    as in the engine's routing; a direct link is the shortest path and alone."""
    t = podsim.Topology()
    s, d, w = (t.add_endpoint(n) for n in ("s", "d", "w"))
    x = t.add_switch("x", latency_ps=0, buffer_bytes=1 << 16)
    for a, b in ((s, x), (x, d), (s, w), (w, d)):
        t.connect(a, b, rate_Bps=100e9, latency_ps=1000)
    assert report.path_peak_uni(t, s, [d]) == 100e9
    t.connect(s, d, rate_Bps=30e9, latency_ps=1000)
    assert report.path_peak_uni(t, s, [d]) == 30e9


def _png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 10_000


def test_run_figure_with_and_without_trace(tmp_path: Path, clos: podsim.Topology, traced: podsim.Result) -> None:
    _png(plot.run_figure(traced, clos, tmp_path / "traced.png", peak_uni_Bps=8 * 28e9, title="traced"))
    plain = podsim.simulate(clos, podsim.Messages(traced.messages.src, traced.messages.dst, traced.messages.size))
    _png(plot.run_figure(plain, clos, tmp_path / "plain.png"))
    # A run drawn over another fabric, or against a peak that is no rate, is refused by name.
    other = podsim.fabrics.star(3, podsim.fabrics.LinkParams(28e9, 10_000))  # 3 links: 6 channels
    with pytest.raises(ValueError, match=r"topology: has 6 channels, the result \d+: not the run's fabric"):
        plot.run_figure(traced, other, tmp_path / "other.png")
    for bad in (float("nan"), -1.0, 0):
        with pytest.raises(ValueError, match="peak_uni_Bps: must be a finite rate > 0"):
            plot.run_figure(traced, clos, tmp_path / "bad.png", peak_uni_Bps=bad)
    assert not (tmp_path / "other.png").exists() and not (tmp_path / "bad.png").exists()


def test_packet_latency_curve_stays_within_the_message_latencies(traced: podsim.Result) -> None:
    """The packet CDF is drawn at log2 bucket tops: capped at the longest message latency (which
    bounds every packet's), it once reached up to twice past the end of the run."""
    fig = Figure()
    ax = fig.add_subplot()
    plot.latency_cdf_ax(ax, traced)
    messages, packets = ax.get_lines()
    assert packets.get_xdata().max() <= messages.get_xdata().max() == traced.messages.latency_ps.max() / 1e6
    assert packets.get_ydata()[-1] == 1.0
    # Stopped early, a packet of an unfinished message may have waited longer than any finished
    # message took: the bound is then the time reached since the first start.
    star = podsim.fabrics.star(3, podsim.fabrics.LinkParams(rate_Bps=28e9, latency_ps=10_000))
    sim = podsim.Simulation(star)
    h = star.endpoints
    sim.add(podsim.Messages([h[1], h[1]], [h[2], h[2]], [64, 50_000_000]))
    sim.run_until(200_000_000)
    partial = sim.result()
    assert not partial.complete
    fig = Figure()
    ax = fig.add_subplot()
    plot.latency_cdf_ax(ax, partial)
    messages, packets = ax.get_lines()
    slowest = 2.0 ** (np.flatnonzero(partial.packet_latency_histogram).max())  # the slowest bucket's lower edge
    assert slowest / 1e6 <= packets.get_xdata().max() <= 200_000_000 / 1e6


def test_heatmap_rows_are_tiers(clos: podsim.Topology, traced: podsim.Result) -> None:
    ax = Figure().subplots()
    img = plot.utilization_heatmap_ax(ax, traced, clos)
    grid = img.get_array()
    assert grid.shape == (4, plot.TIME_BINS)
    assert 0 < grid.max() <= 1
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert [lab.split(" (")[0] for lab in labels] == report.channel_tiers(clos)[1]
    assert labels[0] == "endpoint→L1 (8/8 used)"


def test_utilization_of_used_channels_only(clos: podsim.Topology) -> None:
    """Two endpoints of eight send to each other: averaged over the channels used, their links
    are busy; over all of the tier's channels, 2 of 8 are."""
    h = clos.endpoints
    res = podsim.simulate(clos, podsim.Messages([h[0], h[1]], [h[1], h[0]], 1 << 20), trace=100_000)
    tier, names = report.channel_tiers(clos)
    edges = np.array([res.messages.start_ps[0], res.messages.delivered_ps[0] - 20_000], dtype=np.float64)
    up = names.index("endpoint→L1")
    used = report.tier_utilization_over_time(res.trace, tier, len(names), edges, res.channels.packets > 0)[up, 0]
    everyone = report.tier_utilization_over_time(res.trace, tier, len(names), edges)[up, 0]
    assert used > 0.9 and everyone == pytest.approx(used * 2 / 8)


def test_compare_figure(tmp_path: Path) -> None:
    bars = [plot.Bar("a", 2e12, 1e12), plot.Bar("b", 1e12, None)]
    _png(plot.compare_figure(bars, tmp_path / "c.png"))
    ax = Figure().subplots()
    plot.peak_vs_achieved_ax(ax, bars)
    assert [t.get_text() for t in ax.texts] == ["50%"]
