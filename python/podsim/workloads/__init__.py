"""Workload generators: questions about a supernode turned into message DAGs for the engine.

Every generator takes a system (anything with ``.ranks``, the endpoint node ids of its compute
ranks, and optionally ``.rank_group``) or a plain sequence of endpoint node ids, and returns a
:class:`Workload`: a :class:`podsim.Messages` batch that also knows its NCCL-convention size,
busbw factor and phases, so ``wl.evaluate(podsim.simulate(system, wl))`` gives algbw/busbw.
"""

from podsim.workloads.collectives import (
    ALGORITHMS,
    all_gather,
    all_reduce,
    all_to_all,
    broadcast,
    reduce,
    reduce_scatter,
)
from podsim.workloads.moe import DTYPE_BYTES, moe, token_bytes
from podsim.workloads.p2p import point_to_point
from podsim.workloads.synthetic import synthetic
from podsim.workloads.workload import PhaseStats, Workload, WorkloadStats

__all__ = [
    "ALGORITHMS",
    "DTYPE_BYTES",
    "PhaseStats",
    "Workload",
    "WorkloadStats",
    "all_gather",
    "all_reduce",
    "all_to_all",
    "broadcast",
    "moe",
    "point_to_point",
    "reduce",
    "reduce_scatter",
    "synthetic",
    "token_bytes",
]
