"""Parsed expressions bound to one TTree's branches and evaluated on arrays, as TTreeFormula
evaluates them.

Binding checks everything that can be checked from the tree's metadata, before any entry
is read: every name is a numeric branch (or Entry$, Entries$, pi), indices fit fixed-size
arrays, and the result has one value per event. Evaluation then reads only the branches
the expression names (each through its own ``TBranch.array``), converts them to float64
as TTreeFormula does, and computes with NumPy:

- ``x[i]`` is element i of each event. Past the end of a std::vector (or ``x[n]/F``) the
  event has no value, as in TTree::Draw: a cut does not select it, and a variable or
  weight skips it (``Alt$(x[i], default)`` gives a default instead). A computed index
  (``x[n-1]``) out of range gives NaN, as in ROOT. ``x[i]`` past a fixed-size array is
  refused, as ROOT refuses it.
- A vector or array with no index is several values per event: only Sum$, Length$, Max$
  and Min$ take it (``Sum$(v*w)`` pairs elements up to the shorter of the two, as ROOT).
- ROOT's own function names keep ROOT's guards (``sqrt`` of |x|, ``log`` of x <= 0 is 0,
  ``exp`` is capped at exp(700), division by zero is 0); the ``TMath::`` spellings are
  the C functions (``TMath::Sqrt(-1)`` is NaN). ``x % 0`` crashes ROOT; here it is NaN.
"""

import math

import awkward as ak
import numpy as np
import uproot

from ..errors import did_you_mean
from .expressions import (CONSTANTS, NUMPY_FUNCTIONS, RIGHT_GROUPED, SPECIAL_NAMES, Chain,
                          Index, Name, Number, Ternary, Unary, parse, walk)


class Scalar:
    """One value per event; ``present`` (None: every event) marks the events that have one."""
    __slots__ = ("values", "present")

    def __init__(self, values, present=None):
        self.values, self.present = values, present


class Ragged:
    """Several values per event: ``counts[e]`` values of event e, concatenated in ``data``."""
    __slots__ = ("counts", "data")

    def __init__(self, counts, data):
        self.counts, self.data = counts, data


class Kind:
    """What a part of an expression is, known before reading: a constant, one value per
    event (``may_miss``: some events may have none), or several (``dims``: the shape of a
    fixed-size array, None for a vector). ``origin`` is the node that made it several."""

    def __init__(self, form, dims=None, may_miss=False, origin=None):
        self.form, self.dims, self.may_miss, self.origin = form, dims, may_miss, origin


CONSTANT = Kind("const")


# -- elementwise arithmetic ---------------------------------------------------------------

def _int64(x):
    return np.asarray(x, np.float64).astype(np.int64)


def _uint64(x):
    return _int64(x).astype(np.uint64)


def _as_float(x):
    return np.asarray(x, np.float64)


def _divide(a, b):
    return np.where(b == 0, 0.0, np.divide(a, np.where(b == 0, 1.0, b)))


def _modulo(a, b):
    ia, ib = _int64(a), _int64(b)
    return np.where(ib == 0, np.nan, np.fmod(ia, np.where(ib == 0, 1, ib)).astype(np.float64))


def _shift(function):
    return lambda a, b: function(_uint64(a), _uint64(b) & np.uint64(63)).astype(np.float64)


def _bitwise(function):
    return lambda a, b: function(_uint64(a), _uint64(b)).astype(np.float64)


def _logical(function):
    return lambda *args: _as_float(function(*args))


def _libm(function):
    """The C library's ``function`` element by element, as ROOT calls it (NumPy's and
    SciPy's vectorised versions differ from it in the last bits). A pole or an overflow
    gives inf, as in C, a value outside the domain NaN."""
    def safe(x):
        try:
            return function(x)
        except OverflowError:
            return math.inf
        except ValueError:
            return math.nan
    universal = np.frompyfunc(safe, 1, 1)
    return lambda x: _as_float(universal(x))


