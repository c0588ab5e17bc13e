"""The parametric calorimeter showers of data/make_calo_showers.py (GFlash, not Geant4):
the physics the docstring promises, a file ROOT reads, and the macro that trains an
energy-conditioned GAN on them, with its sizes turned down."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import uproot

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT_DIR, "data"))
import make_calo_showers as calo  # noqa: E402  (a data script, imported for its functions)


def test_showers_peak_at_the_gflash_depth_and_stay_within_a_moliere_radius():
    rng = np.random.default_rng(3)
    _, depth, x, y, energy, _ = calo.sample_spots(np.full(300, 50.0), rng)
    profile, edges = np.histogram(depth, bins=np.arange(0, 25.25, 0.5), weights=energy)
    peak = edges[np.argmax(profile)] + 0.25
    expected = math.log(50 / calo.CRITICAL_GEV) - 0.858
    assert abs(peak - expected) < 1.0, (peak, expected)
    inside = energy[np.hypot(x, y) < 10 * calo.MOLIERE_CM].sum() / energy.sum()
    assert 0.85 < inside < 0.95


def test_the_deposit_is_proportional_to_the_incident_energy():
    rng = np.random.default_rng(4)
    for energy in (10.0, 100.0):
        columns = calo.showers(np.full(40, energy), rng)
        response = columns["total"] / energy
        assert 0.96 < response.mean() < 0.99, (energy, response.mean())
        layers = sum(columns[f"layer{i}"] for i in range(3))
        # the coarser layer cells cover the same square: the same energy
        np.testing.assert_allclose(layers, columns["total"], rtol=1e-5)


def test_the_shower_file_has_the_documented_tree(tmp_path):
    out = str(tmp_path / "showers.root")
    calo.make(30, 7, out, progress=lambda text: None)
    with uproot.open(out) as handle:
        tree = handle["showers"]
        arrays = tree.arrays(library="np")
    assert tree.num_entries == 30
    assert arrays["image"].shape == (30, 625) and arrays["layers"].shape == (30, 432)
    assert np.all((arrays["energy"] >= 10) & (arrays["energy"] <= 100))
    np.testing.assert_allclose(arrays["image"].sum(axis=1), arrays["total"], rtol=1e-4)
    assert not os.path.exists(out + ".partial")


# a WGAN step takes 5 batches of 128: it needs more than 640 training showers
@pytest.mark.parametrize("gantype,train", [("cgan", "400"), ("wgan", "800")])
def test_train_calo_cgan_prints_the_per_energy_bin_table(tmp_path, gantype, train):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT_DIR, "macros", "train_calo_cgan.py"), "--epochs",
         "2", "--test", "200", "--train", train, "--gantype", gantype, "--out-dir", "run"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "per energy bin" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.strip().startswith("W1/fl")]
    assert len(rows) == 5  # one row of W1 / floor per energy bin
    plots = tmp_path / "run" / "dataset" / "plots" / "GAN"
    assert (plots / "energy_response.png").stat().st_size > 10_000
    with uproot.open(tmp_path / "run" / "calo_gan.root") as handle:
        cells = handle["dataset/Method_GAN/GAN/GeneratedTree"]["image"].array(library="np")
    # whole GFlash spots of about 4 MeV (--pixel-quantum): no cell between 0 and a spot
    assert cells[cells > 0].min() > 0.0039
