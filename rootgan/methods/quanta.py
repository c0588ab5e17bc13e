"""PixelQuantum: generated images made of whole quanta, as a counting detector's are.

Some detectors deposit or read out energy in units: a GFlash shower's spots (a few MeV
each), ADC counts, photo-electrons. Their images have no pixels between 0 and one quantum,
however faint the shower's tail; a generator writes a continuum there instead, and a floor
that zeroes it cuts the faint tails that carry the shower's width.

``whole_quanta`` gives an image of sum ``s`` N = round(s / quantum) quanta of s / N each
(at least one), so its sum stays exactly as generated (``SumFromData``'s deposit among it).
They are shared out by systematic sampling over the pixels in a random order: pixel i gets
floor(N v_i / s) or one more, with expectation exactly N v_i / s. So every mean profile
(the widths' faint tails) is kept, and a pixel below one quantum is lit with probability
v_i N / s instead of always or never.
"""

import numpy as np


def whole_quanta(pixels, quantum, rng):
    """``pixels`` (n, size) made of whole quanta of about ``quantum`` per image, each image's
    sum kept; negative pixels count as empty. Images whose sum is 0 or not finite are
    returned as they are."""
    values = np.clip(np.asarray(pixels, np.float64), 0, None)
    size = values.shape[1]
    sums = values.sum(axis=1)
    counted = (sums > 0) & np.isfinite(sums)
    out = np.array(pixels, np.float32)
    if not counted.any():
        return out
    values, sums = values[counted], sums[counted]
    quanta = np.maximum(1, np.rint(sums / quantum))
    order = np.argsort(rng.random((len(values), size), np.float32), axis=1)
    shares = np.cumsum(np.take_along_axis(values, order, axis=1), axis=1)
    shares *= (quanta / sums)[:, None]
    shares[:, -1] = quanta  # exactly, so rounding neither adds nor loses a quantum
    offset = rng.random((len(values), 1))
    # the k-th quantum goes to the pixel whose cumulative share passes k - offset
    boundaries = np.floor(np.concatenate([np.zeros((len(values), 1)), shares], axis=1)
                          + offset)
    counts = np.diff(boundaries, axis=1)
    placed = np.empty_like(counts)
    np.put_along_axis(placed, order, counts * (sums / quanta)[:, None], axis=1)
    out[counted] = placed
    return out
