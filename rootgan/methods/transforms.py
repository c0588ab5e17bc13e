"""Pixel transforms (``VarTransform``): applied to the training images, inverted on every
generated image. All map 0 to 0, so empty pixels stay empty.

- ``None``: unchanged.
- ``N``: ``x / max`` with ``max`` the largest training pixel.
- ``Log``: ``log(1 + r/PixelScale) / log(1 + max/PixelScale)`` with ``r = x / ScaleBy``
  (default 1) and ``max`` the largest training ``r``: compresses the steep spectrum of
  calorimeter and jet-image pixels; with ``ScaleBy=<condition>`` the pixels are taken
  relative to the event's jet pT or incident energy first.
- ``Scale``: ``x / ScaleBy``, a number, or the name of a condition: each image divided by
  its event's value (pixels relative to the incident energy).

Generated pixels are bounded by the training range: the inverse clips ``r`` to the smallest
(or 0, if lower) and largest training value, so an output stage that overshoots (or goes
negative) cannot write pixels no training image has.
"""

import numpy as np

from ..errors import DataError, OptionError

NAMES = ("None", "N", "Log", "Scale")
USES_SCALE_BY = ("Log", "Scale")


class PixelTransform:
    def __init__(self, kind="None", pixel_scale=1.0, scale_by="1.0", maximum=None,
                 minimum=None, sum_mean=None):
        if kind not in NAMES:
            raise OptionError(f"VarTransform={kind} is not known; expected one of "
                              f"{', '.join(NAMES)}")
        if not pixel_scale > 0:
            raise OptionError(f"PixelScale must be > 0, got {pixel_scale}")
        self.kind = kind
        self.pixel_scale = float(pixel_scale)
        self.scale_by = str(scale_by)
        self.maximum = None if maximum is None else float(maximum)
        self.minimum = None if minimum is None else float(minimum)
        # the training images' mean summed r (the discriminator's sum feature)
        self.sum_mean = sum_mean
        try:
            self.divisor = float(self.scale_by)
            self.condition = None
            if kind in USES_SCALE_BY and not 0 < self.divisor < float("inf"):
                raise OptionError(f"ScaleBy must be a finite number > 0 or a condition name, "
                                  f"got {scale_by}")
        except ValueError:
            self.divisor = None
            self.condition = self.scale_by if kind in USES_SCALE_BY else None

    @property
    def needs_maximum(self):
        return self.kind in ("N", "Log")

    def settings(self):
        return {"kind": self.kind, "pixel_scale": self.pixel_scale, "scale_by": self.scale_by,
                "maximum": self.maximum, "minimum": self.minimum, "sum_mean": self.sum_mean}

    @classmethod
    def from_settings(cls, settings):
        # weights files written before the bounds were recorded have no minimum; their Log
        # and N transforms ignored ScaleBy
        old = "minimum" not in settings
        return cls(settings["kind"], settings["pixel_scale"],
                   "1.0" if old and settings["kind"] != "Scale" else settings["scale_by"],
                   settings["maximum"], settings.get("minimum"), settings.get("sum_mean"))

    def _per_event(self, events, n):
        if self.kind not in USES_SCALE_BY:
            return 1.0
        if self.condition is None:
            return self.divisor
        if self.condition not in events:
            raise DataError(f"the events lack the condition {self.condition} that ScaleBy="
                            f"{self.condition} divides the pixels by; pass it with the images "
                            f"(events = {{'image': ..., {self.condition!r}: ...}})")
        values = np.asarray(events[self.condition], np.float64).reshape(n, 1)
        if np.any(values <= 0):
            raise DataError(f"ScaleBy={self.condition}: the condition must be > 0 for every "
                            f"event to divide by it")
        return values

    def ratios(self, pixels, events=None):
        """``r``: the pixels divided by ScaleBy (Log and Scale), float64; the training
        range of ``r`` sets ``maximum``, ``minimum`` and the bounds of generated pixels."""
        pixels = np.asarray(pixels, np.float64)
        return pixels / self._per_event(events or {}, pixels.shape[0])

    def forward(self, pixels, events=None):
        """Network values (float32) for raw pixels of shape (n, size)."""
        r = self.ratios(pixels, events)
        if self.kind == "N":
            r = r / self.maximum
        elif self.kind == "Log":
            if np.any(r <= -self.pixel_scale):
                raise DataError(f"VarTransform=Log needs pixels above -PixelScale "
                                f"({-self.pixel_scale}); found {r.min()}")
            r = np.log1p(r / self.pixel_scale) / np.log1p(self.maximum / self.pixel_scale)
        return r.astype(np.float32)

    def _unbounded_ratios(self, values):
        values = np.asarray(values, np.float64)
        if self.kind == "N":
            return values * self.maximum
        if self.kind == "Log":
            with np.errstate(over="ignore"):  # huge values: clipped to the training maximum
                return self.pixel_scale * np.expm1(values * np.log1p(self.maximum
                                                                     / self.pixel_scale))
        return values

    def _inside(self, r):
        """Where ``r`` lies within the training range (everywhere when it is unknown)."""
        inside = np.ones(r.shape, bool)
        if self.maximum is not None:
            inside &= r <= self.maximum
        if self.minimum is not None:
            inside &= r >= self._lowest
        return inside

    @property
    def _lowest(self):
        # an empty pixel is always allowed, even when every training pixel is lit
        return min(self.minimum, 0.0)

    def ratio_slope(self, values):
        """d r / d value at network ``values`` (n, size), float64; 0 where ``r`` is clipped
        to the training range."""
        values = np.asarray(values, np.float64)
        if self.kind == "N":
            slope = np.full_like(values, self.maximum)
        elif self.kind == "Log":
            scale = np.log1p(self.maximum / self.pixel_scale)
            with np.errstate(over="ignore"):  # where it overflows the inverse is clipped
                slope = self.pixel_scale * scale * np.exp(values * scale)
        else:
            slope = np.ones_like(values)
        return np.where(self._inside(self._unbounded_ratios(values)), slope, 0.0)

    def ratio_inverse(self, values):
        """``r`` (pixels over ScaleBy) of network ``values`` (n, size), float64, within the
        training range."""
        r = self._unbounded_ratios(values)
        if self.maximum is not None or self.minimum is not None:
            r = np.clip(r, None if self.minimum is None else self._lowest, self.maximum)
        return r

    def inverse_slope(self, values, events=None):
        """d pixel / d value of ``inverse`` at ``values`` (n, size), float64; 0 where the
        inverse is clipped to the training range."""
        values = np.asarray(values, np.float64)
        return self.ratio_slope(values) * self._per_event(events or {}, values.shape[0])

    def inverse(self, values, events=None):
        """Raw pixels for network values of shape (n, size), within the training range."""
        r = self.ratio_inverse(values)
        return (r * self._per_event(events or {}, r.shape[0])).astype(np.float32)


class SumFeature:
    """The discriminator's view of each image's summed intensity (CaloGAN's total-energy
    feature, Paganini et al. 2018): the sum of ``r`` over the pixels (the deposit over the
    incident energy, the summed pixel pT over the jet pT) relative to the training images'
    mean, minus 1. A small discriminator cannot add up exponentiated Log pixels to 1%
    precision by itself; shown the sum, it can learn to weigh a wrong total. Divided by the
    mean, not the (much smaller) spread: standardised, the feature let the discriminator
    win outright within a few epochs on the W jets."""

    width = 1

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, images, conditions=None):
        values = np.asarray(images, np.float64).reshape(images.shape[0], -1)
        t = self.transform
        feature = t.ratio_inverse(values).sum(axis=1, keepdims=True) / t.sum_mean - 1
        slope = t.ratio_slope(values) / t.sum_mean
        return feature, lambda grad: np.asarray(grad, np.float64).reshape(-1, 1) * slope
