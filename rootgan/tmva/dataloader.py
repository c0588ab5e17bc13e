"""``TMVA.DataLoader``: which trees, which variables, which cuts and weights; then
``PrepareTrainingAndTestTree`` selects and splits the events (reading is in ``rootgan.io``).

Mirrors ROOT's TMVA (tmva-conventions.md); rootgan adds ``AddCondition`` (what a
conditional GAN is conditioned on) and the MemoryBudget, NonFinite and Scheduler options.
"""

import math
import re

from ..errors import DataError, OptionError
from ..io.dataset import Layout, TreeRequest, prepare
from ..io.expressions import combine_cuts, parse
from ..options import Option, OptionSet
from .types import Types

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_CLASS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# columns every event carries; a variable of the same name would be overwritten
_RESERVED = {"weight": "the event weight (set it with SetWeightExpression)",
             "classID": "the class index", "className": "the class name"}
_TREE_TYPES = {"": "", "training": "Training", "train": "Training", "test": "Test",
               "testing": "Test", Types.kTraining: "Training", Types.kTesting: "Test"}


def prepare_options(class_names):
    """The options of PrepareTrainingAndTestTree for these classes."""
    per_class = []
    for name in class_names:
        per_class += [
            Option(f"nTrain_{name}", "int", 0, f"training events of class {name} (0: what "
                   f"the test set leaves; both 0: half)", minimum=0),
            Option(f"nTest_{name}", "int", 0, f"test events of class {name} (0: what the "
                   f"training set leaves)", minimum=0),
        ]
    return OptionSet("PrepareTrainingAndTestTree", [
        Option("SplitMode", "enum", "Random", "how events are split into training and test",
               allowed=("Random", "Alternate", "Block")),
        Option("MixMode", "enum", "SameAsSplitMode", "TMVA's class order in its training "
               "tree; accepted, rootgan streams events shuffled",
               allowed=("SameAsSplitMode", "Random", "Alternate", "Block")),
        Option("SplitSeed", "int", 100, "seed of the Random split", minimum=0),
        Option("NormMode", "enum", "EqualNumEvents", "event weight normalisation: None; "
               "NumEvents (each class's training weights sum to its number of training "
               "events); EqualNumEvents (every class to the first class's number)",
               allowed=("None", "NumEvents", "EqualNumEvents")),
        *per_class,
        Option("V", "bool", False, "verbose (accepted; the dataset summary is always "
               "printed)"),
        Option("VerboseLevel", "enum", "Info", "TMVA's verbosity; accepted",
               allowed=("Debug", "Verbose", "Info", "Warning", "Error", "Fatal")),
        Option("CalcCorrelations", "bool", True, "TMVA's correlation matrices; accepted, "
               "none are computed"),
        Option("MemoryBudget", "float", 512.0, "MB of events held in memory while streaming; "
               "chunks are sized from it", minimum=1),
        Option("NonFinite", "enum", "ERROR", "NaN or infinite values: ERROR raises, DROP "
               "drops such events and reports how many", allowed=("ERROR", "DROP")),
        Option("Scheduler", "string", "none", "none (read in this process); local (a Dask "
               "cluster of one worker per core on this machine) or a Dask scheduler address "
               "(tcp://HOST:PORT): the trees are opened, selected and read by Dask workers "
               "and the events streamed to training in chunks; the dask extra"),
    ])


