"""Physics observables of image batches, computed once per sample and vectorised over events.

A sample is measured into a :class:`Measured`: per-event observables (one value per event)
and pooled ones (many values per event, each with a weight, such as the spectrum of the
non-zero pixels). Which observables apply depends on the pixel geometry:

- every image: total intensity, number and fraction of non-zero pixels, the pixel
  spectrum, the intensity-weighted centroid and widths (in pixel units, pseudorapidity and
  azimuth, or mm, from the :class:`Geometry`); images of several layers are summed over
  depth for the transverse observables;
- ``jet`` (LAGAN images: pixel = pT, rows = phi bins): mass and pT of the pixels taken as
  massless particles, N-subjettiness tau21 (``jets.py``), and the pT-weighted radial profile
  (the distance of every pixel from the image centre, weighted by its share of the jet pT);
- ``calo`` (cells of ``cell_size`` mm): energy response (deposit / condition, when a
  condition such as the incident energy is given), lateral widths in mm, and the core
  fraction (energy in the 3x3 cells around the hottest cell over the total).

``register_observable`` adds a user's own per-event observable for every later comparison.
"""

import functools

import numpy as np
from numba import njit, prange

from ..errors import DataError, OptionError, did_you_mean
from .jets import JET_EXTENT, image_mass_pt, image_tau21, pixel_centres

GEOMETRIES = ("image", "jet", "calo")
CALO_CELL_MM = 5.0


class Geometry:
    """Where the pixels of ``shape`` = (depth, rows, columns) images lie: ``image``
    (pixel indices), ``jet`` (eta and phi centres over [-extent, extent]) or ``calo``
    (cell centres in mm, ``cell_size`` apart, centred on the image)."""

    def __init__(self, kind="image", shape=(1, 25, 25), extent=JET_EXTENT,
                 cell_size=CALO_CELL_MM):
        kind = str(kind).lower()
        if kind not in GEOMETRIES:
            raise OptionError(f"unknown geometry {kind!r}; expected one of "
                              f"{', '.join(GEOMETRIES)}{did_you_mean(kind, GEOMETRIES)}")
        shape = tuple(int(s) for s in shape)
        if len(shape) == 2:
            shape = (1,) + shape
        if len(shape) != 3 or min(shape) < 1:
            raise DataError(f"an image shape is depth, rows, columns (e.g. 1,25,25); got "
                            f"{','.join(map(str, shape))}")
        self.kind, self.shape = kind, shape
        self.extent, self.cell_size = float(extent), float(cell_size)
        rows, columns = shape[1:]
        if kind == "jet":
            x, y = pixel_centres(columns, extent), pixel_centres(rows, extent)
            self.axes = ("pseudorapidity", "azimuth")
            self.unit = ""
        elif kind == "calo":
            x = (np.arange(columns) - (columns - 1) / 2) * cell_size
            y = (np.arange(rows) - (rows - 1) / 2) * cell_size
            self.axes = ("x", "y")
            self.unit = "mm"
        else:
            x, y = np.arange(columns, dtype=np.float64), np.arange(rows, dtype=np.float64)
            self.axes = ("column", "row")
            self.unit = "pixels"
        grid_y, grid_x = np.meshgrid(y, x, indexing="ij")
        self.x, self.y = grid_x.ravel(), grid_y.ravel()

    @property
    def pixels(self):
        return int(np.prod(self.shape))

    def describe(self):
        return f"{self.kind} geometry, images {'x'.join(map(str, self.shape))}"


class Observable:
    """A named observable: ``function(sample)`` (a :class:`Sample`) returns one value per
    event, or, when ``pooled``, ``(values, owner event, weight)`` arrays."""

    def __init__(self, name, function, title="", unit="", pooled=False, log_scale=False,
                 integer=False, needs_condition=False, in_vector=True):
        self.name, self.function = name, function
        self.title, self.unit = title or name, unit
        self.pooled, self.log_scale, self.integer = pooled, log_scale, integer
        self.needs_condition = needs_condition
        self.in_vector = in_vector  # part of the observable vector of FPD, KPD, classifier

    def label(self):
        return f"{self.title} [{self.unit}]" if self.unit else self.title


