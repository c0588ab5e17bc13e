"""Deterministic reduction of per-thread partial gradients."""

from numba import njit, prange


@njit(parallel=True, cache=True)
def add_partials(parts, out):
    """``out += parts.sum(axis=0)``, summed in chunk order so results do not depend on
    which thread finished first."""
    nparts = parts.shape[0]
    for i in prange(out.shape[0]):
        acc = parts[0, i]
        for t in range(1, nparts):
            acc += parts[t, i]
        out[i] += acc
