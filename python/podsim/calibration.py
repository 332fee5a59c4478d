"""Calibrating endpoint engines on measured point-to-point figures, and predicting the rest.

Measured figures (``specs/measurements.toml``; the CloudMatrix paper's Table 1, intra-node
column) give latency of a 512 B operation and large-message bandwidth, per die, for reads and
writes between NPU dies and from an NPU die to a CPU. The fabric part of those figures comes out
of the model (links, switches, packets, credits); what the fabric cannot explain is attributed to
the endpoints' engines, through the mechanism every run uses:

* latency: an initiator's issue latency, and a target's read-fetch or write-commit latency. A
  single small operation is linear in them, so they are solved exactly from the latencies; the
  part common to all four paths is attributed to the initiator (issue), the rest to the target.
* bandwidth: an initiator keeps at most W read and W' write transactions outstanding (read tags
  and write buffers are separate resources in real devices). W and W' are the smallest integer
  windows whose simulated NPU-NPU bandwidth comes closest to the measurement.

Nothing is fitted on the NPU-CPU bandwidths or on any inter-node figure: the calibrated model
*predicts* them, and :func:`report` sets predictions beside measurements.
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

from podsim.messages import Messages
from podsim.simulation import simulate
from podsim.systems import System, system

MEASUREMENTS = Path(__file__).parent / "specs" / "measurements.toml"
_UNITS = {"B": 1, "us": 1e-6, "ns": 1e-9, "GB/s": 1e9}
#: Message size of the bandwidth runs, bytes: thousands of transactions, so the window's steady
#: state dominates the start-up.
BANDWIDTH_BYTES = 16 << 20
#: Windows are searched in 1..MAX_WINDOW.
MAX_WINDOW = 4096


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
    """Seconds from start to completion of one ``op`` of ``size`` bytes, alone on the fabric.

    A write moves data initiator -> target and ends with the acknowledgement; a read moves data
    target -> initiator and ends with its last byte.
    """
    a, b = sys_.topology.id_of(initiator), sys_.topology.id_of(target)
    src, dst = (a, b) if op == "write" else (b, a)
    res = simulate(sys_, Messages([src], [dst], [size], kind=op))
    return (int(res.messages.end_ps[0]) - int(res.messages.start_ps[0])) * 1e-12


def bandwidth(sys_: System, initiator: str, target: str, op: str, size: int = BANDWIDTH_BYTES) -> float:
    """Bytes/s of one large ``op`` alone on the fabric (one direction)."""
    return size / operation_time(sys_, initiator, target, op, size)


def _engine_overrides(values: dict[str, Any]) -> dict[str, Any]:
    return {f"{who}.endpoint.{key}": v for (who, key), v in values.items()}


@dataclass(frozen=True)
class Calibration:
    """Fitted endpoint values (ns and counts) as spec overrides, with the runs behind them."""

    overrides: dict[str, Any]
    base_latency_s: dict[str, float]


def calibrate(system_name: str = "cloudmatrix384") -> Calibration:
    """Fit the NPU and CPU endpoint engines of ``system_name`` on its intra-node measurements."""
    ms = [m for m in measurements(system_name) if "intra-node" in m.name]
    ideal = {
        ("chip", "issue_latency"): 0, ("chip", "read_latency"): 0, ("chip", "write_latency"): 0,
        ("chip", "max_outstanding_reads"): 1_000_000, ("chip", "max_outstanding_writes"): 1_000_000,
        ("cpu", "read_latency"): 0, ("cpu", "write_latency"): 0,
    }
    base_sys = system(system_name, overrides=_engine_overrides(ideal))
    base = {m.name: operation_time(base_sys, m.initiator, m.target, m.op, m.latency_size) for m in ms}
    # What the fabric does not explain, per path; the common part is the initiator's issue work.
    excess = {m.name: m.latency_s - base[m.name] for m in ms}
    if min(excess.values()) < 0:
        raise ValueError(f"the fabric alone is slower than a measurement: {excess}")
    issue = min(excess.values())
    fitted = dict(ideal)
    fitted["chip", "issue_latency"] = round(issue * 1e9, 1)
    for m in ms:
        who = "cpu" if "cpu" in m.target else "chip"
        fitted[who, f"{m.op}_latency"] = round((excess[m.name] - issue) * 1e9, 1)
    # Windows: the smallest integer window whose NPU-NPU bandwidth comes closest to the measurement.
    for m in (m for m in ms if "cpu" not in m.target):
        key = ("chip", f"max_outstanding_{m.op}s")

        def bw(window: int) -> float:
            trial = dict(fitted)
            trial[key] = window
            return bandwidth(system(system_name, overrides=_engine_overrides(trial)), m.initiator, m.target, m.op)

        lo, hi = 1, MAX_WINDOW
        while lo < hi:  # bandwidth grows with the window: find the first window reaching the target
            mid = (lo + hi) // 2
            if bw(mid) >= m.bandwidth_Bps:
                hi = mid
            else:
                lo = mid + 1
        best = min((w for w in (lo - 1, lo) if w >= 1), key=lambda w: abs(bw(w) - m.bandwidth_Bps))
        fitted[key] = best
    return Calibration(overrides=_engine_overrides(fitted), base_latency_s=base)


def report(system_name: str = "cloudmatrix384") -> pd.DataFrame:
    """Measured vs modelled latency and bandwidth for every measured path, plus the model's
    prediction for the same operations between dies of different nodes (inter-node).

    The shipped spec's calibrated endpoint values are used as they are.
    """
    sys_ = system(system_name)
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
                "calibrated_on": "latency" + (", bandwidth" if "cpu" not in m.target else ""),
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
