"""A seconds-long version of benchmarks/quality_blobs.py: a GAN booked through the TMVA
interface on synthetic blob images must end with every W1 distance to the real physics of
the family (total intensity, blob width, centroid) below half its value after the first
epoch (the benchmark's second target, here on 3,000 images and 60 epochs of its dense
networks)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks"))
import quality_blobs  # noqa: E402  (a benchmark script, imported for its functions)


@pytest.mark.parametrize("pair", ["NONSATURATING/BCE"])
def test_training_halves_every_blob_physics_distance_of_the_first_epoch(pair):
    floor, rows = quality_blobs.run([pair], events=3_000, test_events=1_000, epochs=60,
                                    quiet=True)
    (_, epochs, _, first, final, _), = rows
    assert epochs == 60
    for name in quality_blobs.OBSERVABLES:
        assert final[name] < 0.5 * first[name], (name, first[name], final[name], floor[0][name])
