"""``TMVA.Factory``: books methods on prepared DataLoaders, trains, tests and evaluates them,
and writes the output file and the weights files.

The output file is laid out like TMVA's: ``<dataset>/TrainTree`` and ``<dataset>/TestTree``
(classID, className, the variables with arrays as ``name[N]/F``, spectators, conditions,
weight, one response branch per method) and ``<dataset>/Method_<Type>/<Title>/`` with each
method's objects. It is complete and valid after every stage: each stage writes a copy with
its additions and renames it over the previous file (``rootgan.io.output.staged``).
"""

import os
import time

import numpy as np

from ..errors import DataError, OptionError
from ..io.output import create_empty, staged, write_tree
from ..io.weights import WeightsContent, environment_info, file_fingerprint, write_weights
from ..methods.base import MethodDirectory, branch_name, method_class
from ..options import Option, OptionSet
from .log import Log

FACTORY_OPTIONS = OptionSet("Factory", [
    Option("V", "bool", False, "verbose output"),
    Option("Silent", "bool", False, "print nothing but errors"),
    Option("Color", "bool", True, "bold stage headers on a terminal"),
    Option("DrawProgressBar", "bool", True, "a progress bar while training, on a terminal"),
    Option("Transformations", "string", "I", "TMVA's input transformations; generation uses "
           "the method's own pixel transform (VarTransform), so only I applies"),
    Option("Correlations", "bool", False, "TMVA's correlation output; not used for generation"),
    Option("ROC", "bool", True, "TMVA's ROC curves; not used for generation"),
    Option("ModelPersistence", "bool", True, "write each method's weights file"),
    Option("AnalysisType", "enum", "Auto", "Classification, Regression, Multiclass, Auto, or "
           "Generation (GANs)", allowed=("Classification", "Regression", "Multiclass", "Auto",
                                          "Generation")),
])

_SOURCE = "Factory"


