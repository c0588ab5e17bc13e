"""``rootgan compare``: evaluate the images of one ROOT tree against another.

Reads the image branch (and optional weight and condition branches) of REAL and GENERATED
(``file.root:tree``), evaluates them (``report.evaluate``), prints the summary and the
metric table, and writes the plots and ``compare.root`` (TH1D histograms of every
observable, real and generated, and the TTree ``metrics``) into the output folder.
"""

import os

import numpy as np

from ..errors import DataError
from ..io.columns import ExpressionColumns
from ..io.output import staged
from ..io.sources import open_tree
from .observables import Geometry
from .plots import plot_evaluation
from .report import evaluate

RESULT_FILE = "compare.root"


def parse_shape(text):
    """``"d,h,w"`` (or ``"h,w"``) as a tuple of positive integers."""
    try:
        shape = tuple(int(v) for v in str(text).replace("|", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise DataError(f"--shape {text!r}: give depth,rows,columns (e.g. 1,25,25) or "
                        f"rows,columns")
    return shape


def read_sample(spec, branch="image", weight=None, condition=None, cut=None,
                optional_weight=False):
    """(images (n, pixels) float32, weights or None, condition or None) of ``spec`` =
    ``file.root:tree``; ``cut`` is a TTree::Draw expression, as in a DataLoader's cuts. With
    ``optional_weight``, a tree without the weight branch is unweighted (GeneratedTree)."""
    path, _, name = str(spec).rpartition(":")
    if not path or not name:
        raise DataError(f"{spec!r}: give the tree as file.root:tree")
    source = open_tree(path, name)
    tree = source.tree
    if optional_weight and weight not in tree.keys():
        weight = None
    wanted = [b for b in (branch, weight, condition) if b]
    missing = [b for b in wanted if b not in tree.keys()]
    if missing:
        raise DataError(f"{spec}: no branch {missing[0]!r}; branches: {', '.join(tree.keys())}")
    selected = _selection(source, cut) if cut else slice(None)
    try:
        arrays = {b: tree[b].array(library="np")[selected] for b in wanted}
    except Exception as error:
        raise DataError(f"{spec}: cannot read the branches: {type(error).__name__}: "
                        f"{error}") from None
    images = arrays[branch]
    if len(images) == 0:
        raise DataError(f"{spec}: no events" + (f" pass the cut {cut!r}" if cut else ""))
    if images.dtype == object:
        raise DataError(f"{spec}: branch {branch!r} holds variable-length arrays; compare "
                        f"needs fixed-size images (name[N]/F)")
    images = np.asarray(images, np.float32).reshape(len(images), -1)
    return (images, arrays[weight] if weight else None,
            arrays[condition] if condition else None)


def _selection(source, cut):
    """The entries of ``source`` that pass ``cut`` (a NaN cut value is refused)."""
    columns = ExpressionColumns(source, {"cut": cut})
    passed, present = columns.evaluate(["cut"], 0, source.num_entries)["cut"]
    if passed.dtype.kind == "f" and np.isnan(passed).any():
        raise DataError(f"{source.label}: the cut {cut!r} is NaN for entry "
                        f"{int(np.flatnonzero(np.isnan(passed))[0])}; fix the cut")
    mask = passed != 0
    return mask if present is None else mask & present


def default_shape(pixels):
    side = int(round(np.sqrt(pixels)))
    if side * side != pixels:
        raise DataError(f"images of {pixels} pixels are not square; give --shape d,h,w")
    return (1, side, side)


def compare_files(real, generated, branch="image", shape=None, geometry="image",
                  out_dir="compare", weight=None, condition=None, real_cut=None,
                  label="generated", classifier=True, seed=0, log=print):
    """Evaluate GENERATED against REAL (both ``file.root:tree``); returns the Evaluation
    and the paths written."""
    real_images, real_weights, real_condition = read_sample(real, branch, weight, condition,
                                                            real_cut)
    generated_images, generated_weights, generated_condition = read_sample(
        generated, branch, weight, condition, optional_weight=True)
    if real_images.shape[1] != generated_images.shape[1]:
        raise DataError(f"the real images have {real_images.shape[1]} pixels, the generated "
                        f"ones {generated_images.shape[1]}: they cannot be compared")
    shape = parse_shape(shape) if shape else default_shape(real_images.shape[1])
    evaluation = evaluate(real_images, generated_images, Geometry(geometry, shape),
                          real_weights, generated_weights, real_condition, generated_condition,
                          classifier=classifier, seed=seed)
    log(evaluation.summary())
    log(evaluation.table())
    os.makedirs(out_dir, exist_ok=True)
    result = os.path.join(out_dir, RESULT_FILE)
    with staged(result, fresh=True) as handle:
        evaluation.write_root(handle)
    paths = [result] + plot_evaluation(evaluation, out_dir, label)
    return evaluation, paths
