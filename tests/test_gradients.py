"""Every layer's backward pass agrees with central finite differences.

The networks are built in float64, so these run the production Numba kernels compiled for
float64 (the same source the float32 engine uses), not a NumPy re-implementation."""

import numpy as np
import pytest

from rootgan.nn.kernels import losses as kernels_losses
from rootgan.nn.kernels.losses import bce_with_logits

from .helpers import random_network

# (layout, input shape): strides, paddings, odd sizes, both convolution paths
# (im2col for fewer than 4 channels or stride > 1, shifted GEMMs for stride 1 otherwise).
LAYER_CASES = [
    ("DENSE|5|LINEAR", (7,)),
    ("DENSE|4|RELU", (7,)),
    ("DENSE|4|LEAKYRELU", (2, 3, 2)),
    ("DENSE|3|TANH", (6,)),
    ("DENSE|3|SIGMOID", (6,)),
    ("DENSE|4|SOFTSIGN", (5,)),
    ("DENSE|4|SOFTPLUS", (5,)),
    ("DENSE|4|ELU", (5,)),
    ("DENSE|4|GAUSS", (5,)),
    ("DENSE|4|SYMMRELU", (5,)),
    ("CONV|2|3|3|1|1|1|1|GAUSS", (2, 4, 5)),
    ("CONV|3|3|3|1|1|1|1|ELU", (5, 4, 4)),
    ("TRANSCONV|2|3|3|2|2|1|1|SYMMRELU", (2, 3, 4)),
    ("LOCAL|3|3|3|1|1|1|1|TANH", (2, 5, 4)),
    ("LOCAL|2|2|3|2|1|0|1|LEAKYRELU", (3, 6, 5)),
    ("LOCAL|2|3|3|1|1|1|1|GAUSS", (1, 4, 4)),
    ("MINIBATCH|3|2", (5,)),
    ("DENSE|6|TANH,MINIBATCH|4|3,DENSE|2|LINEAR", (2, 2, 2)),
    ("BNORM", (3, 3, 4)),
    ("CONV|3|3|3|1|1|1|1|LINEAR,BNORM,RESHAPE|FLAT,DENSE|2|TANH", (2, 4, 4)),
    ("CONV|3|3|3|1|1|1|1|TANH", (2, 5, 6)),
    ("CONV|2|3|2|2|1|0|1|LEAKYRELU", (3, 7, 6)),
    ("CONV|2|3|3|3|2|2|1|LINEAR", (2, 8, 7)),
    ("CONV|4|1|1|1|1|0|0|SIGMOID", (3, 3, 5)),
    ("CONV|3|3|3|1|1|1|2|LEAKYRELU", (9, 5, 4)),
    ("CONV|2|5|5|1|1|2|2|RELU", (8, 6, 7)),
    ("CONV|2|2|3|1|1|0|0|LINEAR", (8, 5, 5)),
    # inputs narrower than the padding: whole kernel taps fall into the padding
    ("CONV|2|5|5|1|1|2|2|LINEAR", (1, 5, 1)),
    ("CONV|2|5|5|1|1|2|2|LINEAR", (4, 1, 5)),
    ("TRANSCONV|2|5|5|1|1|2|2|LINEAR", (2, 1, 1)),
    ("TRANSCONV|3|3|3|2|2|1|1|LEAKYRELU", (2, 4, 5)),
    ("TRANSCONV|2|5|5|2|2|3|3|LINEAR", (3, 6, 6)),
    ("TRANSCONV|2|3|3|2|3|1|0|1|2|TANH", (2, 3, 4)),
    ("TRANSCONV|2|3|2|1|1|0|1|SIGMOID", (3, 4, 3)),
    # a transposed convolution runs as one shifted convolution per output phase: odd and
    # even phases, output padding, padding beyond the kernel, and a kernel smaller than the
    # stride (phases no tap reaches), with enough input channels for real per-tap GEMMs
    ("TRANSCONV|2|5|5|2|2|3|3|LEAKYRELU", (4, 4, 4)),
    ("TRANSCONV|3|3|3|2|3|1|0|1|2|TANH", (5, 3, 4)),
    ("TRANSCONV|2|4|3|3|2|4|1|LINEAR", (4, 4, 3)),
    ("TRANSCONV|2|1|1|2|2|0|0|1|1|SIGMOID", (4, 3, 2)),
    ("TRANSCONV|2|3|3|1|1|1|1|ELU", (4, 3, 3)),
    ("MAXPOOL|2|2|2|2", (2, 5, 5)),
    ("MAXPOOL|3|3|2|2", (2, 7, 6)),
    ("MAXPOOL|2|3|1|2", (1, 4, 7)),
    ("UPSAMPLE|2|3", (2, 3, 2)),
    ("RESHAPE|FLAT,DENSE|3|LINEAR", (2, 2, 3)),
    ("DENSE|12|LINEAR,RESHAPE|3|2|2,CONV|2|2|2|1|1|1|1|TANH", (4,)),
    # an upsampling followed by a stride-1 convolution is computed fused, on the small input
    ("UPSAMPLE|2|2,CONV|3|5|5|1|1|2|2|TANH", (8, 3, 4)),
    ("UPSAMPLE|3|2,CONV|2|3|2|1|1|0|1|LINEAR", (9, 2, 3)),
    ("UPSAMPLE|2|2,CONV|2|4|4|1|1|3|1|LEAKYRELU", (8, 3, 3)),
    ("UPSAMPLE|2|2,CONV|2|3|3|1|1|1|1|SIGMOID", (2, 3, 3)),  # few channels: not fused
]


