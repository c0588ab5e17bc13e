"""The DataLoader on files written by real ROOT: every storage style of an image, cuts,
weights, splits, streaming, and a DataError that says what and where for every bad input."""

import shutil

import numpy as np
import pytest

from rootgan import DataError, OptionError, TMVA

from . import rootfiles
from .rootfiles import N_EVENTS, PIXELS, expected_images


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    ROOT = rootfiles.import_root()
    folder = tmp_path_factory.mktemp("rootfiles")
    paths = {style: folder / f"{style}.root" for style in
             ("fixed", "vector", "rvec", "scalars", "scalars_nosep", "short", "nan",
              "strings")}
    rootfiles.write_fixed_array(ROOT, paths["fixed"])
    rootfiles.write_vector(ROOT, paths["vector"])
    rootfiles.write_rvec(ROOT, paths["rvec"])
    rootfiles.write_scalars(ROOT, paths["scalars"])
    rootfiles.write_scalars(ROOT, paths["scalars_nosep"], separator="")
    rootfiles.write_vector(ROOT, paths["short"], short_entry=7)
    rootfiles.write_fixed_array(ROOT, paths["nan"], nan_entry=11)
    rootfiles.write_string_branch(ROOT, paths["strings"])
    return {style: str(path) for style, path in paths.items()}


def loader_for(path, tree="events", size=PIXELS, name="image"):
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray(name, size)
    loader.AddSignalTree(f"{path}:{tree}")
    return loader


def all_events(split):
    events = split.read_all()
    order = np.argsort(events["image"][:, 0])
    return {k: v[order] for k, v in events.items()}


@pytest.mark.parametrize("style", ["fixed", "vector", "rvec", "scalars", "scalars_nosep"])
def test_every_storage_style_reads_the_same_images(files, style):
    loader = loader_for(files[style])
    dataset = loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTrain_Signal=40")
    training = all_events(dataset.training)
    np.testing.assert_array_equal(training["image"], expected_images(np.arange(40)))
    assert training["image"].dtype == np.float32
    np.testing.assert_array_equal(all_events(dataset.test)["image"],
                                  expected_images(np.arange(40, N_EVENTS)))


def test_scalars_spectators_conditions_and_aliases_are_read_per_event(files):
    loader = loader_for(files["fixed"])
    loader.AddVariable("twice := 2*energy", "F")
    loader.AddSpectator("label")
    loader.AddCondition("energy")
    dataset = loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTest_Signal=1")
    events = all_events(dataset.training)
    entries = np.arange(N_EVENTS - 1)
    np.testing.assert_array_equal(events["energy"], 10 + entries)
    np.testing.assert_array_equal(events["twice"], 2 * (10 + entries))
    np.testing.assert_array_equal(events["label"], entries % 3)
    assert loader.labels("condition") == ["energy"] and loader.labels("array") == ["image"]


def test_cuts_in_root_syntax_select_events(files):
    loader = loader_for(files["fixed"])
    dataset = loader.PrepareTrainingAndTestTree("label == 1 && energy > 20 || !flag && label == 2",
                                                "SplitMode=Block:nTest_Signal=1")
    entries = np.arange(N_EVENTS)
    keep = ((entries % 3 == 1) & (10 + entries > 20)) | ((entries % 2 == 1) & (entries % 3 == 2))
    selected = np.concatenate([all_events(dataset.training)["image"][:, 0],
                               all_events(dataset.test)["image"][:, 0]])
    np.testing.assert_array_equal(np.sort(selected), entries[keep])


def test_tmath_functions_work_in_cuts(files):
    dataset = loader_for(files["fixed"]).PrepareTrainingAndTestTree(
        "TMath::Abs(energy - 40) < 5", "")
    assert len(dataset.training) + len(dataset.test) == 9


def test_class_weights_weight_expressions_and_normalisation(files):
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray("image", PIXELS)
    loader.AddSignalTree(f"{files['fixed']}:events", 2.0)
    loader.AddBackgroundTree(f"{files['rvec']}:events", 1.0)
    loader.SetSignalWeightExpression("weight")
    loader.SetBackgroundWeightExpression("-weight")
    dataset = loader.PrepareTrainingAndTestTree("", "NormMode=None:SplitMode=Block")
    signal = dataset.training.class_ids == 0
    expected = 2.0 * (1 + np.arange(30) % 2)
    np.testing.assert_array_equal(np.sort(dataset.training.weights[signal]), np.sort(expected))
    assert dataset.negative_weights == {"Signal": 0, "Background": 60}
    summary = dataset.summary()
    assert "Signal" in summary and "training        30 events" in summary
    assert "60 Background events have negative weights (kept)" in summary

    loader.SetBackgroundWeightExpression("weight")
    dataset = loader.PrepareTrainingAndTestTree("", "NormMode=EqualNumEvents")
    for class_id in (0, 1):
        mine = dataset.training.class_ids == class_id
        assert dataset.training.weights[mine].sum() == pytest.approx(30)
    dataset = loader.PrepareTrainingAndTestTree("", "NormMode=NumEvents:nTrain_Background=10")
    background = dataset.training.class_ids == 1
    assert dataset.training.weights[background].sum() == pytest.approx(10)


