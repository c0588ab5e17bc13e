"""The engine against PyTorch: every layer's forward and backward, the optimisers, and the
whole benchmark GAN, with weights copied across. A tensor passes when
max|ours - torch| <= 1e-4 * max|torch|."""

import numpy as np
import pytest

from rootgan.nn import GAN, SGD, Adadelta, Adagrad, Adam, RMSprop, build_network
from rootgan.nn.losses import BinaryCrossEntropy

from .helpers import DISCRIMINATOR_LAYOUT, GENERATOR_LAYOUT, random_network

torch = pytest.importorskip(
    "torch", reason="PyTorch is the test oracle: install the oracle extra (pip install -e .[oracle])"
)
nn = torch.nn
F = torch.nn.functional
from .torch_layers import LocallyConnected, Minibatch  # noqa: E402  (needs torch)


def assert_close(ours, theirs, what):
    theirs = theirs.detach().numpy()
    ours = np.asarray(ours).reshape(theirs.shape)
    scale = np.abs(theirs).max()
    error = np.abs(ours - theirs).max()
    assert error <= 1e-4 * scale, f"{what}: max|ours - torch| = {error:.3g}, max|torch| = {scale:.3g}"


class _Elementwise(nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function(x)


def torch_activation(name, slope=0.2):
    return {"LINEAR": nn.Identity(), "RELU": nn.ReLU(), "LEAKYRELU": nn.LeakyReLU(slope),
            "TANH": nn.Tanh(), "SIGMOID": nn.Sigmoid(), "SOFTSIGN": nn.Softsign(),
            "SOFTPLUS": nn.Softplus(), "ELU": nn.ELU(),
            # TMVA's Gauss and symmetric ReLU
            "GAUSS": _Elementwise(lambda x: torch.exp(-x * x)),
            "SYMMRELU": _Elementwise(torch.abs)}[name]


def torch_layer(text, input_shape):
    """The torch module equivalent to one layout entry."""
    f = text.split("|")
    word = f[0]
    if word == "DENSE":
        return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), int(f[1])),
                             torch_activation(f[2]))
    if word == "CONV":
        n, kh, kw, sr, sc, ph, pw = map(int, f[1:8])
        return nn.Sequential(nn.Conv2d(input_shape[0], n, (kh, kw), (sr, sc), (ph, pw)),
                             torch_activation(f[8]))
    if word == "TRANSCONV":
        numbers = list(map(int, f[1:-1]))
        n, kh, kw, sr, sc, ph, pw = numbers[:7]
        out_pad = tuple(numbers[7:9]) if len(numbers) == 9 else (0, 0)
        return nn.Sequential(nn.ConvTranspose2d(input_shape[0], n, (kh, kw), (sr, sc), (ph, pw),
                                                out_pad), torch_activation(f[-1]))
    if word == "LOCAL":
        n, kh, kw, sr, sc, ph, pw = map(int, f[1:8])
        return nn.Sequential(LocallyConnected(input_shape, n, (kh, kw), (sr, sc), (ph, pw)),
                             torch_activation(f[8]))
    if word == "MINIBATCH":
        return Minibatch(int(np.prod(input_shape)), int(f[1]), int(f[2]))
    if word == "MAXPOOL":
        kh, kw, sr, sc = map(int, f[1:5])
        return nn.MaxPool2d((kh, kw), (sr, sc))
    if word == "UPSAMPLE":
        return nn.Upsample(scale_factor=(int(f[1]), int(f[2])), mode="nearest")
    if word == "BNORM":
        return nn.BatchNorm1d(input_shape[0]) if len(input_shape) == 1 else \
            nn.BatchNorm2d(input_shape[0])
    if word == "RESHAPE":
        return nn.Flatten() if f[1] == "FLAT" else nn.Unflatten(1, tuple(map(int, f[1:4])))
    raise AssertionError(word)


def torch_network(net):
    """A torch.nn.Sequential with ``net``'s parameters copied in."""
    modules = []
    shape = net.input_shape
    for text, layer in zip(net.texts, net.layers):
        modules.append(torch_layer(text, shape))
        shape = layer.shape
    module = nn.Sequential(*modules)
    tensors = torch_parameters(module, net)
    with torch.no_grad():
        for name, value in net.get_parameters().items():
            tensors[name].copy_(torch.from_numpy(value))
    return module


