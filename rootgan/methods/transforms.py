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
                 minimum=None, sum_mean=None, sum_std=None):
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
        # and their spread (SumFromData's generator input)
        self.sum_std = sum_std
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
                "maximum": self.maximum, "minimum": self.minimum, "sum_mean": self.sum_mean,
                "sum_std": self.sum_std}

    @classmethod
    def from_settings(cls, settings):
        # weights files written before the bounds were recorded have no minimum; their Log
        # and N transforms ignored ScaleBy
        old = "minimum" not in settings
        return cls(settings["kind"], settings["pixel_scale"],
                   "1.0" if old and settings["kind"] != "Scale" else settings["scale_by"],
                   settings["maximum"], settings.get("minimum"), settings.get("sum_mean"),
                   settings.get("sum_std"))

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
        if self.kind == "Log" and np.any(r <= -self.pixel_scale):
            raise DataError(f"VarTransform=Log needs pixels above -PixelScale "
                            f"({-self.pixel_scale}); found {r.min()}")
        return self.values_of_ratios(r).astype(np.float32)

    def values_of_ratios(self, r):
        """Network values (float64) of ``r``, the pixels over ScaleBy."""
        if self.kind == "N":
            return r / self.maximum
        if self.kind == "Log":
            return np.log1p(r / self.pixel_scale) / np.log1p(self.maximum / self.pixel_scale)
        return np.asarray(r, np.float64)

    def value_slope_of_ratios(self, r):
        """d value / d r at ``r`` (float64)."""
        if self.kind == "N":
            return np.full_like(r, 1 / self.maximum, dtype=np.float64)
        if self.kind == "Log":
            return 1 / ((self.pixel_scale + r) * np.log1p(self.maximum / self.pixel_scale))
        return np.ones_like(r, dtype=np.float64)

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

    def ratios_and_slopes(self, values):
        """``ratio_inverse`` and ``ratio_slope`` of ``values`` together, with one pass of
        exponentials."""
        values = np.asarray(values, np.float64)
        r = self._unbounded_ratios(values)
        if self.kind == "N":
            slope = np.full_like(values, self.maximum)
        elif self.kind == "Log":
            # d r / d value = PixelScale L exp(value L) = L (r + PixelScale); infinite where
            # r overflowed, which is clipped
            slope = (r + self.pixel_scale) * np.log1p(self.maximum / self.pixel_scale)
        else:
            slope = np.ones_like(values)
        return self._clipped(r), np.where(self._inside(r), slope, 0.0)

    def ratio_slope(self, values):
        """d r / d value at network ``values`` (n, size), float64; 0 where ``r`` is clipped
        to the training range."""
        return self.ratios_and_slopes(values)[1]

    def ratio_inverse(self, values):
        """``r`` (pixels over ScaleBy) of network ``values`` (n, size), float64, within the
        training range."""
        return self._clipped(self._unbounded_ratios(values))

    def _clipped(self, r):
        """``r`` within the training range (as it is when the range is unknown)."""
        if self.maximum is None and self.minimum is None:
            return r
        return np.clip(r, None if self.minimum is None else self._lowest, self.maximum)

    def inverse_slope(self, values, events=None):
        """d pixel / d value of ``inverse`` at ``values`` (n, size), float64; 0 where the
        inverse is clipped to the training range."""
        values = np.asarray(values, np.float64)
        return self.ratio_slope(values) * self._per_event(events or {}, values.shape[0])

    def inverse(self, values, events=None):
        """Raw pixels for network values of shape (n, size), within the training range."""
        r = self.ratio_inverse(values)
        return (r * self._per_event(events or {}, r.shape[0])).astype(np.float32)


class SumNormalisation:
    """SumFromData's output stage: each generated image is rescaled, in the space of ``r``
    (pixels over ScaleBy), to a given summed intensity: in training the sum of the real
    image it is paired with, in generation one drawn from the training images with the
    nearest conditions (``totals.SumSampler``). The generator gets that sum as an input
    (standardised), so it learns the shape for a total rather than the total itself: a
    GAN's pixels, each a few per cent off, do not add up to the sub-per-cent precision of
    a jet's summed pT or a shower's deposit (CaloFlow's factorisation into the energies
    and the normalised shower, Krause and Shih 2021)."""

    width = 1

    def __init__(self, transform):
        self.transform = transform

    def inputs(self, sums):
        t = self.transform
        return ((np.asarray(sums, np.float64) - t.sum_mean) / t.sum_std).reshape(-1, 1)

    def targets(self, values):
        return self.transform.ratio_inverse(values).sum(axis=1)

    def __call__(self, values, sums):
        t = self.transform
        values = np.asarray(values, np.float64)
        n = values.shape[0]
        r, r_slope = t.ratios_and_slopes(values.reshape(n, -1))
        sums = np.asarray(sums, np.float64).reshape(n, 1)
        # pixels that scaling would push past the training maximum are held there and the
        # rest scaled to make up the sum (so the bound does not cut the total)
        top = np.inf if t.maximum is None else t.maximum
        # a (nearly) empty image cannot be scaled up to a total: at most 1000-fold, which
        # keeps the gradient finite (the collapse guard reacts to empty images)
        floor = 1e-3 * np.abs(sums)
        capped = np.zeros(r.shape, bool)
        while True:
            free = np.where(capped, 0.0, r).sum(axis=1, keepdims=True)
            current = np.maximum(free, floor)
            remaining = sums - np.where(capped, top, 0.0).sum(axis=1, keepdims=True)
            factor = np.maximum(remaining, 0.0) / np.maximum(current, 1e-300)
            over = ~capped & (r * factor > top)
            if not over.any():
                break
            capped |= over
        fitted = np.where(capped, top, r * factor)
        out = t.values_of_ratios(fitted)

        def backward(grad):
            grad_fitted = np.where(capped, 0.0, np.asarray(grad, np.float64).reshape(n, -1)
                                   * t.value_slope_of_ratios(fitted))
            # d fitted_i / d r_j = factor (delta_ij - r_i / current) over the free pixels,
            # while their sum is not held at its floor
            weighted = (grad_fitted * r).sum(axis=1, keepdims=True) / current
            held = free >= floor
            grad_r = factor * (grad_fitted - np.where(held, weighted, 0.0))
            return np.where(capped, 0.0, grad_r) * r_slope
        return out, backward
