"""Layout strings: the benchmark GAN builds with the documented shapes and parameter
counts, and every malformed layout fails at build time with a LayoutError that names the
layer index, its text, what was expected and the nearest valid word."""

import numpy as np
import pytest

from rootgan import LayoutError, RootganError
from rootgan.nn import build_network

from .helpers import DISCRIMINATOR_LAYOUT, GENERATOR_LAYOUT


def test_benchmark_generator_has_documented_shapes_and_parameter_count():
    net = build_network(GENERATOR_LAYOUT, (64,), name="generator")
    assert [layer.shape for layer in net.layers] == [
        (6272,), (128, 7, 7), (128, 14, 14), (64, 14, 14), (32, 25, 25), (1, 25, 25)]
    assert net.n_parameters == 664_065


def test_benchmark_discriminator_uses_floor_mode_pooling():
    net = build_network(DISCRIMINATOR_LAYOUT, (1, 25, 25), name="discriminator")
    assert net.layers[1].shape == (32, 12, 12)  # 25 -> 12: last row and column dropped
    assert net.output_shape == (1,)
    assert net.n_parameters == 314_497


def test_summary_lists_every_layer_with_output_shape_and_parameters():
    text = build_network(DISCRIMINATOR_LAYOUT, (1, 25, 25), name="discriminator").summary()
    assert "CONV|32|5|5|1|1|2|2|LEAKYRELU" in text
    assert "32 x 12 x 12" in text
    assert "295,040" in text
    assert "total parameters: 314,497" in text


def test_transposed_convolution_output_size_and_output_padding():
    assert build_network("TRANSCONV|32|5|5|2|2|3|3|LEAKYRELU", (64, 14, 14)).output_shape \
        == (32, 25, 25)
    assert build_network("TRANSCONV|2|3|3|2|2|1|1|1|1|RELU", (4, 5, 5)).output_shape \
        == (2, 10, 10)


def test_dense_accepts_an_image_input_as_flat_values():
    assert build_network("DENSE|3|LINEAR", (2, 4, 4)).layers[0].parameter_shapes()["weight"] \
        == (3, 32)


def _error(layout, shape=(1, 25, 25)):
    with pytest.raises(LayoutError) as info:
        build_network(layout, shape, name="discriminator")
    assert isinstance(info.value, RootganError)
    return str(info.value)


def test_unknown_layer_word_suggests_the_nearest_one():
    message = _error("CONV|8|3|3|1|1|1|1|RELU,MAXPOL|2|2|2|2")
    assert "layer 1 (MAXPOL|2|2|2|2)" in message
    assert "did you mean MAXPOOL?" in message


def test_layer_words_are_case_sensitive_as_in_tmva():
    assert "did you mean CONV?" in _error("conv|8|3|3|1|1|1|1|RELU")


def test_unknown_activation_suggests_the_nearest_one():
    message = _error("CONV|8|3|3|1|1|1|1|LEAKYRELLU")
    assert "unknown activation" in message and "did you mean LEAKYRELU?" in message


def test_wrong_field_count_shows_the_expected_form():
    message = _error("CONV|8|3|3|1|1|1|RELU")
    assert "layer 0" in message and "takes 8 fields, got 7" in message
    assert "CONV|n|fH|fW|strideR|strideC|padH|padW|ACT" in message


@pytest.mark.parametrize("layout", ["DENSE|0|RELU", "CONV|8|0|3|1|1|1|1|RELU",
                                    "CONV|8|3|3|0|1|1|1|RELU", "MAXPOOL|2|2|0|2",
                                    "UPSAMPLE|0|2", "CONV|8|3|3|1|1|-1|1|RELU"])
def test_non_positive_sizes_are_rejected(layout):
    message = _error(layout)
    assert "layer 0" in message and layout in message


def test_non_integer_field_is_rejected():
    assert "fH must be an integer, got 'x'" in _error("CONV|8|x|3|1|1|1|1|RELU")


def test_output_smaller_than_one_pixel_names_layer_and_shapes():
    message = _error("CONV|8|3|3|1|1|1|1|RELU,MAXPOOL|2|2|2|2,CONV|4|15|15|1|1|0|0|RELU")
    assert "layer 2 (CONV|4|15|15|1|1|0|0|RELU), input 8|12|12" in message
    assert "output would be -2x-2" in message


def test_convolution_on_flat_data_asks_for_a_reshape():
    message = _error("CONV|8|3|3|1|1|1|1|RELU", shape=(64,))
    assert "RESHAPE|d|h|w" in message


def test_reshape_with_the_wrong_size_says_both_sizes():
    message = _error("DENSE|100|RELU,RESHAPE|2|7|7")
    assert "needs 98 values per sample but its input has 100" in message


@pytest.mark.parametrize("word,message", [
    ("DROPOUT|1.5", "DROPOUT rate must be in [0, 1), got 1.5"),
    ("DROPOUT|half", "rate must be a number in [0, 1), got 'half'"),
    ("DROPOUT", "DROPOUT takes 1 fields, got 0; expected DROPOUT|rate"),
    ("BNORM|2", "BNORM takes 0 fields, got 1"),
    ("MINIBATCH|10", "MINIBATCH takes 2 fields, got 1; expected MINIBATCH|nKernels|kernelDim"),
    ("MINIBATCH|0|5", "MINIBATCH kernels must be a positive integer, got 0"),
])
def test_dropout_batch_norm_and_minibatch_fields_are_checked(word, message):
    assert message in _error(f"CONV|8|3|3|1|1|1|1|RELU,{word}")


def test_batch_norm_needs_a_batch_for_flat_features():
    from rootgan.errors import DataError
    from rootgan.nn import build_network

    net = build_network("BNORM", (5,))
    with pytest.raises(DataError, match="batch of one flat sample has no variance"):
        net.forward(np.ones((1, 5), np.float32))


def test_spectral_norm_mistakes_name_the_layer_word_first():
    assert "unknown layer 'DENS'" in _error("RESHAPE|FLAT,DENS|64|RELU|SPECTRALNORM")
    assert "(optionally followed by |SPECTRALNORM)" in _error(
        "RESHAPE|FLAT,DENSE|64|SPECTRALNORM")


def test_spectral_norm_is_a_field_of_weighted_layers_only():
    assert "SPECTRALNORM is a trailing field of DENSE, CONV, LOCAL, TRANSCONV only, not of " \
        "MAXPOOL" in _error("CONV|8|3|3|1|1|1|1|RELU,MAXPOOL|2|2|2|2|SPECTRALNORM")
    build_network("CONV|8|3|3|1|1|1|1|RELU|SPECTRALNORM,RESHAPE|FLAT,DENSE|1|LINEAR|SPECTRALNORM",
                  (1, 25, 25))


def test_empty_layouts_and_empty_entries_are_rejected():
    assert "empty" in _error("")
    assert "layer 1" in _error("DENSE|4|RELU,,DENSE|1|LINEAR")


def test_transposed_convolution_output_padding_must_be_below_stride():
    assert "smaller than the stride" in _error("TRANSCONV|2|3|3|2|2|1|1|2|0|RELU", (4, 5, 5))


def test_negative_leaky_relu_slope_is_rejected():
    with pytest.raises(LayoutError, match="LeakyReluSlope"):
        build_network("DENSE|4|LEAKYRELU", (3,), leaky_relu_slope=-0.1)


def test_layout_builds_in_float64_for_gradient_checks():
    net = build_network("DENSE|4|TANH", (3,), dtype=np.float64)
    assert net.parameters.dtype == np.float64
