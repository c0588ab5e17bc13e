"""Generate events from a trained GAN's weights file into a ROOT file.

    python macros/generate.py [WEIGHTS] [-n 10000] [--out generated_jets.root] [--seed 1]

Needs only the weights file (default: the one macros/train_jet_gan.py writes). The file
holds one TTree, GeneratedTree, with the image branch and eventNumber; it appears only when
complete. The same as ``rootgan generate WEIGHTS -n N --out PATH``.
"""

import argparse
import sys
import time

import rootgan

WEIGHTS = "jet_gan/dataset/weights/JetGAN_GAN.weights.root"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", nargs="?", default=WEIGHTS,
                        help=f"GAN weights file (default {WEIGHTS})")
    parser.add_argument("-n", type=int, default=10_000, help="events (default 10000)")
    parser.add_argument("--out", default="generated_jets.root", help="output ROOT file")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        path = rootgan.generate(args.weights, args.n, args.out, seed=args.seed,
                                batch_size=args.batch_size)
    except rootgan.RootganError as error:
        sys.exit(f"generate.py: {error}")
    seconds = time.perf_counter() - start
    print(f"wrote {args.n:,} events to {path} in {seconds:.1f} s "
          f"({args.n / seconds:,.0f} events/s)")


if __name__ == "__main__":
    main()
