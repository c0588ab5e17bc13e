"""TTree::Draw expressions (TMVA's cuts, weights and variables), parsed by rootgan itself.

Physicists paste cuts from ``TTree::Draw`` and TMVA scripts, so an expression means what
ROOT's TTreeFormula means. This module turns the text into a tree of the node classes
below and nothing else: no user string is ever handed to Python's ``eval`` or
``compile``, nor to uproot's expression language. ``formulas`` binds the tree to a
TTree's branches and evaluates it on arrays.

The grammar is TTreeFormula's, operator by operator (checked against ROOT's own
``TTree::Draw`` in tests/test_expressions.py). From the loosest binding to the tightest:

    c ? a : b      ||      &&      |      &      comparisons      +      -      %
    >>      <<      *      /      ^ (or **)      ! and a leading - apply to what follows

ROOT's parser splits the text at the first or the last operator of each level, so ``*``,
``%``, ``&&``, ``||`` and the comparisons group to the right (``1 < 2 < 3`` is
``1 < (2 < 3)``, which is 0) and ``+``, ``-``, ``/`` and ``^`` to the left (``2^3^2`` is
64). Among the comparisons ``<`` splits first, then ``>``, ``<=``, ``>=``, ``==``,
``!=``. A leading minus applies to the whole product that follows (``-2^2`` is -4).
Python's ``and``, ``or`` and ``not`` are accepted as ``&&``, ``||`` and ``!``.
"""

import math
import re

from ..errors import ExpressionError, did_you_mean

MAX_LENGTH = 10_000
MAX_DEPTH = 100

ALLOWED = ("allowed: numbers; branch names (jet.pt for split objects); + - * / % and ^ or ** "
           "(power); == != < <= > >=; && || ! (or and, or, not); c ? a : b; & | << >>; x[i] "
           "and x[i][j] (element i of each event); Sum$ Length$ Max$ Min$ Alt$; Entry$ "
           "Entries$ pi; the functions {functions} and their TMath:: spellings (TMath::Abs, "
           "TMath::Power, TMath::Hypot, TMath::Erf, TMath::Pi(), ...)")

# name -> number of arguments. ROOT's own names keep ROOT's meaning (formulas.py), the
# TMath:: spellings are the C functions, and the NumPy-style names earlier versions of
# rootgan accepted keep NumPy's meaning.
ROOT_FUNCTIONS = {
    "abs": 1, "fabs": 1, "sqrt": 1, "sq": 1, "exp": 1, "log": 1, "log10": 1, "pow": 2,
    "sin": 1, "cos": 1, "tan": 1, "asin": 1, "acos": 1, "atan": 1, "atan2": 2,
    "sinh": 1, "cosh": 1, "tanh": 1, "asinh": 1, "acosh": 1, "atanh": 1,
    "min": 2, "max": 2, "fmod": 2, "int": 1, "sign": 1, "floor": 1, "ceil": 1,
    "erf": 1, "erfc": 1, "hypot": 2,
}
TMATH_FUNCTIONS = {
    "Abs": 1, "Sqrt": 1, "Sq": 1, "Exp": 1, "Log": 1, "Log10": 1, "Log2": 1, "Power": 2,
    "Sin": 1, "Cos": 1, "Tan": 1, "ASin": 1, "ACos": 1, "ATan": 1, "ATan2": 2,
    "SinH": 1, "CosH": 1, "TanH": 1, "ASinH": 1, "ACosH": 1, "ATanH": 1,
    "Hypot": 2, "Min": 2, "Max": 2, "Floor": 1, "Ceil": 1, "Nint": 1, "Sign": 2,
    "Erf": 1, "Erfc": 1, "Pi": 0, "E": 0,
}
NUMPY_FUNCTIONS = {
    "absolute": 1, "arcsin": 1, "arccos": 1, "arctan": 1, "arctan2": 2, "arcsinh": 1,
    "arccosh": 1, "arctanh": 1, "cbrt": 1, "copysign": 2, "exp2": 1, "expm1": 1,
    "log1p": 1, "log2": 1, "fmax": 2, "fmin": 2, "rint": 1, "round": 1, "trunc": 1,
    "isfinite": 1, "isinf": 1, "isnan": 1, "signbit": 1, "where": 3, "logical_and": 2,
    "logical_or": 2, "logical_not": 1, "gamma": 1, "tgamma": 1, "lgamma": 1,
}
REDUCTIONS = {"Sum$": 1, "Length$": 1, "Max$": 1, "Min$": 1, "Alt$": 2}
FUNCTIONS = {**ROOT_FUNCTIONS, **{"TMath::" + k: v for k, v in TMATH_FUNCTIONS.items()},
             **NUMPY_FUNCTIONS, **REDUCTIONS}
