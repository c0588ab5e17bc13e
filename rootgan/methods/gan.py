"""MethodGAN: a generative adversarial network booked with a TMVA option string.

Two networks, two optimisers, two losses (a matched pair): the generator is trained through
the discriminator's input gradient (``rootgan.nn.GAN``). Each epoch streams the training
events in shuffled batches, the pixels passed through ``VarTransform``; after each epoch a
selection metric on held-out validation events picks the best epoch, which the weights file
keeps. Checkpoints let a killed job resume to the same result. Options and their meaning:
``shared/reference/gan-options.md``.
"""

import json
import math
import os
import time

import numpy as np
from scipy.stats import wasserstein_distance

from ..errors import DataError, OptionError, WeightsError
from ..evaluation.observables import Geometry, measure
from ..evaluation.plots import plot_evaluation
from ..evaluation.report import CONDITION_BINS, condition_edges, evaluate
from ..io.output import staged, write_tree
from ..io.weights import WeightsContent, environment_info, read_weights, write_weights
from ..nn import GAN, build_network, initialize, make_optimizer
from ..nn.auxiliary import AuxiliaryHead, Classification, Regression
from ..nn.gan import checked_packing
from ..nn.layout import split_layout
from ..nn.losses import make_losses
from ..options import Option, OptionSet
from .base import GAN_KIND, MethodBase, register_method
from .conditions import ConditionSpace
from .quanta import whole_quanta
from .totals import SumSampler
from .features import ImageFeatures, MassFeature, SumFeature
from .transforms import USES_SCALE_BY, PixelTransform, SumNormalisation

COLLAPSE_LOSS = 0.01     # a discriminator loss below this ...
COLLAPSE_EPOCHS = 3      # ... for this many epochs in a row is a collapse
GUARD_CHECK_EVENTS = 256  # generated each epoch to see whether the output went empty
GUARD_LEARNING_RATE = 0.5  # the collapse guard multiplies D's learning rate by this
GUARD_REACTIONS = 5        # after this many the guard only reports
# what SelectBy=PHYSICS compares, per Geometry: the event observables that show a jet's
# substructure or a shower's shape besides its intensity and sparsity
SELECTION_OBSERVABLES = {
    "IMAGE": ("total intensity", "non-zero pixels"),
    "JET": ("total intensity", "non-zero pixels", "mass", "tau21", "width x", "width y"),
    "CALO": ("total intensity", "non-zero pixels", "width x", "width y", "core fraction"),
}
# losses whose value says the discriminator wins (a Wasserstein critic's has no floor)
BOUNDED_LOSSES = ("BCE", "LEASTSQUARES", "HINGE")
# a discriminator whose first layer (after any BNORM or DROPOUT) is spatial sees the
# conditions as constant channels (CGAN); any other gets them appended to its flat input
SPATIAL_WORDS = ("CONV", "LOCAL", "MAXPOOL", "UPSAMPLE", "TRANSCONV")

PHASE_OPTIONS = OptionSet("TrainingStrategy", [
    Option("LearningRate", "float", 2e-4, "step size", minimum=0),
    Option("Optimizer", "enum", "ADAM", "update rule",
           allowed=("SGD", "ADAM", "RMSPROP", "ADAGRAD", "ADADELTA")),
    Option("Momentum", "float", 0.0, "SGD and RMSPROP momentum", minimum=0),
    Option("Beta1", "float", 0.5, "Adam's first-moment decay", minimum=0),
    Option("Beta2", "float", 0.999, "Adam's second-moment decay", minimum=0),
    Option("WeightDecay", "float", 0.0, "strength of Regularization; with NONE, PyTorch's "
           "weight decay (g += WeightDecay * w)", minimum=0),
    Option("Regularization", "enum", "NONE", "penalty on the weights: L1 (WeightDecay * "
           "sum|w|), L2 (WeightDecay * sum w^2) or NONE", allowed=("NONE", "L1", "L2")),
    Option("BatchSize", "int", 64, "images per step", minimum=1, per_part=False),
    Option("MaxEpochs", "int", 30, "epochs of this phase", minimum=1, per_part=False),
    Option("ConvergenceSteps", "int", 0, "stop the phase when the selection metric has not "
           "improved for this many epochs (0: off)", minimum=0, per_part=False),
    Option("MaxTime", "float", 0.0, "stop the phase after this many seconds of training, "
           "at the end of an epoch (0: off; MaxEpochs still caps it)", minimum=0,
           per_part=False),
], prefixes=("Generator", "Discriminator"))


def _validation_size(text):
    """'10%', '0.1' (a fraction) or '500' (a count)."""
    value = text[:-1] if text.endswith("%") else text
    try:
        number = float(value)
    except ValueError:
        raise ValueError("expected a fraction (10% or 0.1) or a count (500)") from None
    if text.endswith("%"):
        number /= 100
        if number >= 1:
            raise ValueError("a percentage must be below 100%")
    if number < 0 or (number >= 1 and number != int(number)) or number != number:
        raise ValueError("expected a fraction below 1 (10% or 0.1) or a whole count (500)")
    return number


def _shape(text, option):
    try:
        values = tuple(int(v) for v in text.split("|"))
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise OptionError(f"{option}={text} must be positive integers separated by '|', "
                          f"e.g. 1|25|25")
    return values