def torch_parameters(module, net):
    """Torch's parameter tensors (and batch-norm running statistics), named like the
    engine's."""
    kinds = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm1d, nn.BatchNorm2d,
             LocallyConnected, Minibatch)
    theirs = [m for m in module.modules() if isinstance(m, kinds)]
    ours = [(index, layer) for index, layer in enumerate(net.layers) if layer.parameter_shapes()]
    tensors = {}
    for (index, layer), m in zip(ours, theirs):
        if layer.kind == "BNORM":
            tensors.update({f"layer{index}_gamma": m.weight, f"layer{index}_beta": m.bias,
                            f"layer{index}_running_mean": m.running_mean,
                            f"layer{index}_running_var": m.running_var})
        else:
            tensors[f"layer{index}_weight"] = m.weight
            if "bias" in layer.parameter_shapes():
                tensors[f"layer{index}_bias"] = m.bias
    return tensors


def torch_parameter_grads(module, net):
    """Torch's parameter gradients, named like the engine's."""
    return {name: tensor.grad for name, tensor in torch_parameters(module, net).items()
            if name not in net.buffer_names}


def engine_parameter_grads(net):
    grads = {}
    offset = 0
    for name, value in net.get_parameters().items():
        if name in net.buffer_names:
            continue
        grads[name] = net.gradients[offset:offset + value.size].reshape(value.shape)
        offset += value.size
    return grads


ORACLE_CASES = [
    ("DENSE|33|LEAKYRELU", (50,)),
    ("DENSE|8|SIGMOID", (3, 5, 5)),
    ("DENSE|33|SOFTSIGN", (50,)),
    ("DENSE|33|SOFTPLUS", (50,)),
    ("DENSE|33|ELU", (50,)),
    ("DENSE|33|GAUSS", (50,)),
    ("CONV|6|3|3|1|1|1|1|SYMMRELU", (4, 9, 9)),
    ("TRANSCONV|4|3|3|2|2|1|1|1|1|GAUSS", (6, 5, 7)),
    ("CONV|32|5|5|1|1|2|2|LEAKYRELU", (1, 25, 25)),
    ("CONV|16|5|5|1|1|2|2|LEAKYRELU", (32, 14, 14)),
    ("CONV|6|3|3|2|2|1|1|TANH", (4, 11, 9)),
    ("CONV|5|4|3|1|2|0|2|RELU", (10, 9, 12)),
    ("CONV|1|3|3|1|1|1|1|RELU", (32, 25, 25)),
    ("TRANSCONV|32|5|5|2|2|3|3|LEAKYRELU", (16, 14, 14)),
    ("TRANSCONV|4|3|3|2|2|1|1|1|1|SIGMOID", (6, 5, 7)),
    ("TRANSCONV|3|4|4|1|1|0|0|LINEAR", (5, 6, 6)),
    ("TRANSCONV|3|4|5|3|2|2|4|LEAKYRELU", (8, 5, 6)),
    ("TRANSCONV|3|2|2|3|3|0|0|2|1|TANH", (4, 4, 5)),
    ("MAXPOOL|2|2|2|2", (32, 25, 25)),
    ("MAXPOOL|3|2|2|1", (3, 9, 8)),
    ("UPSAMPLE|2|2", (16, 7, 7)),
    ("UPSAMPLE|3|1", (2, 4, 5)),
    ("UPSAMPLE|2|2,CONV|64|5|5|1|1|2|2|LEAKYRELU", (128, 7, 7)),
    ("UPSAMPLE|2|3,CONV|8|4|3|1|1|1|2|RELU", (16, 4, 3)),
    ("LOCAL|8|5|5|1|1|2|2|LEAKYRELU", (1, 25, 25)),
    ("LOCAL|4|3|2|2|1|0|1|TANH", (3, 9, 8)),
    ("MINIBATCH|10|5", (64,)),
    ("RESHAPE|FLAT,DENSE|32|LEAKYRELU,MINIBATCH|6|3,DENSE|1|LINEAR", (1, 5, 5)),
    ("BNORM", (40,)),
    ("BNORM", (16, 7, 7)),
    ("CONV|8|3|3|1|1|1|1|RELU,BNORM,DENSE|4|TANH", (3, 6, 6)),
]


