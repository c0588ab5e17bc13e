"""Conditional GANs as a physicist books them: CGAN and ACGAN conditioned on a DataLoader
condition, generated events that carry their conditions, generation for chosen conditions
(fixed, per event, from a tree, or drawn from the training distribution), the auxiliary
head's predictions, the energy penalty, and every bad input explained."""

import numpy as np
import pytest
import uproot

import rootgan
from rootgan import DataError, OptionError, TMVA
from rootgan.cli import main as cli_main

DENSE = ("LatentDim=4:GeneratorLayout=DENSE|32|LEAKYRELU,DENSE|64|SOFTPLUS:"
         "DiscriminatorLayout=DENSE|32|LEAKYRELU,DENSE|1|LINEAR:InputLayout=1|8|8")
CONV_D = ("LatentDim=4:GeneratorLayout=DENSE|32|LEAKYRELU,DENSE|64|SOFTPLUS:InputLayout=1|8|8:"
          "DiscriminatorLayout=CONV|2|3|3|1|1|1|1|LEAKYRELU,RESHAPE|FLAT,DENSE|1|LINEAR")
QUICK = "TrainingStrategy=MaxEpochs=2,BatchSize=32:NGenerate=130"


def blob_events(n, seed=0):
    """8x8 blobs whose summed intensity is the 'energy' (10 to 100) and whose width is set by
    an integer 'label' (0 narrow, 1 wide)."""
    rng = np.random.default_rng(seed)
    energy = rng.uniform(10, 100, n)
    label = rng.integers(0, 2, n)
    yy, xx = np.mgrid[0:8, 0:8]
    width = np.where(label == 1, 1.6, 0.8)[:, None, None]
    shape = np.exp(-((xx - 3.5) ** 2 + (yy - 3.5) ** 2) / (2 * width ** 2))
    images = energy[:, None, None] * shape / shape.sum(axis=(1, 2), keepdims=True)
    return {"image": images.reshape(n, 64).astype(np.float32),
            "energy": energy.astype(np.float32), "label": label.astype(np.int32)}


@pytest.fixture(scope="module")
def blob_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("conditional") / "blobs.root"
    with uproot.recreate(path) as handle:
        handle.mktree("blobs", {"image": ("f4", (64,)), "energy": "f4", "label": "i4"})
        handle["blobs"].extend(blob_events(300))
    return str(path)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def book(path, options, conditions=("energy",), title="CGAN", tree="blobs", silent=True):
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray("image", 64)
    for condition in conditions:
        loader.AddCondition(condition)
    loader.AddSignalTree(f"{path}:{tree}")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTest_Signal=100")
    factory = TMVA.Factory("Blob", "out.root", "Silent" if silent else "!DrawProgressBar")
    method = factory.BookMethod(loader, TMVA.Types.kGAN, title, options)
    return factory, method


def run_all(factory):
    factory.TrainAllMethods()
    factory.TestAllMethods()
    factory.EvaluateAllMethods()


@pytest.mark.parametrize("layout", [DENSE, CONV_D], ids=["flat", "channels"])
def test_cgan_generates_test_events_with_their_conditions_and_is_evaluated_per_bin(
        blob_file, workdir, layout, capsys):
    factory, method = book(blob_file, f"GANType=CGAN:{layout}:VarTransform=Scale:"
                                      f"ScaleBy=energy:{QUICK}", silent=False)
    run_all(factory)
    with uproot.open("out.root") as out:
        generated = out["dataset/Method_GAN/CGAN/GeneratedTree"].arrays(library="np")
        test = out["dataset/TestTree"].arrays(["energy"], library="np")
        binned = out["dataset/Method_GAN/CGAN/Evaluation/metrics"].arrays(library="np")
    assert len(generated["energy"]) == 130
    # the 100 test events' conditions in order, then again from the first
    np.testing.assert_array_equal(generated["energy"][:100], test["energy"])
    np.testing.assert_array_equal(generated["energy"][100:], test["energy"][:30])
    assert np.all(np.isfinite(generated["image"]))
    assert len(np.unique(binned["condition_low"])) == 6  # all events and 5 energy bins
    out = capsys.readouterr().out
    assert "CGAN conditioned on energy (mean" in out
    assert "with the test events' conditions" in out


