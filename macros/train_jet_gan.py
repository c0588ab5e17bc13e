"""Train a GAN on the shipped jet images the TMVA way, then look at what it generates.

    python macros/train_jet_gan.py            # W jets, defaults: about 8 minutes on 2 cores
    python macros/train_jet_gan.py --budget 600           # train for 10 minutes instead
    python macros/train_jet_gan.py --architecture lagan   # locally connected, minibatch
    python macros/train_jet_gan.py --condition pt label   # W and QCD jets, class a condition
    python macros/train_jet_gan.py --help     # data, class, network size, epochs, outputs

Books one GAN with the Factory on ``data/jet_images.root`` (W jets by default), trains,
generates as many events as the test set holds (TestAllMethods) and evaluates them against
the real test jets with the jet observables (EvaluateAllMethods, Geometry=JET): a table of
1-Wasserstein distances over their statistical floor (mass, tau21, summed pT, non-zero
pixels, pixel spectrum, ...), FPD, KPD and a classifier's AUC, and plots (mean images,
one per observable, PNG and PDF) in ``<out-dir>/dataset/plots/GAN/``.

The defaults and why (measured with ``benchmarks/fidelity.py``; numbers in the README):
- conditioned on the jet pT (``AddCondition("pt")``), the pixels taken relative to it
  before the Log transform (``VarTransform=Log:ScaleBy=pt``): a fast simulation is asked
  for jets of a given pT, and the generated events get the test jets' pT;
- a RELU output layer: its exact zeros give the jets' sparsity (a LEAKYRELU output, which
  cannot die, left faint pixels everywhere: non-zero-pixel W1 / floor 85 instead of 4.4);
  the collapse guard restores the best epoch if it ever writes only zeros;
- selection of the epoch by the jet observables (``SelectBy=PHYSICS``: summed pT, non-zero
  pixels, mass, tau21, widths on 10% held-out jets), checkpoints every 50 epochs (one per
  0.2 s epoch took a third of the time), no ``SumFeature`` (it let the discriminator win);
- the summed pT from the data (``SumFromData``): each generated jet is scaled to the
  summed pT over jet pT of one of the 10 training jets nearest in pT, and the generator is
  told it; the network's own sums spread by +-8% where the real ones lie within 1.00-1.06
  (W jets, 200 s: summed-pT W1 / floor 14.3 -> 0.74);
- the discriminator learns 4x slower than the generator (5e-5 against 2e-4): at equal
  rates it overfits the 2,250 training jets after ~1,000 epochs; 10x slower (CaloGAN's
  ratio) was worse (QCD jets: mass W1 / floor 2.7 -> 4.6, tau21 1.8 -> 3.3);
- the discriminator judges two jets at once (``Packing=2``, PacGAN): judged one at a time,
  the generated QCD jets of some seeds lacked the hard wide-angle emissions (seed 3: mass
  W1 / floor 6.9, widths 5.7 and 6.8), and a pair shows that where a single jet may not.
  Over 3 seeds the worst QCD mass went 6.9 -> 3.7 and the worst width 6.8 -> 4.0; the
  classifier AUC 0.93-0.96 -> 0.80-0.84 on both W and QCD jets. QCD jets alone
  (``--label 0``) are judged four at a time: worst W1 / floor over 3 seeds 4.0 -> 3.2; on
  W jets four was worse (mass 3.2 -> 4.3-4.6, width y 2.4 -> 3.3-3.6, AUC 0.80 -> 0.88).

``--condition label`` (or ``pt label``) learns W and QCD jets together, conditioned on the
class (``label``: 1 = W, 0 = QCD): the generator makes the jet class it is asked for, and
the evaluation has its rows per class; ``--gantype cgan`` or ``acgan`` choose the variant.
``--input`` and ``--test-input`` train on one file and test on another.
"""

import argparse
import os
import sys