# ROOT's erf and erfc (ROOT::Math, from the Cephes library: polynomial ratios, and
# exp(-x^2) from the C library), reproduced bit for bit; the C library's differ
_ERF_T = [9.60497373987051638749E0, 9.00260197203842689217E1, 2.23200534594684319226E3,
          7.00332514112805075473E3, 5.55923013010394962768E4]
_ERF_U = [3.35617141647503099647E1, 5.21357949780152679795E2, 4.59432382970980127987E3,
          2.26290000613890934246E4, 4.92673942608635921086E4]
_ERFC_P = [2.46196981473530512524E-10, 5.64189564831068821977E-1, 7.46321056442269912687E0,
           4.86371970985681366614E1, 1.96520832956077098242E2, 5.26445194995477358631E2,
           9.34528527171957607540E2, 1.02755188689515710272E3, 5.57535335369399327526E2]
_ERFC_Q = [1.32281951154744992508E1, 8.67072140885989742329E1, 3.54937778887819891062E2,
           9.75708501743205489753E2, 1.82390916687909736289E3, 2.24633760818710981792E3,
           1.65666309194161350182E3, 5.57535340817727675546E2]
_ERFC_R = [5.64189583547755073984E-1, 1.27536670759978104416E0, 5.01905042251180477414E0,
           6.16021097993053585195E0, 7.40974269950448939160E0, 2.97886665372100240670E0]
_ERFC_S = [2.26052863220117276590E0, 9.39603524938001434673E0, 1.20489539808096656605E1,
           1.70814450747565897222E1, 9.60896809063285878198E0, 3.36907645100081516050E0]
_MAXLOG = 7.09782712893383996843E2


def _polynomial(x, coefficients, leading_one=False):
    result = x + coefficients[0] if leading_one else np.full_like(x, coefficients[0])
    for coefficient in coefficients[1:]:
        result = result * x + coefficient
    return result


def _erf_near_zero(x):
    z = x * x
    return x * _polynomial(z, _ERF_T) / _polynomial(z, _ERF_U, leading_one=True)


def _erfc_tail(a):
    x = np.abs(a)
    z = -a * a
    underflow = z < -_MAXLOG
    ez = _C_EXP(np.where(underflow, 0.0, z))
    near = x < 8.0
    p = np.where(near, _polynomial(x, _ERFC_P), _polynomial(x, _ERFC_R))
    q = np.where(near, _polynomial(x, _ERFC_Q, True), _polynomial(x, _ERFC_S, True))
    y = ez * p / q
    y = np.where(a < 0, 2.0 - y, y)
    return np.where(underflow | (y == 0), np.where(a < 0, 2.0, 0.0), y)


def _root_erf(x):
    x = _as_float(x)
    return np.where(np.abs(x) > 1.0, 1.0 - _erfc_tail(x), _erf_near_zero(x))


def _root_erfc(a):
    a = _as_float(a)
    return np.where(np.abs(a) < 1.0, 1.0 - _erf_near_zero(a), _erfc_tail(a))


def _guarded(function, invalid, value=0.0):
    """ROOT's builtin ``function`` with its guard: ``value`` where ``invalid(x)``."""
    def guarded(x):
        bad = invalid(x)
        return np.where(bad, value, function(np.where(bad, 1.0, x)))
    return guarded


_C_EXP = _libm(math.exp)


def _exp(x):
    return np.where(x < -700, 0.0, np.where(x > 700, math.exp(700), np.exp(np.minimum(x, 700))))


