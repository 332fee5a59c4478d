"""The shipped CloudMatrix 384 endpoint values reproduce the intra-node measurements they were
calibrated on (CM-v2 Table 1), and the calibration procedure finds them again."""

from __future__ import annotations

import math

import pytest

from podsim import calibration


@pytest.fixture(scope="module")
def report():
    return calibration.report("cloudmatrix384")


def test_intra_node_figures_are_reproduced(report) -> None:
    intra = report[report["path"].str.contains("intra-node")]
    assert len(intra) == 4
    for row in intra.itertuples():
        assert row.model_latency_us == pytest.approx(row.measured_latency_us, rel=0.01), row.path
        assert row.model_GBps_uni == pytest.approx(row.measured_GBps_uni, rel=0.01), row.path


def test_inter_node_figures_are_predictions(report) -> None:
    """No inter-node figure is calibrated on: the rows exist, carry no measurement, and the
    longer path (two more switches and fibre each way) costs latency, as the fabric says."""
    inter = report[report["path"].str.contains("inter-node")]
    assert len(inter) == 2 and inter["measured_latency_us"].map(math.isnan).all()
    assert set(inter["calibrated_on"]) == {"nothing (predicted)"}
    intra = report[report["path"].str.contains("NPU-NPU") & report["path"].str.contains("intra-node")]
    assert (inter["model_latency_us"].to_numpy() > intra["model_latency_us"].to_numpy()).all()


def test_measurements_carry_their_source() -> None:
    ms = calibration.measurements("cloudmatrix384")
    assert {m.op for m in ms} == {"read", "write"}
    assert all(m.source.startswith("CM-v2") for m in ms)
    with pytest.raises(ValueError, match="no measurements"):
        calibration.measurements("gb300-nvl72")


@pytest.mark.slow
def test_calibration_finds_the_shipped_values_again() -> None:
    from podsim.systems import load_spec

    fitted = calibration.calibrate("cloudmatrix384").overrides
    spec = load_spec("cloudmatrix384")
    shipped = {"chip": spec.chip["endpoint"], "cpu": spec.cpu["endpoint"]}
    for key, value in fitted.items():
        who, _, field = key.split(".")
        assert shipped[who][field].value == pytest.approx(value, abs=0.2), key


def test_the_write_limit_could_sit_at_the_initiator_as_well() -> None:
    """Point-to-point measurements cannot place the write limit: at the initiator it reproduces
    them as well (NPU-CPU writes are then limited by the CPU's own engine)."""
    alt = calibration.report("cloudmatrix384", overrides={"chip.endpoint.write_limit_at": "initiator"})
    intra = alt[alt["path"].str.contains("intra-node")]
    for row in intra.itertuples():
        assert row.model_GBps_uni == pytest.approx(row.measured_GBps_uni, rel=0.02), row.path
        assert row.model_latency_us == pytest.approx(row.measured_latency_us, rel=0.02), row.path


@pytest.mark.parametrize("rounds", [0, -3])
def test_calibrate_needs_at_least_one_round(rounds: int) -> None:
    """With no round the fit would return its starting values as if they had been fitted."""
    with pytest.raises(ValueError, match=r"rounds: must be in \[1, 100\]"):
        calibration.calibrate(rounds=rounds)
