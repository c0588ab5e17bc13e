"""What the discriminator sees of each image besides its pixels: physics quantities a small
network does not compute well by itself from Log-compressed pixels (``SumFeature``,
``MassFeature``). Each is a function of the network values that comes with its gradient,
so the generator learns through it; the engine GAN attaches them to the discriminator's
input (``image_features``)."""

import numpy as np

from ..evaluation.jets import JET_EXTENT, pixel_directions


class SumFeature:
    """The discriminator's view of each image's summed intensity (CaloGAN's total-energy
    feature, Paganini et al. 2018): the sum of ``r`` over the pixels (the deposit over the
    incident energy, the summed pixel pT over the jet pT) relative to the training images'
    mean, minus 1. A small discriminator cannot add up exponentiated Log pixels to 1%
    precision by itself; shown the sum, it can learn to weigh a wrong total. Divided by the
    mean, not the (much smaller) spread: standardised, the feature let the discriminator
    win outright within a few epochs on the W jets."""

    width = 1

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, images, conditions=None):
        values = np.asarray(images, np.float64).reshape(images.shape[0], -1)
        t = self.transform
        r, slope = t.ratios_and_slopes(values)
        feature = r.sum(axis=1, keepdims=True) / t.sum_mean - 1
        slope = slope / t.sum_mean
        return feature, lambda grad: np.asarray(grad, np.float64).reshape(-1, 1) * slope


class MassFeature:
    """The discriminator's view of each jet image's mass over its summed pT, the pixels
    taken as massless particles at their (eta, phi) (Geometry=JET), relative to the
    training jets' mean, minus 1. The mass weighs a pixel's pT by its squared distance
    from the others, so the few hard pixels far from the axis carry much of it; in Log
    pixels they look little different from soft ones. Shown the mass, the discriminator
    can weigh a jet that lacks them. Scale-free (mass over summed pT), so it goes with
    SumFromData, which sets the sum."""

    width = 1
    # below this mass over summed pT (a jet of one lit pixel, or an empty image) the mass
    # has no direction to grow in: no gradient
    SMALLEST = 1e-9

    def __init__(self, transform, shape, mean=1.0, extent=JET_EXTENT):
        depth, rows, columns = shape
        # every layer's pixels at the same (eta, phi)
        self.directions = np.tile(pixel_directions((rows, columns), extent), depth)
        self.transform, self.mean = transform, mean

    def ratios(self, r):
        """Mass over summed pT of images given as ``r`` (n, pixels), the pixels over
        ScaleBy; and the parts of its gradient."""
        momenta = r @ self.directions.T  # (n, 4): E, px, py, pz
        mass2 = momenta[:, 0] ** 2 - (momenta[:, 1:] ** 2).sum(axis=1)
        mass = np.sqrt(np.clip(mass2, 0, None))
        total = r.sum(axis=1)
        ratio = np.where(total > 0, mass / np.where(total > 0, total, 1), 0.0)
        return ratio, momenta, mass, total

    def __call__(self, images, conditions=None):
        values = np.asarray(images, np.float64).reshape(images.shape[0], -1)
        r, slope = self.transform.ratios_and_slopes(values)
        ratio, momenta, mass, total = self.ratios(r)
        feature = (ratio / self.mean - 1)[:, None]

        def backward(grad):
            grad = np.asarray(grad, np.float64).reshape(-1)
            live = ratio > self.SMALLEST
            # d mass / d r_i = (E e_i - p . p_i) / mass, e_i and p_i the pixel's direction
            minkowski = momenta * np.array([1.0, -1.0, -1.0, -1.0])
            d_mass = (minkowski @ self.directions) / np.where(live, mass, 1)[:, None]
            # d (mass / total) / d r_i = (d mass / d r_i - mass / total) / total
            d_ratio = (d_mass - np.where(live, ratio, 0)[:, None]) \
                / np.where(live, total, 1)[:, None]
            return np.where(live, grad / self.mean, 0)[:, None] * d_ratio * slope

        return feature, backward


class ImageFeatures:
    """Several features side by side (their widths add up)."""

    def __init__(self, parts):
        self.parts = list(parts)
        self.width = sum(part.width for part in self.parts)

    def __call__(self, images, conditions=None):
        results = [part(images, conditions) for part in self.parts]
        edges = np.cumsum([0] + [part.width for part in self.parts])

        def backward(grad):
            grad = np.asarray(grad, np.float64).reshape(images.shape[0], -1)
            return sum(part_backward(grad[:, start:stop]) for (_, part_backward), start, stop
                       in zip(results, edges[:-1], edges[1:]))

        return np.concatenate([values for values, _ in results], axis=1), backward
