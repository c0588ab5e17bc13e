"""``TMVA.Types``: the enum values scripts pass around (tree types, method kinds)."""

from ..methods.base import GAN_KIND


class Types:
    # tree types, as in TMVA::Types::ETreeType
    kTraining = 0
    kTesting = 1
    # method kinds: rootgan books generative methods only
    kGAN = GAN_KIND
