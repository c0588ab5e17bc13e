"""Reading declared variables from one TTree, a range of entries at a time.

An image (``AddVariablesArray(name, size)``) may be stored in four ways, found by looking at
the tree: a fixed-size array branch (``image[625]/F``), a ``std::vector<float>`` or a
``ROOT::RVec<float>`` branch (jagged: every entry must hold ``size`` values), or ``size``
scalar branches ``name_0 ... name_{size-1}`` (or ``name0 ...``). Scalars (variables,
spectators, conditions, weights, cuts) are expressions uproot evaluates. Every problem is a
``DataError`` naming the file, tree, branch and, where there is one, the entry.
"""

import awkward as ak
import numpy as np
import uproot

from ..errors import DataError, did_you_mean
from .expressions import to_uproot


def _where(source, branch=None):
    return f"{source.label}" + (f", branch {branch!r}" if branch else "")


def _branch_names(source):
    return list(source.tree.keys())


def _is_numeric(interpretation):
    return (isinstance(interpretation, uproot.interpretation.numerical.AsDtype)
            and interpretation.from_dtype.base.kind in "biuf")


def _read_failure(source, branch, start, stop, error):
    reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return DataError(f"cannot read {_where(source, branch)} entries {start}-{stop - 1}: the "
                     f"file is truncated or corrupt ({type(error).__name__}: {reason})")


class ArrayColumn:
    """An array variable of ``size`` values per event, in whichever storage style."""

    def __init__(self, source, name, size):
        self.source = source
        self.name = name
        self.size = int(size)
        names = _branch_names(source)
        if name in names:
            self._bind_branch(source.tree[name])
            return
        for pattern in ("{}_{}", "{}{}"):
            scalars = [pattern.format(name, i) for i in range(self.size)]
            present = [s for s in scalars if s in names]
            if len(present) == self.size:
                self.style = "scalars"
                self.branches = scalars
                for branch in scalars:
                    if not _is_numeric(source.tree[branch].interpretation):
                        raise DataError(f"{_where(source, branch)} is not numeric "
                                        f"({source.tree[branch].typename}); the image needs "
                                        f"numbers")
                return
            if present:
                missing = [s for s in scalars if s not in names]
                raise DataError(
                    f"{_where(source)} stores {name!r} as scalar branches "
                    f"{pattern.format(name, 'i')} but {len(missing)} of the {self.size} are "
                    f"missing (first: {missing[0]!r}); AddVariablesArray({name!r}, "
                    f"{self.size}) needs all of them")
        raise DataError(f"{_where(source)} has no branch {name!r}"
                        f"{did_you_mean(name, names)}, nor scalar branches {name}_0 ... "
                        f"{name}_{self.size - 1}; branches: {', '.join(names[:20])}"
                        + (" ..." if len(names) > 20 else ""))

    def _bind_branch(self, branch):
        interpretation = branch.interpretation
        where = _where(self.source, self.name)
        self.branches = [self.name]
        if _is_numeric(interpretation):
            values = int(np.prod(interpretation.inner_shape, dtype=np.int64))
            if values != self.size:
                raise DataError(f"{where} holds {values} values per entry ({branch.typename}), "
                                f"but AddVariablesArray({self.name!r}, {self.size}) expects "
                                f"{self.size}")
            self.style = "fixed"
            return
        if (isinstance(interpretation, uproot.interpretation.jagged.AsJagged)
                and _is_numeric(interpretation.content)):
            self.style = "jagged"
            return
        raise DataError(f"{where} is of type {branch.typename}, which is not an array of numbers "
                        f"(fixed-size array, std::vector or ROOT::RVec of a numeric type)")

    def read(self, start, stop):
        """float32 values of entries [start, stop), shape (stop - start, size)."""
        tree = self.source.tree
        try:
            if self.style == "scalars":
                arrays = tree.arrays(self.branches, entry_start=start, entry_stop=stop,
                                     library="np")
                return np.column_stack([arrays[b] for b in self.branches]).astype(np.float32)
            if self.style == "fixed":
                values = tree[self.name].array(entry_start=start, entry_stop=stop, library="np")
                return np.asarray(values, np.float32).reshape(stop - start, self.size)
        except Exception as error:
            raise _read_failure(self.source, self.name, start, stop, error) from None
        jagged = self._read_jagged(start, stop)
        return ak.to_numpy(ak.flatten(jagged, axis=1)).astype(np.float32).reshape(-1, self.size)

    def _read_jagged(self, start, stop):
        """The jagged entries [start, stop), each checked to hold ``size`` values."""
        try:
            jagged = self.source.tree[self.name].array(entry_start=start, entry_stop=stop,
                                                       library="ak")
        except Exception as error:
            raise _read_failure(self.source, self.name, start, stop, error) from None
        self._check_counts(ak.to_numpy(ak.num(jagged, axis=1)), start)
        return jagged

    def _check_counts(self, counts, start):
        wrong = np.flatnonzero(counts != self.size)
        if wrong.size:
            entry = start + int(wrong[0])
            raise DataError(
                f"{_where(self.source, self.name)} entry {entry} holds {int(counts[wrong[0]])} "
                f"values, but AddVariablesArray({self.name!r}, {self.size}) expects {self.size}"
                f" ({wrong.size} entries of the wrong length in entries {start}-"
                f"{start + counts.size - 1})")

    def check_structure(self, step):
        """Jagged storage: every entry must hold ``size`` values (reads the branch once)."""
        if self.style != "jagged":
            return
        for start in range(0, self.source.num_entries, step):
            self._read_jagged(start, min(self.source.num_entries, start + step))

    @property
    def bytes_per_event(self):
        return 4 * self.size