def _numeric_gradients(net, x, r, eps=1e-6, training=True):
    """Central differences of L = sum(net(x) * r) w.r.t. the input and every parameter."""

    def loss():
        return float(np.sum(net.forward(x, training=training) * r))

    def central(array):
        grad = np.empty(array.size)
        flat = array.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + eps
            up = loss()
            flat[i] = saved - eps
            down = loss()
            flat[i] = saved
            grad[i] = (up - down) / (2 * eps)
        return grad.reshape(array.shape)

    return central(x), central(net.parameters)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("layout,input_shape", LAYER_CASES)
def test_backward_matches_finite_differences(layout, input_shape, batch):
    net = random_network(layout, input_shape, np.float64)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(batch,) + input_shape)
    r = rng.normal(size=(batch,) + net.output_shape)

    net.forward(x)
    net.zero_grad()
    dx = net.backward(r).copy()
    dparams = net.gradients.copy()

    numeric_dx, numeric_dparams = _numeric_gradients(net, x, r)
    np.testing.assert_allclose(dx, numeric_dx, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dparams, numeric_dparams, rtol=1e-5, atol=1e-7)


def test_backward_accumulates_parameter_gradients_until_zero_grad():
    net = random_network("CONV|2|3|3|1|1|1|1|TANH,RESHAPE|FLAT,DENSE|2|LINEAR", (9, 4, 4),
                         np.float64)
    x = np.random.default_rng(0).normal(size=(2, 9, 4, 4))
    r = np.ones((2, 2))
    net.forward(x)
    net.zero_grad()
    net.backward(r)
    once = net.gradients.copy()
    net.backward(r)
    np.testing.assert_allclose(net.gradients, 2 * once)
    net.zero_grad()
    net.backward(r)
    np.testing.assert_allclose(net.gradients, once)


def test_input_gradient_skipped_when_not_needed():
    net = random_network("DENSE|3|TANH", (4,), np.float64)
    net.forward(np.ones((2, 4)))
    assert net.backward(np.ones((2, 3)), input_grad=False) is None


def test_binary_cross_entropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, 6)
    weights = rng.uniform(0.5, 2, 6)
    grad = np.empty(6)
    for target in (0.0, 1.0, 0.9):
        bce_with_logits(logits, target, weights, grad)
        numeric = np.empty(6)
        for i in range(6):
            up, down = logits.copy(), logits.copy()
            up[i] += 1e-6
            down[i] -= 1e-6
            numeric[i] = (bce_with_logits(up, target, weights, np.empty(6))
                          - bce_with_logits(down, target, weights, np.empty(6))) / 2e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_is_finite_for_huge_logits(dtype):
    logits = np.array([1e4, -1e4, 1e4, -1e4], dtype)
    grad = np.empty(4, dtype)
    ones = np.ones(4, dtype)
    # confidently wrong: loss ~ |x|, gradient saturates at +-1/n
    loss = bce_with_logits(logits, 0.0, ones, grad)
    assert np.isfinite(loss) and loss == pytest.approx(0.5e4, rel=1e-6)
    np.testing.assert_allclose(grad, [0.25, 0, 0.25, 0], atol=1e-12)
    loss = bce_with_logits(logits, 1.0, ones, grad)
    assert loss == pytest.approx(0.5e4, rel=1e-6)
    np.testing.assert_allclose(grad, [0, -0.25, 0, -0.25], atol=1e-12)
    assert np.all(np.isfinite(grad))


