"""Weight initialisers. Biases start at zero; weights are drawn from the network's one
seeded generator, layer by layer, so a seed fixes the whole network."""

import numpy as np

from ..errors import OptionError, did_you_mean


def _xavier(rng, shape, fan_in, fan_out, dtype):
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return rng.standard_normal(shape, dtype=dtype) * dtype.type(std)


def _xavier_uniform(rng, shape, fan_in, fan_out, dtype):
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, shape).astype(dtype)


def _gauss(rng, shape, fan_in, fan_out, dtype):
    """TMVA's Gauss: N(0, sqrt(2 / fan_in)) (He's normal initialisation)."""
    return rng.standard_normal(shape, dtype=dtype) * dtype.type(np.sqrt(2.0 / fan_in))


def _uniform(rng, shape, fan_in, fan_out, dtype):
    """TMVA's Uniform: U(-sqrt(2 / fan_in), sqrt(2 / fan_in))."""
    bound = np.sqrt(2.0 / fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)


def _he(rng, shape, fan_in, fan_out, dtype):
    """He (Kaiming) uniform for ReLU, as torch.nn.init.kaiming_uniform_: U(+-sqrt(6/fan_in))."""
    bound = np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)


INITIALIZERS = {"XAVIER": _xavier, "XAVIERUNIFORM": _xavier_uniform, "GAUSS": _gauss,
                "UNIFORM": _uniform, "HE": _he}


def initialize(network, rng, scheme="XAVIERUNIFORM"):
    """Draw every weight of ``network`` from ``rng`` with ``scheme``; zero every bias."""
    key = str(scheme).upper()
    if key not in INITIALIZERS:
        raise OptionError(
            f"unknown weight initialisation {scheme!r}; expected one of "
            f"{', '.join(INITIALIZERS)}{did_you_mean(scheme, INITIALIZERS)}"
        )
    draw = INITIALIZERS[key]
    for layer in network.layers:
        if getattr(layer, "seeded", False):  # dropout masks, spectral-norm vectors
            layer.seed(rng)
        if "weight" not in layer.params:
            continue
        fan_in, fan_out = layer.fans()
        weight = layer.params["weight"]
        weight[...] = draw(rng, weight.shape, fan_in, fan_out, weight.dtype)
        if "bias" in layer.params:  # MINIBATCH's projection has none
            layer.params["bias"][...] = 0
