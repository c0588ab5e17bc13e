"""The ``rootgan`` command (gan-options.md): ``rootgan generate WEIGHTS -n N --out PATH ...``
(one file, or parts with ``{index}`` in PATH, in this process or on Dask) and
``rootgan compare REAL GENERATED ...``."""

import argparse
import sys

from .errors import RootganError


def _notice(text):
    print(text, file=sys.stderr)


def _generate(args):
    from . import generate, read_manifest, writes_parts
    from .tmva.log import Log

    conditions = args.conditions
    if args.condition:
        conditions = {}
        for text in args.condition:
            name, equals, value = (part.strip() for part in text.partition("="))
            if not equals or not name:
                raise RootganError(f"--condition {text}: expected NAME=VALUE, e.g. "
                                   f"--condition energy=50")
            if name in conditions:
                raise RootganError(f"--condition {name} is given more than once; give each "
                                   f"condition once")
            try:
                conditions[name] = float(value)
            except ValueError:
                raise RootganError(f"--condition {text}: expected NAME=VALUE with a number, "
                                   f"e.g. --condition energy=50") from None
    log = Log(progress_bar=True, stream=sys.stderr)
    with log.progress(args.n, "generate") as bar:
        path = generate(args.weights, args.n, args.out, seed=args.seed,
                        batch_size=args.batch_size, conditions=conditions,
                        events_per_file=args.events_per_file, workers=args.workers,
                        scheduler=args.scheduler, progress=bar.update, notice=_notice)
    if writes_parts(args.out, args.events_per_file, args.workers, args.scheduler):
        files = read_manifest(path)["files"]
        shown = files[0] if len(files) == 1 else f"{files[0]} ... {files[-1]}"
        print(f"{args.n:,} events in {len(files)} part(s), {shown} (tree GeneratedTree); "
              f"manifest {path}")
    else:
        print(f"generated {args.n:,} events into {path} (tree GeneratedTree)")


def _compare(args):
    from .evaluation.compare import compare_files

    _, paths = compare_files(args.real, args.generated, args.branch, args.shape,
                             args.geometry, args.out_dir, args.weight, args.condition,
                             args.real_cut, classifier=not args.no_classifier)
    print(f"wrote {paths[0]} and {len(paths) - 1} plot files (PNG and PDF) into "
          f"{args.out_dir}")


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
                     help="output ROOT file (missing folders are created); with {index} in "
                          "it, parts numbered from 0 plus a manifest (PATH with {index} "
                          "replaced by 'manifest')")
    gen.add_argument("--seed", type=int, default=None, metavar="S",
                     help="seed of the noise (default: derived from the training seed)")
    gen.add_argument("--batch-size", type=int, default=1024, metavar="B",
                     help="images per generator pass (default 1024)")
    given = gen.add_mutually_exclusive_group()
    given.add_argument("--condition", action="append", metavar="NAME=VALUE",
                       help="a fixed condition for every event (conditional GANs; repeat "
                            "for each condition)")
    given.add_argument("--conditions", metavar="FILE.root:TREE",
                       help="per-event conditions from a tree (conditional GANs)")
    gen.add_argument("--events-per-file", type=int, metavar="M",
                     help="events per part (needs {index} in --out; default 1,000,000); "
                          "each part has its own random stream and one thread, so its "
                          "events do not depend on where it ran; a rerun skips finished "
                          "parts")
    where = gen.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="W",
                       help="generate the parts on a local Dask cluster of W worker "
                            "processes (the dask extra)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="generate the parts on an existing Dask cluster, e.g. "
                            "tcp://host:8786 (workers need rootgan and a shared file system)")
    gen.set_defaults(run=_generate)

    cmp = commands.add_parser(
        "compare", help="compare generated images with real ones",
        description="Compare the images of two trees: per observable the 1-Wasserstein "
                    "distance with its uncertainty, the floor (the same distance between two "
                    "halves of the real sample) and their ratio, chi2 per histogram, FPD and "
                    "KPD on the observable vector, and a classifier's AUC. Prints the table; "
                    "writes plots (PNG, PDF) and compare.root (histograms, TTree metrics).")
    cmp.add_argument("real", metavar="REAL", help="real events, file.root:tree")
    cmp.add_argument("generated", metavar="GENERATED", help="generated events, file.root:tree")
    cmp.add_argument("--branch", default="image", help="image branch of both trees "
                     "(default image)")
    cmp.add_argument("--shape", metavar="D,H,W",
                     help="image shape (default: one square layer)")
    cmp.add_argument("--geometry", default="image", choices=("image", "jet", "calo"),
                     help="pixel geometry: jet (eta, phi over [-1.25, 1.25]: mass, tau21, "
                          "radial profile), calo (5 mm cells: response, core fraction), "
                          "image (default)")
    cmp.add_argument("--out-dir", default="compare", metavar="DIR",
                     help="folder for the plots and compare.root (default ./compare)")
    cmp.add_argument("--weight", metavar="BRANCH",
                     help="event-weight branch (of each tree that has it)")
    cmp.add_argument("--condition", metavar="BRANCH",
                     help="condition branch of both trees (e.g. energy): the energy response "
                          "and every W1 in bins of it")
    cmp.add_argument("--real-cut", metavar="EXPR",
                     help="use only the real events passing this cut, written as in "
                          "TTree::Draw and the DataLoader (e.g. 'label == 1 && pt > 250')")
    cmp.add_argument("--no-classifier", action="store_true",
                     help="skip the classifier two-sample test")
    cmp.set_defaults(run=_compare)
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
