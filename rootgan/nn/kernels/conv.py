"""Convolution and transposed convolution: im2col + one GEMM per sample.

Arrays are float32 (float64 in gradient tests), one row per sample: ``x (n, c_in*h_in*w_in)``,
``y (n, c_out*h_out*w_out)``. The batch is split into ``nchunks`` contiguous chunks, one per
thread; each chunk owns a slice of the scratch buffers (``cols``, ``dcols``) and of the
partial weight gradients (``dw_parts``, ``db_parts``), which the caller reduces in chunk
order, so results are reproducible for a given thread count.

Conv2D weights are ``(c_out, c_in*kh*kw)``. TransposedConv2D weights are
``(c_in, c_out*kh*kw)`` (PyTorch's layout) and the layer is the exact adjoint of a Conv2D
from its output grid to its input grid: its forward is that convolution's input-gradient
pass (GEMM then col2im), computed without zero-stuffing the input.
"""

from numba import njit, prange

from .activations import activation_grad, bias_activate, channel_sums
from .blas import chunk_bounds, gemm
from .im2col import col2im, im2col


@njit(parallel=True, cache=True)
def conv2d_forward(x, w, b, y, cols, c_in, h_in, w_in, kh, kw, sh, sw, ph, pw, h_out, w_out,
                   act, slope):
    n = x.shape[0]
    nchunks = cols.shape[0]
    c_out = b.shape[0]
    k = c_in * kh * kw
    p = h_out * w_out
    for t in prange(nchunks):
        s0, s1 = chunk_bounds(n, nchunks, t)
        col = cols[t]
        for s in range(s0, s1):
            im2col(x[s], c_in, h_in, w_in, kh, kw, sh, sw, ph, pw, h_out, w_out, col)
            gemm(False, False, c_out, p, k, 1.0, w, k, col, p, 0.0, y[s], p)
            bias_activate(y[s], b, c_out, p, act, slope)


@njit(parallel=True, cache=True)
def conv2d_backward(x, w, y, dy, dz, dx, dw_parts, db_parts, cols, dcols, c_in, h_in, w_in,
                    kh, kw, sh, sw, ph, pw, h_out, w_out, act, slope, need_dx, need_dw):
    n = x.shape[0]
    nchunks = cols.shape[0]
    c_out = db_parts.shape[1]
    k = c_in * kh * kw
    p = h_out * w_out
    for t in prange(nchunks):
        s0, s1 = chunk_bounds(n, nchunks, t)
        if need_dw:
            dw_parts[t, :] = 0
            db_parts[t, :] = 0
        for s in range(s0, s1):
            activation_grad(dy[s], y[s], dz[s], act, slope)
            if need_dw:
                channel_sums(dz[s], c_out, p, db_parts[t])
                im2col(x[s], c_in, h_in, w_in, kh, kw, sh, sw, ph, pw, h_out, w_out, cols[t])
                gemm(False, True, c_out, k, p, 1.0, dz[s], p, cols[t], p, 1.0, dw_parts[t], k)
            if need_dx:
                gemm(True, False, k, p, c_out, 1.0, w, k, dz[s], p, 0.0, dcols[t], p)
                dx[s, :] = 0
                col2im(dcols[t], c_in, h_in, w_in, kh, kw, sh, sw, ph, pw, h_out, w_out, dx[s])


@njit(parallel=True, cache=True)
def transconv2d_forward(x, w, b, y, cols, c_in, h_in, w_in, kh, kw, sh, sw, ph, pw, h_out,
                        w_out, act, slope):
    n = x.shape[0]
    nchunks = cols.shape[0]
    c_out = b.shape[0]
    k = c_out * kh * kw
    p = h_in * w_in
    for t in prange(nchunks):
        s0, s1 = chunk_bounds(n, nchunks, t)
        col = cols[t]
        for s in range(s0, s1):
            gemm(True, False, k, p, c_in, 1.0, w, k, x[s], p, 0.0, col, p)
            y[s, :] = 0
            col2im(col, c_out, h_out, w_out, kh, kw, sh, sw, ph, pw, h_in, w_in, y[s])
            bias_activate(y[s], b, c_out, h_out * w_out, act, slope)


@njit(parallel=True, cache=True)
def transconv2d_backward(x, w, y, dy, dz, dx, dw_parts, db_parts, cols, c_in, h_in, w_in,
                         kh, kw, sh, sw, ph, pw, h_out, w_out, act, slope, need_dx, need_dw):
    n = x.shape[0]
    nchunks = cols.shape[0]
    c_out = db_parts.shape[1]
    k = c_out * kh * kw
    p = h_in * w_in
    for t in prange(nchunks):
        s0, s1 = chunk_bounds(n, nchunks, t)
        if need_dw:
            dw_parts[t, :] = 0
            db_parts[t, :] = 0
        for s in range(s0, s1):
            activation_grad(dy[s], y[s], dz[s], act, slope)
            im2col(dz[s], c_out, h_out, w_out, kh, kw, sh, sw, ph, pw, h_in, w_in, cols[t])
            if need_dw:
                channel_sums(dz[s], c_out, h_out * w_out, db_parts[t])
                gemm(False, True, c_in, k, p, 1.0, x[s], p, cols[t], p, 1.0, dw_parts[t], k)
            if need_dx:
                gemm(False, False, c_in, p, k, 1.0, w, k, cols[t], p, 0.0, dx[s], p)