class MethodGAN(MethodBase):
    type_name = "GAN"

    @classmethod
    def declared_options(cls):
        return [
            Option("InputLayout", "string", None, "image shape d|h|w (d*h*w = the DataLoader's "
                   "array size); with Layout also 1|1|<latent>##d|h|w"),
            Option("LatentDim", "int", 64, "size of the generator's noise vector", minimum=1),
            Option("LatentDistribution", "enum", "GAUSS", "noise distribution",
                   allowed=("GAUSS", "UNIFORM")),
            Option("GeneratorLayout", "string", None, "generator layers (layout grammar)"),
            Option("DiscriminatorLayout", "string", None, "discriminator layers, ending in "
                   "DENSE|1|LINEAR"),
            Option("Layout", "string", None, "<generator>##<discriminator>, the unreleased "
                   "TMVA MethodGAN form of the two above"),
            Option("LeakyReluSlope", "float", 0.2, "slope of every LEAKYRELU", minimum=0),
            Option("WeightInitialization", "enum", "XAVIERUNIFORM", "weight initialiser",
                   allowed=("XAVIER", "XAVIERUNIFORM", "GAUSS", "UNIFORM", "HE")),
            Option("GANType", "enum", "GAN", "GAN variant: GAN, LSGAN (least squares), WGAN "
                   "(Wasserstein), CGAN (conditional: needs AddCondition), ACGAN (CGAN whose "
                   "discriminator predicts the conditions)",
                   allowed=("GAN", "CGAN", "ACGAN", "WGAN", "LSGAN")),
            Option("GeneratorLoss", "enum", None, "generator loss (default from GANType)",
                   allowed=("NONSATURATING", "MINIMAX", "LEASTSQUARES", "WASSERSTEIN", "HINGE")),
            Option("DiscriminatorLoss", "enum", None, "discriminator loss (default from "
                   "GANType)", allowed=("BCE", "LEASTSQUARES", "WASSERSTEIN", "HINGE")),
            Option("DiscriminatorSteps", "int", None, "discriminator (critic) updates per "
                   "generator update (default 1; WGAN 5)", minimum=1),
            Option("LabelSmoothing", "float", 0.0, "one-sided label smoothing: real images "
                   "aim at 1 - LabelSmoothing (BCE and LEASTSQUARES losses)", minimum=0),
            Option("InstanceNoise", "float", 0.0, "std of Gaussian noise added to the "
                   "discriminator's inputs (transformed pixels), falling linearly to 0 over "
                   "the training", minimum=0),
            Option("AuxiliaryWeight", "float", 1.0, "ACGAN: weight of the auxiliary "
                   "condition loss in both networks' losses", minimum=0),
            Option("EnergyLossWeight", "float", 0.0, "weight of the penalty mean(|sum(pixels) "
                   "- E| / E) on generated images, E the EnergyCondition (CaloGAN); 0 = off",
                   minimum=0),
            Option("EnergyCondition", "string", None, "the condition EnergyLossWeight "
                   "compares the image sum with (default: the only condition)"),
            Option("SumFeature", "bool", False, "the discriminator also sees each image's "
                   "summed intensity over ScaleBy, relative to the training mean (CaloGAN's "
                   "total-energy feature)"),
            Option("MassFeature", "bool", False, "the discriminator also sees each jet "
                   "image's mass over its summed pT (pixels as massless particles at their "
                   "eta, phi; Geometry=JET), relative to the training mean"),
            Option("Packing", "int", 1, "images the discriminator judges at once (PacGAN): "
                   "its input holds this many images (with what is attached) stacked along "
                   "the first axis, so a generator that drops a kind of image is seen in every "
                   "pack; 1 = off", minimum=1),
            Option("SumFromData", "bool", False, "each generated image is scaled to a summed "
                   "intensity over ScaleBy drawn from the training images with the nearest "
                   "conditions, which the generator is given: the GAN learns the shape, the "
                   "data give the total"),
            Option("Symmetry", "enum", "NONE", "symmetries of the real images, which each "
                   "training batch gets at random so the discriminator sees more distinct "
                   "real images: REFLECT (x -> -x and y -> -y, each with probability 1/2), "
                   "SQUARE (REFLECT and x <-> y: the 8 symmetries of a square image, e.g. "
                   "showers at normal incidence); NONE for images with a preferred "
                   "orientation (preprocessed jets)", allowed=("NONE", "REFLECT", "SQUARE")),
            Option("WeightClip", "float", None, "bound of the critic's weights, clipped after "
                   "each critic update; 0 = off (default 0; with the WASSERSTEIN loss 0.01 "
                   "unless a discriminator layer uses SPECTRALNORM)", minimum=0),
            Option("TrainingStrategy", "phases", None, "training phases", phases=PHASE_OPTIONS),
            Option("RandomSeed", "int", 0, "seeds everything; -1 draws a seed and records it",
                   minimum=-1),
            Option("VarTransform", "enum", "None", "pixel transform, inverted on output",
                   allowed=("None", "N", "Log", "Scale")),
            Option("PixelScale", "float", 1.0, "scale of the Log transform (input units)",
                   minimum=0),
            Option("ScaleBy", "string", "1.0", "Scale and Log transforms: divide the pixels by a "
                   "number or by a condition (the jet pT, the incident energy) first"),
            Option("PixelFloor", "float", 0.0, "generated pixels below it are written as 0",
                   minimum=0),
            Option("PixelQuantum", "float", 0.0, "generated pixels become whole numbers of "
                   "quanta of about this size (pixel units; each image's sum kept, a pixel's "
                   "expectation kept), as a counting detector's (GFlash spots, ADC counts); "
                   "applied before PixelFloor; 0 = off", minimum=0),
            Option("ValidationSize", "custom", 0.1, "fraction (10%, 0.1) or count of training "
                   "events held out to pick the best epoch; 0 = none", convert=_validation_size,
                   expects="fraction or count"),
            Option("SelectBy", "enum", "PHYSICS", "PHYSICS, LOSS or LAST (see the README)",
                   allowed=("PHYSICS", "LOSS", "LAST")),
            Option("NGenerate", "int", None, "events generated by TestAllMethods (default: the "
                   "test-set size)", minimum=1),
            Option("GeneratorAverage", "float", 0.99, "decay of the moving average of the "
                   "generator's weights that selection, generation and the weights file use; "
                   "0 = the last weights", minimum=0),
            Option("Geometry", "enum", "IMAGE", "pixel geometry of EvaluateAllMethods' "
                   "observables: IMAGE, JET (eta, phi over [-1.25, 1.25]; mass, tau21), CALO "
                   "(5 mm cells; core fraction)", allowed=("IMAGE", "JET", "CALO")),
            Option("CollapseGuard", "bool", True, "when the discriminator wins outright (its "
                   "loss below 0.01 for 3 epochs) or the generated images are empty, go back "
                   "to the best epoch and halve the discriminator's learning rate"),
            Option("CheckpointEvery", "int", 1, "epochs between checkpoints; 0 = none",
                   minimum=0),
            Option("Resume", "bool", False, "continue from this job's latest checkpoint"),
        ]

    def __init__(self, job, title, variables, option_text="", keywords=None):
        super().__init__(job, title, variables, option_text, keywords)
        o = self.options
        arrays = variables.get("arrays", {})
        if len(arrays) != 1:
            raise OptionError(f"GAN {title!r} generates one image per event: declare exactly one "
                              f"AddVariablesArray (found {len(arrays)})")
        self.image_name, image_size = next(iter(arrays.items()))
        self.conditions = ConditionSpace(variables.get("conditions", []))
        if o["GANType"] in ("CGAN", "ACGAN") and not len(self.conditions):
            raise OptionError(f"GANType={o['GANType']} generates images for given conditions, "
                              f"but the DataLoader declares none; add one with "
                              f"loader.AddCondition('energy') (a branch or expression)")
        if o["SelectBy"] != "LAST" and o["ValidationSize"] == 0:
            raise OptionError("ValidationSize=0 leaves nothing to select the best epoch with; "
                              "use SelectBy=LAST or a ValidationSize above 0")
        if o["SelectBy"] == "LAST" and any(p["ConvergenceSteps"] for p in o["TrainingStrategy"]):
            raise OptionError("ConvergenceSteps needs a selection metric to watch; use "
                              "SelectBy=PHYSICS or LOSS, or ConvergenceSteps=0")
        if o["GeneratorAverage"] >= 1:
            raise OptionError(f"GeneratorAverage={o['GeneratorAverage']} must be below 1 (a "
                              f"decay per step, e.g. 0.999), or 0 for no averaging")
        self.losses = self._losses()
        checked_packing(o["Packing"], self.auxiliary)
        for number, phase in enumerate(o["TrainingStrategy"], 1):
            if phase["BatchSize"] % o["Packing"]:
                raise OptionError(f"TrainingStrategy phase {number}: BatchSize="
                                  f"{phase['BatchSize']} is not a multiple of Packing="
                                  f"{o['Packing']}, so every batch would lose images; give a "
                                  f"BatchSize that Packing divides")
        if o["LabelSmoothing"] and (self.losses[1] not in ("BCE", "LEASTSQUARES")
                                    or not o["LabelSmoothing"] < 1):
            raise OptionError(f"LabelSmoothing={o['LabelSmoothing']} needs a value below 1 and "
                              f"a discriminator loss with labels (BCE or LEASTSQUARES), not "
                              f"{self.losses[1]}")
        self.latent_dim, self.image_shape, g_layout, d_layout = self._architecture()
        if int(np.prod(self.image_shape)) != image_size:
            raise OptionError(f"InputLayout={'|'.join(map(str, self.image_shape))} has "
                              f"{int(np.prod(self.image_shape))} values, but the DataLoader's "
                              f"{self.image_name!r} has {image_size}")
        if o["Symmetry"] == "SQUARE" and self.image_shape[1] != self.image_shape[2]:
            raise OptionError(f"Symmetry=SQUARE swaps x and y, which needs square images; "
                              f"InputLayout={'|'.join(map(str, self.image_shape))} is not: use "
                              f"Symmetry=REFLECT")
        self.generator_layout, self.discriminator_layout = g_layout, d_layout
        self.generator = build_network(
            g_layout, (self.latent_dim + len(self.conditions) + int(o["SumFromData"]),),
            o["LeakyReluSlope"], name="generator")
        # until the training conditions are known, an ACGAN head regresses every condition
        self.discriminator = self._build_discriminator([None] * len(self.conditions))
        if int(np.prod(self.generator.output_shape)) != image_size:
            raise OptionError(f"the generator's output {self.generator.output_shape} does not "
                              f"hold the {image_size} values of an image "
                              f"{'|'.join(map(str, self.image_shape))}")
        self.transform = PixelTransform(o["VarTransform"], o["PixelScale"], o["ScaleBy"])
        if "ScaleBy" in o.given and o["VarTransform"] not in USES_SCALE_BY:
            raise OptionError(f"ScaleBy divides the pixels of VarTransform=Log or Scale; this "
                              f"GAN has VarTransform={o['VarTransform']}: remove ScaleBy or "
                              f"use one of those")
        if self.transform.condition is not None and \
                self.transform.condition not in self.conditions.names:
            raise OptionError(f"ScaleBy={o['ScaleBy']} is neither a number nor a condition "
                              f"of the DataLoader (conditions: "
                              f"{', '.join(self.conditions.names) or 'none'})")
        self.energy_condition = self._energy_condition()
        if o["MassFeature"] and o["Geometry"] != "JET":
            raise OptionError(f"MassFeature needs each pixel's (eta, phi), which Geometry=JET "
                              f"gives; this GAN has Geometry={o['Geometry']}: add "
                              f"Geometry=JET (jet images over [-1.25, 1.25]) or remove "
                              f"MassFeature")
        # the training jets' mean mass over summed pT (MassFeature's scale; set in training)
        self.mass_mean = 1.0
        for other, what in (("EnergyLossWeight", "penalises a wrong sum"),
                            ("SumFeature", "shows the discriminator the sum")):
            if o["SumFromData"] and o[other]:
                raise OptionError(f"SumFromData gives each generated image the sum of a real "
                                  f"one, so {other}, which {what}, has nothing left to do; "
                                  f"remove one of them")
        if "AuxiliaryWeight" in o.given and not self.auxiliary:
            raise OptionError(f"AuxiliaryWeight weighs the auxiliary head of GANType=ACGAN; "
                              f"this GAN is GANType={o['GANType']}: remove it or use ACGAN")
        self.seed = o["RandomSeed"]
        self.sums = None  # SumFromData's SumSampler, fitted in training
        # Packing: the real images (and conditions) each image's response is judged with
        self.packing_partners = None
        self.history = {name: [] for name in HISTORY}
        self.best_epoch = None
        self._test_images = None  # the first generated events of TestAllMethods
        self._evaluation = None

    # -- configuration -------------------------------------------------------------------
    def _energy_condition(self):
        o = self.options
        name = o["EnergyCondition"]
        if name is not None and name not in self.conditions.names:
            raise OptionError(f"EnergyCondition={name} is not a condition of the DataLoader "
                              f"(conditions: {', '.join(self.conditions.names) or 'none'})")
        if not o["EnergyLossWeight"]:
            if name is not None:
                raise OptionError(f"EnergyCondition={name} names the condition of the energy "
                                  f"penalty, which is off; give EnergyLossWeight (e.g. 1) or "
                                  f"remove EnergyCondition")
            return None
        if name is None:
            if len(self.conditions) != 1:
                raise OptionError(
                    f"EnergyLossWeight compares each image's sum with its energy condition; "
                    f"the DataLoader declares {len(self.conditions)} conditions"
                    + (f" ({', '.join(self.conditions.names)}): name one with "
                       f"EnergyCondition=" if len(self.conditions) else
                       ": add it with loader.AddCondition('energy')"))
            name = self.conditions.names[0]
        return name

    @property
    def auxiliary(self):
        """ACGAN: the discriminator predicts the conditions it is not shown."""
        return self.options["GANType"] == "ACGAN"

    def _build_discriminator(self, classes):
        """The discriminator for the conditions' class lists (ACGAN: its last layer gets one
        output per regressed condition and one per class of a class condition); a CGAN's
        sees the conditions as channels or appended to its flat input."""
        o = self.options
        texts = split_layout(self.discriminator_layout)
        # attached to the image: the conditions (CGAN), the summed intensity and the mass
        k = (0 if self.auxiliary else len(self.conditions)) + int(o["SumFeature"]) \
            + int(o["MassFeature"])
        shape = self.image_shape
        if self.auxiliary:
            extra = sum(1 if c is None else len(c) for c in classes)
            fields = texts[-1].split("|")
            if fields[:3] != ["DENSE", "1", "LINEAR"]:
                raise OptionError(f"GANType=ACGAN: DiscriminatorLayout must end in "
                                  f"DENSE|1|LINEAR like any discriminator (rootgan adds the "
                                  f"auxiliary outputs to that layer itself); it ends in "
                                  f"{texts[-1]}")
            texts[-1] = "|".join(["DENSE", str(1 + extra)] + fields[2:])
        if k:
            words = [text.split("|")[0] for text in texts]
            first = next((w for w in words if w not in ("BNORM", "DROPOUT")), "")
            shape = ((shape[0] + k,) + shape[1:] if first in SPATIAL_WORDS
                     else (int(np.prod(shape)) + k,))
        shape = (shape[0] * o["Packing"],) + tuple(shape[1:])
        return build_network(",".join(texts), shape, o["LeakyReluSlope"], name="discriminator")

    def _auxiliary_head(self):
        if not self.auxiliary:
            return None
        tasks = [Regression() if self.conditions.classes[i] is None else
                 Classification(self.conditions.standardised_classes(i))
                 for i in range(len(self.conditions))]
        return AuxiliaryHead(tasks, self.options["AuxiliaryWeight"])

    def _losses(self):
        o = self.options
        defaults = {"GAN": ("NONSATURATING", "BCE"), "LSGAN": ("LEASTSQUARES", "LEASTSQUARES"),
                    "WGAN": ("WASSERSTEIN", "WASSERSTEIN"), "CGAN": ("NONSATURATING", "BCE"),
                    "ACGAN": ("NONSATURATING", "BCE")}
        generator, discriminator = defaults[o["GANType"]]
        generator = o["GeneratorLoss"] or generator
        discriminator = o["DiscriminatorLoss"] or discriminator
        make_losses(generator, discriminator)  # a matched pair, or an OptionError now
        return generator, discriminator

    def _architecture(self):
        o = self.options
        if o["Layout"] is not None:
            if o["GeneratorLayout"] is not None or o["DiscriminatorLayout"] is not None:
                raise OptionError("give either Layout=<generator>##<discriminator> or "
                                  "GeneratorLayout and DiscriminatorLayout, not both")
            parts = o["Layout"].split("##")
            if len(parts) != 2:
                raise OptionError(f"Layout needs two parts separated by '##' (generator "
                                  f"first); got {len(parts)}")
            g_layout, d_layout = parts
        else:
            missing = [n for n in ("GeneratorLayout", "DiscriminatorLayout") if o[n] is None]
            if missing:
                raise OptionError(f"required option{'s' if len(missing) > 1 else ''} "
                                  f"{' and '.join(missing)} not given (or give "
                                  f"Layout=<generator>##<discriminator>)")
            g_layout, d_layout = o["GeneratorLayout"], o["DiscriminatorLayout"]
        if o["InputLayout"] is None:
            raise OptionError("required option InputLayout not given: the image shape d|h|w, "
                              "e.g. InputLayout=1|25|25")
        latent = o["LatentDim"]
        parts = o["InputLayout"].split("##")
        if len(parts) == 2:
            if o["Layout"] is None:
                raise OptionError("InputLayout=<latent>##<image> goes with Layout=...##...; "
                                  "with GeneratorLayout give InputLayout=d|h|w")
            latent = int(np.prod(_shape(parts[0], "InputLayout")))
            if "LatentDim" in o.given and o["LatentDim"] != latent:
                raise OptionError(f"LatentDim={o['LatentDim']} disagrees with InputLayout's "
                                  f"latent part {parts[0]} ({latent} values)")
        elif len(parts) != 1:
            raise OptionError("InputLayout takes d|h|w, or 1|1|<latent>##d|h|w with Layout")
        image = _shape(parts[-1], "InputLayout")
        if len(image) != 3:
            raise OptionError(f"InputLayout={parts[-1]} must be depth|height|width")
        return latent, image, g_layout, d_layout

    # -- training ------------------------------------------------------------------------
    def _new_gan(self, rng):
        o = self.options
        phase = o["TrainingStrategy"][0]
        initialize(self.generator, rng, o["WeightInitialization"])
        initialize(self.discriminator, rng, o["WeightInitialization"])
        return GAN(self.generator, self.discriminator,
                   self._optimizer(self.generator, phase.for_part("Generator")),
                   self._optimizer(self.discriminator, phase.for_part("Discriminator")),
                   rng, o["LatentDistribution"], *self.losses,
                   generator_average=o["GeneratorAverage"], weight_clip=self.weight_clip,
                   label_smoothing=o["LabelSmoothing"], **self._condition_settings())

    def _condition_settings(self):
        """The engine GAN's condition arguments."""
        return {"condition_dim": len(self.conditions),
                "conditions_to_discriminator": not self.auxiliary,
                "auxiliary": self._auxiliary_head(),
                "generator_penalty": (self._energy_penalty if self.energy_condition else None),
                "image_features": self._image_features(),
                "output_stage": SumNormalisation(self.transform) if self.options["SumFromData"]
                else None,
                "packing": self.options["Packing"]}

    def _image_features(self):
        """What the discriminator sees besides the pixels (SumFeature, MassFeature)."""
        parts = []
        if self.options["SumFeature"]:
            parts.append(SumFeature(self.transform))
        if self.options["MassFeature"]:
            parts.append(MassFeature(self.transform, self.image_shape, self.mass_mean))
        return None if not parts else parts[0] if len(parts) == 1 else ImageFeatures(parts)

    def _energy_penalty(self, fake, conditions):
        """EnergyLossWeight x mean(|sum of pixels - E| / E) over generated images (pixels
        after the inverse transform, E the energy condition) and its gradient with respect
        to the generator's output values."""
        n = fake.shape[0]
        values = fake.reshape(n, -1)
        raw = self.conditions.raw(conditions)
        events = self.conditions.as_events(raw)
        energy = events[self.energy_condition]
        if np.any(energy <= 0):
            raise DataError(f"EnergyLossWeight: the condition {self.energy_condition} must be "
                            f"> 0 for every event (it divides the mismatch)")
        mismatch = (self.transform.inverse(values, events).sum(axis=1, dtype=np.float64)
                    - energy) / energy
        weight = self.options["EnergyLossWeight"]
        grad = (weight / n) * (np.sign(mismatch) / energy)[:, None] \
            * self.transform.inverse_slope(values, events)
        return float(weight * np.mean(np.abs(mismatch))), grad

    @staticmethod
    def _optimizer(network, settings):
        name = settings["Optimizer"]
        extra = {"ADAM": {"beta1": settings["Beta1"], "beta2": settings["Beta2"]},
                 "SGD": {"momentum": settings["Momentum"]},
                 "RMSPROP": {"momentum": settings["Momentum"]}}.get(name, {})
        return make_optimizer(name, network, learning_rate=settings["LearningRate"],
                              regularization=settings["Regularization"],
                              weight_decay=settings["WeightDecay"], **extra)

    def _split_validation(self, training):
        size = self.options["ValidationSize"]
        count = int(round(size * len(training))) if size < 1 else int(size)
        if count == 0 and self.options["SelectBy"] != "LAST":
            raise DataError(f"ValidationSize={size} holds out no event of the "
                            f"{len(training)} training events, so SelectBy="
                            f"{self.options['SelectBy']} has nothing to measure; hold out more "
                            f"or use SelectBy=LAST")
        if count >= len(training):
            raise DataError(f"ValidationSize={size} holds out {count} of the {len(training)} "
                            f"training events, leaving none to train on")
        order = np.random.default_rng([self.seed, 2]).permutation(len(training))
        return (training.subset("training", order[count:]),
                training.subset("validation", order[:count]) if count else None)

    def _fit_conditions(self, train_split, log):
        """The conditions' statistics (an ACGAN's discriminator gets its class outputs)."""
        if not len(self.conditions):
            return
        self.conditions.fit(train_split, self.seed)
        log.info(self.title, f"{self.options['GANType']} conditioned on "
                 f"{self.conditions.describe()}")
        for use, name in (("EnergyLossWeight divides by", self.energy_condition),
                          ("ScaleBy divides the pixels by", self.transform.condition)):
            if name is None:
                continue
            index = self.conditions.names.index(name)
            if self.conditions.nonpositive[index]:
                raise DataError(f"{use} the condition {name}, which must be > 0; "
                                f"{self.conditions.nonpositive[index]} training events have "
                                f"{name} <= 0 (smallest {self.conditions.minimum[index]:.6g}); "
                                f"select them away with a cut such as '{name} > 0' in "
                                f"PrepareTrainingAndTestTree")
        if self.auxiliary:
            self.discriminator = self._build_discriminator(self.conditions.classes)

    def _fit_transform(self, train_split, log):
        """The training range of the pixels (over ScaleBy): the N and Log scale, and the
        bounds of every generated pixel; the images' summed intensity (the sum feature's
        scale, SumFromData's sampler)."""
        maximum, minimum, largest_pixel = -np.inf, np.inf, -np.inf
        sums, conditions, masses = [], [], []
        mass = MassFeature(self.transform, self.image_shape) if self.options["MassFeature"] \
            else None
        for events in train_split.read_chunks():
            ratios = self.transform.ratios(events[self.image_name], events)
            if mass is not None:
                masses.append(mass.ratios(np.asarray(ratios, np.float64))[0])
            maximum, minimum = max(maximum, ratios.max()), min(minimum, ratios.min())
            largest_pixel = max(largest_pixel, float(events[self.image_name].max()))
            sums.append(ratios.sum(axis=1))
            if len(self.conditions):
                conditions.append(self.conditions.from_events(events))
        if self.transform.needs_maximum and not maximum > 0:
            raise DataError(f"VarTransform={self.transform.kind} needs a positive largest "
                            f"pixel; the training images' largest is {maximum}")
        for name, consequence in (
                ("PixelQuantum", "no real image is made of such quanta; give the detector's "
                                 "quantum in the images' units"),
                ("PixelFloor", "every generated pixel would be written as 0; lower it")):
            if self.options[name] > largest_pixel:
                raise DataError(f"{name}={self.options[name]:g} is above every training pixel "
                                f"(the largest is {largest_pixel:.6g}): {consequence}")
        self.transform.maximum, self.transform.minimum = float(maximum), float(minimum)
        per = f" / {self.transform.condition}" if self.transform.condition else ""
        sums = np.concatenate(sums)
        if self.options["SumFromData"]:
            self._fit_sums(sums, conditions, minimum, per)
        # the sums' scale; images that sum to 0 on average still need a finite one
        mean, std = float(sums.mean()), float(sums.std())
        self.transform.sum_mean = mean if abs(mean) > 1e-12 else 1.0
        self.transform.sum_std = std if std > 1e-12 * max(abs(mean), 1e-300) else 1.0
        if masses:
            mass_mean = float(np.concatenate(masses).mean())
            self.mass_mean = mass_mean if mass_mean > 0 else 1.0
        log.info(self.title, f"VarTransform={self.transform.kind}: training pixels{per} in "
                 f"[{minimum:.6g}, {maximum:.6g}]; generated pixels are kept in this range")

    def _fit_sums(self, sums, conditions, minimum, per):
        """SumFromData's sampler of the training sums; it scales images, so their pixels
        (over ScaleBy: ``per``) and sums must be positive."""
        if minimum < 0:
            raise DataError(f"SumFromData scales each generated image to a sum, which needs "
                            f"pixels >= 0; the training pixels{per} go down to {minimum:.6g}: "
                            f"select such images away, or train without SumFromData")
        if np.any(sums <= 0):
            raise DataError(f"SumFromData draws each generated image's sum from the training "
                            f"images; {int(np.sum(sums <= 0))} of them sum to 0: select them "
                            f"away (e.g. a cut on the summed intensity) or train without "
                            f"SumFromData")
        raw = np.concatenate(conditions) if conditions else np.empty((len(sums), 0))
        self.sums = SumSampler.fit(raw, sums, self.conditions, self.seed)

    def train(self, dataset, log):
        o = self.options
        self._test_images = None
        checkpoint = self._checkpoint_content(log) if o["Resume"] else None
        if checkpoint is not None:
            self.seed = checkpoint.method["seed"]  # the killed run's seed, also for the split
        elif self.seed == -1:
            self.seed = int(np.random.SeedSequence().entropy % (2 ** 63))
            log.info(self.title, f"RandomSeed=-1: drew seed {self.seed} (recorded in the "
                     f"weights file)")
        train_split, validation = self._split_validation(dataset.training)
        self._fit_conditions(train_split, log)
        self._fit_transform(train_split, log)
        self._choose_packing_partners(train_split)
        reference = None
        if validation:
            events = validation.read_all()
            raw = self.conditions.from_events(events) if len(self.conditions) else None
            reference = self._observables(events, raw)
            if raw is not None:  # the generated events of _metric get these
                reference["conditions"] = raw
        gan = self._new_gan(np.random.default_rng(self.seed))
        state = self._resume(gan, checkpoint, log) if checkpoint else TrainingState()
        log.info(self.title, f"training on {len(train_split):,} events"
                 + (f", {len(validation):,} held out for SelectBy={o['SelectBy']}"
                    if validation else ""))
        log.info(self.title, EPOCH_HEADER)
        self._train_phases(gan, state, train_split, validation, reference, log)
        if state.best is not None:
            self.generator.set_parameters(state.best[0])
            self.discriminator.set_parameters(state.best[1])
        self.history = state.history
        self.best_epoch = state.best_epoch
        log.info(self.title, f"kept epoch {state.best_epoch} (SelectBy={o['SelectBy']})")

    def _choose_packing_partners(self, train_split):
        """Packing: the Packing - 1 training images (network form, with their standardised
        conditions) each image is judged with outside training (its response), so that an
        image's response depends on it alone; they go into the weights file."""
        count = self.options["Packing"] - 1
        if not count:
            return
        batch = next(train_split.batches(count, np.random.default_rng([self.seed, 5])))
        self.packing_partners = (self._network_images(batch), self._network_conditions(batch))

    def _train_phases(self, gan, state, train_split, validation, reference, log):
        o = self.options
        phases = o["TrainingStrategy"]
        for phase_index in range(state.phase, len(phases)):
            phase = phases[phase_index]
            if phase_index != state.phase or state.epoch_in_phase == 0:
                if phase_index > 0:
                    self._new_optimizers(gan, phase, state)
                state.phase, state.epoch_in_phase, state.stale = phase_index, 0, 0
                state.phase_seconds = 0.0
            patience = phase["ConvergenceSteps"]
            while state.epoch_in_phase < phase["MaxEpochs"]:
                if patience and state.stale >= patience:
                    log.info(self.title, f"phase {phase_index + 1}: no improvement for "
                             f"{state.stale} epochs (ConvergenceSteps={patience})")
                    break
                if phase["MaxTime"] and state.phase_seconds >= phase["MaxTime"]:
                    log.info(self.title, f"phase {phase_index + 1}: MaxTime={phase['MaxTime']:g} "
                             f"s reached after {state.epoch_in_phase} epochs")
                    break
                gan.instance_noise = o["InstanceNoise"] * max(0.0, 1 - _progress(phases, state))
                start = time.perf_counter()
                if not self._train_epoch(gan, state, phase, train_split, validation, reference,
                                         log):
                    return
                state.epoch_in_phase += 1
                # MaxTime counts the whole epoch (selection and guard too) and the previous
                # checkpoint
                state.phase_seconds += time.perf_counter() - start
                start = time.perf_counter()
                if o["CheckpointEvery"] and state.epoch % o["CheckpointEvery"] == 0:
                    self._checkpoint(gan, state)
                state.phase_seconds += time.perf_counter() - start

    def _symmetric(self, images, rng):
        """``images`` (n, d, h, w), each mirrored in x and in y (and, SQUARE, transposed) with
        probability 1/2, in place: one of the symmetries Symmetry declares, drawn uniformly.
        The transformed batch is the training step's own array, so no copy is needed."""
        kind = self.options["Symmetry"]
        if kind == "NONE":
            return images
        for axis in (-1, -2):
            chosen = rng.random(len(images)) < 0.5
            images[chosen] = np.flip(images[chosen], axis)
        if kind == "SQUARE":
            chosen = rng.random(len(images)) < 0.5
            images[chosen] = images[chosen].swapaxes(-1, -2)
        return images

    def _new_optimizers(self, gan, phase, state):
        """Fresh optimizers for ``phase``; the discriminator's learning rate carries the
        collapse guard's reductions."""
        gan.generator_optimizer = self._optimizer(self.generator, phase.for_part("Generator"))
        gan.discriminator_optimizer = self._optimizer(self.discriminator,
                                                      phase.for_part("Discriminator"))
        gan.discriminator_optimizer.learning_rate *= state.discriminator_rate_factor

    def _stop_diverged(self, state, good, epoch, loss_d, loss_g, log):
        """Back to the weights of the last good epoch after a non-finite loss; False."""
        self.generator.set_parameters(good[0])
        self.discriminator.set_parameters(good[1])
        log.info(self.title, NON_FINITE_HELP.format(epoch=epoch, loss_d=loss_d, loss_g=loss_g))
        if state.best is None:
            state.best = good
            state.best_epoch = epoch - 1
        return False

    def _train_epoch(self, gan, state, phase, train_split, validation, reference, log):
        """One epoch; False when training must stop (a non-finite loss)."""
        start = time.perf_counter()
        epoch = state.epoch + 1
        good = (self.generator.get_parameters(), self.discriminator.get_parameters())
        sums = np.zeros(4)
        events = steps = 0
        pending = []
        rng = np.random.default_rng([self.seed, 1, epoch])
        with log.progress(len(train_split), self.title) as bar:
            for batch in train_split.batches(phase["BatchSize"], rng):
                # the epoch's last batch: the discriminator judges Packing images at once,
                # so it loses its remainder past a multiple of Packing, and one input has no
                # batch statistics
                count, packing = len(batch["weight"]), self.options["Packing"]
                usable = count - count % packing
                if usable // packing < (2 if self._has_batch_norm else 1):
                    bar.update(count)
                    continue
                if usable < count:
                    bar.update(count - usable)
                    batch = {name: values[:usable] for name, values in batch.items()}
                real = self._symmetric(self.transform.forward(
                    batch[self.image_name], batch).reshape((-1,) + self.image_shape), rng)
                weights = batch["weight"].astype(np.float32)
                conditions = self._network_conditions(batch)
                pending.append((real, weights, conditions))
                if len(pending) < self.discriminator_steps:
                    continue
                extra_losses = [gan.discriminator_step(*extra) for extra in pending[:-1]]
                loss_d, loss_g = gan.train_step(real, weights, conditions)
                if not all(math.isfinite(loss) for loss in extra_losses):
                    loss_d = float("nan")
                pending = []
                n = real.shape[0]
                sums += n * np.array([loss_d, loss_g, *gan.last_outputs])
                events += n
                steps += 1
                bar.update(n)
                if not (math.isfinite(loss_d) and math.isfinite(loss_g)):
                    return self._stop_diverged(state, good, epoch, loss_d, loss_g, log)
        # batches left over when the epoch is not a multiple of DiscriminatorSteps still
        # train the critic
        leftover = [gan.discriminator_step(*extra) for extra in pending]
        if not all(math.isfinite(loss) for loss in leftover):
            return self._stop_diverged(state, good, epoch, float("nan"), float("nan"), log)
        if train_split.dropped:
            log.info(self.title, f"NonFinite=DROP: {train_split.dropped} events dropped")
        if not events:
            raise DataError(f"no training step ran in epoch {epoch}: BatchSize "
                            f"x DiscriminatorSteps exceeds the {len(train_split)} training "
                            f"events")
        means = sums / events
        with gan.averaged_generator():  # what the weights file would keep
            metric = self._metric(gan, validation, reference)
            seconds = time.perf_counter() - start
            state.record(epoch, means, metric, seconds, events / seconds)
            improved = self._select(state, metric)
        log.info(self.title, epoch_line(epoch, means, metric, seconds, events / seconds,
                                        "*" if improved else " "))
        self._guard_collapse(gan, state, phase, means[0], good, log)
        return True

    def _collapse(self, gan, state, loss_d):
        """Why the GAN has collapsed after this epoch, or None: the discriminator has won
        outright for COLLAPSE_EPOCHS epochs, or the generated images are empty."""
        # one-sided label smoothing keeps the BCE loss of real images above the entropy of
        # their target; winning outright is COLLAPSE_LOSS above that
        s = self.options["LabelSmoothing"]
        lowest = -(1 - s) * math.log(1 - s) - s * math.log(s) \
            if s and self.losses[1] == "BCE" else 0.0
        wins = self.losses[1] in BOUNDED_LOSSES and loss_d < lowest + COLLAPSE_LOSS
        state.low_loss = state.low_loss + 1 if wins else 0
        if state.low_loss >= COLLAPSE_EPOCHS:
            return (f"the discriminator loss has stayed below {lowest + COLLAPSE_LOSS:.3g} for "
                    f"{state.low_loss} epochs (the discriminator wins outright)")
        raw = None
        if len(self.conditions):
            raw = self.conditions.sample[:GUARD_CHECK_EVENTS]
        with gan.averaged_generator():
            pixels = self._generate_pixels(gan, GUARD_CHECK_EVENTS if raw is None else len(raw),
                                           np.random.default_rng([self.seed, 4]),
                                           raw_conditions=raw)
        if not np.any(pixels):
            return f"all {len(pixels)} generated check images are empty"
        return None

    def _guard_collapse(self, gan, state, phase, loss_d, good, log):
        """The collapse guard: on a collapse, back to the best epoch (with SelectBy=LAST the
        weights before this epoch) with fresh optimizers and half the discriminator's
        learning rate; said in the epoch table."""
        reason = self._collapse(gan, state, loss_d)
        if reason is None:
            return
        state.low_loss = 0
        if not self.options["CollapseGuard"] or state.guard_reactions >= GUARD_REACTIONS:
            advice = ("CollapseGuard is off" if not self.options["CollapseGuard"] else
                      f"the collapse guard has already reacted {GUARD_REACTIONS} times")
            log.info(self.title, f"warning: {reason}; {advice}: check the generated images, "
                     f"lower the discriminator's learning rate or try LEASTSQUARES losses")
            return
        # the best epoch, unless that is the collapsed one itself
        use_best = self.options["SelectBy"] != "LAST" and state.best is not None and \
            state.best_epoch != state.epoch
        generator, discriminator = state.best if use_best else good
        self.generator.set_parameters(generator)
        self.discriminator.set_parameters(discriminator)
        if self.options["SelectBy"] == "LAST":  # LAST keeps these, not the collapsed ones
            state.best, state.best_epoch = good, state.epoch - 1
        if gan.generator_average is not None:
            gan.generator_average.load_state(self.generator.parameters, 0)
        state.guard_reactions += 1
        state.discriminator_rate_factor *= GUARD_LEARNING_RATE
        self._new_optimizers(gan, phase, state)
        where = (f"the best epoch, {state.best_epoch}" if use_best else
                 f"the weights before epoch {state.epoch}")
        log.info(self.title, f"collapse guard: {reason}; back to {where}, discriminator "
                 f"learning rate {gan.discriminator_optimizer.learning_rate:.3g} "
                 f"(reaction {state.guard_reactions} of at most {GUARD_REACTIONS})")

    def _select(self, state, metric):
        """Keep this epoch's weights if its metric is the best so far (always for LAST)."""
        o = self.options
        if o["SelectBy"] == "LAST" or state.best_metric is None or metric < state.best_metric:
            state.best_metric = metric
            state.best_epoch = state.epoch
            state.best = (self.generator.get_parameters(), self.discriminator.get_parameters())
            state.stale = 0
            return o["SelectBy"] != "LAST"
        state.stale += 1
        return False

    @property
    def discriminator_steps(self):
        """DiscriminatorSteps, or its default: 5 critic steps for the Wasserstein loss."""
        steps = self.options["DiscriminatorSteps"]
        if steps is None:
            steps = 5 if self.losses[1] == "WASSERSTEIN" else 1
        return steps

    @property
    def weight_clip(self):
        """WeightClip, or its default: 0.01 for a Wasserstein critic without spectral
        normalisation (some Lipschitz constraint is needed), else off."""
        clip = self.options["WeightClip"]
        if clip is None:
            spectral = any(getattr(layer, "spectral_norm", False)
                           for layer in self.discriminator.layers)
            clip = 0.01 if self.losses[1] == "WASSERSTEIN" and not spectral else 0.0
        return clip

    @property
    def _has_batch_norm(self):
        return any(layer.kind == "BNORM" for network in (self.generator, self.discriminator)
                   for layer in network.layers)

    def _network_conditions(self, events, where="the events"):
        """The standardised (n, k) conditions of ``events`` the networks see; None for an
        unconditional GAN."""
        if not len(self.conditions):
            return None
        return self.conditions.standardised(self.conditions.from_events(events, where))

    def _discriminator_outputs(self, images, conditions=None, adversarial=True):
        """The discriminator's adversarial outputs (or, ``adversarial=False``, all its
        outputs, the auxiliary head's after the first) on ``images`` with their standardised
        ``conditions``, in blocks of as many discriminator inputs as a training batch when
        it has minibatch features (their values grow with the batch they are computed on).
        With Packing each image is judged with the same real partner images
        (``packing_partners``)."""
        block = 1024
        if any(layer.kind == "MINIBATCH" for layer in self.discriminator.layers):
            block = max(1, self.options["TrainingStrategy"][0]["BatchSize"]
                        // self.options["Packing"])
        gan = self._inference_gan()
        partners = None
        if self.packing_partners is not None:
            partners, _ = gan._with_conditions(*self.packing_partners)
        outputs = []
        for start in range(0, len(images), block):
            part = None if conditions is None else conditions[start:start + block]
            inputs, _ = gan._with_conditions(np.ascontiguousarray(images[start:start + block]),
                                          part)
            out = gan.judge(inputs, partners)
            outputs.append((out[:, 0] if adversarial else out).copy())
        if not outputs:
            width = 1 if adversarial else self.discriminator.output_shape[0]
            return np.empty((0,) if adversarial else (0, width), np.float32)
        return np.concatenate(outputs)

    # -- validation metrics --------------------------------------------------------------
    def _observables(self, events, raw_conditions=None, what="the validation events"):
        """SelectBy=PHYSICS's observables of the events: SELECTION_OBSERVABLES of the
        Geometry; for showers with an energy condition (the ScaleBy one, else the first)
        also the energy response, whose narrow spread must not hide behind the shape's."""
        names = SELECTION_OBSERVABLES[self.options["Geometry"]]
        energy = None
        if self.options["Geometry"] == "CALO" and raw_conditions is not None:
            name = self.transform.condition or self.conditions.names[0]
            energy = raw_conditions[:, self.conditions.names.index(name)]
            names = names + ("energy response",)
        measured = measure(np.asarray(events[self.image_name], np.float64), self._geometry,
                           condition=energy, what=what, names=names)
        return {name: measured.events[name] for name in names}

    @property
    def _geometry(self):
        return Geometry(self.options["Geometry"], self.image_shape)

    def _metric(self, gan, validation, reference):
        """SelectBy: PHYSICS sums W1 of the Geometry's SELECTION_OBSERVABLES (total
        intensity, non-zero pixel count, for jets mass, tau21 and widths, for showers widths
        and core fraction), each over the validation sample's standard deviation (at least
        1% of its mean); for
        a conditional GAN, whose generated events get the validation events' conditions,
        the W1s are averaged over CONDITION_BINS bins of the first condition, so an epoch
        must also get the dependence on it right. LOSS is the generator loss on fixed noise;
        LAST has none (nan)."""
        o = self.options
        if o["SelectBy"] == "LAST" or validation is None:
            return float("nan")
        rng = np.random.default_rng([self.seed, 3])
        raw = reference.get("conditions")
        if o["SelectBy"] == "LOSS":
            conditions = None if raw is None else self.conditions.standardised(raw)
            fake = gan.generate(len(validation), len(validation), rng, conditions,
                                self._drawn_sums(len(validation), rng, raw))
            outputs = self._discriminator_outputs(fake, conditions)
            return float(gan.generator_loss(np.ascontiguousarray(outputs[:, None]))[0])
        generated = self._generate_pixels(gan, len(validation), rng, raw_conditions=raw)
        if not np.all(np.isfinite(generated)):
            return float("inf")  # pixels beyond float range: worse than any finite epoch
        observed = self._observables({self.image_name: generated}, raw, "the generated events")
        bins = [np.ones(len(generated), bool)]
        if raw is not None:
            bins = [(raw[:, 0] >= low) & (raw[:, 0] < high)
                    for low, high in condition_edges(raw[:, 0], CONDITION_BINS)]
        total = 0.0
        for name, real in reference.items():
            if name == "conditions":
                continue
            # the spread of the real values, but at least 1% of their size: an observable
            # that hardly varies (every pixel lit) must not dominate the sum
            scale = max(real.std(), 0.01 * np.abs(real).mean(), 1e-12)
            total += np.mean([wasserstein_distance(observed[name][mask], real[mask])
                              for mask in bins if mask.any()]) / scale
        return float(total)

    def _generate_pixels(self, gan, n, rng, batch_size=1024, raw_conditions=None):
        """``n`` generated images (n, size) in pixel units; a conditional GAN needs their
        raw (n, k) conditions."""
        conditions = events = None
        if len(self.conditions):
            conditions = self.conditions.standardised(raw_conditions)
            events = self.conditions.as_events(raw_conditions)
        values = gan.generate(n, batch_size, rng, conditions,
                              self._drawn_sums(n, rng, raw_conditions)).reshape(n, -1)
        pixels = self.transform.inverse(values, events)
        if self.options["PixelQuantum"]:
            pixels = whole_quanta(pixels, self.options["PixelQuantum"], rng)
        if self.options["PixelFloor"]:
            pixels[pixels < self.options["PixelFloor"]] = 0
        return pixels

    def _drawn_sums(self, n, rng, raw_conditions):
        """SumFromData: each generated image's summed intensity (over ScaleBy), drawn from
        the training events with the nearest conditions; None without it."""
        return None if self.sums is None else self.sums.draw(n, rng, raw_conditions)

    # -- checkpoints ---------------------------------------------------------------------
    @property
    def checkpoint_path(self):
        if self.weights_path is None:
            return None
        return self.weights_path.replace(".weights.root", ".checkpoint.root")

    def _checkpoint(self, gan, state):
        if self.checkpoint_path is None:
            return
        arrays = {"generator": self.generator.parameters, "discriminator":
                  self.discriminator.parameters}
        for label, optimizer in (("generator", gan.generator_optimizer),
                                 ("discriminator", gan.discriminator_optimizer)):
            for key, value in optimizer.state().items():
                arrays[f"{label}_optimizer_{key}"] = value
        if gan.generator_average is not None:
            arrays["generator_average"] = gan.generator_average.average
        for label, network in (("generator", self.generator),
                               ("discriminator", self.discriminator)):
            for name, value in network.get_buffers().items():
                arrays[f"{label}_buffer.{name}"] = value
        if state.best is not None:
            for label, mapping in zip(("best_generator", "best_discriminator"), state.best):
                for name, value in mapping.items():
                    arrays[f"{label}.{name}"] = value
        settings = {"state": state.settings(), "rng": gan.rng.bit_generator.state,
                    "optimizer_steps": [gan.generator_optimizer.steps,
                                        gan.discriminator_optimizer.steps],
                    "average_updates": (gan.generator_average.updates
                                        if gan.generator_average is not None else 0),
                    "transform": self.transform.settings(), "seed": self.seed}
        info = environment_info()
        info.update({"job": self.job, "title": self.title, "method": self.type_name,
                     "checkpoint_epoch": state.epoch})
        write_weights(self.checkpoint_path, WeightsContent(
            info, self.option_text, dict(self.options), self.variables, settings, arrays),
            compressed=False)

    def _checkpoint_content(self, log):
        """The checkpoint to resume from, or None (said in the log) when there is none."""
        path = self.checkpoint_path
        if path is None or not os.path.exists(path):
            log.info(self.title, f"Resume: no checkpoint at {path}; starting from epoch 1")
            return None
        return read_weights(path)

    def _resume(self, gan, content, log):
        path = self.checkpoint_path
        ours, theirs = (json.loads(json.dumps({k: v for k, v in options.items()
                                               if k not in NOT_TRAINING}))
                        for options in (dict(self.options), content.options))
        # an option (or phase key) the checkpoint does not know, added in a later version,
        # had its default
        defaults = json.loads(json.dumps({o.name: o.default for o in self.declared_options()}))
        phase_defaults = json.loads(json.dumps({o.name: o.default
                                                for o in PHASE_OPTIONS.options}))
        if isinstance(theirs.get("TrainingStrategy"), list):
            theirs["TrainingStrategy"] = [{**phase_defaults, **phase}
                                          for phase in theirs["TrainingStrategy"]]
        changed = sorted(k for k in ours if ours[k] != theirs.get(k, defaults.get(k)))
        if changed:
            raise OptionError(f"Resume: the checkpoint {path} was made with other values of "
                              f"{', '.join(changed)}; resume with the options it was made with "
                              f"({content.options_given!r})")
        settings = content.method
        p = content.parameters
        self.generator.parameters[:] = p["generator"]
        self.discriminator.parameters[:] = p["discriminator"]
        # batch-norm statistics, dropout positions, spectral-norm vectors
        self.generator.set_buffers(_unprefixed(p, "generator_buffer."))
        self.discriminator.set_buffers(_unprefixed(p, "discriminator_buffer."))
        fitted = self.transform
        self.transform = PixelTransform.from_settings(settings["transform"])
        if self.transform.minimum is None:  # a checkpoint from before the bounds existed
            self.transform.minimum, self.transform.sum_mean = fitted.minimum, fitted.sum_mean
        if self.transform.sum_std is None:  # or before the sums' spread was recorded
            self.transform.sum_std = fitted.sum_std
        # what the discriminator and the output stage compute from the resumed transform
        gan.image_features = self._image_features()
        if gan.output_stage is not None:
            gan.output_stage.transform = self.transform
        gan.rng.bit_generator.state = settings["rng"]
        state = TrainingState.from_settings(settings["state"])
        self._new_optimizers(gan, self.options["TrainingStrategy"][state.phase], state)
        for label, optimizer, steps in (("generator", gan.generator_optimizer,
                                         settings["optimizer_steps"][0]),
                                        ("discriminator", gan.discriminator_optimizer,
                                         settings["optimizer_steps"][1])):
            optimizer.load_state(_unprefixed(p, f"{label}_optimizer_"), steps)
        if gan.generator_average is not None:  # older checkpoints have no average
            gan.generator_average.load_state(p.get("generator_average", p["generator"]),
                                             settings.get("average_updates", 0))
        if _unprefixed(p, "best_generator."):
            state.best = (_unprefixed(p, "best_generator."),
                          _unprefixed(p, "best_discriminator."))
        log.info(self.title, f"Resume: continuing after epoch {state.epoch} from {path}")
        return state

    # -- outputs -------------------------------------------------------------------------
    def response(self, events):
        """The discriminator's output on each event's image: a probability for BCE, the
        raw output (critic value) for the other losses."""
        outputs = self._discriminator_outputs(
            self._network_images(events),
            None if self.auxiliary else self._network_conditions(events))
        if self.losses[1] == "BCE":
            outputs = 1 / (1 + np.exp(-np.clip(outputs, -60, 60)))
        return outputs.astype(np.float32)

    def _network_images(self, events):
        """The events' images as the discriminator sees them (transformed, d x h x w)."""
        if self.image_name not in events:
            raise DataError(f"{self.title!r} reads the images of {self.image_name!r}; the "
                            f"events hold {', '.join(map(str, events)) or 'nothing'}")
        pixels = np.asarray(events[self.image_name], np.float32)
        size = int(np.prod(self.image_shape))
        if pixels.ndim == 0 or pixels.size != len(pixels) * size:
            raise DataError(f"{self.title!r} reads images of {size} values "
                            f"({'|'.join(map(str, self.image_shape))}); got an array of shape "
                            f"{pixels.shape}")
        images = self.transform.forward(pixels.reshape(len(pixels), size), events)
        return np.ascontiguousarray(images, np.float32).reshape((-1,) + self.image_shape)

    def auxiliary_predictions(self, events):
        """ACGAN: the auxiliary head's prediction of each event's conditions from its image,
        raw (n, k): the regressed value, or the most probable class."""
        if not self.auxiliary:
            raise OptionError(f"{self.title!r} has no auxiliary head (GANType=ACGAN has one)")
        outputs = self._discriminator_outputs(self._network_images(events), adversarial=False)
        return self.conditions.raw(self._auxiliary_head().predict(outputs[:, 1:]))

    def write_training(self, directory):
        epochs = len(self.history["epoch"])
        if not epochs:  # stopped before the first epoch ended: no history to write
            return
        edges = np.arange(epochs + 1) + 0.5
        for name, (title, y_title) in HISTORY_TITLES.items():
            directory.histogram(f"history_{name}", self.history[name], edges, title, "epoch",
                                y_title)

    def _generation_rng(self):
        return np.random.default_rng([self.seed, 4])

    def n_generate(self, dataset):
        return self.options["NGenerate"] or len(dataset.test)

    def generated_chunks(self, n, rng, batch_size=1024, conditions=None, first_event=0):
        """``n`` generated events as ``{image, conditions..., eventNumber}`` chunks of
        CHUNK_EVENTS, so memory does not grow with ``n``; a conditional GAN takes each
        chunk's raw conditions from ``conditions(start, stop, rng)`` (default: drawn from the
        training conditions stored in the weights file). Event numbers, and the positions
        given to ``conditions``, start at ``first_event``."""
        gan = self._inference_gan()
        if len(self.conditions) and conditions is None:
            conditions = self.conditions.sampled_source()
        for offset in range(0, n, CHUNK_EVENTS):
            count = min(CHUNK_EVENTS, n - offset)
            start = first_event + offset
            chunk = {}
            raw = None
            if len(self.conditions):
                raw = conditions(start, start + count, rng)
                chunk.update({branch: raw[:, i]  # float64: bins of the exact values
                              for i, branch in enumerate(self.conditions.branches)})
            chunk[self.image_name] = self._generate_pixels(gan, count, rng, batch_size, raw)
            chunk["eventNumber"] = np.arange(start, start + count, dtype=np.int64)
            yield chunk

    def _test_conditions(self, dataset):
        """TestAllMethods' generated events take the test events' conditions in order
        (again from the first when NGenerate exceeds the test set)."""
        if not len(self.conditions):
            return None
        raw = [self.conditions.from_events(events, "the test events")
               for events in dataset.test.read_chunks()]
        if not raw:
            return self.conditions.sampled_source()
        return self.conditions.cycled_source(np.concatenate(raw))

    def write_test(self, directory, dataset, log):
        n = self.n_generate(dataset)
        kept = []  # the first EVALUATION_EVENTS, which EvaluateAllMethods compares

        def chunks():
            held = 0
            for chunk in self.generated_chunks(n, self._generation_rng(),
                                               conditions=self._test_conditions(dataset)):
                if held < EVALUATION_EVENTS:
                    kept.append({k: v[:EVALUATION_EVENTS - held] for k, v in chunk.items()})
                    held += len(kept[-1]["eventNumber"])
                yield chunk
        written = directory.tree("GeneratedTree", chunks(), title=f"{n} events generated by "
                                 f"{self.title}")
        self._test_images = ({k: np.concatenate([c[k] for c in kept]) for k in kept[0]}
                             if kept else None)
        log.info(self.title, f"generated {written:,} events into {directory.path}/GeneratedTree"
                 + (" with the test events' conditions" if len(self.conditions) else ""))

    def evaluate(self, dataset, log):
        """The physics evaluation (``rootgan.evaluation``) of the generated events (those of
        TestAllMethods, generated again if it did not run; at most EVALUATION_EVENTS)
        against the test set, in the pixel geometry of the option Geometry. Logs the
        table, writes the plots to ``<dataset>/plots/<Title>/`` and returns the headline
        numbers (W1 / floor per observable, FPD, KPD, classifier AUC)."""
        generated = self._test_images
        if generated is None:
            n = min(self.n_generate(dataset), EVALUATION_EVENTS)
            chunks = list(self.generated_chunks(n, self._generation_rng(),
                                                conditions=self._test_conditions(dataset)))
            generated = ({k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
                         if chunks else {self.image_name: np.empty((0, 0), np.float32)})
        real, held = [], 0
        for events in dataset.test.read_chunks():
            real.append({k: v[:EVALUATION_EVENTS - held] for k, v in events.items()})
            held += len(real[-1]["weight"])
            if held >= EVALUATION_EVENTS:
                break
        if held < 8 or len(generated[self.image_name]) < 4:
            log.info(self.title, f"evaluation skipped: it needs at least 8 test and 4 "
                     f"generated events, there are {held} and "
                     f"{len(generated[self.image_name])}")
            self._evaluation = None
            return {}
        real = {k: np.concatenate([r[k] for r in real]) for k in real[0]}
        # a conditional GAN is judged in bins of its first condition
        conditions = {}
        if len(self.conditions):
            conditions = {"real_condition": self.conditions.from_events(real)[:, 0],
                          "generated_condition": np.asarray(
                              generated[self.conditions.branches[0]], np.float64)}
        geometry = self._geometry
        self._evaluation = evaluate(real[self.image_name], generated[self.image_name], geometry,
                                    real_weights=real["weight"], seed=self.seed,
                                    classifier=min(held, len(generated[self.image_name])) >= 20,
                                    **conditions)
        for line in (self._evaluation.summary() + "\n" + self._evaluation.table()).split("\n"):
            log.info(self.title, line)
        folder = os.path.join(dataset.name, "plots", self.title)
        plot_evaluation(self._evaluation, folder, f"generated ({self.title})")
        log.info(self.title, f"evaluation plots (PNG, PDF) written to {folder}/")
        metrics = {f"W1/floor {r.name}": r.ratio for r in self._evaluation.rows
                   if r.kind == "W1"}
        metrics.update({r.kind: r.distance for r in self._evaluation.rows if r.kind != "W1"})
        if self.auxiliary:
            metrics.update(self._auxiliary_quality(real, log))
        return metrics

    def _auxiliary_quality(self, real, log):
        """ACGAN: how well the auxiliary head predicts the test events' conditions from
        their images: the correlation of predicted and true values (regressed conditions)
        or the fraction of right classes."""
        truth = self.conditions.from_events(real)
        predicted = self.auxiliary_predictions(real)
        metrics = {}
        for i, name in enumerate(self.conditions.names):
            if self.conditions.classes[i] is None:
                spread = truth[:, i].std() * predicted[:, i].std()
                value = (float(np.mean((truth[:, i] - truth[:, i].mean())
                                       * (predicted[:, i] - predicted[:, i].mean())) / spread)
                         if spread > 0 else float("nan"))
                key = f"auxiliary correlation {name}"
            else:
                value = float(np.mean(predicted[:, i] == truth[:, i]))
                key = f"auxiliary accuracy {name}"
            metrics[key] = value
            log.info(self.title, f"{key} (predicted from the test images vs true): "
                     f"{value:.4f}")
        return metrics

    def write_evaluation(self, directory, metrics):
        """Histograms of every observable and the metric TTree under ``Evaluation/``."""
        if self._evaluation is not None:
            self._evaluation.write_root(directory.handle, f"{directory.path}/Evaluation")

    def _inference_gan(self):
        return GAN(self.generator, self.discriminator, make_optimizer("SGD", self.generator),
                   make_optimizer("SGD", self.discriminator), np.random.default_rng(0),
                   self.options["LatentDistribution"], *self.losses,
                   **self._condition_settings())

    # -- weights -------------------------------------------------------------------------
    def weights_parameters(self):
        arrays = {f"generator.{k}": v for k, v in self.generator.get_parameters().items()}
        arrays.update({f"discriminator.{k}": v
                       for k, v in self.discriminator.get_parameters().items()})
        if len(self.conditions):
            arrays["conditions.training"] = self.conditions.sample
        if self.sums is not None:
            arrays["sums.training"] = self.sums.rows
        if self.packing_partners is not None:
            images, conditions = self.packing_partners
            arrays["packing.images"] = images
            if conditions is not None:
                arrays["packing.conditions"] = conditions
        return arrays

    def weights_settings(self):
        return {"transform": self.transform.settings(), "seed": self.seed,
                "latent_dim": self.latent_dim, "image_shape": list(self.image_shape),
                "image": self.image_name, "generator_layout": self.generator_layout,
                "discriminator_layout": self.discriminator_layout,
                "best_epoch": self.best_epoch, "history": self.history,
                "conditions": self.conditions.settings() if len(self.conditions) else None}

    def load_weights(self, content):
        p = content.parameters
        settings = content.method
        if len(self.conditions):
            self.conditions = ConditionSpace.from_settings(settings["conditions"],
                                                           p["conditions.training"])
            if self.auxiliary:
                self.discriminator = self._build_discriminator(self.conditions.classes)
        self.generator.set_parameters(_unprefixed(p, "generator."))
        self.discriminator.set_parameters(_unprefixed(p, "discriminator."))
        self.transform = PixelTransform.from_settings(settings["transform"])
        if self.options["SumFromData"]:
            self.sums = SumSampler(p["sums.training"], self.conditions)
        if self.options["Packing"] > 1:
            if "packing.images" not in p:
                raise WeightsError(f"{self.title!r}: the weights file says Packing="
                                   f"{self.options['Packing']} but holds no partner images to "
                                   f"judge each image with (files written before they were "
                                   f"added lack them); retrain the method to write them")
            self.packing_partners = (p["packing.images"], p.get("packing.conditions"))
        self.seed = settings["seed"]
        self.best_epoch = settings["best_epoch"]
        self.history = settings["history"]

    def generate(self, n, seed=None, batch_size=1024, conditions=None):
        """``n`` images (pixels, after the inverse transform and PixelFloor), shape
        ``(n, d, h, w)``; ``seed`` defaults to the training seed's generation stream. A
        conditional GAN takes ``conditions`` as {name: value} (every image), {name: array of
        n} (per image) or "FILE.root:TREE"; by default they are drawn from the training
        conditions stored in the weights file."""
        if seed is not None and (int(seed) != seed or seed < 0):
            raise DataError(f"the seed must be a non-negative integer, got {seed!r}")
        rng = self._generation_rng() if seed is None else np.random.default_rng(seed)
        source = self._condition_source(conditions, n)
        # chunk by chunk, as rootgan.generate: the same seed gives the same events
        images = [chunk[self.image_name]
                  for chunk in self.generated_chunks(n, rng, batch_size, source)]
        size = int(np.prod(self.image_shape))
        return np.concatenate([np.empty((0, size), np.float32)] + images).reshape(
            (n,) + self.image_shape)

    def _condition_source(self, conditions, n):
        """The source of generated events' conditions for what the user gave (None: drawn
        from the stored training conditions, or an unconditional GAN)."""
        if not len(self.conditions):
            if conditions is not None:
                raise OptionError(f"{self.title!r} is an unconditional GAN (GANType="
                                  f"{self.options['GANType']}, no DataLoader.AddCondition): "
                                  f"it takes no conditions")
            return None
        return None if conditions is None else self.conditions.given_source(conditions, n)


# options a resumed job may change: they do not affect the trained weights
# options that do not change the training (Geometry does: SelectBy=PHYSICS uses its
# observables)
NOT_TRAINING = {"H", "V", "VerbosityLevel", "Resume", "CheckpointEvery", "NGenerate"}
CHUNK_EVENTS = 4096  # generated events per write: memory stays bounded for any n
EVALUATION_EVENTS = 20_000  # events per sample EvaluateAllMethods compares (memory, time)


def _progress(phases, state):
    """How far training is, 0 to 1: the share of all phases' epochs done, or of their
    seconds when every phase has a MaxTime, whichever is further (instance noise falls
    with it)."""
    epochs = state.epoch / sum(p["MaxEpochs"] for p in phases)
    if not all(p["MaxTime"] for p in phases):
        return epochs
    done = sum(p["MaxTime"] for p in phases[:state.phase]) + state.phase_seconds
    return max(epochs, done / sum(p["MaxTime"] for p in phases))


def _unprefixed(arrays, prefix):
    """The entries of ``arrays`` whose names start with ``prefix``, named without it."""
    return {name[len(prefix):]: value for name, value in arrays.items()
            if name.startswith(prefix)}


HISTORY = ("epoch", "loss_D", "loss_G", "D_real", "D_fake", "metric", "seconds",
           "events_per_second")
HISTORY_TITLES = {
    "loss_D": ("discriminator loss per epoch", "loss"),
    "loss_G": ("generator loss per epoch", "loss"),
    "D_real": ("mean discriminator output on real images", "D(real)"),
    "D_fake": ("mean discriminator output on generated images", "D(fake)"),
    "metric": ("selection metric per epoch (SelectBy)", "metric"),
    "seconds": ("seconds per epoch", "s"),
    "events_per_second": ("training events per second", "events/s"),
}
EPOCH_HEADER = ("Epoch     D loss     G loss    D(real)    D(fake)      metric    t(s)   "
                "events/s")


def epoch_line(epoch, means, metric, seconds, rate, mark=" "):
    """One row of the per-epoch table under EPOCH_HEADER; ``means`` are D loss, G loss,
    D(real), D(fake); ``mark`` follows the metric (``*``: an improved metric)."""
    return (f"{epoch:5d}  {means[0]:9.4f}  {means[1]:9.4f}  {means[2]:9.4f}  {means[3]:9.4f}  "
            f"{metric:10.4g}{mark}  {seconds:7.1f}  {rate:9.0f}")
NON_FINITE_HELP = (
    "epoch {epoch}: the losses became non-finite (D {loss_d}, G {loss_g}); training stops "
    "and keeps the weights of the last good epoch. Likely causes: a learning rate too high "
    "for these pixel values (lower LearningRate), raw pixel values spanning many orders of "
    "magnitude (use VarTransform=Log or N), or NaN pixels in the input (NonFinite=DROP)")


class TrainingState:
    """Where training is: epochs done, phase, history, best epoch; saved in checkpoints."""

    def __init__(self):
        self.epoch = 0
        self.phase = 0
        self.epoch_in_phase = 0
        self.stale = 0
        self.low_loss = 0
        self.phase_seconds = 0.0
        self.guard_reactions = 0
        self.discriminator_rate_factor = 1.0
        self.best = None
        self.best_metric = None
        self.best_epoch = None
        self.history = {name: [] for name in HISTORY}

    def record(self, epoch, means, metric, seconds, rate):
        self.epoch = epoch
        for name, value in zip(HISTORY, (epoch, *means, metric, seconds, rate)):
            self.history[name].append(float(value))

    def settings(self):
        return {"epoch": self.epoch, "phase": self.phase, "epoch_in_phase": self.epoch_in_phase,
                "stale": self.stale, "low_loss": self.low_loss, "phase_seconds": self.phase_seconds,
                "guard_reactions": self.guard_reactions,
                "discriminator_rate_factor": self.discriminator_rate_factor,
                "best_metric": self.best_metric,
                "best_epoch": self.best_epoch, "history": self.history}

    @classmethod
    def from_settings(cls, settings):
        state = cls()
        for key, value in settings.items():
            setattr(state, key, value)
        return state


register_method(GAN_KIND, MethodGAN)


def generate(weights_file, n, out, seed=None, batch_size=1024, conditions=None,
             progress=None, notice=None):
    """Generate ``n`` events from a GAN weights file into ``out`` (one TTree,
    ``GeneratedTree``: the image as a flat ``name[N]/F`` branch, the conditions and
    ``eventNumber``), without the training data. Written in chunks of 4096 events (memory
    does not grow with ``n``) to a temporary file renamed into place when complete;
    ``progress(count)`` is called after each chunk. The same weights, seed and thread count
    give the same events. A conditional GAN takes ``conditions`` as {name: value} (every
    event), {name: array of n} (per event) or "FILE.root:TREE" (a branch per condition); by
    default they are drawn from the training conditions in the weights file, which
    ``notice(message)`` is told. Returns the path written."""
    content, method = load_generator(weights_file)
    n, batch_size, seed = checked_generation(n, batch_size, seed)
    source = condition_source(method, weights_file, conditions, n)
    described = drawn_conditions_notice(method, conditions, notice)
    rng = method._generation_rng() if seed is None else np.random.default_rng(seed)
    title = (f"{n} events generated by {content.info.get('title')}"
             + (f", {described}" if described else ""))
    write_generated(method, out, n, rng, batch_size, source, title, progress=progress)
    return os.fspath(out)


def load_generator(weights_file):
    """(weights content, MethodGAN) of a GAN weights file."""
    content = read_weights(os.fspath(weights_file))
    if content.info.get("method") != MethodGAN.type_name:
        raise DataError(f"{weights_file} holds a {content.info.get('method')} method, not a GAN")
    return content, MethodGAN.from_weights(content.info.get("title", "GAN"), content)


def checked_generation(n, batch_size, seed):
    """The event count, batch size and seed as ints (seed may be None), or a DataError."""
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise DataError(f"the number of events to generate must be a positive integer, got "
                        f"{n!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise DataError(f"the batch size must be a positive integer, got {batch_size!r}")
    if seed is not None and (int(seed) != seed or seed < 0):
        raise DataError(f"the seed must be a non-negative integer, got {seed!r}")
    return int(n), int(batch_size), None if seed is None else int(seed)


def condition_source(method, weights_file, conditions, n):
    """``method``'s source of conditions for ``n`` events (see ``generate``), None for the
    stored training conditions or an unconditional GAN."""
    try:
        return method._condition_source(conditions, n)
    except OptionError as error:
        raise OptionError(f"{weights_file}: {error}") from None


def drawn_conditions_notice(method, conditions, notice):
    """Tells ``notice`` when a conditional GAN draws its conditions from the training
    conditions stored in the weights file; returns that description ("" otherwise)."""
    if not len(method.conditions) or conditions is not None:
        return ""
    described = (f"conditions ({', '.join(method.conditions.names)}) drawn from the "
                 f"{len(method.conditions.sample):,} training conditions stored in the "
                 f"weights file")
    if notice is not None:
        notice(f"{described}; give --condition NAME=VALUE or --conditions FILE.root:TREE "
               f"to choose them")
    return described


def write_generated(method, out, n, rng, batch_size, source, title, first_event=0,
                    progress=None):
    """Write ``n`` events generated with ``rng`` into ``out`` atomically (see ``generate``);
    their event numbers, and the positions their conditions are read from, start at
    ``first_event``."""

    def chunks():
        for chunk in method.generated_chunks(n, rng, batch_size, source, first_event):
            yield chunk
            if progress is not None:
                progress(len(chunk["eventNumber"]))

    with staged(os.fspath(out), fresh=True) as handle:
        write_tree(handle, "GeneratedTree", chunks(), title=title)
