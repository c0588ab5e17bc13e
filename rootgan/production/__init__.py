"""Mass production: a generation run split into parts written side by side, in this process
or on Dask, with a manifest listing them (see parts.py and run.py)."""

from .parts import read_manifest
from .run import generate_parts

__all__ = ["generate_parts", "read_manifest"]
