"""Activation functions applied in place, and their derivatives from the output.

Every supported activation's derivative is a function of its output, so layers keep only
their output for the backward pass. Codes are plain ints so kernels branch once per call.
"""

import numpy as np
from numba import njit

LINEAR = 0
RELU = 1
LEAKYRELU = 2
TANH = 3
SIGMOID = 4

CODES = {"LINEAR": LINEAR, "RELU": RELU, "LEAKYRELU": LEAKYRELU, "TANH": TANH, "SIGMOID": SIGMOID}


@njit(cache=True, fastmath=False)
def bias_activate(y, bias, channels, size, act, slope):
    """``y[c*size + p] = f(y[c*size + p] + bias[c])`` for one sample."""
    for c in range(channels):
        bc = bias[c]
        lo = c * size
        hi = lo + size
        if act == LINEAR:
            for i in range(lo, hi):
                y[i] += bc
        elif act == RELU:
            for i in range(lo, hi):
                v = y[i] + bc
                y[i] = v if v > 0 else 0
        elif act == LEAKYRELU:
            for i in range(lo, hi):
                v = y[i] + bc
                y[i] = v if v > 0 else v * slope
        elif act == TANH:
            for i in range(lo, hi):
                y[i] = np.tanh(y[i] + bc)
        else:
            for i in range(lo, hi):
                v = y[i] + bc
                # split on the sign so exp never overflows
                if v >= 0:
                    y[i] = 1 / (1 + np.exp(-v))
                else:
                    e = np.exp(v)
                    y[i] = e / (1 + e)


@njit(cache=True)
def activation_grad(dy, y, dz, act, slope):
    """``dz = dy * f'(z)``, with f' written in terms of the output ``y = f(z)``."""
    n = dz.shape[0]
    if act == LINEAR:
        for i in range(n):
            dz[i] = dy[i]
    elif act == RELU:
        for i in range(n):
            dz[i] = dy[i] if y[i] > 0 else 0
    elif act == LEAKYRELU:
        for i in range(n):
            dz[i] = dy[i] if y[i] > 0 else dy[i] * slope
    elif act == TANH:
        for i in range(n):
            dz[i] = dy[i] * (1 - y[i] * y[i])
    else:
        for i in range(n):
            dz[i] = dy[i] * y[i] * (1 - y[i])


@njit(cache=True)
def channel_sums(dz, channels, size, out):
    """``out[c] += sum_p dz[c*size + p]``: the bias gradient of one sample."""
    for c in range(channels):
        acc = 0.0  # float64 accumulator: bias gradients sum many terms
        for i in range(c * size, (c + 1) * size):
            acc += dz[i]
        out[c] += acc
