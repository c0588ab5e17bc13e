"""Training input over Dask (the DataLoader's Scheduler option): trees given as a glob of
many files are opened, selected and read by Dask workers, and training sees the same
events in the same batches as when this process reads them."""

import os
import socket
import time

import numpy as np
import pytest
import uproot

import rootgan.io.dask
from rootgan import ClusterError, DataError, OptionError, TMVA

distributed = pytest.importorskip("distributed")

FILES = 6
EVENTS = 150  # per file
PIXELS = 625


@pytest.fixture(scope="module")
def many_files(tmp_path_factory):
    """FILES files of EVENTS 25x25 images with an energy, one NaN image in file 2."""
    folder = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(0)
    for index in range(FILES):
        images = rng.gamma(1.0, 0.03, (EVENTS, PIXELS)).astype(np.float32)
        energy = images.sum(axis=1, dtype=np.float64)
        if index == 2:
            images[17, 3] = np.nan
        with uproot.recreate(folder / f"part_{index}.root") as handle:
            handle.mktree("events", {"image": ("f4", (PIXELS,)), "energy": "f8"})
            handle["events"].extend({"image": images, "energy": energy})
    return str(folder / "part_*.root")


def _prepare(files, scheduler, cut="energy > 12", nonfinite="DROP"):
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray("image", PIXELS)
    loader.AddSpectator("energy")
    loader.AddSignalTree(f"{files}:events")
    # a budget of 1 MB: chunks of about 50 events, the splits span many
    return loader.PrepareTrainingAndTestTree(
        cut, f"SplitMode=Random:nTest_Signal=100:NonFinite={nonfinite}:MemoryBudget=1:"
             f'Scheduler="{scheduler}"')


def test_reading_over_dask_gives_the_same_batches_as_reading_here(many_files, dask_cluster):
    here = _prepare(many_files, "none")
    there = _prepare(many_files, dask_cluster.scheduler_address)
    assert there.summary() == here.summary()
    assert len(there.input_files()) == FILES
    assert len(list(there.training._chunks())) > FILES  # streamed in many chunks
    batches = [list(split.batches(32, np.random.default_rng(1)))
               for split in (here.training, there.training)]
    assert len(batches[0]) == len(batches[1]) > 10
    for mine, theirs in zip(*batches):
        for name in ("image", "energy", "weight", "classID"):
            np.testing.assert_array_equal(theirs[name], mine[name])
    assert there.training.dropped == here.training.dropped
    # the workers opened the files, not this process
    assert isinstance(there.training.reader, rootgan.io.dask.DaskReader)
    client = distributed.Client(dask_cluster)
    opened = client.run(lambda: sorted(key[0] for key in rootgan.io.dask._worker_trees))
    client.close()
    assert len(set(sum(opened.values(), []))) == FILES
    test_here, test_there = here.test.read_all(), there.test.read_all()
    np.testing.assert_array_equal(test_there["image"], test_here["image"])
    assert here.training.dropped + here.test.dropped == 1  # the NaN image


def test_relative_paths_reach_workers_that_run_in_another_folder(many_files, dask_cluster,
                                                                  monkeypatch):
    monkeypatch.chdir(os.path.dirname(many_files))  # the workers stay where they started
    dataset = _prepare("part_*.root", dask_cluster.scheduler_address)
    assert len(dataset.test.read_all()["image"]) + dataset.test.dropped == 100


def test_scheduler_local_reads_on_a_cluster_of_this_machine(many_files):
    here, there = _prepare(many_files, "none"), _prepare(many_files, "local")
    assert isinstance(there.training.reader, rootgan.io.dask.DaskReader)
    np.testing.assert_array_equal(there.test.read_all()["image"], here.test.read_all()["image"])


def test_a_gan_trained_from_trees_read_over_dask_equals_one_trained_from_local_reads(
        many_files, dask_cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    weights = []
    for scheduler in ("none", dask_cluster.scheduler_address):
        loader = TMVA.DataLoader("dataset")
        loader.AddVariablesArray("image", PIXELS)
        loader.AddSignalTree(f"{many_files}:events")
        loader.PrepareTrainingAndTestTree("", "SplitMode=Random:nTest_Signal=100:"
                                          f"NonFinite=DROP:MemoryBudget=1:"
                                          f'Scheduler="{scheduler}"')
        factory = TMVA.Factory(f"Job{len(weights)}", "out.root", "Silent")
        method = factory.BookMethod(
            loader, TMVA.Types.kGAN, "GAN",
            "InputLayout=1|25|25:LatentDim=4:GeneratorLayout=DENSE|16|LEAKYRELU,DENSE|625|RELU:"
            "DiscriminatorLayout=DENSE|16|LEAKYRELU,DENSE|1|LINEAR:"
            "TrainingStrategy=MaxEpochs=2,BatchSize=32")
        factory.TrainAllMethods()
        weights.append(method.generate(50, seed=4))
    np.testing.assert_array_equal(weights[1], weights[0])


def test_errors_found_on_a_worker_name_the_file_and_an_unreachable_scheduler_is_explained(
        many_files, dask_cluster, monkeypatch):
    with pytest.raises(DataError, match=r"'energi' is not a branch of .*part_\d\.root:events "
                                        r"\(did you mean energy"):
        _prepare(many_files, dask_cluster.scheduler_address, cut="energi > 12")
    dataset = _prepare(many_files.replace("part_*", "part_2"), dask_cluster.scheduler_address,
                       cut="", nonfinite="ERROR")
    with pytest.raises(DataError, match=r"part_2\.root:events: entry 17 has a NaN"):
        for split in (dataset.training, dataset.test):
            split.read_all()
    monkeypatch.setattr(rootgan.io.dask, "CONNECT_SECONDS", 1)
    with pytest.raises(ClusterError, match="no Dask scheduler answered at tcp://127.0.0.1:9 "
                                           "within 1 s"):
        _prepare(many_files, "tcp://127.0.0.1:9")
    with socket.socket() as silent:  # a port where something listens but never speaks Dask
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = "tcp://127.0.0.1:%d" % silent.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(ClusterError, match=f"no Dask scheduler answered at {address}"):
            _prepare(many_files, address)
        assert time.monotonic() - start < 10
    with pytest.raises(OptionError, match="a Dask scheduler's address looks like "
                                          "tcp://HOST:PORT"):
        _prepare(many_files, "nonsense")


def test_escape_attempts_run_nothing_here_or_on_a_dask_worker(many_files, dask_cluster,
                                                             tmp_path):
    from rootgan.errors import ExpressionError
    from rootgan.io.dask import select_task
    from rootgan.io.dataset import Layout

    from .test_expressions import ESCAPES, MARKER, hostile

    marker = tmp_path / MARKER
    path = many_files.replace("part_*", "part_0")
    layout = Layout({"image": PIXELS}, {"energy": "energy"}, {"energy": "spectator"})
    with distributed.Client(dask_cluster) as client:
        for template in ESCAPES:
            expression = hostile(template, "energy", marker)
            for scheduler in ("local", dask_cluster.scheduler_address):
                with pytest.raises(DataError):  # here, or by the workers for unknown names
                    _prepare(many_files, scheduler, cut=expression)
            for cut, weight in ((expression, ""), ("", expression)):  # a worker's own check
                task = client.submit(select_task, path, "events", layout, 50, cut, weight,
                                     "ERROR", pure=False)
                with pytest.raises(ExpressionError):
                    task.result()
    assert not marker.exists()
