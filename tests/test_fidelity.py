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
from rootgan.methods.quanta import whole_quanta
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
    from rootgan.methods.features import SumFeature

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


# -- sums from the data ------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["None", "N", "Log"])
def test_sum_normalisation_hits_the_target_and_its_gradient_matches_finite_differences(kind):
    from rootgan.methods.transforms import SumNormalisation

    transform = PixelTransform(kind, 0.01, "1.0", maximum=5.0, minimum=0.0, sum_mean=3.0,
                               sum_std=0.5)
    stage = SumNormalisation(transform)
    rng = np.random.default_rng(0)
    values = rng.uniform(0.05, 0.6, (4, 7))
    values[1] = 0.0  # an empty image: scaled at most 1000-fold, with a finite gradient
    values[1, 3] = 1e-5
    # scaled to 12, one pixel would pass the training maximum (5): it is held there
    values[3] = [0.9, 0.2, 0.15, 0.25, 0.2, 0.18, 0.22]
    sums = np.array([2.0, 3.0, 4.0, 12.0])
    fitted, backward = stage(values, sums)
    totals = transform.ratio_inverse(fitted).sum(axis=1)
    np.testing.assert_allclose(totals[[0, 2, 3]], sums[[0, 2, 3]], rtol=1e-12)
    assert transform.ratio_inverse(fitted)[3, 0] == pytest.approx(5.0)
    assert 0 < totals[1] < sums[1]
    weights = rng.normal(size=values.shape)
    grad = backward(weights)
    assert np.all(np.isfinite(grad)) and grad[3, 0] == 0
    for row, column in [(0, 0), (0, 4), (1, 3), (2, 6), (3, 1), (3, 5)]:
        step = np.zeros_like(values)
        step[row, column] = 1e-7
        numeric = ((stage(values + step, sums)[0] - stage(values - step, sums)[0])
                   * weights).sum() / 2e-7
        assert grad[row, column] == pytest.approx(numeric, rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(stage.inputs(sums)[:, 0], (sums - 3.0) / 0.5)


def test_sum_from_data_gives_each_generated_image_the_sum_of_a_training_event_near_its_condition(
        blob_file, workdir):
    loader = loader_for(blob_file, condition=True)
    factory = TMVA.Factory("Blob", "out.root", "Silent")
    method = factory.BookMethod(loader, TMVA.Types.kGAN, "GAN",
                                f"{DENSE}:GANType=CGAN:VarTransform=Log:PixelScale=0.1:"
                                f"SumFromData=True:TrainingStrategy=MaxEpochs=2,BatchSize=32")
    # the generator gets the sum after the latent vector and the condition
    assert method.generator.input_shape == (8 + 1 + 1,)
    factory.TrainAllMethods()
    rows = method.sums.rows  # training energies and image sums (here the same)
    np.testing.assert_allclose(rows[:, 0], rows[:, 1], rtol=1e-5)
    energies = np.array([40.0, 90.0, 150.0, 150.0])
    images = method.generate(4, seed=2, conditions={"energy": energies})
    generated = images.reshape(4, -1).sum(axis=1)
    nearest = np.argsort(np.abs(rows[:, 0][None, :] - energies[:, None]), axis=1)[:, :10]
    for total, candidates in zip(generated, rows[nearest, 1]):
        assert np.min(np.abs(candidates - total) / total) < 1e-4
    # the weights file keeps the training sums: the same images from it
    reader = TMVA.Reader("Silent")
    reader.BookMVA("GAN", str(workdir / "dataset" / "weights" / "Blob_GAN.weights.root"))
    np.testing.assert_array_equal(reader.Generate("GAN", 4, seed=2,
                                                  conditions={"energy": energies}), images)


def test_an_output_stage_needs_one_target_per_generated_image(blob_file, workdir):
    factory, method = book(blob_file, f"{DENSE}:VarTransform=Log:SumFromData=True:"
                                      f"TrainingStrategy=MaxEpochs=1,BatchSize=32")
    factory.TrainAllMethods()
    gan = method._inference_gan()
    with pytest.raises(DataError, match="fits each image to a target"):
        gan.generate(3)
    with pytest.raises(DataError, match="needs 3 finite targets"):
        gan.generate(3, targets=[1.0, np.nan, 2.0])
    # unconditional: the sums are drawn from all training images
    sums = method.generate(300, seed=1).reshape(300, -1).sum(axis=1)
    assert sums.min() >= method.sums.rows[:, -1].min() * 0.999
    assert sums.max() <= method.sums.rows[:, -1].max() * 1.001


def test_sums_are_drawn_from_all_training_events_tied_with_the_condition():
    """A class label (or a fixed beam energy) ties thousands of training events: the drawn
    sums must come from any of them, not from the same ten."""
    from rootgan.methods.conditions import ConditionSpace
    from rootgan.methods.totals import SumSampler

    space = ConditionSpace(["label"], [0.5], [0.5])
    rows = np.column_stack([np.repeat([0.0, 1.0], 500), np.arange(1000.0)])
    sampler = SumSampler(rows, space)
    drawn = sampler.draw(200, np.random.default_rng(1), np.ones((200, 1)))
    assert drawn.min() >= 500  # class 1's events only
    assert len(np.unique(drawn)) > 100


@pytest.mark.parametrize("change,message", [
    (lambda images: images.__setitem__((3, 10), -0.5), "needs pixels >= 0"),
    (lambda images: images.__setitem__(3, 0.0), "1 of them sum to 0"),
])
def test_sum_from_data_needs_positive_training_pixels_and_sums(tmp_path, monkeypatch, change,
                                                                message):
    import uproot

    images = blobs(60)
    change(images)
    path = tmp_path / "odd.root"
    with uproot.recreate(path) as handle:
        handle.mktree("blobs", {"image": ("f4", (64,))})
        handle["blobs"].extend({"image": images})
    monkeypatch.chdir(tmp_path)
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray("image", 64)
    loader.AddSignalTree(f"{path}:blobs")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTest_Signal=10")
    factory = TMVA.Factory("Blob", "out.root", "Silent")
    factory.BookMethod(loader, TMVA.Types.kGAN, "GAN", f"{DENSE}:SumFromData=True:"
                       f"TrainingStrategy=MaxEpochs=1")
    with pytest.raises(DataError, match=message):
        factory.TrainAllMethods()


@pytest.mark.parametrize("other", ["SumFeature=True", "EnergyLossWeight=1"])
def test_sum_from_data_rejects_options_it_makes_pointless(blob_file, workdir, other):
    loader = loader_for(blob_file, condition=True)
    factory = TMVA.Factory("Blob", "out.root", "Silent")
    with pytest.raises(OptionError, match=f"so {other.split('=')[0]}, which"):
        factory.BookMethod(loader, TMVA.Types.kGAN, "GAN", f"{DENSE}:GANType=CGAN:"
                           f"VarTransform=Log:SumFromData=True:{other}")


# -- symmetries of the real images -------------------------------------------------------

def _versions(image, kind):
    mirrored = [image, image[..., ::-1], image[..., ::-1, :], image[..., ::-1, ::-1]]
    if kind == "SQUARE":
        mirrored += [m.swapaxes(-1, -2) for m in mirrored]
    return mirrored


@pytest.mark.parametrize("kind,count", [("REFLECT", 4), ("SQUARE", 8)])
def test_symmetry_gives_each_real_image_one_of_its_symmetries_drawn_uniformly(
        blob_file, workdir, kind, count):
    factory, method = book(blob_file, f"{DENSE}:Symmetry={kind}:TrainingStrategy=MaxEpochs=1")
    batches, draw = [], method._symmetric
    method._symmetric = lambda images, rng: batches.append(images.shape) or draw(images, rng)
    factory.TrainAllMethods()
    assert batches and all(shape[1:] == (1, 8, 8) for shape in batches)  # every real batch
    image = np.arange(64, dtype=np.float32).reshape(1, 8, 8)  # no symmetry of its own
    out = method._symmetric(np.repeat(image[None], 4000, axis=0), np.random.default_rng(1))
    versions = _versions(image, kind)
    which = [next(i for i, v in enumerate(versions) if np.array_equal(o, v)) for o in out]
    counts = np.bincount(which, minlength=count)
    assert len(counts) == count and counts.min() > 0.8 * 4000 / count


def test_symmetry_square_needs_square_images(blob_file, workdir):
    with pytest.raises(OptionError, match="Symmetry=SQUARE swaps x and y, which needs square "
                                          "images; InputLayout=1\\|4\\|16 is not"):
        book(blob_file, f"{DENSE.replace('1|8|8', '1|4|16')}:Symmetry=SQUARE")


# -- whole quanta (PixelQuantum) ---------------------------------------------------------

def test_whole_quanta_keep_each_image_sum_and_make_every_pixel_a_multiple_of_its_quantum():
    rng = np.random.default_rng(5)
    images = (rng.exponential(0.01, (200, 64)) * (rng.random((200, 64)) < 0.7)).astype(
        np.float32)
    images[3] = 0  # an empty image stays empty
    images[4, 0] = -0.002  # negative pixels count as empty
    out = whole_quanta(images, 0.004, rng)
    sums = np.clip(images, 0, None).sum(axis=1)
    np.testing.assert_allclose(out.sum(axis=1), sums, rtol=1e-5)
    counted = sums > 0
    quanta = np.maximum(1, np.rint(sums[counted] / 0.004))
    multiples = out[counted] / (sums[counted] / quanta)[:, None]
    np.testing.assert_allclose(multiples, np.rint(multiples), atol=1e-3)
    assert np.all(out[3] == 0) and out[4, 0] == 0 and out.min() >= 0
    # fewer lit pixels: those below a quantum are lit only now and then
    assert (out > 0).sum() < (images > 0).sum()


def test_whole_quanta_keep_each_pixel_on_average():
    image = np.random.default_rng(2).exponential(0.002, (1, 64)).astype(np.float32)
    draws = 20000
    out = whole_quanta(np.repeat(image, draws, axis=0), 0.004, np.random.default_rng(3))
    quantum = image.sum() / np.rint(image.sum() / 0.004)
    # each pixel is floor or ceil of its share of quanta: a Bernoulli spread around its mean
    share = image[0] / quantum
    spread = quantum * np.sqrt((share - np.floor(share)) * (np.ceil(share) - share) / draws)
    assert np.all(np.abs(out.mean(axis=0) - image[0]) <= 5 * spread + 1e-7)
    assert np.all((out <= quantum * np.ceil(share) * (1 + 1e-5))
                  & (out >= quantum * np.floor(share) * (1 - 1e-5)))


def test_pixel_quantum_makes_generated_images_of_whole_quanta(blob_file, workdir):
    factory, method = book(blob_file, f"{DENSE}:VarTransform=Log:PixelQuantum=0.5:"
                                      f"TrainingStrategy=MaxEpochs=1")
    factory.TrainAllMethods()
    pixels = method.generate(50, seed=4).reshape(50, -1)
    lit = pixels.sum(axis=1) > 0
    quanta = pixels[lit] / (pixels[lit].sum(axis=1)
                            / np.maximum(1, np.rint(pixels[lit].sum(axis=1) / 0.5)))[:, None]
    np.testing.assert_allclose(quanta, np.rint(quanta), atol=1e-3)
    factory, method = book(blob_file, f"{DENSE}:PixelQuantum=1000:TrainingStrategy=MaxEpochs=1")
    with pytest.raises(DataError, match="PixelQuantum=1000 is above every training pixel"):
        factory.TrainAllMethods()


# -- the discriminator's mass feature ----------------------------------------------------

def test_mass_feature_is_the_jet_mass_over_summed_pt_and_its_gradient_matches_finite_differences():
    from rootgan.evaluation.jets import image_mass_pt
    from rootgan.methods.features import MassFeature

    images = blobs(6, seed=4)
    shape = (1, 8, 8)
    t = PixelTransform("Log", 0.5, maximum=float(images.max()), minimum=0.0)
    feature = MassFeature(t, shape, mean=0.3)
    values = t.forward(images)
    shown, backward = feature(values)
    mass, _ = image_mass_pt(images, shape=(8, 8))
    np.testing.assert_allclose(shown[:, 0], mass / images.sum(axis=1) / 0.3 - 1, rtol=1e-4)
    grad = backward(np.arange(1.0, 7.0)[:, None])
    for event, pixel in ((0, 27), (3, 0), (5, 63)):
        step = np.zeros_like(values, dtype=np.float64)
        step[event, pixel] = 1e-6
        numeric = (feature(values + step)[0] - feature(values - step)[0])[event, 0] / 2e-6
        assert grad[event, pixel] == pytest.approx((event + 1) * numeric, rel=1e-4, abs=1e-9)
    # an image of one lit pixel has no mass to grow: no gradient, not a division by 0
    single = np.zeros((1, 64))
    single[0, 20] = values.max()
    assert np.all(feature(single)[1](np.ones((1, 1))) == 0)


def test_mass_and_sum_features_reach_the_discriminator_side_by_side(blob_file, workdir):
    from rootgan.evaluation.jets import image_mass_pt

    factory, method = book(blob_file, f"{DENSE}:Geometry=JET:VarTransform=Log:MassFeature=True:"
                                      f"SumFeature=True:TrainingStrategy=MaxEpochs=1")
    assert method.discriminator.input_shape == (64 + 2,)
    factory.TrainAllMethods()
    features = method._image_features()
    assert features.width == 2
    real = blobs(300)
    mass, _ = image_mass_pt(real, shape=(8, 8))
    # the mean over the training part of the blobs (the split's 90%, so within a few %)
    assert method.mass_mean == pytest.approx((mass / real.sum(axis=1)).mean(), rel=0.05)
    values = method.transform.forward(real[:4])
    shown, backward = features(values)
    assert shown.shape == (4, 2)
    both = backward(np.ones((4, 2)))
    parts = [part(values)[1](np.ones((4, 1))) for part in features.parts]
    np.testing.assert_allclose(both, parts[0] + parts[1])
    with pytest.raises(OptionError, match="MassFeature needs each pixel's \\(eta, phi\\), "
                                          "which Geometry=JET gives"):
        book(blob_file, f"{DENSE}:MassFeature=True")


# -- packing (PacGAN) --------------------------------------------------------------------

def test_packing_trains_with_an_uneven_last_batch_and_judges_each_event_alone(blob_file,
                                                                             workdir):
    # 189 training events in batches of 24: the last batch of 21 loses one image
    factory, method = book(blob_file, f"{DENSE}:Packing=2:ValidationSize=11:"
                                      f"TrainingStrategy=MaxEpochs=2,BatchSize=24")
    assert method.discriminator.input_shape == (2, 8, 8)  # the pair as channels
    factory.TrainAllMethods()
    assert len(method.history["epoch"]) == 2
    images = blobs(5, seed=3)
    response = method.response({"image": images})
    assert response.shape == (5,) and np.all((response > 0) & (response < 1))
    # each event is judged with the same stored training image: alone it scores the same
    assert method.response({"image": images[[4]]})[0] == pytest.approx(response[4], rel=1e-5)
    reader = TMVA.Reader("!Color:Silent")
    reader.BookMVA("GAN", str(workdir / "dataset" / "weights" / "Blob_GAN.weights.root"))
    np.testing.assert_allclose(reader.EvaluateMVA("GAN", images), response, rtol=1e-5)
    # a CGAN's flat discriminator input: each image with its condition, side by side
    loader = loader_for(blob_file, condition=True)
    factory = TMVA.Factory("Blob", "out.root", "Silent")
    method = factory.BookMethod(loader, TMVA.Types.kGAN, "C", f"{DENSE}:GANType=CGAN:Packing=2")
    assert method.discriminator.input_shape == (2 * (64 + 1),)


def test_packing_refuses_batches_it_would_cut_and_an_auxiliary_head(blob_file, workdir):
    with pytest.raises(OptionError, match="phase 1: BatchSize=25 is not a multiple of "
                                          "Packing=2, so every batch would lose images"):
        book(blob_file, f"{DENSE}:Packing=2:TrainingStrategy=BatchSize=25")
    loader = loader_for(blob_file, condition=True)
    factory = TMVA.Factory("Blob", "out.root", "Silent")
    with pytest.raises(OptionError, match="Packing=2 judges 2 images at once, but an "
                                          "auxiliary head \\(ACGAN\\)"):
        factory.BookMethod(loader, TMVA.Types.kGAN, "AC", f"{DENSE}:GANType=ACGAN:Packing=2")


def test_packing_with_batch_norm_skips_a_last_batch_of_one_pack(blob_file, workdir):
    # 189 training events in batches of 62: the last 3 make one pair, which batch norm in
    # the discriminator cannot normalise; the epoch skips them instead of stopping
    factory, method = book(blob_file, "InputLayout=1|8|8:LatentDim=8:GeneratorLayout=DENSE|64|"
                           "LEAKYRELU:DiscriminatorLayout=RESHAPE|FLAT,DENSE|16|LEAKYRELU,"
                           "BNORM,DENSE|1|LINEAR:Packing=2:ValidationSize=11:"
                           "TrainingStrategy=MaxEpochs=2,BatchSize=62")
    factory.TrainAllMethods()
    assert len(method.history["epoch"]) == 2
