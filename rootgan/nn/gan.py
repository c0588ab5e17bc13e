"""One GAN training step and generation, on two separate networks.

The generator is trained through the discriminator's input gradient: two networks, two
optimisers, two losses; no combined network and no freezing flags. One seeded
``numpy.random.Generator`` draws the latent noise (and, through ``init.initialize``, the
weights), so a seed and a thread count fix every number.
"""

import numpy as np

from ..errors import DataError, LayoutError
from .losses import BinaryCrossEntropy, NonSaturatingGeneratorLoss

LATENT_DISTRIBUTIONS = ("GAUSS", "UNIFORM")


class GAN:
    def __init__(self, generator, discriminator, generator_optimizer, discriminator_optimizer,
                 rng, latent_distribution="GAUSS"):
        if generator.output_shape != discriminator.input_shape and (
                int(np.prod(generator.output_shape)) != int(np.prod(discriminator.input_shape))):
            raise LayoutError(
                f"the generator's output {generator.output_shape} does not match the "
                f"discriminator's input {discriminator.input_shape}"
            )
        if discriminator.output_shape != (1,):
            raise LayoutError(
                f"the discriminator must end in DENSE|1|LINEAR (one logit per image); its "
                f"output is {discriminator.output_shape}"
            )
        if latent_distribution not in LATENT_DISTRIBUTIONS:
            raise LayoutError(f"LatentDistribution must be GAUSS or UNIFORM, got "
                              f"{latent_distribution!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.rng = rng
        self.latent_distribution = latent_distribution
        self.latent_dim = int(np.prod(generator.input_shape))
        dtype = generator.dtype
        self.discriminator_loss = BinaryCrossEntropy(dtype)
        self.generator_loss = NonSaturatingGeneratorLoss(dtype)
        self._noise = np.empty((0, self.latent_dim), dtype)

    def sample_latent(self, n):
        """Latent vectors for ``n`` images, in a buffer reused between calls."""
        if self._noise.shape[0] != n:
            self._noise = np.empty((n, self.latent_dim), self.generator.dtype)
        if self.latent_distribution == "GAUSS":
            self.rng.standard_normal(out=self._noise, dtype=self._noise.dtype)
        else:
            self.rng.random(out=self._noise, dtype=self._noise.dtype)
            self._noise *= 2
            self._noise -= 1
        return self._noise

    def train_step(self, real, weights=None):
        """One discriminator and one generator update on the batch ``real``.

        ``weights`` (one per real image) weight the real images' discriminator loss.
        Returns ``(discriminator loss, generator loss)``."""
        G, D = self.generator, self.discriminator
        real = np.ascontiguousarray(real, dtype=D.dtype)
        n = real.shape[0]
        if n == 0:
            raise DataError("train_step needs at least one real image")
        fake = G.forward(self.sample_latent(n))

        D.zero_grad()
        loss_real, grad = self.discriminator_loss(D.forward(real), 1.0, weights)
        D.backward(grad, input_grad=False)
        loss_fake, grad = self.discriminator_loss(D.forward(fake), 0.0)
        D.backward(grad, input_grad=False)
        self.discriminator_optimizer.step()

        G.zero_grad()
        loss_g, grad = self.generator_loss(D.forward(fake))
        grad_fake = D.backward(grad, input_grad=True, param_grads=False)
        G.backward(grad_fake, input_grad=False)
        self.generator_optimizer.step()
        return loss_real + loss_fake, loss_g

    def generate(self, n, batch_size=1024):
        """``n`` generated images, shape ``(n, *generator.output_shape)``."""
        out = np.empty((n,) + self.generator.output_shape, self.generator.dtype)
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            out[start:stop] = self.generator.forward(self.sample_latent(stop - start),
                                                     training=False)
        return out
