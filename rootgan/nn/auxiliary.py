"""The auxiliary head of an ACGAN discriminator (Odena et al. 2017): extra outputs of the
discriminator's last layer that predict each condition of an image.

Each condition is a ``Regression`` (one output, squared error against the standardised
value; CaloGAN's energy regression) or a ``Classification`` (one logit per class, softmax
cross-entropy; the class is the nearest of the known class values). Losses are
``sum_i w_i l_i / n`` like the adversarial ones, so event weights scale both alike. They
are small numpy computations on an (n, outputs) block; their gradients are exact (checked
against finite differences in the tests).
"""

import numpy as np

from ..errors import DataError


class Regression:
    outputs = 1

    def loss(self, predicted, target, weights):
        """``sum_i w_i (prediction_i - target_i)^2 / n`` and its gradient."""
        difference = predicted[:, 0] - target
        n = len(target)
        return float(np.sum(weights * difference ** 2) / n), (2 * weights * difference / n)[:, None]

    def predict(self, predicted):
        return predicted[:, 0]


class Classification:
    def __init__(self, values):
        """``values``: the condition's class values (standardised), in class order."""
        self.values = np.asarray(values, np.float64)
        self.outputs = len(self.values)
        if self.outputs < 2:
            raise DataError("a classification head needs at least two classes")

    def classes(self, target):
        """The index of the class value nearest each target."""
        return np.abs(np.asarray(target, np.float64)[:, None] - self.values[None, :]).argmin(1)

    def loss(self, predicted, target, weights):
        """``sum_i w_i CE_i / n``, CE the softmax cross-entropy of the logits ``predicted``,
        and its gradient."""
        logits = predicted.astype(np.float64)
        logits = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        rows = np.arange(len(target))
        index = self.classes(target)
        total = len(target)
        loss = float(-np.sum(weights * np.log(np.maximum(probabilities[rows, index], 1e-300)))
                     / total)
        grad = probabilities
        grad[rows, index] -= 1
        return loss, grad * (weights / total)[:, None]

    def predict(self, predicted):
        return self.values[np.argmax(predicted, axis=1)]


class AuxiliaryHead:
    """One task per condition, their outputs side by side after the adversarial output."""

    def __init__(self, tasks, weight=1.0):
        self.tasks = list(tasks)
        self.weight = float(weight)
        self.outputs = sum(task.outputs for task in self.tasks)

    def _blocks(self):
        start = 0
        for index, task in enumerate(self.tasks):
            yield index, task, slice(start, start + task.outputs)
            start += task.outputs

    def loss(self, predicted, conditions, weights=None):
        """``weight`` x the sum of the tasks' losses on the head's outputs ``predicted``
        (n, outputs) for the standardised ``conditions`` (n, k); and its gradient, in the
        dtype of ``predicted``."""
        n = predicted.shape[0]
        weights = np.ones(n) if weights is None else np.asarray(weights, np.float64)
        total = 0.0
        grad = np.empty(predicted.shape, np.float64)
        for index, task, block in self._blocks():
            loss, grad[:, block] = task.loss(predicted[:, block].astype(np.float64),
                                             conditions[:, index].astype(np.float64), weights)
            total += loss
        return self.weight * total, (self.weight * grad).astype(predicted.dtype)

    def predict(self, predicted):
        """The predicted standardised conditions (n, k): regressed values, or the value of
        the most probable class."""
        return np.stack([task.predict(predicted[:, block]) for _, task, block in self._blocks()],
                        axis=1)
