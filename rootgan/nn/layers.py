"""Layers of the engine.

A layer sees each sample as one flat row: ``forward`` takes ``x (n, prod(input_shape))``
and returns ``y (n, prod(output_shape))``, the leading rows of a buffer the layer owns
(allocated for the largest batch seen and the thread count, then reused), or ``x`` itself
for layers that move no data: the result is overwritten by the next call, so copy it to
keep it. ``backward(dy)`` accumulates parameter gradients into the views the network bound
and returns the input gradient (``None`` when not asked for). Shapes are ``(features,)``
for flat data and ``(depth, height, width)`` for images, NCHW.
"""

import numba
import numpy as np

from ..errors import DataError, LayoutError
from .kernels import activations, conv, dense, local, norm, pool
from .kernels.reduce import add_partials


# Below this many input channels the per-tap GEMMs of a shifted convolution are too thin to
# beat im2col (benchmarks/bench_conv_paths.py: im2col wins at 1-2 channels, shifted GEMMs
# from 4 on).
SHIFTED_MIN_CHANNELS = 4


def conv_output_size(size, kernel, stride, pad):
    """Floor-mode output size (PyTorch / Keras convention; TMVA requires exact division)."""
    return (size + 2 * pad - kernel) // stride + 1


class Layer:
    """Base class: shape bookkeeping and per-batch buffers."""

    kind = "LAYER"

    def __init__(self):
        self.input_shape = None
        self.shape = None
        self.dtype = None
        self._capacity = 0   # batch size the buffers hold
        self._nchunks = 0    # thread count the buffers were made for
        self.params = {}
        self.grads = {}

    # -- shapes and parameters -------------------------------------------------------
    def output_shape(self, input_shape):
        raise NotImplementedError

    def parameter_shapes(self):
        """``{short name: shape}`` of the trainable arrays (needs ``build``)."""
        return {}

    def fans(self):
        """(fan_in, fan_out) for weight initialisation."""
        return (0, 0)

    def build(self, input_shape, dtype):
        self.shape = self.output_shape(tuple(input_shape))
        self.input_shape = tuple(input_shape)
        self.dtype = np.dtype(dtype)

    def bind(self, params, grads):
        """Attach parameter and gradient views (slices of the network's flat vectors)."""
        self.params = params
        self.grads = grads

    def buffers(self):
        """``{short name: array}`` of state saved with the parameters but not trained."""
        return {}

    def get_config(self):
        return {"kind": self.kind}

    @property
    def input_size(self):
        return int(np.prod(self.input_shape))

    @property
    def output_size(self):
        return int(np.prod(self.shape))

    # -- buffers -----------------------------------------------------------------------
    def _prepare(self, n):
        """Make the buffers hold ``n`` samples for the current thread count; returns the
        number of batch chunks (one per thread)."""
        nchunks = numba.get_num_threads()
        if n > self._capacity or nchunks != self._nchunks:
            capacity = max(n, self._capacity) if nchunks == self._nchunks else n
            self._allocate(capacity, nchunks)
            self._capacity, self._nchunks = capacity, nchunks
        return nchunks

    def _allocate(self, n, nchunks):
        pass

    def _empty(self, *shape):
        return np.empty(shape, self.dtype)

    # -- computation -------------------------------------------------------------------
    def forward(self, x, training=True):
        raise NotImplementedError

    def backward(self, dy, need_dx=True, need_dw=True):
        raise NotImplementedError


def _check_positive(kind, **fields):
    for name, value in fields.items():
        if value < 1:
            raise LayoutError(f"{kind} {name} must be a positive integer, got {value}")


def _check_image(kind, input_shape):
    if len(input_shape) != 3:
        raise LayoutError(
            f"{kind} needs an image input (depth|height|width) but receives flat data of "
            f"{input_shape[0]} values; put RESHAPE|d|h|w before it"
        )


