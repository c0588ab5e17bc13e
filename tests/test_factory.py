"""The Factory, its output file, weights files and the Reader, driven as a TMVA user does,
with the test-only MeanImage method; and every file checked with real ROOT."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import uproot

from rootgan import DataError, OptionError, TMVA
from rootgan.io.output import staged, write_tree
from rootgan.io.weights import read_weights

from . import meanmethod, rootfiles

PIXELS = 16


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Signal and background images written with uproot (float32 image[16], float32
    energy)."""
    folder = tmp_path_factory.mktemp("factory-inputs")
    rng = np.random.default_rng(3)
    paths = {}
    for name, scale in (("signal", 1.0), ("background", 3.0)):
        path = folder / f"{name}.root"
        with uproot.recreate(path) as handle:
            handle.mktree("events", {"image": ("f4", (PIXELS,)), "energy": "f4"})
            images = rng.exponential(scale, (80, PIXELS)).astype(np.float32)
            handle["events"].extend({"image": images, "energy": images.sum(axis=1)})
        paths[name] = str(path)
    return paths


def make_loader(inputs, name="dataset"):
    loader = TMVA.DataLoader(name)
    loader.AddVariablesArray("image", PIXELS)
    loader.AddSpectator("energy")
    loader.AddSignalTree(f"{inputs['signal']}:events")
    loader.AddBackgroundTree(f"{inputs['background']}:events")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTrain_Signal=50:"
                                          "nTrain_Background=50")
    return loader


@pytest.fixture
def job(inputs, tmp_path, monkeypatch):
    """A full Train/Test/Evaluate run in a fresh working directory."""
    monkeypatch.chdir(tmp_path)
    loader = make_loader(inputs)
    factory = TMVA.Factory("Job", "out.root", "!V:Silent:!DrawProgressBar")
    method = factory.BookMethod(loader, meanmethod.KIND, "Mean", "Epochs=3")
    factory.TrainAllMethods()
    factory.TestAllMethods()
    metrics = factory.EvaluateAllMethods()
    return factory, method, loader, metrics, tmp_path


def test_output_file_is_laid_out_like_tmva(job):
    factory, method, loader, metrics, folder = job
    handle = uproot.open(folder / "out.root")
    names = {key.split(";")[0]: cls for key, cls in handle.classnames().items()}
    assert names["dataset/TrainTree"] == names["dataset/TestTree"] == "TTree"
    assert names["dataset/Method_MeanImage/Mean/history_mean_pixel"] == "TH1D"
    assert names["dataset/Method_MeanImage/Mean/mean_image"] == "TH1D"
    assert names["dataset/Method_MeanImage/Mean/evaluation"] == "TH1D"
    train = handle["dataset/TrainTree"]
    assert set(train.keys()) == {"classID", "className", "image", "energy", "weight", "Mean"}
    assert train["image"].typename == "float[16]" and train["energy"].typename == "float"
    assert train.num_entries == 100 and handle["dataset/TestTree"].num_entries == 60
    events = train.arrays(library="np")
    assert set(events["className"]) == {"Signal", "Background"}
    np.testing.assert_allclose(events["Mean"], method.response(events), rtol=1e-6)
    history = handle["dataset/Method_MeanImage/Mean/history_mean_pixel"]
    np.testing.assert_allclose(history.values(), method.history)
    assert metrics[("dataset", "Mean")]["test_mean_pull2"] > 0


def test_weights_file_round_trips_parameters_options_and_provenance(job, inputs):
    factory, method, loader, metrics, folder = job
    path = folder / "dataset" / "weights" / "Job_Mean.weights.root"
    content = read_weights(str(path))
    np.testing.assert_array_equal(content.parameters["mean"], method.mean)
    np.testing.assert_array_equal(content.parameters["spread"], method.spread)
    assert content.options_given == "Epochs=3"
    assert content.options["Epochs"] == 3 and content.options["Floor"] == 1e-3
    assert content.variables["arrays"] == {"image": 16}
    assert content.variables["spectators"] == ["energy"]
    info = content.info
    assert info["method"] == "MeanImage" and info["job"] == "Job"
    assert info["training_events"] == 100 and info["training_seconds"] >= 0
    assert {"rootgan", "uproot", "numpy", "numba", "date", "host"} <= set(info)
    hashed = {os.path.basename(i["path"]): i for i in info["inputs"]}
    assert set(hashed) == {"signal.root", "background.root"}
    assert hashed["signal.root"]["bytes"] == os.path.getsize(inputs["signal"])
    assert len(hashed["signal.root"]["sha256"]) == 64