def test_generation_takes_fixed_per_event_file_or_training_conditions(blob_file, workdir,
                                                                     capsys):
    factory, method = book(blob_file, f"GANType=CGAN:{DENSE}:{QUICK}")
    run_all(factory)
    weights = "dataset/weights/Blob_CGAN.weights.root"
    fixed = uproot.open(rootgan.generate(weights, 7, "fixed.root",
                                         conditions={"energy": 50}))["GeneratedTree"]
    assert fixed["energy"].array(library="np").tolist() == [50.0] * 7
    per_event = np.linspace(10, 100, 7)
    images = TMVA.Reader("Silent")
    images.BookMVA("CGAN", weights)
    assert images.Generate("CGAN", 7, conditions={"energy": per_event}).shape == (7, 1, 8, 8)
    # a tree with a branch per condition: here the fixed file's own GeneratedTree
    assert cli_main(["generate", weights, "-n", "5", "--out", "from_file.root",
                     "--conditions", "fixed.root:GeneratedTree"]) == 0
    assert cli_main(["generate", weights, "-n", "5", "--out", "cli.root",
                     "--condition", "energy=20"]) == 0
    assert uproot.open("cli.root")["GeneratedTree/energy"].array(library="np").tolist() == \
        [20.0] * 5
    capsys.readouterr()
    assert cli_main(["generate", weights, "-n", "300", "--out", "sampled.root"]) == 0
    assert "conditions (energy) drawn from the 180 training conditions stored in the weights " \
           "file" in capsys.readouterr().err
    sampled = uproot.open("sampled.root")["GeneratedTree/energy"].array(library="np")
    training = blob_events(300)["energy"][:200]
    assert set(sampled.tolist()) <= set(training.tolist())
    assert len(np.unique(sampled)) > 100  # drawn with replacement from the stored values


def test_bad_conditions_at_generation_are_explained(blob_file, workdir, capsys):
    factory, method = book(blob_file, f"GANType=CGAN:{DENSE}:{QUICK}")
    factory.TrainAllMethods()
    weights = "dataset/weights/Blob_CGAN.weights.root"
    with pytest.raises(OptionError, match="unknown condition mass: this GAN is conditioned "
                                          "on energy"):
        rootgan.generate(weights, 5, "x.root", conditions={"energy": 1, "mass": 3})
    with pytest.raises(DataError, match="give one value, or one per event \\(5\\)"):
        rootgan.generate(weights, 5, "x.root", conditions={"energy": [1, 2]})
    with pytest.raises(DataError, match="event 1 has a NaN or infinite condition"):
        rootgan.generate(weights, 3, "x.root", conditions={"energy": [1, np.nan, 2]})
    with uproot.recreate("conditions.root") as handle:
        handle.mktree("few", {"energy": "f8"}).extend({"energy": np.array([20.0, 30.0])})
        handle.mktree("other", {"mass": "f8"}).extend({"mass": np.array([20.0, 30.0])})
    with pytest.raises(DataError, match="2 entries, fewer than the 5 events"):
        rootgan.generate(weights, 5, "x.root", conditions="conditions.root:few")
    with uproot.recreate("nan.root") as handle:
        handle.mktree("c", {"energy": "f8"}).extend({"energy": np.r_[np.ones(5000), np.nan]})
    with pytest.raises(DataError, match=r"conditions nan.root:c: entry 5000 has a NaN"):
        rootgan.generate(weights, 5001, "x.root", conditions="nan.root:c")
    with pytest.raises(DataError, match="the tree has no branch energy"):
        rootgan.generate(weights, 2, "x.root", conditions="conditions.root:other")
    assert cli_main(["generate", weights, "-n", "2", "--out", "x.root",
                     "--condition", "energy"]) == 2
    assert "expected NAME=VALUE, e.g. --condition energy=50" in capsys.readouterr().err
    assert cli_main(["generate", weights, "-n", "2", "--out", "x.root", "--condition",
                     "energy=1", "--condition", "energy=2"]) == 2
    assert "--condition energy is given more than once" in capsys.readouterr().err


def test_acgan_head_predicts_class_and_energy_of_real_images(blob_file, workdir, capsys):
    factory, method = book(blob_file, f"GANType=ACGAN:{DENSE}:VarTransform=N:"
                                      f"TrainingStrategy=MaxEpochs=3,BatchSize=32",
                           conditions=("energy", "label"), title="ACGAN", silent=False)
    run_all(factory)
    # one adversarial output, one regressed energy, two classes of label
    assert method.discriminator.output_shape == (4,)
    assert method.conditions.classes == [None, [0.0, 1.0]]
    events = blob_events(50, seed=9)
    predicted = method.auxiliary_predictions(events)
    assert predicted.shape == (50, 2) and set(np.unique(predicted[:, 1])) <= {0.0, 1.0}
    out = capsys.readouterr().out
    assert "auxiliary correlation energy (predicted from the test images vs true)" in out
    assert "auxiliary accuracy label" in out
    # the weights file rebuilds the head: the same predictions without the training data
    reader = TMVA.Reader("Silent")
    loaded = reader.BookMVA("ACGAN", "dataset/weights/Blob_ACGAN.weights.root")
    np.testing.assert_array_equal(loaded.auxiliary_predictions(events), predicted)


