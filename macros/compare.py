"""Compare generated jet images with real ones: the metric table, histograms and plots.

    python macros/compare.py [GENERATED] [--real data/jet_images.root:jets] [--label 1]
                             [--out-dir compare]

A thin wrapper of ``rootgan compare`` with the jet geometry and the shipped W jets as the
real sample: GENERATED and --real are ``file.root:tree`` (uproot's syntax), both holding
the images in the branch ``--branch`` (default ``image``). Prints the mass peak, tau21
median and non-zero pixel fraction of each sample and, per observable, W1(generated, real)
with its uncertainty, the floor W1(real half, real half) and their ratio, then FPD, KPD
and a classifier's AUC; writes one PNG and PDF per observable, the mean images and
``compare.root`` into --out-dir.
"""

import argparse
import os
import sys

from rootgan import DataError
from rootgan.evaluation.compare import compare_files

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(os.path.dirname(HERE), "data", "jet_images.root") + ":jets"


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
        _, paths = compare_files(args.real, args.generated, args.branch, geometry="jet",
                                 out_dir=args.out_dir,
                                 real_cut=None if args.label < 0 else f"label == {args.label}",
                                 label="generated jets")
    except DataError as error:
        sys.exit(f"compare.py: {error}")
    print(f"wrote {paths[0]} and the plots in {args.out_dir}")


if __name__ == "__main__":
    main()