@pytest.mark.parametrize("layout,input_shape", ORACLE_CASES)
def test_layer_forward_and_backward_match_pytorch(layout, input_shape):
    net = random_network(layout, input_shape, np.float32, seed=3)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(5,) + input_shape).astype(np.float32)
    dy = rng.normal(size=(5,) + net.output_shape).astype(np.float32)

    y = net.forward(x).copy()
    net.zero_grad()
    dx = net.backward(dy).copy()

    module = torch_network(net)
    tx = torch.tensor(x, requires_grad=True)
    ty = module(tx)
    ty.backward(torch.from_numpy(dy).reshape(ty.shape))
    assert_close(y, ty, f"{layout} output")
    assert_close(dx, tx.grad, f"{layout} input gradient")
    theirs = torch_parameter_grads(module, net)
    for name, ours in engine_parameter_grads(net).items():
        assert_close(ours, theirs[name], f"{layout} {name} gradient")


@pytest.mark.parametrize("input_shape", [(40,), (16, 7, 7)])
def test_batch_norm_running_statistics_and_inference_match_pytorch(input_shape):
    net = random_network("BNORM", input_shape, np.float32, seed=3)
    module = torch_network(net)
    rng = np.random.default_rng(5)
    for step in range(3):  # training batches move the running statistics
        x = rng.normal(1.5, 2.0, size=(8,) + input_shape).astype(np.float32)
        net.forward(x)
        module(torch.from_numpy(x))
    tensors = torch_parameters(module, net)
    for name in net.buffer_names:
        assert_close(net.get_parameters()[name], tensors[name], name)
    module.eval()
    x = rng.normal(1.5, 2.0, size=(4,) + input_shape).astype(np.float32)
    assert_close(net.forward(x, training=False), module(torch.from_numpy(x)), "inference output")


def test_binary_cross_entropy_matches_pytorch():
    logits = np.array([-30.0, -2.5, -0.1, 0.0, 0.7, 3.0, 45.0], np.float32)
    weights = np.linspace(0.5, 2.0, logits.size).astype(np.float32)
    for target in (0.0, 1.0):
        loss, grad = BinaryCrossEntropy()(logits, target, weights)
        tl = torch.tensor(logits, requires_grad=True)
        expected = F.binary_cross_entropy_with_logits(
            tl, torch.full_like(tl, target), weight=torch.from_numpy(weights))
        expected.backward()
        assert loss == pytest.approx(expected.item(), rel=1e-5)
        assert_close(grad, tl.grad, f"BCE gradient, target {target}")


def _optimizer_trajectories(ours, theirs, params, tp, steps=4):
    rng = np.random.default_rng(11)
    for step in range(steps):
        grads = rng.normal(size=params.size).astype(np.float32) * 10.0 ** (step - 2)
        ours.network.gradients[:] = grads
        ours.step()
        tp.grad = torch.from_numpy(grads.copy())
        theirs.step()
        assert_close(params, tp, f"parameters after step {step + 1}")


class _FlatNetwork:
    """The optimiser interface: a network is its flat parameters and gradients."""

    def __init__(self, values):
        self.parameters = values
        self.gradients = np.zeros_like(values)


def test_adam_update_matches_pytorch_on_identical_gradients():
    values = np.random.default_rng(2).normal(size=257).astype(np.float32)
    tp = torch.tensor(values.copy(), requires_grad=True)
    ours = Adam(_FlatNetwork(values), learning_rate=2e-3, beta1=0.5, beta2=0.999)
    theirs = torch.optim.Adam([tp], lr=2e-3, betas=(0.5, 0.999), eps=1e-8)
    _optimizer_trajectories(ours, theirs, values, tp)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_update_matches_pytorch_on_identical_gradients(momentum):
    values = np.random.default_rng(2).normal(size=257).astype(np.float32)
    tp = torch.tensor(values.copy(), requires_grad=True)
    ours = SGD(_FlatNetwork(values), learning_rate=0.05, momentum=momentum)
    theirs = torch.optim.SGD([tp], lr=0.05, momentum=momentum)
    _optimizer_trajectories(ours, theirs, values, tp)