SPECIAL_NAMES = {"Entry$", "LocalEntry$", "Entries$"}
CONSTANTS = {"pi": math.pi, "true": 1.0, "false": 0.0, "True": 1.0, "False": 0.0,
             "kTRUE": 1.0, "kFALSE": 0.0}
_PYTHON_KEYWORDS = {"lambda", "import", "from", "for", "in", "is", "if", "else", "elif",
                    "while", "def", "class", "return", "yield", "await", "async", "with",
                    "as", "del", "global", "nonlocal", "assert", "pass", "raise", "try",
                    "except", "finally", "break", "continue", "None"}
_WORDS = {"and": "&&", "or": "||", "not": "!"}


# -- the tree ---------------------------------------------------------------------------

class Node:
    """A part of an expression, with where it is in the text (for error carets)."""

    def __init__(self, start, end):
        self.start, self.end = start, end


class Number(Node):
    def __init__(self, value, is_integer, start, end):
        super().__init__(start, end)
        self.value, self.is_integer = value, is_integer


class Name(Node):
    """A branch (or a special name: Entry$, pi): resolved against the tree later."""

    def __init__(self, name, start, end):
        super().__init__(start, end)
        self.name = name


class Index(Node):
    """``name[i]`` or ``name[i][j]``; an index is a node, or None for ``[]`` (every one)."""

    def __init__(self, name, indices, start, end):
        super().__init__(start, end)
        self.name, self.indices = name, indices


class Call(Node):
    def __init__(self, function, args, start, end):
        super().__init__(start, end)
        self.function, self.args = function, args


class Unary(Node):
    def __init__(self, op, operand, start, end):
        super().__init__(start, end)
        self.op, self.operand = op, operand


class Chain(Node):
    """``a op b op c ...``, grouped as ROOT groups ``op`` (see ``RIGHT_GROUPED``)."""

    def __init__(self, op, operands, start, end):
        super().__init__(start, end)
        self.op, self.operands = op, operands


class Ternary(Node):
    def __init__(self, condition, true, false, start, end):
        super().__init__(start, end)
        self.condition, self.true, self.false = condition, true, false


RIGHT_GROUPED = {"||", "&&", "|", "&", "%", ">>", "<<", "*", "<", ">", "<=", ">=", "==", "!="}


class Expression:
    """A parsed expression: its text, what it is for (messages) and its tree."""

    def __init__(self, text, what, root):
        self.text, self.what, self.root = text, what, root

    def error(self, where, reason, allowed=False):
        """An ExpressionError with a caret under ``where`` (a node, a token or a span)."""
        start, end = where if isinstance(where, tuple) else (where.start, where.end)
        return ExpressionError(self.text, self.what, start, end, reason,
                               allowed_summary() if allowed else "")

    def names(self):
        """Every branch-like name the expression reads, with its first node."""
        found = {}
        for node in walk(self.root):
            if isinstance(node, (Name, Index)) and node.name not in CONSTANTS:
                found.setdefault(node.name, node)
        return found


