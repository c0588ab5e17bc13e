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


@njit(cache=True)
def least_squares(outputs, target, weights, grad):
    """``sum_i w_i * (x_i - target)^2 / (2n)`` (LSGAN) and its gradient."""
    n = outputs.shape[0]
    total = 0.0
    for i in range(n):
        diff = outputs[i] - target
        total += weights[i] * diff * diff
        grad[i] = weights[i] * diff / n
    return 0.5 * total / n


@njit(cache=True)
def hinge(outputs, sign, weights, grad):
    """``sum_i w_i * max(0, 1 - sign * x_i) / n``: sign +1 for real images, -1 for fakes."""
    n = outputs.shape[0]
    total = 0.0
    for i in range(n):
        margin = 1.0 - sign * outputs[i]
        if margin > 0:
            total += weights[i] * margin
            grad[i] = -sign * weights[i] / n
        else:
            grad[i] = 0.0
    return total / n


@njit(cache=True)
def mean_output(outputs, sign, weights, grad):
    """``sign * sum_i w_i x_i / n`` (hinge generator and Wasserstein losses) and its
    gradient."""
    n = outputs.shape[0]
    total = 0.0
    for i in range(n):
        total += weights[i] * outputs[i]
        grad[i] = sign * weights[i] / n
    return sign * total / n


@njit(cache=True)
def squared_error(outputs, targets, weights, grad):
    """``sum_i w_i (x_i - t_i)^2 / n`` (mean squared error) and its gradient."""
    n = outputs.shape[0]
    total = 0.0
    for i in range(n):
        diff = outputs[i] - targets[i]
        total += weights[i] * diff * diff
        grad[i] = 2.0 * weights[i] * diff / n
    return total / n


@njit(cache=True)
def minimax_generator(logits, grad):
    """``mean(log(1 - sigmoid(x)))``, the original minimax generator loss, and its gradient
    ``-sigmoid(x) / n`` (finite for any logit)."""
    n = logits.shape[0]
    total = 0.0
    for i in range(n):
        x = logits[i]
        total -= max(x, 0.0) + np.log1p(np.exp(-abs(x)))  # -softplus(x)
        if x >= 0:
            grad[i] = -1.0 / (1.0 + np.exp(-x)) / n
        else:
            e = np.exp(x)
            grad[i] = -e / (1.0 + e) / n
    return total / n
