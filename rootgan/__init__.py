"""rootgan: generative adversarial networks for detector images stored in ROOT files."""

from . import tmva as TMVA
from .errors import (ClusterError, DataError, LayoutError, OptionError, RootganError,
                     WeightsError)

__version__ = "0.1.0"


def generate(weights_file, n, out, seed=None, batch_size=1024, conditions=None,
             events_per_file=None, workers=None, scheduler=None, progress=None, notice=None):
    """Generate ``n`` events from a GAN weights file into the ROOT file ``out`` (see
    ``rootgan.methods.gan.generate``). With ``{index}`` in ``out`` the events go into parts
    of ``events_per_file`` (default 1,000,000) plus a manifest, each part from its own
    random stream: in this process, or on Dask with ``workers`` (a local cluster) or
    ``scheduler`` (an address); see ``rootgan.production``. ``progress(events)`` hears the
    events done, ``notice(text)`` what is worth saying. Returns the path written (the
    manifest's for parts)."""
    if writes_parts(out, events_per_file, workers, scheduler):
        from .production import generate_parts

        return generate_parts(weights_file, n, out, events_per_file=events_per_file,
                              seed=seed, batch_size=batch_size, conditions=conditions,
                              workers=workers, scheduler=scheduler, progress=progress,
                              notice=notice)
    from .methods.gan import generate as generate_events  # imports the Numba engine

    return generate_events(weights_file, n, out, seed=seed, batch_size=batch_size,
                           conditions=conditions, progress=progress, notice=notice)


def writes_parts(out, events_per_file=None, workers=None, scheduler=None):
    """Whether ``generate`` with these arguments writes parts and a manifest."""
    return ("{index}" in str(out) or events_per_file is not None or workers is not None
            or scheduler is not None)


def read_manifest(path):
    """The run recorded in a parts manifest, with ``files``: the parts in order."""
    from .production import read_manifest as read

    return read(path)


__all__ = ["ClusterError", "DataError", "LayoutError", "OptionError", "RootganError", "TMVA",
           "WeightsError", "__version__", "generate", "read_manifest"]
