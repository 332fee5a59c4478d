"""podsim.faults rates, job risk, Monte-Carlo draws and the optics table, against hand arithmetic
from the spec values and the inventory."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import podsim
from podsim import faults


def test_cloudmatrix_rates_by_hand(cm: podsim.System, cm_cat: faults.Catalog) -> None:
    rates = faults.failure_rates(cm, cm_cat).set_index("element")
    inv = cm.inventory()
    fit = cm.spec.transceivers["lpo-400g"]["fit"].value
    mod = rates.loc["optical module lpo-400g (l1-l2)"]
    assert mod["count"] == inv.transceivers_scale_up
    assert mod["failures_per_day"] == pytest.approx(inv.transceivers_scale_up * fit * 1e-9 * 24)
    assert (mod["source"], mod["evidence"]) == ("faults.md §1.2", "3P")
    # All optics of the machine (faults.md §5.3's table at 1,000 FIT): one failure every ~6 days.
    optics = rates[rates["draw"].str.startswith("transceiver") | (rates["domain"] == "scale-out")]
    assert optics["count"].sum() == inv.transceivers
    assert optics["failures_per_day"].sum() == pytest.approx(inv.transceivers * fit * 24e-9)
    assert 1 / optics["failures_per_day"].sum() == pytest.approx(6.03, abs=0.01)
    sw = cm.spec.switches["ub-l1"]["fit"].value
    assert rates.loc["switch chip ub-l1 (l1)", "count"] == inv.switches["l1"]
    assert rates.loc["switch chip ub-l1 (l1)", "failures_per_day"] == pytest.approx(inv.switches["l1"] * sw * 24e-9)
    assert math.isnan(rates.loc["electrical link die-l1", "fit"])


def test_job_risk_is_poisson(cm: podsim.System, cm_cat: faults.Catalog) -> None:
    rates = faults.failure_rates(cm, cm_cat)
    up = rates[(rates["domain"] == "scale-up") & rates["fit"].notna()]
    lam = float((up["count"] * up["fit"]).sum()) * 1e-9
    risk = faults.job_risk(cm, hours=(24, 168), catalog=cm_cat)
    assert risk["failures_per_day"] == pytest.approx(lam * 24)
    assert risk["mtbf_h"] == pytest.approx(1 / lam)
    assert risk["p_fail_168h"] == pytest.approx(1 - math.exp(-lam * 168))
    everything = faults.job_risk(cm, domains=("scale-up", "scale-out"), catalog=cm_cat)
    assert everything["failures_per_day"] > risk["failures_per_day"]
    for bad, shown in ((0, "0.0"), (math.inf, "inf")):  # the range excludes both ends
        with pytest.raises(ValueError, match=rf"^hours: must be a finite number in \(0, inf\) h, got {shown}$"):
            faults.job_risk(cm, hours=(bad,), catalog=cm_cat)
    with pytest.raises(ValueError, match=r"^duration_h: must be a finite number in \(0, inf\) h, got inf$"):
        faults.draw(cm, math.inf, catalog=cm_cat)
    with pytest.raises(ValueError, match=r"domains: each must be one of \['scale-up', 'scale-out'\]"):
        faults.job_risk(cm, domains=["scaleup"], catalog=cm_cat)


@pytest.mark.parametrize("shape", [0.001, 25.0, math.nan])
def test_draw_refuses_weibull_shapes_out_of_range(shape: float) -> None:
    with pytest.raises(ValueError, match="shape"):
        faults.draw(podsim.system("hgx-h100"), 24, shape=shape)


def test_nvl72_has_no_optics_and_no_copper_rate() -> None:
    nv = podsim.system("gb300-nvl72")
    rates = faults.failure_rates(nv)
    assert not rates["draw"].str.startswith("transceiver").any()
    copper = rates[rates["draw"] == "link:gpu-switch"].iloc[0]
    assert copper["count"] == nv.inventory().links["gpu-switch"] and math.isnan(copper["fit"])
    n_sw = nv.inventory().switches["switch"]
    assert faults.job_risk(nv)["failures_per_day"] == pytest.approx(n_sw * nv.spec.switches["nvswitch-gen4"]["fit"].value * 24e-9)
    assert faults.optics(nv).empty and nv.peak().optics_power_W == 0.0


def test_nvl72_scale_out_optics_are_unknown_not_zero() -> None:
    # The spec declares a scale-out NIC per GPU but no module count (faults.md §5.3 (iv)): the
    # modules exist, so the row says so and a total over them is unknown, not the scale-up figure.
    nv = podsim.system("gb300-nvl72")
    out = faults.failure_rates(nv).set_index("domain").loc["scale-out"]
    assert out["count"] is pd.NA and math.isnan(out["failures_per_day"])
    assert "module count not in spec" in out["note"]
    with pytest.warns(RuntimeWarning, match=r"gb300-nvl72: scale-out optical module .*module count not in spec.*NaN"):
        risk = faults.job_risk(nv, domains=("scale-up", "scale-out"))
    assert all(math.isnan(x) for x in risk.values())
    # A spec with no scale-out network (an HGX baseboard) has no scale-out row to be unknown.
    assert "scale-out" not in set(faults.failure_rates(podsim.system("hgx-h100"))["domain"])


def test_fit_override_takes_a_listed_alternative() -> None:
    worse = podsim.system("cloudmatrix384", overrides={"transceivers.lpo-400g.fit": 2000})
    q = worse.spec.transceivers["lpo-400g"]["fit"]
    assert q.note.startswith("Meta pluggable, 0.5 M h")
    row = faults.failure_rates(worse).iloc[0]
    assert row["failures_per_day"] == pytest.approx(worse.inventory().transceivers_scale_up * 2000 * 24e-9)


def test_bad_fit_unit_names_the_field(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text('[system]\nname = "x"\ntitle = "x"\nextends = "cloudmatrix384"\n'
                 '[transceivers.mine]\ntitle = "m"\n'
                 'rate_uni = { value = 400, unit = "Gb/s", source = "assumption", evidence = "assumption", note = "t" }\n'
                 'electrical_lanes = { value = 4, unit = "count", source = "assumption", evidence = "assumption", note = "t" }\n'
                 'lane_rate_uni = { value = 112, unit = "Gb/s", source = "assumption", evidence = "assumption", note = "t" }\n'
                 'fit = { value = 1000, unit = "h", source = "assumption", evidence = "assumption", note = "t" }\n')
    with pytest.raises(ValueError, match=r"transceivers\.mine\.fit"):
        podsim.system(p)


def test_draws_are_seeded_and_match_the_rate(cm: podsim.System, cm_cat: faults.Catalog) -> None:
    a = faults.draw(cm, 168, seed=5, catalog=cm_cat)
    b = faults.draw(cm, 168, seed=5, catalog=cm_cat)
    assert a.events.equals(b.events)
    counts = np.array([len(faults.draw(cm, 168, seed=s, catalog=cm_cat)) for s in range(150)])
    expected = faults.job_risk(cm, hours=(168,), catalog=cm_cat)
    assert counts.mean() == pytest.approx(expected["failures_per_day"] * 7, abs=0.4)
    assert (counts > 0).mean() == pytest.approx(expected["p_fail_168h"], abs=0.12)
    # Early-life Weibull (shape 0.5) with the same mean life: P(fail by T) = 1 - exp(-(T / eta)^k),
    # eta = MTBF / Gamma(1 + 1/k), for new parts; after a burn-in of age a, conditional on survival.
    k, T = 0.5, 168.0
    rates = faults.failure_rates(cm, cm_cat)
    up = rates[(rates["domain"] == "scale-up") & rates["fit"].notna()]
    eta = 1e9 / up["fit"] / math.gamma(1 + 1 / k)
    expect = float((up["count"] * -np.expm1(-((T / eta) ** k))).sum())
    young = np.mean([len(faults.draw(cm, T, seed=s, shape=k, catalog=cm_cat)) for s in range(20)])
    assert young == pytest.approx(expect, rel=0.06)
    age = 50_000.0
    burnt = np.mean([len(faults.draw(cm, T, seed=s, shape=k, age_h=age, catalog=cm_cat)) for s in range(20)])
    expect_burnt = float((up["count"] * -np.expm1(-(((age + T) / eta) ** k) + (age / eta) ** k)).sum())
    assert burnt == pytest.approx(expect_burnt, rel=0.3) and burnt < young / 5


def test_schedule_state_at_a_time_feeds_apply(cm: podsim.System, cm_cat: faults.Catalog) -> None:
    sch = next(s for s in (faults.draw(cm, 720, seed=i, repair_h=4.0, catalog=cm_cat) for i in range(50)) if len(s))
    assert sch.events["name"].is_unique  # an element fails at most once per draw
    t0, first = float(sch.events["time_h"].iloc[0]), sch.events["name"].iloc[0]
    assert sch.at(0.0) == [] and [e.name for e in sch.at(t0)] == [first]
    assert first not in [e.name for e in sch.at(min(t0 + 4.0, sch.duration_h))] or t0 + 4.0 > sch.duration_h
    now = sch.at(t0)
    f = faults.apply(cm, now, on_unreachable="keep", catalog=cm_cat)
    assert len(f.removed_links) > 0
    with pytest.raises(ValueError, match="t_h"):
        sch.at(sch.duration_h + 1)
    for kw, field in (({"shape": 0}, "shape"), ({"age_h": -1}, r"age_h: must be a finite number in \[0, inf\) h, got -1"),
                      ({"age_h": float("nan")}, "age_h"), ({"repair_h": 0}, "repair_h")):
        with pytest.raises(ValueError, match=field):
            faults.draw(cm, 10, catalog=cm_cat, **kw)
    with pytest.raises(ValueError, match="duration_h"):
        faults.draw(cm, 0, catalog=cm_cat)


def test_optics_table_and_peak(cm: podsim.System, cm_cat: faults.Catalog) -> None:
    row = faults.optics(cm, cm_cat).iloc[0]
    module = cm.spec.transceivers["lpo-400g"]
    assert row["modules"] == cm.inventory().transceivers_scale_up
    assert row["power_W"] == pytest.approx(row["modules"] * module["power"].si)
    assert cm.peak().optics_power_W == pytest.approx(row["power_W"])
    assert row["module_latency"] == faults.NOT_PUBLISHED and math.isnan(row["module_ns"])
    prop = cm.spec.topology["uplink"]["latency"].si * 1e9
    assert row["budget_ns"] == pytest.approx(prop + module["fec_latency"].si * 1e9)
    df = podsim.compare([cm, "gb300-nvl72"]).to_pandas()
    hit = df[df["metric"] == "Optics power, scale-up"].iloc[0]
    assert hit["cloudmatrix384"] == pytest.approx(row["power_W"] / 1e3) and hit["gb300-nvl72"] == 0


def test_job_monte_carlo_covers_every_hour_and_simulates_each_state_once() -> None:
    hgx = podsim.system("hgx-h100")
    wl = podsim.workloads.all_to_all(hgx, 256 << 10)
    # 4 NVSwitch chips at 9,100 FIT: about 3.6 failures per 100,000 h, each repaired after 20,000 h.
    rows = faults.job(hgx, wl, duration_h=100_000, samples=3, seed=5, repair_h=20_000)
    intact = wl.evaluate(podsim.simulate(hgx, wl)).busbw_Bps
    for _, g in rows.groupby("sample"):
        assert g["start_h"].iloc[0] == 0 and g["end_h"].iloc[-1] == 100_000
        assert np.array_equal(g["start_h"].to_numpy()[1:], g["end_h"].to_numpy()[:-1])
    assert (rows["k"] > 0).any(), "the draw should meet at least one failure"
    assert np.allclose(rows.loc[rows["k"] == 0, "busbw_Bps"], intact)
    assert (rows.loc[rows["k"] > 0, "busbw_Bps"] < intact).all()
    summary = faults.job_summary(rows)
    assert len(summary) == 3
    for i in range(3):  # the failures counted are those drawn for the job, each element at most once
        sched = faults.draw(hgx, 100_000, seed=np.random.SeedSequence([5, i]), repair_h=20_000)
        assert summary["failures"][i] == len(sched.events) >= summary["max_down"][i]
    assert (summary["failures"] > summary["max_down"]).any(), "a repair between two failures should show"
    assert (summary["mean_busbw_Bps"] <= intact * (1 + 1e-12)).all()
    assert (summary["hours_degraded"] <= 100_000).all()
    # The same seed draws the same jobs.
    pd.testing.assert_frame_equal(rows, faults.job(hgx, wl, duration_h=100_000, samples=3, seed=5, repair_h=20_000))
