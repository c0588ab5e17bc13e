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
def rmsprop_update(params, grads, square_avg, buffer, lr, alpha, eps, momentum):
    """torch.optim.RMSprop: ``v = a v + (1 - a) g^2``; with momentum ``b = mu b + g /
    (sqrt(v) + eps); p -= lr b``, else ``p -= lr g / (sqrt(v) + eps)``."""
    a = params.dtype.type(alpha)
    one = params.dtype.type(1.0)
    e = params.dtype.type(eps)
    rate = params.dtype.type(lr)
    mu = params.dtype.type(momentum)
    for i in prange(params.shape[0]):
        g = grads[i]
        square_avg[i] = a * square_avg[i] + (one - a) * g * g
        step = g / (np.sqrt(square_avg[i]) + e)
        if momentum > 0:
            buffer[i] = mu * buffer[i] + step
            step = buffer[i]
        params[i] -= rate * step


@njit(parallel=True, cache=True)
def adagrad_update(params, grads, state_sum, lr, eps):
    """torch.optim.Adagrad: ``s += g^2; p -= lr g / (sqrt(s) + eps)``."""
    e = params.dtype.type(eps)
    rate = params.dtype.type(lr)
    for i in prange(params.shape[0]):
        g = grads[i]
        state_sum[i] += g * g
        params[i] -= rate * g / (np.sqrt(state_sum[i]) + e)


@njit(parallel=True, cache=True)
def adadelta_update(params, grads, square_avg, acc_delta, lr, rho, eps):
    """torch.optim.Adadelta: ``v = r v + (1 - r) g^2; d = sqrt(u + eps) / sqrt(v + eps) g;
    u = r u + (1 - r) d^2; p -= lr d``."""
    r = params.dtype.type(rho)
    one = params.dtype.type(1.0)
    e = params.dtype.type(eps)
    rate = params.dtype.type(lr)
    for i in prange(params.shape[0]):
        g = grads[i]
        square_avg[i] = r * square_avg[i] + (one - r) * g * g
        delta = np.sqrt(acc_delta[i] + e) / np.sqrt(square_avg[i] + e) * g
        acc_delta[i] = r * acc_delta[i] + (one - r) * delta * delta
        params[i] -= rate * delta


L1 = 1
L2 = 2
DECAY = 3


@njit(parallel=True, cache=True)
def regularize(grads, params, mask, mode, strength):
    """Add a penalty's gradient to the weights' gradients (``mask``: 1 for weights, 0 for
    biases): L1 ``strength sum|w|`` -> ``strength sign(w)``; L2 ``strength sum w^2`` ->
    ``2 strength w`` (TMVA's conventions); DECAY -> ``strength w`` (torch's weight_decay)."""
    lam = params.dtype.type(strength)
    two = params.dtype.type(2.0)
    for i in prange(params.shape[0]):
        if mask[i]:
            w = params[i]
            if mode == L1:
                grads[i] += lam * (1 if w > 0 else (-1 if w < 0 else 0))
            elif mode == L2:
                grads[i] += two * lam * w
            else:
                grads[i] += lam * w


@njit(parallel=True, cache=True)
def average_update(average, params, decay):
    """Exponential moving average: ``average = decay * average + (1 - decay) * params``."""
    d = params.dtype.type(decay)
    one = params.dtype.type(1.0)
    for i in prange(params.shape[0]):
        average[i] = d * average[i] + (one - d) * params[i]
