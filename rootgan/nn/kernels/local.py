"""Locally connected layer: a convolution whose filters are not shared, one weight set per
output position (LAGAN's location-aware layers). Weights ``w[p, f, k]`` for output position
``p``, filter ``f`` and patch entry ``k`` (channel-major, then filter row and column, as
torch's ``unfold``); ``patch[p, k]`` is the input index each patch entry reads, -1 in the
zero padding. Forward and the weight gradient run one output position per thread (each
owns its weights); the input gradient one sample per thread (each owns its row)."""

import numpy as np
from numba import njit, prange

from .activations import activation_grad, bias_activate


def patch_indices(input_shape, kernel, stride, padding, output_hw):
    """``patch[p, k]``: the flat input index read by entry ``k`` of output position ``p``'s
    patch, or -1 where the patch covers padding."""
    c_in, h, w = input_shape
    fh, fw = kernel
    h_out, w_out = output_hw
    patch = np.full((h_out * w_out, c_in * fh * fw), -1, np.int64)
    for oh in range(h_out):
        for ow in range(w_out):
            p = oh * w_out + ow
            for c in range(c_in):
                for i in range(fh):
                    for j in range(fw):
                        ih = oh * stride[0] - padding[0] + i
                        iw = ow * stride[1] - padding[1] + j
                        if 0 <= ih < h and 0 <= iw < w:
                            patch[p, (c * fh + i) * fw + j] = (c * h + ih) * w + iw
    return patch


@njit(parallel=True, cache=True)
def local_forward(x, w, b, patch, zero_bias, y, act, slope):
    n = x.shape[0]
    positions, filters, k_size = w.shape
    for p in prange(positions):
        gathered = np.zeros(k_size, x.dtype)
        for s in range(n):
            for k in range(k_size):
                j = patch[p, k]
                gathered[k] = x[s, j] if j >= 0 else 0.0
            for f in range(filters):
                acc = b[f, p]
                for k in range(k_size):
                    acc += w[p, f, k] * gathered[k]
                y[s, f * positions + p] = acc
    for s in prange(n):
        bias_activate(y[s], zero_bias, filters, positions, act, slope)


@njit(parallel=True, cache=True)
def local_backward(x, w, y, dy, dz, dx, dw, db, patch, act, slope, need_dx, need_dw):
    """``dw`` and ``db`` are accumulated into (the network's gradient views)."""
    n = x.shape[0]
    positions, filters, k_size = w.shape
    for s in prange(n):
        activation_grad(dy[s], y[s], dz[s], act, slope)
    if need_dw:
        for p in prange(positions):
            gathered = np.zeros(k_size, x.dtype)
            for s in range(n):
                for k in range(k_size):
                    j = patch[p, k]
                    gathered[k] = x[s, j] if j >= 0 else 0.0
                for f in range(filters):
                    g = dz[s, f * positions + p]
                    db[f, p] += g
                    for k in range(k_size):
                        dw[p, f, k] += g * gathered[k]
    if need_dx:
        for s in prange(n):
            dx[s, :] = 0.0
            for p in range(positions):
                for k in range(k_size):
                    j = patch[p, k]
                    if j < 0:
                        continue
                    acc = 0.0
                    for f in range(filters):
                        acc += dz[s, f * positions + p] * w[p, f, k]
                    dx[s, j] += acc
