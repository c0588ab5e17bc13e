"""Threads: the engine's kernels run on Numba's thread pool, each thread calling its own
single-threaded BLAS products.

A threaded BLAS called from inside Numba's threads oversubscribes the cores (measured here:
5x slower), so importing the engine limits the BLAS that SciPy's ``cython_blas`` (and so
rootgan's GEMM) uses to one thread. Wheels of NumPy carry their own BLAS, which stays as
it is; where NumPy and SciPy share one BLAS library (conda, system packages), that library
is limited, NumPy's matrix products included.
"""

import numba
import scipy.linalg  # noqa: F401  (loads the BLAS library whose threads are limited)
from threadpoolctl import ThreadpoolController


def limit_blas_threads():
    blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    scipy_own = [lib for lib in blas if "scipy" in lib.filepath and "numpy" not in lib.filepath]
    for lib in scipy_own or blas:
        lib.set_num_threads(1)


def set_num_threads(n):
    """Threads for the engine's kernels (at most NUMBA_NUM_THREADS, default: all cores)."""
    numba.set_num_threads(int(n))


def get_num_threads():
    return numba.get_num_threads()
