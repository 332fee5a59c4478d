"""podsim.sweep on a Dask cluster of worker processes gives the process pool's results exactly."""

from __future__ import annotations

import pandas as pd
import pytest

import podsim
from test_sweep import POINTS, SEED, fabric_point, without_wall

distributed = pytest.importorskip("distributed")


def test_bit_identical_on_dask_local_cluster() -> None:
    reference = podsim.sweep(fabric_point, POINTS, seed=SEED, max_workers=2, progress=False)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        with distributed.get_task_stream(client) as stream:
            on_dask = podsim.sweep(fabric_point, POINTS, seed=SEED, executor=client.get_executor(), progress=False)
    # The points really ran as tasks on the cluster's workers.
    assert len(stream.data) == len(POINTS)
    pd.testing.assert_frame_equal(without_wall(on_dask), without_wall(reference), check_exact=True)