class Measured:
    """The observables of one sample: ``events[name]`` (n,) arrays, ``pooled[name]`` as
    (values, owner, weight) sorted by owner, the event weights and, optionally, the
    images (for mean images) and the condition."""

    def __init__(self, observables, events, pooled, weights, pixels, condition):
        self.observables = observables
        self.events, self.pooled = events, pooled
        self.weights, self.pixels, self.condition = weights, pixels, condition

    def __len__(self):
        return self.weights.size

    def values(self, name, rows=None):
        """(values, weights) of observable ``name`` for the events ``rows`` (all if None;
        repeated rows count repeatedly)."""
        if name in self.events:
            if rows is None:
                return self.events[name], self.weights
            return self.events[name][rows], self.weights[rows]
        values, owner, weight = self.pooled[name]
        if rows is None:
            return values, weight * self.weights[owner]
        starts = np.searchsorted(owner, rows)
        counts = np.searchsorted(owner, rows, side="right") - starts
        # the positions of every chosen event's values, in the order of rows
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
        picked = offsets + np.arange(counts.sum())
        return values[picked], weight[picked] * self.weights[owner[picked]]

    def subset(self, rows):
        """The events ``rows`` (a boolean mask) as a Measured, without measuring again."""
        chosen = np.flatnonzero(rows)
        pooled = {}
        for name, (values, owner, weight) in self.pooled.items():
            keep = np.isin(owner, chosen)
            pooled[name] = (values[keep], np.searchsorted(chosen, owner[keep]), weight[keep])
        return Measured(self.observables, {k: v[chosen] for k, v in self.events.items()},
                        pooled, self.weights[chosen], self.pixels[chosen],
                        None if self.condition is None else self.condition[chosen])

    def vector(self):
        """The per-event observables that form the observable vector, as (n, k)."""
        names = [o.name for o in self.observables if not o.pooled and o.in_vector]
        return names, np.stack([self.events[n] for n in names], axis=1)


def _checked_pixels(images, geometry, what):
    images = np.asarray(images)
    if images.ndim == 0 or len(images) == 0:
        raise DataError(f"{what}: no events to measure")
    pixels = np.ascontiguousarray(images.reshape(len(images), -1), np.float64)
    if pixels.shape[1] != geometry.pixels:
        raise DataError(f"{what}: images of {'x'.join(map(str, geometry.shape))} need "
                        f"{geometry.pixels} pixels per event; got {pixels.shape[1]} (give the "
                        f"shape as depth,rows,columns)")
    bad = ~np.isfinite(pixels).all(axis=1)
    if bad.any():
        raise DataError(f"{what}: event {int(np.flatnonzero(bad)[0])} has NaN or infinite "
                        f"pixels ({int(bad.sum())} such events); remove them before comparing")
    return pixels


def measure(images, geometry, weights=None, condition=None, what="sample", names=None):
    """A :class:`Measured` of ``images`` (n, pixels) in ``geometry``; ``weights`` are
    event weights (default 1), ``condition`` a per-event value for response observables;
    ``names`` measures only those observables (default all)."""
    pixels = _checked_pixels(images, geometry, what)
    n = len(pixels)
    weights = _checked_weights(weights, n, what)
    if condition is not None:
        condition = _checked_condition(condition, n, what, geometry)
    chosen = observables_for(geometry, condition is not None)
    if names is not None:
        chosen = [o for o in chosen if o.name in names]
    events, pooled = {}, {}
    sample = Sample(pixels, geometry, condition)
    for observable in chosen:
        result = observable.function(sample)
        if observable.pooled:
            pooled[observable.name] = result
        else:
            events[observable.name] = _checked_result(observable, result, n, what)
    return Measured(chosen, events, pooled, weights, pixels, condition)


def _checked_weights(weights, n, what):
    if weights is None:
        return np.ones(n)
    weights = np.asarray(weights, np.float64).ravel()
    if weights.size != n:
        raise DataError(f"{what}: need one weight per event ({n}); got {weights.size}")
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(f"{what}: event {first} has the weight {float(weights[first])} "
                        f"({int(bad.sum())} such events); the distances need finite, "
                        f"non-negative weights: drop those events, or compare with |weight|")
    if weights.sum() <= 0:
        raise DataError(f"{what}: every event weight is 0; nothing to compare")
    return weights


