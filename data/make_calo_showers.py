"""Electromagnetic showers in a PbWO4 calorimeter from the GFlash parameterisation.

PARAMETRIC, NOT GEANT4: Geant4 cannot run here (its physics data cannot be downloaded), so
the showers are sampled from the published GFlash parameterisation of electromagnetic
showers in homogeneous media, G. Grindhammer and S. Peters, "The parameterized simulation
of electromagnetic showers in homogeneous and sampling calorimeters", hep-ex/0001020
(below: [GP]), with the coefficients of Geant4's GFlash implementation
(``GVFlashHomoShowerTuning``). They reproduce the average and fluctuating longitudinal
and radial shape of Geant3 showers to a few per cent [GP, section 5], but no detector
effect beyond them (no photo-statistics, noise, cracks or sampling).

Medium: a homogeneous, fully active PbWO4 block (no sampling fraction: every spot's
energy is deposited energy): X0 = 0.8903 cm, Moliere radius R_M = 1.959 cm (PDG),
Z_eff = sum_i w_i Z_i = 68.36 and A_eff = 170.9 (mass fractions Pb 0.455, W 0.404, O
0.141), critical energy E_c = 2.66 MeV (X0 Z/A)^1.1 = 8.77 MeV with X0 = 7.39 g/cm^2
[GP eq. 3, Geant4's GFlash]. The block is 25 X0 deep and the electron enters at normal
incidence through the centre of the central cell.

Per shower of incident energy E (GeV), y = E / E_c:
- Longitudinal energy profile [GP eqs. 5, 9-11]: dE/dt = E f(t), f the gamma density
  (beta t)^(alpha-1) beta exp(-beta t) / Gamma(alpha), t in X0, with T = (alpha - 1) / beta
  the depth of the maximum. (ln T, ln alpha) of each shower are drawn from a correlated
  normal distribution: <ln T> = ln(ln y - 0.812), <ln alpha> = ln(0.81 + (0.458 + 2.26 / Z)
  ln y), sigma(ln T) = 1 / (-1.4 + 1.26 ln y), sigma(ln alpha) = 1 / (-0.58 + 0.86 ln y),
  correlation 0.705 - 0.023 ln y. (The average profile has T_hom = ln y - 0.858 [GP eq. 6].)
- Spots [GP eqs. 21-23]: N_spot = 93 ln(Z) E^0.876 spots, distributed in depth with the
  gamma density of T_s = T (0.698 + 0.00212 Z), alpha_s = alpha (0.639 + 0.00334 Z). In
  each depth step of STEP_X0 the step's energy (from f) is shared equally by the step's
  spots (from the spot profile, at least one when the step holds energy), each at a depth
  uniform in the step.
- Radial profile [GP eqs. 12-19], r in units of R_M, tau = t / T:
  f(r) = p 2 r R_C^2 / (r^2 + R_C^2)^2 + (1 - p) 2 r R_T^2 / (r^2 + R_T^2)^2,
  R_C = z1 + z2 tau, z1 = 0.0251 + 0.00319 ln E, z2 = 0.1162 - 0.000381 Z;
  R_T = k1 (exp(k3 (tau - k2)) + exp(k4 (tau - k2))), k1 = 0.659 - 0.00309 Z, k2 = 0.645,
  k3 = -2.59, k4 = 0.3585 + 0.0412 ln E;
  p = p1 exp((p2 - tau) / p3 - exp((p2 - tau) / p3)), p1 = 2.632 - 0.00094 Z,
  p2 = 0.401 + 0.00187 Z, p3 = 1.313 - 0.0686 ln E.
  Each spot takes the core (probability p) or the tail; its radius is sampled by inverting
  the component's distribution, r = R sqrt(u / (1 - u)), its azimuth uniformly.

Output, TTree ``showers`` (energies in GeV of deposited energy):
- ``image[625]/F``: 25 x 25 transverse cells of 5 mm (12.5 cm square, row = y, column = x),
  summed over the whole depth;
- ``layers[432]/F``: 3 longitudinal layers of 12 x 12 cells (10.4 mm, the same square),
  0-3, 3-19 and 19-25 X0 deep (a presampler-like layer, the shower maximum, the tail);
- ``energy``: the incident energy, uniform in [10, 100] GeV; ``layer0``, ``layer1``,
  ``layer2``: the energy in each layer; ``total``: the image's sum.

Physics checks (``--check``; measured on 2,000 showers of this script):
- longitudinal maximum of the mean 50 GeV profile near T_hom = ln y - 0.858 = 7.9 X0;
- about 90% of the energy within one Moliere radius of the shower axis;
- deposit proportional to the incident energy: the image holds about 98% of E at every
  energy (the rest leaks out of the 12.5 cm square and through the back).

    python data/make_calo_showers.py --showers 5000 --seed 1 --out data/calo_showers.root
    python data/make_calo_showers.py --check
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import uproot
from scipy.special import gammainc

X0_CM, MOLIERE_CM = 0.8903, 1.959
Z_EFF = 0.455 * 82 + 0.404 * 74 + 0.141 * 8
A_EFF = 0.455 * 207.2 + 0.404 * 183.84 + 0.141 * 16.00
X0_G_CM2 = 7.39
CRITICAL_GEV = 2.66e-3 * (X0_G_CM2 * Z_EFF / A_EFF) ** 1.1
DEPTH_X0 = 25.0
LAYER_EDGES_X0 = (0.0, 3.0, 19.0, 25.0)
STEP_X0 = 0.1
IMAGE_CELLS, IMAGE_CELL_MM = 25, 5.0
LAYER_CELLS = 12
LAYER_CELL_MM = IMAGE_CELLS * IMAGE_CELL_MM / LAYER_CELLS
ENERGY_RANGE = (10.0, 100.0)
BATCH = 50  # showers sampled together (memory ~ BATCH x 22,000 spots at 100 GeV)


def longitudinal_parameters(energy, rng):
    """Each shower's fluctuated (T, alpha) [GP eqs. 9-11]."""
    ln_y = np.log(energy / CRITICAL_GEV)
    mean = np.stack([np.log(ln_y - 0.812),
                     np.log(0.81 + (0.458 + 2.26 / Z_EFF) * ln_y)], axis=1)
    sigma = np.stack([1 / (-1.4 + 1.26 * ln_y), 1 / (-0.58 + 0.86 * ln_y)], axis=1)
    rho = 0.705 - 0.023 * ln_y
    first, second = rng.standard_normal((2, len(energy)))
    ln_t = mean[:, 0] + sigma[:, 0] * first
    ln_alpha = mean[:, 1] + sigma[:, 1] * (rho * first + np.sqrt(1 - rho ** 2) * second)
    return np.exp(ln_t), np.exp(ln_alpha)


