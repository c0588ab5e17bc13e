"""MethodGAN as a physicist books it: option mistakes explained, training that writes the
generated events, histories and weights, generation without the training data that is
reproducible and bounded in memory, and Resume after a kill that ends where an
uninterrupted run ends."""

import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
import uproot

import rootgan
from rootgan import DataError, LayoutError, OptionError, TMVA
from rootgan.cli import main as cli_main
from rootgan.io.weights import read_weights
from rootgan.methods.gan import MethodGAN

from . import rootfiles

GENERATOR = ("DENSE|64|LEAKYRELU,RESHAPE|4|4|4,UPSAMPLE|2|2,CONV|4|3|3|1|1|1|1|LEAKYRELU,"
             "CONV|1|3|3|1|1|1|1|RELU")
DISCRIMINATOR = ("CONV|4|3|3|1|1|1|1|LEAKYRELU,MAXPOOL|2|2|2|2,RESHAPE|FLAT,"
                 "DENSE|16|LEAKYRELU,DENSE|1|LINEAR")
NETWORKS = f"LatentDim=8:GeneratorLayout={GENERATOR}:DiscriminatorLayout={DISCRIMINATOR}"
BASE = f"InputLayout=1|8|8:{NETWORKS}"


def blobs(n, seed=0):
    """One Gaussian blob of random position, width and intensity per 8x8 image."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:8, 0:8]
    cx, cy = rng.uniform(2, 5, (2, n, 1, 1))
    width = rng.uniform(0.8, 1.5, (n, 1, 1))
    amplitude = rng.uniform(5, 20, (n, 1, 1))
    images = amplitude * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * width ** 2))
    return images.reshape(n, 64).astype(np.float32)


@pytest.fixture(scope="module")
def blob_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("blobs") / "blobs.root"
    with uproot.recreate(path) as handle:
        handle.mktree("blobs", {"image": ("f4", (64,)), "energy": "f4"})
        images = blobs(300)
        handle["blobs"].extend({"image": images, "energy": images.sum(axis=1)})
    return str(path)


def loader_for(blob_file, condition=False):
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray("image", 64)
    if condition:
        loader.AddCondition("energy")
    loader.AddSignalTree(f"{blob_file}:blobs")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTest_Signal=100")
    return loader


def book(blob_file, options, title="GAN", loader=None):
    factory = TMVA.Factory("Blob", "out.root", "Silent")
    base = NETWORKS if "InputLayout" in options else BASE
    method = factory.BookMethod(loader or loader_for(blob_file), TMVA.Types.kGAN, title,
                                f"{base}:{options}" if options else base)
    return factory, method


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def trained(blob_file, workdir):
    factory, method = book(blob_file, "VarTransform=N:NGenerate=150:"
                                      "TrainingStrategy=MaxEpochs=3,BatchSize=32")
    factory.TrainAllMethods()
    factory.TestAllMethods()
    metrics = factory.EvaluateAllMethods()
    return factory, method, metrics, workdir


# -- options -----------------------------------------------------------------------------

def test_wgan_trains_a_critic_five_times_per_generator_step_with_clipped_weights(blob_file,
                                                                                 workdir):
    factory, method = book(blob_file, "GANType=WGAN:SelectBy=LAST:"
                                      "TrainingStrategy=MaxEpochs=2,BatchSize=16")
    factory.TrainAllMethods()
    assert method.losses == ("WASSERSTEIN", "WASSERSTEIN") and method.discriminator_steps == 5
    assert np.abs(method.discriminator.parameters).max() <= 0.01 + 1e-7
    assert all(np.isfinite(method.history["loss_D"]))
    # 180 training events (20 held out) in batches of 16: per epoch 12 critic updates, two
    # of them followed by a generator update; the 2 batches left over train the critic
    steps = read_weights(method.checkpoint_path).method["optimizer_steps"]
    assert steps == [2 * 2, 2 * 12]


def test_instance_noise_falls_linearly_to_zero_and_label_smoothing_aims_real_at_1_minus_s(
        blob_file, workdir, monkeypatch):
    seen = []
    original = MethodGAN._train_epoch

    def recording(self, gan, *args):
        seen.append((gan.instance_noise, gan.discriminator_loss.real_target))
        return original(self, gan, *args)
    monkeypatch.setattr(MethodGAN, "_train_epoch", recording)
    factory, method = book(blob_file, "InstanceNoise=0.4:LabelSmoothing=0.1:SelectBy=LAST:"
                                      "TrainingStrategy=MaxEpochs=2|MaxEpochs=2")
    factory.TrainAllMethods()
    noise, targets = zip(*seen)
    assert noise == pytest.approx([0.4, 0.3, 0.2, 0.1]) and targets == pytest.approx([0.9] * 4)


def test_wgan_with_spectral_norm_needs_no_clipping(blob_file, workdir):
    discriminator = "RESHAPE|FLAT,DENSE|16|LEAKYRELU|SPECTRALNORM,DENSE|1|LINEAR|SPECTRALNORM"
    factory = TMVA.Factory("Blob", "out.root", "Silent")
    method = factory.BookMethod(
        loader_for(blob_file), TMVA.Types.kGAN, "GAN",
        f"InputLayout=1|8|8:LatentDim=8:GeneratorLayout={GENERATOR}:"
        f"DiscriminatorLayout={discriminator}:GANType=WGAN:SelectBy=LAST:"
        f"TrainingStrategy=MaxEpochs=1,BatchSize=32")
    factory.TrainAllMethods()
    assert method.weight_clip == 0
    assert np.abs(method.discriminator.parameters).max() > 0.01


@pytest.mark.parametrize("strategy", [
    "Optimizer=RMSPROP,Momentum=0.5,LearningRate=1e-3",
    "Optimizer=ADAGRAD,LearningRate=1e-2,Regularization=L1,WeightDecay=1e-4",
    "Optimizer=ADADELTA,LearningRate=1,Regularization=L2,WeightDecay=1e-4",
    "GeneratorOptimizer=SGD,WeightDecay=1e-3",
])
def test_every_optimizer_and_weight_penalty_trains(blob_file, workdir, strategy):
    factory, method = book(blob_file, "WeightInitialization=HE:SelectBy=LAST:"
                                      f"TrainingStrategy={strategy},MaxEpochs=2,BatchSize=32")
    factory.TrainAllMethods()
    assert all(np.isfinite(method.history["loss_D"])) and len(method.history["loss_D"]) == 2


@pytest.mark.parametrize("options,message", [
    ("InputLayout=1|5|5", "InputLayout=1|5|5 has 25 values, but the DataLoader's 'image' has 64"),
    ("Layout=DENSE|64|RELU##DENSE|1|LINEAR", "give either Layout"),
    ("GeneratorLoss=HINGE", "GeneratorLoss=HINGE does not go with DiscriminatorLoss=BCE"),
    ("GeneratorLoss=WASSERSTEIN", "GeneratorLoss=WASSERSTEIN does not go with "
                                  "DiscriminatorLoss=BCE"),
    ("GANType=ACGAN", "GANType=ACGAN generates images for given conditions, but the "
                      "DataLoader declares none"),
    ("GANType=CGAN", "GANType=CGAN generates images for given conditions"),
    ("EnergyLossWeight=1", "EnergyLossWeight compares each image's sum with its energy"),
    ("EnergyCondition=energy", "EnergyCondition=energy is not a condition of the DataLoader"),
    ("GANType=WGAN:WeightClip=-1", "WeightClip"),
    ("GANType=WGAN:LabelSmoothing=0.1", "LabelSmoothing=0.1 needs a value below 1 and a "
                                        "discriminator loss with labels"),
    ("LabelSmoothing=1", "LabelSmoothing=1.0 needs a value below 1"),
    ("ValidationSize=0", "ValidationSize=0 leaves nothing to select"),
    ("ValidationSize=1.5", "ValidationSize=1.5 is not valid"),
    ("VarTransform=Scale:ScaleBy=energy", "ScaleBy=energy is neither a number nor a condition"),
    ("ValidationSize=100%", "a percentage must be below 100%"),
    ("SelectBy=LAST:TrainingStrategy=ConvergenceSteps=2", "ConvergenceSteps needs a selection"),
    ("GeneratorAverage=1", "GeneratorAverage=1.0 must be below 1"),
    ("LatentDimm=3", "did you mean LatentDim"),
    ("SelectBy=PHYSIC", "did you mean PHYSICS"),
])
def test_option_mistakes_are_explained_at_booking(blob_file, workdir, options, message):
    with pytest.raises(OptionError, match=message.replace("|", "\\|").replace("(", "\\(")):
        book(blob_file, options)


def test_layouts_are_shape_checked_at_booking(blob_file, workdir):
    factory = TMVA.Factory("Blob", "out.root", "Silent")
    with pytest.raises(LayoutError, match="discriminator layer 1 \\(MAXPOL"):
        factory.BookMethod(loader_for(blob_file), TMVA.Types.kGAN, "GAN",
                           InputLayout="1|8|8", GeneratorLayout=GENERATOR,
                           DiscriminatorLayout="CONV|4|3|3|1|1|1|1|RELU,MAXPOL|2|2|2|2")


def test_required_architecture_options(blob_file, workdir):
    factory = TMVA.Factory("Blob", "out.root", "Silent")
    loader = loader_for(blob_file)
    with pytest.raises(OptionError, match="GeneratorLayout and DiscriminatorLayout not given"):
        factory.BookMethod(loader, TMVA.Types.kGAN, "A", "InputLayout=1|8|8")
    with pytest.raises(OptionError, match="InputLayout not given"):
        factory.BookMethod(loader, TMVA.Types.kGAN, "B", GeneratorLayout=GENERATOR,
                           DiscriminatorLayout=DISCRIMINATOR)


def test_tmva_gan_layout_form_is_accepted(blob_file, workdir):
    factory = TMVA.Factory("Blob", "out.root", "Silent")
    method = factory.BookMethod(loader_for(blob_file), TMVA.Types.kGAN, "GAN",
                                f"InputLayout=1|1|8##1|8|8:Layout={GENERATOR}##{DISCRIMINATOR}")
    assert method.latent_dim == 8 and method.image_shape == (1, 8, 8)


# -- training and its outputs ----------------------------------------------------------------

def test_training_writes_generated_events_histories_and_weights(trained):
    factory, method, metrics, folder = trained
    handle = uproot.open(folder / "out.root")
    generated = handle["dataset/Method_GAN/GAN/GeneratedTree"]
    assert generated.num_entries == 150
    assert generated["image"].typename == "float[64]"
    np.testing.assert_array_equal(generated["eventNumber"].array(library="np"), np.arange(150))
    assert np.all(generated["image"].array(library="np") >= 0)
    for name in ("loss_D", "loss_G", "D_real", "D_fake", "metric", "seconds"):
        history = handle[f"dataset/Method_GAN/GAN/history_{name}"]
        assert history.values().size == 3 and np.all(np.isfinite(history.values()))
    responses = handle["dataset/TestTree"]["GAN"].array(library="np")
    assert responses.size == 100 and np.all((responses >= 0) & (responses <= 1))
    assert {"W1/floor total intensity", "W1/floor non-zero pixels", "FPD", "KPD", "AUC"} <= \
        set(metrics[("dataset", "GAN")])
    evaluation = handle["dataset/Method_GAN/GAN/Evaluation"]
    assert evaluation["metrics"].num_entries == 11
    assert evaluation["total_intensity_real"].values().sum() > 95  # of 100 test events
    assert (folder / "dataset" / "plots" / "GAN" / "mean_images.png").exists()
    content = read_weights(str(folder / "dataset" / "weights" / "Blob_GAN.weights.root"))
    assert content.method["transform"]["kind"] == "N"
    assert content.method["best_epoch"] == method.best_epoch
    assert "generator.layer0_weight" in content.parameters
    assert content.options["LatentDim"] == 8


def test_reader_generates_reproducibly_from_the_weights_file(trained):
    factory, method, metrics, folder = trained
    reader = TMVA.Reader("Silent")
    reader.BookMVA("GAN", str(folder / "dataset" / "weights" / "Blob_GAN.weights.root"))
    first = reader.Generate("GAN", 20, seed=3)
    assert first.shape == (20, 1, 8, 8)
    np.testing.assert_array_equal(first, reader.Generate("GAN", 20, seed=3))
    assert not np.array_equal(first, reader.Generate("GAN", 20, seed=4))
    np.testing.assert_array_equal(first, method.generate(20, seed=3))


def test_generate_files_are_reproducible_bounded_in_memory_and_open_in_root(trained):
    factory, method, metrics, folder = trained
    weights = str(folder / "dataset" / "weights" / "Blob_GAN.weights.root")
    paths = [rootgan.generate(weights, 3000, folder / f"gen/{i}.root", seed=7) for i in (1, 2)]
    trees = [uproot.open(p)["GeneratedTree"] for p in paths]
    np.testing.assert_array_equal(trees[0]["image"].array(library="np"),
                                  trees[1]["image"].array(library="np"))
    assert uproot.open(paths[0]).keys() == ["GeneratedTree;1"]

    peaks = []
    for n in (45_000, 90_000):  # both beyond one 10 MB basket of buffered events
        tracemalloc.start()
        rootgan.generate(weights, n, folder / "gen/big.root", seed=1)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.3 * peaks[0], peaks  # twice the events, not twice the memory

    ROOT = rootfiles.import_root()
    frame = ROOT.RDataFrame("GeneratedTree", str(paths[0]))
    assert frame.Count().GetValue() == 3000
    assert frame.GetColumnType("image") == "ROOT::VecOps::RVec<Float_t>"


def test_generate_command(trained, capsys):
    factory, method, metrics, folder = trained
    weights = str(folder / "dataset" / "weights" / "Blob_GAN.weights.root")
    out = str(folder / "cli" / "events.root")
    assert cli_main(["generate", weights, "-n", "500", "--out", out, "--seed", "2"]) == 0
    assert "generated 500 events" in capsys.readouterr().out
    assert uproot.open(out)["GeneratedTree"].num_entries == 500
    assert cli_main(["generate", weights, "-n", "5", "--out", out, "--workers", "2"]) == 2
    assert "writing parts needs {index} in the output path" in capsys.readouterr().err
    assert cli_main(["generate", "missing.weights.root", "-n", "5", "--out", out]) == 2


def test_generation_without_weights_or_with_bad_counts_is_explained(trained):
    factory, method, metrics, folder = trained
    weights = str(folder / "dataset" / "weights" / "Blob_GAN.weights.root")
    with pytest.raises(DataError, match="positive integer"):
        rootgan.generate(weights, 0, folder / "x.root")
    with pytest.raises(OptionError, match="unconditional GAN"):
        rootgan.generate(weights, 5, folder / "x.root", conditions={"energy": 50})


@pytest.mark.parametrize("losses", ["GANType=LSGAN", "GeneratorLoss=HINGE:DiscriminatorLoss=HINGE",
                                    "GeneratorLoss=MINIMAX:DiscriminatorSteps=2:SelectBy=LOSS"])
def test_other_loss_pairs_train(blob_file, workdir, losses):
    factory, method = book(blob_file, f"{losses}:VarTransform=Log:"
                                      f"TrainingStrategy=MaxEpochs=2,BatchSize=32")
    factory.TrainAllMethods()
    assert len(method.history["loss_D"]) == 2
    assert np.all(np.isfinite(method.history["loss_G"]))


def test_weights_file_keeps_the_averaged_generator(blob_file, workdir):
    factory, method = book(blob_file, "SelectBy=LAST:ValidationSize=0:GeneratorAverage=0.9:"
                                      "TrainingStrategy=MaxEpochs=2,BatchSize=32")
    factory.TrainAllMethods()
    checkpoint = read_weights(method.checkpoint_path).parameters
    kept = np.concatenate([v.ravel() for k, v in read_weights(
        factory.weights_path("dataset", "GAN")).parameters.items()
        if k.startswith("generator.")])
    np.testing.assert_array_equal(kept, checkpoint["generator_average"])
    assert not np.array_equal(kept, checkpoint["generator"])


def test_phases_and_convergence_steps(blob_file, workdir):
    factory, method = book(blob_file, "TrainingStrategy=MaxEpochs=2,BatchSize=64|"
                                      "MaxEpochs=30,ConvergenceSteps=1,BatchSize=32,"
                                      "GeneratorLearningRate=1e-3")
    factory.TrainAllMethods()
    epochs = len(method.history["epoch"])
    assert 3 <= epochs < 32  # the second phase stops once the metric does not improve


def test_non_finite_losses_stop_training_and_keep_finite_weights(blob_file, workdir, capsys):
    factory = TMVA.Factory("Blob", "out.root", "!Silent")
    method = factory.BookMethod(loader_for(blob_file), TMVA.Types.kGAN, "GAN",
                                f"{BASE}:TrainingStrategy=MaxEpochs=5,BatchSize=32,"
                                f"LearningRate=1e38,Optimizer=SGD")
    factory.TrainAllMethods()
    printed = capsys.readouterr().out
    assert "the losses became non-finite" in printed and "lower LearningRate" in printed
    assert np.all(np.isfinite(method.generator.parameters))
    assert len(method.history["epoch"]) < 5


# -- checkpoints -------------------------------------------------------------------------

RESUME_SCRIPT = """
import os, signal
from rootgan import TMVA
from rootgan.methods import gan

