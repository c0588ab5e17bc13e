"""Mass production in parts (gan-options.md: ``rootgan generate ... --events-per-file M
[--workers W | --scheduler ADDRESS]``): every part from its own random stream, so the
events are the same in this process and on 1 or 2 Dask workers; a worker or a whole run
killed midway leaves no partial file and a rerun finishes it with the same events; the
manifest lists the parts."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import uproot

import rootgan
from rootgan import DataError, OptionError
from rootgan.cli import main as cli_main
from rootgan.production.parts import file_digest

from .test_conditional_gan import book

distributed = pytest.importorskip("distributed")

GAN = ("LatentDim=4:InputLayout=1|8|8:GeneratorLayout=DENSE|32|LEAKYRELU,DENSE|64|SOFTPLUS:"
       "DiscriminatorLayout=DENSE|32|LEAKYRELU,DENSE|1|LINEAR:"
       "TrainingStrategy=MaxEpochs=1,BatchSize=32")


def _train(folder, options, conditions=()):
    """A GAN trained for one epoch on 8x8 blobs whose summed intensity is 'energy'; returns
    its weights file."""
    rng = np.random.default_rng(0)
    images = rng.gamma(1.0, 1.0, (300, 64)).astype(np.float32)
    with uproot.recreate(folder / "blobs.root") as handle:
        handle.mktree("blobs", {"image": ("f4", (64,)), "energy": "f4"})
        handle["blobs"].extend({"image": images, "energy": images.sum(axis=1)})
    here = os.getcwd()
    os.chdir(folder)
    try:
        factory, _ = book(str(folder / "blobs.root"), options, conditions, title="GAN")
        factory.TrainAllMethods()
    finally:
        os.chdir(here)
    return str(folder / "dataset" / "weights" / "Blob_GAN.weights.root")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("production"), GAN)


def _events(manifest):
    """The parts a manifest lists, read as one sample."""
    files = rootgan.read_manifest(manifest)["files"]
    return uproot.concatenate([f"{path}:GeneratedTree" for path in files], library="np")


def _no_temporaries(folder):
    return [name for name in os.listdir(folder) if ".tmp-" in name] == []


def test_parts_hold_the_same_events_in_this_process_and_on_one_or_two_dask_workers(
        weights, tmp_path):
    manifests = [rootgan.generate(weights, 2500, tmp_path / "here" / "part-{index}.root",
                                  events_per_file=600, seed=5)]
    manifests += [rootgan.generate(weights, 2500, tmp_path / f"w{w}" / "part-{index}.root",
                                   events_per_file=600, seed=5, workers=w) for w in (1, 2)]
    reference = _events(manifests[0])
    np.testing.assert_array_equal(reference["eventNumber"], np.arange(2500))
    for manifest in manifests[1:]:
        events = _events(manifest)
        np.testing.assert_array_equal(events["image"], reference["image"])
        np.testing.assert_array_equal(events["eventNumber"], reference["eventNumber"])
    assert sorted(os.listdir(tmp_path / "w2")) == [
        "part-0.root", "part-1.root", "part-2.root", "part-3.root", "part-4.root",
        "part-manifest.root"]
    # another seed, other events; the same seed again, the same
    other = _events(rootgan.generate(weights, 600, tmp_path / "s6" / "p{index}.root",
                                     events_per_file=600, seed=6))
    assert not np.array_equal(other["image"], reference["image"][:600])


def test_the_manifest_records_the_run_and_lists_the_parts_for_uproot_and_root(weights,
                                                                              tmp_path):
    manifest = rootgan.generate(weights, 1000, tmp_path / "gen" / "jets_{index}.root",
                                events_per_file=300, seed=11)
    assert manifest == str(tmp_path / "gen" / "jets_manifest.root")
    run = rootgan.read_manifest(manifest)
    assert run["seed"] == "11" and run["events"] == 1000 and run["events_per_file"] == 300
    assert run["parts"] == 4 and run["part_events"] == [300, 300, 300, 100]
    assert run["weights_sha256"] == file_digest(weights)
    assert [os.path.basename(f) for f in run["files"]] == [f"jets_{i}.root" for i in range(4)]
    parts = uproot.open(manifest)["parts"].arrays(library="np")
    assert parts["file"].tolist() == [f"jets_{i}.root" for i in range(4)]
    np.testing.assert_array_equal(parts["first_event"], [0, 300, 600, 900])
    chained = uproot.concatenate(str(tmp_path / "gen" / "jets_[0-9]*.root:GeneratedTree"),
                                 library="np")
    assert len(chained["eventNumber"]) == 1000
    assert len(set(chained["eventNumber"].tolist())) == 1000


def test_a_worker_killed_mid_part_leaves_no_partial_file_and_changes_no_event(
        weights, tmp_path, dask_cluster):
    kwargs = {"events_per_file": 40_000, "seed": 3}
    reference = _events(rootgan.generate(weights, 240_000, tmp_path / "ref" / "p{index}.root",
                                         **kwargs))
    client = distributed.Client(dask_cluster)
    pids = list(client.run(os.getpid).values())
    client.close()
    folder = tmp_path / "killed"
    killed = []

    def kill_when_a_part_is_being_written():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if folder.exists() and any(".tmp-" in name for name in os.listdir(folder)):
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_when_a_part_is_being_written)
    killer.start()
    manifest = rootgan.generate(weights, 240_000, folder / "p{index}.root",
                                scheduler=dask_cluster.scheduler_address, **kwargs)
    killer.join()
    assert killed, "no part was seen being written"
    events = _events(manifest)
    np.testing.assert_array_equal(events["image"], reference["image"])
    np.testing.assert_array_equal(events["eventNumber"], np.arange(240_000))
    assert _no_temporaries(folder)


def test_a_run_killed_midway_is_finished_by_running_the_same_command_again(weights,
                                                                           tmp_path):
    out = str(tmp_path / "run" / "part-{index}.root")
    command = [sys.executable, "-m", "rootgan.cli", "generate", weights, "-n", "400000",
               "--out", out, "--events-per-file", "40000", "--seed", "9"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (tmp_path / "run" / "part-1.root").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = [name for name in os.listdir(tmp_path / "run") if ".tmp-" not in name]
    assert "part-1.root" in written and "part-manifest.root" not in written

    rerun = subprocess.run(command, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert "of 10 parts already written by this run" in rerun.stderr
    assert "400,000 events in 10 part(s)" in rerun.stdout
    reference = _events(rootgan.generate(weights, 400_000, tmp_path / "ref" / "p{index}.root",
                                         events_per_file=40_000, seed=9))
    events = _events(str(tmp_path / "run" / "part-manifest.root"))
    np.testing.assert_array_equal(events["image"], reference["image"])
    np.testing.assert_array_equal(events["eventNumber"], np.arange(400_000))
    assert _no_temporaries(tmp_path / "run")


def test_per_event_conditions_reach_the_part_that_holds_their_events(tmp_path):
    weights = _train(tmp_path, "GANType=CGAN:" + GAN, conditions=("energy",))
    energies = np.linspace(10, 100, 1000)
    manifest = rootgan.generate(weights, 1000, tmp_path / "c" / "p{index}.root",
                                events_per_file=300, seed=1, conditions={"energy": energies})
    np.testing.assert_array_equal(_events(manifest)["energy"], energies)


def test_relative_paths_are_the_callers_whatever_folder_the_workers_run_in(
        weights, tmp_path, dask_cluster, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the workers stay in the folder they started in
    manifest = rootgan.generate(os.path.relpath(weights), 400, "rel/p{index}.root",
                                events_per_file=100, seed=1,
                                scheduler=dask_cluster.scheduler_address)
    assert manifest == str(tmp_path / "rel" / "pmanifest.root")
    assert sorted(os.listdir(tmp_path / "rel")) == ["p0.root", "p1.root", "p2.root",
                                                    "p3.root", "pmanifest.root"]


def test_parts_of_another_run_numbered_another_way_are_refused(weights, tmp_path):
    rootgan.generate(weights, 20, tmp_path / "part-{index}.root", events_per_file=5, seed=1)
    with pytest.raises(DataError, match=r"holds 4 part file\(s\) that this run does not plan "
                                        r"\(part-0.root, part-1.root, part-2.root, \.\.\.\)"):
        rootgan.generate(weights, 60, tmp_path / "part-{index}.root", events_per_file=5,
                         seed=2)


def test_bad_part_requests_are_explained(weights, tmp_path, capsys):
    with pytest.raises(OptionError, match=r"needs \{index\} in the output path"):
        rootgan.generate(weights, 10, tmp_path / "one.root", events_per_file=5)
    with pytest.raises(OptionError, match="--events-per-file must be a positive integer"):
        rootgan.generate(weights, 10, tmp_path / "p{index}.root", events_per_file=0)
    with pytest.raises(OptionError, match="--workers must be a positive integer"):
        rootgan.generate(weights, 10, tmp_path / "p{index}.root", workers=0)
    with pytest.raises(OptionError, match="--workers must be a positive integer, got 'x'"):
        rootgan.generate(weights, 10, tmp_path / "p{index}.root", workers="x")
    with pytest.raises(OptionError, match="--events-per-file must be a positive integer"):
        rootgan.generate(weights, 10, tmp_path / "p{index}.root", events_per_file=float("nan"))
    with pytest.raises(OptionError, match="a Dask scheduler's address looks like"):
        rootgan.generate(weights, 10, tmp_path / "p{index}.root", scheduler=8786)
    rootgan.generate(weights, 10, tmp_path / "p{index}.root", events_per_file=5, seed=1)
    with pytest.raises(DataError, match="holds 5 events of another run"):
        rootgan.generate(weights, 10, tmp_path / "p{index}.root", events_per_file=5, seed=2)
    assert cli_main(["generate", weights, "-n", "5", "--out", str(tmp_path / "x.root"),
                     "--workers", "2"]) == 2
    assert r"needs {index} in the output path" in capsys.readouterr().err