def radial_parameters(energy, tau):
    """(R_C, R_T, p) in Moliere radii at relative depth tau [GP eqs. 14-19]."""
    ln_e = np.log(energy)
    core = 0.0251 + 0.00319 * ln_e + (0.1162 - 0.000381 * Z_EFF) * tau
    k4 = 0.3585 + 0.0412 * ln_e
    tail = (0.659 - 0.00309 * Z_EFF) * (np.exp(-2.59 * (tau - 0.645))
                                        + np.exp(k4 * (tau - 0.645)))
    u = (0.401 + 0.00187 * Z_EFF - tau) / (1.313 - 0.0686 * ln_e)
    p = np.clip((2.632 - 0.00094 * Z_EFF) * np.exp(u - np.exp(u)), 0.0, 1.0)
    return core, tail, p


def sample_spots(energy, rng):
    """The spots of showers of incident ``energy`` (GeV): shower index, depth (X0),
    x and y (mm) and energy (GeV) of each spot inside the block's depth."""
    n = len(energy)
    t_max, alpha = longitudinal_parameters(energy, rng)
    beta = (alpha - 1) / t_max
    spot_t, spot_alpha = t_max * (0.698 + 0.00212 * Z_EFF), alpha * (0.639 + 0.00334 * Z_EFF)
    spot_beta = (spot_alpha - 1) / spot_t
    edges = np.arange(0.0, DEPTH_X0 + STEP_X0 / 2, STEP_X0)
    # energy and spot count per depth step from the two gamma profiles' CDFs
    step_energy = energy[:, None] * np.diff(gammainc(alpha[:, None], beta[:, None] * edges),
                                            axis=1)
    n_spots = 93 * math.log(Z_EFF) * energy ** 0.876
    step_spots = np.rint(n_spots[:, None] * np.diff(
        gammainc(spot_alpha[:, None], spot_beta[:, None] * edges), axis=1)).astype(np.int64)
    step_spots = np.where(step_energy > 0, np.maximum(step_spots, 1), 0)
    shower, step = np.nonzero(step_spots)
    counts = step_spots[shower, step]
    spot_shower = np.repeat(shower, counts)
    spot_step = np.repeat(step, counts)
    spot_energy = np.repeat(step_energy[shower, step] / counts, counts)
    depth = edges[spot_step] + STEP_X0 * rng.random(len(spot_step))
    core, tail, p = radial_parameters(energy[spot_shower], depth / t_max[spot_shower])
    scale = np.where(rng.random(len(depth)) < p, core, tail)
    u = rng.random(len(depth))
    radius_mm = 10 * MOLIERE_CM * scale * np.sqrt(u / (1 - u))
    phi = rng.uniform(0, 2 * np.pi, len(depth))
    return (spot_shower, depth, radius_mm * np.cos(phi), radius_mm * np.sin(phi),
            spot_energy, n)