def _checked_condition(condition, n, what, geometry):
    condition = np.asarray(condition, np.float64).ravel()
    if condition.size != n:
        raise DataError(f"{what}: need one condition value per event ({n}); got "
                        f"{condition.size}")
    bad = ~np.isfinite(condition)
    if geometry.kind == "calo":  # the energy response divides by the condition
        bad |= condition == 0
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(f"{what}: event {first} has the condition {float(condition[first])} "
                        f"({int(bad.sum())} such events); conditions must be finite"
                        + (" and non-zero (the energy response divides by them)"
                           if geometry.kind == "calo" else "") + "; remove such events")
    return condition


def _checked_result(observable, result, n, what):
    values = np.asarray(result, np.float64).ravel()
    if values.size != n:
        raise DataError(f"observable {observable.name!r} returned {values.size} values for "
                        f"the {n} events of {what}; it must return one value per event")
    if not np.all(np.isfinite(values)):
        raise DataError(f"observable {observable.name!r} gave NaN or infinite values on "
                        f"{what} (event {int(np.flatnonzero(~np.isfinite(values))[0])})")
    return values


# -- the observables ---------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _moments(pixels, x, y):
    """Per event: total, non-zero count, centroid x, y and widths x, y (intensity-weighted
    standard deviations), the transverse position of pixel p being p % x.size."""
    n, size = pixels.shape
    cells = x.size
    out = np.zeros((n, 6))
    for event in prange(n):
        total = 0.0
        lit = 0
        sx = sy = sxx = syy = 0.0
        for p in range(size):
            value = pixels[event, p]
            if value != 0.0:
                lit += 1
            c = p % cells
            total += value
            sx += value * x[c]
            sy += value * y[c]
            sxx += value * x[c] * x[c]
            syy += value * y[c] * y[c]
        out[event, 0] = total
        out[event, 1] = lit
        if total > 0:
            mx, my = sx / total, sy / total
            out[event, 2] = mx
            out[event, 3] = my
            out[event, 4] = np.sqrt(max(sxx / total - mx * mx, 0.0))
            out[event, 5] = np.sqrt(max(syy / total - my * my, 0.0))
    return out


@njit(parallel=True, cache=True)
def _core_fraction(pixels, rows, columns):
    """Energy in the 3x3 transverse cells around the hottest one over the total."""
    n, size = pixels.shape
    cells = rows * columns
    out = np.zeros(n)
    for event in prange(n):
        transverse = np.zeros(cells)
        for p in range(size):
            transverse[p % cells] += pixels[event, p]
        total = transverse.sum()
        if total <= 0:
            continue
        hottest = np.argmax(transverse)
        r0, c0 = hottest // columns, hottest % columns
        core = 0.0
        for r in range(max(r0 - 1, 0), min(r0 + 2, rows)):
            for c in range(max(c0 - 1, 0), min(c0 + 2, columns)):
                core += transverse[r * columns + c]
        out[event] = core / total
    return out


class Sample:
    """What an observable function reads: the pixels (n, pixels) in float64, the geometry
    and the condition, and quantities several observables share, computed once."""

    def __init__(self, pixels, geometry, condition):
        self.pixels, self.geometry, self.condition = pixels, geometry, condition

    @functools.cached_property
    def moments(self):
        """Per event: total, non-zero count, centroid x, y, widths x, y."""
        return _moments(self.pixels, self.geometry.x, self.geometry.y)

    @functools.cached_property
    def mass_pt(self):
        return image_mass_pt(self.pixels, self.geometry.shape[1:], self.geometry.extent)


def _moment(column):
    def compute(sample):
        return sample.moments[:, column]
    return compute


def _nonzero_fraction(sample):
    return sample.moments[:, 1] / sample.pixels.shape[1]


