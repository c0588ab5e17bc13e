"""Batch normalisation, dropout and minibatch-discrimination kernels. A sample is a row;
feature or channel ``c`` owns the values ``[c * size, (c + 1) * size)`` of every row
(``size`` = 1 for flat data, height * width for images). Batch-norm kernels run one block
of channels per thread and read the rows in memory order (flat features would otherwise be
read with a stride of the row length); statistics are accumulated in float64."""

import numpy as np
from numba import njit, prange

from .blas import gemm

# let LLVM reorder the float64 sums so the reductions vectorise; no other fast-math
# assumptions (NaN and infinity keep their meaning)
REDUCTIONS = {"reassoc"}


def channel_blocks(channels, threads):
    """Channel-block boundaries: a few blocks per thread, so blocks balance."""
    count = max(1, min(channels, 4 * threads))
    return np.linspace(0, channels, count + 1).astype(np.int64)


@njit(parallel=True, cache=True, fastmath=REDUCTIONS)
def batchnorm_train_forward(x, gamma, beta, size, eps, blocks, mean, var, inv_std, y):
    """Normalise with the batch statistics (one pass for sums and squares in float64);
    ``mean``, ``var`` (biased) and ``inv_std`` = 1 / sqrt(var + eps) per channel are
    returned through their arrays. Each thread owns a block of channels and reads the
    rows in order, through 1-d row slices (which LLVM vectorises; 2-d indexing it does
    not)."""
    n = x.shape[0]
    count = n * size
    for b in prange(blocks.size - 1):
        c0, c1 = blocks[b], blocks[b + 1]
        sums = np.zeros(c1 - c0)
        squares = np.zeros(c1 - c0)
        for s in range(n):
            row = x[s, c0 * size:c1 * size]
            if size == 1:  # flat features: one value per channel
                for j in range(c1 - c0):
                    v = np.float64(row[j])
                    sums[j] += v
                    squares[j] += v * v
                continue
            for j in range(c1 - c0):
                part = row[j * size:(j + 1) * size]
                acc = 0.0
                acc2 = 0.0
                for i in range(size):
                    v = np.float64(part[i])
                    acc += v
                    acc2 += v * v
                sums[j] += acc
                squares[j] += acc2
        for c in range(c0, c1):
            m = sums[c - c0] / count
            v = max(squares[c - c0] / count - m * m, 0.0)
            mean[c] = m
            var[c] = v
            inv_std[c] = 1.0 / np.sqrt(v + eps)
        _affine_rows(x, y, gamma, beta, mean, inv_std, size, c0, c1)


@njit(cache=True)
def _affine_rows(x, y, gamma, beta, mean, inv_std, size, c0, c1):
    """``y = gamma (x - mean) inv_std + beta`` for the channels [c0, c1) of every row."""
    scale = np.empty(c1 - c0, x.dtype)
    shift = np.empty(c1 - c0, x.dtype)
    for c in range(c0, c1):
        scale[c - c0] = gamma[c] * inv_std[c]
        shift[c - c0] = beta[c] - mean[c] * scale[c - c0]
    for s in range(x.shape[0]):
        source = x[s, c0 * size:c1 * size]
        target = y[s, c0 * size:c1 * size]
        if size == 1:
            for j in range(c1 - c0):
                target[j] = source[j] * scale[j] + shift[j]
            continue
        for j in range(c1 - c0):
            a = scale[j]
            b = shift[j]
            part = source[j * size:(j + 1) * size]
            out = target[j * size:(j + 1) * size]
            for i in range(size):
                out[i] = part[i] * a + b


@njit(parallel=True, cache=True)
def batchnorm_inference_forward(x, gamma, beta, size, blocks, running_mean, inv_std, y):
    """Normalise with the running statistics."""
    for b in prange(blocks.size - 1):
        _affine_rows(x, y, gamma, beta, running_mean, inv_std, size, blocks[b], blocks[b + 1])