def walk(node):
    """Every node of the tree, depth first (iteratively: trees can be wide)."""
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Index):
            stack.extend(i for i in node.indices if i is not None)
        elif isinstance(node, Call):
            stack.extend(node.args)
        elif isinstance(node, Unary):
            stack.append(node.operand)
        elif isinstance(node, Chain):
            stack.extend(node.operands)
        elif isinstance(node, Ternary):
            stack.extend((node.condition, node.true, node.false))


def allowed_summary():
    return ALLOWED.format(functions=" ".join(ROOT_FUNCTIONS))


# -- tokens -----------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_]\w*(?:(?:::|\.)[A-Za-z_]\w*)*\$?)
  | (?P<op>&&|\|\||==|!=|<=|>=|=<|=>|<<|>>|\*\*|[-+*/%^<>!?:()\[\],&|])
""", re.VERBOSE | re.ASCII)
_OPERAND_END = {"number", "name"}
_COMPARISONS = ("<", ">", "<=", ">=", "==", "!=")


class _Token:
    __slots__ = ("kind", "text", "start", "end", "match")

    def __init__(self, kind, text, start, end):
        self.kind, self.text, self.start, self.end = kind, text, start, end
        self.match = None  # for brackets: index of the partner


def _tokenize(expression):
    text = expression.text
    tokens = []
    position = 0
    while position < len(text):
        found = _TOKEN.match(text, position)
        if not found:
            raise _bad_character(expression, position)
        kind = found.lastgroup
        start, end = found.span()
        piece = found.group()
        position = end
        if kind == "space":
            continue
        if kind == "number" and end < len(text) and (text[end].isalnum() or text[end] in "_."):
            tail = re.match(r"[\w.]*", text[end:], re.ASCII).group()
            raise expression.error((start, end + len(tail)), f"{piece + tail!r} is not a "
                                   f"number (write 1.5, 2e-3 or 0x1F)")
        if kind == "name":
            kind, piece = _classify_name(expression, piece, start, end, text)
        if kind == "op" and piece == "**":
            piece = "^"
        tokens.append(_Token(kind, piece, start, end))
    if not tokens:
        raise expression.error((0, len(text)), "it is empty")
    _merge_signs(tokens)
    _match_brackets(expression, tokens)
    return tokens


def _bad_character(expression, position):
    text = expression.text
    character = text[position]
    span = (position, position + 1)
    if character in "'\"":
        return expression.error(span, "strings are not part of the expression language",
                                allowed=True)
    if character == "=":
        if position > 0 and text[position - 1] == ":":
            return expression.error((position - 1, position + 1), "':=' names a variable only "
                                    "at the start of a declaration: AddVariable('name := "
                                    "expression')")
        return expression.error(span, "a single '=' assigns; compare with '=='")
    if character == "~":
        return expression.error(span, "'~' (bitwise not) is not supported; write '!' for a "
                                "logical not")
    if character == ".":
        return expression.error(span, "attribute access is not part of the expression "
                                "language (a dotted name must be a whole branch name, such "
                                "as jet.pt)", allowed=True)
    if character == "$":
        return expression.error(span, "'$' only ends the special names Sum$, Length$, Max$, "
                                "Min$, Alt$, Entry$ and Entries$", allowed=True)
    return expression.error(span, f"the character {character!r} is not part of the expression "
                            f"language", allowed=True)


def _classify_name(expression, name, start, end, text):
    if any(part.startswith("__") for part in re.split(r"::|\.", name)):
        raise expression.error((start, end), "names beginning with '__' are not allowed")
    if name in _WORDS:
        return "op", _WORDS[name]
    if name in _PYTHON_KEYWORDS:
        raise expression.error((start, end), f"Python's {name!r} is not part of the "
                               f"expression language", allowed=True)
    if name.endswith("$") and name not in REDUCTIONS and name not in SPECIAL_NAMES:
        raise expression.error((start, end), f"{name!r} is not a special name rootgan knows; "
                               f"it knows Sum$, Length$, Max$, Min$, Alt$, Entry$, "
                               f"LocalEntry$ and Entries${did_you_mean(name, REDUCTIONS)}")
    if "::" in name and not name.startswith("TMath::"):
        raise expression.error((start, end), f"{name!r}: of C++ namespaces only TMath:: "
                               f"functions are available", allowed=True)
    return "name", name


def _merge_signs(tokens):
    """``+-`` and ``-+`` are ``-``, ``--`` and ``++`` are ``+``, as ROOT rewrites them."""
    merged = []
    for token in tokens:
        previous = merged[-1] if merged else None
        if (previous is not None and previous.kind == "op" and token.kind == "op"
                and previous.text in "+-" and token.text in "+-"):
            previous.text = "-" if (previous.text == "-") != (token.text == "-") else "+"
            previous.end = token.end
            continue
        merged.append(token)
    tokens[:] = merged


def _match_brackets(expression, tokens):
    stack = []
    for index, token in enumerate(tokens):
        if token.text in ("(", "["):
            stack.append(index)
            if len(stack) > MAX_DEPTH:
                raise expression.error(token, f"it is nested more than {MAX_DEPTH} deep")
        elif token.text in (")", "]"):
            opener = "(" if token.text == ")" else "["
            if not stack or tokens[stack[-1]].text != opener:
                raise expression.error(token, f"{token.text!r} closes nothing")
            partner = stack.pop()
            tokens[partner].match, token.match = index, partner
    if stack:
        token = tokens[stack[-1]]
        raise expression.error(token, f"{token.text!r} is never closed")


# -- the parser -------------------------------------------------------------------------

def parse(text, what="expression"):
    """The Expression of ``text``, or an ExpressionError quoting it with a caret."""
    text = str(text)
    expression = Expression(text, what, None)
    if len(text) > MAX_LENGTH:
        raise expression.error((MAX_LENGTH, len(text)), f"it is {len(text):,} characters "
                               f"long; at most {MAX_LENGTH:,} are accepted")
    if not text.strip():
        raise expression.error((0, len(text)), "it is empty")
    parser = _Parser(expression, _tokenize(expression))
    expression.root = parser.parse(0, len(parser.tokens), 0)
    return expression


class _Parser:
    def __init__(self, expression, tokens):
        self.expression = expression
        self.tokens = tokens

    def fail(self, lo, hi, reason, allowed=False):
        return self.expression.error((self.tokens[lo].start, self.tokens[hi - 1].end), reason,
                                     allowed)

    def span(self, lo, hi):
        return self.tokens[lo].start, self.tokens[hi - 1].end

    def top_level(self, lo, hi):
        """Indices of the tokens in [lo, hi) outside any brackets."""
        index = lo
        while index < hi:
            yield index
            token = self.tokens[index]
            index = (token.match if token.text in ("(", "[") else index) + 1

    def parse(self, lo, hi, depth):
        if depth > MAX_DEPTH:
            raise self.fail(lo, hi, f"it is nested more than {MAX_DEPTH} deep")
        tokens = self.tokens
        while tokens[lo].text == "(" and tokens[lo].match == hi - 1:
            lo, hi = lo + 1, hi - 1
            if lo == hi:
                raise self.expression.error((tokens[lo - 1].start, tokens[hi].end),
                                            "the parentheses are empty")
        found = self._operators(lo, hi)
        if "?" in found:
            return self._ternary(lo, hi, found, depth)
        if ":" in found:
            raise self.fail(found[":"][0], found[":"][0] + 1, "':' without a '?' before it "
                            "(write condition ? a : b)")
        for op in ("||", "&&", "|", "&"):
            if op in found:
                return self._chain(op, found[op], lo, hi, depth)
        comparison = self._comparison(found)
        if comparison is not None:
            position = comparison
            return self._chain(tokens[position].text, [position], lo, hi, depth)
        for op in ("+", "-"):
            if op in found:
                return self._chain(op, found[op], lo, hi, depth)
        if tokens[lo].text in ("-", "+") and tokens[lo].kind == "op":
            if lo + 1 == hi:
                raise self.fail(lo, hi, f"{tokens[lo].text!r} needs a number after it")
            return Unary(tokens[lo].text, self.parse(lo + 1, hi, depth + 1), *self.span(lo, hi))
        for op in ("%", ">>", "<<", "*", "/", "^"):
            if op in found:
                return self._chain(op, found[op], lo, hi, depth)
        return self._primary(lo, hi, depth)

    def _operators(self, lo, hi):
        """{operator: [positions]} of the binary operators in [lo, hi) outside brackets;
        ``+`` and ``-`` count only after an operand (else they are signs)."""
        found = {}
        tokens = self.tokens
        for index in self.top_level(lo, hi):
            token = tokens[index]
            if token.kind != "op" or token.text in ("(", "[", "!", ","):
                continue
            if token.text in ("+", "-"):
                if index == lo:
                    continue
                previous = tokens[index - 1]
                if previous.kind not in _OPERAND_END and previous.text not in (")", "]"):
                    continue
            found.setdefault(token.text, []).append(index)
        return found

    def _comparison(self, found):
        """The comparison ROOT splits at: its first ``<`` not after a ``<<`` (counting only
        those after the first ``<=``, which resets it), else the same for ``>``, else the
        first ``<=``, ``>=``, ``==``, ``!=``."""
        for op, shift, reset in (("<", "<<", ("<=", "=<")), (">", ">>", (">=", "=>"))):
            candidates = found.get(op, [])
            if shift in found:
                candidates = [c for c in candidates if c < found[shift][0]]
            resets = [p for r in reset for p in found.get(r, [])]
            if resets:
                candidates = [c for c in candidates if c > min(resets)]
            if candidates:
                return candidates[0]
        for op in ("<=", "=<", ">=", "=>", "==", "!="):
            if op in found:
                return found[op][0]
        return None

    def _chain(self, op, positions, lo, hi, depth):
        bounds = [lo] + [p + 1 for p in positions]
        ends = positions + [hi]
        for start, stop, position in zip(bounds, ends, positions + [positions[-1]]):
            if start >= stop:
                raise self.expression.error(self.tokens[position], f"{op!r} needs an operand "
                                            f"on each side")
        operands = [self.parse(start, stop, depth + 1) for start, stop in zip(bounds, ends)]
        return Chain(_canonical(op), operands, *self.span(lo, hi))

    def _ternary(self, lo, hi, found, depth):
        question = found["?"][0]
        colons = [c for c in found.get(":", []) if c > question]
        if not colons:
            raise self.fail(question, question + 1, "'?' without ':' (write condition ? a : b)")
        colon = colons[0]
        for start, stop in ((lo, question), (question + 1, colon), (colon + 1, hi)):
            if start >= stop:
                raise self.fail(question, colon + 1, "each part of condition ? a : b must be "
                                "given")
        return Ternary(self.parse(lo, question, depth + 1),
                       self.parse(question + 1, colon, depth + 1),
                       self.parse(colon + 1, hi, depth + 1), *self.span(lo, hi))

    def _primary(self, lo, hi, depth):
        tokens = self.tokens
        first = tokens[lo]
        if first.text == "!" and first.kind == "op":
            if lo + 1 == hi:
                raise self.fail(lo, hi, "'!' needs something to negate")
            return Unary("!", self.parse(lo + 1, hi, depth + 1), *self.span(lo, hi))
        if first.kind == "number":
            if hi > lo + 1:
                raise self._unexpected(lo + 1, hi)
            return _number(first)
        if first.kind == "name":
            return self._name(lo, hi, depth)
        if first.text == "(":
            raise self._unexpected(first.match + 1, hi)
        if first.text == "[":
            raise self.fail(lo, first.match + 1, "a list in brackets is not part of the "
                            "expression language; '[' picks an element of a branch: name[i]",
                            allowed=True)
        if first.text == ",":
            raise self.fail(lo, lo + 1, "',' separates the arguments of a function call only")
        raise self.fail(lo, lo + 1, f"{first.text!r} cannot start an operand; expected a "
                        f"number, a branch or a function call", allowed=True)

    def _unexpected(self, lo, hi):
        token = self.tokens[lo]
        if token.text == "[":
            return self.fail(lo, token.match + 1, "only a branch can be indexed: name[i]")
        if token.text == "(":
            return self.fail(lo, token.match + 1, "only a function name can be called: "
                             "f(x)")
        if token.text == ",":
            return self.fail(lo, lo + 1, "',' separates the arguments of a function call "
                             "only")
        return self.fail(lo, lo + 1, f"{token.text!r} was not expected here (an operator is "
                         f"missing before it?)", allowed=True)

    def _name(self, lo, hi, depth):
        tokens = self.tokens
        name = tokens[lo]
        if hi == lo + 1:
            if name.text in FUNCTIONS:
                example = ("", "x", "x, y", "c, a, b")[FUNCTIONS[name.text]]
                raise self.fail(lo, hi, f"{name.text} is a function: call it, e.g. "
                                f"{name.text}({example})")
            return Name(name.text, name.start, name.end)
        after = tokens[lo + 1]
        if after.text == "(":
            if after.match != hi - 1:
                raise self._unexpected(after.match + 1, hi)
            return self._call(lo, hi, depth)
        if after.text == "[":
            indices = []
            position = lo + 1
            while position < hi:
                bracket = tokens[position]
                if bracket.text != "[":
                    raise self._unexpected(position, hi)
                if any(tokens[i].text in (":", ",")
                       for i in self.top_level(position + 1, bracket.match)):
                    raise self.fail(position, bracket.match + 1, "slices (x[a:b], x[:, i]) are "
                                    "not part of the expression language: x[i] is element i "
                                    "of each event, x[i][j] of a 2-D array")
                if bracket.match == position + 1:
                    indices.append(None)
                else:
                    indices.append(self.parse(position + 1, bracket.match, depth + 1))
                position = bracket.match + 1
            return Index(name.text, indices, *self.span(lo, hi))
        raise self._unexpected(lo + 1, hi)

    def _call(self, lo, hi, depth):
        tokens = self.tokens
        name = tokens[lo].text
        if name not in FUNCTIONS:
            if "." in name:
                reason = (f"{name}(...) calls a method, which expressions cannot; "
                          f"Length$(x) gives the number of elements of x")
            else:
                reason = (f"{name!r} is not a function rootgan knows"
                          f"{did_you_mean(name, FUNCTIONS)}")
            raise self.fail(lo, lo + 1, reason, allowed=True)
        args = []
        start = lo + 2
        if start < hi - 1:
            commas = [i for i in self.top_level(start, hi - 1) if tokens[i].text == ","]
            for stop in commas + [hi - 1]:
                if start >= stop:
                    raise self.fail(lo, hi, f"an argument of {name} is empty")
                args.append(self.parse(start, stop, depth + 1))
                start = stop + 1
        if len(args) != FUNCTIONS[name]:
            expected = FUNCTIONS[name]
            raise self.fail(lo, hi, f"{name} takes {expected} argument"
                            f"{'' if expected == 1 else 's'}, got {len(args)}")
        return Call(name, args, *self.span(lo, hi))


def _canonical(op):
    return {"=<": "<=", "=>": ">="}.get(op, op)


def _number(token):
    text = token.text
    value = float(int(text, 16)) if text[:2].lower() == "0x" else float(text)
    is_integer = text[:2].lower() == "0x" or text.isdigit()
    return Number(value, is_integer, token.start, token.end)


def combine_cuts(*cuts):
    """The logical AND of the non-empty cuts, each kept as written when it stands alone."""
    parts = [c.strip() for c in cuts if c and c.strip()]
    return parts[0] if len(parts) == 1 else " && ".join(f"({c})" for c in parts)
