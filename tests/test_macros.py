"""The macros physicists copy, run on the shipped jet images with their sizes turned
down, and the jet-image preprocessing of data/make_jet_images.py."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import uproot

from rootgan.io.weights import read_weights

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT_DIR, "data"))
import make_jet_images  # noqa: E402  (a data script, imported for its preprocessing)


def _run(script, *args, cwd):
    result = subprocess.run([sys.executable, os.path.join(ROOT_DIR, "macros", script), *args],
                            cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def trained_jets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("macros")
    output = _run("train_jet_gan.py", "--epochs", "2", "--test", "300", "--train", "600",
                  "--options", "LabelSmoothing=0.05", "--out-dir", "run", cwd=folder)
    return folder, output


def test_train_jet_gan_trains_generates_and_plots(trained_jets):
    folder, output = trained_jets
    run = folder / "run"
    assert "generated W jets vs the test set, W1 / floor" in output
    for observable in ("mass", "tau21", "total intensity", "non-zero pixels", "pixel spectrum",
                       "classifier AUC"):
        assert observable in output
    for name in ("mean_images.png", "mass.png", "tau21.pdf", "pixel_spectrum.png"):
        assert (run / "dataset" / "plots" / "GAN" / name).stat().st_size > 10_000
    weights = read_weights(str(run / "dataset" / "weights" / "JetGAN_GAN.weights.root"))
    assert weights.options["LabelSmoothing"] == 0.05  # booked from --options
    assert weights.options["Packing"] == 2  # W jets: the discriminator judges pairs
    with uproot.open(run / "jet_gan.root") as handle:
        folder = handle["dataset/Method_GAN/GAN/Evaluation"]
        metrics = folder["metrics"].arrays(library="np")
        assert "tau21" in list(metrics["observable"])
        assert 280 < folder["mass_real"].values().sum() <= 300


def test_train_jet_gan_trains_the_lagan_style_architecture(tmp_path):
    output = _run("train_jet_gan.py", "--architecture", "lagan", "--epochs", "1", "--test",
                  "100", "--train", "200", "--out-dir", "run", cwd=tmp_path)
    assert "generated W jets vs the test set" in output
    with uproot.open(tmp_path / "run" / "jet_gan.root") as handle:
        assert handle["dataset/Method_GAN/GAN/GeneratedTree"].num_entries == 100


def test_train_jet_gan_judges_qcd_jets_four_at_a_time(tmp_path):
    output = _run("train_jet_gan.py", "--label", "0", "--epochs", "1", "--test", "100",
                  "--train", "200", "--out-dir", "run", cwd=tmp_path)
    assert "generated QCD jets vs the test set" in output
    weights = read_weights(str(tmp_path / "run" / "dataset" / "weights" /
                               "JetGAN_GAN.weights.root"))
    assert weights.options["Packing"] == 4


def test_train_jet_gan_learns_w_and_qcd_jets_with_the_class_as_acgan_condition(tmp_path):
    output = _run("train_jet_gan.py", "--gantype", "acgan", "--condition", "label", "--epochs",
                  "1", "--test", "60",
                  "--train", "300", "--out-dir", "run", cwd=tmp_path)
    assert "generated W and QCD jets vs the test set" in output
    assert "auxiliary head: right class for" in output
    with uproot.open(tmp_path / "run" / "jet_gan.root") as handle:
        generated = handle["dataset/Method_GAN/GAN/GeneratedTree"].arrays(["label"],
                                                                          library="np")
        assert sorted(np.unique(generated["label"])) == [0, 1]  # the test jets' classes
        metrics = handle["dataset/Method_GAN/GAN/Evaluation/metrics"].arrays(library="np")
        # one row group per class besides all jets
        assert len(np.unique(metrics["condition_low"])) == 3


@pytest.mark.parametrize("script", ["train_jet_gan.py", "train_calo_cgan.py"])
def test_training_macros_refuse_an_extra_option_they_set_themselves(tmp_path, script):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT_DIR, "macros", script), "--epochs", "1",
         "--options", "LabelSmoothing=0.1:SumFromData=False", "--out-dir", "run"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "option SumFromData is given twice" in result.stderr


def test_generate_and_compare_macros_work_from_the_weights_file(trained_jets):
    folder, _ = trained_jets
    weights = str(folder / "run" / "dataset" / "weights" / "JetGAN_GAN.weights.root")
    output = _run("generate.py", weights, "-n", "400", "--out", "gen.root", cwd=folder)
    assert "wrote 400 events to gen.root" in output
    with uproot.open(folder / "gen.root") as handle:
        assert handle["GeneratedTree"].num_entries == 400
    output = _run("compare.py", "gen.root:GeneratedTree", "--out-dir", "cmp", cwd=folder)
    assert "mass peak" in output and "pixel spectrum" in output and "AUC" in output
    for name in ("compare.root", "mass.png", "mass.pdf", "mean_images.png"):
        assert (folder / "cmp" / name).exists()


def test_compare_explains_a_missing_tree(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT_DIR, "macros", "compare.py"),
                             "nothing.root:GeneratedTree"], cwd=tmp_path, capture_output=True,
                            text=True, check=False)
    assert result.returncode != 0 and "does not exist" in result.stderr


class _Particle:
    def __init__(self, pt, eta, phi):
        self._pt, self._eta, self._phi = pt, eta, phi

    def pt(self):
        return self._pt

    def eta(self):
        return self._eta

    def phi_std(self):
        return self._phi


def test_jet_preprocessing_centres_rotates_and_flips_like_lagan():
    # leading subjet at (0.3, 1.0), second at (0.3 + 0.4, 1.0): to the right of it; a third,
    # softer deposit off to one side decides the flip
    lead, second = _Particle(150, 0.3, 1.0), _Particle(80, 0.7, 1.0)
    third = _Particle(20, 0.3, 1.3)
    image = make_jet_images.jet_image(*make_jet_images.kinematics([lead, second, third]),
                                      [lead, second]).reshape(25, 25)
    centre = 12
    assert image[centre, centre] == pytest.approx(150)          # leading subjet at (0, 0)
    assert image[centre - 4, centre] == pytest.approx(80)       # second 0.4 straight down
    rows, cols = np.nonzero(image == np.float32(20))
    assert cols[0] > centre                                     # the extra pT on the right
    assert image.sum() == pytest.approx(250)


def test_jet_task_seeds_do_not_depend_on_the_number_of_workers():
    tasks = make_jet_images.tasks_for(1, 600, seed=3)
    assert [count for _, _, count in tasks] == [250, 250, 100]
    assert len({seed for _, seed, _ in tasks}) == 3
    assert tasks == make_jet_images.tasks_for(1, 600, seed=3)
    assert math.isclose(sum(c for *_, c in make_jet_images.tasks_for(0, 5000, 1)), 5000)
