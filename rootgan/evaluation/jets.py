"""Jet-image observables computed from the pixels alone, so that generated images (which
have no constituents) and real ones are measured the same way.

A pixel is a massless particle of transverse momentum = its value, at the (eta, phi) of
the pixel centre (the image frame of the LAGAN preprocessing: leading subjet at the
origin). N-subjettiness (Thaler & Van Tilburg, arXiv:1011.2268) with beta = 1, R0 = 1 and
exclusive-kT axes: the particles are clustered with the kT measure
min(pT_i^2, pT_j^2) dR_ij^2 (E-scheme, no beam distance) until N pseudojets remain;
tau_N = sum_i pT_i min_k dR(i, axis_k) / sum_i pT_i. The nearest pair is found with the
geometric-nearest-neighbour lemma of FastJet (Cacciari & Salam, hep-ph/0512210), so a
jet of n particles costs O(n^2), not O(n^3).
"""

import numpy as np
from numba import njit, prange

JET_EXTENT = 1.25  # the image spans [-1.25, 1.25] in eta and phi


def pixel_centres(size, extent=JET_EXTENT):
    """Centres of ``size`` bins spanning [-extent, extent]."""
    edges = np.linspace(-extent, extent, size + 1)
    return (edges[1:] + edges[:-1]) / 2


def _grid(shape, extent):
    rows, cols = shape
    phi, eta = np.meshgrid(pixel_centres(rows, extent), pixel_centres(cols, extent),
                           indexing="ij")
    return eta.ravel(), phi.ravel()


def pixel_directions(shape=(25, 25), extent=JET_EXTENT):
    """(4, rows * columns): (E, px, py, pz) of a massless particle of unit pT at each
    pixel's (eta, phi) (rows = phi bins, columns = eta bins)."""
    eta, phi = _grid(shape, extent)
    return np.stack([np.cosh(eta), np.cos(phi), np.sin(phi), np.sinh(eta)])


def image_mass_pt(images, shape=(25, 25), extent=JET_EXTENT):
    """Invariant mass and transverse momentum of each image (rows = phi bins, columns =
    eta bins), pixels as massless particles. Returns two float64 arrays."""
    pixels = np.asarray(images, np.float64).reshape(len(images), -1)
    energy, px, py, pz = (pixels @ pixel_directions(shape, extent).T).T
    mass2 = energy ** 2 - px ** 2 - py ** 2 - pz ** 2
    return np.sqrt(np.clip(mass2, 0, None)), np.hypot(px, py)


def image_tau21(images, shape=(25, 25), extent=JET_EXTENT):
    """tau2 / tau1 of each image (0 for an image with fewer than two lit pixels)."""
    pixels = np.ascontiguousarray(np.asarray(images, np.float64).reshape(len(images), -1))
    eta, phi = _grid(shape, extent)
    return _tau21_images(pixels, eta, phi)


def tau21(pt, eta, phi):
    """tau2 / tau1 of one set of massless particles (arrays of pT, eta, phi)."""
    return _tau21(np.asarray(pt, np.float64), np.asarray(eta, np.float64),
                  np.asarray(phi, np.float64))


@njit(parallel=True, cache=True)
def _tau21_images(pixels, eta, phi):
    out = np.zeros(pixels.shape[0])
    for event in prange(pixels.shape[0]):
        lit = pixels[event] > 0
        out[event] = _tau21(pixels[event][lit], eta[lit], phi[lit])
    return out


@njit(cache=True)
def _tau21(pt, eta, phi):
    n = pt.shape[0]
    if n < 2:
        return 0.0
    # four-vectors of massless particles
    px = pt * np.cos(phi)
    py = pt * np.sin(phi)
    pz = pt * np.sinh(eta)
    e = pt * np.cosh(eta)
    ax1 = _exclusive_kt(px, py, pz, e, 1)
    ax2 = _exclusive_kt(px, py, pz, e, 2)
    tau1 = _tau(pt, eta, phi, ax1)
    if tau1 <= 0:
        return 0.0
    return _tau(pt, eta, phi, ax2) / tau1


@njit(cache=True)
def _delta_r2(y1, p1, y2, p2):
    dphi = abs(p1 - p2)
    if dphi > np.pi:
        dphi = 2 * np.pi - dphi
    return (y1 - y2) ** 2 + dphi ** 2


@njit(cache=True)
def _rap_phi(px, py, pz, e):
    pt2 = px * px + py * py
    if pt2 == 0.0:
        return 0.0, 0.0
    if e - pz <= 0 or e + pz <= 0:
        y = 0.5 * np.log((e + abs(pz)) ** 2 / pt2) * (1.0 if pz >= 0 else -1.0)
    else:
        y = 0.5 * np.log((e + pz) / (e - pz))
    return y, np.arctan2(py, px)


@njit(cache=True)
def _exclusive_kt(px0, py0, pz0, e0, n_jets):
    """(rapidity, phi) of the ``n_jets`` pseudojets left by kT clustering (E-scheme)."""
    n = px0.shape[0]
    px, py, pz, e = px0.copy(), py0.copy(), pz0.copy(), e0.copy()
    kt2 = px * px + py * py
    y = np.empty(n)
    ph = np.empty(n)
    for i in range(n):
        y[i], ph[i] = _rap_phi(px[i], py[i], pz[i], e[i])
    alive = np.ones(n, np.bool_)
    nn = np.full(n, -1)
    nn_dist = np.full(n, np.inf)
    for i in range(n):
        for j in range(n):
            if j != i:
                d = _delta_r2(y[i], ph[i], y[j], ph[j])
                if d < nn_dist[i]:
                    nn_dist[i] = d
                    nn[i] = j
    remaining = n
    while remaining > n_jets:
        best = np.inf
        a = -1
        for i in range(n):
            if alive[i] and nn[i] >= 0:
                d = min(kt2[i], kt2[nn[i]]) * nn_dist[i]
                if d < best:
                    best = d
                    a = i
        b = nn[a]
        px[a] += px[b]
        py[a] += py[b]
        pz[a] += pz[b]
        e[a] += e[b]
        kt2[a] = px[a] * px[a] + py[a] * py[a]
        y[a], ph[a] = _rap_phi(px[a], py[a], pz[a], e[a])
        alive[b] = False
        remaining -= 1
        # the merged pseudojet and those whose neighbour was a or b need a new neighbour
        for i in range(n):
            if alive[i] and (i == a or nn[i] == a or nn[i] == b):
                nn_dist[i] = np.inf
                nn[i] = -1
                for j in range(n):
                    if alive[j] and j != i:
                        d = _delta_r2(y[i], ph[i], y[j], ph[j])
                        if d < nn_dist[i]:
                            nn_dist[i] = d
                            nn[i] = j
            elif alive[i] and i != a:
                d = _delta_r2(y[i], ph[i], y[a], ph[a])
                if d < nn_dist[i]:
                    nn_dist[i] = d
                    nn[i] = a
    axes = np.empty((n_jets, 2))
    k = 0
    for i in range(n):
        if alive[i]:
            axes[k, 0] = y[i]
            axes[k, 1] = ph[i]
            k += 1
    return axes


@njit(cache=True)
def _tau(pt, eta, phi, axes):
    total = 0.0
    weight = 0.0
    for i in range(pt.shape[0]):
        best = np.inf
        for k in range(axes.shape[0]):
            d = _delta_r2(eta[i], phi[i], axes[k, 0], axes[k, 1])
            if d < best:
                best = d
        total += pt[i] * np.sqrt(best)
        weight += pt[i]
    return total / weight if weight > 0 else 0.0