def test_energy_penalty_trains_and_is_recorded_in_the_generator_loss(blob_file, workdir):
    factory, method = book(blob_file, f"GANType=CGAN:{DENSE}:EnergyLossWeight=5:"
                                      f"VarTransform=Log:TrainingStrategy=MaxEpochs=2,"
                                      f"BatchSize=32")
    factory.TrainAllMethods()
    gan = method._new_gan(np.random.default_rng(0))
    fake = np.zeros((4, 1, 8, 8), np.float32)  # empty images: the whole energy is missing
    conditions = method.conditions.standardised(np.array([[20.0], [40.0], [60.0], [80.0]]))
    loss, grad = gan.generator_penalty(fake, conditions)
    assert loss == pytest.approx(5.0)
    assert np.all(grad < 0)  # raising any pixel lowers the penalty


@pytest.mark.parametrize("transform", ["VarTransform=Log:PixelScale=2", "VarTransform=N",
                                       "VarTransform=Scale:ScaleBy=energy"])
def test_energy_penalty_gradient_matches_finite_differences(blob_file, workdir, transform):
    from rootgan.methods.conditions import ConditionSpace

    factory, method = book(blob_file, f"GANType=CGAN:{DENSE}:EnergyLossWeight=3:{transform}")
    method.transform.maximum = 30.0
    method.conditions = ConditionSpace(["energy"], [50.0], [20.0], [None], np.zeros((1, 1)))
    rng = np.random.default_rng(1)
    fake = rng.uniform(0.05, 0.3, (3, 64))
    conditions = method.conditions.standardised(np.array([[40.0], [70.0], [90.0]]), np.float64)
    _, analytic = method._energy_penalty(fake, conditions)
    for row, column in ((0, 0), (1, 17), (2, 63)):
        step = np.zeros_like(fake)
        step[row, column] = 1e-3
        numeric = (method._energy_penalty(fake + step, conditions)[0]
                   - method._energy_penalty(fake - step, conditions)[0]) / 2e-3
        assert analytic[row, column] == pytest.approx(numeric, rel=1e-3)


def test_energy_condition_picks_one_of_several_conditions(blob_file, workdir):
    factory, method = book(blob_file, f"GANType=CGAN:{DENSE}:EnergyLossWeight=1:"
                                      f"EnergyCondition=energy", conditions=("label", "energy"))
    assert method.energy_condition == "energy"


def test_conditional_mistakes_are_explained(blob_file, workdir, tmp_path):
    with pytest.raises(OptionError, match="EnergyLossWeight compares each image's sum with "
                                          "its energy condition; the DataLoader declares 2 "
                                          "conditions \\(energy, label\\): name one"):
        book(blob_file, f"GANType=CGAN:{DENSE}:EnergyLossWeight=1",
             conditions=("energy", "label"))
    with pytest.raises(OptionError, match="ScaleBy=mass is neither a number nor a condition"):
        book(blob_file, f"GANType=CGAN:{DENSE}:VarTransform=Scale:ScaleBy=mass")
    with pytest.raises(OptionError, match="AuxiliaryWeight weighs the auxiliary head of "
                                          "GANType=ACGAN; this GAN is GANType=CGAN"):
        book(blob_file, f"GANType=CGAN:{DENSE}:AuxiliaryWeight=2")
    with pytest.raises(OptionError, match="EnergyCondition=energy names the condition of the "
                                          "energy penalty, which is off"):
        book(blob_file, f"GANType=CGAN:{DENSE}:EnergyCondition=energy")
    with pytest.raises(OptionError, match="GANType=ACGAN: DiscriminatorLayout must end in "
                                          "DENSE\\|1\\|LINEAR"):
        book(blob_file, f"GANType=ACGAN:{DENSE.replace('DENSE|1|LINEAR', 'DENSE|2|LINEAR')}")
    factory, method = book(blob_file, f"GANType=CGAN:{DENSE}:VarTransform=Scale:"
                                      f"ScaleBy=label:{QUICK}", conditions=("energy", "label"))
    with pytest.raises(DataError, match="ScaleBy divides the pixels by the condition label, "
                                        "which must be > 0; \\d+ training events have label <= 0 "
                                        "\\(smallest 0\\); select them away with a cut such as "
                                        "'label > 0'"):
        factory.TrainAllMethods()
    path = tmp_path / "nan.root"
    events = blob_events(300)
    events["energy"][17] = np.nan
    with uproot.recreate(path) as handle:
        handle.mktree("blobs", {"image": ("f4", (64,)), "energy": "f4", "label": "i4"})
        handle["blobs"].extend(events)
    factory, method = book(str(path), f"GANType=ACGAN:{DENSE}:{QUICK}", title="ACGAN")
    with pytest.raises(DataError, match="entry 17 has a NaN or infinite value"):
        factory.TrainAllMethods()
