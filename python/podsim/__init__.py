"""podsim: packet-level simulation of AI scale-up supernodes (interconnect fabric and HBM).

Build a :class:`Topology` (or take a shipped system), describe traffic as :class:`Messages`,
and :func:`simulate`::

    import podsim
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    s = t.add_switch("s", latency_ps=150_000, buffer_bytes=64 << 10)
    t.connect(a, s, rate_Bps=28e9, latency_ps=10_000)
    t.connect(s, b, rate_Bps=28e9, latency_ps=10_000)
    res = podsim.simulate(t, podsim.Messages(src=[a], dst=[b], size=[1 << 20]), routing="adaptive")
    res.messages.end_ps, res.channels.bytes, res.ledger, res.events
"""

from __future__ import annotations

try:
    from podsim import _core
except ImportError as err:  # pragma: no cover - only on a broken install
    raise ImportError(
        "podsim's compiled engine (podsim._core) could not be loaded. Reinstall with "
        "'pip install .' from the source tree (it builds the C++ core), and run Python "
        f"from outside the source tree. Original error: {err}"
    ) from err

from podsim import fabrics
from podsim import hbm
from podsim.messages import Messages
from podsim.results import NOT_YET, ChannelStats, Ledger, MessageStats, Result, TransmissionTrace
from podsim.simulation import (
    RECOVERY,
    ROUTING,
    CutOff,
    Deadlock,
    Interrupted,
    InvariantViolation,
    Simulation,
    simulate,
)
from podsim.sweep import PointFailedWarning, SweepInterrupted, sweep
from podsim import workloads
from podsim.topology import ChannelTable, Topology
from podsim.systems import Comparison, Peak, System, compare, list_systems, system
from podsim import faults  # noqa: E402  (after systems: faults builds on them)
from podsim import calibration  # noqa: E402  (after systems: it calibrates their specs)

__version__ = "0.1.0"

__all__ = [
    "NOT_YET",
    "RECOVERY",
    "ROUTING",
    "ChannelStats",
    "ChannelTable",
    "Comparison",
    "CutOff",
    "Deadlock",
    "Interrupted",
    "InvariantViolation",
    "Ledger",
    "MessageStats",
    "Messages",
    "Peak",
    "PointFailedWarning",
    "Result",
    "Simulation",
    "SweepInterrupted",
    "System",
    "Topology",
    "TransmissionTrace",
    "__version__",
    "calibration",
    "compare",
    "fabrics",
    "hbm",
    "faults",
    "list_systems",
    "simulate",
    "sweep",
    "workloads",
    "system",
]
