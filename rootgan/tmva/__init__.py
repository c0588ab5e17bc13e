"""The TMVA-shaped front: the names of ``ROOT.TMVA``, so that a script ports to rootgan
by changing one import (``from rootgan import TMVA``)."""

from .dataloader import DataLoader
from .factory import Factory
from .reader import Reader
from .types import Types

__all__ = ["DataLoader", "Factory", "Reader", "Types"]
