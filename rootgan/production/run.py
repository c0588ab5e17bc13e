"""Generating a run's parts: in this process, on a local Dask cluster (``workers``) or on an
existing one (``scheduler``). Dask decides where each part runs; rootgan only describes
the parts as tasks (see parts.py) and counts the finished events.

Each task is one part: it loads the weights file (checking it is the one the run was
planned with), generates its events with one thread from its own stream and writes them
atomically. A worker killed mid-part leaves no part file (Dask reruns the part elsewhere);
a run stopped altogether is finished by running the same command again, which skips the
parts already written and yields the same events as an uninterrupted run. Workers must
have rootgan installed and see the weights file and the output folder at the same paths
(a shared file system).
"""

import contextlib
import ctypes
import os
import sys

import numpy as np

from .. import __version__
from ..errors import ClusterError, DataError, OptionError, RootganError
from . import parts as plan

# glibc's mallopt: arrays below 32 MB come from the heap, and up to 64 MB of freed heap is
# kept (the values of benchmark-gan.md's benchmark environment)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEPT_BYTES = {M_MMAP_THRESHOLD: 32 << 20, M_TRIM_THRESHOLD: 64 << 20}


def generate_parts(weights_file, n, out, events_per_file=None, seed=None, batch_size=1024,
                   conditions=None, workers=None, scheduler=None, progress=None, notice=None):
    """Generate ``n`` events into parts of ``events_per_file`` (``out`` holds ``{index}``)
    and write the manifest; see the module docstring. ``progress(events)`` is called as
    events are written (per chunk in this process, per part on Dask; at once for parts
    already there); ``notice(text)`` hears what is
    worth saying (parts skipped, where the conditions come from, the cluster's address).
    Returns the manifest's path."""
    from ..methods.gan import (checked_generation, condition_source, drawn_conditions_notice,
                               load_generator)

    pattern, events_per_file = plan.check_pattern(out, events_per_file)
    if workers is not None and scheduler is not None:
        raise OptionError("give --workers (a local Dask cluster) or --scheduler (an existing "
                          "one), not both")
    if workers is not None:
        workers = plan.positive_integer(workers, "--workers")
    # absolute paths: the workers may run in other folders
    weights_file = os.path.abspath(os.fspath(weights_file))
    conditions = _absolute_tree(conditions)
    content, method = load_generator(weights_file)
    n, batch_size, seed = checked_generation(n, batch_size, seed)
    condition_source(method, weights_file, conditions, n)  # refuses bad conditions here
    described = drawn_conditions_notice(method, conditions, notice)
    weights_sha256 = plan.file_digest(weights_file)
    entropy = [seed] if seed is not None else [method.seed, 4]
    tag = plan.run_tag(weights_sha256, entropy, n, events_per_file, batch_size, conditions)
    parts = plan.plan_parts(pattern, n, events_per_file)
    plan.check_no_strangers(pattern, parts)
    description = content.info.get("title", "GAN") + (f", {described}" if described else "")

    todo = [part for part in parts if not plan.is_finished(part, tag)]
    done_events = sum(part.events for part in parts) - sum(part.events for part in todo)
    if done_events:
        if notice is not None:
            notice(f"{len(parts) - len(todo)} of {len(parts)} parts already written by this "
                   f"run (tag {tag}): skipped")
        if progress is not None:
            progress(done_events)
    tasks = [_task(part, len(parts), weights_file, weights_sha256, entropy, batch_size,
                   conditions, n, description, tag) for part in todo]
    if workers is None and scheduler is None:
        if tasks and notice is not None and (os.cpu_count() or 1) > 1:
            notice(f"making {len(tasks)} part(s) in this process, one after another with one "
                   f"thread each; --workers {os.cpu_count()} would use every core")
        for task in tasks:
            generate_part(task, progress)
    elif tasks:
        _run_on_dask(tasks, workers, scheduler, progress, notice)

    run = {"tag": tag, "weights": weights_file,
           "weights_sha256": weights_sha256, "seed": "" if seed is None else str(seed),
           "seed_entropy": " ".join(map(str, entropy)), "events": n,
           "events_per_file": events_per_file, "parts": len(parts), "batch_size": batch_size,
           "conditions": plan.conditions_digest(conditions), "rootgan": __version__}
    return plan.write_manifest(pattern, parts, run)