from rootgan import TMVA

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data", "jet_images.root")
# (generator, discriminator, epochs that fit the 10-minute budget on 2 cores)
ARCHITECTURES = {
    # Dense networks: on 25x25 images they train ~9x faster per image than small
    # convolutional ones here (benchmarks/quality_blobs.py), so the budget buys more steps.
    "dense": ("DENSE|256|LEAKYRELU,DENSE|512|LEAKYRELU,DENSE|625|RELU",
              "RESHAPE|FLAT,DENSE|512|LEAKYRELU,DENSE|256|LEAKYRELU,DENSE|1|LINEAR", 900),
    # LAGAN-style (de Oliveira, Paganini, Nachman 2017), cut to a CPU budget: the generator
    # ends in locally connected layers, which learn position-dependent filters (jet images
    # are not translation invariant), the discriminator starts with one and sees minibatch
    # discrimination features against mode collapse. Changed from LAGAN: no batch norm in
    # the discriminator (rootgan's GAN step passes real and generated images as separate
    # batches, so batch statistics would hide their difference); a SIGMOID output bounded
    # like the Log-transformed pixels (a RELU output grew without bound here), zeroed below
    # PixelFloor; widths that fit ~4 s per epoch.
    "lagan": ("DENSE|256|LEAKYRELU,DENSE|1250|LEAKYRELU,RESHAPE|2|25|25,"
              "LOCAL|4|3|3|1|1|1|1|LEAKYRELU,LOCAL|1|3|3|1|1|1|1|SIGMOID",
              "LOCAL|4|5|5|2|2|2|2|LEAKYRELU,RESHAPE|FLAT,DENSE|256|LEAKYRELU,MINIBATCH|10|5,"
              "DENSE|1|LINEAR", 130),
    # the benchmark GAN of benchmark-gan.md (the network benchmarks/fidelity.py trains in
    # PyTorch): convolutional, ~20x slower per image than the dense pair here
    "benchmark": ("DENSE|6272|LEAKYRELU,RESHAPE|128|7|7,UPSAMPLE|2|2,"
                  "CONV|64|5|5|1|1|2|2|LEAKYRELU,TRANSCONV|32|5|5|2|2|3|3|LEAKYRELU,"
                  "CONV|1|3|3|1|1|1|1|RELU",
                  "CONV|32|5|5|1|1|2|2|LEAKYRELU,MAXPOOL|2|2|2|2,CONV|64|3|3|1|1|1|1|LEAKYRELU,"
                  "MAXPOOL|2|2|2|2,RESHAPE|FLAT,DENSE|128|LEAKYRELU,DENSE|1|LINEAR", 60),
}
TYPICAL_PT = 280.0  # GeV, the middle of the shipped jets' pT window 250-300
HEADLINE = ("mass", "tau21", "total intensity", "non-zero pixels", "pixel spectrum")


