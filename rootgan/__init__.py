"""rootgan: generative adversarial networks for detector images stored in ROOT files."""

from . import tmva as TMVA
from .errors import DataError, LayoutError, OptionError, RootganError, WeightsError

__version__ = "0.1.0"


def generate(weights_file, n, out, seed=None, batch_size=1024, conditions=None):
    """Generate ``n`` events from a GAN weights file into the ROOT file ``out`` (see
    ``rootgan.methods.gan.generate``)."""
    from .methods.gan import generate as generate_events  # imports the Numba engine

    return generate_events(weights_file, n, out, seed=seed, batch_size=batch_size,
                           conditions=conditions)

__all__ = ["DataError", "LayoutError", "OptionError", "RootganError", "TMVA", "WeightsError",
           "__version__", "generate"]
