"""What keeps a GAN's events physical on a CPU budget: generated pixels stay within the
training range (no runaway or negative pixels, whatever the output stage writes), Log
pixels taken relative to a condition (jet pT, incident energy), a wall-clock budget per
phase, and the collapse guard that reacts when the discriminator wins outright or the
generator writes empty images."""

import os
import subprocess
import sys

import numpy as np
import pytest

from rootgan import DataError, OptionError, TMVA
from rootgan.io.weights import read_weights
from rootgan.methods.gan import GUARD_REACTIONS, MethodGAN, TrainingState
from rootgan.methods.transforms import PixelTransform

from . import test_gan_method
from .test_gan_method import blobs, loader_for

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DENSE = ("InputLayout=1|8|8:LatentDim=8:GeneratorLayout=DENSE|32|LEAKYRELU,DENSE|64|"
         "LEAKYRELU:DiscriminatorLayout=RESHAPE|FLAT,DENSE|16|LEAKYRELU,DENSE|1|LINEAR")

# a generator that hardly learns against a fast discriminator: D wins within epochs
WINNING_D = ("TrainingStrategy=MaxEpochs={epochs},BatchSize=16,GeneratorLearningRate=1e-7,"
             "DiscriminatorLearningRate=3e-2")


# the blob file and working folder of test_gan_method (fixtures, shared by name)
blob_file, workdir = test_gan_method.blob_file, test_gan_method.workdir


def book(blob_file, options, silent=True):
    factory = TMVA.Factory("Blob", "out.root", "Silent" if silent else "!Silent")
    return factory, factory.BookMethod(loader_for(blob_file), TMVA.Types.kGAN, "GAN", options)


# -- bounded outputs ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["None", "N", "Log", "Scale"])
def test_generated_pixels_stay_within_the_training_range(kind):
    transform = PixelTransform(kind, 2.0, "energy" if kind == "Scale" else "1.0",
                               maximum=4.0, minimum=0.0)
    events = {"energy": np.array([10.0, 20.0])}
    values = np.array([[-3.0, 0.5, 1e6], [0.0, 2.0, 50.0]])
    pixels = transform.inverse(values, events)
    largest = {"None": 4.0, "N": 4.0, "Log": 4.0, "Scale": 4.0 * np.array([[10.0], [20.0]])}
    assert np.all(pixels >= 0) and np.all(np.isfinite(pixels))
    assert np.all(pixels <= largest[kind] * (1 + 1e-6))
    assert pixels[0, 2] == pytest.approx(np.broadcast_to(largest[kind], (2, 1))[0, 0])
    # no gradient where the output is clipped: the energy penalty must not push there
    slope = transform.inverse_slope(values, events)
    assert slope[0, 0] == 0 and slope[0, 2] == 0 and slope[1, 0] > 0


def test_log_transform_relative_to_a_condition_round_trips():
    transform = PixelTransform("Log", 1e-3, "pt")
    events = {"pt": np.array([250.0, 300.0])}
    pixels = np.array([[0.0, 1.0, 120.0], [0.0, 0.3, 299.0]])
    ratios = transform.ratios(pixels, events)
    transform.maximum, transform.minimum = ratios.max(), ratios.min()
    values = transform.forward(pixels, events)
    assert values.max() == pytest.approx(1.0)
    np.testing.assert_allclose(transform.inverse(values, events), pixels, rtol=1e-5, atol=1e-6)
    with pytest.raises(DataError, match="lack the condition pt"):
        transform.forward(pixels, {})


def test_scale_by_needs_a_transform_that_uses_it_and_a_floor_below_the_pixels(blob_file,
                                                                               workdir):
    with pytest.raises(OptionError, match="ScaleBy divides the pixels of VarTransform=Log "
                                          "or Scale; this GAN has VarTransform=N"):
        book(blob_file, f"{DENSE}:VarTransform=N:ScaleBy=2")
    factory, method = book(blob_file, f"{DENSE}:PixelFloor=1000:"
                                      f"TrainingStrategy=MaxEpochs=1")
    with pytest.raises(DataError, match="PixelFloor=1000 is above every training pixel"):
        factory.TrainAllMethods()


def test_a_linear_output_stage_writes_no_negative_pixels(blob_file, workdir):
    factory, method = book(blob_file, f"{DENSE.replace('DENSE|64|LEAKYRELU:', 'DENSE|64|LINEAR:')}"
                                      f":VarTransform=Log:TrainingStrategy=MaxEpochs=1")
    factory.TrainAllMethods()
    pixels = method.generate(400, seed=3)
    assert pixels.min() >= 0 and pixels.max() <= method.transform.maximum * (1 + 1e-6)


# -- wall-clock budget -------------------------------------------------------------------

def test_max_time_ends_a_phase_after_its_seconds(blob_file, workdir, capsys):
    factory, method = book(blob_file, f"{DENSE}:TrainingStrategy=MaxEpochs=50,MaxTime=0.001|"
                                      f"MaxEpochs=2", silent=False)
    factory.TrainAllMethods()
    assert len(method.history["epoch"]) == 3  # one epoch passes the budget, then phase 2
    assert "phase 1: MaxTime=0.001 s reached after 1 epochs" in capsys.readouterr().out


# -- the collapse guard ------------------------------------------------------------------

def test_the_guard_restores_the_best_epoch_when_the_discriminator_wins(blob_file, workdir,
                                                                      capsys):
    factory, method = book(blob_file, f"{DENSE}:{WINNING_D.format(epochs=8)}", silent=False)
    factory.TrainAllMethods()
    printed = capsys.readouterr().out
    assert "collapse guard: the discriminator loss has stayed below 0.01 for 3 epochs" in \
        printed
    assert "back to the best epoch" in printed and "discriminator learning rate 0.015" in \
        printed
    assert len(method.history["epoch"]) == 8  # training goes on


