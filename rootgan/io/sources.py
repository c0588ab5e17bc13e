"""Finding the TTrees to read: ``"file.root:tree"``, a glob, a list of such, or an uproot
TTree. Every failure (missing file, not a ROOT file, truncated or corrupt file, missing
tree, an object that is not a TTree) is a ``DataError`` naming the file and the tree."""

import glob
import os

import numpy as np
import uproot

from ..errors import DataError, did_you_mean

_GLOB_CHARACTERS = set("*?[")


class TreeLocation:
    """Where a TTree is: a file path (or URL) and the tree's name in it."""

    def __init__(self, file_path, tree_name):
        self.file_path = file_path
        self.tree_name = tree_name

    @property
    def label(self):
        return f"{self.file_path}:{self.tree_name}"


class TreeSource(TreeLocation):
    """One TTree to read, with where it came from."""

    def __init__(self, tree, file_path, tree_name):
        super().__init__(file_path, tree_name)
        self.tree = tree

    @property
    def num_entries(self):
        return self.tree.num_entries

    def __repr__(self):
        return f"TreeSource({self.label!r}, {self.num_entries} entries)"


def _is_uproot_tree(obj):
    return isinstance(obj, uproot.behaviors.TTree.TTree)


def resolve_trees(spec):
    """The TreeSources a tree argument stands for (in a stable, sorted order for globs)."""
    if _is_uproot_tree(spec):
        return [TreeSource(spec, spec.file.file_path, _tree_name(spec))]
    if isinstance(spec, (list, tuple)):
        return [source for item in _non_empty(spec) for source in resolve_trees(item)]
    return [open_tree(location.file_path, location.tree_name)
            for location in tree_locations(spec)]


def tree_locations(spec):
    """The TreeLocations a tree argument stands for, without opening a file: a glob is
    expanded here (sorted), a URL (``root://``, ``https://``, ...) is taken as it is."""
    if _is_uproot_tree(spec):
        return [TreeLocation(spec.file.file_path, _tree_name(spec))]
    if isinstance(spec, (list, tuple)):
        return [location for item in _non_empty(spec) for location in tree_locations(item)]
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str):
        raise DataError(f"a tree must be 'file.root:treename', a glob, a list of them or an "
                        f"uproot TTree; got {type(spec).__name__} {spec!r}")
    path, separator, name = spec.rpartition(":")
    if not separator or not path or not name or name.startswith("//"):
        raise DataError(f"{spec!r} does not name a tree; write 'file.root:treename' "
                        f"(uproot's syntax)")
    if is_url(path):
        paths = [path]
    elif _GLOB_CHARACTERS & set(path):
        paths = sorted(glob.glob(os.path.expanduser(path)))
        if not paths:
            raise DataError(f"no file matches {path!r} (from {spec!r}; working directory "
                            f"{os.getcwd()})")
    else:
        paths = [os.path.expanduser(path)]
    return [TreeLocation(p, name) for p in paths]


def is_url(path):
    """A path with a scheme other than file:// (uproot reads these remotely)."""
    scheme, separator, _ = path.partition("://")
    return bool(separator) and scheme.isalnum() and scheme.lower() != "file"


def absolute(path):
    """``path`` made absolute (URLs as they are), for processes that run elsewhere."""
    return path if is_url(path) else os.path.abspath(path)


def _tree_name(tree):
    return tree.object_path.lstrip("/").split(";")[0]


def _non_empty(specs):
    if not specs:
        raise DataError("an empty list of trees was given; give 'file.root:treename' "
                        "entries")
    return specs


def open_tree(path, name):
    """Open ``name`` in the ROOT file ``path`` (a path or a URL uproot reads)."""
    if not is_url(path) and not os.path.exists(path):
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
    size = tree.file.source.num_bytes if is_url(path) else os.path.getsize(path)
    if size is None:  # a remote source that does not tell its size
        return
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
