"""Pixel transforms (``VarTransform``): applied to the training images, inverted on every
generated image. All map 0 to 0, so empty pixels stay empty.

- ``None``: unchanged.
- ``N``: ``x / max`` with ``max`` the largest training pixel.
- ``Log``: ``log(1 + x/PixelScale) / log(1 + max/PixelScale)``: compresses the steep
  spectrum of calorimeter and jet-image pixels.
- ``Scale``: ``x / ScaleBy``, a number, or the name of a condition: each image divided by
  its event's value (pixels relative to the incident energy).
"""

import numpy as np

from ..errors import DataError, OptionError

NAMES = ("None", "N", "Log", "Scale")


class PixelTransform:
    def __init__(self, kind="None", pixel_scale=1.0, scale_by="1.0", maximum=None):
        if kind not in NAMES:
            raise OptionError(f"VarTransform={kind} is not known; expected one of "
                              f"{', '.join(NAMES)}")
        if not pixel_scale > 0:
            raise OptionError(f"PixelScale must be > 0, got {pixel_scale}")
        self.kind = kind
        self.pixel_scale = float(pixel_scale)
        self.scale_by = str(scale_by)
        self.maximum = None if maximum is None else float(maximum)
        try:
            self.divisor = float(self.scale_by)
            self.condition = None
            if kind == "Scale" and not 0 < self.divisor < float("inf"):
                raise OptionError(f"ScaleBy must be a finite number > 0 or a condition name, "
                                  f"got {scale_by}")
        except ValueError:
            self.divisor = None
            self.condition = self.scale_by

    @property
    def needs_maximum(self):
        return self.kind in ("N", "Log")

    def settings(self):
        return {"kind": self.kind, "pixel_scale": self.pixel_scale, "scale_by": self.scale_by,
                "maximum": self.maximum}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings["kind"], settings["pixel_scale"], settings["scale_by"],
                   settings["maximum"])

    def _per_event(self, events, n):
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

    def forward(self, pixels, events=None):
        """Network values (float32) for raw pixels of shape (n, size)."""
        pixels = np.asarray(pixels, np.float64)
        if self.kind == "None":
            out = pixels
        elif self.kind == "N":
            out = pixels / self.maximum
        elif self.kind == "Log":
            if np.any(pixels <= -self.pixel_scale):
                raise DataError(f"VarTransform=Log needs pixels above -PixelScale "
                                f"({-self.pixel_scale}); found {pixels.min()}")
            out = np.log1p(pixels / self.pixel_scale) / np.log1p(self.maximum / self.pixel_scale)
        else:
            out = pixels / self._per_event(events or {}, pixels.shape[0])
        return out.astype(np.float32)

    def inverse_slope(self, values, events=None):
        """d pixel / d value of ``inverse`` at ``values`` (n, size), float64."""
        values = np.asarray(values, np.float64)
        if self.kind == "None":
            return np.ones_like(values)
        if self.kind == "N":
            return np.full_like(values, self.maximum)
        if self.kind == "Log":
            scale = np.log1p(self.maximum / self.pixel_scale)
            return self.pixel_scale * scale * np.exp(values * scale)
        return np.broadcast_to(self._per_event(events or {}, values.shape[0]),
                               values.shape).astype(np.float64)

    def inverse(self, values, events=None):
        """Raw pixels for network values of shape (n, size)."""
        values = np.asarray(values, np.float64)
        if self.kind == "None":
            out = values
        elif self.kind == "N":
            out = values * self.maximum
        elif self.kind == "Log":
            out = self.pixel_scale * np.expm1(values * np.log1p(self.maximum / self.pixel_scale))
        else:
            out = values * self._per_event(events or {}, values.shape[0])
        return out.astype(np.float32)
