"""GAN losses on discriminator outputs (logits for BCE), each returning the batch loss and
its gradient with respect to the outputs, in a buffer reused between calls.

A discriminator loss has ``real(outputs, weights)`` and ``fake(outputs)``; a generator loss
is called on the discriminator's outputs for generated images. Matched pairs:
NONSATURATING or MINIMAX with BCE, LEASTSQUARES with LEASTSQUARES, HINGE with HINGE,
WASSERSTEIN with WASSERSTEIN. ``MeanSquaredError`` regresses outputs on per-sample targets.
"""

import numpy as np

from ..errors import DataError, OptionError, did_you_mean
from .kernels import losses as kernels


class _Loss:
    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self._grad = np.empty(0, self.dtype)
        self._ones = np.empty(0, self.dtype)

    def _buffers(self, outputs, weights):
        outputs = outputs.reshape(-1)
        n = outputs.shape[0]
        if self._grad.shape[0] != n:
            self._grad = np.empty(n, self.dtype)
            self._ones = np.ones(n, self.dtype)
        return outputs, self._grad, (self._ones if weights is None else weights)


class BinaryCrossEntropy(_Loss):
    """Binary cross-entropy on logits (the sigmoid lives here, not in the network)."""

    name = "BCE"

    def __call__(self, logits, target, weights=None):
        """Mean of ``w_i * BCE(sigmoid(logit_i), target)``; ``weights`` default to 1."""
        logits, grad, weights = self._buffers(logits, weights)
        loss = kernels.bce_with_logits(logits, float(target), weights, grad)
        return loss, grad.reshape(-1, 1)

    real_target = 1.0  # below 1 with one-sided label smoothing

    def real(self, logits, weights=None):
        return self(logits, self.real_target, weights)

    def fake(self, logits):
        return self(logits, 0.0)


class LeastSquaresDiscriminator(_Loss):
    """LSGAN: ``(D(real) - 1)^2 / 2 + D(fake)^2 / 2``."""

    name = "LEASTSQUARES"
    real_target = 1.0  # below 1 with one-sided label smoothing

    def real(self, outputs, weights=None):
        outputs, grad, weights = self._buffers(outputs, weights)
        return (kernels.least_squares(outputs, self.real_target, weights, grad),
                grad.reshape(-1, 1))

    def fake(self, outputs):
        outputs, grad, weights = self._buffers(outputs, None)
        return kernels.least_squares(outputs, 0.0, weights, grad), grad.reshape(-1, 1)


class HingeDiscriminator(_Loss):
    """Hinge: ``max(0, 1 - D(real)) + max(0, 1 + D(fake))``."""

    name = "HINGE"

    def real(self, outputs, weights=None):
        outputs, grad, weights = self._buffers(outputs, weights)
        return kernels.hinge(outputs, 1.0, weights, grad), grad.reshape(-1, 1)

    def fake(self, outputs):
        outputs, grad, weights = self._buffers(outputs, None)
        return kernels.hinge(outputs, -1.0, weights, grad), grad.reshape(-1, 1)


class NonSaturatingGeneratorLoss(_Loss):
    """``-log D(G(z))``: BCE of the fakes against the *real* label (the unreleased TMVA
    GAN trained the generator toward the fake label)."""

    name = "NONSATURATING"

    def __call__(self, logits):
        logits, grad, weights = self._buffers(logits, None)
        return kernels.bce_with_logits(logits, 1.0, weights, grad), grad.reshape(-1, 1)


class MinimaxGeneratorLoss(_Loss):
    """``log(1 - D(G(z)))``, the original minimax objective (weak gradients early on)."""

    name = "MINIMAX"

    def __call__(self, logits):
        logits, grad, _ = self._buffers(logits, None)
        return kernels.minimax_generator(logits, grad), grad.reshape(-1, 1)


class LeastSquaresGeneratorLoss(_Loss):
    """LSGAN: ``(D(G(z)) - 1)^2 / 2``."""

    name = "LEASTSQUARES"

    def __call__(self, outputs):
        outputs, grad, weights = self._buffers(outputs, None)
        return kernels.least_squares(outputs, 1.0, weights, grad), grad.reshape(-1, 1)


