"""The physics evaluation on synthetic samples with known answers: identical samples score
at the floor, shifted and smeared ones give the analytic W1 and FPD, the classifier tells
obvious differences apart and not identical samples, weights and condition bins count, and
``rootgan compare`` writes what a physicist opens (checked with ROOT itself)."""

import numpy as np
import pytest
import uproot

from rootgan import DataError, OptionError
from rootgan.evaluation.distances import fpd, kpd
from rootgan.evaluation.observables import (Geometry, measure, register_observable,
                                            unregister_observable)
from rootgan.evaluation.report import evaluate
from rootgan.io.output import write_tree

from .rootfiles import import_root

SIDE = 10
IMAGE = Geometry("image", (1, SIDE, SIDE))


def blobs(n, seed, centre=4.5, intensity=(50.0, 10.0), width=1.5, condition=None):
    """Gaussian blobs on SIDE x SIDE images: random centre around ``centre``, total
    intensity ~ N(intensity) (or ``condition`` times 1 +- 10% when given)."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:SIDE, 0:SIDE]
    cy = centre + rng.normal(0, 0.7, n)
    cx = centre + rng.normal(0, 0.7, n)
    shape = np.exp(-((rows[None] - cy[:, None, None]) ** 2 + (columns[None] - cx[:, None, None])
                     ** 2) / (2 * width ** 2))
    total = rng.normal(*intensity, n) if condition is None else \
        condition * rng.normal(1.0, 0.1, n)
    images = shape / shape.sum(axis=(1, 2), keepdims=True) * total[:, None, None]
    images[images < 0.05] = 0  # sparse, like detector images
    return images.reshape(n, -1).astype(np.float32)


@pytest.fixture
def first_pixel_observable():
    register_observable("first pixel", lambda images: images[:, 0, 0, 0])
    yield
    unregister_observable("first pixel")


def test_identical_samples_score_at_the_floor_on_every_observable():
    evaluation = evaluate(blobs(2000, 1), blobs(2000, 2), IMAGE)
    for row in evaluation.rows:
        if row.kind == "W1":
            assert 0.5 < row.ratio < 1.8, evaluation.table()
    assert evaluation.row("observable vector", "FPD").distance < \
        3 * evaluation.row("observable vector", "FPD").uncertainty + 1e-3
    assert 0.45 <= evaluation.row("classifier", "AUC").distance <= 0.55


def test_a_shifted_or_smeared_observable_gives_the_analytic_w1(first_pixel_observable):
    rng = np.random.default_rng(3)
    real = np.zeros((4000, SIDE * SIDE), np.float32)
    real[:, 0] = rng.normal(0, 1, 4000)
    shifted, smeared = real.copy(), real.copy()
    shifted[:, 0] = rng.normal(0.5, 1, 4000)
    smeared[:, 0] = rng.normal(0, 2, 4000)
    # N(0, 1) vs N(0.5, 1): W1 = 0.5; N(0, 1) vs N(0, 2): W1 = (2 - 1) sqrt(2 / pi)
    for generated, expected in ((shifted, 0.5), (smeared, np.sqrt(2 / np.pi))):
        row = evaluate(real, generated, IMAGE, classifier=False).row("first pixel")
        assert abs(row.distance - expected) < 3 * row.uncertainty, (row.distance, expected)
        assert row.ratio > 5


def test_fpd_gives_the_analytic_frechet_distance_of_shifted_and_smeared_gaussians():
    rng = np.random.default_rng(4)
    real = rng.normal(0, 1, (20000, 3))
    scale = np.abs(real).max(axis=0)  # JetNet divides every feature by its largest |value|
    shift = np.array([0.5, 0.0, -0.3])
    value, error = fpd(real, rng.normal(shift, 1, (20000, 3)))
    assert abs(value - np.sum((shift / scale) ** 2)) < 3 * error + 2e-4
    value, error = fpd(real, rng.normal(0, 1.5, (20000, 3)))
    assert abs(value - np.sum(0.5 ** 2 / scale ** 2)) < 3 * error + 2e-4
    same, same_error = kpd(real, rng.normal(0, 1, (20000, 3)), batch_size=2000)
    different, _ = kpd(real, rng.normal(shift, 1, (20000, 3)), batch_size=2000)
    assert abs(same) < 3 * same_error + 1e-5 and different > 100 * abs(same)


def test_the_classifier_tells_obviously_different_samples_apart():
    evaluation = evaluate(blobs(1000, 1), blobs(1000, 2, centre=3.0, width=1.0), IMAGE)
    assert evaluation.row("classifier", "AUC").distance > 0.95


def test_event_weights_are_respected(first_pixel_observable):
    rng = np.random.default_rng(5)
    real = np.zeros((4000, SIDE * SIDE), np.float32)
    real[:2000, 0] = rng.normal(0, 1, 2000)
    real[2000:, 0] = rng.normal(3, 1, 2000)  # weight 0: not part of the real physics
    weights = np.repeat([1.0, 0.0], 2000)
    generated = np.zeros((2000, SIDE * SIDE), np.float32)
    generated[:, 0] = rng.normal(0, 1, 2000)
    weighted = evaluate(real, generated, IMAGE, real_weights=weights, classifier=False)
    unweighted = evaluate(real, generated, IMAGE, classifier=False)
    assert weighted.row("first pixel").ratio < 2 < 5 < unweighted.row("first pixel").ratio
    assert weighted.row("observable vector", "FPD").distance < \
        unweighted.row("observable vector", "FPD").distance / 10


def test_conditional_samples_are_judged_in_bins_of_the_condition():
    rng = np.random.default_rng(6)
    energy = rng.uniform(10, 100, 3000)
    real = blobs(3000, 1, condition=energy)
    other_energy = rng.uniform(10, 100, 3000)
    good = blobs(3000, 2, condition=other_energy)
    # ignores the condition: the right inclusive spectrum, the wrong one in every bin
    blind = blobs(3000, 3, condition=rng.permutation(energy))
    calo = Geometry("calo", (1, SIDE, SIDE))
    right = evaluate(real, good, calo, real_condition=energy,
                     generated_condition=other_energy, classifier=False)
    wrong = evaluate(real, blind, calo, real_condition=energy,
                     generated_condition=other_energy, classifier=False)
    assert len(right.binned) == 5 and len(wrong.binned) == 5
    for (_, _, good_rows), (_, _, blind_rows) in zip(right.binned, wrong.binned):
        good_row = next(r for r in good_rows if r.name == "total intensity")
        blind_row = next(r for r in blind_rows if r.name == "total intensity")
        assert good_row.ratio < 2 and blind_row.ratio > 4
    assert right.row("energy response").ratio < 2 < 5 < wrong.row("energy response").ratio
    assert "condition in [" in right.table()


def test_fixed_beam_energies_get_one_bin_each():
    energy = np.repeat([10.0, 50.0, 100.0], 200)
    real, generated = blobs(600, 1, condition=energy), blobs(600, 2, condition=energy)
    evaluation = evaluate(real, generated, Geometry("calo", (1, SIDE, SIDE)),
                          real_condition=energy, generated_condition=energy, classifier=False)
    assert [(low, len(rows) > 0) for low, _, rows in evaluation.binned] == [
        (10.0, True), (50.0, True), (100.0, True)]


def test_a_collapsed_generator_is_infinitely_far_not_missing():
    real = blobs(400, 1)
    dead = np.zeros_like(real)  # a generator whose last ReLU died
    dead[:, 0] = -1.0  # and a negative pixel: no NaN in the classifier's features
    evaluation = evaluate(real, dead, IMAGE)
    assert evaluation.row("pixel spectrum").ratio == np.inf
    assert evaluation.row("total intensity").ratio > 20
    assert evaluation.row("classifier", "AUC").distance > 0.95
    assert "inf" in evaluation.table()


def test_bad_inputs_are_explained(first_pixel_observable):
    with pytest.raises(OptionError, match="did you mean jet"):
        Geometry("jets")
    with pytest.raises(DataError, match="need 100 pixels per event; got 99"):
        measure(np.zeros((5, 99)), IMAGE)
    with pytest.raises(DataError, match="need one weight per event \\(5\\); got 4"):
        measure(np.zeros((5, 100)), IMAGE, weights=np.ones(4))
    with pytest.raises(DataError, match="event 2 has the weight -0.5 .* drop those events"):
        measure(np.zeros((5, 100)), IMAGE, weights=[1, 1, -0.5, 1, 1])
    with pytest.raises(DataError, match="every event weight is 0"):
        measure(np.zeros((5, 100)), IMAGE, weights=np.zeros(5))
    with pytest.raises(DataError, match="event 1 has the condition 0.0 .* non-zero"):
        measure(np.zeros((3, 100)), Geometry("calo", (1, SIDE, SIDE)),
                condition=[10.0, 0.0, 20.0])
    with pytest.raises(DataError, match="at least 8 real events"):
        evaluate(blobs(6, 1), blobs(50, 2), IMAGE, classifier=False)
    with pytest.raises(DataError, match="give the condition of both samples"):
        evaluate(blobs(50, 1), blobs(50, 2), IMAGE, real_condition=np.ones(50))
    register_observable("broken", lambda images: images[:3, 0, 0, 0])
    try:
        with pytest.raises(DataError, match="'broken' returned 3 values for the 10 events"):
            measure(np.zeros((10, 100)), IMAGE)
    finally:
        unregister_observable("broken")
    with pytest.raises(DataError, match="is built in"):
        register_observable("mass", lambda images: images.sum(axis=(1, 2, 3)))


def _write_tree(path, images, **scalars):
    with uproot.recreate(path) as handle:
        write_tree(handle, "events", [{"image": images, **scalars}])


def test_rootgan_compare_writes_a_table_plots_and_a_file_root_opens(tmp_path, capsys):
    from rootgan.cli import main

    _write_tree(tmp_path / "real.root", blobs(600, 1), label=np.repeat([1, 0], 300))
    _write_tree(tmp_path / "gen.root", blobs(300, 2))
    code = main(["compare", f"{tmp_path / 'real.root'}:events", f"{tmp_path / 'gen.root'}:events",
                 "--real-cut", "label == 1 && Sum$(image) >= 0", "--out-dir",
                 str(tmp_path / "out")])
    output = capsys.readouterr().out
    assert code == 0, output
    assert "total intensity" in output and "FPD" in output and "AUC" in output
    assert "real: 300 events" in output
    for name in ("mean_images", "total_intensity", "width_x", "pixel_spectrum"):
        for extension in ("png", "pdf"):
            assert (tmp_path / "out" / f"{name}.{extension}").stat().st_size > 5_000
    ROOT = import_root()
    handle = ROOT.TFile.Open(str(tmp_path / "out" / "compare.root"))
    assert handle and not handle.IsZombie()
    histogram = handle.Get("total_intensity_generated")
    assert histogram.ClassName() == "TH1D" and 290 <= histogram.GetSumOfWeights() <= 300
    # 8 image observables (W1), FPD, KPD and the classifier's AUC
    assert handle.Get("metrics").GetEntries() == 11
    handle.Close()


def test_rootgan_compare_explains_a_missing_branch(tmp_path, capsys):
    from rootgan.cli import main

    _write_tree(tmp_path / "real.root", blobs(50, 1))
    code = main(["compare", f"{tmp_path / 'real.root'}:events",
                 f"{tmp_path / 'real.root'}:events", "--branch", "pixels"])
    assert code == 2
    assert "no branch 'pixels'; branches: image" in capsys.readouterr().err
    code = main(["compare", f"{tmp_path / 'real.root'}:events",
                 f"{tmp_path / 'real.root'}:events", "--real-cut", "image[0] > 1e9"])
    assert code == 2
    assert "no events pass the cut 'image[0] > 1e9'" in capsys.readouterr().err
