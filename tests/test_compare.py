"""podsim.compare: every metric side by side, ratios, and the row-by-row check of the article's
claim that CloudMatrix 384 beats GB300 NVL72 "on all metrics"."""

from __future__ import annotations

import sys
from pathlib import Path

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
