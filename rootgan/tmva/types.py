"""``TMVA.Types``: the enum values scripts pass around (tree types, method kinds)."""


class Types:
    # tree types, as in TMVA::Types::ETreeType
    kTraining = 0
    kTesting = 1
    # method kinds: rootgan books generative methods only
    kGAN = 1000
