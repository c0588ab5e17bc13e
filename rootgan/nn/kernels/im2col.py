"""im2col / col2im for one sample, the data movement around every convolution GEMM.

``col`` is row-major ``(c_in*kh*kw, h_out*w_out)``: row ``(c, i, j)`` holds input pixel
``(c, oh*sh - ph + i, ow*sw - pw + j)`` for every output position ``(oh, ow)``, zero where
that pixel lies in the padding. Loops run over the valid column range only, so the
innermost loop is branch-free and, for stride 1, a contiguous copy.
"""

from numba import njit


@njit(cache=True, inline="always")
def _valid_range(out_size, in_size, stride, pad, offset):
    """Output positions o with 0 <= o*stride - pad + offset < in_size."""
    lo_num = pad - offset
    lo = 0 if lo_num <= 0 else min(out_size, (lo_num + stride - 1) // stride)
    hi_num = in_size - 1 + pad - offset
    hi = hi_num // stride + 1 if hi_num >= 0 else 0
    return lo, max(lo, min(hi, out_size))


@njit(cache=True)
def im2col(x, c_in, h_in, w_in, kh, kw, sh, sw, ph, pw, h_out, w_out, col):
    positions = h_out * w_out
    for c in range(c_in):
        for i in range(kh):
            oh_lo, oh_hi = _valid_range(h_out, h_in, sh, ph, i)
            for j in range(kw):
                ow_lo, ow_hi = _valid_range(w_out, w_in, sw, pw, j)
                row = ((c * kh + i) * kw + j) * positions
                for oh in range(h_out):
                    base = row + oh * w_out
                    if oh < oh_lo or oh >= oh_hi:
                        for ow in range(w_out):
                            col[base + ow] = 0
                        continue
                    src = (c * h_in + oh * sh - ph + i) * w_in - pw + j
                    for ow in range(ow_lo):
                        col[base + ow] = 0
                    for ow in range(ow_lo, ow_hi):
                        col[base + ow] = x[src + ow * sw]
                    for ow in range(ow_hi, w_out):
                        col[base + ow] = 0


@njit(cache=True)
def col2im(col, c_in, h_in, w_in, kh, kw, sh, sw, ph, pw, h_out, w_out, x):
    """Adjoint of :func:`im2col`: ``x += col`` scattered back (``x`` is not cleared)."""
    positions = h_out * w_out
    for c in range(c_in):
        for i in range(kh):
            oh_lo, oh_hi = _valid_range(h_out, h_in, sh, ph, i)
            for j in range(kw):
                ow_lo, ow_hi = _valid_range(w_out, w_in, sw, pw, j)
                row = ((c * kh + i) * kw + j) * positions
                for oh in range(oh_lo, oh_hi):
                    base = row + oh * w_out
                    dst = (c * h_in + oh * sh - ph + i) * w_in - pw + j
                    for ow in range(ow_lo, ow_hi):
                        x[dst + ow * sw] += col[base + ow]
