"""Train an energy-conditioned GAN on the shipped calorimeter showers: a fast calorimeter
simulation the TMVA way.

    python macros/train_calo_cgan.py                  # CGAN, about 10 minutes on 2 cores
    python macros/train_calo_cgan.py --gantype acgan  # the discriminator regresses the energy
    python macros/train_calo_cgan.py --gantype wgan   # Wasserstein, spectral-norm critic

Books one GAN with the Factory on ``data/calo_showers.root`` (GFlash-parameterised electron
showers in PbWO4, 10-100 GeV: parametric, not Geant4; see data/make_calo_showers.py),
conditioned on the incident ``energy`` (``AddCondition``), its cells divided by it and
log-compressed (``VarTransform=Log:ScaleBy=energy``: with ``Scale`` alone the faint cells
were lost, pixel-spectrum W1 / floor 1916 instead of 18 in ``benchmarks/fidelity.py``),
trains, generates a shower for each test event's
energy (TestAllMethods) and evaluates them with the calorimeter observables
(EvaluateAllMethods, Geometry=CALO) overall and in 5 energy bins. Then prints, per energy
bin, the energy response (deposit / E) mean and resolution, the lateral width and the core
fraction of real and generated showers, and W1 / floor of each. Plots: ``<out-dir>/
dataset/plots/GAN/``.

The defaults and why (measured with ``benchmarks/fidelity.py``, 600 s on 2 cores, seed 1;
W1 / floor; numbers in the README):
- the deposit from the data (``SumFromData``): each generated shower is scaled to the
  deposit over incident energy of one of the 10 training showers nearest in energy, which
  the generator is told; the response and its 0.6% resolution are then the data's, and
  the GAN learns the shape (deposit 1.5 -> 0.67, cell spectrum 18 -> 5.3);
- the real showers are mirrored and turned at random (``Symmetry=SQUARE``): an electron at
  normal incidence makes showers with the 8 symmetries of the square grid, so each
  training shower stands for 8 and the discriminator no longer learns the 2,250 by heart
  (without: D(real) rose from 0.55 to 0.74 after ~1,000 epochs and the kept epoch's core
  fraction was 9.9, with: D stays at 0.50 and it is 4.6);
- the discriminator learns 4x faster than the generator (2e-4 against 5e-5): at equal
  rates the discriminator sat at D = 0.50 from epoch 80 on, gave no signal, and the
  showers came out 1.1 mm too narrow at low energies (lateral widths 16; with the slower
  generator 8.7 without Symmetry, 10.7 with it);
- the generated cells are whole GFlash spots (``PixelQuantum``, 4 MeV), each shower's
  deposit kept, in place of a 1 MeV floor: the real cells hold whole spots, so none lies
  between 0 and ~3 MeV, while the generator writes a continuum there. A floor that zeroes
  it also cuts the faint tails that carry the width; the quanta keep each cell's expected
  energy (non-zero cells 9.0 -> 2.4, cell spectrum 5.9 -> 3.6, widths 10.7 -> 7.4).
"""

import argparse
import os
import sys

import numpy as np
import uproot

from rootgan import TMVA
from rootgan.evaluation.observables import Geometry, measure

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data", "calo_showers.root")
# dense networks: ~9x faster per image than small convolutional ones here (see
# macros/train_jet_gan.py), so the 10-minute budget buys more steps
GENERATOR = "DENSE|256|LEAKYRELU,DENSE|512|LEAKYRELU,DENSE|625|RELU"
DISCRIMINATOR = "RESHAPE|FLAT,DENSE|512|LEAKYRELU,DENSE|256|LEAKYRELU,DENSE|1|LINEAR"
SPECTRAL = ("RESHAPE|FLAT,DENSE|512|LEAKYRELU|SPECTRALNORM,DENSE|256|LEAKYRELU|SPECTRALNORM,"
            "DENSE|1|LINEAR|SPECTRALNORM")
# the Wasserstein settings measured on the blob family (benchmarks/quality_variants.py):
# a spectral-norm critic and Adam with beta1 = 0, beta2 = 0.9
GANTYPES = {"cgan": ("CGAN", DISCRIMINATOR, ""),
            "acgan": ("ACGAN", DISCRIMINATOR, ""),
            "wgan": ("WGAN", SPECTRAL, ",Beta1=0,Beta2=0.9")}
COLUMNS = ("energy response", "width x", "core fraction")


