"""podsim.compare: every metric side by side, ratios, and the row-by-row check of the article's
claim that CloudMatrix 384 beats GB300 NVL72 "on all metrics"."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import podsim


@pytest.fixture(scope="module")
def cmp() -> podsim.Comparison:
    return podsim.compare(["cloudmatrix384-sa", podsim.system("gb300-nvl72")])


def _row(df: pd.DataFrame, scope: str, metric: str) -> pd.Series:
    hit = df[(df["scope"] == scope) & (df["metric"] == metric)]
    assert len(hit) == 1, (scope, metric)
    return hit.iloc[0]


def test_system_rows_hold_the_article_figures(cmp: podsim.Comparison) -> None:
    df = cmp.to_pandas()
    ok = "cloudmatrix384-sa better than gb300-nvl72"
    for metric, cm, nv in (
        ("BF16 dense", 299.52, 180),
        ("HBM bandwidth, uni", 1228.8, 576),
        ("Scale-up bandwidth, bidi", 268.8, 129.6),
        ("HBM capacity", 48, 20.25),  # TiB: 384 x 128 and 72 x 288 of the DRAM makers' GB (GiB)
        ("Scale-up domain", 384, 72),
    ):
        r = _row(df, "system", metric)
        assert r["cloudmatrix384-sa"] == pytest.approx(cm) and r["gb300-nvl72"] == pytest.approx(nv)
        assert r["cloudmatrix384-sa/gb300-nvl72"] == pytest.approx(cm / nv)
        assert bool(r[ok]) is True
    # The two power figures are not on one basis: the table says so, and gives no verdict on
    # power or per watt.
    bases = cmp.power_bases()
    assert "(all-in)" in bases["cloudmatrix384-sa"] and "(power-shelf output)" in bases["gb300-nvl72"]
    assert cmp.to_markdown().endswith(
        f"gb300-nvl72: {bases['gb300-nvl72']}. The bases of cloudmatrix384-sa and gb300-nvl72 differ (or are not "
        "stated), so the power and per-watt rows give no verdict between them.")
    assert not cmp.power_alike(cmp.systems[1])
    for scope, metric in (("system", "Power, system figure"), ("per chip", "Power, share of the system figure"),
                          ("per watt", "BF16 dense"), ("per watt", "HBM bandwidth, uni")):
        r = _row(df, scope, metric)
        assert r[ok] is None and r["cloudmatrix384-sa/gb300-nvl72"] > 0, (scope, metric)


def test_power_on_one_basis_gets_verdicts() -> None:
    """SemiAnalysis's all-in figures for CloudMatrix 384 and GB200 NVL72 compare like with like."""
    c = podsim.compare(["cloudmatrix384", "gb200-nvl72"])
    assert c.power_alike(c.systems[1])
    r = _row(c.to_pandas(), "system", "Power, system figure")
    assert r["cloudmatrix384/gb200-nvl72"] == pytest.approx(559 / 145)
    assert r["cloudmatrix384 better than gb200-nvl72"] is False
    assert "per watt: BF16 dense" in c.failures()
    # Decided per pair: a third system without a power figure, or on another basis, changes
    # nothing between these two.
    for third in ("hgx-h100", "gb300-nvl72"):
        c3 = podsim.compare(["cloudmatrix384", "gb200-nvl72", third])
        r = _row(c3.to_pandas(), "system", "Power, system figure")
        assert r["cloudmatrix384 better than gb200-nvl72"] is False and r[f"cloudmatrix384 better than {third}"] is None
        assert "per watt: BF16 dense" in c3.failures()
        assert ("differ" in c3.to_markdown()) == (third == "gb300-nvl72")


def test_claim_fails_per_chip_and_per_watt(cmp: podsim.Comparison) -> None:
    assert not cmp.better_on_all()
    failures = cmp.failures()
    for row in ("per chip: BF16 dense", "per chip: HBM bandwidth, uni", "per chip: Scale-up bandwidth, bidi"):
        assert row in failures
    assert "system: BF16 dense" not in failures
    # A row with a figure for only one system is no verdict either way (910C has no FP8).
    assert _row(cmp.to_pandas(), "system", "FP8 dense")["cloudmatrix384-sa better than gb300-nvl72"] is None


def test_fewer_optical_modules_is_better() -> None:
    """CloudMatrix 384 with 2 instead of 4 scale-out modules per chip: 5376 scale-up modules +
    384 x 2 = 6144, against 5376 + 384 x 4 = 6912 as shipped; fewer modules wins the row."""
    fewer = podsim.system("cloudmatrix384", overrides={"system.name": "cm-fewer-optics",
                                                       "scale_out.transceivers_per_chip": 2})
    c = podsim.compare([fewer, "cloudmatrix384"])
    r = _row(c.to_pandas(), "system", "Optical transceivers")
    assert (r["cm-fewer-optics"], r["cloudmatrix384"]) == (6144, 6912)
    assert bool(r["cm-fewer-optics better than cloudmatrix384"]) is True
    assert "system: Optical transceivers" not in c.failures()


