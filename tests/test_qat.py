"""Tests for utils.qat: the field's 8-bit network, quantization-aware training with tfmot,
and its int8 file."""

import numpy as np
import pytest
import tensorflow as tf

from utils import deploy
from utils.config import make_config
from utils.deploy import (
    convert_qat,
    count_lce_ops,
    file_bytes,
    kernel_splits,
    operator_tensors,
    split_for_converter,
)
from utils.models import build_model, load_model, save_model, summary_figures
from utils.names import model_file_suffix, precision_bits
from utils.qat import is_qat_model, qat_summary, quantize_network

# The slow layer: tfmot wrapping, training and conversion.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_qat_alexnet(tmp_path_factory):
    """A small QAT AlexNet after a few training steps on random data, saved and reloaded."""
    tf.keras.utils.set_random_seed(0)
    model = build_model("alexnet", "int8_qat", (67, 67, 3), 10, width=0.125)
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (32, 67, 67, 3)).astype("float32")
    labels = tf.one_hot(rng.integers(0, 10, 32), 10)
    model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    path = save_model(model, tmp_path_factory.mktemp("qat") / "alexnet_int8_qat.h5")
    return model, load_model(path), images


@pytest.fixture(scope="module")
def qat_file(trained_qat_alexnet):
    """The trained small QAT AlexNet's int8 file, converted once for the tests below."""
    return convert_qat(trained_qat_alexnet[0])


def test_the_qat_precision_is_the_float_network_wrapped_by_tfmot():
    model = build_model("googlenet", "int8_qat", (32, 32, 3), 2, width=0.0625)
    assert model.name == "googlenet_int8_qat" and is_qat_model(model)
    assert not is_qat_model(build_model("googlenet", "fp32", (32, 32, 3), 2, width=0.0625))
    names = [layer.name for layer in model.layers]
    assert "quant_stem_conv1" in names and "quant_stem_conv1_bn" in names  # BN kept, folded
    assert precision_bits("int8_qat") == 8
    assert model_file_suffix("int8_qat") == ".h5" and model_file_suffix("binary") == ".keras"
    config = make_config("alexnet", "int8_qat")
    assert config.batch_norm and config.learning_rate == 0.01  # the quick recipe
    with pytest.raises(ValueError, match="quantize_first"):
        make_config("alexnet", "int8_qat", quantize_first=True)


def test_qat_summary_counts_kernels_at_8_bits():
    float_model = build_model("alexnet", "fp32", (67, 67, 3), 10, width=0.125, batch_norm=True)
    qat = build_model("alexnet", "int8_qat", (67, 67, 3), 10, width=0.125)
    figures, float_figures = summary_figures(qat), summary_figures(float_model)
    assert figures == qat_summary(qat)
    assert figures["params_total"] == float_figures["params_total"]  # no range variables
    assert figures["macs_total"] == float_figures["macs_total"]
    kernels = sum(int(np.prod(layer.kernel.shape)) for layer in float_model.layers
                  if hasattr(layer, "kernel"))
    assert figures["params_8bit"] == kernels
    expected = (8 * kernels + 32 * (figures["params_total"] - kernels)) / 8 / 2**20
    assert figures["memory_mib"] == pytest.approx(expected)
    assert 3.5 < figures["compression_ratio"] < 4.0


def test_a_trained_qat_model_reloads_and_predicts_the_same(trained_qat_alexnet):
    model, reloaded, images = trained_qat_alexnet
    assert is_qat_model(reloaded)
    np.testing.assert_allclose(reloaded.predict(images[:4], verbose=0),
                               model.predict(images[:4], verbose=0), atol=1e-6)


def test_the_qat_file_is_integer_from_end_to_end(trained_qat_alexnet, qat_file):
    model, _, images = trained_qat_alexnet
    ops = count_lce_ops(qat_file)
    # five convolutions and fc6, fc7 as 1x1 convolutions (batch norm folded); the classifier
    assert "DEQUANTIZE" not in ops and ops["CONV_2D"] == 7 and ops["FULLY_CONNECTED"] == 1
    for op in operator_tensors(qat_file, "FULLY_CONNECTED"):
        assert [tensor["type"] for tensor in op["inputs"][:2]] == ["INT8", "INT8"]
    for op in operator_tensors(qat_file, "CONV_2D"):
        assert op["inputs"][0]["type"] == "INT8" and op["inputs"][1]["type"] == "INT8"
        assert op["inputs"][2]["type"] == "INT32"  # the bias, with batch norm folded in
        assert len(op["inputs"][1]["scale"]) == op["inputs"][1]["shape"][0]  # per channel
    tflite = deploy.TFLiteModel(qat_file)
    assert tflite.input_spec.dtype == np.int8 and tflite.runtime == "tflite"
    keras = model.predict(images[:16], verbose=0)
    converted = tflite.predict(images[:16])
    assert (converted.argmax(-1) == keras.argmax(-1)).mean() >= 0.8
    assert np.abs(converted - keras).max() < 0.1


