"""Layout strings -> networks, in the grammar of gan-options.md (TMVA's MethodDL grammar
extended with UPSAMPLE and TRANSCONV). Layers are separated by ``,``, fields by ``|``;
layer and activation words are case-sensitive, as in TMVA."""

import numpy as np

from ..errors import LayoutError, did_you_mean
from .layers import (BatchNorm, Conv2D, Dense, Dropout, LocallyConnected2D, MaxPool2D,
                     MinibatchDiscrimination, Reshape, TransposedConv2D, Upsample2D)
from .network import Network

ACTIVATIONS = ("RELU", "LEAKYRELU", "TANH", "SIGMOID", "LINEAR", "SOFTSIGN", "SYMMRELU",
               "GAUSS", "SOFTPLUS", "ELU")

FORMS = {
    "DENSE": "DENSE|width|ACT",
    "CONV": "CONV|n|fH|fW|strideR|strideC|padH|padW|ACT",
    "MAXPOOL": "MAXPOOL|fH|fW|strideR|strideC",
    "RESHAPE": "RESHAPE|FLAT or RESHAPE|d|h|w",
    "UPSAMPLE": "UPSAMPLE|fH|fW",
    "TRANSCONV": "TRANSCONV|n|fH|fW|strideR|strideC|padH|padW|ACT or "
                 "TRANSCONV|n|fH|fW|strideR|strideC|padH|padW|outPadH|outPadW|ACT",
    "LOCAL": "LOCAL|n|fH|fW|strideR|strideC|padH|padW|ACT",
    "BNORM": "BNORM",
    "DROPOUT": "DROPOUT|rate",
    "MINIBATCH": "MINIBATCH|nKernels|kernelDim",
}
# layers that take the trailing SPECTRALNORM field
SPECTRAL_WORDS = ("DENSE", "CONV", "LOCAL", "TRANSCONV")


def _integers(fields, names, where):
    values = []
    for field, name in zip(fields, names):
        try:
            values.append(int(field))
        except ValueError:
            raise LayoutError(f"{where}: {name} must be an integer, got {field!r}") from None
    return values


def _activation(word, where):
    if word in ACTIVATIONS:
        return word
    raise LayoutError(f"{where}: unknown activation {word!r}; expected one of "
                      f"{', '.join(ACTIVATIONS)}{did_you_mean(word, ACTIVATIONS)}")


def _expect_fields(word, fields, counts, where):
    if len(fields) - 1 not in counts:
        trailing = "|SPECTRALNORM" if word in SPECTRAL_WORDS else ""
        raise LayoutError(f"{where}: {word} takes {' or '.join(map(str, counts))} fields, got "
                          f"{len(fields) - 1}; expected {FORMS[word]}"
                          + (f" (optionally followed by {trailing})" if trailing else ""))


def parse_layer(text, index, slope, network_name="network"):
    """One layer from its layout text, e.g. ``CONV|32|5|5|1|1|2|2|LEAKYRELU``."""
    where = f"{network_name} layer {index} ({text})"
    fields = [f.strip() for f in text.split("|")]
    word = fields[0]
    if word not in FORMS:
        raise LayoutError(f"{where}: unknown layer {word!r}; expected one of "
                          f"{', '.join(FORMS)}{did_you_mean(word, FORMS)}")
    spectral = fields[-1] == "SPECTRALNORM"
    if spectral:
        if word not in SPECTRAL_WORDS:
            raise LayoutError(f"{where}: SPECTRALNORM is a trailing field of "
                              f"{', '.join(SPECTRAL_WORDS)} only, not of {word}")
        fields = fields[:-1]
    try:
        if word == "DENSE":
            _expect_fields(word, fields, (2,), where)
            (width,) = _integers(fields[1:2], ["width"], where)
            return Dense(width, _activation(fields[2], where), slope, spectral)
        if word in ("CONV", "TRANSCONV", "LOCAL"):
            counts = (8, 10) if word == "TRANSCONV" else (8,)
            _expect_fields(word, fields, counts, where)
            names = ["n", "fH", "fW", "strideR", "strideC", "padH", "padW", "outPadH",
                     "outPadW"]
            numbers = _integers(fields[1:-1], names, where)
            act = _activation(fields[-1], where)
            n, fh, fw, sr, sc, ph, pw = numbers[:7]
            if word == "CONV":
                return Conv2D(n, (fh, fw), (sr, sc), (ph, pw), act, slope, spectral)
            if word == "LOCAL":
                return LocallyConnected2D(n, (fh, fw), (sr, sc), (ph, pw), act, slope, spectral)
            out_pad = tuple(numbers[7:9]) if len(numbers) == 9 else (0, 0)
            return TransposedConv2D(n, (fh, fw), (sr, sc), (ph, pw), out_pad, act, slope,
                                    spectral)
        if word == "MAXPOOL":
            _expect_fields(word, fields, (4,), where)
            fh, fw, sr, sc = _integers(fields[1:], ["fH", "fW", "strideR", "strideC"], where)
            return MaxPool2D((fh, fw), (sr, sc))
        if word == "MINIBATCH":
            _expect_fields(word, fields, (2,), where)
            kernels, dims = _integers(fields[1:], ["nKernels", "kernelDim"], where)
            return MinibatchDiscrimination(kernels, dims)
        if word == "BNORM":
            _expect_fields(word, fields, (0,), where)
            return BatchNorm()
        if word == "DROPOUT":
            _expect_fields(word, fields, (1,), where)
            try:
                rate = float(fields[1])
            except ValueError:
                raise LayoutError(f"{where}: rate must be a number in [0, 1), got "
                                  f"{fields[1]!r}") from None
            return Dropout(rate)
        if word == "UPSAMPLE":
            _expect_fields(word, fields, (2,), where)
            return Upsample2D(_integers(fields[1:], ["fH", "fW"], where))
        _expect_fields(word, fields, (1, 3), where)
        if len(fields) == 2:
            if fields[1] != "FLAT":
                raise LayoutError(f"{where}: expected {FORMS['RESHAPE']}, got {text!r}")
            return Reshape()
        return Reshape(_integers(fields[1:], ["depth", "height", "width"], where))
    except LayoutError as error:
        message = str(error)
        raise LayoutError(message if message.startswith(where) else f"{where}: {message}") \
            from None


def split_layout(layout):
    texts = [t.strip() for t in str(layout).split(",")]
    if not str(layout).strip():
        raise LayoutError("the layout is empty; give layers separated by ',' such as "
                          "DENSE|128|LEAKYRELU,DENSE|1|LINEAR")
    for index, text in enumerate(texts):
        if not text:
            raise LayoutError(f"layer {index} of layout {layout!r} is empty (two ',' in a row "
                              f"or a trailing ',')")
    return texts


def build_network(layout, input_shape, leaky_relu_slope=0.2, dtype=np.float32,
                  name="network"):
    """Build and shape-check a network; raises LayoutError before any data is read."""
    if not leaky_relu_slope >= 0:
        raise LayoutError(f"LeakyReluSlope must be >= 0, got {leaky_relu_slope}")
    texts = split_layout(layout)
    layers = [parse_layer(text, index, leaky_relu_slope, name)
              for index, text in enumerate(texts)]
    return Network(layers, input_shape, dtype=dtype, name=name, texts=texts)
