"""A moving average of a network's weights, for generating with a GAN.

A GAN's generator oscillates around the equilibrium from step to step; the exponential
moving average of its weights sits closer to it and generates better-calibrated samples
(Yazici et al., "The Unusual Effectiveness of Averaging in GAN Training", ICLR 2019; the
averaged generator of StyleGAN and BigGAN). The decay warms up as
``min(decay, (1 + t) / (10 + t))`` after ``t`` updates, so that a short training is not
dominated by the random initial weights.
"""

from contextlib import contextmanager

from ..errors import OptionError
from .kernels.optim import average_update


class WeightAverage:
    def __init__(self, network, decay):
        if not 0 < decay < 1:
            raise OptionError(f"the weight-average decay must be between 0 and 1 (exclusive), "
                              f"got {decay!r}")
        self.network = network
        self.decay = float(decay)
        self.average = network.parameters.copy()
        self._saved = network.parameters.copy()
        self.updates = 0
        self._applied = False

    def update(self):
        """Fold the network's current weights into the average."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        average_update(self.average, self.network.parameters, decay)

    @contextmanager
    def applied(self):
        """Inside the block the network computes with the averaged weights; its own
        weights are back afterwards."""
        if self._applied:
            raise RuntimeError("the averaged weights are already applied")
        self._saved[:] = self.network.parameters
        self._applied = True
        try:
            self.network.parameters[:] = self.average
            yield
        finally:
            self.network.parameters[:] = self._saved
            self._applied = False

    def load_state(self, average, updates):
        """Continue from a saved average (a resumed training)."""
        self.average[:] = average
        self.updates = int(updates)
