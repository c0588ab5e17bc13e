"""Activation functions applied in place, and their derivatives.

The derivative of most activations is a function of their output, so layers keep only
their output for the backward pass and the activation is fused into the layer's kernels
(``bias_activate``, ``activation_grad``). GAUSS (exp(-z^2)) and SYMMRELU (|z|, TMVA's
symmetric ReLU) lose the sign of z: ``FROM_INPUT`` lists them, and layers apply them in a
separate pass that keeps z (``activate_from_input``, ``grad_from_input``). Codes are plain
ints so kernels branch once per call.
"""

import numpy as np
from numba import njit, prange

LINEAR = 0
RELU = 1
LEAKYRELU = 2
TANH = 3
SIGMOID = 4
SOFTSIGN = 5
SOFTPLUS = 6
ELU = 7
GAUSS = 8
SYMMRELU = 9

CODES = {"LINEAR": LINEAR, "RELU": RELU, "LEAKYRELU": LEAKYRELU, "TANH": TANH, "SIGMOID": SIGMOID,
         "SOFTSIGN": SOFTSIGN, "SOFTPLUS": SOFTPLUS, "ELU": ELU, "GAUSS": GAUSS,
         "SYMMRELU": SYMMRELU}
FROM_INPUT = (GAUSS, SYMMRELU)


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
        elif act == SOFTSIGN:
            for i in range(lo, hi):
                v = y[i] + bc
                y[i] = v / (1 + abs(v))
        elif act == SOFTPLUS:
            for i in range(lo, hi):
                v = y[i] + bc
                # log(1 + e^v) without overflow
                y[i] = v + np.log1p(np.exp(-v)) if v > 0 else np.log1p(np.exp(v))
        elif act == ELU:
            for i in range(lo, hi):
                v = y[i] + bc
                y[i] = v if v > 0 else np.expm1(v)
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
    elif act == SOFTSIGN:  # 1 / (1 + |z|)^2 = (1 - |y|)^2
        for i in range(n):
            r = 1 - abs(y[i])
            dz[i] = dy[i] * r * r
    elif act == SOFTPLUS:  # sigmoid(z) = 1 - e^-y
        for i in range(n):
            dz[i] = -dy[i] * np.expm1(-y[i])
    elif act == ELU:  # 1 for z > 0, e^z = y + 1 below
        for i in range(n):
            dz[i] = dy[i] if y[i] > 0 else dy[i] * (y[i] + 1)
    else:
        for i in range(n):
            dz[i] = dy[i] * y[i] * (1 - y[i])


@njit(parallel=True, cache=True)
def activate_from_input(y, z, act):
    """``z = y; y = f(z)`` for the activations whose derivative needs z (rows of a batch)."""
    for s in prange(y.shape[0]):
        for i in range(y.shape[1]):
            v = y[s, i]
            z[s, i] = v
            y[s, i] = np.exp(-v * v) if act == GAUSS else abs(v)


@njit(parallel=True, cache=True)
def grad_from_input(dy, z, dz, act):
    """``dz = dy * f'(z)``: GAUSS -2 z exp(-z^2), SYMMRELU sign(z) (TMVA: +1 at 0)."""
    for s in prange(dy.shape[0]):
        for i in range(dy.shape[1]):
            v = z[s, i]
            if act == GAUSS:
                dz[s, i] = dy[s, i] * (-2 * v * np.exp(-v * v))
            else:
                dz[s, i] = dy[s, i] if v >= 0 else -dy[s, i]


@njit(cache=True)
def channel_sums(dz, channels, size, out):
    """``out[c] += sum_p dz[c*size + p]``: the bias gradient of one sample."""
    for c in range(channels):
        acc = 0.0  # float64 accumulator: bias gradients sum many terms
        for i in range(c * size, (c + 1) * size):
            acc += dz[i]
        out[c] += acc
