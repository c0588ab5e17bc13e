"""rootgan's engine: layers, layout strings, losses and optimisers on Numba kernels.

Knows nothing about ROOT or TMVA. float32 NCHW; float64 only in gradient tests.
"""

import numba

from .gan import GAN
from .init import initialize
from .layout import build_network
from .network import Network
from .optimizers import SGD, Adam, make_optimizer


def set_num_threads(n):
    """Threads for the engine's kernels (at most NUMBA_NUM_THREADS, default: all cores).

    The BLAS the kernels call stays single-threaded: each kernel thread runs its own GEMMs.
    """
    numba.set_num_threads(int(n))


def get_num_threads():
    return numba.get_num_threads()


__all__ = ["GAN", "Adam", "Network", "SGD", "build_network", "get_num_threads", "initialize",
           "make_optimizer", "set_num_threads"]