class _Activated(Layer):
    """A layer followed by an activation. Activations whose derivative follows from their
    output are fused into the layer's kernels, so only the output is kept; GAUSS and
    SYMMRELU lose the input's sign, so they run as a separate pass that keeps the
    pre-activation.

    With ``spectral_norm`` (the layout's trailing SPECTRALNORM field; Miyato et al. 2018,
    as torch.nn.utils.spectral_norm) the layer computes with W / sigma(W): each training
    forward does one power-iteration step on the weight matrix (rows = output units) with
    the persistent vectors u and v, sigma = u.W v; inference uses the stored u and v. The
    gradient treats u and v as constants: dL/dW = (G - sum(G * W_sn) u v^T) / sigma."""

    def __init__(self, activation, slope, spectral_norm=False):
        super().__init__()
        if activation not in activations.CODES:
            raise LayoutError(f"unknown activation {activation!r}")
        self.activation = activation
        code = activations.CODES[activation]
        fused = code not in activations.FROM_INPUT
        self.act = code if fused else activations.LINEAR
        self.post = None if fused else code
        self.slope = float(slope)
        self.spectral_norm = bool(spectral_norm)

    @property
    def seeded(self):
        """Whether ``initialize`` gives this layer a random stream (u and v of SN)."""
        return self.spectral_norm

    def build(self, input_shape, dtype):
        super().build(input_shape, dtype)
        if self.spectral_norm:
            # W / sigma and the gradient with respect to it, reused every batch
            self.w_sn = np.empty(self.parameter_shapes()["weight"], self.dtype)
            self.g_sn = np.empty_like(self.w_sn)
            rows, columns = self._weight_matrix(self.w_sn).shape
            self.sn_u = np.full(rows, 1 / np.sqrt(rows), self.dtype)
            self.sn_v = np.full(columns, 1 / np.sqrt(columns), self.dtype)
            self.sigma = self.dtype.type(1)

    def seed(self, rng):
        for vector in (self.sn_u, self.sn_v):
            vector[:] = rng.standard_normal(vector.size)
            vector /= max(np.linalg.norm(vector), 1e-12)

    def buffers(self):
        return {"sn_u": self.sn_u, "sn_v": self.sn_v} if self.spectral_norm else {}

    def _weight_matrix(self, weight):
        """The weight as a matrix whose rows are the output units (PyTorch's choice)."""
        return weight.reshape(weight.shape[0], -1)

    def _allocate_common(self, n, nchunks, input_size, weight_parts_shape, bias_size):
        self.y = self._empty(n, self.output_size)
        self.dz = self._empty(n, self.output_size)
        self.dx = self._empty(n, input_size)
        self.dw_parts = self._empty(nchunks, *weight_parts_shape)
        self.db_parts = self._empty(nchunks, bias_size)
        if self.post is not None:
            self.z = self._empty(n, self.output_size)
            self.dpost = self._empty(n, self.output_size)

    def forward(self, x, training=True):
        if self.spectral_norm:
            weight = self.params["weight"]
            self.params["weight"] = self._normalised_weight(weight, training)
            try:
                y = self._linear_forward(x, training)
            finally:
                self.params["weight"] = weight
        else:
            y = self._linear_forward(x, training)
        if self.post is not None:
            activations.activate_from_input(y, self.z[:y.shape[0]], self.post)
        return y

    def backward(self, dy, need_dx=True, need_dw=True):
        if self.post is not None:
            n = dy.shape[0]
            activations.grad_from_input(np.ascontiguousarray(dy, self.dtype), self.z[:n],
                                        self.dpost[:n], self.post)
            dy = self.dpost[:n]
        if not self.spectral_norm:
            return self._linear_backward(dy, need_dx, need_dw)
        weight, grad = self.params["weight"], self.grads["weight"]
        self.params["weight"], self.grads["weight"] = self.w_sn, self.g_sn
        self.g_sn[...] = 0
        try:
            dx = self._linear_backward(dy, need_dx, need_dw)
        finally:
            self.params["weight"], self.grads["weight"] = weight, grad
        if need_dw:
            g = self._weight_matrix(self.g_sn)
            correction = np.sum(g * self._weight_matrix(self.w_sn))
            g -= correction * np.outer(self.sn_u, self.sn_v)
            grad += self._weight_unmatrix(g, grad.shape) / self.sigma
        return dx

    def _weight_unmatrix(self, matrix, shape):
        return matrix.reshape(shape)

    def _normalised_weight(self, weight, training):
        matrix = self._weight_matrix(weight)
        if training:  # one power-iteration step (torch: v first, then u)
            v = matrix.T @ self.sn_u
            self.sn_v[:] = v / max(np.linalg.norm(v), 1e-12)
            u = matrix @ self.sn_v
            self.sn_u[:] = u / max(np.linalg.norm(u), 1e-12)
        self.sigma = self.dtype.type(self.sn_u @ (matrix @ self.sn_v))
        np.divide(weight, self.sigma, out=self.w_sn)
        return self.w_sn

    def _reduce(self):
        add_partials(self.dw_parts, self.grads["weight"].reshape(-1))
        add_partials(self.db_parts, self.grads["bias"])