def test_random_split_is_deterministic_for_a_seed(files):
    loader = loader_for(files["fixed"])

    def training_entries(options):
        dataset = loader.PrepareTrainingAndTestTree("", options)
        return sorted(dataset.training.entries.tolist())

    first = training_entries("SplitSeed=7:nTrain_Signal=20")
    assert first == training_entries("SplitSeed=7:nTrain_Signal=20")
    assert first != training_entries("SplitSeed=8:nTrain_Signal=20")
    assert len(first) == 20 and first != list(range(20))


def test_split_modes_and_counts(files):
    loader = loader_for(files["fixed"])
    block = loader.PrepareTrainingAndTestTree("", SplitMode="Block", nTrain_Signal=10,
                                              nTest_Signal=5)
    assert block.training.entries.tolist() == list(range(10))
    assert block.test.entries.tolist() == list(range(10, 15))
    alternate = loader.PrepareTrainingAndTestTree("", "SplitMode=Alternate")
    assert alternate.training.entries.tolist() == list(range(0, N_EVENTS, 2))
    assert alternate.test.entries.tolist() == list(range(1, N_EVENTS, 2))
    half = loader.PrepareTrainingAndTestTree("", "")
    assert len(half.training) == len(half.test) == N_EVENTS // 2
    with pytest.raises(DataError, match="nTrain_Signal=50 plus nTest_Signal=20 exceed the 60"):
        loader.PrepareTrainingAndTestTree("", "nTrain_Signal=50:nTest_Signal=20")


def test_trees_assigned_to_training_or_test(files):
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray("image", PIXELS)
    loader.AddSignalTree(f"{files['fixed']}:events", 1.0, "Training")
    loader.AddSignalTree(f"{files['rvec']}:events", 1.0, TMVA.Types.kTesting)
    dataset = loader.PrepareTrainingAndTestTree("", "")
    assert len(dataset.training) == len(dataset.test) == N_EVENTS


def test_globs_lists_and_uproot_trees_are_accepted(files, tmp_path):
    import uproot

    for index in range(2):
        shutil.copy(files["fixed"], tmp_path / f"part{index}.root")
    for spec in (f"{tmp_path}/part*.root:events",
                 [f"{tmp_path}/part0.root:events", f"{tmp_path}/part1.root:events"]):
        loader = TMVA.DataLoader("d")
        loader.AddVariablesArray("image", PIXELS)
        loader.AddSignalTree(spec)
        prepared = loader.PrepareTrainingAndTestTree("", "")
        assert len(prepared.training) + len(prepared.test) == 2 * N_EVENTS
    loader = TMVA.DataLoader("d")
    loader.AddVariablesArray("image", PIXELS)
    loader.AddSignalTree(uproot.open(files["fixed"])["events"])
    assert len(loader.PrepareTrainingAndTestTree("", "").training) == N_EVENTS // 2


def test_streamed_batches_cover_every_training_event_once_in_shuffled_order(files):
    loader = loader_for(files["fixed"])
    dataset = loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTest_Signal=1:"
                                                    "MemoryBudget=1")
    split = dataset.training
    split.chunk_events = 7  # many chunks, as a file larger than the budget would have
    batches = list(split.batches(8, np.random.default_rng(0), buffer_events=10))
    seen = np.concatenate([b["image"][:, 0] for b in batches])
    assert sorted(seen.tolist()) == list(range(N_EVENTS - 1))
    assert seen.tolist() != sorted(seen.tolist())
    assert all(len(b["image"]) == 8 for b in batches[:-1])
    np.testing.assert_array_equal(batches[0]["weight"], np.ones(8))
    again = list(split.batches(8, np.random.default_rng(0), buffer_events=10))
    assert all(np.array_equal(a["image"], b["image"]) for a, b in zip(batches, again))


# -- errors: what, where, what was expected ---------------------------------------------

def prepare_error(loader, *args, **keywords):
    with pytest.raises(DataError) as info:
        loader.PrepareTrainingAndTestTree(*args, **keywords)
    return str(info.value)


def test_missing_file_is_named_with_a_near_miss(files):
    wrong = files["fixed"].replace("fixed.root", "fixd.root")
    message = prepare_error(loader_for(wrong), "", "")
    assert f"file {wrong!r} does not exist" in message and "did you mean fixed.root?" in message


