"""Fixtures shared by test modules."""

import pytest


@pytest.fixture(scope="session")
def dask_cluster():
    """A local Dask cluster of 2 single-threaded worker processes, started once."""
    distributed = pytest.importorskip("distributed")
    from rootgan.io.dask import close_clients

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        yield cluster
        close_clients()  # DataLoaders' clients of this cluster, before it goes