class Dense(_Activated):
    kind = "DENSE"

    def __init__(self, width, activation="LINEAR", slope=0.2, spectral_norm=False):
        super().__init__(activation, slope, spectral_norm)
        _check_positive("DENSE", width=width)
        self.width = int(width)

    def output_shape(self, input_shape):
        return (self.width,)

    def parameter_shapes(self):
        return {"weight": (self.width, self.input_size), "bias": (self.width,)}

    def fans(self):
        return (self.input_size, self.width)

    def get_config(self):
        return {"kind": self.kind, "width": self.width, "activation": self.activation}

    def _allocate(self, n, nchunks):
        self._allocate_common(n, nchunks, self.input_size, (self.width * self.input_size,),
                              self.width)

    def _linear_forward(self, x, training):
        n = x.shape[0]
        nchunks = self._prepare(n)
        self.x = x
        dense.dense_forward(x, self.params["weight"], self.params["bias"], self.y[:n], nchunks,
                            self.act, self.slope)
        return self.y[:n]

    def _linear_backward(self, dy, need_dx, need_dw):
        n = dy.shape[0]
        dense.dense_backward(self.x, self.params["weight"], self.y[:n], dy, self.dz[:n],
                             self.dx[:n], self.dw_parts, self.db_parts, self.act, self.slope,
                             need_dx, need_dw)
        if need_dw:
            self._reduce()
        return self.dx[:n] if need_dx else None


