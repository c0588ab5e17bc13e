"""Compare generated jet images with real ones: distances over their floor, and plots.

    python macros/compare.py [GENERATED] [--real data/jet_images.root:jets] [--label 1]
                             [--out-dir compare]

GENERATED and --real are ``file.root:tree`` (uproot's syntax); both trees hold the images
in the branch ``--branch`` (default ``image``). Prints the mass peak, tau21 median and
non-zero pixel fraction of each sample, and W1(generated, real) over W1(real half, real
half) for mass, tau21, summed pT, non-zero pixels and the pixel spectrum; writes
``mean_images.png`` and ``observables.png`` into --out-dir.
"""

import argparse
import os
import sys

import numpy as np

from rootgan import DataError
from rootgan.evaluation.compare import distance_table, format_table, plot_comparison, summary
from rootgan.io.sources import open_tree

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(os.path.dirname(HERE), "data", "jet_images.root") + ":jets"


def read_images(spec, branch, label=None):
    path, _, name = spec.rpartition(":")
    if not path:
        raise DataError(f"{spec!r}: give the tree as file.root:tree")
    tree = open_tree(path, name).tree
    if branch not in tree.keys():
        raise DataError(f"{spec}: no branch {branch!r}; branches: {', '.join(tree.keys())}")
    images = tree[branch].array(library="np")
    if label is not None and "label" in tree.keys():
        images = images[tree["label"].array(library="np") == label]
    return np.asarray(images, np.float64).reshape(len(images), -1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("generated", nargs="?", default="generated_jets.root:GeneratedTree",
                        help="generated events, file.root:tree")
    parser.add_argument("--real", default=REAL, help="real events, file.root:tree")
    parser.add_argument("--label", type=int, default=1,
                        help="real jets with this label only (1 = W, 0 = QCD; -1 = all)")
    parser.add_argument("--branch", default="image", help="image branch (default image)")
    parser.add_argument("--out-dir", default="compare", help="folder for the plots")
    args = parser.parse_args(argv)
    try:
        real = read_images(args.real, args.branch, None if args.label < 0 else args.label)
        generated = read_images(args.generated, args.branch)
        for name, values in (("real", summary(real)), ("generated", summary(generated))):
            print(f"{name:>9}: {len(real if name == 'real' else generated):,} jets, mass peak "
                  f"{values['mass peak']:.0f} GeV, tau21 median {values['tau21 median']:.3f}, "
                  f"non-zero pixels {values['non-zero fraction']:.1%}")
        print(format_table(distance_table(real, generated)))
        for path in plot_comparison(real, generated, args.out_dir):
            print(f"wrote {path}")
    except DataError as error:
        sys.exit(f"compare.py: {error}")


if __name__ == "__main__":
    main()