class HingeGeneratorLoss(_Loss):
    """Hinge GAN generator: ``-D(G(z))``."""

    name = "HINGE"

    def __call__(self, outputs):
        outputs, grad, weights = self._buffers(outputs, None)
        return kernels.mean_output(outputs, -1.0, weights, grad), grad.reshape(-1, 1)


class WassersteinCritic(_Loss):
    """WGAN critic: ``mean(D(fake)) - mean(D(real))`` (the critic's output is a score, not
    a logit; a Lipschitz constraint such as SPECTRALNORM or weight clipping must bound it)."""

    name = "WASSERSTEIN"

    def real(self, outputs, weights=None):
        outputs, grad, weights = self._buffers(outputs, weights)
        return kernels.mean_output(outputs, -1.0, weights, grad), grad.reshape(-1, 1)

    def fake(self, outputs):
        outputs, grad, weights = self._buffers(outputs, None)
        return kernels.mean_output(outputs, 1.0, weights, grad), grad.reshape(-1, 1)


class WassersteinGeneratorLoss(_Loss):
    """WGAN generator: ``-mean(D(G(z)))``."""

    name = "WASSERSTEIN"

    def __call__(self, outputs):
        outputs, grad, weights = self._buffers(outputs, None)
        return kernels.mean_output(outputs, -1.0, weights, grad), grad.reshape(-1, 1)


class MeanSquaredError(_Loss):
    """``mean(w_i (x_i - t_i)^2)`` against per-sample targets (a regression head, such as
    an auxiliary classifier predicting a continuous condition)."""

    name = "MSE"

    def __call__(self, outputs, targets, weights=None):
        outputs, grad, weights = self._buffers(outputs, weights)
        targets = np.ascontiguousarray(targets, self.dtype).reshape(-1)
        if targets.shape[0] != outputs.shape[0]:
            raise DataError(f"MSE needs one target per output: {outputs.shape[0]} outputs, "
                            f"{targets.shape[0]} targets")
        return kernels.squared_error(outputs, targets, weights, grad), grad.reshape(-1, 1)


DISCRIMINATOR_LOSSES = {cls.name: cls for cls in (BinaryCrossEntropy, LeastSquaresDiscriminator,
                                                   HingeDiscriminator, WassersteinCritic)}
GENERATOR_LOSSES = {cls.name: cls for cls in (NonSaturatingGeneratorLoss, MinimaxGeneratorLoss,
                                               LeastSquaresGeneratorLoss, HingeGeneratorLoss,
                                               WassersteinGeneratorLoss)}
MATCHED_PAIRS = {("NONSATURATING", "BCE"), ("MINIMAX", "BCE"),
                 ("LEASTSQUARES", "LEASTSQUARES"), ("HINGE", "HINGE"),
                 ("WASSERSTEIN", "WASSERSTEIN")}


def make_losses(generator_loss, discriminator_loss, dtype=np.float32):
    """The (generator, discriminator) loss objects of a matched pair."""
    for name, table, option in ((generator_loss, GENERATOR_LOSSES, "GeneratorLoss"),
                                (discriminator_loss, DISCRIMINATOR_LOSSES, "DiscriminatorLoss")):
        if name not in table:
            raise OptionError(f"{option}={name} is not available; expected one of "
                              f"{', '.join(table)}{did_you_mean(name, table)}")
    if (generator_loss, discriminator_loss) not in MATCHED_PAIRS:
        pairs = ", ".join(f"{g}/{d}" for g, d in sorted(MATCHED_PAIRS))
        raise OptionError(f"GeneratorLoss={generator_loss} does not go with "
                          f"DiscriminatorLoss={discriminator_loss}; matched pairs: {pairs}")
    return (GENERATOR_LOSSES[generator_loss](dtype),
            DISCRIMINATOR_LOSSES[discriminator_loss](dtype))