def test_missing_tree_lists_the_trees_in_the_file(files):
    message = prepare_error(loader_for(files["fixed"], tree="event"), "", "")
    assert "has no tree 'event' (did you mean events?)" in message
    assert "trees in the file: events" in message


def test_a_file_that_is_not_root_is_reported(tmp_path):
    path = tmp_path / "notes.root"
    path.write_text("these are not ROOT data\n" * 100)
    message = prepare_error(loader_for(str(path)), "", "")
    assert str(path) in message and "not a ROOT file, or it is truncated or corrupt" in message


def test_a_truncated_file_is_reported(files, tmp_path):
    path = tmp_path / "truncated.root"
    data = open(files["fixed"], "rb").read()
    path.write_bytes(data[: len(data) // 2])
    message = prepare_error(loader_for(str(path)), "", "")
    assert "truncated.root" in message and "truncated or corrupt" in message


def test_missing_branch_suggests_the_nearest_one(files):
    message = prepare_error(loader_for(files["fixed"], name="imgae"), "", "")
    assert f"{files['fixed']}:events has no branch 'imgae' (did you mean image?)" in message


def test_wrong_fixed_array_length_says_both_lengths(files):
    message = prepare_error(loader_for(files["fixed"], size=25), "", "")
    assert "branch 'image' holds 16 values per entry" in message and "expects 25" in message


def test_jagged_entry_of_the_wrong_length_is_named(files):
    message = prepare_error(loader_for(files["short"]), "", "")
    assert "short.root:events, branch 'image' entry 7 holds 15 values" in message
    assert "expects 16" in message


def test_non_numeric_branch_is_rejected(files):
    message = prepare_error(loader_for(files["strings"]), "", "")
    assert "branch 'image' is of type" in message and "not an array of numbers" in message


def test_incomplete_scalar_branches_are_reported(files):
    message = prepare_error(loader_for(files["scalars"], size=20), "", "")
    assert "4 of the 20 are missing (first: 'image_16')" in message


def test_empty_selection_quotes_the_cut(files):
    message = prepare_error(loader_for(files["fixed"]), "energy > 1000", "")
    assert "no Signal events pass the selection (cut 'energy > 1000')" in message


def test_unknown_name_in_a_cut_suggests_a_branch(files):
    message = prepare_error(loader_for(files["fixed"]), "enrgy > 3", "")
    assert "'enrgy' is not a branch of" in message and "did you mean energy?" in message


def test_unreadable_expression_is_reported(files):
    message = prepare_error(loader_for(files["fixed"]), "energy >> > 3", "")
    assert "the cut 'energy >> > 3' cannot be used: '>' needs an operand" in message


def test_nan_pixels_raise_with_file_and_entry_or_are_dropped(files):
    dataset = loader_for(files["nan"]).PrepareTrainingAndTestTree("", "SplitMode=Block")
    with pytest.raises(DataError, match=r"nan.root:events: entry 11 has a NaN or infinite "
                                        r"value in 'image'.*NonFinite=DROP"):
        dataset.training.read_all()
    dataset = loader_for(files["nan"]).PrepareTrainingAndTestTree(
        "", "SplitMode=Block:NonFinite=DROP")
    events = dataset.training.read_all()
    assert len(events["image"]) == 29 and dataset.training.dropped == 1


def test_option_mistakes_are_option_errors_with_suggestions(files):
    loader = loader_for(files["fixed"])
    with pytest.raises(OptionError, match="did you mean nTrain_Signal"):
        loader.PrepareTrainingAndTestTree("", "nTrain_Sgnal=3")
    with pytest.raises(OptionError, match="SplitMode=Randm is not allowed.*did you mean Random"):
        loader.PrepareTrainingAndTestTree("", "SplitMode=Randm")
    with pytest.raises(OptionError, match="deprecated form"):
        loader.PrepareTrainingAndTestTree("", 10, 10, 10, 10, "")


def test_declaration_mistakes_are_data_errors():
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray("image", 16)
    with pytest.raises(DataError, match="'image' is declared twice"):
        loader.AddSpectator("image")
    with pytest.raises(DataError, match="size must be a positive integer"):
        loader.AddVariablesArray("other", 0)
    with pytest.raises(DataError, match="type of 'x' must be 'F', 'D' or 'I'"):
        loader.AddVariable("x", "Q")
    with pytest.raises(DataError, match="tree type 'Validation' is not known"):
        loader.AddSignalTree("a.root:t", 1.0, "Validation")
    with pytest.raises(DataError, match="finite number"):
        loader.AddSignalTree("a.root:t", float("nan"))
    with pytest.raises(DataError, match="has no trees"):
        loader.PrepareTrainingAndTestTree("", "")


def test_tree_argument_must_name_a_tree():
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray("image", 16)
    loader.AddSignalTree("just_a_file.root")
    with pytest.raises(DataError, match="does not name a tree; write 'file.root:treename'"):
        loader.PrepareTrainingAndTestTree("", "")


# -- fixes found in review ---------------------------------------------------------------

def test_leading_not_and_constant_expressions_select_events(files):
    loader = loader_for(files["fixed"])
    loader.AddCondition("beam := 100")
    loader.SetSignalWeightExpression("2.5")
    dataset = loader.PrepareTrainingAndTestTree("!flag", "SplitMode=Block:NormMode=None")
    events = dataset.training.read_all()
    assert np.all(events["image"][:, 0] % 2 == 1)
    assert np.all(events["beam"] == 100) and np.all(events["weight"] == 2.5)


def test_an_alias_may_reuse_its_branch_name(files):
    loader = loader_for(files["fixed"])
    loader.AddVariable("energy := energy / 10")
    events = all_events(loader.PrepareTrainingAndTestTree("", "SplitMode=Block").training)
    np.testing.assert_allclose(events["energy"], (10 + np.arange(30)) / 10, rtol=1e-6)


def test_reserved_column_names_cannot_be_declared():
    loader = TMVA.DataLoader("dataset")
    with pytest.raises(DataError, match="'weight' is reserved for the event weight"):
        loader.AddSpectator("weight")
    with pytest.raises(DataError, match="'classID' is reserved"):
        loader.AddVariable("classID")


def test_nan_weights_raise_or_are_dropped_and_counted(files):
    loader = loader_for(files["fixed"])
    # TMath::Log is C's log (ROOT's own log(x <= 0) is 0): -inf at entry 5
    loader.SetSignalWeightExpression("weight * TMath::Log(energy - 15) + 1 / (energy - 15)")
    with pytest.raises(DataError, match="entry 5 has a NaN or infinite weight"):
        loader.PrepareTrainingAndTestTree("energy >= 15", "")
    dataset = loader.PrepareTrainingAndTestTree("energy >= 15", "NonFinite=DROP:NormMode=None")
    assert len(dataset.training) + len(dataset.test) == N_EVENTS - 6
    assert "1 Signal events dropped for a NaN or infinite weight" in dataset.summary()


def test_a_file_truncated_inside_its_baskets_fails_at_prepare(tmp_path):
    import uproot

    path = tmp_path / "big.root"
    with uproot.recreate(path) as handle:
        handle.mktree("events", {"image": ("f4", (625,))})
        for _ in range(3):
            handle["events"].extend({"image": np.random.default_rng(0).random((1000, 625),
                                                                                  np.float32)})
    data = path.read_bytes()
    path.write_bytes(data[: 2 * len(data) // 3])
    loader = TMVA.DataLoader("d")
    loader.AddVariablesArray("image", 625)
    loader.AddSignalTree(f"{path}:events")
    with pytest.raises(DataError, match="truncated"):
        loader.PrepareTrainingAndTestTree("", "")


def test_class_names_must_differ_in_more_than_case(files):
    loader = loader_for(files["fixed"])
    with pytest.raises(DataError, match="differs from class 'Signal' only in case"):
        loader.AddTree(f"{files['rvec']}:events", "signal")


def test_ntrain_and_ntest_subsample_trees_given_for_each_side(files):
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray("image", PIXELS)
    loader.AddSignalTree(f"{files['fixed']}:events", 1.0, "Training")
    loader.AddSignalTree(f"{files['rvec']}:events", 1.0, "Test")
    dataset = loader.PrepareTrainingAndTestTree("", "SplitMode=Block:nTrain_Signal=30:"
                                                    "nTest_Signal=20")
    assert len(dataset.training) == 30 and len(dataset.test) == 20
    with pytest.raises(DataError, match="nTrain_Signal=70 exceeds the 60 events"):
        loader.PrepareTrainingAndTestTree("", "nTrain_Signal=70")


def test_an_index_out_of_range_is_not_called_a_corrupt_file(files):
    loader = loader_for(files["fixed"])
    loader.AddSpectator("image[20]")
    with pytest.raises(DataError, match="index 20 is past the end of dimension 1 of image "
                                        "\\(size 16, indices 0 to 15\\)"):
        loader.PrepareTrainingAndTestTree("", "")


def test_unknown_spectator_names_its_role(files):
    loader = loader_for(files["fixed"])
    loader.AddSpectator("enrgy")
    with pytest.raises(DataError, match="the spectator 'enrgy' cannot be used: 'enrgy' is not "
                                        "a branch of .* \\(did you mean energy\\?\\)"):
        loader.PrepareTrainingAndTestTree("", "")


def test_a_huge_memory_budget_holds_only_the_events_there_are(files):
    dataset = loader_for(files["fixed"]).PrepareTrainingAndTestTree("", "MemoryBudget=1e9")
    seen = sum(len(b["image"]) for b in dataset.training.batches(7, np.random.default_rng(0)))
    assert seen == N_EVENTS // 2