def _cells(x, y, cells, size_mm):
    """Flat cell index (row = y, column = x) and whether the spot is inside the square."""
    column = np.floor(x / size_mm + cells / 2).astype(np.int64)
    row = np.floor(y / size_mm + cells / 2).astype(np.int64)
    inside = (column >= 0) & (column < cells) & (row >= 0) & (row < cells)
    return row * cells + column, inside


def showers(energy, rng):
    """{image, layers, layer0-2, total} for showers of incident ``energy``."""
    shower, depth, x, y, spot_energy, n = sample_spots(energy, rng)
    cell, inside = _cells(x, y, IMAGE_CELLS, IMAGE_CELL_MM)
    size = IMAGE_CELLS ** 2
    image = np.bincount(shower[inside] * size + cell[inside], spot_energy[inside],
                        minlength=n * size).reshape(n, size)
    cell, inside = _cells(x, y, LAYER_CELLS, LAYER_CELL_MM)
    layer = np.searchsorted(LAYER_EDGES_X0, depth, side="right") - 1
    per_layer = LAYER_CELLS ** 2
    index = (shower * 3 + layer) * per_layer + cell
    layers = np.bincount(index[inside], spot_energy[inside],
                         minlength=n * 3 * per_layer).reshape(n, 3, per_layer)
    columns = {"image": image.astype(np.float32),
               "layers": layers.reshape(n, 3 * per_layer).astype(np.float32),
               "energy": energy.astype(np.float32), "total": image.sum(axis=1)}
    for i in range(3):
        columns[f"layer{i}"] = layers[:, i].sum(axis=1)
    return columns


def make(n, seed, out, progress=print):
    rng = np.random.default_rng(seed)
    energy = rng.uniform(*ENERGY_RANGE, n)
    start = time.perf_counter()
    partial = out + ".partial"
    with uproot.recreate(partial, compression=uproot.ZLIB(9)) as handle:
        handle.mktree("showers", {"image": ("f4", (IMAGE_CELLS ** 2,)),
                                  "layers": ("f4", (3 * LAYER_CELLS ** 2,)), "energy": "f4",
                                  "layer0": "f4", "layer1": "f4", "layer2": "f4",
                                  "total": "f4"},
                      title="GFlash-parameterised (not Geant4) electron showers in PbWO4")
        for first in range(0, n, BATCH):
            columns = showers(energy[first:first + BATCH], rng)
            handle["showers"].extend({k: v.astype(np.float32) for k, v in columns.items()})
            done = min(n, first + BATCH)
            if done % 1000 < BATCH:
                progress(f"{done:,} showers, {done / (time.perf_counter() - start):.0f}/s")
    os.replace(partial, out)
    return time.perf_counter() - start


def check(rng, n=2000):
    """The physics checks of the docstring, printed."""
    ln_y = math.log(50 / CRITICAL_GEV)
    shower, depth, x, y, spot_energy, _ = sample_spots(np.full(n, 50.0), rng)
    profile, edges = np.histogram(depth, bins=np.arange(0, DEPTH_X0 + 0.25, 0.25),
                                  weights=spot_energy)
    peak = edges[np.argmax(profile)] + 0.125
    print(f"E_c = {CRITICAL_GEV * 1e3:.2f} MeV, Z_eff = {Z_EFF:.2f}")
    print(f"50 GeV: mean longitudinal maximum at {peak:.2f} X0; T_hom = ln y - 0.858 = "
          f"{ln_y - 0.858:.2f} X0")
    radius = np.hypot(x, y)
    inside = spot_energy[radius < 10 * MOLIERE_CM].sum() / spot_energy.sum()
    print(f"50 GeV: {inside:.1%} of the deposited energy within one Moliere radius "
          f"({MOLIERE_CM} cm)")
    print("energy   image / E   spread   layer fractions")
    for energy in (10.0, 25.0, 50.0, 100.0):
        columns = showers(np.full(n // 4, energy), rng)
        ratio = columns["total"] / energy
        fractions = [columns[f"layer{i}"].mean() / energy for i in range(3)]
        print(f"{energy:6.0f}   {ratio.mean():9.4f}   {ratio.std():6.4f}   "
              + ", ".join(f"{f:.3f}" for f in fractions))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--showers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "calo_showers.root"))
    parser.add_argument("--check", action="store_true",
                        help="print the physics checks instead of writing a file")
    args = parser.parse_args(argv)
    if args.check:
        check(np.random.default_rng(args.seed))
        return 0
    seconds = make(args.showers, args.seed, args.out)
    print(f"wrote {args.showers:,} showers to {args.out} in {seconds:.0f} s "
          f"({args.showers / seconds:.0f} showers/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
