"""TTree::Draw-style expressions (TMVA's cuts and variables) in uproot's expression language.

TMVA users write cuts in ROOT's C++ syntax: ``pt > 250 && abs(eta) < 2``, ``!isBad``,
``TMath::Abs(x)``, ``x^2``. uproot evaluates a restricted, Python-syntax language (it walks
the parsed expression and allows only branch names and its own function table; nothing is
passed to a bare ``eval``). This module translates the first into the second: ``&&`` and
``||`` become ``logical_and`` and ``logical_or`` (Python's ``and``/``or`` do not work
element-wise on arrays), ``!x`` becomes ``(x == 0)`` with C++ precedence, ``^`` becomes a
power as in TTree::Draw, and ``TMath::`` functions become uproot's.
"""

import ast
import re

from ..errors import DataError

_TMATH = {"Abs": "abs", "Sqrt": "sqrt", "Exp": "exp", "Log": "log", "Log10": "log10",
          "Sin": "sin", "Cos": "cos", "Tan": "tan", "ATan": "atan", "ATan2": "atan2",
          "ASin": "asin", "ACos": "acos", "SinH": "sinh", "CosH": "cosh", "TanH": "tanh",
          "Hypot": "hypot", "Floor": "floor", "Ceil": "ceil", "Erf": "erf", "Erfc": "erfc"}


class _LogicalToCalls(ast.NodeTransformer):
    def visit_BoolOp(self, node):
        self.generic_visit(node)
        name = "logical_and" if isinstance(node.op, ast.And) else "logical_or"
        result = node.values[0]
        for value in node.values[1:]:
            result = ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=[result, value],
                              keywords=[])
        return result

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (ast.Not, ast.Invert)):  # '!' arrives as '~' (see to_uproot)
            return ast.Compare(left=node.operand, ops=[ast.Eq()],
                               comparators=[ast.Constant(value=0)])
        return node


def combine_cuts(*cuts):
    """The logical AND of the non-empty cuts, each kept as written when it stands alone."""
    parts = [c.strip() for c in cuts if c and c.strip()]
    return parts[0] if len(parts) == 1 else " && ".join(f"({c})" for c in parts)


def to_uproot(expression, what="expression"):
    """Translate one TTree::Draw-style expression; a SyntaxError becomes a DataError."""
    text = str(expression).strip()
    if not text:
        raise DataError(f"the {what} is empty")
    python = re.sub(r"TMath::(\w+)", lambda m: _TMATH.get(m.group(1), m.group(0)), text)
    unknown = re.search(r"[\w]*::\w+", python)
    if unknown:
        raise DataError(f"the {what} {text!r} uses {unknown.group(0)!r}, a C++ function uproot "
                        f"cannot evaluate; use one of {', '.join('TMath::' + k for k in _TMATH)}"
                        f" or a Python-style call such as abs(x)")
    if "~" in python:
        raise DataError(f"the {what} {text!r} uses '~' (bitwise not), which cuts do not "
                        f"support; write '!' for a logical not")
    # C++ precedence: '!' binds tighter than comparisons, as Python's '~' does (it becomes
    # '== 0' below); TTree::Draw's '^' is a power.
    python = python.replace("&&", " and ").replace("||", " or ").replace("^", "**")
    python = re.sub(r"!(?!=)", "~", python)
    try:
        tree = ast.parse(python, mode="eval")
    except SyntaxError as error:
        raise DataError(f"the {what} {text!r} is not a valid expression ({error.msg})") \
            from None
    return ast.unparse(ast.fix_missing_locations(_LogicalToCalls().visit(tree)))
