"""Optimisers acting on a network's flat parameter and gradient vectors, with PyTorch's
update formulas and default constants.

``state()`` and ``load_state(arrays, steps)`` save and restore an optimiser exactly, so a
resumed training continues with the same moments and step count. Every optimiser can add a
penalty's gradient to the weights (not the biases) before its step: ``regularization``
L1 (``weight_decay * sum|w|``) or L2 (``weight_decay * sum w^2``), TMVA's conventions, or,
with ``regularization="NONE"`` and ``weight_decay > 0``, PyTorch's weight decay
(``g += weight_decay * w``)."""

import numpy as np

from ..errors import OptionError, did_you_mean
from .kernels.optim import (DECAY, L1, L2, adadelta_update, adagrad_update, adam_update,
                            regularize, rmsprop_update, sgd_update)

REGULARIZATIONS = {"L1": L1, "L2": L2}


class _Optimizer:
    arrays = ()

    def _penalty(self, network, regularization, weight_decay):
        self.network = network
        key = str(regularization).upper()
        if key not in ("NONE",) + tuple(REGULARIZATIONS):
            raise OptionError(f"unknown regularization {regularization!r}; expected NONE, L1 "
                              f"or L2{did_you_mean(regularization, ('NONE', 'L1', 'L2'))}")
        if not weight_decay >= 0:
            raise OptionError(f"WeightDecay must be >= 0, got {weight_decay}")
        self.weight_decay = float(weight_decay)
        self.mode = REGULARIZATIONS.get(key, DECAY)
        mask = getattr(network, "weight_mask", None)
        self.mask = np.ones(network.parameters.size, np.bool_) if mask is None else mask

    def _regularize(self):
        if self.weight_decay > 0:
            regularize(self.network.gradients, self.network.parameters, self.mask, self.mode,
                       self.weight_decay)

    def state(self):
        return {name: getattr(self, name) for name in self.arrays}

    def load_state(self, arrays, steps):
        for name in self.arrays:
            getattr(self, name)[:] = arrays[name]
        self.steps = int(steps)


class Adam(_Optimizer):
    arrays = ("m", "v")

    def __init__(self, network, learning_rate=2e-4, beta1=0.5, beta2=0.999, eps=1e-8,
                 regularization="NONE", weight_decay=0.0):
        self._penalty(network, regularization, weight_decay)
        self.learning_rate = float(learning_rate)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = float(eps)
        self.m = np.zeros_like(network.parameters)
        self.v = np.zeros_like(network.parameters)
        self.steps = 0

    def step(self):
        self.steps += 1
        self._regularize()
        adam_update(self.network.parameters, self.network.gradients, self.m, self.v,
                    self.learning_rate, self.beta1, self.beta2, self.eps, self.steps)


class SGD(_Optimizer):
    arrays = ("velocity",)

    def __init__(self, network, learning_rate=1e-2, momentum=0.0, regularization="NONE",
                 weight_decay=0.0):
        self._penalty(network, regularization, weight_decay)
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.velocity = np.zeros_like(network.parameters)
        self.steps = 0

    def step(self):
        self.steps += 1
        self._regularize()
        sgd_update(self.network.parameters, self.network.gradients, self.velocity,
                   self.learning_rate, self.momentum)


class RMSprop(_Optimizer):
    """torch.optim.RMSprop (alpha 0.99, eps 1e-8, optional momentum, not centred)."""

    arrays = ("square_avg", "buffer")

    def __init__(self, network, learning_rate=1e-2, alpha=0.99, eps=1e-8, momentum=0.0,
                 regularization="NONE", weight_decay=0.0):
        self._penalty(network, regularization, weight_decay)
        self.learning_rate, self.alpha = float(learning_rate), float(alpha)
        self.eps, self.momentum = float(eps), float(momentum)
        self.square_avg = np.zeros_like(network.parameters)
        self.buffer = np.zeros_like(network.parameters)
        self.steps = 0

    def step(self):
        self.steps += 1
        self._regularize()
        rmsprop_update(self.network.parameters, self.network.gradients, self.square_avg,
                       self.buffer, self.learning_rate, self.alpha, self.eps, self.momentum)


class Adagrad(_Optimizer):
    """torch.optim.Adagrad (eps 1e-10, no learning-rate decay, accumulator from 0)."""

    arrays = ("state_sum",)

    def __init__(self, network, learning_rate=1e-2, eps=1e-10, regularization="NONE",
                 weight_decay=0.0):
        self._penalty(network, regularization, weight_decay)
        self.learning_rate, self.eps = float(learning_rate), float(eps)
        self.state_sum = np.zeros_like(network.parameters)
        self.steps = 0

    def step(self):
        self.steps += 1
        self._regularize()
        adagrad_update(self.network.parameters, self.network.gradients, self.state_sum,
                       self.learning_rate, self.eps)


class Adadelta(_Optimizer):
    """torch.optim.Adadelta (rho 0.9, eps 1e-6; its learning rate scales the step, 1.0
    in PyTorch)."""

    arrays = ("square_avg", "acc_delta")

    def __init__(self, network, learning_rate=1.0, rho=0.9, eps=1e-6, regularization="NONE",
                 weight_decay=0.0):
        self._penalty(network, regularization, weight_decay)
        self.learning_rate, self.rho, self.eps = float(learning_rate), float(rho), float(eps)
        self.square_avg = np.zeros_like(network.parameters)
        self.acc_delta = np.zeros_like(network.parameters)
        self.steps = 0

    def step(self):
        self.steps += 1
        self._regularize()
        adadelta_update(self.network.parameters, self.network.gradients, self.square_avg,
                        self.acc_delta, self.learning_rate, self.rho, self.eps)


OPTIMIZERS = {"ADAM": Adam, "SGD": SGD, "RMSPROP": RMSprop, "ADAGRAD": Adagrad,
              "ADADELTA": Adadelta}


def make_optimizer(name, network, **settings):
    """An optimiser by its option-string name (case-insensitive)."""
    key = str(name).upper()
    if key not in OPTIMIZERS:
        raise OptionError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}"
                          f"{did_you_mean(name, OPTIMIZERS)}")
    return OPTIMIZERS[key](network, **settings)
