"""Batch normalisation and dropout kernels. A sample is a row; feature or channel ``c``
owns the values ``[c * size, (c + 1) * size)`` of every row (``size`` = 1 for flat data,
height * width for images). Batch-norm kernels run one channel per thread; statistics are
accumulated in float64."""

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def batchnorm_train_forward(x, gamma, beta, channels, size, eps, mean, var, inv_std, xhat, y):
    """Normalise with the batch statistics; ``mean``, ``var`` (biased) and ``inv_std`` =
    1 / sqrt(var + eps) per channel are returned through their arrays."""
    n = x.shape[0]
    count = n * size
    for c in prange(channels):
        lo = c * size
        hi = lo + size
        total = 0.0
        for s in range(n):
            for i in range(lo, hi):
                total += x[s, i]
        m = total / count
        squares = 0.0
        for s in range(n):
            for i in range(lo, hi):
                d = x[s, i] - m
                squares += d * d
        v = squares / count
        inv = 1.0 / np.sqrt(v + eps)
        mean[c] = m
        var[c] = v
        inv_std[c] = inv
        g = gamma[c]
        b = beta[c]
        for s in range(n):
            for i in range(lo, hi):
                h = (x[s, i] - m) * inv
                xhat[s, i] = h
                y[s, i] = g * h + b


@njit(parallel=True, cache=True)
def batchnorm_inference_forward(x, gamma, beta, channels, size, running_mean, inv_std, xhat,
                                y):
    """Normalise with the running statistics."""
    n = x.shape[0]
    for c in prange(channels):
        m = running_mean[c]
        inv = inv_std[c]
        g = gamma[c]
        b = beta[c]
        for s in range(n):
            for i in range(c * size, (c + 1) * size):
                h = (x[s, i] - m) * inv
                xhat[s, i] = h
                y[s, i] = g * h + b


@njit(parallel=True, cache=True)
def batchnorm_backward(dy, xhat, gamma, inv_std, channels, size, training, dx, dgamma, dbeta,
                       need_dx, need_dw):
    """Gradients of a batch-norm forward. In training the batch statistics depend on x:
    ``dx = gamma inv_std (dy - mean(dy) - xhat mean(dy xhat))``; after an inference
    forward ``dx = gamma inv_std dy``. ``dgamma += sum(dy xhat)``, ``dbeta += sum(dy)``."""
    n = dy.shape[0]
    count = n * size
    for c in prange(channels):
        lo = c * size
        hi = lo + size
        sum_dy = 0.0
        sum_dy_xhat = 0.0
        for s in range(n):
            for i in range(lo, hi):
                sum_dy += dy[s, i]
                sum_dy_xhat += dy[s, i] * xhat[s, i]
        if need_dw:
            dgamma[c] += sum_dy_xhat
            dbeta[c] += sum_dy
        if need_dx:
            k = gamma[c] * inv_std[c]
            if training:
                mean_dy = sum_dy / count
                mean_dy_xhat = sum_dy_xhat / count
                for s in range(n):
                    for i in range(lo, hi):
                        dx[s, i] = k * (dy[s, i] - mean_dy - xhat[s, i] * mean_dy_xhat)
            else:
                for s in range(n):
                    for i in range(lo, hi):
                        dx[s, i] = k * dy[s, i]


@njit(parallel=True, cache=True)
def dropout_forward(x, mask, rate, y):
    """``mask`` holds uniform draws in [0, 1) and becomes the scaled keep mask:
    ``mask = (u >= rate) / (1 - rate)``, ``y = x * mask``."""
    keep = 1.0 / (1.0 - rate)
    for s in prange(x.shape[0]):
        for i in range(x.shape[1]):
            m = keep if mask[s, i] >= rate else 0.0
            mask[s, i] = m
            y[s, i] = x[s, i] * m


@njit(parallel=True, cache=True)
def minibatch_features(m, kernels, dims, closeness, out):
    """Minibatch discrimination (Salimans et al. 2016): for projections ``m (n, kernels *
    dims)``, ``closeness[i, j, b] = exp(-sum_c |m[i,b,c] - m[j,b,c]|)`` and
    ``out[i, b] = sum_j closeness[i, j, b]`` (j = i included, as CaloGAN's layer)."""
    n = m.shape[0]
    for i in prange(n):
        for b in range(kernels):
            total = 0.0
            for j in range(n):
                distance = 0.0
                for c in range(dims):
                    distance += abs(m[i, b * dims + c] - m[j, b * dims + c])
                e = np.exp(-distance)
                closeness[i, j, b] = e
                total += e
            out[i, b] = total


@njit(parallel=True, cache=True)
def minibatch_backward(m, closeness, dout, kernels, dims, dm):
    """``dm[k,b,c] = -sum_j (dout[k,b] + dout[j,b]) closeness[k,j,b] sign(m[k,b,c] -
    m[j,b,c])``: o[i,b] depends on m[k] both as the row i = k and as a partner j = k."""
    n = m.shape[0]
    for k in prange(n):
        for b in range(kernels):
            for c in range(dims):
                acc = 0.0
                mk = m[k, b * dims + c]
                for j in range(n):
                    d = mk - m[j, b * dims + c]
                    if d != 0.0:
                        acc += (dout[k, b] + dout[j, b]) * closeness[k, j, b] * (
                            1.0 if d > 0 else -1.0)
                dm[k, b * dims + c] = -acc
