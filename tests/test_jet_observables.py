"""Jet-image observables from pixels: mass and pT of massless pixels, N-subjettiness tau21
with exclusive-kT axes, checked against hand calculations and a brute-force clustering."""

import numpy as np
import pytest

from rootgan.evaluation.jets import image_mass_pt, image_tau21, pixel_centres, tau21


def _brute_force_tau21(pt, eta, phi):
    """Direct transcription: kT-cluster by scanning every pair each step (O(n^3))."""
    four = [np.array([p * np.cos(f), p * np.sin(f), p * np.sinh(e), p * np.cosh(e)])
            for p, e, f in zip(pt, eta, phi)]

    def rap_phi(v):
        return 0.5 * np.log((v[3] + v[2]) / (v[3] - v[2])), np.arctan2(v[1], v[0])

    def dr2(a, b):
        (ya, pa), (yb, pb) = rap_phi(a), rap_phi(b)
        dphi = abs(pa - pb)
        dphi = min(dphi, 2 * np.pi - dphi)
        return (ya - yb) ** 2 + dphi ** 2

    def axes(n):
        jets = list(four)
        while len(jets) > n:
            pairs = [(min(jets[i][0] ** 2 + jets[i][1] ** 2, jets[j][0] ** 2 + jets[j][1] ** 2)
                      * dr2(jets[i], jets[j]), i, j)
                     for i in range(len(jets)) for j in range(i + 1, len(jets))]
            _, i, j = min(pairs)
            merged = jets[i] + jets[j]
            jets = [v for k, v in enumerate(jets) if k not in (i, j)] + [merged]
        return jets

    def tau(n):
        return sum(p * np.sqrt(min(dr2(v, a) for a in axes(n))) for p, v in zip(pt, four)) \
            / sum(pt)

    return tau(2) / tau(1)


def test_pixel_centres_span_the_jet_image():
    centres = pixel_centres(25)
    assert centres[0] == pytest.approx(-1.2) and centres[-1] == pytest.approx(1.2)
    assert np.allclose(np.diff(centres), 0.1)


def test_two_pixels_have_the_mass_of_two_massless_particles():
    image = np.zeros((25, 25), np.float32)
    image[12, 12] = 100.0  # (eta, phi) = (0, 0)
    image[12, 17] = 50.0   # eta = 0.5, phi = 0
    mass, pt = image_mass_pt(image[None])
    expected = np.sqrt(2 * 100 * 50 * (np.cosh(0.5) - 1))
    assert mass[0] == pytest.approx(expected, rel=1e-5)
    assert pt[0] == pytest.approx(150, rel=1e-6)


def test_tau21_is_zero_for_two_prongs_and_large_for_one_diffuse_prong():
    assert tau21([100, 50], [0, 0.5], [0, 0]) == pytest.approx(0)
    rng = np.random.default_rng(1)
    diffuse = tau21(rng.exponential(5, 60), rng.normal(0, 0.3, 60), rng.normal(0, 0.3, 60))
    two_prong = tau21(np.r_[rng.exponential(5, 30), rng.exponential(5, 30)],
                      np.r_[rng.normal(-0.4, 0.03, 30), rng.normal(0.4, 0.03, 30)],
                      rng.normal(0, 0.03, 60))
    assert two_prong < 0.2 < 0.5 < diffuse


@pytest.mark.parametrize("seed", range(5))
def test_tau21_clustering_matches_a_brute_force_transcription(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 40))
    pt, eta, phi = rng.exponential(5, n), rng.normal(0, 0.4, n), rng.normal(0, 0.4, n)
    assert tau21(pt, eta, phi) == pytest.approx(_brute_force_tau21(pt, eta, phi), rel=1e-9)


def test_image_tau21_measures_each_image_from_its_lit_pixels():
    rng = np.random.default_rng(3)
    images = np.where(rng.random((4, 625)) < 0.05, rng.exponential(5, (4, 625)), 0)
    eta = np.tile(pixel_centres(25), 25)      # columns are eta bins
    phi = np.repeat(pixel_centres(25), 25)    # rows are phi bins
    expected = [tau21(row[row > 0], eta[row > 0], phi[row > 0]) for row in images]
    assert np.allclose(image_tau21(images), expected)
    assert image_tau21(np.zeros((1, 625)))[0] == 0


def test_a_second_real_sample_scores_about_one_and_a_distorted_one_does_not():
    import os

    import uproot

    from rootgan.evaluation.observables import Geometry
    from rootgan.evaluation.report import evaluate

    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "jet_images.root")
    with uproot.open(path) as handle:
        tree = handle["jets"]
        images = tree["image"].array(library="np")[tree["label"].array(library="np") == 1]
    real, other = images[:2000], images[2000:4000]
    jet = Geometry("jet", (1, 25, 25))
    same = evaluate(real, other, jet, classifier=False)
    names = {r.name for r in same.rows if r.kind == "W1"}
    assert {"mass", "tau21", "total intensity", "non-zero pixels", "pixel spectrum",
            "radial profile"} <= names
    assert all(0.4 < r.ratio < 2.5 for r in same.rows if r.kind == "W1"), same.table()
    brighter = evaluate(real, other * 1.1, jet, classifier=False)  # a 10% miscalibration
    assert brighter.row("total intensity").ratio > 10, brighter.table()
    assert brighter.row("mass").ratio > 3, brighter.table()


def test_observables_refuse_wrong_sizes_and_nan_pixels():
    from rootgan import DataError
    from rootgan.evaluation.observables import Geometry, measure

    jet = Geometry("jet", (1, 25, 25))
    with pytest.raises(DataError, match="need 625 pixels per event; got 600"):
        measure(np.zeros((3, 600)), jet)
    images = np.zeros((3, 625))
    images[1, 5] = np.nan
    with pytest.raises(DataError, match="event 1 has NaN or infinite pixels"):
        measure(images, jet)