LOSS_CASES = [
    ("least squares to 1", lambda x, w, g: kernels_losses.least_squares(x, 1.0, w, g)),
    ("least squares to 0", lambda x, w, g: kernels_losses.least_squares(x, 0.0, w, g)),
    ("hinge, real", lambda x, w, g: kernels_losses.hinge(x, 1.0, w, g)),
    ("hinge, fake", lambda x, w, g: kernels_losses.hinge(x, -1.0, w, g)),
    ("hinge and Wasserstein generator, Wasserstein real",
     lambda x, w, g: kernels_losses.mean_output(x, -1.0, w, g)),
    ("Wasserstein fake", lambda x, w, g: kernels_losses.mean_output(x, 1.0, w, g)),
    ("mean squared error", lambda x, w, g: kernels_losses.squared_error(
        x, np.linspace(-1, 1, x.size), w, g)),
    ("minimax generator", lambda x, w, g: kernels_losses.minimax_generator(x, g)),
]


@pytest.mark.parametrize("name,loss", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_gan_loss_gradients_match_finite_differences(name, loss):
    rng = np.random.default_rng(4)
    outputs = rng.normal(0, 2, 9)
    outputs[np.abs(np.abs(outputs) - 1) < 1e-3] += 0.01  # away from the hinge kinks
    weights = rng.uniform(0.5, 2, 9)
    grad = np.empty(9)
    loss(outputs, weights, grad)
    numeric = np.empty(9)
    for i in range(9):
        up, down = outputs.copy(), outputs.copy()
        up[i] += 1e-6
        down[i] -= 1e-6
        numeric[i] = (loss(up, weights, np.empty(9)) - loss(down, weights, np.empty(9))) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_l1_penalty_adds_its_subgradient_to_the_weights_only():
    from rootgan.nn import SGD

    net = random_network("DENSE|3|LINEAR", (4,), np.float64)
    before = net.get_parameters()
    optimizer = SGD(net, learning_rate=1.0, regularization="L1", weight_decay=0.1)
    net.zero_grad()
    optimizer.step()
    after = net.get_parameters()
    np.testing.assert_allclose(after["layer0_weight"],
                               before["layer0_weight"] - 0.1 * np.sign(before["layer0_weight"]))
    np.testing.assert_array_equal(after["layer0_bias"], before["layer0_bias"])


@pytest.mark.parametrize("scheme,std", [
    ("GAUSS", lambda fan_in, fan_out: np.sqrt(2 / fan_in)),            # TMVA's Gauss
    ("UNIFORM", lambda fan_in, fan_out: np.sqrt(2 / fan_in) / np.sqrt(3)),  # TMVA's Uniform
    ("HE", lambda fan_in, fan_out: np.sqrt(2 / fan_in)),               # Kaiming uniform
    ("XAVIER", lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out))),
])
def test_weight_initialisers_draw_with_their_documented_spread(scheme, std):
    from rootgan.nn import build_network, initialize

    net = build_network("CONV|64|3|3|1|1|1|1|RELU,RESHAPE|FLAT,MINIBATCH|3|2", (16, 8, 8))
    initialize(net, np.random.default_rng(0), scheme)  # MINIBATCH: a weight, no bias
    weights = net.get_parameters()["layer0_weight"]
    assert weights.std() == pytest.approx(std(16 * 9, 64 * 9), rel=0.03)
    assert not net.get_parameters()["layer0_bias"].any()


def test_batch_norm_of_flat_features_matches_finite_differences():
    # per-feature statistics need a batch: 4 samples
    net = random_network("DENSE|5|LINEAR,BNORM,DENSE|3|TANH", (6,), np.float64)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4, 6))
    r = rng.normal(size=(4, 3))
    net.forward(x)
    net.zero_grad()
    dx = net.backward(r).copy()
    dparams = net.gradients.copy()
    numeric_dx, numeric_dparams = _numeric_gradients(net, x, r)
    np.testing.assert_allclose(dx, numeric_dx, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dparams, numeric_dparams, rtol=1e-5, atol=1e-7)


