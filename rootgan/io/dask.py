"""Reading over Dask (the DataLoader's ``Scheduler=local`` or ``Scheduler=ADDRESS``).

The same selection and reading code as in this process runs on Dask workers: one task per
tree selects its events (cut, weights, checks), one task per chunk reads its events, and
the chunks reach training in the order the process would have read them itself, a few
chunks ahead, so the batches are the same events in the same order as without Dask. The
files are opened by the workers (paths or URLs they can reach); this process holds only
entry numbers, weights and the chunks in flight.
"""

import atexit
import json
import logging
import os
import threading
from collections import deque

from ..errors import ClusterError, OptionError

DASK_HINT = "install the dask extra: pip install 'rootgan[dask]'"
CONNECT_SECONDS = 20
PREFETCH_CHUNKS = 2  # chunks read ahead of the one being used (each an eighth of the budget)

_clients = {}       # Scheduler value -> (Client, its LocalCluster or None), kept until exit
_worker_trees = {}  # on a worker: (path, tree, layout) -> bound source, reused between tasks


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"running on Dask needs dask and distributed: {DASK_HINT}") from None
    return distributed


def connect(address):
    """A Client of the Dask scheduler at ``address``, or a ClusterError within
    CONNECT_SECONDS saying why not (the whole connection has that deadline: a port where
    something else listens must not hang the caller)."""
    if not isinstance(address, str) or "://" not in address:
        raise OptionError(f"scheduler {address!r}: a Dask scheduler's address looks like "
                          f"tcp://HOST:PORT (the scheduler prints it when it starts)")
    distributed = _import_distributed()
    timeout = CONNECT_SECONDS
    outcome = {}

    def attempt():
        try:
            outcome["client"] = distributed.Client(address, timeout=timeout)
        except Exception as error:  # noqa: BLE001 (whatever the connection raised)
            outcome["error"] = error

    thread = threading.Thread(target=attempt, name="rootgan-connect", daemon=True)
    thread.start()
    thread.join(timeout + 2)
    if "client" in outcome:
        return outcome["client"]
    reason = (f"{type(outcome['error']).__name__}: {outcome['error']}" if "error" in outcome
              else "no Dask handshake: is that the scheduler's port, not its dashboard's?")
    raise ClusterError(f"no Dask scheduler answered at {address} within {timeout:g} s "
                       f"({reason}); is one running there? check the host and the port it "
                       f"printed when it started")


def local_cluster(workers):
    """A LocalCluster of ``workers`` single-threaded worker processes."""
    distributed = _import_distributed()
    # ":0": its HTTP server on a free port, so a second cluster does not warn about 8787
    return distributed.LocalCluster(n_workers=int(workers), threads_per_worker=1,
                                    processes=True, dashboard_address=":0",
                                    silence_logs=logging.ERROR)


def client_for(scheduler):
    """The Client a DataLoader's ``Scheduler`` option names: ``local`` starts a cluster of
    one worker per core on this machine (once per process), anything else is an address.
    Clients stay open for later reads until ``close_clients`` (called at exit)."""
    if scheduler not in _clients:
        if not _clients:
            atexit.register(close_clients)
        if scheduler.lower() == "local":
            cluster = local_cluster(os.cpu_count() or 1)
            _clients[scheduler] = (_import_distributed().Client(cluster), cluster)
        else:
            _clients[scheduler] = (connect(scheduler), None)
    return _clients[scheduler][0]


def close_clients():
    """Close the DataLoaders' clients and the local clusters started for them."""
    while _clients:
        _, (client, cluster) = _clients.popitem()
        client.close()
        if cluster is not None:
            cluster.close()


def _layout_key(layout):
    return json.dumps([layout.arrays, layout.scalars, layout.roles],
                      sort_keys=True)


def _bound_on_worker(path, tree, layout, chunk_events):
    """The tree ``path:tree`` opened and its columns bound and checked, once per worker."""
    from .dataset import bind_tree

    key = (path, tree, _layout_key(layout))
    if key not in _worker_trees:
        _worker_trees[key] = bind_tree(path, tree, layout, chunk_events)
    return _worker_trees[key]


def select_task(path, tree, layout, chunk_events, cut, weight_expression, nonfinite):
    """On a worker: (selected entries, their weights, events dropped, events skipped) of
    one tree (see dataset._select)."""
    from .dataset import _select, selection_columns

    bound = _bound_on_worker(path, tree, layout, chunk_events)
    return _select(bound, selection_columns(bound.source, cut, weight_expression), chunk_events,
                   nonfinite)


def read_task(path, tree, layout, chunk_events, entries, nonfinite):
    """On a worker: one chunk's columns (see ``dataset.read_columns``)."""
    from .dataset import read_columns

    return read_columns(_bound_on_worker(path, tree, layout, chunk_events), entries, nonfinite)


def select_all(client, jobs, layout, chunk_events, nonfinite):
    """``select_task`` for every (path, tree, cut, weight expression) of ``jobs``, in order."""
    futures = [client.submit(select_task, path, tree, layout, chunk_events, cut, weight, nonfinite,
                             pure=False) for path, tree, cut, weight in jobs]
    return client.gather(futures)


class DaskReader:
    """Reads a split's chunks on Dask workers, ``PREFETCH_CHUNKS`` ahead of their use."""

    def __init__(self, client, locations, layout, chunk_events, nonfinite):
        self.client = client
        self.locations = locations  # source index -> (path, tree)
        self.layout = layout
        self.chunk_events = chunk_events
        self.nonfinite = nonfinite

    def stream(self, requests):
        """(columns, keep, dropped) of each (source index, entries) request, in order."""
        pending = iter(requests)
        in_flight = deque()

        def submit():
            request = next(pending, None)
            if request is not None:
                s, entries = request
                path, tree = self.locations[s]
                in_flight.append(self.client.submit(read_task, path, tree, self.layout,
                                                    self.chunk_events, entries, self.nonfinite,
                                                    pure=False))

        for _ in range(PREFETCH_CHUNKS + 1):
            submit()
        try:
            while in_flight:
                future = in_flight.popleft()
                submit()
                yield future.result()
        finally:  # a training stopped early: drop the chunks read ahead
            self.client.cancel(list(in_flight))
