"""Optimisers acting on a network's flat parameter and gradient vectors.

``state()`` and ``load_state(arrays, steps)`` save and restore an optimiser exactly, so a
resumed training continues with the same moments and step count."""

import numpy as np

from ..errors import OptionError, did_you_mean
from .kernels.optim import adam_update, sgd_update


class _Optimizer:
    arrays = ()

    def state(self):
        return {name: getattr(self, name) for name in self.arrays}

    def load_state(self, arrays, steps):
        for name in self.arrays:
            getattr(self, name)[:] = arrays[name]
        self.steps = int(steps)


class Adam(_Optimizer):
    arrays = ("m", "v")

    def __init__(self, network, learning_rate=2e-4, beta1=0.5, beta2=0.999, eps=1e-8):
        self.network = network
        self.learning_rate = float(learning_rate)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = float(eps)
        self.m = np.zeros_like(network.parameters)
        self.v = np.zeros_like(network.parameters)
        self.steps = 0

    def step(self):
        self.steps += 1
        adam_update(self.network.parameters, self.network.gradients, self.m, self.v,
                    self.learning_rate, self.beta1, self.beta2, self.eps, self.steps)


class SGD(_Optimizer):
    arrays = ("velocity",)

    def __init__(self, network, learning_rate=1e-2, momentum=0.0):
        self.network = network
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.velocity = np.zeros_like(network.parameters)
        self.steps = 0

    def step(self):
        self.steps += 1
        sgd_update(self.network.parameters, self.network.gradients, self.velocity,
                   self.learning_rate, self.momentum)


OPTIMIZERS = {"ADAM": Adam, "SGD": SGD}


def make_optimizer(name, network, **settings):
    """An optimiser by its option-string name (case-insensitive)."""
    key = str(name).upper()
    if key not in OPTIMIZERS:
        raise OptionError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}"
                          f"{did_you_mean(name, OPTIMIZERS)}")
    return OPTIMIZERS[key](network, **settings)
