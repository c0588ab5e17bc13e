"""Classifier two-sample test: can a small network tell generated events from real ones?

A dense network of rootgan's own engine (DENSE 64 RELU, DENSE 64 RELU, DENSE 1 logit) is
trained on half of each sample to separate generated (label 1) from real (label 0) events,
from the standardised observable vector and the log-scaled pixels; the epoch with the
lowest loss on a validation fifth of the training half is kept, and the area under the
ROC curve is measured on the other halves, which it never saw. 0.5: indistinguishable;
1: the generated events are told apart every time. Event weights weight the loss and the
AUC; the classes are balanced to equal total weight.
"""

import numpy as np

from ..errors import DataError
from ..nn import build_network, initialize, make_optimizer
from ..nn.losses import BinaryCrossEntropy

LAYOUT = "DENSE|64|RELU,DENSE|64|RELU,DENSE|1|LINEAR"


def _features(measured, centre, scale, pixel_scale):
    _, vector = measured.vector()
    # negative pixels (a generator without PixelFloor can make them) count as empty
    pixels = np.log1p(np.maximum(measured.pixels, 0.0) / pixel_scale)
    return np.ascontiguousarray(np.concatenate([(vector - centre) / scale, pixels], axis=1),
                                np.float32)


def weighted_auc(scores, labels, weights=None):
    """P(score of a label-1 event > score of a label-0 event), ties counting half,
    each pair weighted by the product of the event weights."""
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels).astype(bool)
    weights = np.ones(scores.size) if weights is None else np.asarray(weights, np.float64)
    order = np.argsort(scores, kind="mergesort")
    scores, labels, weights = scores[order], labels[order], weights[order]
    _, starts = np.unique(scores, return_index=True)
    positive = np.add.reduceat(np.where(labels, weights, 0.0), starts)
    negative = np.add.reduceat(np.where(labels, 0.0, weights), starts)
    below = np.cumsum(negative) - negative
    return float((positive * (below + 0.5 * negative)).sum()
                 / (positive.sum() * negative.sum()))


def auc_uncertainty(auc, n_positive, n_negative):
    """Hanley & McNeil (1982) standard error of an AUC from n1 and n2 events."""
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    variance = (auc * (1 - auc) + (n_positive - 1) * (q1 - auc ** 2)
                + (n_negative - 1) * (q2 - auc ** 2)) / (n_positive * n_negative)
    return float(np.sqrt(max(variance, 0.0)))


def _effective(weights):
    return weights.sum() ** 2 / (weights ** 2).sum()


def classifier_auc(real, generated, seed=0, epochs=40, batch_size=128,
                   learning_rate=1e-3):
    """(AUC, uncertainty) of a classifier separating two :class:`Measured` samples on
    events it was not trained on."""
    if len(real) < 20 or len(generated) < 20:
        raise DataError(f"the classifier test needs at least 20 events per sample; got "
                        f"{len(real)} real and {len(generated)} generated (compare more "
                        f"events, or skip it: --no-classifier, classifier=False)")
    rng = np.random.default_rng(seed)
    _, vector = real.vector()
    centre, scale = vector.mean(axis=0), vector.std(axis=0)
    scale[scale == 0] = 1
    lit = real.pixels[real.pixels > 0]
    pixel_scale = float(np.median(lit)) if lit.size else 1.0
    samples = []
    for label, measured in ((0.0, real), (1.0, generated)):
        features = _features(measured, centre, scale, pixel_scale)
        order = rng.permutation(len(features))
        train, test = order[:len(order) // 2], order[len(order) // 2:]
        validation, train = train[:len(train) // 5], train[len(train) // 5:]
        weights = measured.weights.astype(np.float32)
        # balance the classes: each has total training weight = its number of events
        weights = weights * np.float32(len(train) / max(weights[train].sum(), 1e-30))
        samples.append({part: (features[rows], weights[rows]) for part, rows in
                        (("train", train), ("validation", validation), ("test", test))})

    network = build_network(LAYOUT, (samples[0]["train"][0].shape[1],), name="classifier")
    initialize(network, rng)
    optimizer = make_optimizer("ADAM", network, learning_rate=learning_rate, beta1=0.9)
    loss = BinaryCrossEntropy()
    best, best_parameters = np.inf, network.parameters.copy()
    steps = max(len(samples[0]["train"][0]), len(samples[1]["train"][0])) // batch_size + 1
    for _ in range(epochs):
        orders = [rng.permutation(len(s["train"][0])) for s in samples]
        for step in range(steps):
            network.zero_grad()
            for target, (sample, order) in enumerate(zip(samples, orders)):
                rows = order[(step * batch_size) % len(order):][:batch_size]
                if rows.size == 0:
                    continue
                features, weights = sample["train"]
                outputs = network.forward(np.ascontiguousarray(features[rows]))
                _, grad = loss(outputs, float(target), np.ascontiguousarray(weights[rows]))
                network.backward(grad, input_grad=False)
            optimizer.step()
        validation_loss = sum(
            loss(network.forward(s["validation"][0]).copy(), float(target),
                 s["validation"][1])[0] for target, s in enumerate(samples)
            if len(s["validation"][0]))
        if validation_loss < best:
            best, best_parameters = validation_loss, network.parameters.copy()
    network.parameters[:] = best_parameters
    scores = [network.forward(s["test"][0]).ravel().copy() for s in samples]
    weights = [s["test"][1].astype(np.float64) for s in samples]
    auc = weighted_auc(np.concatenate(scores),
                       np.concatenate([np.zeros(scores[0].size), np.ones(scores[1].size)]),
                       np.concatenate(weights))
    return auc, auc_uncertainty(auc, _effective(weights[1]), _effective(weights[0]))