@pytest.mark.parametrize("name", ["RMSPROP", "RMSPROP+momentum", "ADAGRAD", "ADADELTA"])
def test_rmsprop_adagrad_and_adadelta_match_pytorch_on_identical_gradients(name):
    values = np.random.default_rng(2).normal(size=257).astype(np.float32)
    tp = torch.tensor(values.copy(), requires_grad=True)
    network = _FlatNetwork(values)
    ours, theirs = {
        "RMSPROP": (RMSprop(network, 1e-2), torch.optim.RMSprop([tp], lr=1e-2)),
        "RMSPROP+momentum": (RMSprop(network, 1e-2, momentum=0.9),
                             torch.optim.RMSprop([tp], lr=1e-2, momentum=0.9)),
        "ADAGRAD": (Adagrad(network, 1e-2), torch.optim.Adagrad([tp], lr=1e-2)),
        "ADADELTA": (Adadelta(network, 1.0), torch.optim.Adadelta([tp], lr=1.0)),
    }[name]
    _optimizer_trajectories(ours, theirs, values, tp)


@pytest.mark.parametrize("regularization", ["NONE", "L2"])
def test_weight_decay_and_l2_match_pytorch_and_spare_the_biases(regularization):
    """PyTorch's weight_decay adds wd * w to the gradient: our NONE + WeightDecay is that,
    and L2 (penalty wd * sum w^2) is PyTorch's weight_decay = 2 wd. Biases are not
    penalised: the torch side puts them in a parameter group without decay."""
    net = random_network("DENSE|6|LINEAR", (5,), np.float32, seed=4)
    weight, bias = (net.get_parameters()[k].copy() for k in ("layer0_weight", "layer0_bias"))
    tw, tb = (torch.tensor(a, requires_grad=True) for a in (weight, bias))
    decay = 0.05
    ours = Adam(net, 1e-2, regularization=regularization, weight_decay=decay)
    torch_decay = decay if regularization == "NONE" else 2 * decay
    theirs = torch.optim.Adam([{"params": [tw], "weight_decay": torch_decay},
                               {"params": [tb], "weight_decay": 0.0}], lr=1e-2, betas=(0.5, 0.999))
    rng = np.random.default_rng(3)
    for step in range(3):
        grads = rng.normal(size=net.parameters.size).astype(np.float32)
        net.gradients[:] = grads
        ours.step()
        ours_grads = {k: v for k, v in zip(("weight", "bias"), (
            grads[:weight.size].reshape(weight.shape), grads[weight.size:]))}
        tw.grad = torch.from_numpy(ours_grads["weight"].copy())
        tb.grad = torch.from_numpy(ours_grads["bias"].copy())
        theirs.step()
        parameters = net.get_parameters()
        assert_close(parameters["layer0_weight"], tw, f"weights after step {step + 1}")
        assert_close(parameters["layer0_bias"], tb, f"biases after step {step + 1}")


def test_benchmark_gan_forward_and_backward_match_pytorch():
    """The generator step of benchmark-gan.md: G forward, D forward, non-saturating loss,
    backward through D into G; every parameter gradient of G, D's input gradient."""
    rng = np.random.default_rng(0)
    generator = build_network(GENERATOR_LAYOUT, (64,), name="generator")
    discriminator = build_network(DISCRIMINATOR_LAYOUT, (1, 25, 25), name="discriminator")
    for net in (generator, discriminator):
        net.parameters[:] = rng.normal(0, 0.05, net.parameters.size)
    gan = GAN(generator, discriminator, Adam(generator), Adam(discriminator), rng)
    z = rng.standard_normal((8, 64), dtype=np.float32)

    fake = generator.forward(z)
    logits = discriminator.forward(fake)
    loss, grad = gan.generator_loss(logits)
    discriminator.zero_grad()
    generator.zero_grad()
    grad_fake = discriminator.backward(grad).copy()
    generator.backward(grad_fake, input_grad=False)
    discriminator_grads = engine_parameter_grads(discriminator)

    tg, td = torch_network(generator), torch_network(discriminator)
    tfake = tg(torch.from_numpy(z))
    tfake.retain_grad()
    tlogits = td(tfake)
    tloss = F.binary_cross_entropy_with_logits(tlogits, torch.ones_like(tlogits))
    tloss.backward()

    assert_close(fake, tfake, "generated images")
    assert_close(logits, tlogits, "discriminator logits")
    assert loss == pytest.approx(tloss.item(), rel=1e-5)
    assert_close(grad_fake, tfake.grad, "gradient reaching the generated images")
    for name, ours in engine_parameter_grads(generator).items():
        assert_close(ours, torch_parameter_grads(tg, generator)[name], f"generator {name}")
    for name, ours in discriminator_grads.items():
        assert_close(ours, torch_parameter_grads(td, discriminator)[name],
                     f"discriminator {name}")



