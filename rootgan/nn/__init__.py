"""rootgan's engine: layers, layout strings, losses and optimisers on Numba kernels.

Knows nothing about ROOT or TMVA. float32 NCHW; float64 only in gradient tests.
"""

from .gan import GAN
from .init import initialize
from .layout import build_network
from .network import Network
from .optimizers import SGD, Adadelta, Adagrad, Adam, RMSprop, make_optimizer
from .threads import get_num_threads, limit_blas_threads, set_num_threads

limit_blas_threads()

__all__ = ["GAN", "Adadelta", "Adagrad", "Adam", "Network", "RMSprop", "SGD", "build_network",
           "get_num_threads", "initialize", "make_optimizer", "set_num_threads"]
