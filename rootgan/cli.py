"""The ``rootgan`` command: ``rootgan generate WEIGHTS -n N --out PATH ...``
(gan-options.md). Runs in this process; Dask options come with the scale-out work."""

import argparse
import sys

from .errors import RootganError


def _generate(args):
    from .methods.gan import generate
    from .tmva.log import Log

    if args.condition or args.conditions:
        conditions = args.condition or args.conditions
    else:
        conditions = None
    unsupported = [flag for flag, value in (("--events-per-file", args.events_per_file),
                                            ("--workers", args.workers),
                                            ("--scheduler", args.scheduler)) if value]
    if unsupported:
        raise RootganError(f"{', '.join(unsupported)}: writing parts and running on Dask come "
                           f"with the scale-out work; generate into one file for now")
    log = Log(progress_bar=True, stream=sys.stderr)
    with log.progress(args.n, "generate") as bar:
        path = generate(args.weights, args.n, args.out, seed=args.seed,
                        batch_size=args.batch_size, conditions=conditions,
                        progress=bar.update)
    print(f"generated {args.n:,} events into {path} (tree GeneratedTree)")


def parser():
    main = argparse.ArgumentParser(
        prog="rootgan", description="rootgan: GANs for detector images in ROOT files")
    commands = main.add_subparsers(dest="command", required=True)
    gen = commands.add_parser(
        "generate", help="generate events from a weights file",
        description="Generate events from a trained GAN's weights file, without the training "
                    "data, into a ROOT file holding one TTree, GeneratedTree (the image as a "
                    "flat name[N]/F branch, eventNumber). The same weights, seed and thread "
                    "count give the same events.")
    gen.add_argument("weights", metavar="WEIGHTS",
                     help="the weights file, <dataset>/weights/<Job>_<Title>.weights.root")
    gen.add_argument("-n", type=int, required=True, metavar="N", help="events to generate")
    gen.add_argument("--out", required=True, metavar="PATH",
                     help="output ROOT file (missing folders are created)")
    gen.add_argument("--seed", type=int, default=None, metavar="S",
                     help="seed of the noise (default: derived from the training seed)")
    gen.add_argument("--batch-size", type=int, default=1024, metavar="B",
                     help="images per generator pass (default 1024)")
    given = gen.add_mutually_exclusive_group()
    given.add_argument("--condition", action="append", metavar="NAME=VALUE",
                       help="a fixed condition for every event (conditional GANs)")
    given.add_argument("--conditions", metavar="FILE.root:TREE",
                       help="per-event conditions from a tree (conditional GANs)")
    gen.add_argument("--events-per-file", type=int, metavar="M",
                     help="split the output into parts of M events (with the scale-out work)")
    where = gen.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="W",
                       help="a local Dask cluster of W workers (with the scale-out work)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="an existing Dask scheduler (with the scale-out work)")
    gen.set_defaults(run=_generate)
    return main


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except RootganError as error:
        print(f"rootgan {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