BINARY = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": _divide, "%": _modulo,
    "^": np.power,
    "<": _logical(np.less), ">": _logical(np.greater), "<=": _logical(np.less_equal),
    ">=": _logical(np.greater_equal), "==": _logical(np.equal),
    "!=": _logical(np.not_equal),
    "&&": _logical(lambda a, b: (a != 0) & (b != 0)),
    "||": _logical(lambda a, b: (a != 0) | (b != 0)),
    "&": _bitwise(np.bitwise_and), "|": _bitwise(np.bitwise_or),
    "<<": _shift(np.left_shift), ">>": _shift(np.right_shift),
}
UNARY = {"-": np.negative, "+": lambda x: x, "!": _logical(lambda x: x == 0)}

FUNCTIONS = {
    # ROOT's builtins, with TTreeFormula's guards
    "abs": np.abs, "fabs": np.abs, "sqrt": lambda x: np.sqrt(np.abs(x)),
    "sq": lambda x: x * x, "exp": _exp, "pow": np.power,
    "log": _guarded(np.log, lambda x: ~(x > 0)),
    "log10": _guarded(np.log10, lambda x: ~(x > 0)),
    "sin": np.sin, "cos": np.cos, "atan": np.arctan, "atan2": np.arctan2,
    "tan": lambda x: np.where(np.cos(x) == 0, 0.0, np.tan(x)),
    "asin": _guarded(np.arcsin, lambda x: np.abs(x) > 1),
    "acos": _guarded(np.arccos, lambda x: np.abs(x) > 1),
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh,
    "acosh": _guarded(np.arccosh, lambda x: x < 1),
    "atanh": _guarded(np.arctanh, lambda x: np.abs(x) > 1),
    "min": lambda a, b: np.where(b < a, b, a), "max": lambda a, b: np.where(a < b, b, a),
    "fmod": np.fmod, "int": lambda x: _int64(x).astype(np.float64),
    "sign": lambda x: np.where(x < 0, -1.0, 1.0), "floor": np.floor, "ceil": np.ceil,
    "erf": _root_erf, "erfc": _root_erfc, "hypot": np.hypot,
    # TMath: the C functions
    "TMath::Abs": np.abs, "TMath::Sqrt": np.sqrt, "TMath::Sq": lambda x: x * x,
    "TMath::Exp": np.exp, "TMath::Log": np.log, "TMath::Log10": np.log10,
    "TMath::Log2": np.log2, "TMath::Power": np.power, "TMath::Sin": np.sin,
    "TMath::Cos": np.cos, "TMath::Tan": np.tan, "TMath::ASin": np.arcsin,
    "TMath::ACos": np.arccos, "TMath::ATan": np.arctan, "TMath::ATan2": np.arctan2,
    "TMath::SinH": np.sinh, "TMath::CosH": np.cosh, "TMath::TanH": np.tanh,
    "TMath::ASinH": np.arcsinh, "TMath::ACosH": np.arccosh, "TMath::ATanH": np.arctanh,
    "TMath::Hypot": np.hypot, "TMath::Floor": np.floor, "TMath::Ceil": np.ceil,
    "TMath::Min": lambda a, b: np.where(a <= b, a, b),
    "TMath::Max": lambda a, b: np.where(a >= b, a, b),
    "TMath::Nint": np.rint, "TMath::Sign": lambda a, b: np.where(b >= 0, np.abs(a),
                                                                  -np.abs(a)),
    "TMath::Erf": _root_erf, "TMath::Erfc": _root_erfc,
    "TMath::Pi": lambda: math.pi, "TMath::E": lambda: math.e,
    # NumPy's names, with NumPy's meaning
    "absolute": np.abs, "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan,
    "arctan2": np.arctan2, "arcsinh": np.arcsinh, "arccosh": np.arccosh,
    "arctanh": np.arctanh, "cbrt": np.cbrt, "copysign": np.copysign, "exp2": np.exp2,
    "expm1": np.expm1, "log1p": np.log1p, "log2": np.log2, "fmax": np.fmax,
    "fmin": np.fmin, "rint": np.rint, "round": np.round, "trunc": np.trunc,
    "isfinite": _logical(np.isfinite), "isinf": _logical(np.isinf),
    "isnan": _logical(np.isnan), "signbit": _logical(np.signbit),
    "where": lambda c, a, b: np.where(c != 0, a, b),
    "logical_and": BINARY["&&"], "logical_or": BINARY["||"], "logical_not": UNARY["!"],
    "gamma": _libm(math.gamma), "tgamma": _libm(math.gamma), "lgamma": _libm(math.lgamma),
}
assert set(NUMPY_FUNCTIONS) <= set(FUNCTIONS)