def gan_options(args):
    transform = f"VarTransform={args.transform}:PixelScale={args.pixel_scale}"
    if "pt" in args.condition and args.transform != "None":
        # pixels relative to the jet pT: PixelScale in units of it (1 GeV at 280 GeV)
        transform = (f"VarTransform={args.transform}:ScaleBy=pt:"
                     f"PixelScale={args.pixel_scale / TYPICAL_PT:.6g}")
    if args.transform == "N":
        transform = "VarTransform=N"
    budget = f",MaxTime={args.budget:g}" if args.budget else ""
    return (f"!H:!V:GANType={args.gantype.upper()}:InputLayout=1|25|25:LatentDim={args.latent}:"
            f"GeneratorLayout={args.generator}:DiscriminatorLayout={args.discriminator}:"
            f"{transform}:PixelFloor={args.pixel_floor}:"
            f"GeneratorAverage={args.average}:RandomSeed={args.seed}:ValidationSize=10%:"
            f"SelectBy=PHYSICS:Geometry=JET:CheckpointEvery=50:SumFeature={args.sum_feature}:"
            f"SumFromData={args.sum_from_data}:Packing={args.packing}:"
            f"TrainingStrategy=MaxEpochs={args.epochs}{budget},BatchSize={args.batch_size},"
            f"GeneratorLearningRate={args.learning_rate},"
            f"DiscriminatorLearningRate={args.d_learning_rate}"
            + (f":{args.options}" if args.options else ""))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", default=DATA, help="ROOT file with the TTree 'jets'")
    parser.add_argument("--test-input",
                        help="a second file whose jets are the test set (then --input holds "
                             "only training jets and --test and --train are not used)")
    parser.add_argument("--label", choices=("1", "0", "both"),
                        help="jets to learn: 1 = W (default), 0 = QCD, both (the default "
                             "when conditioned on the label)")
    parser.add_argument("--condition", nargs="*", default=["pt"], choices=("pt", "label"),
                        help="what the generator is given (AddCondition): pt, the jet pT "
                             "(default; pixels are taken relative to it), label, the jet "
                             "class (learns both classes), both (--condition pt label) or "
                             "none (--condition alone)")
    parser.add_argument("--gantype", default="gan",
                        choices=("gan", "lsgan", "wgan", "cgan", "acgan"),
                        help="GANType (default gan; conditional whenever --condition names "
                             "something); cgan and acgan need a condition")
    parser.add_argument("--test", type=int, default=1000,
                        help="test jets (default 1000; with both classes twice as many, "
                             "drawn at random)")
    parser.add_argument("--train", type=int, default=0,
                        help="training jets (default 0: all the others)")
    parser.add_argument("--architecture", default="dense", choices=tuple(ARCHITECTURES),
                        help="network pair: dense (default), lagan (locally connected "
                             "layers, minibatch discrimination) or benchmark (the "
                             "convolutional GAN of benchmark-gan.md)")
    parser.add_argument("--epochs", type=int,
                        help="epochs (default: 900 for dense, 130 for lagan, 60 for "
                             "benchmark; with --budget a cap, default none)")
    parser.add_argument("--budget", type=float,
                        help="train for this many seconds instead (TrainingStrategy MaxTime)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-4,
                        help="the generator's learning rate (default 2e-4)")
    # measured (benchmarks/fidelity.py, 600 s): at 2e-4 the discriminator overfits the
    # 2,250 training jets after ~1,000 epochs and the kept epoch is an early one; at 5e-5
    # the W jets' tau21, widths and pixel counts came 1.7-2x closer to the real ones
    parser.add_argument("--d-learning-rate", type=float, default=5e-5,
                        help="the discriminator's learning rate (default 5e-5)")
    parser.add_argument("--latent", type=int, default=32, help="latent dimension (default 32)")
    parser.add_argument("--transform", default="Log", choices=("None", "N", "Log"),
                        help="pixel transform (VarTransform, default Log)")
    parser.add_argument("--pixel-scale", type=float, default=1.0,
                        help="scale of the Log transform in GeV (PixelScale, default 1)")
    # the real images hold soft pixels down to ~0.001 GeV: a higher floor removes them from
    # the generated jets (0.1 GeV: non-zero-pixel ratio 3.7, 0.01 GeV: 1.8)
    parser.add_argument("--pixel-floor", type=float, default=0.01,
                        help="generated pixels below this pT [GeV] are zero (default 0.01)")
    parser.add_argument("--average", type=float, default=0.99,
                        help="GeneratorAverage: decay of the generator's weight average "
                             "(default 0.99; 0 = off)")
    parser.add_argument("--generator", help="generator layout (default: the architecture's)")
    parser.add_argument("--discriminator",
                        help="discriminator layout (default: the architecture's)")
    # measured on the W jets (benchmarks/fidelity.py, 200 s): with it the discriminator
    # wins for hundreds of epochs and mass and width go from 3.5 and 9.4 to 30 and 13
    parser.add_argument("--sum-feature", action=argparse.BooleanOptionalAction, default=False,
                        help="SumFeature: the discriminator also sees each image's summed "
                             "intensity over the jet pT (default off)")
    # measured (benchmarks/fidelity.py, W jets 200 s): summed-pT W1 / floor 14.3 -> 0.74,
    # and tau21, non-zero pixels and spectrum 1.2-1.4x closer as well
    parser.add_argument("--sum-from-data", action=argparse.BooleanOptionalAction,
                        default=True,
                        help="SumFromData: each generated jet is scaled to a summed pT (over "
                             "the jet pT) drawn from training jets of the nearest pT (default "
                             "on)")
    parser.add_argument("--packing", type=int,
                        help="Packing: jets the discriminator judges at once (PacGAN; "
                             "default 2, 4 for QCD jets alone (--label 0), 1 with "
                             "--gantype acgan)")
    parser.add_argument("--options", default="",
                        help="more GAN options, ':'-separated, added to the booked option "
                             "string (e.g. 'LabelSmoothing=0.1:InstanceNoise=0.1'); one the "
                             "macro already sets is refused (given twice)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out-dir", default="jet_gan",
                        help="folder for the Factory file, weights and plots (default jet_gan)")
    args = parser.parse_args(argv)
    if args.gantype in ("cgan", "acgan") and not args.condition:
        parser.error(f"--gantype {args.gantype} needs a condition (--condition pt and/or "
                     f"label)")
    if args.label is None:
        args.label = "both" if "label" in args.condition else "1"
    if args.packing is None:
        # an ACGAN's auxiliary head predicts each jet's class: it judges one jet at a time;
        # QCD jets alone gain from packs of 4, W jets lose (measured, see the docstring)
        args.packing = 1 if args.gantype == "acgan" else 4 if args.label == "0" else 2
    if "label" in args.condition and args.label != "both":
        parser.error("--condition label gives the generator the jet class: it learns both "
                     "classes (--label both)")
    generator, discriminator, epochs = ARCHITECTURES[args.architecture]
    args.generator = args.generator or generator
    args.discriminator = args.discriminator or discriminator
    if args.epochs is None:
        args.epochs = 100000 if args.budget else epochs
    source = os.path.abspath(args.input)
    args.test_input = args.test_input and os.path.abspath(args.test_input)
    os.makedirs(args.out_dir, exist_ok=True)
    os.chdir(args.out_dir)  # the Factory writes dataset/weights/ below the working folder

    factory = TMVA.Factory("JetGAN", "jet_gan.root", "!V:!Silent:Color:DrawProgressBar")
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray("image", 625)
    loader.AddSpectator("mass")
    loader.AddSpectator("tau21")
    for name in args.condition:
        loader.AddCondition(name)
    cut = "" if args.label == "both" else f"label == {args.label}"
    if args.test_input:
        loader.AddSignalTree(f"{source}:jets", 1.0, "Training")
        loader.AddSignalTree(f"{args.test_input}:jets", 1.0, "Test")
        loader.PrepareTrainingAndTestTree(cut, "SplitMode=Random:SplitSeed=100")
    else:
        loader.AddSignalTree(f"{source}:jets")
        # both classes: 2 x --test random test jets, about --test of each class
        test = args.test * (2 if args.label == "both" else 1)
        loader.PrepareTrainingAndTestTree(
            cut, f"SplitMode=Random:SplitSeed=100:nTest_Signal={test}:"
                 f"nTrain_Signal={args.train}")
    factory.BookMethod(loader, TMVA.Types.kGAN, "GAN", gan_options(args))
    factory.TrainAllMethods()
    factory.TestAllMethods()
    metrics = factory.EvaluateAllMethods()[("dataset", "GAN")]

    kind = {"1": "W", "0": "QCD", "both": "W and QCD"}[args.label]
    print(f"\ngenerated {kind} jets vs the test set, W1 / floor (1 = as close as another real "
          f"sample; the full table is above):")
    for name in HEADLINE:
        print(f"  {name:<16} {metrics[f'W1/floor {name}']:6.2f}")
    print(f"  classifier AUC   {metrics['AUC']:6.3f} (0.5: indistinguishable)")
    if args.gantype == "acgan" and "label" in args.condition:
        print(f"  auxiliary head: right class for {metrics['auxiliary accuracy label']:.1%} of "
              f"the real test jets")
    print(f"plots: {os.path.join(args.out_dir, 'dataset', 'plots', 'GAN')}/ "
          f"(mean_images, mass, tau21, pixel_spectrum, ... as PNG and PDF); histograms and "
          f"the metric table: {os.path.join(args.out_dir, 'jet_gan.root')}, folder "
          f"dataset/Method_GAN/GAN/Evaluation")

if __name__ == "__main__":
    sys.exit(main())
