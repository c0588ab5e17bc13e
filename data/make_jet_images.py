"""Jet images of boosted W bosons and QCD jets from Pythia8, the LAGAN recipe.

de Oliveira, Paganini, Nachman, "Learning particle physics by example: location-aware
generative adversarial networks for physics synthesis", arXiv:1701.05927, section 2:

- pp collisions at 13 TeV, Pythia 8 with its default (Monash 2013) tune, multi-parton
  interactions and hadronisation on.
- Signal (label 1): W' (700 GeV) -> W Z (``NewGaugeBoson:ffbar2Wprime``, ``Wprime:coup2WZ =
  1``), W -> q q', Z -> neutrinos, so the only visible boosted object is the W.
  Background (label 0): ``HardQCD:all`` with pT-hat in [PT_HAT_MIN, PT_HAT_MAX] GeV.
- Jets: anti-kT R = 1.0 on the visible final-state particles (all but neutrinos), leading
  jet trimmed (kT subjets of R = 0.2, subjets below 5% of the jet pT dropped); kept when
  the trimmed jet has 250 < pT < 300 GeV and |eta| < 2.
- Image: the trimmed jet's constituents, translated so the leading subjet is at (0, 0),
  rotated so the second subjet points straight down (negative phi; with a single subjet,
  the pT-weighted principal axis), flipped so the half with more pT is at positive eta;
  then binned in 25 x 25 pixels over [-1.25, 1.25] in (eta, phi), pixel = summed pT in GeV,
  rows = phi bins (row 0 at phi = -1.25), columns = eta bins.
- TTree ``jets``: ``image[625]/F``, ``pt``, ``mass``, ``eta``, ``phi`` of the trimmed jet,
  ``tau21`` (N-subjettiness tau2/tau1 of its constituents, beta = 1, exclusive-kT axes:
  rootgan's own implementation, checked against FastJet's exclusive kT), ``label``, and
  ``image_mass`` and ``image_tau21`` computed from the pixels with rootgan.evaluation.jets,
  the same code that measures generated images.

    pip install -e ".[datagen]"
    python data/make_jet_images.py --signal 5000 --background 5000 --seed 1 \\
        --out data/jet_images.root

About 30 accepted jets/s per core; ``--workers`` (default: every core) runs tasks of
TASK_JETS jets in parallel, each seeded from ``--seed`` and its index, so the file does not
depend on the number of workers.
"""

import argparse
import math
import multiprocessing
import os
import sys
import time

import numpy as np

SIZE = 25
EXTENT = 1.25
JET_R, SUBJET_R, TRIM_FRACTION = 1.0, 0.2, 0.05
PT_WINDOW, ETA_MAX = (250.0, 300.0), 2.0
PT_HAT_MIN, PT_HAT_MAX = 220.0, 340.0  # brackets the trimmed-jet window for QCD
TASK_JETS = 250
NEUTRINOS = (12, 14, 16)

COMMON = ["Beams:eCM = 13000.", "Next:numberCount = 0", "Next:numberShowEvent = 0",
          "Next:numberShowInfo = 0", "Next:numberShowProcess = 0", "Init:showChangedSettings = off",
          "Init:showProcesses = off", "Init:showChangedParticleData = off", "Random:setSeed = on"]
PROCESSES = {
    1: ["NewGaugeBoson:ffbar2Wprime = on", "34:m0 = 700.", "Wprime:coup2WZ = 1.",
        "34:onMode = off", "34:onIfMatch = 23 24",
        "24:onMode = off", "24:onIfAny = 1 2 3 4 5",
        "23:onMode = off", "23:onIfAny = 12 14 16"],
    0: ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {PT_HAT_MIN}",
        f"PhaseSpace:pTHatMax = {PT_HAT_MAX}"],
}
BRANCHES = ("pt", "mass", "eta", "phi", "tau21", "image_mass", "image_tau21")


def _wrap(angle):
    return (angle + np.pi) % (2 * np.pi) - np.pi


def kinematics(particles):
    """(pT, eta, phi) arrays of FastJet pseudojets."""
    return (np.array([p.pt() for p in particles]), np.array([p.eta() for p in particles]),
            np.array([p.phi_std() for p in particles]))


def jet_image(pt, eta, phi, subjets):
    """The LAGAN-preprocessed 25x25 image of a trimmed jet's constituents (their pT, eta,
    phi arrays) given its subjets, leading first."""
    lead = subjets[0]
    x = eta - lead.eta()
    y = _wrap(phi - lead.phi_std())
    if len(subjets) > 1:
        second = subjets[1]
        angle = math.atan2(_wrap(second.phi_std() - lead.phi_std()), second.eta() - lead.eta())
    else:  # no second subjet: the pT-weighted principal axis
        covariance = np.cov(np.vstack([x, y]), aweights=pt) if len(pt) > 1 else np.eye(2)
        values, vectors = np.linalg.eigh(covariance)
        angle = math.atan2(vectors[1, -1], vectors[0, -1])
    turn = -np.pi / 2 - angle  # the second subjet (or axis) points to negative phi
    x, y = x * math.cos(turn) - y * math.sin(turn), x * math.sin(turn) + y * math.cos(turn)
    if pt[x < 0].sum() > pt[x > 0].sum():
        x = -x
    image, _, _ = np.histogram2d(y, x, bins=SIZE, range=[[-EXTENT, EXTENT]] * 2, weights=pt)
    return image.astype(np.float32).ravel()