@njit(parallel=True, cache=True, fastmath=REDUCTIONS)
def batchnorm_backward(dy, x, mean, gamma, inv_std, size, blocks, training, dx, dgamma,
                       dbeta, need_dx, need_dw):
    """Gradients of a batch-norm forward, with xhat = (x - mean) inv_std recomputed. In
    training the batch statistics depend on x: ``dx = gamma inv_std (dy - mean(dy) - xhat
    mean(dy xhat))``; after an inference forward (running ``mean``) ``dx = gamma inv_std
    dy``. ``dgamma += sum(dy xhat)``, ``dbeta += sum(dy)``."""
    n = dy.shape[0]
    count = n * size
    for b in prange(blocks.size - 1):
        c0, c1 = blocks[b], blocks[b + 1]
        centre = np.empty(c1 - c0, x.dtype)
        for c in range(c0, c1):
            centre[c - c0] = mean[c]
        sum_dy = np.zeros(c1 - c0)
        sum_dy_xhat = np.zeros(c1 - c0)
        for s in range(n):
            grad = dy[s, c0 * size:c1 * size]
            row = x[s, c0 * size:c1 * size]
            if size == 1:
                for j in range(c1 - c0):
                    g = np.float64(grad[j])
                    sum_dy[j] += g
                    sum_dy_xhat[j] += g * (row[j] - centre[j])
                continue
            for j in range(c1 - c0):
                m = centre[j]
                g_part = grad[j * size:(j + 1) * size]
                x_part = row[j * size:(j + 1) * size]
                acc = 0.0
                acc_xhat = 0.0
                for i in range(size):
                    g = np.float64(g_part[i])
                    acc += g
                    acc_xhat += g * (x_part[i] - m)
                sum_dy[j] += acc
                sum_dy_xhat[j] += acc_xhat
        for c in range(c0, c1):
            sum_dy_xhat[c - c0] *= inv_std[c]
        if need_dw:
            for c in range(c0, c1):
                dgamma[c] += sum_dy_xhat[c - c0]
                dbeta[c] += sum_dy[c - c0]
        if need_dx:
            # dx = k dy + (x - m) a + b per channel: k = gamma inv_std, and in training
            # a = -k inv_std mean(dy xhat), b = -k mean(dy)
            k = np.empty(c1 - c0, dy.dtype)
            a = np.zeros(c1 - c0, dy.dtype)
            b0 = np.zeros(c1 - c0, dy.dtype)
            for c in range(c0, c1):
                k[c - c0] = gamma[c] * inv_std[c]
                if training:
                    a[c - c0] = -k[c - c0] * inv_std[c] * sum_dy_xhat[c - c0] / count
                    b0[c - c0] = -k[c - c0] * sum_dy[c - c0] / count
            for s in range(n):
                grad = dy[s, c0 * size:c1 * size]
                row = x[s, c0 * size:c1 * size]
                out = dx[s, c0 * size:c1 * size]
                if size == 1:
                    for j in range(c1 - c0):
                        out[j] = k[j] * grad[j] + (row[j] - centre[j]) * a[j] + b0[j]
                    continue
                for j in range(c1 - c0):
                    kc, ac, bc, m = k[j], a[j], b0[j], centre[j]
                    g_part = grad[j * size:(j + 1) * size]
                    x_part = row[j * size:(j + 1) * size]
                    o_part = out[j * size:(j + 1) * size]
                    for i in range(size):
                        o_part[i] = kc * g_part[i] + (x_part[i] - m) * ac + bc


@njit(parallel=True, cache=True)
def dropout_forward(x, mask, rate, y):
    """``mask`` holds uniform draws in [0, 1) and becomes the scaled keep mask:
    ``mask = (u >= rate) / (1 - rate)``, ``y = x * mask``."""
    keep = 1.0 / (1.0 - rate)
    for s in prange(x.shape[0]):
        for i in range(x.shape[1]):
            m = keep if mask[s, i] >= rate else 0.0
            mask[s, i] = m
            y[s, i] = x[s, i] * m


@njit(cache=True)
def minibatch_project(x, w, m):
    """``m = x @ w`` with the engine's single-threaded GEMM: NumPy's own threaded BLAS,
    called between Numba's parallel kernels, kept both thread pools spinning on 2 cores
    (a discriminator with MINIBATCH trained ~6x slower)."""
    n, a = x.shape
    width = w.shape[1]
    gemm(False, False, n, width, a, 1.0, x, a, w, width, 0.0, m, width)


@njit(cache=True)
def minibatch_project_backward(x, w, dm, dw, dx, need_dx, need_dw):
    """``dw += x.T @ dm`` and ``dx = dm @ w.T`` (the projection's part of dx)."""
    n, a = x.shape
    width = w.shape[1]
    if need_dw:
        gemm(True, False, a, width, n, 1.0, x, a, dm, width, 1.0, dw, width)
    if need_dx:
        gemm(False, True, n, a, width, 1.0, dm, width, w, width, 0.0, dx, a)


# pairs farther apart than this count as not alike at all: exp(-50) ~ 2e-22 is below the
# float32 resolution of a feature (>= 1, the self term), and exp(-d) of the distances a
# trained layer can reach (beyond 87) would be subnormal floats, slow on x86
FARTHEST_DISTANCE = 50.0


@njit(parallel=True, cache=True)
def minibatch_features(m, kernels, dims, closeness, out):
    """Minibatch discrimination (Salimans et al. 2016): for projections ``m (n, kernels *
    dims)``, ``closeness[i, j, b] = exp(-sum_c |m[i,b,c] - m[j,b,c]|)`` and
    ``out[i, b] = sum_j closeness[i, j, b]`` (j = i included, as CaloGAN's layer); 0 beyond
    FARTHEST_DISTANCE."""
    n = m.shape[0]
    for i in prange(n):
        for b in range(kernels):
            total = 0.0
            for j in range(n):
                distance = 0.0
                for c in range(dims):
                    distance += abs(m[i, b * dims + c] - m[j, b * dims + c])
                e = np.exp(-distance) if distance < FARTHEST_DISTANCE else 0.0
                closeness[i, j, b] = e
                total += e
            out[i, b] = total


@njit(parallel=True, cache=True)
def minibatch_backward(m, closeness, dout, kernels, dims, dm):
    """``dm[k,b,c] = -sum_j (dout[k,b] + dout[j,b]) closeness[k,j,b] sign(m[k,b,c] -
    m[j,b,c])``: o[i,b] depends on m[k] both as the row i = k and as a partner j = k."""
    n = m.shape[0]
    for k in prange(n):
        for b in range(kernels):
            for c in range(dims):
                acc = 0.0
                mk = m[k, b * dims + c]
                for j in range(n):
                    d = mk - m[j, b * dims + c]
                    if d != 0.0 and closeness[k, j, b] != 0.0:
                        acc += (dout[k, b] + dout[j, b]) * closeness[k, j, b] * (
                            1.0 if d > 0 else -1.0)
                dm[k, b * dims + c] = -acc