def test_full_training_step_matches_pytorch():
    """GAN.train_step against the benchmark-gan.md step in PyTorch: the discriminator
    step on a real and a generated batch, then the generator step through the updated
    discriminator. SGD makes each parameter change lr * gradient, so the changes compare
    directly (Adam's first step is about lr * sign(g) and would hide small errors)."""
    rng = np.random.default_rng(4)
    generator = build_network(GENERATOR_LAYOUT, (64,), name="generator")
    discriminator = build_network(DISCRIMINATOR_LAYOUT, (1, 25, 25), name="discriminator")
    for net in (generator, discriminator):
        net.parameters[:] = rng.normal(0, 0.05, net.parameters.size)
    real = rng.random((6, 1, 25, 25), dtype=np.float32)
    tg, td = torch_network(generator), torch_network(discriminator)
    before = {id(net): net.get_parameters() for net in (generator, discriminator)}
    gan = GAN(generator, discriminator, SGD(generator, 0.5), SGD(discriminator, 0.5),
              np.random.default_rng(9))
    z = np.random.default_rng(9).standard_normal((6, 64), dtype=np.float32)  # train_step's noise

    loss_d, loss_g = gan.train_step(real)

    opt_g = torch.optim.SGD(tg.parameters(), lr=0.5)
    opt_d = torch.optim.SGD(td.parameters(), lr=0.5)
    fake = tg(torch.from_numpy(z))
    opt_d.zero_grad()
    t_loss_d = F.binary_cross_entropy_with_logits(td(torch.from_numpy(real)), torch.ones(6, 1)) \
        + F.binary_cross_entropy_with_logits(td(fake.detach()), torch.zeros(6, 1))
    t_loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    t_loss_g = F.binary_cross_entropy_with_logits(td(fake), torch.ones(6, 1))
    t_loss_g.backward()
    opt_g.step()

    assert loss_d == pytest.approx(t_loss_d.item(), rel=1e-5)
    assert loss_g == pytest.approx(t_loss_g.item(), rel=1e-5)
    for net, module in ((generator, tg), (discriminator, td)):
        after = net.get_parameters()
        for name, tensor in torch_parameters(module, net).items():
            start = before[id(net)][name]
            assert_close(after[name] - start, tensor.detach() - torch.from_numpy(start),
                         f"{net.name} {name} change")


