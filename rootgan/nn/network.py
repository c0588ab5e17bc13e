"""A feed-forward network: an ordered list of layers sharing one flat parameter vector.

All parameters live in one contiguous array (``network.parameters``) and all gradients in
another (``network.gradients``), so an optimiser step is a single kernel over the whole
network. Each layer's arrays are views into them, exported by name (``layer3_weight``).
"""

import numpy as np

from ..errors import DataError, LayoutError, WeightsError
from .layers import Conv2D, Upsample2D


class Network:
    def __init__(self, layers, input_shape, dtype=np.float32, name="network", texts=None):
        self.name = name
        self.layers = list(layers)
        self.texts = list(texts) if texts is not None else [l.kind for l in self.layers]
        self.input_shape = _checked_shape(input_shape, name)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise LayoutError(f"{name}: the engine computes in float32 (float64 for gradient "
                              f"checks), not {self.dtype}")
        self._batch = None  # batch size of the last forward, which backward must match
        shape = self.input_shape
        for index, layer in enumerate(self.layers):
            try:
                layer.build(shape, self.dtype)
            except LayoutError as error:
                raise LayoutError(
                    f"{name} layer {index} ({self.texts[index]}), input "
                    f"{'|'.join(map(str, shape))}: {error}"
                ) from None
            shape = layer.shape
        self.output_shape = shape
        for before, after in zip(self.layers, self.layers[1:]):
            if isinstance(before, Upsample2D) and isinstance(after, Conv2D):
                before.fused = after.fuse_upsample(before)
        self._allocate_parameters()

    def _allocate_parameters(self):
        layout = []
        offset = 0
        for index, layer in enumerate(self.layers):
            for short, shape in layer.parameter_shapes().items():
                size = int(np.prod(shape))
                layout.append((index, short, shape, offset, size))
                offset += size
        self.parameters = np.zeros(offset, self.dtype)
        self.gradients = np.zeros(offset, self.dtype)
        # which entries are weights (regularised) rather than biases or scales
        self.weight_mask = np.zeros(offset, np.bool_)
        for _, short, _, start, size in layout:
            self.weight_mask[start:start + size] = short == "weight"
        self._names = {}
        per_layer = [({}, {}) for _ in self.layers]
        for index, short, shape, start, size in layout:
            params, grads = per_layer[index]
            params[short] = self.parameters[start:start + size].reshape(shape)
            grads[short] = self.gradients[start:start + size].reshape(shape)
            self._names[f"layer{index}_{short}"] = params[short]
        for layer, (params, grads) in zip(self.layers, per_layer):
            layer.bind(params, grads)
        # state that is saved and loaded with the parameters but not trained (batch-norm
        # running statistics, the dropout stream's position)
        self.buffer_names = []
        for index, layer in enumerate(self.layers):
            for short, array in layer.buffers().items():
                self._names[f"layer{index}_{short}"] = array
                self.buffer_names.append(f"layer{index}_{short}")

    @property
    def n_parameters(self):
        return self.parameters.size

    # -- computation -------------------------------------------------------------------
    def forward(self, x, training=True):
        """Output for a batch ``x`` of shape ``(n, *input_shape)`` or ``(n, prod)``.

        The result is the last layer's buffer, overwritten by the next call: copy it to
        keep it."""
        x = np.asarray(x)
        n = x.shape[0]
        size = int(np.prod(self.input_shape))
        if x.dtype != self.dtype or x.size != n * size or not x.flags.c_contiguous:
            raise DataError(
                f"{self.name} expects a C-contiguous {self.dtype} batch of shape "
                f"(n, {', '.join(map(str, self.input_shape))}); got {x.dtype} {x.shape}"
            )
        out = x.reshape(n, size)
        for layer in self.layers:
            out = layer.forward(out, training)
        self._batch = n
        return out.reshape((n,) + self.output_shape)

    def backward(self, grad_output, input_grad=True, param_grads=True):
        """Back-propagate ``d loss / d output`` from the last ``forward``.

        Adds parameter gradients into ``self.gradients`` when ``param_grads`` (call
        ``zero_grad`` first to start afresh) and returns ``d loss / d input`` when
        ``input_grad``. The generator step uses ``param_grads=False`` on the
        discriminator: only the gradient reaching the image is needed."""
        n = grad_output.shape[0]
        size = int(np.prod(self.output_shape))
        if n != self._batch or grad_output.size != n * size:
            raise DataError(
                f"{self.name}.backward needs the gradient of the last forward's output, shape "
                f"({self._batch}, {', '.join(map(str, self.output_shape))}); got "
                f"{grad_output.shape}" + ("" if self._batch else " and no forward ran yet"))
        grad = np.ascontiguousarray(grad_output, self.dtype).reshape(n, -1)
        last = len(self.layers) - 1
        for index in range(last, -1, -1):
            need_dx = input_grad or index > 0
            grad = self.layers[index].backward(grad, need_dx, param_grads)
        return grad.reshape((n,) + self.input_shape) if input_grad else None

    def zero_grad(self):
        self.gradients[:] = 0

    # -- parameters as a mapping -------------------------------------------------------
    def get_parameters(self):
        """``{name: copy}`` of every parameter array, in layer order."""
        return {name: view.copy() for name, view in self._names.items()}

    def get_buffers(self):
        """``{name: copy}`` of the state saved with the parameters but not trained."""
        return {name: self._names[name].copy() for name in self.buffer_names}

    def set_buffers(self, mapping):
        """Load the buffers ``mapping`` holds (an older file may hold none)."""
        for name in self.buffer_names:
            if name in mapping:
                self._names[name][...] = mapping[name]

    def set_parameters(self, mapping):
        """Load parameters from ``{name: array}``; names and shapes must match exactly."""
        missing = [name for name in self._names if name not in mapping]
        extra = [name for name in mapping if name not in self._names]
        if missing or extra:
            raise WeightsError(
                f"parameters do not match {self.name}: missing {missing or 'none'}, "
                f"unexpected {extra or 'none'}; expected exactly {list(self._names)}"
            )
        for name, view in self._names.items():
            value = np.asarray(mapping[name])
            if value.shape != view.shape:
                raise WeightsError(
                    f"{self.name} parameter {name} has shape {view.shape}, got {value.shape}"
                )
            if not np.all(np.isfinite(value)):
                raise WeightsError(f"{self.name} parameter {name} holds NaN or infinite values")
        for name, view in self._names.items():
            view[...] = mapping[name]

    # -- description ---------------------------------------------------------------------
    def summary(self):
        """A Keras-style table: layer, output shape, parameter count."""
        rows = [("#", "layer", "output", "parameters"),
                ("", "input", _shape_text(self.input_shape), "")]
        for index, (layer, text) in enumerate(zip(self.layers, self.texts)):
            count = sum(int(np.prod(s)) for s in layer.parameter_shapes().values())
            rows.append((str(index), text, _shape_text(layer.shape), f"{count:,}"))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [f"{self.name}"]
        for r, row in enumerate(rows):
            lines.append("  ".join([row[0].rjust(widths[0]), row[1].ljust(widths[1]),
                                    row[2].ljust(widths[2]), row[3].rjust(widths[3])]))
            if r == 0:
                lines.append("-" * (sum(widths) + 6))
        lines.append(f"total parameters: {self.n_parameters:,}")
        return "\n".join(lines)

    def get_config(self):
        return {"name": self.name, "input_shape": self.input_shape,
                "layers": [layer.get_config() for layer in self.layers]}


def _checked_shape(shape, name):
    """An input shape: (features,) or (depth, height, width), positive integers."""
    try:
        values = tuple(shape)
        ok = len(values) in (1, 3) and all(int(v) == v and v >= 1 for v in values)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise LayoutError(f"{name}: the input shape must be (features,) or (depth, height, "
                          f"width) of positive integers, got {shape!r}")
    return tuple(int(v) for v in values)


def _shape_text(shape):
    return " x ".join(map(str, shape))
