"""A seconds-long version of benchmarks/quality_variants.py: after a few epochs on 2,000
blob images, conditional GANs must already make brighter blobs for higher energies, the
ACGAN's auxiliary head must predict the energy of real images, and the Wasserstein and
least-squares GANs must have brought the intensity distribution far closer to the real one
than after their first epoch."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks"))
import quality_variants  # noqa: E402  (a benchmark script, imported for its functions)


def test_conditional_gans_follow_the_energy_and_the_acgan_head_predicts_it():
    results, _ = quality_variants.run(["CGAN", "ACGAN"], 2_000, 1_000, epochs=60, quiet=True)
    for variant in ("CGAN", "ACGAN"):
        real = np.array([row[2] for row in results[variant]["bins"]])
        generated = np.array([row[3] for row in results[variant]["bins"]])
        # brighter in every higher energy bin, over most of the real range
        assert np.all(np.diff(generated) > 0), (variant, generated)
        assert generated[-1] - generated[0] > 0.7 * (real[-1] - real[0]), (variant, generated)
    assert results["ACGAN"]["correlation"] > 0.9


@pytest.mark.parametrize("variant", ["WGAN-clip", "WGAN-SN", "LSGAN"])
def test_wasserstein_and_least_squares_gans_learn_the_blob_intensity(variant):
    untrained, floor = quality_variants.run([variant], 2_000, 1_000, epochs=1, quiet=True)
    trained, _ = quality_variants.run([variant], 2_000, 1_000, epochs=12, quiet=True)
    first = untrained[variant]["overall"]["total intensity"]
    final = trained[variant]["overall"]["total intensity"]
    assert final < 0.5 * first, (first, final, floor["total intensity"])
