"""Plots of runs and comparisons (matplotlib, headless: figures are drawn on the Agg canvas and
never touch pyplot's global state, so they work in scripts, servers and threads alike).

Each ``*_ax`` function draws into a given matplotlib ``Axes``; :func:`run_figure` and
:func:`compare_figure` compose them and save a PNG (or any format matplotlib knows by suffix).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from podsim.report import arrived_over_time, channel_tiers, require_fabric, tier_utilization_over_time
from podsim.results import NOT_YET, Result
from podsim.topology import Topology

#: Time bins of the time-resolved plots.
TIME_BINS = 60
#: Columns of the utilisation heat map when there is no trace (channels resampled per tier).
PROFILE_COLUMNS = 64


def _time_unit(span_ps: float) -> tuple[str, float]:
    """The unit that keeps a time axis of ``span_ps`` readable, and its size in ps."""
    for unit, scale in (("s", 1e12), ("ms", 1e9), ("us", 1e6), ("ns", 1e3)):
        if span_ps >= 2 * scale:
            return unit, scale
    return "ps", 1.0


def _run_window(result: Result) -> tuple[float, float]:
    """From the first message start to the end of the traffic, ps (at least 1 ps long)."""
    start = float(result.messages.start_ps.min()) if len(result.messages) else 0.0
    end = float(result.traffic_end_ps)
    return start, max(end, start + 1.0)


def utilization_heatmap_ax(
    ax: Axes, result: Result, topology: Topology, roles: Sequence[str] | np.ndarray | None = None
) -> Any:
    """Channel utilisation per tier (rows: ``endpoint→L1``, ``L1→L2``, ... see
    :func:`podsim.report.channel_tiers`).

    With a complete trace (``simulate(..., trace=N)`` and nothing dropped) the columns are time
    bins and a cell is the mean utilisation in that bin of the tier's channels that carried
    traffic (row labels say how many of the tier's channels that is). Otherwise the columns are
    all the tier's channels sorted from busiest to idlest (resampled to a fixed width), a cell is
    a channel's utilisation over the whole run: a flat row is an evenly loaded tier.

    Returns the image (for a colour bar).
    """
    require_fabric(result, topology)
    tier, names = channel_tiers(topology, roles)
    tr = result.trace
    used = result.channels.packets > 0
    if tr is not None and tr.dropped == 0 and len(tr):
        lo, hi = _run_window(result)
        unit, scale = _time_unit(hi - lo)
        edges = np.linspace(lo, hi, TIME_BINS + 1)
        grid = tier_utilization_over_time(tr, tier, len(names), edges, used)
        total, busy = np.bincount(tier, minlength=len(names)), np.bincount(tier, weights=used, minlength=len(names))
        names = [f"{n} ({int(b)}/{t} used)" for n, b, t in zip(names, busy, total)]
        extent = (lo / scale, hi / scale, len(names) - 0.5, -0.5)
        ax.set_xlabel(f"simulated time ({unit})")
        ax.set_title("channel utilisation per tier over time")
    else:
        util = result.channels.utilization
        grid = np.zeros((len(names), PROFILE_COLUMNS))
        for t in range(len(names)):
            u = np.sort(util[tier == t])[::-1]
            if len(u):
                grid[t] = u[np.linspace(0, len(u) - 1, PROFILE_COLUMNS).round().astype(int)]
        extent = (0, 100, len(names) - 0.5, -0.5)
        ax.set_xlabel("channels of the tier, busiest to idlest (%)")
        ax.set_title("channel utilisation per tier (whole run)")
    img = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0.0, vmax=1.0, extent=extent)
    ax.set_yticks(range(len(names)), names)
    return img


def latency_cdf_ax(ax: Axes, result: Result) -> None:
    """CDF of message latency (start to end, complete messages) and of data-packet latency
    (the engine's log2 histogram, drawn at bucket upper edges: an upper bound, so each edge is
    capped at what no packet's latency can exceed: the longest message latency of a complete
    run, else the time from the first message start to the time reached), in microseconds, log
    x axis."""
    lat = result.messages.latency_ps
    lat = np.sort(lat[lat >= 0]).astype(np.float64)
    if len(lat):
        ax.step(lat / 1e6, np.arange(1, len(lat) + 1) / len(lat), where="post", label=f"messages ({len(lat):,})")
    hist = np.asarray(result.packet_latency_histogram, dtype=np.float64)
    if hist.sum() > 0:
        # A packet is created after its message starts and delivered before it ends (or, in a
        # run stopped early, before the time reached).
        started = result.messages.start_ps[result.messages.start_ps != NOT_YET]
        bound = lat[-1] if result.complete and len(lat) else result.now_ps - int(started.min()) if len(started) else np.inf
        upper = np.minimum(2.0 ** (np.arange(len(hist)) + 1), bound)
        keep = slice(int(np.argmax(hist > 0)), int(len(hist) - np.argmax(hist[::-1] > 0)))
        ax.step(upper[keep] / 1e6, np.cumsum(hist)[keep] / hist.sum(), where="post", label=f"packets ({int(hist.sum()):,})")
    ax.set_xscale("log")
    # Plain numbers on the log axis, at 1, 2 and 5 of each decade: matplotlib's "3×10^0"-style
    # minor labels collide on spans under a decade.
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: f"{x:g}" if f"{x:.0e}"[0] in "25" else ""))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("latency (us)")
    ax.set_ylabel("fraction ≤ latency")
    ax.set_title("latency CDF")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left")


def throughput_ax(ax: Axes, result: Result, topology: Topology, peak_uni_Bps: float | None = None) -> None:
    """Payload arriving at the endpoints per second of simulated time, all together (uni), over
    the run; a dashed line at ``peak_uni_Bps`` if given. Packet-accurate, from the last-hop
    links, with a complete trace, else from message deliveries (see
    :func:`podsim.report.arrived_over_time`)."""
    require_fabric(result, topology)
    lo, hi = _run_window(result)
    unit, scale = _time_unit(hi - lo)
    edges = np.linspace(lo, hi, TIME_BINS + 1)
    arrived, exact = arrived_over_time(result, topology, edges)
    rate = arrived / (np.diff(edges) * 1e-12)
    tscale = 1e12 if max(rate.max(initial=0.0), peak_uni_Bps or 0.0) >= 1e12 else 1e9
    tunit = "TB/s" if tscale == 1e12 else "GB/s"
    ax.stairs(rate / tscale, edges / scale, fill=True, alpha=0.6, label="achieved")
    if peak_uni_Bps:
        ax.axhline(peak_uni_Bps / tscale, color="C3", linestyle="--", label="peak injection")
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel(f"{'arriving at endpoints' if exact else 'delivered'} ({tunit} uni)")
    ax.set_title("achieved throughput over time" + (" (last-hop links)" if exact else " (from message deliveries)"))
    # Headroom above the peak line keeps the legend off the data.
    ax.set_ylim(0, 1.3 * max(rate.max(initial=0.0), peak_uni_Bps or 0.0) / tscale or 1.0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", ncols=2)


@dataclass(frozen=True)
class Bar:
    """One system's pair of bars in :func:`peak_vs_achieved_ax`: bytes/s, one direction (uni)."""

    label: str
    peak_uni_Bps: float
    achieved_uni_Bps: float | None


def peak_vs_achieved_ax(ax: Axes, bars: Sequence[Bar], title: str = "peak vs achieved scale-up bandwidth") -> None:
    """Grouped bars per system: peak and achieved (uni), with achieved as a % of peak on top.

    ``achieved_uni_Bps`` of None draws the peak alone (a system compared on peak figures only).
    """
    x = np.arange(len(bars))
    peak = np.array([b.peak_uni_Bps for b in bars]) / 1e12
    ax.bar(x - 0.2, peak, 0.4, label="peak (uni)", color="C0")
    got = [b for b in bars if b.achieved_uni_Bps is not None]
    if got:
        xs = np.array([i for i, b in enumerate(bars) if b.achieved_uni_Bps is not None])
        ach = np.array([b.achieved_uni_Bps for b in got]) / 1e12
        rects = ax.bar(xs + 0.2, ach, 0.4, label="achieved (uni)", color="C1")
        pct = [f"{a / p:.0%}" if p > 0 else "" for a, p in zip(ach, peak[xs])]
        ax.bar_label(rects, pct, padding=2)
    ax.set_xticks(x, [b.label for b in bars])
    ax.set_xlim(-0.7, len(bars) - 0.3)
    ax.set_ylim(0, 1.25 * peak.max(initial=0.0) or 1.0)
    ax.set_ylabel("TB/s, one direction")
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper right", ncols=2)


def run_figure(
    result: Result,
    topology: Topology,
    path: str | Path,
    *,
    roles: Sequence[str] | np.ndarray | None = None,
    peak_uni_Bps: float | None = None,
    label: str = "run",
    title: str = "",
) -> Path:
    """Four panels of one run: utilisation per tier, latency CDF, throughput over time, and
    achieved against ``peak_uni_Bps`` (bytes/s, uni; the bar panel is left out without it),
    the bars named ``label``. Saved to ``path``; returns it."""
    if peak_uni_Bps is not None and not (isinstance(peak_uni_Bps, numbers.Real) and 0 < peak_uni_Bps < math.inf):
        raise ValueError(f"peak_uni_Bps: must be a finite rate > 0 in bytes/s, or None, got {peak_uni_Bps!r}")
    fig = Figure(figsize=(13, 8.5), layout="constrained")
    axes = fig.subplots(2, 2)
    img = utilization_heatmap_ax(axes[0, 0], result, topology, roles)
    fig.colorbar(img, ax=axes[0, 0], label="utilisation")
    latency_cdf_ax(axes[0, 1], result)
    throughput_ax(axes[1, 0], result, topology, peak_uni_Bps)
    if peak_uni_Bps:
        peak_vs_achieved_ax(axes[1, 1], [Bar(label, peak_uni_Bps, result.achieved_bandwidth())], "achieved vs peak injection")
    else:
        axes[1, 1].set_axis_off()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def compare_figure(bars: Sequence[Bar], path: str | Path, *, title: str = "peak vs achieved scale-up bandwidth") -> Path:
    """Peak vs achieved bars of several systems, saved to ``path``; returns it."""
    fig = Figure(figsize=(max(6.0, 2.2 * len(bars) + 2), 4.8), layout="constrained")
    peak_vs_achieved_ax(fig.subplots(), bars, title)
    return _save(fig, path)


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
