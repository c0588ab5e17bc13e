"""GEMM from Numba code, through SciPy's BLAS.

``gemm`` computes ``C = alpha * op(A) @ op(B) + beta * C`` on row-major matrices given by
their first element (any array whose data pointer starts at the matrix) and leading
dimension, so kernels multiply sub-blocks of preallocated buffers and accumulate
(``beta=1``) without temporaries. It dispatches to ``sgemm`` or ``dgemm`` by dtype: float32
in production, float64 in the gradient tests.

The BLAS routines are bound as external symbols (not ctypes globals) so that kernels
calling them can be cached on disk (``cache=True``). Kernels call ``gemm`` from inside
``prange`` loops, one matrix product per thread, so the BLAS must run single-threaded
(``rootgan.nn.threads`` sees to it when the engine is imported).
"""

import numpy as np
from llvmlite import binding as llvm
from numba import njit, types
from numba.extending import get_cython_function_address, overload

for _name in ("sgemm", "dgemm"):
    llvm.add_symbol(
        "rootgan_" + _name, get_cython_function_address("scipy.linalg.cython_blas", _name)
    )

_SIGNATURE = types.void(*([types.voidptr] * 13))
_sgemm = types.ExternalFunction("rootgan_sgemm", _SIGNATURE)
_dgemm = types.ExternalFunction("rootgan_dgemm", _SIGNATURE)


def gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Row-major ``C[m, n] = alpha * op(A)[m, k] @ op(B)[k, n] + beta * C``."""
    raise NotImplementedError("gemm is only callable from Numba-compiled code")


def _make_gemm(blas, dtype):
    # BLAS is column-major: the row-major C = op(A) op(B) is the column-major
    # C^T = op(B)^T op(A)^T, so A and B swap places and so do their flags.
    def impl(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        ints = np.empty(8, np.int32)
        ints[0] = 84 if trans_b else 78  # 'T' or 'N'
        ints[1] = 84 if trans_a else 78
        ints[2] = n
        ints[3] = m
        ints[4] = k
        ints[5] = ldb
        ints[6] = lda
        ints[7] = ldc
        scalars = np.empty(2, dtype)
        scalars[0] = alpha
        scalars[1] = beta
        p = ints.ctypes.data
        q = scalars.ctypes.data
        size = scalars.itemsize
        blas(p, p + 4, p + 8, p + 12, p + 16, q, b.ctypes.data, p + 20,
             a.ctypes.data, p + 24, q + size, c.ctypes.data, p + 28)

    return impl


_GEMM_FLOAT32 = _make_gemm(_sgemm, np.float32)
_GEMM_FLOAT64 = _make_gemm(_dgemm, np.float64)


@overload(gemm, jit_options={"cache": True})
def _gemm_overload(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    dtypes = {a.dtype, b.dtype, c.dtype}
    if dtypes == {types.float32}:
        return _GEMM_FLOAT32
    if dtypes == {types.float64}:
        return _GEMM_FLOAT64
    raise TypeError(f"gemm needs float32 or float64 arrays of one dtype, got {dtypes}")


@njit(cache=True)
def chunk_bounds(n, nchunks, chunk):
    """First and last+1 index of ``chunk`` when ``n`` items are split into ``nchunks``."""
    n = np.int64(n)
    nchunks = np.int64(nchunks)
    chunk = np.int64(chunk)
    base = n // nchunks
    extra = n % nchunks
    start = chunk * base + min(chunk, extra)
    return start, start + base + (np.int64(1) if chunk < extra else np.int64(0))
