"""Losses on discriminator logits, with their gradients."""

import numpy as np
from numba import njit


@njit(cache=True)
def bce_with_logits(logits, target, weights, grad):
    """Weighted mean binary cross-entropy of ``sigmoid(logits)`` against ``target``.

    Returns ``sum_i w_i * l_i / n`` and writes ``dloss/dlogits`` into ``grad``. Written with
    softplus and a sign-split sigmoid so it stays finite for logits of any size (|x| = 1e4
    gives a loss of 1e4 and a gradient of +-w/n, not inf or nan).
    """
    n = logits.shape[0]
    total = 0.0
    for i in range(n):
        x = logits[i]
        # log(1 + exp(-|x|)) never overflows; max(x, 0) - x*t completes the softplus form
        total += weights[i] * (max(x, 0.0) - x * target + np.log1p(np.exp(-abs(x))))
        if x >= 0:
            sig = 1.0 / (1.0 + np.exp(-x))
        else:
            e = np.exp(x)
            sig = e / (1.0 + e)
        grad[i] = weights[i] * (sig - target) / n
    return total / n
