"""Shared test helpers: the benchmark GAN's layouts and randomly filled networks."""

import numpy as np
from rootgan.nn import build_network

# The benchmark GAN of shared/reference/benchmark-gan.md, as layout strings.
GENERATOR_LAYOUT = (
    "DENSE|6272|LEAKYRELU,RESHAPE|128|7|7,UPSAMPLE|2|2,CONV|64|5|5|1|1|2|2|LEAKYRELU,"
    "TRANSCONV|32|5|5|2|2|3|3|LEAKYRELU,CONV|1|3|3|1|1|1|1|RELU"
)
DISCRIMINATOR_LAYOUT = (
    "CONV|32|5|5|1|1|2|2|LEAKYRELU,MAXPOOL|2|2|2|2,CONV|64|3|3|1|1|1|1|LEAKYRELU,"
    "MAXPOOL|2|2|2|2,RESHAPE|FLAT,DENSE|128|LEAKYRELU,DENSE|1|LINEAR"
)


def random_network(layout, input_shape, dtype, seed=0):
    """A network with every parameter (biases too) drawn from N(0, 0.5^2)."""
    net = build_network(layout, input_shape, dtype=dtype)
    rng = np.random.default_rng(seed)
    net.parameters[:] = rng.normal(0, 0.5, net.parameters.size)
    return net
