"""Max pooling (floor mode, no padding) and nearest-neighbour upsampling, one sample per
iteration of the parallel loop."""

from numba import njit, prange


@njit(parallel=True, cache=True)
def maxpool_forward(x, y, argmax, channels, h_in, w_in, kh, kw, sh, sw, h_out, w_out):
    """``argmax`` records, per output, the flat input index that won (first on ties)."""
    for s in prange(x.shape[0]):
        xs = x[s]
        for c in range(channels):
            for oh in range(h_out):
                for ow in range(w_out):
                    first = (c * h_in + oh * sh) * w_in + ow * sw
                    best = first
                    best_value = xs[first]
                    for i in range(kh):
                        row = first + i * w_in
                        for j in range(kw):
                            v = xs[row + j]
                            if v > best_value:
                                best_value = v
                                best = row + j
                    out = (c * h_out + oh) * w_out + ow
                    y[s, out] = best_value
                    argmax[s, out] = best


@njit(parallel=True, cache=True)
def maxpool_backward(dy, argmax, dx):
    for s in prange(dy.shape[0]):
        dx[s, :] = 0
        for o in range(dy.shape[1]):
            dx[s, argmax[s, o]] += dy[s, o]


@njit(parallel=True, cache=True)
def upsample_forward(x, y, channels, h_in, w_in, fh, fw):
    w_out = w_in * fw
    for s in prange(x.shape[0]):
        for c in range(channels):
            for ih in range(h_in):
                src = (c * h_in + ih) * w_in
                for i in range(fh):
                    dst = (c * h_in * fh + ih * fh + i) * w_out
                    for ow in range(w_out):
                        y[s, dst + ow] = x[s, src + ow // fw]


@njit(parallel=True, cache=True)
def upsample_backward(dy, dx, channels, h_in, w_in, fh, fw):
    w_out = w_in * fw
    for s in prange(dy.shape[0]):
        dx[s, :] = 0
        for c in range(channels):
            for ih in range(h_in):
                dst = (c * h_in + ih) * w_in
                for i in range(fh):
                    src = (c * h_in * fh + ih * fh + i) * w_out
                    for ow in range(w_out):
                        dx[s, dst + ow // fw] += dy[s, src + ow]
