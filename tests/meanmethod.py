"""A test-only method for the Factory, output file, weights file and Reader: its "model"
is the weighted per-pixel mean and spread of the training images, and its response an
image's mean squared pull against them. It never ships in rootgan/."""

import numpy as np

from rootgan.methods import MethodBase, register_method
from rootgan.options import Option

KIND = 9001


class MeanImage(MethodBase):
    type_name = "MeanImage"

    @classmethod
    def declared_options(cls):
        return [Option("Epochs", "int", 2, "passes over the training data", minimum=1),
                Option("Floor", "float", 1e-3, "smallest pixel spread", minimum=0)]

    @property
    def image(self):
        return next(iter(self.variables["arrays"]))

    def train(self, dataset, log):
        self.history = []
        rng = np.random.default_rng(0)
        for epoch in range(self.options["Epochs"]):
            total = squares = weight = 0.0
            with log.progress(len(dataset.training), self.title) as bar:
                for batch in dataset.training.batches(16, rng):
                    w = batch["weight"][:, None]
                    total = total + (w * batch["image"]).sum(axis=0)
                    squares = squares + (w * batch["image"] ** 2).sum(axis=0)
                    weight += w.sum()
                    bar.update(len(w))
            self.mean = (total / weight).astype(np.float32)
            spread = np.sqrt(np.maximum(squares / weight - self.mean ** 2, 0))
            self.spread = np.maximum(spread, self.options["Floor"]).astype(np.float32)
            self.history.append(float(self.mean.mean()))
            log.info(self.title, f"epoch {epoch + 1}: mean pixel {self.history[-1]:.4f}")

    def response(self, events):
        pulls = (np.asarray(events[self.image]) - self.mean) / self.spread
        return (pulls ** 2).mean(axis=1)

    def write_training(self, directory):
        epochs = len(self.history)
        directory.histogram("history_mean_pixel", self.history, np.arange(epochs + 1) + 0.5,
                            "mean pixel per epoch", "epoch", "mean pixel")

    def write_test(self, directory, dataset, log):
        edges = np.arange(self.mean.size + 1)
        directory.histogram("mean_image", self.mean, edges, "mean image", "pixel")

    def evaluate(self, dataset, log):
        events = dataset.test.read_all()
        return {"test_mean_pull2": float(self.response(events).mean())}

    def weights_parameters(self):
        return {"mean": self.mean, "spread": self.spread}

    def weights_settings(self):
        return {"image": self.image, "history": self.history}

    def load_weights(self, content):
        self.mean = content.parameters["mean"]
        self.spread = content.parameters["spread"]
        self.history = content.method["history"]


register_method(KIND, MeanImage)
