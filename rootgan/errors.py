"""The one exception family of rootgan.

Every error a user can cause is a :class:`RootganError`; the subclass says which part of
the input was wrong. Messages name what was wrong, where, what was expected and, where
there is one, the nearest valid spelling.
"""

import difflib


class RootganError(Exception):
    """Base class of every error rootgan raises for a bad input."""


class OptionError(RootganError, ValueError):
    """A malformed, unknown or out-of-range option in an option string."""


class LayoutError(RootganError, ValueError):
    """A network layout string that cannot be built (unknown word, wrong fields, bad shape)."""


class DataError(RootganError, ValueError):
    """Input data that does not fit: wrong array size, NaN values, missing branch, ..."""


class ClusterError(RootganError, RuntimeError):
    """Dask is missing, a scheduler cannot be reached, or a task failed on a worker."""


class WeightsError(RootganError, ValueError):
    """Network parameters that do not match the network they are loaded into."""


def did_you_mean(word, choices):
    """' (did you mean X?)' for the closest of ``choices`` to ``word``, or ''."""
    lookup = {c.upper(): c for c in choices}
    close = difflib.get_close_matches(str(word).upper(), list(lookup), n=1, cutoff=0.5)
    return f" (did you mean {lookup[close[0]]}?)" if close else ""


class ExpressionError(DataError):
    """A cut, weight or variable expression rootgan refuses: it quotes the expression with
    a caret under the offending part and says what is allowed instead."""

    CONTEXT = 60  # characters shown on each side of the offending part of a long expression

    def __init__(self, text, what, start, end, reason, allowed=""):
        self.text, self.what, self.start, self.end = text, what, start, max(end, start + 1)
        self.reason, self.allowed = reason, allowed
        super().__init__(self._message())

    def __reduce__(self):  # raised on Dask workers and sent back
        return type(self), (self.text, self.what, self.start, self.end, self.reason,
                            self.allowed)

    def _message(self):
        first = max(0, self.start - self.CONTEXT)
        last = min(len(self.text), self.end + self.CONTEXT, self.start + 2 * self.CONTEXT)
        shown = self.text[first:last].replace("\n", " ").replace("\t", " ")
        prefix = "..." if first else ""
        suffix = "..." if last < len(self.text) else ""
        carets = " " * (len(prefix) + self.start - first) + "^" * max(
            1, min(self.end, last) - self.start)
        quoted = (repr(self.text) if len(self.text) <= 2 * self.CONTEXT
                  else f"of {len(self.text):,} characters")
        lines = [f"the {self.what} {quoted} cannot be used: {self.reason}",
                 f"    {prefix}{shown}{suffix}", f"    {carets}"]
        if self.allowed:
            lines.append(f"  {self.allowed}")
        return "\n".join(lines)
