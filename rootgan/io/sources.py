"""Finding the TTrees to read: ``"file.root:tree"``, a glob, a list of such, or an uproot
TTree. Every failure (missing file, not a ROOT file, truncated or corrupt file, missing
tree, an object that is not a TTree) is a ``DataError`` naming the file and the tree."""

import glob
import os

import numpy as np
import uproot

from ..errors import DataError, did_you_mean

_GLOB_CHARACTERS = set("*?[")


class TreeSource:
    """One TTree to read, with where it came from."""

    def __init__(self, tree, file_path, tree_name):
        self.tree = tree
        self.file_path = file_path
        self.tree_name = tree_name

    @property
    def num_entries(self):
        return self.tree.num_entries

    @property
    def label(self):
        return f"{self.file_path}:{self.tree_name}"

    def __repr__(self):
        return f"TreeSource({self.label!r}, {self.num_entries} entries)"


def _is_uproot_tree(obj):
    return isinstance(obj, uproot.behaviors.TTree.TTree)


def resolve_trees(spec):
    """The TreeSources a tree argument stands for (in a stable, sorted order for globs)."""
    if _is_uproot_tree(spec):
        return [TreeSource(spec, spec.file.file_path, spec.object_path.lstrip("/").split(";")[0])]
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise DataError("an empty list of trees was given; give 'file.root:treename' "
                            "entries")
        return [source for item in spec for source in resolve_trees(item)]
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str):
        raise DataError(f"a tree must be 'file.root:treename', a glob, a list of them or an "
                        f"uproot TTree; got {type(spec).__name__} {spec!r}")
    path, separator, name = spec.rpartition(":")
    if not separator or not path or not name:
        raise DataError(f"{spec!r} does not name a tree; write 'file.root:treename' "
                        f"(uproot's syntax)")
    if _GLOB_CHARACTERS & set(path):
        paths = sorted(glob.glob(os.path.expanduser(path)))
        if not paths:
            raise DataError(f"no file matches {path!r} (from {spec!r}; working directory "
                            f"{os.getcwd()})")
    else:
        paths = [os.path.expanduser(path)]
    return [open_tree(p, name) for p in paths]


def open_tree(path, name):
    """Open ``name`` in the ROOT file ``path``."""
    if not os.path.exists(path):
        folder = os.path.dirname(os.path.abspath(path))
        nearby = []
        if os.path.isdir(folder):
            nearby = [f for f in os.listdir(folder) if f.endswith(".root")]
        raise DataError(f"file {path!r} does not exist (working directory {os.getcwd()})"
                        f"{did_you_mean(os.path.basename(path), nearby)}")
    try:
        handle = uproot.open(path, array_cache=None)  # chunks are read once: no cache
    except Exception as error:  # uproot raises several types for a damaged file
        raise DataError(_unreadable(path, error)) from None
    try:
        obj = handle[name]
    except uproot.KeyInFileError:
        trees = _tree_names(handle)
        raise DataError(f"file {path!r} has no tree {name!r}"
                        f"{did_you_mean(name, trees)}; trees in the file: "
                        f"{', '.join(trees) or 'none'}") from None
    except Exception as error:
        raise DataError(_unreadable(path, error, f"tree {name!r}")) from None
    if not _is_uproot_tree(obj):
        kind = getattr(obj, "classname", type(obj).__name__)
        raise DataError(f"{path}:{name} is a {kind}, not a TTree; trees in the file: "
                        f"{', '.join(_tree_names(handle)) or 'none'}")
    _check_not_truncated(obj, path, name)
    return TreeSource(obj, path, name)


def _check_not_truncated(tree, path, name):
    """Every basket must lie inside the file: a truncated file fails here, before any
    training, from the tree's metadata alone (damaged bytes inside a basket are found
    when it is read)."""
    size = os.path.getsize(path)
    for branch in tree.itervalues(recursive=True):
        count = branch.num_baskets
        if not count:
            continue
        seeks = np.asarray(branch.member("fBasketSeek")[:count], np.int64)
        lengths = np.asarray(branch.member("fBasketBytes")[:count], np.int64)
        ends = np.where(seeks > 0, seeks + lengths, 0)
        if ends.max() > size:
            raise DataError(f"{path}:{name}, branch {branch.name!r}: the file is truncated "
                            f"(its data reach byte {int(ends.max()):,} but the file has "
                            f"{size:,} bytes); copy or produce it again")


def _tree_names(handle):
    try:
        return sorted({key.split(";")[0] for key, cls in handle.classnames().items()
                       if cls in ("TTree", "TNtuple", "TNtupleD")})
    except Exception:
        return []


def _unreadable(path, error, what="it"):
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (f"cannot read {what} in {path!r}: the file is not a ROOT file, or it is truncated "
            f"or corrupt ({type(error).__name__}: {reason})")
