"""Loss functions on discriminator logits. Each returns the batch loss and its gradient
with respect to the logits, in a buffer it reuses between calls."""

import numpy as np

from .kernels.losses import bce_with_logits


class BinaryCrossEntropy:
    """Binary cross-entropy on logits (the sigmoid lives here, not in the network)."""

    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self._grad = np.empty(0, self.dtype)
        self._ones = np.empty(0, self.dtype)

    def __call__(self, logits, target, weights=None):
        """Mean of ``w_i * BCE(sigmoid(logit_i), target)``; ``weights`` default to 1."""
        logits = logits.reshape(-1)
        n = logits.shape[0]
        if self._grad.shape[0] != n:
            self._grad = np.empty(n, self.dtype)
            self._ones = np.ones(n, self.dtype)
        weights = self._ones if weights is None else weights
        loss = bce_with_logits(logits, float(target), weights, self._grad)
        return loss, self._grad.reshape(n, 1)


class NonSaturatingGeneratorLoss(BinaryCrossEntropy):
    """Generator loss ``-log D(G(z))``: BCE of the fakes against the *real* label
    (the unreleased TMVA GAN trained the generator toward the fake label)."""

    def __call__(self, logits, weights=None):
        return super().__call__(logits, 1.0, weights)
