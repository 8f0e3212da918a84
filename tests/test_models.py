"""Tests for utils.models, AlexNet and GoogLeNet builders: counts, shapes, training step,
reload, real ±1 compute."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from utils.models import MIN_INPUT_SIZE, build_model, summary_figures, summary_table
from utils.quantizers import KBitQuantizer

SMALL = {"alexnet": (67, 1 / 16), "googlenet": (32, 1 / 16)}


def test_googlenet_float_has_the_reports_parameter_count():
    model = build_model("googlenet", "fp32", (224, 224, 3), 2)
    assert model.count_params() == 5_975_602  # report Table 4.1
    assert not any(isinstance(layer, tf.keras.layers.BatchNormalization) for layer in model.layers)


def test_alexnet_float_parameter_count_is_canonical():
    model = build_model("alexnet", "fp32", (227, 227, 3), 2)
    convs = (11 * 11 * 3 * 96 + 96) + (5 * 5 * 96 * 256 + 256) + (3 * 3 * 256 * 384 + 384) \
        + (3 * 3 * 384 * 384 + 384) + (3 * 3 * 384 * 256 + 256)
    dense = (6 * 6 * 256 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 2 + 2)
    assert model.count_params() == convs + dense == 58_289_538


def test_binary_alexnet_summary_at_full_size():
    figures = summary_figures(build_model("alexnet", "binary", (227, 227, 3), 2))
    # First convolution stays float: 55*55*11*11*3*96 MACs, as in report Table 5.1.
    assert figures["macs_32bit"] - 8192 == 105_415_200
    assert figures["macs_1bit"] == 1_025_744_896
    assert 30 < figures["compression_ratio"] < 32


def test_binary_googlenet_compresses_close_to_32x():
    table = summary_table(build_model("googlenet", "binary", (224, 224, 3), 2))
    column = table["googlenet_binary"]
    assert column["params_1bit"] > 0.99 * column["params_total"]
    # float first layer, classifier and batch norm (also after every pool) keep it under 32x
    assert 27 < column["compression_ratio"] < 32
    assert column["macs_1bit"] + column["macs_32bit"] == column["macs_total"]


@pytest.mark.parametrize("name", ["alexnet", "googlenet"])
@pytest.mark.parametrize("size, width", [(None, 1 / 16), (96, 1 / 8), (128, 1 / 16)])
def test_output_shapes_for_sizes_and_widths(name, size, width):
    size = size or MIN_INPUT_SIZE[name]
    model = build_model(name, "binary", (size, size + 8, 3), 5, width=width)
    assert model.output_shape == (None, 5)
    out = model(np.zeros((2, size, size + 8, 3), "float32"), training=False).numpy()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_width_scales_channels():
    narrow = build_model("googlenet", "fp32", (64, 64, 3), 2, width=0.25)
    assert narrow.get_layer("stem_conv1").filters == 16
    assert narrow.get_layer("inception5b_concat").output_shape[-1] == 256


# GoogLeNet's step takes tens of seconds to trace: the slow layer, and only for ternary, the
# one quantizer family of this list outside the main comparison (notebook 04's smoke run,
# executed by tests/test_pipeline.py, trains GoogLeNet at fp32, binary, int8 and int8_qat;
# int4 takes int8's code path).
@pytest.mark.parametrize("name, precision", [
    *(("alexnet", precision) for precision in ("fp32", "binary", "int8", "int4", "ternary")),
    pytest.param("googlenet", "ternary", marks=pytest.mark.slow)])
def test_every_precision_trains_one_step(name, precision):
    size, width = SMALL[name]
    model = build_model(name, precision, (size, size, 3), 2, width=width)
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (8, size, size, 3)).astype("float32")
    y = tf.keras.utils.to_categorical(rng.integers(0, 2, 8), 2)
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights,
                                                               strict=True)]
    assert sum(changed) > len(changed) // 2


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["binary", "int8"])
def test_saved_model_reloads(tmp_path, precision):
    model = build_model("googlenet", precision, (32, 32, 3), 3, width=1 / 16)
    x = np.random.default_rng(1).uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    reloaded = tf.keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_binary_hidden_layers_compute_with_plus_minus_one():
    model = build_model("alexnet", "binary", (67, 67, 3), 2, width=1 / 16)
    layer = model.get_layer("conv3")
    assert layer.pad_values == 1.0
    kernel = layer.kernel_quantizer(tf.convert_to_tensor(layer.kernel)).numpy()
    assert set(np.unique(kernel)) == {-1.0, 1.0}
    probe = tf.keras.Model(model.input, layer.input)
    x = np.random.default_rng(2).uniform(-1, 1, (2, 67, 67, 3)).astype("float32")
    quantized_input = layer.input_quantizer(probe(x, training=False)).numpy()
    assert set(np.unique(quantized_input)) <= {-1.0, 1.0}
    # first layer: float input, binary kernel; last layer: float
    first = model.get_layer("conv1")
    assert first.input_quantizer is None
    first_kernel = first.kernel_quantizer(tf.convert_to_tensor(first.kernel)).numpy()
    assert set(np.unique(first_kernel)) == {-1.0, 1.0}
    assert isinstance(model.get_layer("classifier"), tf.keras.layers.Dense)


def test_binary_dense_layers_are_1x1_convolutions():
    model = build_model("alexnet", "binary", (67, 67, 3), 2, width=1 / 16)
    for name in ("fc6", "fc7"):
        layer = model.get_layer(name)
        assert isinstance(layer, lq.layers.QuantConv2D) and layer.kernel_size == (1, 1)
        assert layer.input_shape[1:3] == (1, 1)
    assert not any(isinstance(layer, lq.layers.QuantDense) for layer in model.layers)


def test_no_relu_before_sign_and_bn_after_every_quantized_layer():
    model = build_model("googlenet", "binary", (32, 32, 3), 2, width=1 / 16)
    assert not any(isinstance(layer, tf.keras.layers.ReLU) for layer in model.layers)
    quantized = [layer for layer in model.layers if isinstance(layer, lq.layers.QuantConv2D)]
    norms = {layer.name for layer in model.layers
             if isinstance(layer, tf.keras.layers.BatchNormalization)}
    assert all(f"{layer.name}_bn" in norms for layer in quantized)


def test_int8_layers_use_k_bit_quantizer():
    model = build_model("googlenet", "int8", (32, 32, 3), 2, width=1 / 16)
    layer = model.get_layer("inception4a_3x3")
    assert isinstance(layer.kernel_quantizer, KBitQuantizer) and layer.kernel_quantizer.k == 8
    values = layer.kernel_quantizer(tf.convert_to_tensor(layer.kernel)).numpy() * 128
    np.testing.assert_allclose(values, np.round(values), atol=1e-4)


def test_float_batch_norm_option_for_like_for_like_comparison():
    plain = build_model("alexnet", "fp32", (67, 67, 3), 2, width=1 / 16)
    with_bn = build_model("alexnet", "fp32", (67, 67, 3), 2, width=1 / 16, batch_norm=True)
    count = sum(isinstance(layer, tf.keras.layers.BatchNormalization) for layer in with_bn.layers)
    assert count == 7 and not any(isinstance(layer, tf.keras.layers.BatchNormalization)
                                  for layer in plain.layers)


def test_quantize_first_and_last():
    model = build_model("alexnet", "binary", (67, 67, 3), 2, width=1 / 16,
                        quantize_first=True, quantize_last=True)
    assert isinstance(model.get_layer("conv1").input_quantizer, lq.quantizers.SteSign)
    assert isinstance(model.get_layer("classifier"), lq.layers.QuantConv2D)


@pytest.mark.parametrize("name", ["alexnet", "googlenet"])
def test_too_small_input_names_the_minimum(name):
    minimum = MIN_INPUT_SIZE[name]
    build_model(name, "fp32", (minimum, minimum, 3), 2, width=1 / 16)
    with pytest.raises(ValueError, match=f"at least {minimum}x{minimum}"):
        build_model(name, "fp32", (minimum - 1, minimum, 3), 2)


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="accepted: alexnet, googlenet"):
        build_model("resnet", "fp32", (224, 224, 3), 2)
    with pytest.raises(ValueError, match="unknown precision 'int32'"):
        build_model("alexnet", "int32", (227, 227, 3), 2)
    with pytest.raises(ValueError, match="width"):
        build_model("alexnet", "fp32", (227, 227, 3), 2, width=0)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("alexnet", "fp32", (227, 227, 3), 1)


@pytest.mark.parametrize("precision, widened", [("int2", True), ("int4", True),
                                                ("int8", False), ("int16", False)])
def test_coarse_grids_start_with_non_zero_quantized_kernels(precision, widened):
    model = build_model("alexnet", precision, (67, 67, 3), 10, width=0.25)
    for layer in model.layers:
        quantizer = getattr(layer, "kernel_quantizer", None)
        if quantizer is None:
            continue
        initializer = type(layer.kernel_initializer).__name__
        assert initializer == ("RandomUniform" if widened else "GlorotUniform"), layer.name
        nonzero = np.mean(quantizer(layer.kernel).numpy() != 0)
        assert nonzero > 0.3, (layer.name, nonzero)  # Glorot alone gives ~0 at 2 and 4 bits
