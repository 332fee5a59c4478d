"""Plotting degradation curves (matplotlib; a figure of its own needs no display and no pyplot)."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from podsim.faults.degradation import summarize


def plot(rows: pd.DataFrame, path: str | os.PathLike[str] | None = None, *, metric: str = "rel_busbw",
         ax: Any = None, title: str | None = None) -> Any:
    """Mean of ``metric`` against k failed elements, one line per (system, kind, policy), with the
    min-max band over the draws; returns the matplotlib ``Axes``.

    Args:
        rows: what :func:`podsim.faults.degradation` returned (several may be concatenated).
        path: write the figure there (PNG/SVG/PDF by extension) when given.
        metric: a numeric column: ``rel_busbw`` (fraction of the intact busbw), ``busbw_Bps``,
            ``algbw_Bps``, ``time_s``.
        ax: draw into this Axes instead of a new figure.
        title: axes title.
    """
    from matplotlib.figure import Figure

    table = summarize(rows, metric)
    if table[f"{metric}_mean"].isna().all():
        raise ValueError(f"rows: no run completed (status 'ok'), so there is no {metric} to plot")
    if ax is None:
        # A Figure outside pyplot: no global backend switch, and nothing left open per call.
        ax = Figure(figsize=(7, 4.2), layout="constrained").add_subplot()
    for (system, kind, policy), g in table.groupby(["system", "kind", "policy"]):
        g = g.sort_values("k")
        line, = ax.plot(g["k"], g[f"{metric}_mean"], marker="o", label=f"{system}: {kind}, {policy}")
        ax.fill_between(g["k"], g[f"{metric}_min"], g[f"{metric}_max"], color=line.get_color(), alpha=0.2)
    ax.set_xscale("symlog", linthresh=1)
    # Tick the k values that were run, printed as plain integers (not powers of ten).
    ticks = sorted(int(k) for k in table["k"].unique())
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("failed elements k")
    labels = {"rel_busbw": "busbw / busbw with no failure", "busbw_Bps": "busbw, B/s", "algbw_Bps": "algbw, B/s",
              "time_s": "completion time, s"}
    ax.set_ylabel(labels.get(metric, metric))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    if path is not None:
        ax.figure.savefig(os.fspath(path), dpi=120)
    return ax