def test_a_kernel_too_large_for_the_converter_converts_in_parts_to_the_same_file(
        trained_qat_alexnet, qat_file):
    """Full-size AlexNet's fc6 is too large for the converter to fold (CONVERTER_FOLD_LIMIT);
    here a limit just under fc7's kernel makes the small network's fc7 the oversized one."""
    model, _, images = trained_qat_alexnet
    fc7 = int(np.prod(model.get_layer("quant_fc7").layer.kernel.shape))
    limit = fc7 - 1
    (split,) = kernel_splits(model, limit)  # fc6 (32 x 512 weights) stays whole
    assert (split.layer, split.weights, split.filters, split.parts) == ("fc7", fc7, 512, 2)
    assert "fc7 (262,144 weights) converted as 2 parts of 256 output channels" in split.describe()
    parted = split_for_converter(model, limit)
    names = [layer.name for layer in parted.layers]
    assert {"quant_fc7_part1", "quant_fc7_bn_part2", "quant_fc7_relu_part1",
            "quant_fc7_concat"} <= set(names) and "quant_fc7" not in names
    # the same function in Keras, and, converted, the same integers as the file made whole
    np.testing.assert_allclose(parted.predict(images, verbose=0),
                               model.predict(images, verbose=0), atol=1e-6)
    whole, in_parts = qat_file, convert_qat(model, fold_limit=limit)
    ops = count_lce_ops(in_parts)
    assert ops["CONV_2D"] == count_lce_ops(whole)["CONV_2D"] + 1 and ops["CONCATENATION"] == 1
    assert "DEQUANTIZE" not in ops
    whole_model, parts_model = deploy.TFLiteModel(whole), deploy.TFLiteModel(in_parts)
    for image in images[:16]:
        encoded = whole_model.input_spec.encode(image[None])
        np.testing.assert_array_equal(parts_model.run_encoded(encoded),
                                      whole_model.run_encoded(encoded))
    kinds_whole, kinds_parts = file_bytes(whole)["kinds"], file_bytes(in_parts)["kinds"]
    # the same int8 weights, in one buffer more (each buffer starts with a 4-byte length)
    assert kinds_parts["int8 weights"] == kinds_whole["int8 weights"] + 4
    assert split_for_converter(model) is model  # nothing oversized at the default limit


def test_only_a_chain_of_layers_is_split():
    inputs = tf.keras.Input((4, 4, 3))
    left = tf.keras.layers.Conv2D(6, 3, name="left")(inputs)
    right = tf.keras.layers.Conv2D(6, 3, name="right")(inputs)
    joined = tf.keras.layers.Concatenate()([left, right])
    model = quantize_network(tf.keras.Model(inputs, joined, name="branches_fp32"))
    assert kernel_splits(model) == []
    with pytest.raises(ValueError, match="chain of layers only"):
        split_for_converter(model, limit=81)  # 162 weights each: two parts of 81
    with pytest.raises(ValueError, match="162 weights cannot be split into parts of at most 20"):
        kernel_splits(model, limit=20)  # 6 channels give parts of 81, 54 or 27 weights


def test_the_qat_file_takes_one_image_and_computes_what_a_free_batch_file_computes(
        trained_qat_alexnet, qat_file):
    """Left free, the batch size is read at run time by the reshape to (1, 1, C) before fc6
    (SHAPE, STRIDED_SLICE, PACK ops), and XNNPACK, which takes static shapes only, is kept
    off the whole graph. The builtin kernels give the same integers from both files."""
    model, _, images = trained_qat_alexnet
    (source,) = tf.lite.Interpreter(model_content=qat_file).get_input_details()
    assert list(source["shape_signature"]) == [1, 67, 67, 3]
    assert not {"SHAPE", "STRIDED_SLICE", "PACK"} & set(count_lce_ops(qat_file))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)  # the batch left free
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    free = converter.convert()
    assert {"SHAPE", "STRIDED_SLICE", "PACK"} <= set(count_lce_ops(free))
    fixed_model = deploy.TFLiteModel(qat_file, runtime="tflite_builtin")
    free_model = deploy.TFLiteModel(free, runtime="tflite_builtin")
    assert fixed_model.input_spec == free_model.input_spec
    assert fixed_model.output_spec == free_model.output_spec
    for image in images[:8]:
        encoded = fixed_model.input_spec.encode(image[None])
        np.testing.assert_array_equal(fixed_model.run_encoded(encoded),
                                      free_model.run_encoded(encoded))