def test_batch_norm_after_an_inference_forward_matches_finite_differences():
    net = random_network("BNORM", (2, 3, 3), np.float64)
    net.set_buffers({"layer0_running_mean": np.array([0.7, -1.3]),
                     "layer0_running_var": np.array([2.5, 0.4])})
    rng = np.random.default_rng(9)
    x = rng.normal(size=(3, 2, 3, 3))
    r = rng.normal(size=(3, 2, 3, 3))
    net.forward(x, training=False)
    net.zero_grad()
    dx = net.backward(r).copy()
    dparams = net.gradients.copy()
    _, numeric = _numeric_gradients(net, x, r, training=False)
    np.testing.assert_allclose(dparams, numeric, rtol=1e-5, atol=1e-7)
    running = net.get_parameters()
    scale = running["layer0_gamma"] / np.sqrt(running["layer0_running_var"] + 1e-5)
    np.testing.assert_allclose(dx, r * scale[None, :, None, None], rtol=1e-10)


def test_dropout_zeroes_a_fraction_scales_the_rest_and_passes_the_same_mask_back():
    from rootgan.nn import build_network, initialize

    net = build_network("DROPOUT|0.3", (2000,), dtype=np.float64)
    initialize(net, np.random.default_rng(1))
    x = np.random.default_rng(2).uniform(1, 2, size=(10, 2000))
    y = net.forward(x).copy()
    ratio = y / x
    assert set(np.unique(np.round(ratio, 12))) == {0.0, round(1 / 0.7, 12)}
    assert (ratio == 0).mean() == pytest.approx(0.3, abs=0.01)
    dy = np.ones_like(x)
    np.testing.assert_allclose(net.backward(dy), ratio)
    np.testing.assert_array_equal(net.forward(x, training=False), x)  # inference: identity
    assert not np.array_equal(net.forward(x), y)  # a new mask every call


def test_dropout_masks_are_seeded_and_resume_from_the_saved_state():
    from rootgan.nn import build_network, initialize

    def fresh():
        net = build_network("DENSE|20|RELU,DROPOUT|0.5", (8,), dtype=np.float64)
        initialize(net, np.random.default_rng(4))
        return net
    x = np.random.default_rng(5).normal(size=(6, 8))
    first, second = fresh(), fresh()
    outputs = [first.forward(x).copy() for _ in range(3)]
    np.testing.assert_array_equal(second.forward(x), outputs[0])  # same seed, same masks
    resumed = fresh()
    resumed.set_parameters(second.get_parameters())  # as a checkpoint does
    np.testing.assert_array_equal(resumed.forward(x), outputs[1])


@pytest.mark.parametrize("layout,input_shape", [
    ("DENSE|4|TANH|SPECTRALNORM", (5,)),
    ("CONV|3|3|3|1|1|1|1|LEAKYRELU|SPECTRALNORM", (2, 4, 4)),
    ("CONV|3|3|3|1|1|1|1|LINEAR|SPECTRALNORM", (5, 4, 4)),
    ("TRANSCONV|2|3|3|2|2|1|1|TANH|SPECTRALNORM", (3, 3, 3)),
    ("LOCAL|2|3|3|1|1|1|1|TANH|SPECTRALNORM", (2, 4, 4)),
])
def test_spectral_norm_gradient_matches_finite_differences(layout, input_shape):
    """With u and v fixed (an inference forward), the layer computes f(W / (u.W v))."""
    net = random_network(layout, input_shape, np.float64)
    for _ in range(3):  # move u and v away from their start
        net.forward(np.ones((2,) + input_shape))
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2,) + input_shape)
    r = rng.normal(size=(2,) + net.output_shape)
    net.forward(x, training=False)
    net.zero_grad()
    dx = net.backward(r).copy()
    dparams = net.gradients.copy()
    numeric_dx, numeric = _numeric_gradients(net, x, r, training=False)
    np.testing.assert_allclose(dparams, numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dx, numeric_dx, rtol=1e-5, atol=1e-7)


def test_spectral_norm_power_iteration_finds_the_largest_singular_value():
    net = random_network("DENSE|12|LINEAR|SPECTRALNORM", (9,), np.float64)
    weight = net.get_parameters()["layer0_weight"]
    for _ in range(60):
        net.forward(np.ones((1, 9)))
    layer = net.layers[0]
    assert layer.sigma == pytest.approx(np.linalg.svd(weight, compute_uv=False)[0], rel=1e-6)
    normalised = np.linalg.svd(weight / layer.sigma, compute_uv=False)[0]
    assert normalised == pytest.approx(1.0, rel=1e-6)
