"""Optimiser updates on a network's flat parameter vector (PyTorch's formulas)."""

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def adam_update(params, grads, m, v, lr, beta1, beta2, eps, step):
    """One Adam step; ``step`` counts from 1. Same arithmetic order as torch.optim.Adam."""
    correction1 = 1.0 - beta1**step
    step_size = lr / correction1
    sqrt_correction2 = np.sqrt(1.0 - beta2**step)
    b1 = params.dtype.type(beta1)
    b2 = params.dtype.type(beta2)
    one = params.dtype.type(1.0)
    c2 = params.dtype.type(sqrt_correction2)
    e = params.dtype.type(eps)
    size = params.dtype.type(step_size)
    for i in prange(params.shape[0]):
        g = grads[i]
        m[i] = b1 * m[i] + (one - b1) * g
        v[i] = b2 * v[i] + (one - b2) * g * g
        params[i] -= size * m[i] / (np.sqrt(v[i]) / c2 + e)


@njit(parallel=True, cache=True)
def sgd_update(params, grads, velocity, lr, momentum):
    """SGD with (heavy-ball) momentum as torch.optim.SGD: ``b = mu*b + g; p -= lr*b``."""
    mu = params.dtype.type(momentum)
    rate = params.dtype.type(lr)
    for i in prange(params.shape[0]):
        velocity[i] = mu * velocity[i] + grads[i]
        params[i] -= rate * velocity[i]


@njit(parallel=True, cache=True)
def average_update(average, params, decay):
    """Exponential moving average: ``average = decay * average + (1 - decay) * params``."""
    d = params.dtype.type(decay)
    one = params.dtype.type(1.0)
    for i in prange(params.shape[0]):
        average[i] = d * average[i] + (one - d) * params[i]
