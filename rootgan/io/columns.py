"""Reading declared variables from one TTree, a range of entries at a time.

An image (``AddVariablesArray(name, size)``) may be stored in four ways, found by looking at
the tree: a fixed-size array branch (``image[625]/F``), a ``std::vector<float>`` or a
``ROOT::RVec<float>`` branch (jagged: every entry must hold ``size`` values), or ``size``
scalar branches ``name_0 ... name_{size-1}`` (or ``name0 ...``). Scalars (variables,
spectators, conditions, weights, cuts) are TTree::Draw expressions (formulas.py). Every
problem is a ``DataError`` naming the file, tree, branch and, where there is one, the
entry.
"""

import awkward as ak
import numpy as np
import uproot

from ..errors import DataError, did_you_mean
from .formulas import TreeFormulas


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
    """One number per event for each of ``expressions`` ({label: TTree::Draw text}), bound
    to the tree (names, types, one value per event checked) when made, before any entry
    is read. ``roles`` ({label: "variable", "cut", ...}) name them in messages."""

    def __init__(self, source, expressions, roles=None):
        self.source = source
        self.labels = list(expressions)
        self.texts = dict(expressions)
        self.roles = {label: (roles or {}).get(label, label) for label in self.labels}
        what = {label: role if self.texts[label] == label or role == label
                else f"{role} {label!r}" for label, role in self.roles.items()}
        self.formulas = TreeFormulas(source, expressions, what)
        self.missable = [label for label in self.labels if self.formulas.may_miss(label)]

    def describe(self, label):
        """'variable 'v[3]'' and the like, for messages."""
        return f"{self.roles[label]} {self.texts[label]!r}"

    def evaluate(self, labels, start, stop):
        """{label: (values, present)} of entries [start, stop) (see TreeFormulas)."""
        if not labels:
            return {}
        names = self.formulas.branches_of(labels)
        try:
            columns = self.formulas.read_branches(names, start, stop)
        except Exception as error:
            raise _read_failure(self.source, ", ".join(names), start, stop, error) from None
        return self.formulas.compute(labels, columns, start, stop)

    def read(self, start, stop):
        """{label: values of entries [start, stop)}; an event without a value (x[i] past
        the end of its vector) is NaN here, but the selection skips such events."""
        result = {}
        for label, (values, present) in self.evaluate(self.labels, start, stop).items():
            if present is not None:
                values = np.where(present, values, np.nan)
            result[label] = values  # a bare branch keeps its type: float32 stays float32
        return result

    def missing(self, start, stop):
        """{label: events of entries [start, stop) without a value}, for the expressions
        that can lack one (x[i] past the end of a vector); {} when none can."""
        return {label: ~present for label, (_, present) in
                self.evaluate(self.missable, start, stop).items() if present is not None}