def _pixel_spectrum(sample):
    pixels = sample.pixels
    owner, position = np.nonzero(pixels > 0)
    return pixels[owner, position], owner, np.ones(owner.size)


def _jet_mass(sample):
    return sample.mass_pt[0]


def _jet_pt(sample):
    return sample.mass_pt[1]


def _jet_tau21(sample):
    return image_tau21(sample.pixels, sample.geometry.shape[1:], sample.geometry.extent)


def _radial_profile(sample):
    pixels, geometry = sample.pixels, sample.geometry
    owner, position = np.nonzero(pixels > 0)
    distance = np.hypot(geometry.x, geometry.y)[position % geometry.x.size]
    lit = np.where(pixels > 0, pixels, 0.0).sum(axis=1)  # > 0 for every owner
    return distance, owner, pixels[owner, position] / lit[owner]


def _energy_response(sample):
    condition = sample.condition
    return sample.moments[:, 0] / np.where(condition != 0, condition, np.nan)


def _core(sample):
    return _core_fraction(sample.pixels, sample.geometry.shape[1], sample.geometry.shape[2])


def observables_for(geometry, with_condition=False):
    """The observables that apply to ``geometry`` (then the user's own)."""
    kind, unit = geometry.kind, geometry.unit
    x_name, y_name = geometry.axes
    intensity = {"jet": ("summed pixel pT", "GeV"), "calo": ("deposited energy", "GeV")}
    total_title, total_unit = intensity.get(kind, ("total intensity", ""))
    chosen = [
        Observable("total intensity", _moment(0), total_title, total_unit),
        Observable("non-zero pixels", _moment(1), "non-zero pixels", integer=True),
        Observable("non-zero fraction", _nonzero_fraction, "fraction of non-zero pixels",
                   in_vector=False),  # the count over a constant: no new information
        Observable("pixel spectrum", _pixel_spectrum, "non-zero pixel " + (
            "pT" if kind == "jet" else "energy" if kind == "calo" else "intensity"),
            total_unit, pooled=True, log_scale=True),
        Observable("centroid x", _moment(2), f"{x_name} centroid", unit),
        Observable("centroid y", _moment(3), f"{y_name} centroid", unit),
        Observable("width x", _moment(4), ("lateral width " if kind == "calo" else "width ")
                   + f"in {x_name}", unit),
        Observable("width y", _moment(5), ("lateral width " if kind == "calo" else "width ")
                   + f"in {y_name}", unit),
    ]
    if kind == "jet":
        chosen += [
            Observable("mass", _jet_mass, "image mass", "GeV"),
            Observable("pT", _jet_pt, "image pT", "GeV"),
            Observable("tau21", _jet_tau21, "N-subjettiness tau21"),
            Observable("radial profile", _radial_profile, "pT-weighted distance from the "
                       "jet axis", pooled=True),
        ]
    elif kind == "calo":
        if with_condition:
            chosen.append(Observable("energy response", _energy_response,
                                     "deposited energy / condition", needs_condition=True))
        chosen.append(Observable("core fraction", _core, "energy fraction in the 3x3 core"))
    return chosen + list(USER_OBSERVABLES.values())


USER_OBSERVABLES = {}


def register_observable(name, function, title="", unit="", log_scale=False):
    """Add ``function(images)`` -> one value per event as an observable of every later
    comparison; ``images`` arrive as float64 (n, depth, rows, columns)."""
    name = str(name)
    if not callable(function):
        raise DataError(f"observable {name!r}: give a function of an image batch, not "
                        f"{type(function).__name__}")
    builtin = {o.name for o in observables_for(Geometry("jet"))} | {
        o.name for o in observables_for(Geometry("calo"), True)}
    if name in builtin - set(USER_OBSERVABLES):
        raise DataError(f"observable {name!r} is built in; choose another name")

    def compute(sample):
        return function(sample.pixels.reshape((len(sample.pixels),) + sample.geometry.shape))
    USER_OBSERVABLES[name] = Observable(name, compute, title, unit, log_scale=log_scale)


def unregister_observable(name):
    """Remove an observable added with ``register_observable``."""
    USER_OBSERVABLES.pop(str(name), None)
