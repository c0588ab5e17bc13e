"""``TMVA.Reader``: a trained method from its weights file alone, evaluated on events."""

import os

from ..errors import DataError, OptionError
from ..io.weights import read_weights
from ..methods.base import method_class
from ..options import Option, OptionSet
from .log import Log

READER_OPTIONS = OptionSet("Reader", [
    Option("V", "bool", False, "verbose output"),
    Option("Silent", "bool", False, "print nothing but errors"),
    Option("Color", "bool", True, "bold headers on a terminal"),
])


class Reader:
    def __init__(self, options="", **keywords):
        self.options = READER_OPTIONS.parse(options, keywords)
        self.log = Log(silent=self.options["Silent"], verbose=self.options["V"],
                       color=self.options["Color"])
        self._methods = {}

    def BookMVA(self, methodTitle, weightfile):
        """Load the method saved in ``weightfile`` under the title ``methodTitle``."""
        title = str(methodTitle)
        if title in self._methods:
            raise OptionError(f"a method titled {title!r} is already booked in this Reader")
        content = read_weights(os.fspath(weightfile))
        method = method_class(content.info["method"]).from_weights(title, content)
        self._methods[title] = method
        self.log.info("Reader", f"booked {content.info['method']} {title!r} from {weightfile} "
                      f"(trained {content.info.get('date', '?')} on "
                      f"{content.info.get('training_events', '?')} events)")
        return method

    def EvaluateMVA(self, methodTitle, events):
        """The method's response for each event; ``events`` maps variable names to arrays
        (an image array alone is taken as the method's first array variable)."""
        method = self._method(methodTitle)
        if not isinstance(events, dict):
            arrays = list(method.variables.get("arrays", {}))
            if len(arrays) != 1:
                raise DataError(f"{methodTitle!r} reads {len(arrays)} array variables; pass "
                                f"events as a dict of arrays")
            events = {arrays[0]: events}
        return method.response(events)

    def Generate(self, methodTitle, n, seed=None, batch_size=1024, conditions=None):
        """``n`` generated images (pixels), shape (n, d, h, w), from a booked GAN; a
        conditional GAN takes ``conditions`` ({name: value or array of n}, or
        "FILE.root:TREE"; default: drawn from its training conditions)."""
        method = self._method(methodTitle)
        if not hasattr(method, "generate"):
            raise OptionError(f"{methodTitle!r} is a {method.type_name} method, which does not "
                              f"generate")
        return method.generate(n, seed=seed, batch_size=batch_size, conditions=conditions)

    def _method(self, title):
        if title not in self._methods:
            raise OptionError(f"no method {title!r} is booked in this Reader; booked: "
                              f"{', '.join(self._methods) or 'none'}")
        return self._methods[title]