def gan_options(args):
    gantype, discriminator, phase = GANTYPES[args.gantype]
    discriminator = args.discriminator or discriminator
    transform = "VarTransform=Scale:ScaleBy=energy"
    if args.transform == "Log":
        # cell energies relative to the incident energy; PixelScale in units of it
        transform = f"VarTransform=Log:ScaleBy=energy:PixelScale={args.pixel_scale:g}"
    budget = f",MaxTime={args.budget:g}" if args.budget else ""
    return (f"!H:!V:GANType={gantype}:InputLayout=1|25|25:LatentDim={args.latent}:"
            f"GeneratorLayout={args.generator}:DiscriminatorLayout={discriminator}:"
            f"{transform}:PixelQuantum={args.pixel_quantum:g}:PixelFloor={args.pixel_floor:g}:"
            f"RandomSeed={args.seed}:ValidationSize=10%:SelectBy=PHYSICS:Geometry=CALO:"
            f"CheckpointEvery=50:SumFeature={args.sum_feature}:SumFromData={args.sum_from_data}:"
            f"Symmetry={args.symmetry}:"
            f"TrainingStrategy=MaxEpochs={args.epochs}{budget},BatchSize={args.batch_size},"
            f"GeneratorLearningRate={args.learning_rate},"
            f"DiscriminatorLearningRate={args.d_learning_rate}{phase}"
            + (f":{args.options}" if args.options else ""))