class Conv2D(_Activated):
    kind = "CONV"

    def __init__(self, filters, kernel, stride=(1, 1), padding=(0, 0), activation="LINEAR",
                 slope=0.2, spectral_norm=False):
        super().__init__(activation, slope, spectral_norm)
        self.upsample = (1, 1)
        self.filters = int(filters)
        self.kernel = tuple(int(k) for k in kernel)
        self.stride = tuple(int(s) for s in stride)
        self.padding = tuple(int(p) for p in padding)
        _check_positive(self.kind, filters=self.filters, filter_height=self.kernel[0],
                        filter_width=self.kernel[1], stride_rows=self.stride[0],
                        stride_cols=self.stride[1])
        if min(self.padding) < 0:
            raise LayoutError(f"{self.kind} padding must be >= 0, got {self.padding}")

    def output_shape(self, input_shape):
        _check_image(self.kind, input_shape)
        _, h, w = input_shape
        out = (self.filters,
               conv_output_size(h, self.kernel[0], self.stride[0], self.padding[0]),
               conv_output_size(w, self.kernel[1], self.stride[1], self.padding[1]))
        if min(out[1:]) < 1:
            raise LayoutError(
                f"{self.kind} output would be {out[1]}x{out[2]} from a {h}x{w} input "
                f"(filter {self.kernel[0]}x{self.kernel[1]}, stride {self.stride}, padding "
                f"{self.padding}); use a smaller filter or more padding"
            )
        return out

    @property
    def _geometry(self):
        return self.kernel + self.stride + self.padding

    def parameter_shapes(self):
        c_in = self.input_shape[0]
        return {"weight": (self.filters, c_in) + self.kernel, "bias": (self.filters,)}

    def fans(self):
        area = self.kernel[0] * self.kernel[1]
        return (self.input_shape[0] * area, self.filters * area)

    def get_config(self):
        return {"kind": self.kind, "filters": self.filters, "kernel": self.kernel,
                "stride": self.stride, "padding": self.padding, "activation": self.activation}

    def build(self, input_shape, dtype):
        super().build(input_shape, dtype)
        # Stride-1 convolutions with enough input channels run as shifted GEMMs, one per
        # kernel tap, fused with a preceding upsampling when there is one (see
        # kernels/conv.py); the others, and few-channel inputs whose per-tap GEMMs would be
        # too thin, use im2col.
        self.phased = (type(self) is Conv2D and self.stride == (1, 1)
                       and self.input_shape[0] >= SHIFTED_MIN_CHANNELS)

    def fuse_upsample(self, upsample):
        """Take over the nearest-neighbour ``upsample`` that feeds this layer: compute on its
        small input with summed kernel taps (same result, about fh*fw times less work)."""
        if not self.phased or type(self) is not Conv2D:
            return False
        self.upsample = upsample.factors
        return True

    def _phase_plans(self):
        """Per axis, the phase plan of the shifted path (see ``phase_plan``) and the input
        size it reads."""
        _, h, w = self.input_shape
        fh, fw = self.upsample
        return ((phase_plan(h // fh, fh, self.kernel[0], self.padding[0], self.shape[1]),
                 h // fh),
                (phase_plan(w // fw, fw, self.kernel[1], self.padding[1], self.shape[2]),
                 w // fw))

    def _phase_geometry(self):
        ((rows, h), (cols, w)) = self._phase_plans()
        self.row_plan, self.tap_rows, top, bottom = rows
        self.col_plan, self.tap_cols, left, right = cols
        self.small_shape = (self.input_shape[0], h, w)
        self.pads = (top, left, h + top + bottom, w + left + right)

    def _allocate(self, n, nchunks):
        c_in, h, w = self.input_shape
        kh, kw = self.kernel
        if not self.phased:
            self._allocate_common(n, nchunks, self.input_size, (self.filters * c_in * kh * kw,),
                                  self.filters)
            size = c_in * kh * kw * self.shape[1] * self.shape[2]
            self.cols = self._empty(nchunks, size)
            self.dcols = self._empty(nchunks, size)
            return
        self._phase_geometry()
        top, left, hp, wp = self.pads
        fh, fw = len(self.row_plan), len(self.col_plan)
        taps = int(self.row_plan[:, 1].max() * self.col_plan[:, 1].max())
        longest = int((self.row_plan[:, 2].max() - 1) * wp + self.col_plan[:, 2].max())
        self._allocate_common(n, nchunks, int(np.prod(self.small_shape)),
                              (fh, fw, taps, self.filters, c_in), self.filters)
        self.phase_weights = self._empty(fh, fw, taps, self.filters, c_in)
        self.padded = self._empty(nchunks, c_in * hp * wp)
        self.padded_grad = self._empty(nchunks, c_in * hp * wp)
        self.extended = self._empty(nchunks, self.filters * longest)

    def _linear_forward(self, x, training):
        n = x.shape[0]
        self._prepare(n)
        self.x = x
        weight = self.params["weight"]
        if not self.phased:
            c, h, w = self.input_shape
            conv.conv2d_forward(x, weight, self.params["bias"], self.y[:n], self.cols, c, h, w,
                                *self._geometry, self.shape[1], self.shape[2], self.act,
                                self.slope)
            return self.y[:n]
        conv.phase_kernels(weight, self.kind == "TRANSCONV", self.tap_rows, self.tap_cols,
                           self.row_plan, self.col_plan, self.phase_weights)
        conv.conv2d_phase_forward(x, self.phase_weights, self.params["bias"], self.y[:n],
                                  self.padded, self.extended, *self.small_shape, *self.pads,
                                  self.row_plan, self.col_plan, self.shape[1], self.shape[2],
                                  self.act, self.slope)
        return self.y[:n]

    def _linear_backward(self, dy, need_dx, need_dw):
        n = dy.shape[0]
        if not self.phased:
            c, h, w = self.input_shape
            conv.conv2d_backward(self.x, self.params["weight"], self.y[:n], dy, self.dz[:n],
                                 self.dx[:n], self.dw_parts, self.db_parts, self.cols,
                                 self.dcols, c, h, w, *self._geometry, self.shape[1],
                                 self.shape[2], self.act, self.slope, need_dx, need_dw)
            if need_dw:
                self._reduce()
            return self.dx[:n] if need_dx else None
        conv.conv2d_phase_backward(self.x, self.phase_weights, self.y[:n], dy, self.dz[:n],
                                   self.dx[:n], self.dw_parts, self.db_parts, self.padded,
                                   self.padded_grad, self.extended, *self.small_shape,
                                   *self.pads, self.row_plan, self.col_plan, self.shape[1],
                                   self.shape[2], self.act, self.slope, need_dx, need_dw)
        if need_dw:
            conv.add_phase_partials(self.dw_parts, self.kind == "TRANSCONV", self.tap_rows,
                                    self.tap_cols, self.col_plan, self.grads["weight"])
            add_partials(self.db_parts, self.grads["bias"])
        return self.dx[:n] if need_dx else None


def phase_plan(in_size, factor, kernel, pad, out_size):
    """Per axis of an upsampling by ``factor`` followed by a stride-1 convolution: for each
    output phase r, (first padded input row read, number of phase taps, number of outputs);
    the phase tap each original tap adds into; the zero padding before and after the input.
    """
    plan, tap_map, firsts, lasts = [], [], [], []
    for r in range(factor):
        rows = [(r + i - pad) // factor for i in range(kernel)]  # input row offset per tap
        outputs = max(0, (out_size - r + factor - 1) // factor)
        plan.append([rows[0], rows[-1] - rows[0] + 1, outputs])
        tap_map.append([row - rows[0] for row in rows])
        if outputs:
            firsts.append(rows[0])
            lasts.append(outputs - 1 + rows[-1])
    before = max(0, -min(firsts))
    after = max(0, max(lasts) - (in_size - 1))
    plan = np.array(plan, np.int64)
    plan[:, 0] += before
    return plan, np.array(tap_map, np.int64), before, after


def transposed_phase_plan(in_size, stride, kernel, pad, out_size):
    """``phase_plan`` for a transposed convolution along one axis: output o = stride*m + r
    gets input row m + base - j through tap k0 + stride*j (k0 = (r + pad) mod stride), read
    as a stride-1 correlation with the flipped taps; -1 marks a tap outside phase r."""
    plan, tap_map, firsts, lasts = [], [], [], []
    for r in range(stride):
        k0 = (r + pad) % stride
        taps = max(0, -(-(kernel - k0) // stride))
        outputs = max(0, -(-(out_size - r) // stride))
        base = (r + pad - k0) // stride
        first = base - (taps - 1)
        plan.append([first, taps, outputs])
        tap_map.append([taps - 1 - (k - k0) // stride if k >= k0 and (k - k0) % stride == 0
                        else -1 for k in range(kernel)])
        if outputs and taps:
            firsts.append(first)
            lasts.append(outputs - 1 + base)
    before = max([0] + [-f for f in firsts])
    after = max([0] + [last - (in_size - 1) for last in lasts])
    plan = np.array(plan, np.int64)
    plan[:, 0] += before
    return plan, np.array(tap_map, np.int64), before, after


class TransposedConv2D(Conv2D):
    """The adjoint of Conv2D: output size ``(in - 1)*stride - 2*pad + filter + outPad``."""

    kind = "TRANSCONV"

    def __init__(self, filters, kernel, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                 activation="LINEAR", slope=0.2, spectral_norm=False):
        super().__init__(filters, kernel, stride, padding, activation, slope, spectral_norm)
        self.output_padding = tuple(int(p) for p in output_padding)
        for axis, (op, s) in enumerate(zip(self.output_padding, self.stride)):
            if not 0 <= op < s:
                raise LayoutError(
                    f"TRANSCONV output padding must be >= 0 and smaller than the stride, got "
                    f"{op} with stride {s} along {('rows', 'columns')[axis]}"
                )

    def output_shape(self, input_shape):
        _check_image(self.kind, input_shape)
        _, h, w = input_shape
        out = (self.filters,
               (h - 1) * self.stride[0] - 2 * self.padding[0] + self.kernel[0]
               + self.output_padding[0],
               (w - 1) * self.stride[1] - 2 * self.padding[1] + self.kernel[1]
               + self.output_padding[1])
        if min(out[1:]) < 1:
            raise LayoutError(
                f"TRANSCONV output would be {out[1]}x{out[2]} from a {h}x{w} input "
                f"(filter {self.kernel}, stride {self.stride}, padding {self.padding}); "
                f"use less padding or a larger filter"
            )
        return out

    def parameter_shapes(self):
        c_in = self.input_shape[0]
        return {"weight": (c_in, self.filters) + self.kernel, "bias": (self.filters,)}

    def _weight_matrix(self, weight):
        # the output units are the weight's second axis (torch's spectral_norm uses dim=1)
        return weight.transpose(1, 0, 2, 3).reshape(weight.shape[1], -1)

    def _weight_unmatrix(self, matrix, shape):
        c_in, filters = shape[:2]
        return matrix.reshape((filters, c_in) + shape[2:]).transpose(1, 0, 2, 3)

    def fans(self):
        # PyTorch's convention for transposed convolutions (weight dim 1 is fan-in)
        area = self.kernel[0] * self.kernel[1]
        return (self.filters * area, self.input_shape[0] * area)

    def get_config(self):
        config = super().get_config()
        config["output_padding"] = self.output_padding
        return config

    def build(self, input_shape, dtype):
        super().build(input_shape, dtype)
        # always one shifted stride-1 convolution per output phase: against a GEMM + col2im
        # per sample it took the benchmark generator's 5x5 stride-2 layer (14x14 -> 25x25,
        # 32 filters, batch 64) from 34-74 ms to 9-51 ms forward + backward at 1-64 input
        # channels
        self.phased = True

    def _phase_plans(self):
        _, h, w = self.input_shape
        return tuple((transposed_phase_plan(size, self.stride[axis], self.kernel[axis],
                                            self.padding[axis], self.shape[1 + axis]), size)
                     for axis, size in enumerate((h, w)))


class LocallyConnected2D(Conv2D):
    """``LOCAL|n|fH|fW|strideR|strideC|padH|padW|ACT``: a convolution's geometry with its
    own filters at every output position (Keras' LocallyConnected2D; LAGAN's layers):
    weight ``(positions, n, c_in * fH * fW)``, bias ``(n, H_out, W_out)``."""

    kind = "LOCAL"

    def parameter_shapes(self):
        c_in = self.input_shape[0]
        positions = self.shape[1] * self.shape[2]
        return {"weight": (positions, self.filters, c_in * self.kernel[0] * self.kernel[1]),
                "bias": (self.filters, self.shape[1], self.shape[2])}

    def _weight_matrix(self, weight):
        # every (position, filter) pair is an output unit
        return weight.reshape(-1, weight.shape[2])

    def build(self, input_shape, dtype):
        super().build(input_shape, dtype)
        self.patch = local.patch_indices(self.input_shape, self.kernel, self.stride,
                                         self.padding, self.shape[1:])
        self.zero_bias = np.zeros(self.filters, self.dtype)

    def _allocate(self, n, nchunks):
        # gradients go straight into the network's views: no per-thread partials
        self._allocate_common(n, nchunks, self.input_size, (0,), 0)

    def _linear_forward(self, x, training):
        n = x.shape[0]
        self._prepare(n)
        self.x = x
        local.local_forward(x, self.params["weight"], self.params["bias"].reshape(
            self.filters, -1), self.patch, self.zero_bias, self.y[:n], self.act, self.slope)
        return self.y[:n]

    def _linear_backward(self, dy, need_dx, need_dw):
        n = dy.shape[0]
        local.local_backward(self.x, self.params["weight"], self.y[:n],
                             np.ascontiguousarray(dy, self.dtype), self.dz[:n], self.dx[:n],
                             self.grads["weight"], self.grads["bias"].reshape(self.filters, -1),
                             self.patch, self.act, self.slope, need_dx, need_dw)
        return self.dx[:n] if need_dx else None


class MaxPool2D(Layer):
    kind = "MAXPOOL"

    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel = tuple(int(k) for k in kernel)
        self.stride = tuple(int(s) for s in stride)
        _check_positive(self.kind, filter_height=self.kernel[0], filter_width=self.kernel[1],
                        stride_rows=self.stride[0], stride_cols=self.stride[1])

    def output_shape(self, input_shape):
        _check_image(self.kind, input_shape)
        c, h, w = input_shape
        out = (c, conv_output_size(h, self.kernel[0], self.stride[0], 0),
               conv_output_size(w, self.kernel[1], self.stride[1], 0))
        if min(out[1:]) < 1:
            raise LayoutError(
                f"MAXPOOL window {self.kernel[0]}x{self.kernel[1]} does not fit a {h}x{w} input"
            )
        return out

    def get_config(self):
        return {"kind": self.kind, "kernel": self.kernel, "stride": self.stride}

    def _allocate(self, n, nchunks):
        self.y = self._empty(n, self.output_size)
        self.argmax = np.empty((n, self.output_size), np.int32)
        self.dx = self._empty(n, self.input_size)

    def forward(self, x, training=True):
        n = x.shape[0]
        self._prepare(n)
        c, h, w = self.input_shape
        pool.maxpool_forward(x, self.y[:n], self.argmax[:n], c, h, w, *self.kernel,
                             *self.stride, self.shape[1], self.shape[2])
        return self.y[:n]

    def backward(self, dy, need_dx=True, need_dw=True):
        if not need_dx:
            return None
        n = dy.shape[0]
        pool.maxpool_backward(dy, self.argmax[:n], self.dx[:n])
        return self.dx[:n]


class Upsample2D(Layer):
    """Nearest-neighbour upsampling by integer factors; no weights."""

    kind = "UPSAMPLE"

    def __init__(self, factors):
        super().__init__()
        self.fused = False  # set when the next layer computes the upsampling itself
        self.factors = tuple(int(f) for f in factors)
        _check_positive(self.kind, factor_rows=self.factors[0], factor_cols=self.factors[1])

    def output_shape(self, input_shape):
        _check_image(self.kind, input_shape)
        c, h, w = input_shape
        return (c, h * self.factors[0], w * self.factors[1])

    def get_config(self):
        return {"kind": self.kind, "factors": self.factors}

    def _allocate(self, n, nchunks):
        self.y = self._empty(n, self.output_size)
        self.dx = self._empty(n, self.input_size)

    def forward(self, x, training=True):
        if self.fused:
            return x
        n = x.shape[0]
        self._prepare(n)
        pool.upsample_forward(x, self.y[:n], *self.input_shape, *self.factors)
        return self.y[:n]

    def backward(self, dy, need_dx=True, need_dw=True):
        if not need_dx or self.fused:
            return dy if need_dx else None
        n = dy.shape[0]
        pool.upsample_backward(dy, self.dx[:n], *self.input_shape, *self.factors)
        return self.dx[:n]


class Reshape(Layer):
    """Reinterprets each sample's values (``RESHAPE|d|h|w`` or ``RESHAPE|FLAT``); rows are
    already flat, so no data moves."""

    kind = "RESHAPE"

    def __init__(self, target=None):
        super().__init__()
        self.target = None if target is None else tuple(int(t) for t in target)
        if self.target is not None:
            _check_positive(self.kind, depth=self.target[0], height=self.target[1],
                            width=self.target[2])

    def output_shape(self, input_shape):
        size = int(np.prod(input_shape))
        if self.target is None:
            return (size,)
        if int(np.prod(self.target)) != size:
            d, h, w = self.target
            raise LayoutError(
                f"RESHAPE|{d}|{h}|{w} needs {d * h * w} values per sample but its input has "
                f"{size} (shape {'|'.join(map(str, input_shape))})"
            )
        return self.target

    def get_config(self):
        return {"kind": self.kind, "target": self.target or "FLAT"}

    def forward(self, x, training=True):
        return x

    def backward(self, dy, need_dx=True, need_dw=True):
        return dy if need_dx else None


class BatchNorm(Layer):
    """``BNORM``: batch normalisation (Ioffe & Szegedy 2015) per feature of flat input or
    per channel of an image, as torch.nn.BatchNorm1d/2d: training normalises with the
    batch's mean and biased variance and updates running statistics (momentum 0.1, the
    unbiased variance); inference (``training=False``, generation) uses the running ones.
    ``y = gamma * (x - mean) / sqrt(var + 1e-5) + beta``; gamma starts at 1, beta at 0."""

    kind = "BNORM"
    MOMENTUM = 0.1
    EPS = 1e-5

    def output_shape(self, input_shape):
        return input_shape

    def build(self, input_shape, dtype):
        super().build(input_shape, dtype)
        self.channels = self.input_shape[0]
        self.size = self.input_size // self.channels
        self.running_mean = np.zeros(self.channels, self.dtype)
        self.running_var = np.ones(self.channels, self.dtype)
        self._mean = np.empty(self.channels, self.dtype)
        self._var = np.empty(self.channels, self.dtype)
        self._inv_std = np.empty(self.channels, self.dtype)

    def parameter_shapes(self):
        return {"gamma": (self.channels,), "beta": (self.channels,)}

    def bind(self, params, grads):
        super().bind(params, grads)
        params["gamma"][...] = 1

    def buffers(self):
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def _allocate(self, n, nchunks):
        self.y = self._empty(n, self.input_size)
        self.dx = self._empty(n, self.input_size)
        self.blocks = norm.channel_blocks(self.channels, nchunks)

    def forward(self, x, training=True):
        n = x.shape[0]
        if training and n * self.size < 2:
            raise DataError("BNORM in training needs more than one value per feature: a "
                            "batch of one flat sample has no variance; use batches of 2 or "
                            "more")
        self._prepare(n)
        self.x = x
        self._training = training
        if training:
            norm.batchnorm_train_forward(x, self.params["gamma"], self.params["beta"],
                                         self.size, self.EPS, self.blocks, self._mean,
                                         self._var, self._inv_std, self.y[:n])
            count = n * self.size
            m = self.dtype.type(self.MOMENTUM)
            self.running_mean *= 1 - m
            self.running_mean += m * self._mean
            self.running_var *= 1 - m
            self.running_var += m * self._var * self.dtype.type(count / (count - 1))
        else:
            np.divide(1, np.sqrt(self.running_var + self.dtype.type(self.EPS)),
                      out=self._inv_std)
            self._mean[:] = self.running_mean
            norm.batchnorm_inference_forward(x, self.params["gamma"], self.params["beta"],
                                             self.size, self.blocks, self.running_mean,
                                             self._inv_std, self.y[:n])
        return self.y[:n]

    def backward(self, dy, need_dx=True, need_dw=True):
        n = dy.shape[0]
        norm.batchnorm_backward(np.ascontiguousarray(dy, self.dtype), self.x, self._mean,
                                self.params["gamma"], self._inv_std, self.size, self.blocks,
                                self._training, self.dx[:n], self.grads["gamma"],
                                self.grads["beta"], need_dx, need_dw)
        return self.dx[:n] if need_dx else None


class Dropout(Layer):
    """``DROPOUT|rate``: in training, each value is zeroed with probability ``rate`` and the
    rest scaled by 1 / (1 - rate) (inverted dropout, as torch.nn.Dropout); inference passes
    the input through. The masks come from a stream seeded by ``initialize`` (the network's
    seed), counted per call, so a resumed training draws the same masks."""

    kind = "DROPOUT"
    seeded = True  # initialize gives it its mask stream

    def __init__(self, rate):
        super().__init__()
        if not 0 <= rate < 1:
            raise LayoutError(f"DROPOUT rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        # [seed, calls]: float32-exact below 2^24, which the seed is drawn under
        self.state = np.zeros(2, np.float64)

    def output_shape(self, input_shape):
        return input_shape

    def build(self, input_shape, dtype):
        super().build(input_shape, dtype)
        self.state = np.zeros(2, self.dtype)

    def buffers(self):
        return {"dropout_state": self.state}

    def seed(self, rng):
        self.state[:] = (rng.integers(1 << 24), 0)

    def get_config(self):
        return {"kind": self.kind, "rate": self.rate}

    def _allocate(self, n, nchunks):
        self.y = self._empty(n, self.input_size)
        self.mask = self._empty(n, self.input_size)
        self.dx = self._empty(n, self.input_size)

    def forward(self, x, training=True):
        n = x.shape[0]
        self._training = training and self.rate > 0
        if not self._training:
            return x
        self._prepare(n)
        calls = int(self.state[1])
        rng = np.random.default_rng([int(self.state[0]), calls])
        self.state[1] = calls + 1
        rng.random(out=self.mask[:n], dtype=self.dtype)
        norm.dropout_forward(x, self.mask[:n], self.rate, self.y[:n])
        return self.y[:n]

    def backward(self, dy, need_dx=True, need_dw=True):
        if not need_dx:
            return None
        if not self._training:
            return dy
        n = dy.shape[0]
        np.multiply(dy, self.mask[:n], out=self.dx[:n])
        return self.dx[:n]


class MinibatchDiscrimination(Layer):
    """``MINIBATCH|nKernels|kernelDim`` (Salimans et al. 2016; CaloGAN's discriminator):
    the flat input x (n, A) is projected by a trained T (A, nKernels * kernelDim) to
    M (n, nKernels, kernelDim); feature b of sample i is ``sum_j exp(-||M_ib - M_jb||_1)``
    over the batch (self included); the output is x with those nKernels features appended,
    so the discriminator sees how alike the samples of a batch are (punishing mode
    collapse). Outputs depend on the whole batch, in training and in inference."""

    kind = "MINIBATCH"

    def __init__(self, kernels, dims):
        super().__init__()
        _check_positive(self.kind, kernels=kernels, kernel_dim=dims)
        self.kernels, self.dims = int(kernels), int(dims)

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)) + self.kernels,)

    def parameter_shapes(self):
        return {"weight": (self.input_size, self.kernels * self.dims)}

    def fans(self):
        return (self.input_size, self.kernels * self.dims)

    def get_config(self):
        return {"kind": self.kind, "kernels": self.kernels, "dims": self.dims}

    def _allocate(self, n, nchunks):
        self.y = self._empty(n, self.output_size)
        self.m = self._empty(n, self.kernels * self.dims)
        self.closeness = self._empty(n, n, self.kernels)
        self.dm = self._empty(n, self.kernels * self.dims)
        self.dx = self._empty(n, self.input_size)

    def forward(self, x, training=True):
        n = x.shape[0]
        self._prepare(n)
        if self.closeness.shape[0] != n:  # pairwise terms are sized by the batch itself
            self.closeness = self._empty(n, n, self.kernels)
        self.x = np.ascontiguousarray(x)
        norm.minibatch_project(self.x, self.params["weight"], self.m[:n])
        self.y[:n, :self.input_size] = x
        norm.minibatch_features(self.m[:n], self.kernels, self.dims, self.closeness,
                                self.y[:n, self.input_size:])
        return self.y[:n]

    def backward(self, dy, need_dx=True, need_dw=True):
        n = dy.shape[0]
        dy = np.ascontiguousarray(dy, self.dtype)
        norm.minibatch_backward(self.m[:n], self.closeness, np.ascontiguousarray(
            dy[:, self.input_size:]), self.kernels, self.dims, self.dm[:n])
        norm.minibatch_project_backward(self.x, self.params["weight"], self.dm[:n],
                                        self.grads["weight"], self.dx[:n], need_dx, need_dw)
        if not need_dx:
            return None
        self.dx[:n] += dy[:, :self.input_size]
        return self.dx[:n]