def test_better_on_all_when_every_row_wins() -> None:
    """CloudMatrix 384 against a copy of itself made worse on every row: rates and capacities x 0.25,
    half the chips (so per chip each rate is x 0.5, power x 4), power, modules and optics power
    x 2 (per watt x 0.125). Same spec, so the power bases match and every row gives a verdict:
    all of them for the first system. A figure missing for the other gives no verdict, not a loss."""
    c = podsim.Comparison([podsim.system("cloudmatrix384"),
                           podsim.system("cloudmatrix384", overrides={"system.name": "cm-worse"})])
    p = c.peaks[1]
    assert p.power_W is not None and p.transceivers is not None and p.optics_power_W is not None
    rates: dict[str, Any] = {k: None if getattr(p, k) is None else 0.25 * getattr(p, k) for k in (*p.RATES, "int8_ops")}
    c.peaks[1] = replace(p, **rates, chips=p.chips // 2, power_W=2 * p.power_W, transceivers=2 * p.transceivers,
                         transceivers_scale_up=2 * p.transceivers_scale_up, optics_power_W=2 * p.optics_power_W)
    verdicts = c.to_pandas()["cloudmatrix384 better than cm-worse"]
    assert all(v is True for v in verdicts.tolist()) and len(verdicts) == 24 - 2  # no FP8, FP4 rows: the 910C has neither
    assert c.better_on_all() and c.failures() == []
    assert "on every metric with figures for both: **yes**" in c.to_markdown()
    c.peaks[1] = replace(c.peaks[1], scale_out_uni_Bps=None)
    assert _row(c.to_pandas(), "system", "Scale-out bandwidth, uni")["cloudmatrix384 better than cm-worse"] is None
    assert c.better_on_all() and c.failures() == []
    assert "on every metric with figures for both: **yes**" in c.to_markdown()


def test_markdown_without_tabulate(cmp: podsim.Comparison, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tabulate", None)  # importing it would now fail
    md = cmp.to_markdown()
    lines = md.splitlines()
    assert lines[0].startswith("| scope | metric | unit | cloudmatrix384-sa | gb300-nvl72 |")
    assert lines[1].count("|") == lines[0].count("|")
    assert "| system | Scale-up bandwidth, bidi | TB/s | 268.8 | 129.6 | 2.07× | yes |" in md
    assert "| system | HBM bandwidth, uni | TB/s | 1,228.8 | 576 | 2.13× | yes |" in md
    assert "| per watt | BF16 dense | TFLOPS/kW |" in md and "**no**" in md
    assert "on every metric with figures for both: **no** (a – is no figure" in md
    assert "or no verdict)\n\nPower is each spec's system figure" in md


def test_three_systems_and_paper_basis() -> None:
    c = podsim.compare(["cloudmatrix384", "gb300-nvl72", "gb200-nvl72"])
    df = c.to_pandas()
    r = _row(df, "system", "Scale-up bandwidth, bidi")
    assert r["cloudmatrix384"] == pytest.approx(301.056)
    assert {"cloudmatrix384/gb200-nvl72", "cloudmatrix384 better than gb200-nvl72"} <= set(df.columns)
    assert len(c.to_markdown().splitlines()[0].split("|")) == 3 + 3 + 2 * 2 + 2


def test_compare_arguments() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        podsim.compare(["cloudmatrix384"])
    with pytest.raises(TypeError, match="systems"):
        podsim.compare("cloudmatrix384")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"systems\[1\]"):
        podsim.compare(["cloudmatrix384", 72])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="need at least 2 podsim.System objects"):
        podsim.Comparison([])
    spec = Path(podsim.__file__).parent / "specs" / "systems" / "hgx-h20.toml"
    assert [s.name for s in podsim.compare(["hgx-h100", spec]).systems] == ["hgx-h100", "hgx-h20"]


def test_systems_with_one_name_are_refused(tmp_path: Path) -> None:
    """Columns are keyed by system name: a second system of the same name would overwrite the first."""
    variant = tmp_path / "faster.toml"
    variant.write_text('[system]\nname = "hgx-h100"\nextends = "hgx-h100"\n')
    with pytest.raises(ValueError, match=r"systems: 'hgx-h100' and '.*faster\.toml' are both named 'hgx-h100' \(positions 1 and 2\)"):
        podsim.compare(["hgx-h100", variant])
    with pytest.raises(ValueError, match=r"systems: 'hgx-h20' is given twice \(positions 1 and 2\)"):
        podsim.compare(["hgx-h20", "hgx-h20"])