def generate_task(label, seed, count):
    """``count`` accepted jets of one class; returns ({column: array}, events tried)."""
    import fastjet
    import pythia8mc

    from rootgan.evaluation.jets import tau21

    pythia = pythia8mc.Pythia("", False)
    for setting in COMMON + PROCESSES[label] + [f"Random:seed = {seed}"]:
        pythia.readString(setting)
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise the label-{label} process")
    jet_definition = fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R)
    subjet_definition = fastjet.JetDefinition(fastjet.kt_algorithm, SUBJET_R)
    images, rows, tried = [], [], 0
    while len(images) < count:
        if not pythia.next():
            continue
        tried += 1
        particles = [fastjet.PseudoJet(p.px(), p.py(), p.pz(), p.e()) for p in pythia.event
                     if p.isFinal() and p.idAbs() not in NEUTRINOS]
        # a jet's constituents are only reachable while its ClusterSequence lives
        clustering = fastjet.ClusterSequence(particles, jet_definition)
        jets = fastjet.sorted_by_pt(clustering.inclusive_jets(20.0))
        if not jets:
            continue
        subclustering = fastjet.ClusterSequence(list(jets[0].constituents()),
                                                subjet_definition)
        subjets = fastjet.sorted_by_pt(subclustering.inclusive_jets(0.0))
        kept = [s for s in subjets if s.pt() > TRIM_FRACTION * jets[0].pt()]
        if not kept:
            continue
        trimmed = kept[0]
        for subjet in kept[1:]:
            trimmed = trimmed + subjet
        if not (PT_WINDOW[0] < trimmed.pt() < PT_WINDOW[1] and abs(trimmed.eta()) < ETA_MAX):
            continue
        pt, eta, phi = kinematics([c for s in kept for c in s.constituents()])
        images.append(jet_image(pt, eta, phi, kept))
        rows.append((trimmed.pt(), trimmed.m(), trimmed.eta(), trimmed.phi_std(),
                     tau21(pt, eta, phi)))
    columns = dict(zip(BRANCHES[:5], np.array(rows, np.float64).T.astype(np.float32)))
    columns["image"] = np.array(images, np.float32)
    columns["label"] = np.full(count, label, np.int32)
    return columns, tried


def _task(arguments):
    return generate_task(*arguments)


def tasks_for(label, n, seed):
    """(label, seed, count) per task: seeds depend on the seed, label and task index only."""
    counts = [TASK_JETS] * (n // TASK_JETS) + ([n % TASK_JETS] if n % TASK_JETS else [])
    return [(label, (seed * 1_000_003 + label * 100_003 + index) % 900_000_000, count)
            for index, count in enumerate(counts)]


def make(signal, background, seed, out, workers, progress=print):
    import uproot

    from rootgan.evaluation.jets import image_mass_pt, image_tau21
    from rootgan.io.output import staged, write_tree

    tasks = tasks_for(1, signal, seed) + tasks_for(0, background, seed)
    start = time.perf_counter()
    parts, tried = [], 0
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for columns, count in pool.imap(_task, tasks):
            parts.append(columns)
            tried += count
            done = sum(len(p["label"]) for p in parts)
            elapsed = time.perf_counter() - start
            progress(f"  {done:,} / {signal + background:,} jets, {elapsed:.0f} s, "
                     f"{done / elapsed / workers:.1f} jets/s per worker")
    columns = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    mass, _ = image_mass_pt(columns["image"], (SIZE, SIZE), EXTENT)
    columns["image_mass"] = mass.astype(np.float32)
    columns["image_tau21"] = image_tau21(columns["image"], (SIZE, SIZE), EXTENT).astype(
        np.float32)
    with staged(out, fresh=True) as handle:
        handle.compression = uproot.ZLIB(9)
        write_tree(handle, "jets", [{k: columns[k] for k in
                                     ("image", *BRANCHES, "label")}],
                   title=f"LAGAN jet images: {signal} W' -> WZ (label 1), {background} QCD "
                         f"(label 0), Pythia 8.317, seed {seed}")
    return columns, tried, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signal", type=int, default=5000, help="W jets (default 5000)")
    parser.add_argument("--background", type=int, default=5000,
                        help="QCD jets (default 5000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", default="data/jet_images.root", help="output ROOT file")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="parallel Pythia processes (default: every core)")
    args = parser.parse_args(argv)
    if args.signal < 0 or args.background < 0 or args.signal + args.background == 0:
        parser.error("--signal and --background must be >= 0, and not both 0")
    try:
        import fastjet  # noqa: F401
        import pythia8mc  # noqa: F401
    except ImportError:
        sys.exit("make_jet_images.py needs Pythia8 and FastJet: pip install -e \".[datagen]\"")
    print(f"generating {args.signal:,} W and {args.background:,} QCD jets with "
          f"{args.workers} worker(s), seed {args.seed}")
    columns, tried, seconds = make(args.signal, args.background, args.seed, args.out,
                                   args.workers)
    for label, name in ((1, "W"), (0, "QCD")):
        chosen = columns["label"] == label
        if chosen.any():
            print(f"  {name:>3}: mass median {np.median(columns['mass'][chosen]):.1f} GeV, "
                  f"tau21 median {np.median(columns['tau21'][chosen]):.3f}, image mass median "
                  f"{np.median(columns['image_mass'][chosen]):.1f} GeV")
    print(f"wrote {len(columns['label']):,} jets ({tried:,} events generated) to {args.out} "
          f"in {seconds:.0f} s: {os.path.getsize(args.out) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