class Factory:
    def __init__(self, jobName, outputFile, options="", **keywords):
        self.job = str(jobName)
        if not isinstance(outputFile, (str, os.PathLike)):
            raise DataError(f"Factory needs the output file's path, got "
                            f"{type(outputFile).__name__}; rootgan writes the file itself")
        self.output = os.fspath(outputFile)
        self.options = FACTORY_OPTIONS.parse(options, keywords)
        self.log = Log(silent=self.options["Silent"], verbose=self.options["V"],
                       color=self.options["Color"],
                       progress_bar=self.options["DrawProgressBar"])
        self._note_generation_irrelevant()
        self._methods = {}    # (dataset name, title) -> method
        self._loaders = {}    # dataset name -> DataLoader
        self._trees_written = set()
        create_empty(self.output)
        self.log.header(_SOURCE, f"job {self.job!r}, output file {self.output}")

    def _note_generation_irrelevant(self):
        given = self.options.given
        if "Transformations" in given and self.options["Transformations"] != "I":
            self.log.note(_SOURCE, f"Transformations={self.options['Transformations']} is "
                          f"ignored: GAN methods transform pixels with VarTransform")
        for name in ("Correlations", "ROC"):
            if name in given and self.options[name]:
                self.log.note(_SOURCE, f"{name} is ignored: it means nothing for generation")
        if self.options["AnalysisType"] not in ("Auto", "Generation"):
            self.log.note(_SOURCE, f"AnalysisType={self.options['AnalysisType']} is ignored: "
                          f"rootgan's methods generate (AnalysisType=Generation)")

    # -- booking -------------------------------------------------------------------------
    def BookMethod(self, loader, theMethod, methodTitle, options="", **keywords):
        """Book a method of kind ``theMethod`` (``TMVA.Types.kGAN``) on a prepared loader."""
        if loader.dataset is None:
            raise DataError(f"DataLoader {loader.GetName()!r} is not prepared: call "
                            f"PrepareTrainingAndTestTree before BookMethod")
        title = str(methodTitle)
        key = (loader.GetName(), title)
        if key in self._methods:
            raise OptionError(f"a method titled {title!r} is already booked on dataset "
                              f"{key[0]!r}; give each method its own title")
        cls = method_class(theMethod)
        method = cls(self.job, title, loader.variables_spec(), options, keywords)
        method.weights_path = self.weights_path(key[0], title)
        if method.options["H"]:
            self.log.info(cls.type_name, method.option_set.help_text())
        self._methods[key] = method
        self._loaders[loader.GetName()] = loader
        self.log.info(_SOURCE, f"booked method {cls.type_name} {title!r} on dataset "
                      f"{key[0]!r}")
        self.log.verbose(_SOURCE, f"options of {title!r}: "
                         f"{method.option_set.format(method.options)}")
        return method

    def GetMethod(self, datasetName, methodTitle):
        key = (str(datasetName), str(methodTitle))
        if key not in self._methods:
            booked = ", ".join(f"{d}/{t}" for d, t in self._methods) or "none"
            raise OptionError(f"no method {methodTitle!r} on dataset {datasetName!r}; booked: "
                              f"{booked}")
        return self._methods[key]

    def _require_methods(self, stage, trained=False):
        if not self._methods:
            raise OptionError(f"{stage}: no method is booked; call BookMethod first")
        untrained = [t for (_, t), m in self._methods.items() if trained and not m.trained]
        if untrained:
            raise OptionError(f"{stage}: {', '.join(map(repr, untrained))} not trained yet; "
                              f"call TrainAllMethods first")

    # -- stages --------------------------------------------------------------------------
    def TrainAllMethods(self):
        self._require_methods("TrainAllMethods")
        self.log.header(_SOURCE, "Train all methods")
        for (dataset_name, title), method in self._methods.items():
            dataset = self._loaders[dataset_name].dataset
            self.log.info(_SOURCE, f"train method {method.type_name} {title!r} on dataset "
                          f"{dataset_name!r}")
            self.log.info(_SOURCE, dataset.summary())
            start = time.perf_counter()
            method.train(dataset, self.log)
            method.trained = True
            method.training_seconds = time.perf_counter() - start
            method.training_events = len(dataset.training)
            self.log.info(_SOURCE, f"training of {title!r} took "
                          f"{method.training_seconds:.1f} s")
            if self.options["ModelPersistence"]:
                path = self.weights_path(dataset_name, title)
                write_weights(path, self._weights_content(method, dataset))
                self.log.info(_SOURCE, f"weights of {title!r} written to {path}")
        with staged(self.output) as handle:
            for (dataset_name, _), method in self._methods.items():
                method.write_training(self._directory(handle, dataset_name, method))
        self.log.info(_SOURCE, f"training results written to {self.output}")

    def TestAllMethods(self):
        self._require_methods("TestAllMethods", trained=True)
        self.log.header(_SOURCE, "Test all methods")
        with staged(self.output) as handle:
            for dataset_name in dict.fromkeys(d for d, _ in self._methods):
                if dataset_name not in self._trees_written:
                    self._write_event_trees(handle, dataset_name)
            for (dataset_name, title), method in self._methods.items():
                self.log.info(_SOURCE, f"test method {method.type_name} {title!r}")
                method.write_test(self._directory(handle, dataset_name, method),
                                  self._loaders[dataset_name].dataset, self.log)
        self._trees_written.update(d for d, _ in self._methods)
        self.log.info(_SOURCE, f"test results written to {self.output}")

    def EvaluateAllMethods(self):
        self._require_methods("EvaluateAllMethods", trained=True)
        self.log.header(_SOURCE, "Evaluate all methods")
        results = {}
        for (dataset_name, title), method in self._methods.items():
            metrics = method.evaluate(self._loaders[dataset_name].dataset, self.log)
            results[(dataset_name, title)] = metrics
            for name, value in metrics.items():
                self.log.info(_SOURCE, f"{dataset_name}/{title}: {name} = {value:.6g}")
        with staged(self.output) as handle:
            for (dataset_name, title), method in self._methods.items():
                method.write_evaluation(self._directory(handle, dataset_name, method),
                                        results[(dataset_name, title)])
        self.log.info(_SOURCE, f"evaluation results written to {self.output}")
        return results

    # -- helpers -------------------------------------------------------------------------
    def weights_path(self, dataset_name, title):
        return os.path.join(dataset_name, "weights", f"{self.job}_{title}.weights.root")

    @staticmethod
    def _directory(handle, dataset_name, method):
        return MethodDirectory(handle, f"{dataset_name}/{method.directory_path}")

    def _write_event_trees(self, handle, dataset_name):
        """TrainTree and TestTree: every event with its class, variables, weight and the
        response of each method booked on the dataset."""
        loader = self._loaders[dataset_name]
        dataset = loader.dataset
        methods = [m for (d, _), m in self._methods.items() if d == dataset_name]
        names = np.array(dataset.class_names, dtype=object)
        for tree_name, split in (("TrainTree", dataset.training), ("TestTree", dataset.test)):
            def chunks(split=split):
                for events in split.read_chunks():
                    columns = {"classID": events["classID"].astype(np.int32),
                               "className": names[events["classID"]]}
                    for label, values in events.items():
                        if label not in ("classID", "weight"):
                            columns[branch_name(label)] = values
                    columns["weight"] = events["weight"].astype(np.float32)
                    for method in methods:
                        columns[branch_name(method.title)] = np.asarray(
                            method.response(events), np.float32)
                    yield columns
            count = write_tree(handle, f"{dataset_name}/{tree_name}", chunks(),
                               title=f"{tree_name} of dataset {dataset_name}")
            self.log.info(_SOURCE, f"{dataset_name}/{tree_name}: {count:,} events")

    def _weights_content(self, method, dataset):
        info = environment_info()
        info.update({"job": self.job, "title": method.title, "method": method.type_name,
                     "training_events": method.training_events,
                     "training_seconds": round(method.training_seconds, 3),
                     "inputs": [file_fingerprint(path) for path in dataset.input_files()]})
        return WeightsContent(info, method.option_text, dict(method.options), method.variables,
                              method.weights_settings(), method.weights_parameters())