def test_least_squares_hinge_minimax_wasserstein_and_mse_losses_match_pytorch():
    from rootgan.nn.losses import (HingeDiscriminator, HingeGeneratorLoss,
                                   LeastSquaresDiscriminator, LeastSquaresGeneratorLoss,
                                   MeanSquaredError, MinimaxGeneratorLoss, WassersteinCritic,
                                   WassersteinGeneratorLoss)

    outputs = np.array([-3.0, -1.2, -0.3, 0.0, 0.4, 0.9, 2.5], np.float32)
    weights = np.linspace(0.5, 1.5, outputs.size).astype(np.float32)
    targets = np.linspace(-2, 2, outputs.size).astype(np.float32)
    w = torch.from_numpy(weights)
    cases = [
        (lambda: LeastSquaresDiscriminator().real(outputs, weights),
         lambda t: (w * (t - 1) ** 2).mean() / 2),
        (lambda: LeastSquaresDiscriminator().fake(outputs), lambda t: (t ** 2).mean() / 2),
        (lambda: LeastSquaresGeneratorLoss()(outputs), lambda t: ((t - 1) ** 2).mean() / 2),
        (lambda: HingeDiscriminator().real(outputs, weights),
         lambda t: (w * torch.relu(1 - t)).mean()),
        (lambda: HingeDiscriminator().fake(outputs), lambda t: torch.relu(1 + t).mean()),
        (lambda: HingeGeneratorLoss()(outputs), lambda t: -t.mean()),
        (lambda: MinimaxGeneratorLoss()(outputs), lambda t: torch.log1p(-torch.sigmoid(t)).mean()),
        (lambda: WassersteinCritic().real(outputs, weights), lambda t: -(w * t).mean()),
        (lambda: WassersteinCritic().fake(outputs), lambda t: t.mean()),
        (lambda: WassersteinGeneratorLoss()(outputs), lambda t: -t.mean()),
        (lambda: MeanSquaredError()(outputs, targets, weights),
         lambda t: (w * (t - torch.from_numpy(targets)) ** 2).mean()),
    ]
    for index, (ours, theirs) in enumerate(cases):
        loss, grad = ours()
        t = torch.tensor(outputs, requires_grad=True)
        expected = theirs(t)
        expected.backward()
        assert loss == pytest.approx(expected.item(), rel=1e-5, abs=1e-7), index
        assert_close(grad, t.grad, f"loss case {index} gradient")


@pytest.mark.parametrize("layout,input_shape", [
    ("DENSE|16|LEAKYRELU|SPECTRALNORM", (20,)),
    ("CONV|4|3|3|1|1|1|1|RELU|SPECTRALNORM", (3, 6, 6)),
    ("CONV|6|3|3|1|1|1|1|TANH|SPECTRALNORM", (8, 5, 5)),  # the shifted-GEMM path
    ("TRANSCONV|3|3|3|2|2|1|1|TANH|SPECTRALNORM", (4, 4, 4)),
])
def test_spectral_norm_matches_pytorch_over_training_steps(layout, input_shape):
    """torch.nn.utils.spectral_norm with our u and v copied in: after three training
    forwards (one power-iteration step each) the vectors, output and gradients agree."""
    import warnings

    net = random_network(layout, input_shape, np.float32, seed=3)
    text = layout.rsplit("|", 1)[0]
    module = torch_layer(text, input_shape)
    inner = next(m for m in module if hasattr(m, "weight"))
    dim = 1 if isinstance(inner, nn.ConvTranspose2d) else 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.nn.utils.spectral_norm(inner, dim=dim)
    ours = net.get_parameters()
    with torch.no_grad():
        inner.weight_orig.copy_(torch.from_numpy(ours["layer0_weight"]))
        inner.bias.copy_(torch.from_numpy(ours["layer0_bias"]))
        inner.weight_u.copy_(torch.from_numpy(ours["layer0_sn_u"]))
        inner.weight_v.copy_(torch.from_numpy(ours["layer0_sn_v"]))
    rng = np.random.default_rng(6)
    for step in range(3):
        x = rng.normal(size=(5,) + input_shape).astype(np.float32)
        dy = rng.normal(size=(5,) + net.output_shape).astype(np.float32)
        y = net.forward(x).copy()
        net.zero_grad()
        dx = net.backward(dy).copy()
        tx = torch.tensor(x, requires_grad=True)
        inner.zero_grad()
        ty = module(tx)
        ty.backward(torch.from_numpy(dy).reshape(ty.shape))
        assert_close(y, ty, f"{layout} output, step {step + 1}")
        assert_close(dx, tx.grad, f"{layout} input gradient, step {step + 1}")
        grads = engine_parameter_grads(net)
        assert_close(grads["layer0_weight"], inner.weight_orig.grad, f"{layout} weight gradient")
        assert_close(grads["layer0_bias"], inner.bias.grad, f"{layout} bias gradient")
    after = net.get_parameters()
    assert_close(after["layer0_sn_u"], inner.weight_u, "u")
    assert_close(after["layer0_sn_v"], inner.weight_v, "v")
