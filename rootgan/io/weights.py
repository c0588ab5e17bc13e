"""Weights files: everything needed to use a trained method without its training data, in
a ROOT file read back with uproot alone (no pickle, no ``eval``).

Layout (every entry readable in ROOT's TBrowser):
  ``info``            TObjString, JSON: versions, date, host, job, title, method, training
                      events and time, the input files with their sizes and SHA-256 hashes
  ``options_given``   TObjString: the option string as the user wrote it
  ``options``         TObjString, JSON: every resolved option
  ``variables``       TObjString, JSON: variables, arrays, spectators, conditions, and the
                      expression of each
  ``method``          TObjString, JSON: method-specific settings (e.g. the pixel transform)
  ``parameters``      TTree, one entry per array: ``name`` (string), ``shape`` and
                      ``values`` (float32, flattened in C order)
"""

import hashlib
import json
import os
import platform
from datetime import datetime, timezone

import awkward as ak
import numpy as np
import uproot

from ..errors import DataError
from .output import staged, write_tree

FORMAT_VERSION = 1
_TEXT_KEYS = ("info", "options", "variables", "method")


def file_fingerprint(path, block=1 << 24):
    """{path, bytes, sha256} of an input file, hashed in 16 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for data in iter(lambda: stream.read(block), b""):
            digest.update(data)
    return {"path": os.path.abspath(path), "bytes": os.path.getsize(path),
            "sha256": digest.hexdigest()}


def environment_info():
    """Versions, date and host recorded in every weights file."""
    import numba

    from .. import __version__

    return {"format_version": FORMAT_VERSION, "rootgan": __version__,
            "uproot": uproot.__version__, "numpy": np.__version__, "numba": numba.__version__,
            "python": platform.python_version(), "host": platform.node(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


class WeightsContent:
    """What a weights file holds (see the module docstring)."""

    def __init__(self, info, options_given, options, variables, method, parameters):
        self.info = dict(info)
        self.options_given = str(options_given)
        self.options = dict(options)
        self.variables = dict(variables)
        self.method = dict(method)
        self.parameters = dict(parameters)


def write_weights(path, content, compressed=True):
    """Write ``content`` to ``path`` atomically (replacing any older file). Trained weights
    barely compress (8%), so files rewritten every epoch (checkpoints) are best left
    uncompressed: compressing took longer than the write itself."""
    with staged(path, fresh=True, compressed=compressed) as handle:
        for key in _TEXT_KEYS:
            handle[key] = json.dumps(getattr(content, key), indent=1, sort_keys=True,
                                     default=_jsonable)
        handle["options_given"] = content.options_given
        names = list(content.parameters)
        arrays = [np.asarray(content.parameters[n]) for n in names]
        if names:
            # jagged columns built from flat arrays and counts (ak.Array on a list of
            # arrays would iterate over every value)
            shapes = [np.asarray(a.shape, np.int64) for a in arrays]
            write_tree(handle, "parameters", [{
                "name": np.array(names, dtype=object),
                "shape": ak.unflatten(np.concatenate(shapes), [s.size for s in shapes]),
                "values": ak.unflatten(np.concatenate([a.astype(np.float32).ravel()
                                                       for a in arrays]),
                                       [a.size for a in arrays]),
            }], title="rootgan parameters, one entry per array")


def read_weights(path):
    """The ``WeightsContent`` of a weights file; a DataError says what is wrong with it."""
    if not os.path.exists(path):
        raise DataError(f"weights file {path!r} does not exist (working directory "
                        f"{os.getcwd()}); the Factory writes it to "
                        f"<dataset>/weights/<Job>_<Title>.weights.root")
    try:
        handle = uproot.open(path)
        texts = {key: str(handle[key]) for key in _TEXT_KEYS + ("options_given",)}
        parameters = {}
        if "parameters" in handle:
            table = handle["parameters"].arrays(["name", "shape", "values"], library="np")
            for name, shape, values in zip(table["name"], table["shape"], table["values"]):
                parameters[str(name)] = np.asarray(values, np.float32).reshape(
                    tuple(int(s) for s in shape))
    except (uproot.KeyInFileError, KeyError) as error:
        raise DataError(f"{path!r} is not a rootgan weights file: it has no "
                        f"{getattr(error, 'key', error)!r}") from None
    except DataError:
        raise
    except Exception as error:
        raise DataError(f"cannot read the weights file {path!r}: it is not a ROOT file, or "
                        f"it is truncated or corrupt ({type(error).__name__}: {error})") \
            from None
    try:
        decoded = {key: json.loads(texts[key]) for key in _TEXT_KEYS}
    except json.JSONDecodeError as error:
        raise DataError(f"the weights file {path!r} is damaged: {error}") from None
    if decoded["info"].get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path!r} has weights format {decoded['info'].get('format_version')}; "
                        f"this rootgan reads format {FORMAT_VERSION}")
    return WeightsContent(decoded["info"], texts["options_given"], decoded["options"],
                          decoded["variables"], decoded["method"], parameters)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a weights file")