def per_bin_table(path, bins=5):
    """Per energy bin: mean and resolution of the response, mean lateral width and core
    fraction of real (test) and generated showers, and W1 / floor from the evaluation."""
    with uproot.open(path) as handle:
        real = handle["dataset/TestTree"].arrays(["image", "energy"], library="np")
        generated = handle["dataset/Method_GAN/GAN/GeneratedTree"].arrays(
            ["image", "energy"], library="np")
        metrics = handle["dataset/Method_GAN/GAN/Evaluation/metrics"].arrays(library="np")
    geometry = Geometry("calo", (1, 25, 25))
    samples = [measure(sample["image"], geometry, condition=sample["energy"])
               for sample in (real, generated)]
    lines = [f"{'energy bin':>14} {'':>5} {'response':>9} {'resolution':>11} "
             f"{'width x':>8} {'core':>7}"]
    lows = sorted(set(metrics["condition_low"][np.isfinite(metrics["condition_low"])]))
    for low in lows:
        high = metrics["condition_high"][metrics["condition_low"] == low][0]
        for label, sample, events in (("real", samples[0], real), ("gen", samples[1],
                                                                    generated)):
            mask = (events["energy"] >= low) & (events["energy"] < high)
            response = sample.values("energy response")[0][mask]
            width = sample.values("width x")[0][mask]
            core = sample.values("core fraction")[0][mask]
            lines.append(f"{f'[{low:.0f}, {high:.0f})' if label == 'real' else '':>14} "
                         f"{label:>5} {response.mean():9.4f} "
                         f"{response.std() / response.mean():11.4f} {width.mean():8.2f} "
                         f"{core.mean():7.4f}")
        ratios = []
        for name in COLUMNS:
            row = (metrics["condition_low"] == low) & (metrics["observable"] == name)
            ratios.append(f"{float(metrics['ratio'][row][0]):.2f}" if row.any() else "-")
        lines.append(f"{'':>14} {'W1/fl':>5} {ratios[0]:>9} {'':>11} {ratios[1]:>8} "
                     f"{ratios[2]:>7}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", default=DATA, help="ROOT file with the TTree 'showers'")
    parser.add_argument("--test-input",
                        help="a second file whose showers are the test set (then --input "
                             "holds only training showers and --test and --train are not used)")
    parser.add_argument("--gantype", default="cgan", choices=tuple(GANTYPES),
                        help="cgan (default), acgan or wgan")
    parser.add_argument("--test", type=int, default=1000, help="test showers (default 1000)")
    parser.add_argument("--train", type=int, default=0,
                        help="training showers (default 0: all the others)")
    parser.add_argument("--epochs", type=int,
                        help="epochs (default 800: about 10 minutes here; with --budget a "
                             "cap, default none)")
    parser.add_argument("--budget", type=float,
                        help="train for this many seconds instead (TrainingStrategy MaxTime)")
    # measured (benchmarks/fidelity.py, 200 s): Log takes the pixel-spectrum W1 / floor
    # from 1916 to 18 and the non-zero cell count from 111 to 12 (Scale loses faint cells)
    parser.add_argument("--transform", default="Log", choices=("Scale", "Log"),
                        help="cell energies divided by the incident energy and log-compressed "
                             "(Log, default; see --pixel-scale) or only divided (Scale)")
    parser.add_argument("--pixel-scale", type=float,
                        help="Log transform's scale as a fraction of the incident energy "
                             "(default 1e-4)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=5e-5,
                        help="the generator's Adam learning rate (default 5e-5)")
    parser.add_argument("--d-learning-rate", type=float, default=2e-4,
                        help="the discriminator's learning rate (default 2e-4)")
    parser.add_argument("--generator", default=GENERATOR,
                        help="generator layout (default: dense, see GENERATOR)")
    parser.add_argument("--discriminator",
                        help="discriminator layout (default: the --gantype's)")
    parser.add_argument("--latent", type=int, default=32, help="latent dimension (default 32)")
    # the showers' cells hold whole GFlash spots of E / N_spot = 3.6-4.4 MeV (10-100 GeV;
    # data/make_calo_showers.py); 4 MeV quanta took, on the same trained generator (seed
    # 1), the non-zero cells' W1 / floor from 9.3 to 2.4, the cell spectrum's from 6.0 to
    # 3.5 and the widths' from 10.9 to 7.7 against the 1 MeV floor they replace
    parser.add_argument("--pixel-quantum", type=float, default=0.004,
                        help="generated cells are whole numbers of quanta of about this "
                             "energy [GeV], each shower's deposit kept (default 4 MeV, the "
                             "GFlash spot; 0 = continuous)")
    parser.add_argument("--pixel-floor", type=float, default=0.0,
                        help="generated cells below this energy [GeV] are zero (default 0: "
                             "the quanta leave no cell below 3 MeV; 1 MeV without them)")
    # SumFeature brought the response spread from 60% to 0.7-0.8% (real 0.6%); SumFromData
    # (below) does that by construction; with both, the shapes were no better (200 s:
    # widths 14-15 with it, 16 without; core fraction 7.9 with it, 4.5 without) and
    # training was 10% slower
    parser.add_argument("--sum-feature", action=argparse.BooleanOptionalAction, default=False,
                        help="SumFeature: the discriminator also sees each shower's deposit "
                             "over the incident energy (default off)")
    # measured (benchmarks/fidelity.py, 200 s, against SumFeature alone): deposit W1 / floor
    # 1.5 -> 0.67, cell spectrum 18 -> 5.3, widths 20 -> 16, core fraction 22 -> 4.5
    parser.add_argument("--sum-from-data", action=argparse.BooleanOptionalAction,
                        default=True,
                        help="SumFromData: each generated shower is scaled to a deposit (over "
                             "the incident energy) drawn from training showers of the nearest "
                             "energy (default on)")
    parser.add_argument("--symmetry", default="SQUARE", choices=("NONE", "REFLECT", "SQUARE"),
                        help="Symmetry: each real training shower mirrored and turned at "
                             "random (default SQUARE, the square grid's 8 symmetries)")
    parser.add_argument("--options", default="",
                        help="more GAN options, ':'-separated, added to the booked option "
                             "string (e.g. 'LabelSmoothing=0.1:InstanceNoise=0.1'); one the "
                             "macro already sets is refused (given twice)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out-dir", default="calo_cgan",
                        help="folder for the Factory file, weights and plots (default calo_cgan)")
    args = parser.parse_args(argv)
    if args.pixel_scale is not None and args.transform != "Log":
        parser.error("--pixel-scale is the scale of the Log transform; --transform Scale has "
                     "none")
    args.pixel_scale = 1e-4 if args.pixel_scale is None else args.pixel_scale
    if args.epochs is None:
        args.epochs = 100000 if args.budget else 800
    source = os.path.abspath(args.input)
    args.test_input = args.test_input and os.path.abspath(args.test_input)
    os.makedirs(args.out_dir, exist_ok=True)
    os.chdir(args.out_dir)  # the Factory writes dataset/weights/ below the working folder

    factory = TMVA.Factory("CaloGAN", "calo_gan.root", "!V:!Silent:Color:DrawProgressBar")
    loader = TMVA.DataLoader("dataset")
    loader.AddVariablesArray("image", 625)
    loader.AddCondition("energy")
    if args.test_input:
        loader.AddSignalTree(f"{source}:showers", 1.0, "Training")
        loader.AddSignalTree(f"{args.test_input}:showers", 1.0, "Test")
        loader.PrepareTrainingAndTestTree("", "SplitMode=Random:SplitSeed=100")
    else:
        loader.AddSignalTree(f"{source}:showers")
        loader.PrepareTrainingAndTestTree(
            "", f"SplitMode=Random:SplitSeed=100:nTest_Signal={args.test}:"
                f"nTrain_Signal={args.train}")
    factory.BookMethod(loader, TMVA.Types.kGAN, "GAN", gan_options(args))
    factory.TrainAllMethods()
    factory.TestAllMethods()
    metrics = factory.EvaluateAllMethods()[("dataset", "GAN")]

    print(f"\ngenerated showers ({args.gantype}) vs the test set, per energy bin (response = "
          f"deposit / incident energy, resolution = its std / mean, width in mm, core = "
          f"energy fraction in the 3x3 core; W1/fl = W1 / floor):")
    print(per_bin_table("calo_gan.root"))
    print(f"all energies: classifier AUC {metrics['AUC']:.3f} (0.5: indistinguishable)")
    print(f"plots: {os.path.join(args.out_dir, 'dataset', 'plots', 'GAN')}/ (PNG and PDF); "
          f"histograms and the metric table: {os.path.join(args.out_dir, 'calo_gan.root')}, "
          f"folder dataset/Method_GAN/GAN/Evaluation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
