"""Networks as a user drives them: parameters in and out by name, seeded reproducibility,
clear errors for wrong inputs, and a GAN that learns."""

import numpy as np
import pytest

from rootgan import DataError, LayoutError, OptionError, WeightsError
from rootgan.nn import (GAN, SGD, Adam, build_network, get_num_threads, initialize,
                        make_optimizer, set_num_threads)

from .helpers import DISCRIMINATOR_LAYOUT, GENERATOR_LAYOUT, random_network

SMALL_G = "DENSE|32|LEAKYRELU,RESHAPE|2|4|4,UPSAMPLE|2|2,CONV|8|3|3|1|1|1|1|LEAKYRELU," \
          "TRANSCONV|4|3|3|1|1|1|1|LEAKYRELU,CONV|1|3|3|1|1|1|1|RELU"
SMALL_D = "CONV|8|3|3|1|1|1|1|LEAKYRELU,MAXPOOL|2|2|2|2,CONV|8|3|3|1|1|1|1|LEAKYRELU," \
          "RESHAPE|FLAT,DENSE|16|LEAKYRELU,DENSE|1|LINEAR"


def small_gan(seed, latent="GAUSS", average=0.0):
    rng = np.random.default_rng(seed)
    g = build_network(SMALL_G, (6,), name="generator")
    d = build_network(SMALL_D, (1, 8, 8), name="discriminator")
    initialize(g, rng)
    initialize(d, rng, "XAVIER")
    return GAN(g, d, Adam(g, 1e-3), Adam(d, 1e-3), rng, latent, generator_average=average)


def test_parameters_round_trip_through_a_plain_mapping():
    source = random_network(SMALL_D, (1, 8, 8), np.float32, seed=1)
    target = build_network(SMALL_D, (1, 8, 8))
    mapping = source.get_parameters()
    assert list(mapping)[:2] == ["layer0_weight", "layer0_bias"]
    assert mapping["layer0_weight"].shape == (8, 1, 3, 3)
    target.set_parameters(mapping)
    x = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(source.forward(x), target.forward(x))


def test_exported_parameters_are_copies():
    net = random_network("DENSE|3|LINEAR", (2,), np.float32)
    mapping = net.get_parameters()
    mapping["layer0_bias"][:] = 99
    assert not np.any(net.parameters == 99)


def test_loading_mismatched_parameters_names_what_differs():
    net = build_network("DENSE|3|LINEAR", (2,))
    with pytest.raises(WeightsError, match="missing \\['layer0_bias'\\]"):
        net.set_parameters({"layer0_weight": np.zeros((3, 2))})
    with pytest.raises(WeightsError, match="layer0_weight has shape \\(3, 2\\), got \\(2, 3\\)"):
        net.set_parameters({"layer0_weight": np.zeros((2, 3)), "layer0_bias": np.zeros(3)})
    with pytest.raises(WeightsError, match="NaN"):
        net.set_parameters({"layer0_weight": np.full((3, 2), np.nan), "layer0_bias": np.zeros(3)})


def test_forward_rejects_a_batch_of_the_wrong_shape():
    net = build_network("DENSE|3|LINEAR", (1, 5, 5), name="discriminator")
    with pytest.raises(DataError, match=r"discriminator expects .* \(n, 1, 5, 5\); got float32 \(4, 24\)"):
        net.forward(np.zeros((4, 24), np.float32))


