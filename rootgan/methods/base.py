"""``MethodBase``: what a method implements so the Factory can book, train, test, evaluate
and persist it, and the Reader can load it from its weights file alone.

A method declares its options (``declared_options``) and implements the hooks ``train``,
``response``, ``write_training`` / ``write_test`` / ``write_evaluation`` (its objects in
``<dataset>/Method_<Type>/<Title>/``), ``evaluate``, and the weights pair
``weights_parameters`` / ``weights_settings`` with ``load_weights``. Methods register their
kind with ``register_method`` (``Types.kGAN`` for the GAN).
"""

import importlib
import re

from ..errors import OptionError, WeightsError, did_you_mean
from ..io.output import write_histogram, write_tree
from ..options import Option, OptionSet, keywords_to_string

COMMON_OPTIONS = (
    Option("H", "bool", False, "print this method's option reference and continue"),
    Option("V", "bool", False, "verbose output"),
    Option("VerbosityLevel", "enum", "Info", "how much to print",
           allowed=("Debug", "Verbose", "Info", "Warning", "Error")),
)

GAN_KIND = 1000  # TMVA.Types.kGAN
_REGISTRY = {}
# built-in methods, imported when first asked for (the GAN pulls in the Numba engine)
_BUILTIN = {GAN_KIND: "rootgan.methods.gan", "GAN": "rootgan.methods.gan"}


def register_method(kind, cls):
    """Make ``BookMethod(loader, kind, ...)`` and the Reader create ``cls``."""
    _REGISTRY[kind] = cls
    _REGISTRY[cls.type_name] = cls


def method_class(kind):
    """The method class for a kind (``Types.kGAN``) or a type name (``"GAN"``)."""
    if kind not in _REGISTRY and kind in _BUILTIN:
        importlib.import_module(_BUILTIN[kind])
    if kind in _REGISTRY:
        return _REGISTRY[kind]
    names = sorted({cls.type_name for cls in _REGISTRY.values()} | {"GAN"})
    raise OptionError(f"no method of kind {kind!r} is available"
                      f"{did_you_mean(kind, names) if isinstance(kind, str) else ''}; "
                      f"available: {', '.join(names) or 'none'}")


def branch_name(label):
    """A TTree-friendly name for a variable label (``2*energy`` -> ``2_energy``)."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", label).strip("_") or "value"


class MethodDirectory:
    """Where a method writes its objects: ``<dataset>/Method_<Type>/<Title>/``."""

    def __init__(self, handle, path):
        self.handle = handle
        self.path = path

    def histogram(self, name, counts, edges, title="", x_title="", y_title=""):
        write_histogram(self.handle, f"{self.path}/{name}", counts, edges, title, x_title,
                        y_title)

    def tree(self, name, chunks, title=""):
        return write_tree(self.handle, f"{self.path}/{name}", chunks, title)


class MethodBase:
    type_name = "Base"

    def __init__(self, job, title, variables, option_text="", keywords=None):
        """``variables`` describes the inputs: {"arrays": {name: size}, "variables": [...],
        "spectators": [...], "conditions": [...], "targets": [...]}."""
        self.job = job
        self.title = title
        self.variables = variables
        self.option_text = ":".join(t for t in (option_text, keywords_to_string(keywords or {}))
                                    if t)
        self.option_set = OptionSet(f"{self.type_name} method {title!r}",
                                    list(COMMON_OPTIONS) + list(self.declared_options()))
        self.options = self.option_set.parse(option_text, keywords)
        self.training_events = 0
        self.training_seconds = 0.0
        self.weights_path = None  # set by the Factory when it books the method
        self.trained = False

    @classmethod
    def declared_options(cls):
        return []

    @property
    def directory_path(self):
        return f"Method_{self.type_name}/{self.title}"

    # -- hooks ---------------------------------------------------------------------------
    def train(self, dataset, log):
        raise NotImplementedError

    def response(self, events):
        """One number per event (the TrainTree/TestTree branch named after the method)."""
        raise NotImplementedError

    def write_training(self, directory):
        """Objects made by training (histories, ...)."""

    def write_test(self, directory, dataset, log):
        """Objects made by testing (generated events, ...)."""

    def evaluate(self, dataset, log):
        """{metric: value} printed and stored by EvaluateAllMethods."""
        return {}

    def write_evaluation(self, directory, metrics):
        """Objects made by evaluation; by default one bin per metric."""
        if metrics:
            names = list(metrics)
            directory.histogram("evaluation", [metrics[n] for n in names],
                                list(range(len(names) + 1)),
                                "evaluation metrics: " + ", ".join(names), "metric")

    def weights_parameters(self):
        """{name: array} saved in the weights file."""
        return {}

    def weights_settings(self):
        """JSON-able method settings saved in the weights file."""
        return {}

    def load_weights(self, content):
        """Restore the trained state from a WeightsContent."""
        raise NotImplementedError

    @classmethod
    def from_weights(cls, title, content):
        """A method rebuilt from its weights file alone (for the Reader)."""
        method = cls(content.info.get("job", ""), title, content.variables,
                     content.options_given)
        method.training_events = content.info.get("training_events", 0)
        method.training_seconds = content.info.get("training_seconds", 0.0)
        try:
            method.load_weights(content)
        except KeyError as error:
            raise WeightsError(f"the weights file of {title!r} lacks {error.args[0]!r}; it was "
                               f"not written by this version of rootgan's {cls.type_name}, or "
                               f"it was edited") from None
        method.trained = True
        return method
