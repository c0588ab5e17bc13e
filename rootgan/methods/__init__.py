"""Methods the Factory books: ``MethodBase`` and the registry of method kinds."""

from .base import COMMON_OPTIONS, MethodBase, MethodDirectory, method_class, register_method

__all__ = ["COMMON_OPTIONS", "MethodBase", "MethodDirectory", "method_class", "register_method"]