def test_same_seed_gives_identical_training():
    runs = []
    for _ in range(2):
        gan = small_gan(seed=42)
        real = np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32)
        losses = [gan.train_step(real) for _ in range(3)]
        runs.append((losses, gan.generator.parameters.copy(),
                     gan.discriminator.parameters.copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    other = small_gan(seed=43)
    assert not np.array_equal(other.generator.parameters, runs[0][1])


def test_training_steps_reuse_their_buffers_instead_of_allocating_per_batch():
    import tracemalloc

    gan = small_gan(0)
    real = np.random.default_rng(1).random((64, 1, 8, 8), dtype=np.float32)
    for _ in range(2):  # the first steps allocate every layer's buffers
        gan.train_step(real)
    tracemalloc.start()
    try:
        for _ in range(5):
            gan.train_step(real)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one batch's activations alone are ~100 kB; views and scalars stay far below
    assert peak < 16_000


def test_uniform_latent_noise_stays_in_range():
    gan = small_gan(seed=0, latent="UNIFORM")
    noise = gan.sample_latent(1000)
    assert noise.min() >= -1 and noise.max() <= 1 and abs(noise.mean()) < 0.05


def test_gan_learns_the_brightness_of_its_training_images():
    """Real images are flat at 0.5; an untrained generator's are not. Training must pull
    the generated mean pixel towards 0.5."""
    gan = small_gan(seed=3)
    real = np.full((32, 1, 8, 8), 0.5, np.float32)
    before = abs(gan.generate(256).mean() - 0.5)
    for _ in range(150):
        gan.train_step(real)
    after = abs(gan.generate(256).mean() - 0.5)
    assert after < 0.1 and after < before / 2, (before, after)


def test_generate_returns_images_of_the_generator_shape_in_batches():
    gan = small_gan(seed=0)
    images = gan.generate(10, batch_size=4)
    assert images.shape == (10, 1, 8, 8) and np.all(images >= 0)  # final RELU


def test_generated_images_do_not_depend_on_the_batch_size():
    gan = small_gan(seed=0)
    runs = [gan.generate(11, batch_size=b, rng=np.random.default_rng(5)) for b in (11, 4, 1, 7)]
    for images in runs[1:]:
        np.testing.assert_allclose(images, runs[0], rtol=1e-5, atol=1e-7)


def test_generate_rejects_bad_counts():
    gan = small_gan(seed=0)
    for n, batch in ((-1, 4), (3, 0), (2.5, 4)):
        with pytest.raises(DataError, match="n >= 0 and batch_size >= 1"):
            gan.generate(n, batch_size=batch)


def test_event_weights_need_one_finite_value_per_image():
    gan = small_gan(seed=0)
    real = np.ones((4, 1, 8, 8), np.float32)
    gan.train_step(real, weights=np.array([1, 2, 0.5, 1]))
    with pytest.raises(DataError, match="one finite weight per real image, shape \\(4,\\)"):
        gan.train_step(real, weights=np.ones(3))
    with pytest.raises(DataError, match="NaN or inf"):
        gan.train_step(real, weights=np.array([1, np.nan, 1, 1]))


def test_backward_must_follow_a_forward_of_the_same_batch():
    net = build_network("DENSE|3|TANH", (2,), name="critic")
    with pytest.raises(DataError, match="no forward ran yet"):
        net.backward(np.ones((4, 3), np.float32))
    net.forward(np.ones((4, 2), np.float32))
    with pytest.raises(DataError, match="critic.backward needs .* shape \\(4, 3\\); got \\(2, 3\\)"):
        net.backward(np.ones((2, 3), np.float32))


@pytest.mark.parametrize("shape", [(0, 4, 4), (2, 4), (2.5,), "25", (1, -1, 3)])
def test_input_shapes_must_be_positive_integers(shape):
    with pytest.raises(LayoutError, match="input shape must be"):
        build_network("DENSE|3|TANH", shape)


def test_only_float32_and_float64_are_computed():
    with pytest.raises(LayoutError, match="float32"):
        build_network("DENSE|3|TANH", (2,), dtype=np.float16)


def test_benchmark_generator_fuses_its_upsampling_into_the_convolution():
    g = build_network(GENERATOR_LAYOUT, (64,))
    upsample, conv = g.layers[2], g.layers[3]
    assert upsample.fused and conv.phased and conv.upsample == (2, 2)
    d = build_network(DISCRIMINATOR_LAYOUT, (1, 25, 25))
    assert not d.layers[0].phased  # one input channel: im2col
    assert d.layers[2].phased


@pytest.mark.skipif(get_num_threads() < 2, reason="needs 2 Numba threads to split batches")
def test_results_agree_across_thread_counts():
    """Batches are split into one chunk per thread and partial gradients reduced in chunk
    order: 1 and 2 threads give the same numbers up to float rounding."""
    results = []
    threads = get_num_threads()
    try:
        for count in (1, 2):
            set_num_threads(count)
            gan = small_gan(seed=8)
            real = np.random.default_rng(0).random((9, 1, 8, 8), dtype=np.float32)
            for _ in range(2):
                gan.train_step(real)
            results.append((gan.generator.parameters.copy(),
                            gan.discriminator.parameters.copy()))
    finally:
        set_num_threads(threads)
    for one, two in zip(*results):
        np.testing.assert_allclose(one, two, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("last", ["DENSE|2|LINEAR", "DENSE|1|SIGMOID"])
def test_discriminator_must_end_in_one_logit(last):
    g = build_network(SMALL_G, (6,))
    d = build_network(f"RESHAPE|FLAT,{last}", (1, 8, 8))
    with pytest.raises(LayoutError, match=f"must end in DENSE\\|1\\|LINEAR .* ends in {last}"):
        GAN(g, d, Adam(g), Adam(d), np.random.default_rng(0))


def test_optimizers_must_belong_to_their_networks():
    g = build_network(SMALL_G, (6,))
    d = build_network(SMALL_D, (1, 8, 8))
    with pytest.raises(LayoutError, match="generator optimizer was made for another network"):
        GAN(g, d, Adam(d), Adam(d), np.random.default_rng(0))


def test_generator_output_must_fit_the_discriminator_input():
    g = build_network("DENSE|10|RELU", (6,))
    d = build_network(SMALL_D, (1, 8, 8))
    with pytest.raises(LayoutError, match="does not match"):
        GAN(g, d, Adam(g), Adam(d), np.random.default_rng(0))


def test_optimizers_by_name_are_case_insensitive_and_misspellings_are_explained():
    net = build_network("DENSE|3|LINEAR", (2,))
    assert isinstance(make_optimizer("adam", net), Adam)
    assert isinstance(make_optimizer("Sgd", net, learning_rate=0.1, momentum=0.9), SGD)
    with pytest.raises(OptionError, match="did you mean ADAM"):
        make_optimizer("ADMA", net)


def test_unknown_initialisation_scheme_is_explained():
    net = build_network("DENSE|3|LINEAR", (2,))
    with pytest.raises(OptionError, match="did you mean XAVIERUNIFORM"):
        initialize(net, np.random.default_rng(0), "XAVIERUNIFROM")


def test_xavier_uniform_respects_its_bound():
    net = build_network("DENSE|30|LINEAR", (20,))
    initialize(net, np.random.default_rng(0), "XAVIERUNIFORM")
    bound = np.sqrt(6 / 50)
    weight = net.get_parameters()["layer0_weight"]
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    assert np.all(net.get_parameters()["layer0_bias"] == 0)


@pytest.mark.parametrize("pair", [("NONSATURATING", "BCE"), ("MINIMAX", "BCE"),
                                  ("LEASTSQUARES", "LEASTSQUARES"), ("HINGE", "HINGE")])
def test_every_matched_loss_pair_trains(pair):
    rng = np.random.default_rng(0)
    g = build_network(SMALL_G, (6,))
    d = build_network(SMALL_D, (1, 8, 8))
    initialize(g, rng)
    initialize(d, rng)
    gan = GAN(g, d, Adam(g, 1e-3), Adam(d, 1e-3), rng, generator_loss=pair[0],
              discriminator_loss=pair[1])
    real = np.full((8, 1, 8, 8), 0.5, np.float32)
    losses = [gan.train_step(real) for _ in range(3)]
    assert all(np.isfinite(l).all() for l in losses)
    assert np.isfinite(gan.discriminator_step(real))
    assert all(np.isfinite(gan.last_outputs))


def test_unmatched_or_unknown_losses_are_option_errors():
    g = build_network(SMALL_G, (6,))
    d = build_network(SMALL_D, (1, 8, 8))
    with pytest.raises(OptionError, match="GeneratorLoss=HINGE does not go with "
                                          "DiscriminatorLoss=BCE; matched pairs"):
        GAN(g, d, Adam(g), Adam(d), np.random.default_rng(0), generator_loss="HINGE")
    with pytest.raises(OptionError, match="did you mean LEASTSQUARES"):
        GAN(g, d, Adam(g), Adam(d), np.random.default_rng(0), discriminator_loss="LEASTSQUARE")


def test_generator_average_follows_each_generator_step_with_a_warmed_up_decay():
    gan = small_gan(seed=5, average=0.999)
    real = np.random.default_rng(1).random((16, 1, 8, 8), dtype=np.float32)
    expected = gan.generator.parameters.astype(np.float64)
    for step in range(1, 6):
        gan.train_step(real)
        decay = min(0.999, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * gan.generator.parameters
    np.testing.assert_allclose(gan.generator_average.average, expected, rtol=1e-5, atol=1e-7)
    assert not np.allclose(gan.generator_average.average, gan.generator.parameters)


def test_averaged_generator_generates_with_the_average_and_restores_the_weights():
    gan = small_gan(seed=5, average=0.9)
    real = np.random.default_rng(1).random((16, 1, 8, 8), dtype=np.float32)
    for _ in range(5):
        gan.train_step(real)
    own = gan.generator.parameters.copy()
    with gan.averaged_generator():
        np.testing.assert_array_equal(gan.generator.parameters, gan.generator_average.average)
        averaged = gan.generate(8, rng=np.random.default_rng(0)).copy()
    np.testing.assert_array_equal(gan.generator.parameters, own)
    assert not np.array_equal(averaged, gan.generate(8, rng=np.random.default_rng(0)))
    with gan.averaged_generator(), pytest.raises(RuntimeError, match="already applied"):
        with gan.averaged_generator():
            pass
    np.testing.assert_array_equal(gan.generator.parameters, own)


def test_weight_average_decay_must_be_below_one():
    with pytest.raises(OptionError, match="between 0 and 1"):
        small_gan(seed=0, average=1.0)


def test_instance_noise_reaches_the_discriminator_only_when_switched_on():
    from rootgan.nn import GAN, SGD, build_network

    rng = np.random.default_rng(0)
    generator = build_network("DENSE|16|RELU", (4,))
    discriminator = build_network("DENSE|1|LINEAR", (16,))
    discriminator.parameters[:] = rng.normal(size=discriminator.parameters.size)
    gan = GAN(generator, discriminator, SGD(generator, 0.0), SGD(discriminator, 0.0), rng)
    real = rng.normal(size=(64, 16)).astype(np.float32)
    clean = float(np.mean(1 / (1 + np.exp(-discriminator.forward(real)))))  # D(real)
    gan.train_step(real)
    assert gan.last_outputs[0] == pytest.approx(clean, rel=1e-6)
    gan.instance_noise = 3.0
    gan.train_step(real)
    assert gan.last_outputs[0] != pytest.approx(clean, rel=1e-3)


def _check_conditional_generator_gradient(gan, generator, discriminator):
    """One generator step of a GAN with latent 3 and 2 conditions on 4x4 images; its
    generator gradient against central finite differences of the generator loss."""
    rng = np.random.default_rng(3)
    z, conditions = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    gan.sample_latent = lambda n, rng=None: z[:n]
    real = rng.normal(size=(4, 1, 4, 4))
    gan.train_step(real, conditions=conditions)
    analytic = generator.gradients.copy()
    targets = gan._real_targets(real)  # an output stage's, else None

    def loss():
        images, _ = gan._fake(4, conditions, targets, training=False)
        return gan.generator_loss(discriminator.forward(
            gan._packed(gan._with_conditions(images, conditions)[0])))[0]
    numeric = np.empty(generator.parameters.size)
    for i in range(numeric.size):
        saved = generator.parameters[i]
        generator.parameters[i] = saved + 1e-6
        up = loss()
        generator.parameters[i] = saved - 1e-6
        down = loss()
        generator.parameters[i] = saved
        numeric[i] = (up - down) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("discriminator_layout,discriminator_input", [
    ("DENSE|6|TANH,DENSE|1|LINEAR", (16 + 2,)),                      # conditions appended
    ("CONV|2|3|3|1|1|1|1|TANH,RESHAPE|FLAT,DENSE|1|LINEAR", (1 + 2, 4, 4)),  # as channels
])
def test_conditional_gan_generator_gradient_matches_finite_differences(
        discriminator_layout, discriminator_input):
    """CGAN: the generator sees [z, c], the discriminator the image with c attached; the
    generator's gradient must come back through the image part of D's input only."""
    from rootgan.nn import GAN, SGD

    generator = random_network("DENSE|16|TANH,RESHAPE|1|4|4", (3 + 2,), np.float64, seed=1)
    discriminator = random_network(discriminator_layout, discriminator_input, np.float64,
                                   seed=2)
    gan = GAN(generator, discriminator, SGD(generator, 0.0), SGD(discriminator, 0.0),
              np.random.default_rng(0), condition_dim=2)
    assert gan.latent_dim == 3
    _check_conditional_generator_gradient(gan, generator, discriminator)
    del gan.sample_latent  # back to drawing noise
    images = gan.generate(5, conditions=np.zeros((5, 2)))
    assert images.shape == (5, 1, 4, 4)


class TanhSum:
    """An image feature for the tests: sum of tanh over the pixels, with its backward."""
    width = 1

    def __call__(self, images, conditions):
        flat = images.reshape(images.shape[0], -1)
        values = np.tanh(flat).sum(axis=1, keepdims=True)
        return values, lambda grad: grad * (1 - np.tanh(flat) ** 2)


@pytest.mark.parametrize("discriminator_layout,discriminator_input", [
    ("DENSE|6|TANH,DENSE|1|LINEAR", (16 + 2 + 1,)),                      # appended
    ("CONV|2|3|3|1|1|1|1|TANH,RESHAPE|FLAT,DENSE|1|LINEAR", (1 + 2 + 1, 4, 4)),  # channels
])
def test_image_features_pass_their_gradient_back_to_the_generator(
        discriminator_layout, discriminator_input):
    """The discriminator sees a value computed from each image (CaloGAN's total energy)
    beside the image and the conditions; the generator's gradient must include what flows
    back through it."""
    from rootgan.nn import GAN, SGD

    generator = random_network("DENSE|16|TANH,RESHAPE|1|4|4", (3 + 2,), np.float64, seed=1)
    discriminator = random_network(discriminator_layout, discriminator_input, np.float64,
                                   seed=2)
    gan = GAN(generator, discriminator, SGD(generator, 0.0), SGD(discriminator, 0.0),
              np.random.default_rng(0), condition_dim=2, image_features=TanhSum())
    _check_conditional_generator_gradient(gan, generator, discriminator)


@pytest.mark.parametrize("discriminator_layout,discriminator_input", [
    ("DENSE|6|TANH,DENSE|1|LINEAR", (2 * (16 + 2 + 1),)),                 # flat, side by side
    ("CONV|2|3|3|1|1|1|1|TANH,RESHAPE|FLAT,DENSE|1|LINEAR", (2 * (1 + 2 + 1), 4, 4)),  # channels
])
def test_packing_judges_pairs_of_images_and_passes_each_image_its_gradient(
        discriminator_layout, discriminator_input):
    """PacGAN: the discriminator sees two images (each with its conditions and features)
    at once; each generated image must get its own part of the pair's gradient."""
    from rootgan.nn import GAN, SGD

    generator = random_network("DENSE|16|TANH,RESHAPE|1|4|4", (3 + 2,), np.float64, seed=1)
    discriminator = random_network(discriminator_layout, discriminator_input, np.float64,
                                   seed=2)
    gan = GAN(generator, discriminator, SGD(generator, 0.0), SGD(discriminator, 0.0),
              np.random.default_rng(0), condition_dim=2, image_features=TanhSum(), packing=2)
    _check_conditional_generator_gradient(gan, generator, discriminator)
    # the discriminator loss is that of the pairs: real images 0 and 1 are judged together
    rng = np.random.default_rng(5)
    real, conditions = rng.normal(size=(4, 1, 4, 4)), rng.normal(size=(4, 2))
    seen, _ = gan._with_conditions(real, conditions)
    pairs = discriminator.forward(seen.reshape((2, -1) + seen.shape[2:])).copy()
    gan.train_step(real, conditions=conditions)
    assert gan.last_outputs[0] == pytest.approx(np.mean(1 / (1 + np.exp(-pairs))), rel=1e-9)
    # inference: one output per image, each judged with the same partner
    outputs = gan.judge(seen[[0, 2, 3]], partners=seen[1:2])
    assert outputs.shape == (3, 1)
    assert outputs[0, 0] == pytest.approx(pairs[0, 0], rel=1e-9)
    assert gan.judge(seen[[3, 0]], partners=seen[1:2])[1, 0] == pytest.approx(pairs[0, 0],
                                                                               rel=1e-9)
    with pytest.raises(DataError, match="with Packing=2 each image is judged with 1 partner"):
        gan.judge(seen)
    with pytest.raises(DataError, match="with Packing=2 the discriminator judges 2 images at "
                                        "once: give a batch of a multiple of 2 images, not 3"):
        gan.train_step(real[:3], conditions=conditions[:3])
    with pytest.raises(LayoutError, match="with Packing=3 the discriminator's input"):
        GAN(generator, discriminator, SGD(generator, 0.0), SGD(discriminator, 0.0),
            np.random.default_rng(0), condition_dim=2, image_features=TanhSum(), packing=3)


class ShiftToMean:
    """An output stage for the tests: each image shifted to the mean pixel of the real
    image it is paired with; the generator is told that mean."""
    width = 1

    def inputs(self, targets):
        return np.asarray(targets).reshape(-1, 1)

    def targets(self, real):
        return real.mean(axis=1)

    def __call__(self, values, targets):
        shifted = values - values.mean(axis=1, keepdims=True) + targets[:, None]
        return shifted, lambda grad: grad - grad.mean(axis=1, keepdims=True)


def test_an_output_stage_passes_its_gradient_back_to_the_generator():
    """An output stage fits each generated image to a target from the real batch
    (SumFromData); the generator sees the target after the conditions and its gradient
    comes back through the stage."""
    from rootgan.nn import GAN, SGD

    generator = random_network("DENSE|16|TANH,RESHAPE|1|4|4", (3 + 2 + 1,), np.float64,
                               seed=1)
    discriminator = random_network("DENSE|6|TANH,DENSE|1|LINEAR", (16 + 2,), np.float64,
                                   seed=2)
    gan = GAN(generator, discriminator, SGD(generator, 0.0), SGD(discriminator, 0.0),
              np.random.default_rng(0), condition_dim=2, output_stage=ShiftToMean())
    assert gan.latent_dim == 3
    _check_conditional_generator_gradient(gan, generator, discriminator)
    del gan.sample_latent
    images = gan.generate(3, conditions=np.zeros((3, 2)), targets=[0.5, -1.0, 2.0])
    np.testing.assert_allclose(images.reshape(3, -1).mean(axis=1), [0.5, -1.0, 2.0])


def test_conditional_gan_inputs_are_checked():
    from rootgan.nn import GAN, SGD

    generator = build_network("DENSE|16|TANH", (5,))
    discriminator = build_network("DENSE|1|LINEAR", (18,))
    with pytest.raises(LayoutError, match="with 3 conditions the discriminator's input must"):
        GAN(generator, discriminator, SGD(generator), SGD(discriminator),
            np.random.default_rng(0), condition_dim=3)
    gan = GAN(generator, discriminator, SGD(generator), SGD(discriminator),
              np.random.default_rng(0), condition_dim=2)
    with pytest.raises(DataError, match="needs finite conditions of shape \\(4, 2\\)"):
        gan.train_step(np.zeros((4, 16), np.float32), conditions=np.zeros((4, 3)))
    with pytest.raises(DataError, match="with NaN or inf"):
        gan.generate(2, conditions=np.array([[0.0, np.nan], [1.0, 1.0]]))


def _finite_differences(network, loss, eps=1e-6):
    numeric = np.empty(network.parameters.size)
    for i in range(numeric.size):
        saved = network.parameters[i]
        network.parameters[i] = saved + eps
        up = loss()
        network.parameters[i] = saved - eps
        down = loss()
        network.parameters[i] = saved
        numeric[i] = (up - down) / (2 * eps)
    return numeric


def test_acgan_auxiliary_head_and_energy_penalty_gradients_match_finite_differences():
    """ACGAN: the discriminator's last layer carries, after its logit, a regression output
    for a continuous condition and logits for a class condition; the discriminator learns
    them on real images, the generator on its own (with an energy penalty on top). Both
    networks' gradients must match finite differences of the summed losses."""
    from rootgan.nn import GAN, SGD
    from rootgan.nn.auxiliary import AuxiliaryHead, Classification, Regression

    head = AuxiliaryHead([Regression(), Classification([-1.0, 1.0])], weight=0.7)
    generator = random_network("DENSE|16|SOFTPLUS", (3 + 2,), np.float64, seed=1)
    discriminator = random_network("DENSE|6|TANH,DENSE|4|LINEAR", (16,), np.float64, seed=2)

    def penalty(fake, conditions):  # squared mismatch of the image sum and condition 0
        mismatch = fake.reshape(len(fake), -1).sum(axis=1) - conditions[:, 0]
        grad = np.repeat((2 * mismatch / len(fake))[:, None], 16, axis=1)
        return float(np.mean(mismatch ** 2)), grad

    gan = GAN(generator, discriminator, SGD(generator, 0.0), SGD(discriminator, 0.0),
              np.random.default_rng(0), condition_dim=2, conditions_to_discriminator=False,
              auxiliary=head, generator_penalty=penalty)
    rng = np.random.default_rng(3)
    z = rng.normal(size=(5, 3))
    conditions = np.stack([rng.normal(size=5), rng.choice([-1.0, 1.0], 5)], axis=1)
    real = rng.normal(size=(5, 16))
    weights = rng.uniform(0.5, 2, 5)
    gan.sample_latent = lambda n, rng=None: z[:n]
    gan.train_step(real, weights, conditions=conditions)

    def fake():
        return generator.forward(np.concatenate([z, conditions], axis=1))

    def discriminator_loss():
        out_real = discriminator.forward(real)
        loss = gan.discriminator_loss.real(out_real[:, :1].copy(), weights)[0]
        loss += head.loss(out_real[:, 1:], conditions, weights)[0]
        return loss + gan.discriminator_loss.fake(discriminator.forward(fake())[:, :1].copy())[0]

    def generator_loss():
        images = fake()
        out = discriminator.forward(images)
        return (gan.generator_loss(out[:, :1].copy())[0] + head.loss(out[:, 1:], conditions)[0]
                + penalty(images, conditions)[0])
    for network, loss in ((discriminator, discriminator_loss), (generator, generator_loss)):
        analytic = network.gradients.copy()
        np.testing.assert_allclose(analytic, _finite_differences(network, loss),
                                   rtol=1e-5, atol=1e-8)
    predicted = head.predict(np.array([[0.3, 2.0, -1.0]]))
    assert predicted.tolist() == [[0.3, -1.0]]