def _offsets(counts):
    offsets = np.zeros(counts.size + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _aligned(value, counts):
    """``value``'s elements for ``counts`` values per event (a prefix of each event's)."""
    if isinstance(value, Ragged):
        if value.counts is counts or np.array_equal(value.counts, counts):
            return value.data
        starts = np.repeat(_offsets(value.counts)[:-1], value.counts)
        local = np.arange(value.data.size) - starts
        return value.data[local < np.repeat(counts, value.counts)]
    if isinstance(value, Scalar):
        return np.repeat(value.values, counts)
    return value


def elementwise(function, values):
    """``function`` of constants, per-event values and per-element values together."""
    raggeds = [v for v in values if isinstance(v, Ragged)]
    if raggeds:
        counts = raggeds[0].counts
        for other in raggeds[1:]:
            if other.counts is not counts and not np.array_equal(other.counts, counts):
                counts = np.minimum(counts, other.counts)
        for value in values:
            if isinstance(value, Scalar) and value.present is not None:
                counts = np.where(value.present, counts, 0)
        return Ragged(counts, _as_float(function(*[_aligned(v, counts) for v in values])))
    scalars = [v for v in values if isinstance(v, Scalar)]
    if scalars:
        presents = [v.present for v in scalars if v.present is not None]
        present = np.logical_and.reduce(presents) if len(presents) > 1 else (
            presents[0] if presents else None)
        return Scalar(_as_float(function(*[v.values if isinstance(v, Scalar) else v
                                            for v in values])), present)
    return float(function(*[np.float64(v) for v in values]))


# -- reductions ---------------------------------------------------------------------------

def _as_ragged(value, n):
    if isinstance(value, Ragged):
        return value
    if isinstance(value, Scalar):
        counts = (np.ones(n, np.int64) if value.present is None
                  else value.present.astype(np.int64))
        return Ragged(counts, value.values[value.present] if value.present is not None
                      else value.values)
    return Ragged(np.ones(n, np.int64), np.full(n, value))


def _sum(value, n):
    ragged = _as_ragged(value, n)
    events = np.repeat(np.arange(n), ragged.counts)  # sums in order, as ROOT's loop does
    return np.bincount(events, weights=ragged.data, minlength=n)


def _extreme(function):
    """Max$ or Min$ as ROOT's loop: the first element, replaced by any greater (smaller)
    one; NaN comparisons are false, so a NaN counts only as the first element. 0 for an
    event without elements."""
    def extreme(value, n):
        ragged = _as_ragged(value, n)
        result = np.zeros(n)
        filled = ragged.counts > 0
        if filled.any():
            starts = _offsets(ragged.counts)[:-1][filled]
            found = function.reduceat(ragged.data, starts)
            result[filled] = np.where(np.isnan(ragged.data[starts]), np.nan, found)
        return result
    return extreme


def _length(value, n):
    return _as_ragged(value, n).counts.astype(np.float64)


REDUCE = {"Sum$": _sum, "Max$": _extreme(np.fmax), "Min$": _extreme(np.fmin),
          "Length$": _length}


# -- binding ------------------------------------------------------------------------------

def _inner_shape(interpretation):
    shape = getattr(interpretation, "inner_shape", None)
    if shape is None:
        shape = getattr(interpretation, "to_dims", ())
    return tuple(int(d) for d in shape)


def _numeric(interpretation):
    if isinstance(interpretation, uproot.interpretation.numerical.AsDtype):
        return interpretation.from_dtype.base.kind in "biuf"
    return isinstance(interpretation, uproot.interpretation.numerical.TruncatedNumerical)


class BranchCatalogue:
    """The branches of a tree by the names an expression may use: each branch's own name
    (a top-level branch first) and, for the branches of split objects, its dotted path
    (``jet.pt`` for ``jet/pt``)."""

    def __init__(self, source):
        self.source = source
        top = {branch.name: branch for branch in source.tree.values(recursive=False)}
        self.by_name = dict(top)
        self.ambiguous = set()
        nested = {}
        for path, branch in source.tree.iteritems(recursive=True, full_paths=True):
            if "/" in path:
                self.by_name.setdefault(path.replace("/", "."), branch)
                nested.setdefault(branch.name, []).append(branch)
        for name, branches in nested.items():
            if name not in top:
                self.by_name.setdefault(name, branches[0])
                if len(branches) > 1:
                    self.ambiguous.add(name)

    def names(self):
        return list(self.by_name)


class Binding:
    """One expression bound to a tree: a function of the read columns, its kind and the
    branches it reads."""

    def __init__(self, expression, catalogue):
        self.expression = expression
        self.catalogue = catalogue
        self.branches = {}   # name -> (uproot branch, "scalar" | "fixed" | "jagged")
        self.kind, self.evaluate = self._bind(expression.root)
        if self.kind.form == "multi":
            raise self._several_values(self.kind.origin)
        self.bare_branch = isinstance(expression.root, Name) and expression.root.name in \
            self.branches and self.branches[expression.root.name][1] == "scalar"

    def _several_values(self, node):
        name = node.name if isinstance(node, (Name, Index)) else "it"
        branch = self.branches.get(name, (None,))[0]
        typename = f" ({branch.typename})" if branch is not None else ""
        return self.expression.error(
            node, f"it has more than one value per event: {name}{typename} holds several "
            f"values per entry, and TMVA would make one event of each; reduce it with "
            f"Sum$({name}), Max$({name}) or Min$({name}), or pick one element with "
            f"{name}[i]")

    def _bind(self, node):
        if isinstance(node, Number):
            return CONSTANT, lambda context: node.value
        if isinstance(node, Name):
            return self._name(node)
        if isinstance(node, Index):
            return self._index(node)
        if isinstance(node, Unary):
            kind, operand = self._bind(node.operand)
            function = UNARY[node.op]
            return kind, lambda context: elementwise(function, [operand(context)])
        if isinstance(node, Chain):
            return self._chain(node)
        if isinstance(node, Ternary):
            parts = [self._bind(p) for p in (node.condition, node.true, node.false)]
            return self._combine(node, parts, lambda c, a, b: np.where(c != 0, a, b))
        return self._call(node)

    def _combine(self, node, parts, function):
        kinds = [kind for kind, _ in parts]
        evaluators = [evaluate for _, evaluate in parts]
        kind = self._combined_kind(node, kinds)
        return kind, lambda context: elementwise(function, [e(context) for e in evaluators])

    def _combined_kind(self, node, kinds):
        several = [k for k in kinds if k.form == "multi"]
        if several:
            shapes = {k.dims for k in several}
            if len(shapes) > 1 and any(s is not None and len(s) > 1 for s in shapes):
                shown = " and ".join("x".join(map(str, s)) if s else "a vector" for s in shapes)
                raise self.expression.error(node, f"it pairs arrays of different dimensions "
                                            f"({shown}) element by element; index them to "
                                            f"pair elements yourself, e.g. m[i][j]*a[i]")
            dims = shapes.pop() if len(shapes) == 1 else None
            return Kind("multi", dims, origin=several[0].origin)
        if any(k.form == "scalar" for k in kinds):
            return Kind("scalar", may_miss=any(k.may_miss for k in kinds))
        return CONSTANT

    def _chain(self, node):
        parts = [self._bind(p) for p in node.operands]
        function = BINARY[node.op]
        if node.op in RIGHT_GROUPED:
            def folded(*values):
                result = values[-1]
                for value in reversed(values[:-1]):
                    result = function(value, result)
                return result
        else:
            def folded(*values):
                result = values[0]
                for value in values[1:]:
                    result = function(result, value)
                return result
        return self._combine(node, parts, folded)

    def _call(self, node):
        name = node.function
        if name in REDUCE:
            kind, operand = self._bind(node.args[0])
            reduce = REDUCE[name]
            if kind.form == "const" and name != "Length$":
                return CONSTANT, operand
            if kind.form == "const":
                return CONSTANT, lambda context: 1.0
            return Kind("scalar"), lambda context: Scalar(reduce(operand(context), context.n))
        if name == "Alt$":
            return self._alternate(node)
        parts = [self._bind(a) for a in node.args]
        return self._combine(node, parts, FUNCTIONS[name])

    def _alternate(self, node):
        (kind, primary), (default_kind, default) = (self._bind(a) for a in node.args)
        if kind.form == "multi":
            raise self.expression.error(node.args[0], "Alt$ takes one value per event as its "
                                        "first argument, e.g. Alt$(v[3], 0)")
        if default_kind.form == "multi" or _indexes(node.args[1]):
            raise self.expression.error(node.args[1], "the default of Alt$ cannot be an array "
                                        "element (ROOT refuses it too); give a number or a "
                                        "branch")
        if not kind.may_miss:
            return kind, primary

        def evaluate(context):
            value, fallback = primary(context), default(context)
            fallback = fallback.values if isinstance(fallback, Scalar) else fallback
            return Scalar(np.where(value.present, value.values, fallback))
        return Kind("scalar"), evaluate

    def _name(self, node):
        name = node.name
        if name in CONSTANTS:
            value = CONSTANTS[name]
            return CONSTANT, lambda context: value
        if name in ("Entry$", "LocalEntry$"):
            return Kind("scalar"), lambda context: Scalar(
                np.arange(context.start, context.stop, dtype=np.float64))
        if name == "Entries$":
            entries = float(self.catalogue.source.num_entries)
            return CONSTANT, lambda context: entries
        branch, style = self._branch(node)
        if style == "scalar":
            return Kind("scalar"), lambda context: Scalar(_as_float(context.columns[name]))
        if style == "fixed":
            dims = _inner_shape(branch.interpretation)
            size = int(np.prod(dims))
            if size == 1:
                return Kind("scalar"), lambda context: Scalar(
                    _as_float(context.columns[name]).reshape(-1))
            return Kind("multi", dims, origin=node), \
                lambda context: _fixed_ragged(context.columns[name], context.n, size)
        return Kind("multi", None, origin=node), lambda context: context.columns[name]

    def _branch(self, node):
        name = node.name
        if name in SPECIAL_NAMES or name in CONSTANTS:
            raise self.expression.error(node, f"{name} cannot be indexed")
        catalogue = self.catalogue
        branch = catalogue.by_name.get(name)
        if branch is None:
            names = catalogue.names()
            shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
            raise self.expression.error(node, f"{name!r} is not a branch of "
                                        f"{catalogue.source.label}{did_you_mean(name, names)}; "
                                        f"its branches: {shown}")
        if name in catalogue.ambiguous:
            raise self.expression.error(node, f"{name!r} names several branches of "
                                        f"{catalogue.source.label}; write the dotted path "
                                        f"(parent.child)")
        interpretation = branch.interpretation
        if _numeric(interpretation):
            dims = _inner_shape(interpretation)
            if len(dims) > 2:
                raise self.expression.error(node, f"{name} is an array of {len(dims)} "
                                            f"dimensions ({branch.typename}); expressions "
                                            f"handle 1 and 2")
            style = "fixed" if dims else "scalar"
        elif (isinstance(interpretation, uproot.interpretation.jagged.AsJagged)
              and _numeric(interpretation.content) and not _inner_shape(interpretation.content)):
            style = "jagged"
        else:
            raise self.expression.error(node, f"{name} is of type {branch.typename}, not "
                                        f"numbers (a number, a fixed-size array, or a "
                                        f"std::vector or RVec of numbers per entry)")
        self.branches[name] = (branch, style)
        return branch, style

    def _index(self, node):
        branch, style = self._branch(node)
        name = node.name
        if style == "scalar":
            raise self.expression.error(node, f"{name} holds one number per entry "
                                        f"({branch.typename}); it has no elements to index")
        dims = _inner_shape(branch.interpretation) if style == "fixed" else (None,)
        if len(node.indices) > len(dims):
            raise self.expression.error(node, f"{name} has {len(dims)} dimension"
                                        f"{'' if len(dims) == 1 else 's'} "
                                        f"({branch.typename}), but {len(node.indices)} "
                                        f"indices are given")
        picks = []
        for dimension, (index, size) in enumerate(zip(node.indices, dims)):
            if index is None:
                picks.append(None)
                continue
            if isinstance(index, Number) and index.is_integer:
                if size is not None and index.value >= size:
                    raise self.expression.error(index, f"index {index.value:.0f} is past the "
                                                f"end of dimension {dimension + 1} of {name} "
                                                f"(size {size}, indices 0 to {size - 1})")
                picks.append(int(min(index.value, _LONGEST)))
                continue
            if (isinstance(index, Unary) and index.op == "-" and isinstance(index.operand, Number)
                    and index.operand.value > 0):
                raise self.expression.error(index, "a negative index picks nothing (ROOT does "
                                            "not count from the end); for the last element "
                                            f"write {name}[Length$({name})-1]")
            kind, evaluate = self._bind(index)
            if kind.form == "multi":
                raise self.expression.error(index, "an index must be one number per event")
            picks.append((kind, evaluate))
        picks += [None] * (len(dims) - len(picks))
        computed = [p for p in picks if isinstance(p, tuple)]
        may_miss = any(k.may_miss for k, _ in computed)
        if style == "jagged":
            return self._jagged_index(node, picks[0], may_miss)
        return self._fixed_index(node, dims, picks, may_miss)

    def _jagged_index(self, node, pick, may_miss):
        name = node.name
        if pick is None:
            return Kind("multi", None, origin=node), lambda context: context.columns[name]
        if isinstance(pick, int):
            def element(context):
                ragged = context.columns[name]
                present = ragged.counts > pick
                positions = _offsets(ragged.counts)[:-1] + pick
                values = np.zeros(context.n)
                values[present] = ragged.data[positions[present]]
                return Scalar(values, present)
            return Kind("scalar", may_miss=True), element
        _, index = pick

        def computed(context):
            ragged = context.columns[name]
            at = index(context)
            positions, valid, present = _positions(at, ragged.counts)
            values = np.full(context.n, np.nan)
            values[valid] = ragged.data[(_offsets(ragged.counts)[:-1] + positions)[valid]]
            return Scalar(values, present)
        return Kind("scalar", may_miss=may_miss), computed

    def _fixed_index(self, node, dims, picks, may_miss):
        name = node.name
        kept = [size for size, pick in zip(dims, picks) if pick is None]

        def select(context):
            result = _as_float(context.columns[name]).reshape((context.n,) + dims)
            present = None
            axis = 1
            for size, pick in zip(dims, picks):
                if pick is None:
                    axis += 1
                elif isinstance(pick, int):
                    result = np.take(result, pick, axis=axis)
                else:
                    positions, valid, present_here = _positions(pick[1](context),
                                                                np.full(context.n, size))
                    along = positions.reshape((context.n,) + (1,) * (result.ndim - 1))
                    taken = np.take_along_axis(result, along, axis=axis).squeeze(axis)
                    result = np.where(valid.reshape((context.n,) + (1,) * (taken.ndim - 1)),
                                      taken, np.nan)
                    if present_here is not None:
                        present = present_here if present is None else present & present_here
            if not kept:
                return Scalar(result.reshape(context.n), present)
            size = int(np.prod(kept))
            if present is None:
                return _fixed_ragged(result, context.n, size)
            return Ragged(np.where(present, size, 0).astype(np.int64),
                          result.reshape(context.n, size)[present].reshape(-1))
        if not kept:
            return Kind("scalar", may_miss=may_miss), select
        return Kind("multi", tuple(kept), origin=node), select


def _indexes(node):
    return any(isinstance(n, Index) for n in walk(node))


def _positions(at, sizes):
    """(integer positions, in range, present) of a computed index ``at``, truncated toward
    zero as ROOT's cast to int, for arrays of ``sizes`` elements."""
    values = at.values if isinstance(at, Scalar) else np.full(sizes.size, at)
    present = at.present if isinstance(at, Scalar) else None
    integer = np.where(np.isfinite(values), np.trunc(values), -1).astype(np.int64)
    valid = (integer >= 0) & (integer < sizes)
    if present is not None:
        valid &= present
    return np.where(valid, integer, 0), valid, present


def _fixed_ragged(array, n, size):
    return Ragged(np.full(n, size, np.int64), _as_float(array).reshape(-1))


_LONGEST = 2 ** 62  # more elements than any event holds: a literal index beyond is past the end


class _Context:
    def __init__(self, columns, start, stop):
        self.columns, self.start, self.stop, self.n = columns, start, stop, stop - start


def bind(text, what, catalogue):
    """``text`` parsed and bound to the tree of ``catalogue``."""
    return Binding(parse(text, what), catalogue)


class TreeFormulas:
    """Expressions ({label: text}, each with its role for messages) bound to one tree."""

    def __init__(self, source, expressions, roles=None):
        catalogue = BranchCatalogue(source) if expressions else None
        roles = roles or {}
        self.source = source
        self.bindings = {label: bind(text, roles.get(label, label), catalogue)
                         for label, text in expressions.items()}
        self.branches = {}
        for binding in self.bindings.values():
            self.branches.update(binding.branches)

    def may_miss(self, label):
        return self.bindings[label].kind.may_miss

    def read_branches(self, names, start, stop):
        """{name: column} of branches ``names`` for entries [start, stop): NumPy arrays for
        numbers and fixed-size arrays, Ragged for vectors."""
        columns = {}
        for name in names:
            branch, style = self.branches[name]
            if style == "jagged":
                jagged = branch.array(entry_start=start, entry_stop=stop, library="ak")
                columns[name] = Ragged(ak.to_numpy(ak.num(jagged, axis=1)).astype(np.int64),
                                       _as_float(ak.to_numpy(ak.flatten(jagged, axis=1))))
            else:
                columns[name] = branch.array(entry_start=start, entry_stop=stop, library="np")
        return columns

    def branches_of(self, labels):
        """The branches the expressions ``labels`` read."""
        return sorted({name for label in labels for name in self.bindings[label].branches})

    def compute(self, labels, columns, start, stop):
        """{label: (values, present)} of entries [start, stop) from their ``columns``
        (read_branches): float64 values (a bare number branch keeps its type), and the
        events that have a value (None: all of them)."""
        context = _Context(columns, start, stop)
        result = {}
        with np.errstate(all="ignore"):
            for label in labels:
                binding = self.bindings[label]
                if binding.bare_branch:
                    result[label] = (np.asarray(columns[binding.expression.root.name]), None)
                    continue
                value = binding.evaluate(context)
                if isinstance(value, Scalar):
                    result[label] = (value.values, value.present)
                else:
                    result[label] = (np.full(context.n, float(value)), None)
        return result


