"""Calibrating endpoint engines on measured point-to-point figures, and predicting the rest.

Measured figures (``specs/measurements.toml``; the CloudMatrix paper's Table 1, intra-node
column) give the latency of a 512 B operation and the large-message bandwidth, per die, for reads
and writes between NPU dies and from an NPU die to a CPU. The fabric's share of those figures
comes out of the model (links, switches, packets, credits); what the fabric cannot explain is
attributed to the endpoints' engines, through the mechanism every run uses
(:meth:`podsim.Topology.add_endpoint`):

* bandwidth: a target's read engine fetches, and its write engine commits, at a finite rate; a
  slow write engine frees its buffer space (credits) late and so throttles the writer. Each of
  the four rates (NPU and CPU targets, read and write) is set so that the simulated large
  transfer reaches the measured bandwidth.
* latency: an initiator's issue latency and a target's read-fetch or write-commit latency. A
  single small operation is linear in them, so they are solved exactly from the latencies; the
  part common to all four paths is attributed to the initiator (issue), the rest to the target.

The two fits are repeated until they agree (each shifts the other by nanoseconds). Initiators
keep unlimited transactions outstanding. Nothing is fitted on an inter-node figure: the
calibrated model *predicts* those, and :func:`report` sets predictions beside measurements.

An earlier mechanism, windows of outstanding transactions sized to the intra-node round trip,
matched the intra-node figures but predicted a 57% bandwidth loss between nodes, against the
paper's report of under 3%; engine rates do not depend on distance.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import pandas as pd

from podsim import _validate as v
from podsim.messages import Messages
from podsim.simulation import simulate
from podsim.systems import System, system

MEASUREMENTS = Path(__file__).parent / "specs" / "measurements.toml"
_UNITS = {"B": 1, "us": 1e-6, "ns": 1e-9, "GB/s": 1e9}
#: Message size of the bandwidth runs, bytes: thousands of transactions, so the window's steady
#: state dominates the start-up.
BANDWIDTH_BYTES = 16 << 20


@dataclass(frozen=True)
class Measurement:
    """One measured path: ``op`` ("read"/"write") issued by ``initiator`` against ``target``."""

    system: str
    name: str
    initiator: str
    target: str
    op: str
    latency_size: int
    latency_s: float
    bandwidth_Bps: float
    source: str


def measurements(system_name: str) -> list[Measurement]:
    """The measured paths of ``system_name`` from ``specs/measurements.toml``."""
    doc = tomllib.loads(MEASUREMENTS.read_text())
    out = []
    for m in doc["measurement"]:
        if m["system"] != system_name:
            continue
        out.append(
            Measurement(
                system=m["system"], name=m["name"], initiator=m["initiator"], target=m["target"], op=m["op"],
                latency_size=int(m["latency_size"]["value"] * _UNITS[m["latency_size"]["unit"]]),
                latency_s=m["latency"]["value"] * _UNITS[m["latency"]["unit"]],
                bandwidth_Bps=m["bandwidth_uni"]["value"] * _UNITS[m["bandwidth_uni"]["unit"]],
                source=f'{m["latency"]["source"]} [{m["latency"]["evidence"]}]',
            )
        )
    if not out:
        raise ValueError(f"system: no measurements for {system_name!r} in {MEASUREMENTS.name}")
    return out


def operation_time(sys_: System, initiator: str, target: str, op: str, size: int) -> float:
    """Seconds from start to completion of one ``op`` (``"read"``/``"write"``) of ``size`` bytes,
    alone on the fabric of system ``sys_``, issued by the node named ``initiator`` against ``target``.

    A write moves data initiator -> target and ends with the acknowledgement; a read moves data
    target -> initiator and ends with its last byte.
    """
    a, b = sys_.topology.id_of(initiator), sys_.topology.id_of(target)
    src, dst = (a, b) if op == "write" else (b, a)
    res = simulate(sys_, Messages([src], [dst], [size], kind=op))
    return (int(res.messages.end_ps[0]) - int(res.messages.start_ps[0])) * 1e-12


def bandwidth(sys_: System, initiator: str, target: str, op: str, size: int = BANDWIDTH_BYTES) -> float:
    """Bytes/s of one ``op`` of ``size`` bytes alone on the fabric (one direction); ``sys_``,
    ``initiator`` and ``target`` as for :func:`operation_time`."""
    return size / operation_time(sys_, initiator, target, op, size)


def _engine_overrides(values: dict[tuple[str, str], float]) -> dict[str, float]:
    return {f"{who}.endpoint.{key}": v for (who, key), v in values.items()}


@dataclass(frozen=True)
class Calibration:
    """Fitted endpoint values as spec overrides (``"chip.endpoint.read_latency"``: ns, ``..._rate_uni``:
    GB/s), and the fabric-only latency of each measured path (seconds)."""

    overrides: dict[str, float]
    fabric_latency_s: dict[str, float]


def _target(m: Measurement) -> str:
    return "cpu" if "cpu" in m.target else "chip"


def calibrate(system_name: str = "cloudmatrix384", rounds: int = 2) -> Calibration:
    """Fit the NPU and CPU endpoint engines of ``system_name`` on its intra-node measurements.

    Args:
        system_name: a shipped system with measurements (``specs/measurements.toml``).
        rounds: passes of the fit, in [1, 100]; each refits every engine rate with the latest
            latencies, then the latencies from what the fabric and those rates leave unexplained.
    """
    rounds = v.integer(rounds, "rounds", 1, 100)
    ms = [m for m in measurements(system_name) if "intra-node" in m.name]
    values: dict[tuple[str, str], float] = {("chip", "issue_latency"): 0.0}
    for who in ("chip", "cpu"):
        for op in ("read", "write"):
            values[who, f"{op}_latency"] = 0.0
            values[who, f"{op}_rate_uni"] = 1000.0  # GB/s: far above any link, i.e. unlimited
    fabric_sys = system(system_name, overrides=_engine_overrides(values))
    fabric = {m.name: operation_time(fabric_sys, m.initiator, m.target, m.op, m.latency_size) for m in ms}
    for _ in range(rounds):
        for m in ms:
            values[_target(m), f"{m.op}_rate_uni"] = _fit_rate(system_name, values, m)
        sys_ = system(system_name, overrides=_engine_overrides({**values, **{(w, f"{o}_latency"): 0.0 for w in ("chip", "cpu") for o in ("read", "write")}, ("chip", "issue_latency"): 0.0}))
        # What the fabric and the engines' rates do not explain; the common part is the issue work.
        excess = {m.name: m.latency_s - operation_time(sys_, m.initiator, m.target, m.op, m.latency_size) for m in ms}
        if min(excess.values()) < 0:
            raise ValueError(f"the model without engine latencies is already slower than a measurement: {excess}")
        issue = min(excess.values())
        values["chip", "issue_latency"] = round(issue * 1e9, 1)
        for m in ms:
            values[_target(m), f"{m.op}_latency"] = round((excess[m.name] - issue) * 1e9, 1)
    return Calibration(overrides=_engine_overrides(values), fabric_latency_s=fabric)


def _fit_rate(system_name: str, values: dict[tuple[str, str], float], m: Measurement) -> float:
    """The engine rate (GB/s, 0.1 resolution) at which the simulated transfer of ``m`` reaches its
    measured bandwidth; bandwidth grows with the rate, so bisect."""
    key = (_target(m), f"{m.op}_rate_uni")

    def bw(rate: float) -> float:
        sys_ = system(system_name, overrides=_engine_overrides({**values, key: rate}))
        return bandwidth(sys_, m.initiator, m.target, m.op)

    lo, hi = m.bandwidth_Bps / 1e9, 2 * m.bandwidth_Bps / 1e9
    while hi - lo > 0.05:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if bw(mid) < m.bandwidth_Bps else (lo, mid)
    return round(hi, 1)


def report(system_name: str = "cloudmatrix384", overrides: dict[str, Any] | None = None) -> pd.DataFrame:
    """Measured vs modelled latency and bandwidth for every measured path of ``system_name``, plus
    the model's prediction for the same operations between dies of different nodes (inter-node).

    The shipped spec's calibrated endpoint values are used, changed by ``overrides`` (spec
    overrides, e.g. ``{"chip.endpoint.write_limit_at": "initiator"}``).
    """
    sys_ = system(system_name, overrides=overrides)
    rows = []
    ms = measurements(system_name)
    for m in ms:
        rows.append(
            {
                "path": m.name,
                "measured_latency_us": m.latency_s * 1e6,
                "model_latency_us": operation_time(sys_, m.initiator, m.target, m.op, m.latency_size) * 1e6,
                "measured_GBps_uni": m.bandwidth_Bps / 1e9,
                "model_GBps_uni": bandwidth(sys_, m.initiator, m.target, m.op) / 1e9,
                "calibrated_on": "latency, bandwidth",
            }
        )
    # The same NPU-NPU operations to a die on another node: predicted, never fitted.
    other = sys_.topology.names[int(sys_.ranks[sys_.rank_group == 1][0])]
    for m in (m for m in ms if "cpu" not in m.target):
        rows.append(
            {
                "path": m.name.replace("intra-node", "inter-node"),
                "measured_latency_us": float("nan"),
                "model_latency_us": operation_time(sys_, m.initiator, other, m.op, m.latency_size) * 1e6,
                "measured_GBps_uni": float("nan"),
                "model_GBps_uni": bandwidth(sys_, m.initiator, other, m.op) / 1e9,
                "calibrated_on": "nothing (predicted)",
            }
        )
    return pd.DataFrame(rows)