def _task(part, count, weights_file, weights_sha256, entropy, batch_size, conditions, n,
          description, tag):
    """What a worker needs for one part: plain values only (tasks travel by pickle). Given
    values are cut to the part here (a task carries only its own events' conditions); a
    tree of conditions is read by the task at the part's entries."""
    given, offset, total = conditions, 0, n
    if isinstance(conditions, dict):
        given = {name: (value if np.ndim(value) == 0 else
                        np.asarray(value)[part.start:part.stop])
                 for name, value in conditions.items()}
        offset, total = part.start, part.events
    return {"weights": weights_file, "weights_sha256": weights_sha256,
            "index": part.index, "path": part.path, "start": part.start, "stop": part.stop,
            "entropy": entropy, "batch_size": batch_size, "conditions": given,
            "condition_offset": offset, "condition_events": total,
            "title": plan.part_title(description, part, count, tag)}


def _absolute_tree(conditions):
    """A "FILE.root:TREE" source of conditions with an absolute file path (URLs as they
    are); other conditions unchanged."""
    from ..io.sources import absolute

    if not isinstance(conditions, str):
        return conditions
    path, separator, tree = conditions.rpartition(":")
    return f"{absolute(path)}:{tree}" if separator and path else conditions


def generate_part(task, progress=None):
    """Generate and write one part (runs on a worker; ``progress(events)`` after each
    chunk); returns its event count."""
    from ..methods.gan import condition_source, load_generator, write_generated
    from ..nn.threads import get_num_threads, set_num_threads

    if plan.file_digest(task["weights"]) != task["weights_sha256"]:
        raise DataError(f"{task['weights']} changed since this run was planned (its SHA-256 "
                        f"differs); run the command again to plan with the new file")
    _, method = load_generator(task["weights"])
    source = condition_source(method, task["weights"], task["conditions"],
                              task["condition_events"])
    if source is not None and task["condition_offset"]:
        source = _shifted(source, task["condition_offset"])
    part = plan.Part(task["index"], task["path"], task["start"], task["stop"])
    if _on_dask_worker():
        _keep_freed_memory()
    threads = get_num_threads()
    set_num_threads(1)  # a part's events must not depend on where it ran
    try:
        write_generated(method, part.path, part.events, plan.part_rng(task["entropy"],
                        part.index), task["batch_size"], source, task["title"],
                        first_event=part.start, progress=progress)
    finally:
        set_num_threads(threads)
    return part.events


def _on_dask_worker():
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def _keep_freed_memory():
    """Let this worker process's allocator keep freed memory for the next chunk. Dask's nanny
    starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc return every large
    array to the system when it is freed, and fault its pages in again on the next one:
    that halved the generation rate (15,800 against 29,300 events/s, jet GAN, one thread)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        for parameter, value in KEPT_BYTES.items():
            libc.mallopt(parameter, value)
    except (OSError, AttributeError):  # not glibc: its own allocator decides
        pass


def _shifted(source, offset):
    """A condition source over the part's own arrays, asked with the run's positions."""
    def shifted(start, stop, rng):
        return source(start - offset, stop - offset, rng)
    return shifted


def _run_on_dask(tasks, workers, scheduler, progress, notice):
    with _client(workers, scheduler, notice) as client:
        from dask.distributed import as_completed

        futures = client.map(generate_part, tasks, pure=False)
        index = {future.key: task["index"] for future, task in zip(futures, tasks)}
        try:
            for future in as_completed(futures):
                try:
                    events = future.result()
                except RootganError:
                    raise
                except Exception as error:  # noqa: BLE001 (a worker lost, a full disk, ...)
                    raise ClusterError(
                        f"part {index[future.key]} failed on a Dask worker "
                        f"({type(error).__name__}: {error}); the parts already written are "
                        f"kept: run the same command again to finish") from error
                if progress is not None:
                    progress(events)
        except BaseException:
            client.cancel(futures)
            raise


@contextlib.contextmanager
def _client(workers, scheduler, notice):
    from ..io.dask import connect, local_cluster

    if workers is None:
        with connect(scheduler) as client:
            yield client
        return
    # one thread per worker process: parts run side by side, each single-threaded
    with local_cluster(workers) as cluster:
        from distributed import Client

        with Client(cluster) as client:
            if notice is not None:
                notice(f"a local Dask cluster of {workers} worker(s) at "
                       f"{cluster.scheduler_address}")
            yield client
