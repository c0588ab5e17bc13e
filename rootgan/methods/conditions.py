"""The conditions of a conditional GAN (``DataLoader.AddCondition``): their statistics on
the training events, and where generated events take their conditions from.

The networks see each condition standardised, ``(value - mean) / std`` with the training
mean and standard deviation; both are kept in the weights file with a sample of the
training conditions (at most SAMPLE_ROWS events, all conditions of an event together), from
which generation draws when it is given no conditions. For an ACGAN, a condition whose
training values are whole numbers with at most MAX_CLASSES distinct values is a class label
(the auxiliary head classifies it); any other is regressed.
"""

import os

import numpy as np
import uproot

from ..errors import DataError, OptionError
from .base import branch_name

SAMPLE_ROWS = 100_000
MAX_CLASSES = 10


class ConditionSpace:
    def __init__(self, names, mean=None, std=None, classes=None, sample=None):
        self.names = list(names)
        self.mean = None if mean is None else np.asarray(mean, np.float64)
        self.std = None if std is None else np.asarray(std, np.float64)
        self.classes = classes or [None] * len(self.names)
        self.sample = sample  # (rows, k) raw training conditions

    def __len__(self):
        return len(self.names)

    @property
    def branches(self):
        """The conditions' branch names in generated trees."""
        return [branch_name(name) for name in self.names]

    # -- fitting -------------------------------------------------------------------------
    def fit(self, split, seed):
        """Statistics and the stored sample from the events of ``split`` (a dataset
        split); ``seed`` picks the sample's rows when the split holds more."""
        values = [np.stack([np.asarray(events[name], np.float64) for name in self.names],
                           axis=1) for events in split.read_chunks()]
        values = np.concatenate(values) if values else np.empty((0, len(self.names)))
        if not len(values):
            raise DataError("no training events to take the conditions' statistics from")
        self.mean = values.mean(axis=0)
        self.minimum = values.min(axis=0)  # for checks at training time, not stored
        self.nonpositive = (values <= 0).sum(axis=0)
        std = values.std(axis=0)
        # a condition that never varies standardises to 0 for every event
        self.std = np.where(std > 0, std, 1.0)
        self.classes = []
        for column in values.T:
            distinct = np.unique(column)
            whole = np.all(distinct == np.round(distinct))
            self.classes.append(distinct.tolist() if whole and 2 <= len(distinct) <= MAX_CLASSES
                                else None)
        if len(values) > SAMPLE_ROWS:
            rows = np.random.default_rng([seed, 5]).choice(len(values), SAMPLE_ROWS,
                                                           replace=False)
            values = values[np.sort(rows)]
        self.sample = values
        return self

    def describe(self):
        return ", ".join(
            f"{name} ({'classes ' + ', '.join(f'{v:g}' for v in classes) if classes else ''}"
            f"{'; ' if classes else ''}mean {mean:.4g}, std {std:.4g})"
            for name, mean, std, classes in zip(self.names, self.mean, self.std, self.classes))

    # -- conversions ---------------------------------------------------------------------
    def standardised(self, raw, dtype=np.float32):
        """(n, k) network inputs for raw conditions (n, k)."""
        return np.ascontiguousarray((np.asarray(raw, np.float64) - self.mean) / self.std,
                                    dtype)

    def raw(self, standardised):
        """Raw conditions for standardised ones; a class condition gets its nearest class
        value exactly (no round-off)."""
        raw = np.asarray(standardised, np.float64) * self.std + self.mean
        for index, classes in enumerate(self.classes):
            if classes is not None:
                values = np.asarray(classes)
                raw[:, index] = values[np.abs(raw[:, index, None] - values).argmin(axis=1)]
        return raw

    def from_events(self, events, where="the events", first_entry=None):
        """Raw (n, k) conditions of a dict of columns (read from a tree at ``first_entry``,
        which a message about a bad value then names)."""
        missing = [name for name in self.names if name not in events]
        if missing:
            raise DataError(f"{where} lack the condition{'s' if len(missing) > 1 else ''} "
                            f"{', '.join(missing)} this GAN is conditioned on; give "
                            f"{', '.join(self.names)}")
        raw = np.stack([np.asarray(events[name], np.float64).reshape(-1)
                        for name in self.names], axis=1)
        if not np.all(np.isfinite(raw)):
            row = int(np.flatnonzero(~np.all(np.isfinite(raw), axis=1))[0])
            which = f"event {row}" if first_entry is None else f"entry {first_entry + row}"
            raise DataError(f"{where}: {which} has a NaN or infinite condition "
                            f"({dict(zip(self.names, raw[row].tolist()))}); conditions must be "
                            f"finite")
        return raw

    def as_events(self, raw):
        """{name: raw values} (what ScaleBy=<condition> reads)."""
        return {name: raw[:, i] for i, name in enumerate(self.names)}

    def standardised_classes(self, index):
        classes = self.classes[index]
        return None if classes is None else (np.asarray(classes) - self.mean[index]) / \
            self.std[index]

    # -- persistence ---------------------------------------------------------------------
    def settings(self):
        return {"names": self.names, "mean": self.mean.tolist(), "std": self.std.tolist(),
                "classes": self.classes}

    @classmethod
    def from_settings(cls, settings, sample):
        return cls(settings["names"], settings["mean"], settings["std"], settings["classes"],
                   np.asarray(sample, np.float64))

    # -- generation sources: f(start, stop, rng) -> raw (stop - start, k) ---------------
    def sampled_source(self):
        """Conditions drawn from the stored training sample (rows with replacement)."""
        def source(start, stop, rng):
            return self.sample[rng.integers(0, len(self.sample), stop - start)]
        return source

    def cycled_source(self, raw):
        """The rows of ``raw`` in order, from the start again when they run out."""
        raw = np.asarray(raw, np.float64)

        def source(start, stop, rng):
            return raw[np.arange(start, stop) % len(raw)]
        return source

    def given_source(self, given, n):
        """A source for what a user passes: {name: value} (every event), {name: array of
        n values} (per event), or "FILE.root:TREE" with a branch per condition."""
        if isinstance(given, os.PathLike):
            raise DataError(f"conditions from a tree are given as 'FILE.root:TREE' (a string); "
                            f"got the path {os.fspath(given)!r}")
        if isinstance(given, str):
            return self._file_source(given, n)
        if not isinstance(given, dict):
            raise DataError(f"conditions must be a dict {{name: value or array}} or "
                            f"'FILE.root:TREE'; got {type(given).__name__}")
        unknown = [name for name in given if name not in self.names]
        if unknown:
            raise OptionError(f"unknown condition{'s' if len(unknown) > 1 else ''} "
                              f"{', '.join(map(str, unknown))}: this GAN is conditioned on "
                              f"{', '.join(self.names)}")
        columns = []
        for name in self.names:
            if name not in given:
                raise DataError(f"condition {name} not given: this GAN is conditioned on "
                                f"{', '.join(self.names)}; give each (e.g. "
                                f"--condition {name}=VALUE)")
            try:
                value = np.asarray(given[name], np.float64)
            except (TypeError, ValueError):
                raise DataError(f"condition {name}={given[name]!r} is not a number") from None
            if value.ndim == 0:
                value = np.full(n, float(value))
            if value.shape != (n,):
                raise DataError(f"condition {name}: give one value, or one per event ({n}); "
                                f"got shape {value.shape}")
            columns.append(value)
        raw = self.from_events(dict(zip(self.names, columns)), "the given conditions")
        return lambda start, stop, rng: raw[start:stop]

    def _file_source(self, spec, n):
        path, _, tree_name = spec.rpartition(":")
        if not path or not tree_name:
            raise DataError(f"conditions {spec}: expected FILE.root:TREE")
        try:
            tree = uproot.open(path)[tree_name]
        except FileNotFoundError:
            raise DataError(f"conditions {spec}: no file {path}") from None
        except (KeyError, OSError, ValueError) as error:
            raise DataError(f"conditions {spec}: cannot read tree {tree_name!r} ({error})"
                            ) from None
        missing = [b for b in self.branches if b not in tree.keys()]
        if missing:
            raise DataError(f"conditions {spec}: the tree has no branch "
                            f"{', '.join(missing)}; it needs one per condition "
                            f"({', '.join(self.branches)}); it has "
                            f"{', '.join(tree.keys()) or 'none'}")
        if tree.num_entries < n:
            raise DataError(f"conditions {spec}: {tree.num_entries:,} entries, fewer than "
                            f"the {n:,} events asked for; ask for at most {tree.num_entries:,}")

        def source(start, stop, rng):
            arrays = tree.arrays(self.branches, entry_start=start, entry_stop=stop,
                                 library="np")
            return self.from_events({name: arrays[b] for name, b in
                                     zip(self.names, self.branches)},
                                    f"conditions {spec}", first_entry=start)
        return source
