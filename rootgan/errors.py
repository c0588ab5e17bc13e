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
