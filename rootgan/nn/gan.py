"""One GAN training step and generation, on two separate networks.

The generator is trained through the discriminator's input gradient: two networks, two
optimisers, two losses; no combined network and no freezing flags. One seeded
``numpy.random.Generator`` draws the latent noise (and, through ``init.initialize``, the
weights), so a seed and a thread count fix every number.
"""

from contextlib import nullcontext

import numpy as np

from ..errors import DataError, LayoutError, OptionError, did_you_mean
from .averaging import WeightAverage
from .layers import Dense
from .losses import BinaryCrossEntropy, make_losses

LATENT_DISTRIBUTIONS = ("GAUSS", "UNIFORM")


def checked_packing(packing, auxiliary):
    """Packing as an int; an OptionError for a value below 1, or above 1 with an
    auxiliary head (which needs one output per image)."""
    if int(packing) != packing or packing < 1:
        raise OptionError(f"Packing must be an integer >= 1, got {packing!r}")
    if packing > 1 and auxiliary:
        raise OptionError(f"Packing={packing} judges {packing} images at once, but an "
                          f"auxiliary head (ACGAN) predicts each image's conditions; use "
                          f"Packing=1 with ACGAN, or CGAN")
    return int(packing)


class GAN:
    def __init__(self, generator, discriminator, generator_optimizer, discriminator_optimizer,
                 rng, latent_distribution="GAUSS", generator_loss="NONSATURATING",
                 discriminator_loss="BCE", generator_average=0.0, weight_clip=0.0,
                 label_smoothing=0.0, condition_dim=0, conditions_to_discriminator=True,
                 auxiliary=None, generator_penalty=None, image_features=None,
                 output_stage=None, packing=1):
        self.condition_dim = int(condition_dim)
        # PacGAN (Lin et al. 2018): the discriminator judges ``packing`` images at once,
        # stacked along its input's first axis, so a generator that drops a mode (makes
        # too few of some kind of image) shows in every pack, not in a rare single image
        self.packing = checked_packing(packing, auxiliary is not None)
        # a differentiable last step after the generator that fits each image to a target
        # taken from the real batch (SumFromData: the summed intensity); the generator gets
        # output_stage.inputs(targets) (output_stage.width values) after the conditions.
        # output_stage.targets(real) -> (n,) targets; output_stage(values, targets) ->
        # (fitted values, backward), backward(d loss / d fitted) -> d loss / d values, all
        # images flat (n, size)
        self.output_stage = output_stage
        # CGAN shows the discriminator the conditions; ACGAN makes it predict them instead
        self.conditions_to_discriminator = bool(conditions_to_discriminator)
        # values computed from each image that the discriminator sees beside it (CaloGAN's
        # total energy): image_features.width of them, image_features(images, conditions)
        # -> (values (n, width), backward), backward(d loss / d values) -> d loss / d images
        self.image_features = image_features
        self.attached_dim = (self.condition_dim if self.conditions_to_discriminator else 0) \
            + (image_features.width if image_features is not None else 0)
        self.condition_mode = self._condition_mode(generator, discriminator)
        # ACGAN: the discriminator's last layer has the auxiliary head's outputs after the
        # adversarial one (auxiliary.AuxiliaryHead)
        self.auxiliary = auxiliary
        if auxiliary is not None and not self.condition_dim:
            raise OptionError("an auxiliary head predicts conditions: give the conditions")
        width = 1 + (auxiliary.outputs if auxiliary is not None else 0)
        last = discriminator.layers[-1] if discriminator.layers else None
        if not (isinstance(last, Dense) and last.width == width and last.activation == "LINEAR"):
            raise LayoutError(
                f"the discriminator must end in DENSE|{width}|LINEAR (one logit per image: the "
                f"sigmoid lives in the loss"
                + (f"; then {width - 1} auxiliary outputs" if width > 1 else "")
                + f"); it ends in "
                f"{discriminator.texts[-1] if discriminator.layers else 'nothing'}"
            )
        # an extra generator loss on its own output: penalty(fake, conditions) returns
        # (loss, d loss / d fake) (EnergyLossWeight)
        self.generator_penalty = generator_penalty
        if generator.dtype != discriminator.dtype:
            raise LayoutError(f"the generator computes in {generator.dtype} but the "
                              f"discriminator in {discriminator.dtype}; use one dtype")
        for label, optimizer, network in (("generator", generator_optimizer, generator),
                                          ("discriminator", discriminator_optimizer,
                                           discriminator)):
            if optimizer.network is not network:
                raise LayoutError(f"the {label} optimizer was made for another network; "
                                  f"create it with the {label}")
        if latent_distribution not in LATENT_DISTRIBUTIONS:
            raise OptionError(f"LatentDistribution must be GAUSS or UNIFORM, got "
                              f"{latent_distribution!r}"
                              f"{did_you_mean(latent_distribution, LATENT_DISTRIBUTIONS)}")
        self.generator = generator
        self.discriminator = discriminator
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.rng = rng
        self.latent_distribution = latent_distribution
        stage_width = output_stage.width if output_stage is not None else 0
        self.latent_dim = int(np.prod(generator.input_shape)) - self.condition_dim - stage_width
        if self.latent_dim < 1:
            raise LayoutError(f"the generator's input ({int(np.prod(generator.input_shape))} "
                              f"values) must hold the latent vector, the "
                              f"{self.condition_dim} conditions"
                              + (f" and the output stage's input ({stage_width} "
                                 f"value{'s' if stage_width > 1 else ''})"
                                 if stage_width else ""))
        dtype = generator.dtype
        self.generator_loss, self.discriminator_loss = make_losses(
            generator_loss, discriminator_loss, dtype)
        self._noise = np.empty((0, self.latent_dim), dtype)
        # a moving average of the generator's weights, updated after each generator step
        self.generator_average = (WeightAverage(generator, generator_average)
                                  if generator_average else None)
        # WGAN's Lipschitz constraint by clipping: every critic parameter to [-c, c] after
        # each critic update (Arjovsky et al. 2017); 0 = off
        if not weight_clip >= 0:
            raise OptionError(f"WeightClip must be >= 0, got {weight_clip}")
        self.weight_clip = float(weight_clip)
        # one-sided label smoothing (Salimans et al. 2016): real images aim at 1 - s
        if label_smoothing:
            if not hasattr(self.discriminator_loss, "real_target") or not \
                    0 < label_smoothing < 1:
                raise OptionError(
                    f"LabelSmoothing={label_smoothing} needs a value in (0, 1) and a "
                    f"discriminator loss with labels (BCE or LEASTSQUARES), not "
                    f"{self.discriminator_loss.name}")
            self.discriminator_loss.real_target = 1.0 - float(label_smoothing)
        # std of the Gaussian noise added to the discriminator's inputs in training
        # (instance noise, Sonderby et al. 2016); the caller anneals it
        self.instance_noise = 0.0
        self._noise_real = self._noise_fake = np.empty(0, dtype)
        # mean discriminator output on the last real and generated batch: a probability for
        # BCE (sigmoid of the logit), the raw output for the other losses
        self.last_outputs = (float("nan"), float("nan"))
        # the auxiliary head's loss on the last real batch (ACGAN), not part of the returned
        # discriminator loss, which stays the adversarial one
        self.last_auxiliary_loss = None

    def _condition_mode(self, generator, discriminator):
        """How the discriminator sees the conditions (CGAN) and image features: appended to
        its flat input (``flat``, for a discriminator whose input is flat), or as constant
        channels of the image (``channels``); None when it sees neither."""
        image, given = generator.output_shape, discriminator.input_shape
        p = self.packing
        if given[0] % p:
            raise LayoutError(f"with Packing={p} the discriminator's input {given} must hold "
                              f"{p} images along its first axis; its first axis is not a "
                              f"multiple of {p}")
        given = (given[0] // p,) + given[1:]
        size = int(np.prod(image))
        k = self.attached_dim
        if k == 0:
            if image != given and size != int(np.prod(given)):
                raise LayoutError(f"the generator's output {image} does not match the "
                                  f"discriminator's input {discriminator.input_shape}"
                                  + (f" ({p} images of {given}: Packing={p})" if p > 1 else ""))
            return None
        if given == (size + k,):
            return "flat"
        # a flat generator output is the image reshaped: the discriminator's input says how
        if len(given) == 3 and given[0] > k and (given[0] - k) * given[1] * given[2] == size \
                and (len(image) == 1 or image == (given[0] - k,) + given[1:]):
            self._image_shape = (given[0] - k,) + given[1:]
            return "channels"
        what = (f"{k} conditions" if self.image_features is None else
                f"{k} attached values (conditions, image features)")
        depth = f"{(image[0] + k) * p}" if len(image) == 3 else f"d + {k}"
        if p > 1 and len(image) != 3:
            depth = f"{p} x ({depth})"
        channels = f"({depth}, h, w)"
        raise LayoutError(
            f"with {what} the discriminator's input must be the generator's output "
            f"{image} with them appended"
            + (f", {p} such images stacked (Packing={p})" if p > 1 else "")
            + f": flat ({(size + k) * p},) or as channels {channels}; it is "
            f"{discriminator.input_shape}")

    def _generator_input(self, n, conditions, rng=None, targets=None):
        latent = self.sample_latent(n, rng)
        parts = [latent]
        if self.condition_dim:
            parts.append(conditions)
        if self.output_stage is not None:
            parts.append(np.asarray(self.output_stage.inputs(targets), latent.dtype
                                    ).reshape(n, -1))
        if len(parts) == 1:
            return latent
        return np.ascontiguousarray(np.concatenate(parts, axis=1))

    def _checked_targets(self, targets, n):
        if self.output_stage is None:
            if targets is not None:
                raise DataError("this GAN has no output stage; give no targets")
            return None
        if targets is None:
            raise DataError("this GAN's output stage fits each image to a target (SumFromData: "
                            "its summed intensity); give one per image")
        targets = np.asarray(targets, np.float64).reshape(-1)
        if targets.shape != (n,) or not np.all(np.isfinite(targets)):
            raise DataError(f"the output stage needs {n} finite targets, one per image; got "
                            f"shape {targets.shape}" + ("" if targets.shape != (n,) else
                                                       " with NaN or inf"))
        return targets

    def _fake(self, n, conditions, targets, rng=None, training=True):
        """``n`` generated images for ``conditions`` and the output stage's ``targets``,
        and the stage's backward (None without a stage)."""
        values = self.generator.forward(self._generator_input(n, conditions, rng, targets),
                                        training=training)
        if self.output_stage is None:
            return values, None
        fitted, backward = self.output_stage(values.reshape(n, -1), targets)
        return np.ascontiguousarray(fitted, values.dtype).reshape(values.shape), backward

    def _with_conditions(self, images, conditions):
        """The discriminator's input: ``images`` with the conditions (CGAN) and the image
        features attached; and the features' backward function (None without them)."""
        if self.condition_mode is None:
            return images, None
        n = images.shape[0]
        attached, backward = [], None
        if self.conditions_to_discriminator and self.condition_dim:
            attached.append(conditions)
        if self.image_features is not None:
            values, backward = self.image_features(images, conditions)
            attached.append(np.asarray(values, images.dtype).reshape(n, -1))
        attached = np.concatenate(attached, axis=1) if len(attached) > 1 else attached[0]
        if self.condition_mode == "flat":
            return np.ascontiguousarray(np.concatenate([images.reshape(n, -1), attached],
                                                       axis=1)), backward
        _, h, w = self._image_shape
        planes = np.broadcast_to(attached[:, :, None, None], (n, self.attached_dim, h, w))
        return np.ascontiguousarray(np.concatenate(
            [images.reshape((n,) + self._image_shape), planes], axis=1)), backward

    def _packed(self, inputs):
        """The discriminator's input for ``inputs`` (n per-image inputs): each run of
        ``packing`` consecutive images stacked along the first axis (a reshape)."""
        if self.packing == 1:
            return inputs
        n = inputs.shape[0]
        return inputs.reshape((n // self.packing, self.packing * inputs.shape[1])
                              + inputs.shape[2:])

    def judge(self, inputs, partners=None):
        """The discriminator's outputs (inference) on per-image ``inputs`` (images with
        what is attached), one row per image. With packing each image is judged together
        with the same ``packing - 1`` ``partners`` (per-image inputs too, real images in
        practice), so its output depends on it alone."""
        if self.packing > 1:
            if partners is None or len(partners) != self.packing - 1:
                raise DataError(f"with Packing={self.packing} each image is judged with "
                                f"{self.packing - 1} partner images; give them")
            n, rest = inputs.shape[0], inputs.shape[2:]
            others = np.broadcast_to(partners.astype(inputs.dtype).reshape((1, -1) + rest),
                                     (n, partners.shape[0] * partners.shape[1]) + rest)
            inputs = np.concatenate([inputs, others], axis=1)
        return self.discriminator.forward(inputs, training=False)

    def _image_gradient(self, grad, features_backward=None):
        """The gradient reaching the image from the discriminator's input gradient: its own
        part, plus what flows back through the image features."""
        if self.condition_mode is None:
            return grad
        n = grad.shape[0]
        if self.condition_mode == "flat":
            flat = grad.reshape(n, -1)
            image, attached = flat[:, :-self.attached_dim], flat[:, -self.attached_dim:]
        else:
            depth = self._image_shape[0]
            planes = grad.reshape((n, -1) + self._image_shape[1:])
            image = planes[:, :depth].reshape(n, -1)
            # a constant plane's value reaches the network at every pixel: sum its gradient
            attached = planes[:, depth:].sum(axis=(2, 3))
        image = np.array(image, copy=True)
        if features_backward is not None:
            width = self.image_features.width
            image += features_backward(np.ascontiguousarray(attached[:, -width:])).reshape(
                image.shape).astype(image.dtype)
        return np.ascontiguousarray(image.reshape((n,) + self.generator.output_shape))

    def _checked_conditions(self, conditions, n):
        if not self.condition_dim:
            if conditions is not None:
                raise DataError("this GAN has no conditions; give none")
            return None
        conditions = np.ascontiguousarray(conditions, dtype=self.generator.dtype)
        if conditions.shape != (n, self.condition_dim) or not np.all(np.isfinite(conditions)):
            raise DataError(f"a conditional GAN needs finite conditions of shape "
                            f"({n}, {self.condition_dim}); got {conditions.shape}"
                            + ("" if conditions.shape != (n, self.condition_dim)
                               else " with NaN or inf"))
        return conditions

    def sample_latent(self, n, rng=None):
        """Latent vectors for ``n`` images (from ``rng``, default the training generator),
        in a buffer reused between calls."""
        rng = self.rng if rng is None else rng
        if self._noise.shape[0] < n:
            self._noise = np.empty((n, self.latent_dim), self.generator.dtype)
        noise = self._noise[:n]
        if self.latent_distribution == "GAUSS":
            rng.standard_normal(out=noise, dtype=noise.dtype)
        else:
            rng.random(out=noise, dtype=noise.dtype)
            noise *= 2
            noise -= 1
        return noise

    def train_step(self, real, weights=None, conditions=None):
        """One discriminator and one generator update on the batch ``real``, both on the
        same generated batch (benchmark-gan.md).

        ``weights`` (one per real image) weight the real images' discriminator loss;
        ``conditions`` (n, condition_dim), for a conditional GAN, are the real images'
        conditions, also given to the generator for its images (CGAN).
        Returns ``(discriminator loss, generator loss)``."""
        real, weights = self._checked(real, weights)
        conditions = self._checked_conditions(conditions, real.shape[0])
        fake, stage_backward = self._fake(real.shape[0], conditions, self._real_targets(real))
        loss_d = self._discriminator_update(real, weights, fake, conditions)
        return loss_d, self._generator_update(fake, conditions, stage_backward)

    def _real_targets(self, real):
        """The output stage's targets: those of the real batch, so each generated image
        is fitted to a real image's (with the same conditions)."""
        if self.output_stage is None:
            return None
        return self.output_stage.targets(real.reshape(real.shape[0], -1))

    def discriminator_step(self, real, weights=None, conditions=None):
        """A discriminator update alone, on a fresh generated batch (for several
        discriminator steps per generator step). Returns the discriminator loss."""
        real, weights = self._checked(real, weights)
        conditions = self._checked_conditions(conditions, real.shape[0])
        fake, _ = self._fake(real.shape[0], conditions, self._real_targets(real))
        return self._discriminator_update(real, weights, fake, conditions)

    def _checked(self, real, weights):
        real = np.ascontiguousarray(real, dtype=self.discriminator.dtype)
        n = real.shape[0]
        if n == 0:
            raise DataError("train_step needs at least one real image")
        if n % self.packing:
            raise DataError(f"with Packing={self.packing} the discriminator judges "
                            f"{self.packing} images at once: give a batch of a multiple of "
                            f"{self.packing} images, not {n}")
        if weights is not None:
            weights = np.ascontiguousarray(weights, dtype=self.discriminator.dtype)
            if weights.shape != (n,) or not np.all(np.isfinite(weights)):
                raise DataError(f"train_step needs one finite weight per real image, shape "
                                f"({n},); got shape {weights.shape}"
                                + ("" if weights.shape != (n,) else " with NaN or inf"))
        return real, weights

    def _mean_output(self, outputs):
        outputs = outputs[:, 0]
        if isinstance(self.discriminator_loss, BinaryCrossEntropy):
            return float(np.mean(1 / (1 + np.exp(-np.clip(outputs, -60, 60)))))
        return float(np.mean(outputs))

    def _noisy(self, images, which):
        """``images`` plus instance noise (a reused buffer), or ``images`` without it."""
        if not self.instance_noise:
            return images
        buffer = self._noise_real if which == "real" else self._noise_fake
        if buffer.size < images.size:
            buffer = np.empty(images.size, images.dtype)
            if which == "real":
                self._noise_real = buffer
            else:
                self._noise_fake = buffer
        noisy = buffer[:images.size].reshape(images.shape)
        self.rng.standard_normal(out=noisy, dtype=noisy.dtype)
        noisy *= images.dtype.type(self.instance_noise)
        noisy += images
        return noisy

    def _adversarial_and_auxiliary(self, outputs, loss, conditions, weights=None):
        """The gradient of ``loss`` (a function of the adversarial outputs) plus, with an
        auxiliary head, its loss for ``conditions``; returns (adversarial loss, auxiliary
        loss or None, gradient for the whole output)."""
        if self.auxiliary is None:
            value, grad = loss(outputs)
            return value, None, grad
        value, adversarial_grad = loss(np.ascontiguousarray(outputs[:, :1]))
        auxiliary, auxiliary_grad = self.auxiliary.loss(outputs[:, 1:], conditions, weights)
        grad = np.empty_like(outputs)
        grad[:, :1] = adversarial_grad
        grad[:, 1:] = auxiliary_grad
        return value, auxiliary, grad

    def _discriminator_update(self, real, weights, fake, conditions=None):
        D = self.discriminator
        real, fake = self._noisy(real, "real"), self._noisy(fake, "fake")
        real = self._packed(self._with_conditions(real, conditions)[0])
        fake = self._packed(self._with_conditions(fake, conditions)[0])
        if weights is not None and self.packing > 1:
            weights = np.ascontiguousarray(weights.reshape(-1, self.packing).mean(axis=1))
        D.zero_grad()
        outputs = D.forward(real)
        real_mean = self._mean_output(outputs)
        # the auxiliary head learns the conditions of real images only: generated ones are
        # unrealistic early in training and would teach it their mistakes
        loss_real, auxiliary, grad = self._adversarial_and_auxiliary(
            outputs, lambda o: self.discriminator_loss.real(o, weights), conditions, weights)
        D.backward(grad, input_grad=False)
        outputs = D.forward(fake)
        fake_mean = self._mean_output(outputs)
        loss_fake, grad = self.discriminator_loss.fake(np.ascontiguousarray(outputs[:, :1]))
        if self.auxiliary is not None:
            grad = np.concatenate([grad, np.zeros((grad.shape[0], self.auxiliary.outputs),
                                                  grad.dtype)], axis=1)
        D.backward(grad, input_grad=False)
        self.discriminator_optimizer.step()
        if self.weight_clip:
            np.clip(D.parameters, -self.weight_clip, self.weight_clip, out=D.parameters)
        self.last_outputs = (real_mean, fake_mean)
        self.last_auxiliary_loss = auxiliary
        return loss_real + loss_fake

    def _generator_update(self, fake, conditions=None, stage_backward=None):
        """Generator update through the discriminator's input gradient (and the output
        stage's ``stage_backward``); ``fake`` must come from the generator's last output."""
        G, D = self.generator, self.discriminator
        G.zero_grad()
        # the noise is additive: the gradient reaching the noisy image is fake's gradient
        seen, features_backward = self._with_conditions(self._noisy(fake, "fake"), conditions)
        loss_g, auxiliary, grad = self._adversarial_and_auxiliary(
            D.forward(self._packed(seen)), self.generator_loss, conditions)
        grad_seen = D.backward(grad, input_grad=True, param_grads=False).reshape(seen.shape)
        grad_fake = self._image_gradient(grad_seen, features_backward)
        loss_g += auxiliary or 0.0
        if self.generator_penalty is not None:
            penalty, penalty_grad = self.generator_penalty(fake, conditions)
            loss_g += penalty
            grad_fake = grad_fake + penalty_grad.reshape(grad_fake.shape).astype(
                grad_fake.dtype)
        if stage_backward is not None:
            grad_fake = np.ascontiguousarray(
                stage_backward(grad_fake.reshape(grad_fake.shape[0], -1)).reshape(
                    grad_fake.shape), grad_fake.dtype)
        G.backward(grad_fake, input_grad=False)
        self.generator_optimizer.step()
        if self.generator_average is not None and np.isfinite(loss_g):
            self.generator_average.update()  # a diverged step must not reach the average
        return loss_g

    def averaged_generator(self):
        """A context in which the generator computes with its averaged weights (with no
        average: its own weights)."""
        if self.generator_average is None:
            return nullcontext()
        return self.generator_average.applied()

    def generate(self, n, batch_size=1024, rng=None, conditions=None, targets=None):
        """``n`` generated images, shape ``(n, *generator.output_shape)``; the noise comes
        from ``rng`` (default: the training generator, whose sequence this advances); a
        conditional GAN needs ``conditions`` of shape (n, condition_dim), one with an output
        stage ``targets`` of shape (n,)."""
        if int(n) != n or n < 0 or int(batch_size) != batch_size or batch_size < 1:
            raise DataError(f"generate needs n >= 0 and batch_size >= 1 (integers); got "
                            f"n={n!r}, batch_size={batch_size!r}")
        n, batch_size = int(n), int(batch_size)
        conditions = self._checked_conditions(conditions, n)
        targets = self._checked_targets(targets, n)
        out = np.empty((n,) + self.generator.output_shape, self.generator.dtype)
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            part = None if conditions is None else conditions[start:stop]
            out[start:stop], _ = self._fake(stop - start, part, None if targets is None else
                                            targets[start:stop], rng, training=False)
        return out
