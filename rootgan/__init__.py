"""rootgan: generative adversarial networks for detector images stored in ROOT files."""

from . import tmva as TMVA
from .errors import DataError, LayoutError, OptionError, RootganError, WeightsError

__version__ = "0.1.0"

__all__ = ["DataError", "LayoutError", "OptionError", "RootganError", "TMVA", "WeightsError",
           "__version__"]
