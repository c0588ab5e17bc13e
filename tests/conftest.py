"""Fixtures shared by test modules."""

import pytest


@pytest.fixture(scope="module")
def dask_cluster():
    """A local Dask cluster of 2 single-threaded worker processes for one test module. It
    is closed with the module, with every DataLoader client: no Dask thread may run during
    other modules (the allocation tests trace every thread)."""
    distributed = pytest.importorskip("distributed")
    from rootgan.io.dask import close_clients

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        yield cluster
        close_clients()
