"""Tests for utils.qat: the field's 8-bit network, quantization-aware training with tfmot,
and its int8 file."""

import numpy as np
import pytest
import tensorflow as tf

from utils import deploy
from utils.config import make_config
from utils.deploy import convert_qat, count_lce_ops, operator_tensors
from utils.models import build_model, load_model, save_model, summary_figures
from utils.names import model_file_suffix, precision_bits
from utils.qat import is_qat_model, qat_summary

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


def test_the_qat_file_is_integer_from_end_to_end(trained_qat_alexnet):
    model, _, images = trained_qat_alexnet
    flatbuffer = convert_qat(model)
    ops = count_lce_ops(flatbuffer)
    # five convolutions and fc6, fc7 as 1x1 convolutions (batch norm folded); the classifier
    assert "DEQUANTIZE" not in ops and ops["CONV_2D"] == 7 and ops["FULLY_CONNECTED"] == 1
    for op in operator_tensors(flatbuffer, "FULLY_CONNECTED"):
        assert [tensor["type"] for tensor in op["inputs"][:2]] == ["INT8", "INT8"]
    for op in operator_tensors(flatbuffer, "CONV_2D"):
        assert op["inputs"][0]["type"] == "INT8" and op["inputs"][1]["type"] == "INT8"
        assert op["inputs"][2]["type"] == "INT32"  # the bias, with batch norm folded in
        assert len(op["inputs"][1]["scale"]) == op["inputs"][1]["shape"][0]  # per channel
    tflite = deploy.TFLiteModel(flatbuffer)
    assert tflite.input_spec.dtype == np.int8 and tflite.runtime == "tflite"
    keras = model.predict(images[:16], verbose=0)
    converted = tflite.predict(images[:16])
    assert (converted.argmax(-1) == keras.argmax(-1)).mean() >= 0.8
    assert np.abs(converted - keras).max() < 0.1