def test_without_the_guard_a_winning_discriminator_is_only_reported(blob_file, workdir,
                                                                     capsys):
    factory, _ = book(blob_file, f"{DENSE}:CollapseGuard=False:{WINNING_D.format(epochs=6)}",
                      silent=False)
    factory.TrainAllMethods()
    printed = capsys.readouterr().out
    assert "collapse guard:" not in printed
    assert "warning: the discriminator loss has stayed below 0.01" in printed
    assert "CollapseGuard is off" in printed


def test_the_guard_sees_a_generator_writing_empty_images(blob_file, workdir):
    factory, method = book(blob_file, f"{DENSE.replace('DENSE|64|LEAKYRELU:', 'DENSE|64|RELU:')}"
                                      f":GeneratorAverage=0:TrainingStrategy=MaxEpochs=1")
    factory.TrainAllMethods()
    gan = method._new_gan(np.random.default_rng(0))
    assert method._collapse(gan, TrainingState(), 1.0) is None
    method.generator.parameters[:] = 0  # a dead ReLU output stage: every pixel 0
    reason = method._collapse(gan, TrainingState(), 1.0)
    assert reason == "all 256 generated check images are empty"


def test_a_wasserstein_critic_loss_below_zero_is_no_collapse(blob_file, workdir):
    factory, method = book(blob_file, f"{DENSE}:GANType=WGAN:TrainingStrategy=MaxEpochs=1,"
                                      f"BatchSize=16")
    factory.TrainAllMethods()
    gan = method._new_gan(np.random.default_rng(0))
    state = TrainingState()
    assert all(method._collapse(gan, state, -5.0) is None for _ in range(4))


def test_the_guard_gives_up_after_its_reactions(blob_file, workdir, capsys):
    factory, method = book(blob_file, f"{DENSE}:{WINNING_D.format(epochs=80)}", silent=False)
    factory.TrainAllMethods()
    printed = capsys.readouterr().out
    assert printed.count("collapse guard:") == GUARD_REACTIONS
    assert f"the collapse guard has already reacted {GUARD_REACTIONS} times" in printed


def test_a_resumed_job_keeps_the_guards_lowered_learning_rate(blob_file, workdir, monkeypatch):
    options = f"{DENSE}:{WINNING_D.format(epochs=8)}"
    factory, method = book(blob_file, options)
    factory.TrainAllMethods()
    factor = read_weights(method.checkpoint_path).method["state"]["discriminator_rate_factor"]
    assert factor < 1  # the guard reacted
    rates = []
    original = MethodGAN._new_optimizers

    def recording(self, gan, phase, state):
        original(self, gan, phase, state)
        rates.append(gan.discriminator_optimizer.learning_rate)
    monkeypatch.setattr(MethodGAN, "_new_optimizers", recording)
    factory, method = book(blob_file, f"{options}:Resume")
    factory.TrainAllMethods()
    assert rates == [pytest.approx(3e-2 * factor)]


# -- the benchmark -----------------------------------------------------------------------

def test_fidelity_benchmark_runs_both_contenders_side_by_side(tmp_path):
    pytest.importorskip("torch")
    output = subprocess.run(
        [sys.executable, os.path.join(ROOT_DIR, "benchmarks", "fidelity.py"), "--quick",
         "--work-dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert output.returncode == 0, output.stderr[-3000:]
    lines = output.stdout.splitlines()
    assert any(line.startswith("observable") and "PyTorch s1" in line and "rootgan s1" in line
               for line in lines)
    for name in ("mass", "tau21", "total intensity", "non-zero pixels", "pixel spectrum",
                 "classifier AUC"):
        row = next(line for line in lines if line.startswith(name))
        assert len(row.split()[-2:]) == 2 and all(float(v) >= 0 for v in row.split()[-2:])
    assert any("rootgan worst seed" in line for line in lines)


# -- the discriminator's sum feature -----------------------------------------------------

def test_sum_feature_shows_the_discriminator_the_total_relative_to_the_training_mean(
        blob_file, workdir):
    from rootgan.methods.transforms import SumFeature

    factory, method = book(blob_file, f"{DENSE}:VarTransform=Log:SumFeature=True:"
                                      f"TrainingStrategy=MaxEpochs=2,BatchSize=32")
    assert method.discriminator.input_shape == (64 + 1,)
    factory.TrainAllMethods()
    t = method.transform
    real = blobs(300)[:200]
    assert t.sum_mean == pytest.approx(real.sum(axis=1)[:180].mean(), rel=0.1)
    values = t.forward(real[:5])
    feature, backward = SumFeature(t)(values)
    np.testing.assert_allclose(feature[:, 0], real[:5].sum(axis=1) / t.sum_mean - 1,
                               rtol=1e-4, atol=1e-6)
    # its gradient against finite differences in the network values
    grad = backward(np.ones((5, 1)))
    step = np.zeros_like(values, dtype=np.float64)
    step[2, 30] = 1e-6
    numeric = (SumFeature(t)(values + step)[0] - SumFeature(t)(values - step)[0])[2, 0] / 2e-6
    assert grad[2, 30] == pytest.approx(numeric, rel=1e-4)
    # an ACGAN's discriminator sees it too, without the conditions
    loader = loader_for(blob_file, condition=True)
    factory = TMVA.Factory("Blob", "out.root", "Silent")
    acgan = factory.BookMethod(loader, TMVA.Types.kGAN, "AC", f"{DENSE}:GANType=ACGAN:"
                               f"VarTransform=Log:SumFeature=True")
    assert acgan.discriminator.input_shape == (64 + 1,)
