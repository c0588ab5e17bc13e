"""Fully connected layer: ``y = f(x @ w.T + b)`` with ``w (n_out, n_in)``, one GEMM per
batch chunk (see conv.py for the chunking and partial-gradient convention)."""

from numba import njit, prange

from .activations import activation_grad, bias_activate, channel_sums
from .blas import chunk_bounds, gemm


@njit(parallel=True, cache=True)
def dense_forward(x, w, b, y, nchunks, act, slope):
    n, n_in = x.shape
    n_out = b.shape[0]
    for t in prange(nchunks):
        s0, s1 = chunk_bounds(n, nchunks, t)
        if s1 > s0:
            gemm(False, True, s1 - s0, n_out, n_in, 1.0, x[s0], n_in, w, n_in, 0.0, y[s0], n_out)
            for s in range(s0, s1):
                bias_activate(y[s], b, n_out, 1, act, slope)


@njit(parallel=True, cache=True)
def dense_backward(x, w, y, dy, dz, dx, dw_parts, db_parts, act, slope, need_dx, need_dw):
    n, n_in = x.shape
    nchunks, n_out = db_parts.shape
    for t in prange(nchunks):
        s0, s1 = chunk_bounds(n, nchunks, t)
        if need_dw:
            dw_parts[t, :] = 0
            db_parts[t, :] = 0
        if s1 == s0:
            continue
        for s in range(s0, s1):
            activation_grad(dy[s], y[s], dz[s], act, slope)
            if need_dw:
                channel_sums(dz[s], n_out, 1, db_parts[t])
        rows = s1 - s0
        if need_dw:
            gemm(True, False, n_out, n_in, rows, 1.0, dz[s0], n_out, x[s0], n_in, 0.0,
                 dw_parts[t], n_in)
        if need_dx:
            gemm(False, False, rows, n_in, n_out, 1.0, dz[s0], n_out, w, n_in, 0.0, dx[s0], n_in)