def test_reader_evaluates_from_the_weights_file_alone(job):
    factory, method, loader, metrics, folder = job
    reader = TMVA.Reader("!Color:Silent")
    reader.BookMVA("Mean", str(folder / "dataset" / "weights" / "Job_Mean.weights.root"))
    images = np.random.default_rng(0).exponential(1.0, (7, PIXELS)).astype(np.float32)
    np.testing.assert_allclose(reader.EvaluateMVA("Mean", images),
                               method.response({"image": images}), rtol=1e-6)
    with pytest.raises(OptionError, match="no method 'Other' is booked"):
        reader.EvaluateMVA("Other", images)


def test_reader_reports_a_missing_or_foreign_weights_file(tmp_path, inputs):
    reader = TMVA.Reader("Silent")
    with pytest.raises(DataError, match="does not exist"):
        reader.BookMVA("Mean", str(tmp_path / "none.weights.root"))
    with pytest.raises(DataError, match="is not a rootgan weights file"):
        reader.BookMVA("Mean", inputs["signal"])


def test_booking_mistakes_are_explained(inputs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory = TMVA.Factory("Job", "out.root", "Silent")
    loader = make_loader(inputs)
    factory.BookMethod(loader, meanmethod.KIND, "Mean")
    with pytest.raises(OptionError, match="'Mean' is already booked on dataset 'dataset'"):
        factory.BookMethod(loader, meanmethod.KIND, "Mean")
    with pytest.raises(OptionError, match="unknown option 'Epoch' .*did you mean Epochs"):
        factory.BookMethod(loader, meanmethod.KIND, "Mean2", "Epoch=3")
    with pytest.raises(OptionError, match="no method of kind 'Meanimage'.*did you mean MeanImage"):
        factory.BookMethod(loader, "Meanimage", "Mean3")
    unprepared = TMVA.DataLoader("raw")
    with pytest.raises(DataError, match="not prepared: call PrepareTrainingAndTestTree"):
        factory.BookMethod(unprepared, meanmethod.KIND, "Mean4")
    assert factory.GetMethod("dataset", "Mean").title == "Mean"
    with pytest.raises(OptionError, match="booked: dataset/Mean"):
        factory.GetMethod("dataset", "Nope")


def test_factory_options_in_both_forms_and_notes_for_what_generation_ignores(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    TMVA.Factory("Job", "a.root", V=False, Silent=False, Correlations=True,
                 AnalysisType="Classification", Transformations="I;D")
    printed = capsys.readouterr().out
    assert "Correlations is ignored" in printed
    assert "AnalysisType=Classification is ignored" in printed
    assert "Transformations=I;D is ignored" in printed
    with pytest.raises(OptionError, match="did you mean DrawProgressBar"):
        TMVA.Factory("Job", "b.root", "DrawProgresBar")


def test_silent_prints_nothing(inputs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    loader = make_loader(inputs)
    capsys.readouterr()
    factory = TMVA.Factory("Job", "out.root", "Silent")
    factory.BookMethod(loader, meanmethod.KIND, "Mean", Epochs=1, H=True)
    factory.TrainAllMethods()
    assert capsys.readouterr().out == ""


def test_console_output_has_stage_headers_and_epoch_lines(inputs, tmp_path, monkeypatch,
                                                          capsys):
    monkeypatch.chdir(tmp_path)
    loader = make_loader(inputs)
    factory = TMVA.Factory("Job", "out.root", "!Silent")
    factory.BookMethod(loader, meanmethod.KIND, "Mean", "Epochs=2:H")
    factory.TrainAllMethods()
    printed = capsys.readouterr().out
    assert "Factory                 : Train all methods" in printed
    assert "Mean                    : epoch 2: mean pixel" in printed
    assert "MeanImage method 'Mean' options:" in printed  # the H printout
    assert "training of 'Mean' took" in printed


# -- the after-every-stage guarantee ----------------------------------------------------

def _tree_values(path):
    return uproot.open(path)["t"]["x"].array(library="np")


def test_an_exception_mid_stage_leaves_the_previous_file(tmp_path):
    path = str(tmp_path / "out.root")
    with staged(path) as handle:
        write_tree(handle, "t", [{"x": np.arange(5.0)}])
    with pytest.raises(RuntimeError):
        with staged(path) as handle:
            write_tree(handle, "u", [{"x": np.arange(3.0)}])
            raise RuntimeError("the stage fails")
    np.testing.assert_array_equal(_tree_values(path), np.arange(5.0))
    assert "u" not in uproot.open(path)
    assert os.listdir(tmp_path) == ["out.root"]


def test_trees_written_in_many_baskets_keep_every_event_in_order(tmp_path):
    # baskets are written on a helper thread while the next is made: sizes that cross the
    # basket threshold in every way (small chunks merged, one large chunk alone)
    path = str(tmp_path / "out.root")
    sizes = [70_000, 50_000, 1, 300_000, 3, 99_999]
    starts = np.cumsum([0] + sizes)
    with staged(path) as handle:
        count = write_tree(handle, "t", ({"x": np.arange(a, a + n, dtype=np.float64)}
                                         for a, n in zip(starts, sizes)))
    assert count == starts[-1]
    np.testing.assert_array_equal(_tree_values(path), np.arange(starts[-1], dtype=np.float64))


def test_a_producer_failing_while_a_basket_is_written_leaves_no_file(tmp_path):
    path = str(tmp_path / "out.root")

    def chunks():
        for i in range(3):
            yield {"x": np.random.default_rng(i).random(200_000)}  # one basket each
        raise DataError("NaN pixels in chunk 3")

    with pytest.raises(DataError, match="NaN pixels"):
        with staged(path, fresh=True) as handle:
            write_tree(handle, "t", chunks())
    assert os.listdir(tmp_path) == []


def test_a_writer_killed_mid_stage_leaves_the_previous_complete_file(tmp_path):
    path = str(tmp_path / "out.root")
    with staged(path) as handle:
        write_tree(handle, "t", [{"x": np.arange(5.0)}])
    writer = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        from rootgan.io.output import staged, write_tree
        def chunks():
            for i in range(1000):
                yield {{"x": np.random.default_rng(i).random(200_000)}}
                if i == 2:
                    print("writing", flush=True)
                    time.sleep(60)
        with staged({path!r}) as handle:
            write_tree(handle, "big", chunks())
    """)
    process = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout.readline().strip() == "writing"
        temporaries = [f for f in os.listdir(tmp_path) if f != "out.root"]
        assert temporaries and os.path.getsize(tmp_path / temporaries[0]) > 1_000_000
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    np.testing.assert_array_equal(_tree_values(path), np.arange(5.0))
    assert "big" not in uproot.open(path)
    with staged(path) as handle:  # the next stage cleans the killed writer's temporary
        write_tree(handle, "u", [{"x": np.arange(2.0)}])
    assert os.listdir(tmp_path) == ["out.root"]


# -- with real ROOT ---------------------------------------------------------------------

def test_every_file_opens_in_root_and_hadd_merges_outputs(job, inputs, tmp_path_factory):
    ROOT = rootfiles.import_root()
    factory, method, loader, metrics, folder = job
    output = str(folder / "out.root")
    weights = str(folder / "dataset" / "weights" / "Job_Mean.weights.root")
    for path in (output, weights):
        handle = ROOT.TFile.Open(path)
        assert handle and not handle.IsZombie(), path
        handle.Close()
    handle = ROOT.TFile.Open(output)
    tree = handle.Get("dataset/TrainTree")
    assert tree.GetEntries() == 100
    assert tree.Scan("classID:className:image[0]:Mean", "", "", 3) == 3
    history = handle.Get("dataset/Method_MeanImage/Mean/history_mean_pixel")
    assert history.GetNbinsX() == 3 and history.GetXaxis().GetTitle() == "epoch"
    handle.Close()

    frame = ROOT.RDataFrame("dataset/TestTree", output)
    assert frame.GetColumnType("image") == "ROOT::VecOps::RVec<Float_t>"
    sums = frame.Define("total", "Sum(image)").Take["float"]("total").GetValue()
    expected = uproot.open(output)["dataset/TestTree"]["image"].array(library="np").sum(axis=1)
    np.testing.assert_allclose(np.array(list(sums)), expected, rtol=1e-5)

    weights_file = ROOT.TFile.Open(weights)
    assert weights_file.Get("parameters").GetEntries() == 2
    assert "MeanImage" in str(weights_file.Get("info").GetString())
    weights_file.Close()

    merged = str(tmp_path_factory.mktemp("hadd") / "merged.root")
    hadd = os.path.join(os.path.dirname(ROOT.__file__), "bin", "hadd")
    result = subprocess.run([hadd, "-f", merged, output, output], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert uproot.open(merged)["dataset/TrainTree"].num_entries == 200


def test_verbose_prints_every_resolved_option(inputs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    loader = make_loader(inputs)
    factory = TMVA.Factory("Job", "out.root", "V")
    factory.BookMethod(loader, meanmethod.KIND, "Mean", "Epochs=2")
    assert "options of 'Mean': !H:!V:VerbosityLevel=Info:Epochs=2:Floor=0.001" in \
        capsys.readouterr().out


def test_testing_or_evaluating_before_training_is_explained(inputs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory = TMVA.Factory("Job", "out.root", "Silent")
    factory.BookMethod(make_loader(inputs), meanmethod.KIND, "Mean")
    for stage in (factory.TestAllMethods, factory.EvaluateAllMethods):
        with pytest.raises(OptionError, match="'Mean' not trained yet; call TrainAllMethods"):
            stage()


def test_written_files_get_the_usual_permissions_not_private_ones(tmp_path):
    from rootgan.io.output import create_empty

    path = tmp_path / "out.root"
    create_empty(path)
    mask = os.umask(0)
    os.umask(mask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~mask)