# Stride-1 convolutions by shifted GEMMs ------------------------------------------------
# With the input zero-padded to (c_in, hp, wp) and flattened, the output row oh, column ow
# of kernel offset (i, j) reads padded pixel (oh + i)*wp + ow + j, i.e. the padded image
# shifted by i*wp + j. Computing outputs on the padded grid's width ("extended" rows of wp
# columns, the last wp - w_out of which are discarded) turns the convolution into kh*kw
# GEMMs on shifted views of the padded image: no im2col buffer, no col2im, at the cost of
# the discarded columns. ``extended`` holds (c_out, length) with
# length = (h_out - 1)*wp + w_out; ``wk`` holds the weights as (kh*kw, c_out, c_in).


@njit(cache=True)
def _pad_into(x, channels, h, w, ph, pw, xp):
    """Copy one sample into the interior of its zero-bordered padded buffer."""
    hp = h + 2 * ph
    wp = w + 2 * pw
    for c in range(channels):
        for r in range(h):
            dst = (c * hp + r + ph) * wp + pw
            src = (c * h + r) * w
            for q in range(w):
                xp[dst + q] = x[src + q]


@njit(parallel=True, cache=True)
def conv2d_shifted_forward(x, wk, b, y, xps, extended, c_in, h_in, w_in, kh, kw, ph, pw, h_out,
                           w_out, act, slope):
    n = x.shape[0]
    nchunks = xps.shape[0]
    c_out = b.shape[0]
    hp = h_in + 2 * ph
    wp = w_in + 2 * pw
    length = (h_out - 1) * wp + w_out
    for t in prange(nchunks):
        s0, s1 = chunk_bounds(n, nchunks, t)
        xp = xps[t]
        ext = extended[t]
        xp[:] = 0
        for s in range(s0, s1):
            _pad_into(x[s], c_in, h_in, w_in, ph, pw, xp)
            for i in range(kh):
                for j in range(kw):
                    gemm(False, False, c_out, length, c_in, 1.0, wk[i * kw + j], c_in,
                         xp[i * wp + j:], hp * wp, 0.0 if i + j == 0 else 1.0, ext, length)
            ys = y[s]
            for co in range(c_out):
                for oh in range(h_out):
                    src = co * length + oh * wp
                    dst = (co * h_out + oh) * w_out
                    for ow in range(w_out):
                        ys[dst + ow] = ext[src + ow]
            bias_activate(ys, b, c_out, h_out * w_out, act, slope)


@njit(parallel=True, cache=True)
def conv2d_shifted_backward(x, wk, y, dy, dz, dx, dwk_parts, db_parts, xps, dxps, extended,
                            c_in, h_in, w_in, kh, kw, ph, pw, h_out, w_out, act, slope,
                            need_dx, need_dw):
    n = x.shape[0]
    nchunks = xps.shape[0]
    c_out = db_parts.shape[1]
    hp = h_in + 2 * ph
    wp = w_in + 2 * pw
    length = (h_out - 1) * wp + w_out
    block = c_out * c_in
    for t in prange(nchunks):
        s0, s1 = chunk_bounds(n, nchunks, t)
        xp = xps[t]
        dxp = dxps[t]
        ext = extended[t]
        xp[:] = 0
        ext[:] = 0  # the discarded columns stay zero, so they add nothing below
        if need_dw:
            dwk_parts[t, :] = 0
            db_parts[t, :] = 0
        for s in range(s0, s1):
            dzs = dz[s]
            activation_grad(dy[s], y[s], dzs, act, slope)
            for co in range(c_out):
                for oh in range(h_out):
                    dst = co * length + oh * wp
                    src = (co * h_out + oh) * w_out
                    for ow in range(w_out):
                        ext[dst + ow] = dzs[src + ow]
            if need_dw:
                channel_sums(dzs, c_out, h_out * w_out, db_parts[t])
                _pad_into(x[s], c_in, h_in, w_in, ph, pw, xp)
                for i in range(kh):
                    for j in range(kw):
                        gemm(False, True, c_out, c_in, length, 1.0, ext, length,
                             xp[i * wp + j:], hp * wp, 1.0,
                             dwk_parts[t, (i * kw + j) * block:], c_in)
            if need_dx:
                dxp[:] = 0
                for i in range(kh):
                    for j in range(kw):
                        gemm(True, False, c_in, length, c_out, 1.0, wk[i * kw + j], c_in, ext,
                             length, 1.0, dxp[i * wp + j:], hp * wp)
                dxs = dx[s]
                for c in range(c_in):
                    for r in range(h_in):
                        src = (c * hp + r + ph) * wp + pw
                        dst = (c * h_in + r) * w_in
                        for q in range(w_in):
                            dxs[dst + q] = dxp[src + q]


@njit(parallel=True, cache=True)
def add_kernel_major_partials(parts, c_out, c_in, taps, out):
    """``out (c_out, c_in, taps) += sum_t parts[t]`` where each part is laid out
    (taps, c_out, c_in), summed in chunk order."""
    nparts = parts.shape[0]
    for co in prange(c_out):
        for c in range(c_in):
            for k in range(taps):
                src = (k * c_out + co) * c_in + c
                acc = parts[0, src]
                for t in range(1, nparts):
                    acc += parts[t, src]
                out[(co * c_in + c) * taps + k] += acc