class DataLoader:
    def __init__(self, name="default"):
        self._name = str(name)
        self._arrays = {}
        self._scalars = {}       # label -> expression, every role
        self._roles = {}         # label -> "variable", "spectator", "condition", "target"
        self._requests = []
        self._cuts = {}          # class name ("" = every class) -> cut
        self._weights = {}       # class name ("" = every class) -> weight expression
        self.dataset = None

    def GetName(self):
        return self._name

    # -- variables -----------------------------------------------------------------------
    def AddVariablesArray(self, expression, size, type="F", min=0, max=0):
        """``size`` values per event under ``expression`` (an image): a fixed-size array
        branch, a std::vector or RVec branch, or scalar branches expression_0 ..."""
        name = str(expression).strip()
        if not _IDENTIFIER.match(name):
            raise DataError(f"AddVariablesArray needs a branch name, got {expression!r}")
        try:
            valid = int(size) == size and size >= 1
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise DataError(f"AddVariablesArray({name!r}, {size!r}): the size must be a "
                            f"positive integer")
        _check_type(type, name)
        self._claim(name, "array")
        self._arrays[name] = int(size)

    def AddVariable(self, expression, *args, **kwargs):
        """``AddVariable(expr, type='F', min=0, max=0)`` or ``AddVariable(expr, title, unit,
        type='F', min=0, max=0)``; ``"alias := expr"`` names a computed variable."""
        kind = kwargs.get("type", "F")
        if args and isinstance(args[0], str) and len(args[0]) == 1:
            kind = args[0]  # a one-character second argument is the type, as in PyROOT
        elif len(args) >= 3:
            kind = args[2]
        _check_type(kind, expression)
        self._add_scalar(expression, "variable")

    def AddSpectator(self, expression, title="", unit="", min=0, max=0):
        self._add_scalar(expression, "spectator")

    def AddTarget(self, expression, title="", unit="", min=0, max=0):
        self._add_scalar(expression, "target")

    def AddCondition(self, expression, title=""):
        """rootgan: a per-event number a conditional GAN is conditioned on (incident energy,
        class label); ``"alias := expr"`` works as for variables."""
        self._add_scalar(expression, "condition")

    def _add_scalar(self, expression, role):
        text = str(expression).strip()
        label, separator, definition = text.partition(":=")
        label = label.strip()
        definition = definition.strip() if separator else label
        if not label or not definition:
            raise DataError(f"cannot read the {role} {expression!r}; write a branch name, an "
                            f"expression, or 'alias := expression'")
        self._claim(label, role)
        if separator and not _IDENTIFIER.match(label):
            raise DataError(f"the alias {label!r} in {expression!r} must be a name "
                            f"(letters, digits, _)")
        parse(definition, f"{role} {label!r}")  # refused here, before any tree is opened
        self._scalars[label] = definition
        self._roles[label] = role

    def _claim(self, label, role):
        if label in _RESERVED:
            raise DataError(f"{label!r} is reserved for {_RESERVED[label]}; declare the branch "
                            f"under another name with an alias, e.g. "
                            f"Add{role.capitalize() if role != 'array' else 'Variable'}"
                            f"('my_{label} := {label}')")
        previous = "array" if label in self._arrays else self._roles.get(label)
        if previous:
            raise DataError(f"{label!r} is declared twice in DataLoader {self._name!r} (as "
                            f"{previous} and as {role}); declare it once")

    def variables_spec(self):
        """What a method needs to know about its inputs (saved in its weights file)."""
        return {"arrays": dict(self._arrays), "variables": self.labels("variable"),
                "spectators": self.labels("spectator"), "conditions": self.labels("condition"),
                "targets": self.labels("target"), "expressions": dict(self._scalars)}

    def labels(self, role):
        """The labels of one role in declaration order ('array' for AddVariablesArray)."""
        if role == "array":
            return list(self._arrays)
        return [label for label, r in self._roles.items() if r == role]

    # -- trees, weights, cuts ------------------------------------------------------------
    def AddSignalTree(self, tree, weight=1.0, treetype=""):
        self.AddTree(tree, "Signal", weight, "", treetype)

    def AddBackgroundTree(self, tree, weight=1.0, treetype=""):
        self.AddTree(tree, "Background", weight, "", treetype)

    def AddTree(self, tree, className, weight=1.0, cut="", treetype=""):
        """``tree`` is ``"file.root:treename"``, a glob, a list of them or an uproot TTree;
        it is opened by PrepareTrainingAndTestTree."""
        class_name = str(className).strip()
        if not _CLASS_NAME.match(class_name):
            raise DataError(f"the class name {className!r} must be a name (letters, digits, "
                            f"_), as TMVA uses it in option keys like nTrain_<class>")
        for other in {r.class_name for r in self._requests}:
            if other.lower() == class_name.lower() and other != class_name:
                raise DataError(f"class {class_name!r} differs from class {other!r} only in "
                                f"case; option keys (nTrain_<class>) are case-insensitive, so "
                                f"give the classes distinct names")
        try:
            weight = float(weight)
        except (TypeError, ValueError):
            weight = math.nan
        if not math.isfinite(weight):
            raise DataError(f"the weight of a {class_name} tree must be a finite number, got "
                            f"{weight!r}")
        key = treetype.lower() if isinstance(treetype, str) else treetype
        if key not in _TREE_TYPES:
            raise DataError(f"tree type {treetype!r} is not known; use 'Training', 'Test' (or "
                            f"TMVA.Types.kTraining, kTesting), or leave it empty for both")
        self._requests.append(TreeRequest(tree, class_name, weight, _checked(cut, "cut"),
                                          _TREE_TYPES[key]))

    def SetSignalWeightExpression(self, expression):
        self.SetWeightExpression(expression, "Signal")

    def SetBackgroundWeightExpression(self, expression):
        self.SetWeightExpression(expression, "Background")

    def SetWeightExpression(self, expression, className=""):
        """Per-event weights of one class ('' = every class); negative weights are kept
        and counted in the summary."""
        self._weights[str(className)] = _checked(expression, "weight expression")

    def SetCut(self, cut, className=""):
        self._cuts[str(className)] = _checked(cut, "cut")

    def AddCut(self, cut, className=""):
        key = str(className)
        self._cuts[key] = combine_cuts(self._cuts.get(key, ""), _checked(cut, "cut"))

    # -- preparation ---------------------------------------------------------------------
    def PrepareTrainingAndTestTree(self, *args, **keywords):
        """``(cut, options)`` or ``(signal cut, background cut, options)``; options also as
        keywords. Opens every tree, checks every variable, selects and splits the events."""
        if any(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
            raise OptionError("PrepareTrainingAndTestTree(cut, nTrainS, nTrainB, nTestS, "
                              "nTestB, ...) is TMVA's deprecated form; give the numbers as "
                              "options: nTrain_Signal=...:nTest_Signal=...")
        texts = [str(a) if a is not None else "" for a in args]
        if len(texts) > 3:
            raise OptionError(f"PrepareTrainingAndTestTree takes (cut, options) or (signal "
                              f"cut, background cut, options); got {len(texts)} arguments")
        class_names = list(dict.fromkeys(r.class_name for r in self._requests))
        options_text = texts[-1] if len(texts) >= 2 else ""
        cuts_given = texts[:-1] if len(texts) >= 2 else texts
        options = prepare_options(class_names).parse(options_text, keywords)

        for given in cuts_given:
            _checked(given, "cut")
        cuts = {name: self._class_cut(name, cuts_given, class_names) for name in class_names}
        weights = {name: self._weights.get(name) or self._weights.get("", "")
                   for name in class_names}
        layout = Layout(self._arrays, self._scalars, self._roles)
        self.dataset = prepare(self._name, layout, self._requests, cuts, weights, options)
        print(self.dataset.summary())
        return self.dataset

    def _class_cut(self, name, cuts_given, class_names):
        if len(cuts_given) == 2:
            if name not in ("Signal", "Background"):
                raise OptionError(f"a signal cut and a background cut were given, but class "
                                  f"{name!r} is neither; give one cut for all classes, or "
                                  f"per-class cuts with SetCut(cut, className)")
            given = cuts_given[0] if name == "Signal" else cuts_given[1]
        else:
            given = cuts_given[0] if cuts_given else ""
        return combine_cuts(given, self._cuts.get(""), self._cuts.get(name))


def _checked(text, what):
    """``text`` (a cut or weight expression; empty or None: none) as a string, refused here
    with an ExpressionError if it is not a valid expression."""
    text = "" if text is None else str(text)
    if text.strip():
        parse(text, what)
    return text


def _check_type(kind, name):
    if str(kind) not in ("F", "D", "I"):
        raise DataError(f"the type of {name!r} must be 'F', 'D' or 'I', got {kind!r}")