class ExpressionColumns:
    """One number per event for each of ``expressions`` ({label: TTree::Draw text})."""

    def __init__(self, source, expressions, aliases, roles=None):
        self.source = source
        self.labels = list(expressions)
        self.texts = dict(expressions)
        self.roles = {label: (roles or {}).get(label, label) for label in self.labels}
        self.aliases = {name: to_uproot(text, f"definition of {name!r}")
                        for name, text in aliases.items()}
        self.translated = {label: to_uproot(text, label) for label, text in expressions.items()}
        if self.labels and source.num_entries:
            self.read(0, 1)  # an unknown name or a non-scalar fails here, before training

    def read(self, start, stop):
        """{label: array of entries [start, stop)}, numeric, one value per entry."""
        if not self.labels:
            return {}
        unique = sorted(set(self.translated.values()))
        try:
            with np.errstate(all="ignore"):  # log(0) and the like give inf, checked later
                arrays = self.source.tree.arrays(unique, aliases=self.aliases,
                                                 entry_start=start, entry_stop=stop,
                                                 library="np")
        except uproot.KeyInFileError as error:
            names = _branch_names(self.source)
            label = next((l for l, t in self.translated.items() if str(error.key) in t),
                         self.labels[0])
            raise DataError(f"{_where(self.source)}: the {self.roles[label]} "
                            f"{self.texts[label]!r} uses {error.key!r}, which is not a branch"
                            f"{did_you_mean(error.key, names)}") from None
        except (DataError, SyntaxError, TypeError, ValueError, NameError, IndexError) as error:
            raise DataError(f"{_where(self.source)}: cannot evaluate "
                            f"{', '.join(repr(self.texts[l]) for l in self.labels)} "
                            f"({type(error).__name__}: {str(error).splitlines()[0]})") from None
        except Exception as error:
            raise _read_failure(self.source, None, start, stop, error) from None
        result = {}
        for label in self.labels:
            values = np.asarray(arrays[self.translated[label]])
            if values.ndim == 0:  # a constant expression: the same value for every entry
                values = np.full(stop - start, values)
            role, text = self.roles[label], self.texts[label]
            if values.dtype == object or values.ndim != 1:
                raise DataError(f"{_where(self.source)}: the {role} {text!r} is not one "
                                f"number per event (it has several values per entry); pick "
                                f"one, e.g. name[0] for the first element of a branch")
            if values.dtype.kind not in "biuf":
                raise DataError(f"{_where(self.source)}: the {role} {text!r} is not numeric "
                                f"({values.dtype})")
            result[label] = values  # dtype as computed: float32 branches stay float32
        return result