if {kill!r}:
    original = gan.MethodGAN._checkpoint
    def checkpoint_then_die(self, network, state):
        original(self, network, state)
        if state.epoch == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    gan.MethodGAN._checkpoint = checkpoint_then_die
loader = TMVA.DataLoader("dataset")
loader.AddVariablesArray("image", 64)
if "GANType=ACGAN" in {base!r}:
    loader.AddCondition("energy")
loader.AddSignalTree({blob!r} + ":blobs")
loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTest_Signal=100")
factory = TMVA.Factory("Blob", "out.root", "Silent")
factory.BookMethod(loader, TMVA.Types.kGAN, "GAN", {base!r}
                   + ":RandomSeed=5:TrainingStrategy=MaxEpochs=4,BatchSize=32"
                   + ({resume!r} and ":Resume" or ""))
factory.TrainAllMethods()
"""


# batch-norm statistics, dropout masks and spectral-norm vectors must resume too
NORMALISED = ("InputLayout=1|8|8:LatentDim=8:GeneratorLayout=DENSE|64|LEAKYRELU,BNORM,"
              "DENSE|64|RELU:DiscriminatorLayout=RESHAPE|FLAT,DENSE|16|LEAKYRELU|SPECTRALNORM,"
              "DROPOUT|0.2,DENSE|1|LINEAR")


def _run(folder, blob_file, kill, resume, base=BASE):
    script = RESUME_SCRIPT.format(kill=kill, blob=blob_file, base=base, resume=resume)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(__file__)))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=folder, env=env,
                          capture_output=True, text=True)


@pytest.mark.parametrize("base", [BASE, NORMALISED, f"GANType=ACGAN:{BASE}"],
                         ids=["conv", "bnorm-dropout-sn", "acgan"])
def test_a_killed_job_resumed_ends_with_the_weights_of_an_uninterrupted_run(blob_file,
                                                                              tmp_path, base):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    straight.mkdir()
    killed.mkdir()
    assert _run(straight, blob_file, kill=False, resume=False, base=base).returncode == 0
    interrupted = _run(killed, blob_file, kill=True, resume=False, base=base)
    assert interrupted.returncode == -signal.SIGKILL
    assert not (killed / "dataset/weights/Blob_GAN.weights.root").exists()
    resumed = _run(killed, blob_file, kill=False, resume=True, base=base)
    assert resumed.returncode == 0, resumed.stderr
    ours = read_weights(str(killed / "dataset/weights/Blob_GAN.weights.root"))
    theirs = read_weights(str(straight / "dataset/weights/Blob_GAN.weights.root"))
    for name, value in theirs.parameters.items():
        np.testing.assert_array_equal(ours.parameters[name], value, err_msg=name)
    assert ours.method["history"] == theirs.method["history"] | {
        "seconds": ours.method["history"]["seconds"],
        "events_per_second": ours.method["history"]["events_per_second"]}


def test_a_validation_size_that_rounds_to_nothing_is_explained(blob_file, workdir):
    factory, method = book(blob_file, "ValidationSize=0.001:TrainingStrategy=MaxEpochs=1")
    with pytest.raises(DataError, match="holds out no event of the 200 training events"):
        factory.TrainAllMethods()


def test_wrong_inputs_to_a_trained_gan_are_data_errors(trained):
    factory, method, metrics, folder = trained
    weights = str(folder / "dataset" / "weights" / "Blob_GAN.weights.root")
    reader = TMVA.Reader("Silent")
    reader.BookMVA("GAN", weights)
    with pytest.raises(DataError, match="reads images of 64 values"):
        reader.EvaluateMVA("GAN", np.zeros((3, 10), np.float32))
    with pytest.raises(DataError, match="seed must be a non-negative integer"):
        reader.Generate("GAN", 5, seed=-1)
    (folder / "adir").mkdir()
    with pytest.raises(DataError, match="it is a folder"):
        rootgan.generate(weights, 5, folder / "adir")
    assert cli_main(["generate", weights, "-n", "5", "--out", str(folder / "x.root"),
                     "--seed", "-1"]) == 2
