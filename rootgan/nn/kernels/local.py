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


# reassociated sums vectorise; contraction allows fused multiply-adds
FAST = {"reassoc", "contract"}


@njit(cache=True)
def _gather(x, patch, p, gathered):
    """``gathered[s, k]``: the patch of position ``p`` of every sample (0 in padding)."""
    k_size = patch.shape[1]
    for s in range(x.shape[0]):
        row = x[s]
        out = gathered[s]
        for k in range(k_size):
            j = patch[p, k]
            out[k] = row[j] if j >= 0 else 0.0


@njit(parallel=True, cache=True, fastmath=FAST)
def local_forward(x, w, b, patch, zero_bias, y, act, slope):
    n = x.shape[0]
    positions, filters, k_size = w.shape
    for p in prange(positions):
        gathered = np.empty((n, k_size), x.dtype)
        _gather(x, patch, p, gathered)
        for s in range(n):
            xs = gathered[s]
            for f in range(filters):
                wr = w[p, f]
                acc = 0.0
                for k in range(k_size):
                    acc += wr[k] * xs[k]
                y[s, f * positions + p] = acc + b[f, p]
    for s in prange(n):
        bias_activate(y[s], zero_bias, filters, positions, act, slope)


@njit(parallel=True, cache=True, fastmath=FAST)
def local_backward(x, w, y, dy, dz, dx, dw, db, patch, act, slope, need_dx, need_dw):
    """``dw`` and ``db`` are accumulated into (the network's gradient views)."""
    n = x.shape[0]
    positions, filters, k_size = w.shape
    for s in prange(n):
        activation_grad(dy[s], y[s], dz[s], act, slope)
    if need_dw:
        for p in prange(positions):
            gathered = np.empty((n, k_size), x.dtype)
            _gather(x, patch, p, gathered)
            for f in range(filters):
                gw = dw[p, f]
                bias_grad = 0.0
                for s in range(n):
                    g = dz[s, f * positions + p]
                    bias_grad += g
                    xs = gathered[s]
                    for k in range(k_size):
                        gw[k] += g * xs[k]
                db[f, p] += bias_grad
    if need_dx:
        for s in prange(n):
            out = dx[s]
            out[:] = 0.0
            patch_grad = np.empty(k_size, x.dtype)
            grads = dz[s]
            for p in range(positions):
                patch_grad[:] = 0.0
                for f in range(filters):
                    g = grads[f * positions + p]
                    wr = w[p, f]
                    for k in range(k_size):
                        patch_grad[k] += g * wr[k]
                for k in range(k_size):
                    j = patch[p, k]
                    if j >= 0:
                        out[j] += patch_grad[k]
