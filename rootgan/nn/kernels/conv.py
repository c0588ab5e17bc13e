"""Convolution and transposed convolution as GEMMs.

Two ways: im2col + one GEMM per sample (any stride; used for strided and few-channel
convolutions), and one GEMM per kernel tap on shifted views of the padded input (stride-1
convolutions, optionally fused with a preceding upsampling, and every transposed
convolution; see the second half of this file).

Arrays are float32 (float64 in gradient tests), one row per sample: ``x (n, c_in*h_in*w_in)``,
``y (n, c_out*h_out*w_out)``. The batch is split into ``nchunks`` contiguous chunks, one per
thread; each chunk owns a slice of the scratch buffers (``cols``, ``dcols``) and of the
partial weight gradients (``dw_parts``, ``db_parts``), which the caller reduces in chunk
order, so results are reproducible for a given thread count.

Conv2D weights are ``(c_out, c_in*kh*kw)``. TransposedConv2D weights are
``(c_in, c_out*kh*kw)`` (PyTorch's layout) and the layer is the exact adjoint of a Conv2D
from its output grid to its input grid, computed as one stride-1 convolution per output
phase (no zero-stuffing of the input, no col2im).
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


# Stride-1 convolutions by shifted GEMMs, optionally fused with a preceding upsampling ---
# With the input zero-padded to (c_in, hp, wp) and flattened, output row m, column n of
# kernel tap (d, e) reads padded pixel (m + d)*wp + n + e: the padded image shifted by
# d*wp + e. Computing outputs on the padded grid's width ("extended" rows of wp columns,
# the surplus ones discarded) turns the convolution into one GEMM per tap on shifted views
# of the padded image: no im2col buffer and no col2im.
#
# A nearest-neighbour upsampling by (fh, fw) followed by a stride-1 convolution is computed
# on the small input: output row o = fh*m + r reads upsampled row o + i - pad, i.e. input
# row m + floor((r + i - pad) / fh), so for each output phase (r, s) the convolution is a
# stride-1 convolution of the small input with a smaller kernel whose taps are sums of the
# original ones. Plain convolutions are the case fh = fw = 1 (one phase, taps unchanged).
#
# A transposed convolution with stride st is the same computation with st phases per axis:
# output o = st*m + r receives input row i through tap k when i*st - pad + k = o, so only
# the taps k = (r + pad) mod st + st*j reach phase r, each from input row m + const - j: a
# stride-1 convolution of the input with the flipped sub-kernel of those taps. Every tap
# belongs to one phase, no arithmetic is spent on the zeros a strided scatter would insert.
#
# Per axis, ``plan[r] = (first padded row read, number of taps, number of outputs)`` and
# ``tap_rows[r, i]`` (``tap_cols``) is the phase-r tap that original tap i adds into (-1:
# none); ``wk`` holds the phase kernels as (phases_h, phases_w, taps, c_out, c_in), one
# contiguous matrix per tap.


@njit(cache=True)
def _pad_into(x, channels, h, w, top, left, hp, wp, xp):
    """Copy one sample into the interior of its zero-bordered padded buffer."""
    for c in range(channels):
        for r in range(h):
            dst = (c * hp + r + top) * wp + left
            src = (c * h + r) * w
            for q in range(w):
                xp[dst + q] = x[src + q]


@njit(cache=True, inline="always")
def _tap_weight(w, transposed, co, c, i, j):
    """Tap (i, j) from output channel ``co`` to input channel ``c``: Conv2D weights are
    (c_out, c_in, kh, kw), TransposedConv2D weights (c_in, c_out, kh, kw)."""
    return w[c, co, i, j] if transposed else w[co, c, i, j]


@njit(parallel=True, cache=True)
def phase_kernels(w, transposed, tap_rows, tap_cols, row_plan, col_plan, wk):
    """Sum the taps of ``w`` into the phase kernels ``wk``; a tap whose ``tap_rows`` or
    ``tap_cols`` entry is -1 plays no part in that phase."""
    c_out, c_in = wk.shape[3], wk.shape[4]
    kh, kw = w.shape[2], w.shape[3]
    fh, fw = row_plan.shape[0], col_plan.shape[0]
    for co in prange(c_out):
        for r in range(fh):
            for s in range(fw):
                wk[r, s, :, co, :] = 0
                for i in range(kh):
                    if tap_rows[r, i] < 0:
                        continue
                    for j in range(kw):
                        if tap_cols[s, j] < 0:
                            continue
                        tap = tap_rows[r, i] * col_plan[s, 1] + tap_cols[s, j]
                        for c in range(c_in):
                            wk[r, s, tap, co, c] += _tap_weight(w, transposed, co, c, i, j)


@njit(parallel=True, cache=True)
def add_phase_partials(parts, transposed, tap_rows, tap_cols, col_plan, out):
    """``out += `` the phase-kernel gradients of every chunk (``out`` laid out as the
    weight), each original tap collecting the phase taps it was summed into, in chunk
    order."""
    c_out, c_in = parts.shape[4], parts.shape[5]
    kh, kw = out.shape[2], out.shape[3]
    nparts, fh, fw = parts.shape[0], parts.shape[1], parts.shape[2]
    for co in prange(c_out):
        for c in range(c_in):
            for i in range(kh):
                for j in range(kw):
                    acc = 0.0
                    for t in range(nparts):
                        for r in range(fh):
                            if tap_rows[r, i] < 0:
                                continue
                            for s in range(fw):
                                if tap_cols[s, j] < 0:
                                    continue
                                tap = tap_rows[r, i] * col_plan[s, 1] + tap_cols[s, j]
                                acc += parts[t, r, s, tap, co, c]
                    if transposed:
                        out[c, co, i, j] += acc
                    else:
                        out[co, c, i, j] += acc


@njit(parallel=True, cache=True)
def conv2d_phase_forward(x, wk, b, y, xps, extended, c_in, h_in, w_in, top, left, hp, wp,
                         row_plan, col_plan, h_out, w_out, act, slope):
    n = x.shape[0]
    nchunks = xps.shape[0]
    c_out = b.shape[0]
    fh, fw = row_plan.shape[0], col_plan.shape[0]
    for t in prange(nchunks):
        s0, s1 = chunk_bounds(n, nchunks, t)
        xp = xps[t]
        ext = extended[t]
        xp[:] = 0
        for smp in range(s0, s1):
            _pad_into(x[smp], c_in, h_in, w_in, top, left, hp, wp, xp)
            ys = y[smp]
            for r in range(fh):
                first_row, taps_r, rows = row_plan[r, 0], row_plan[r, 1], row_plan[r, 2]
                for s in range(fw):
                    first_col, taps_s, cols = col_plan[s, 0], col_plan[s, 1], col_plan[s, 2]
                    if rows == 0 or cols == 0:
                        continue
                    length = (rows - 1) * wp + cols
                    if taps_r == 0 or taps_s == 0:  # outputs no tap reaches: bias only
                        ext[:c_out * length] = 0
                    for d in range(taps_r):
                        for e in range(taps_s):
                            shift = (first_row + d) * wp + first_col + e
                            gemm(False, False, c_out, length, c_in, 1.0, wk[r, s, d * taps_s + e],
                                 c_in, xp[shift:], hp * wp, 0.0 if d + e == 0 else 1.0, ext,
                                 length)
                    for co in range(c_out):
                        for m in range(rows):
                            src = co * length + m * wp
                            dst = (co * h_out + fh * m + r) * w_out + s
                            for q in range(cols):
                                ys[dst + fw * q] = ext[src + q]
            bias_activate(ys, b, c_out, h_out * w_out, act, slope)


@njit(parallel=True, cache=True)
def conv2d_phase_backward(x, wk, y, dy, dz, dx, dwk_parts, db_parts, xps, dxps, extended,
                          c_in, h_in, w_in, top, left, hp, wp, row_plan, col_plan, h_out,
                          w_out, act, slope, need_dx, need_dw):
    n = x.shape[0]
    nchunks = xps.shape[0]
    c_out = db_parts.shape[1]
    fh, fw = row_plan.shape[0], col_plan.shape[0]
    for t in prange(nchunks):
        s0, s1 = chunk_bounds(n, nchunks, t)
        xp = xps[t]
        dxp = dxps[t]
        ext = extended[t]
        xp[:] = 0
        if need_dw:
            dwk_parts[t] = 0
            db_parts[t, :] = 0
        for smp in range(s0, s1):
            dzs = dz[smp]
            activation_grad(dy[smp], y[smp], dzs, act, slope)
            if need_dw:
                channel_sums(dzs, c_out, h_out * w_out, db_parts[t])
                _pad_into(x[smp], c_in, h_in, w_in, top, left, hp, wp, xp)
            if need_dx:
                dxp[:] = 0
            for r in range(fh):
                first_row, taps_r, rows = row_plan[r, 0], row_plan[r, 1], row_plan[r, 2]
                for s in range(fw):
                    first_col, taps_s, cols = col_plan[s, 0], col_plan[s, 1], col_plan[s, 2]
                    if rows == 0 or cols == 0:
                        continue
                    length = (rows - 1) * wp + cols
                    # this phase's output gradient on the extended grid; the surplus columns
                    # are zero so they add nothing to either product below
                    ext[:c_out * length] = 0
                    for co in range(c_out):
                        for m in range(rows):
                            dst = co * length + m * wp
                            src = (co * h_out + fh * m + r) * w_out + s
                            for q in range(cols):
                                ext[dst + q] = dzs[src + fw * q]
                    for d in range(taps_r):
                        for e in range(taps_s):
                            shift = (first_row + d) * wp + first_col + e
                            tap = d * taps_s + e
                            if need_dw:
                                gemm(False, True, c_out, c_in, length, 1.0, ext, length,
                                     xp[shift:], hp * wp, 1.0, dwk_parts[t, r, s, tap], c_in)
                            if need_dx:
                                gemm(True, False, c_in, length, c_out, 1.0, wk[r, s, tap], c_in,
                                     ext, length, 1.0, dxp[shift:], hp * wp)
            if need_dx:
                dxs = dx[smp]
                for c in range(c_in):
                    for row in range(h_in):
                        src = (c * hp + row + top) * wp + left
                        dst = (c * h_in + row) * w_in
                        for q in range(w_in):
                            dxs[dst + q] = dxp[src + q]
