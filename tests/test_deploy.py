"""Deployment files (utils.deploy): every precision converts to a file that runs and agrees
with its Keras model; binary files hold bit-packed LCE ops; int8 files are integer only.

Models are tiny (width 1/16) and untrained; batch-norm statistics are settled on the test
images first, as training would, so that quantized networks give varied outputs.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from utils import deploy
from utils.deploy import count_lce_ops, file_bytes, weight_scales
from utils.models import build_model
from utils.quantizers import KBitQuantizer

# The slow layer: every test here converts to .tflite or runs a converted file.
pytestmark = pytest.mark.slow

SHAPES = {"alexnet": (67, 67, 3), "googlenet": (32, 32, 3)}
WIDTH = 1 / 16
# Largest differences allowed between a file's softmax probabilities and Keras's.
# Float32 and binary files do the same arithmetic (binary convolutions are exact integer
# popcounts); only the order of float sums differs.
FLOAT_ATOL = 1e-5
# int8 post-training quantization of untrained AlexNet moves logits by up to about 0.2,
# probabilities by up to about 0.05.
INT8_ATOL = 0.1
# The float twin drops only the rounding of QuantizedReLU activations (steps of 1/256).
TWIN_ATOL = 0.02


def _images(shape, count, seed):
    return np.random.default_rng(seed).random((count, *shape), dtype=np.float32)


def _settled(model, images, steps=30):
    """``model`` with batch-norm moving statistics brought to those of ``images``."""
    for _ in range(steps):
        model(images, training=True)
    return model


def _models(name, precisions):
    tf.keras.utils.set_random_seed(0)
    images = _images(SHAPES[name], 16, seed=1)
    return {precision: _settled(build_model(name, precision, SHAPES[name], 2, width=WIDTH),
                                images)
            for precision in precisions}


@pytest.fixture(scope="module")
def alexnet():
    return _models("alexnet", ("fp32", "int8", "binary"))


@pytest.fixture(scope="module")
def alexnet_table(alexnet, tmp_path_factory):
    images = _images(SHAPES["alexnet"], 16, seed=1)
    labels = np.eye(2, dtype=np.float32)[np.random.default_rng(2).integers(0, 2, len(images))]
    calibration = _images(SHAPES["alexnet"], 16, seed=3)
    return deploy.deploy_and_measure(alexnet, (images, labels), calibration,
                                     tmp_path_factory.mktemp("files"), runs=2, warmup=1)


def test_a_streamed_test_set_scores_like_the_arrays(alexnet, alexnet_table, tmp_path):
    images = _images(SHAPES["alexnet"], 16, seed=1)
    labels = np.eye(2, dtype=np.float32)[np.random.default_rng(2).integers(0, 2, len(images))]
    stream = tf.data.Dataset.from_tensor_slices((images, labels)).batch(5)  # 5+5+5+1
    table = deploy.deploy_and_measure({"fp32": alexnet["fp32"]}, stream, images[:4], tmp_path,
                                      runs=1, warmup=0)
    streamed = table.set_index("file").loc["fp32"]
    arrays = alexnet_table.set_index("file").loc["fp32"]
    assert streamed["test_images"] == arrays["test_images"] == 16
    for column in ("keras_accuracy", "tflite_accuracy", "accuracy_change_images"):
        assert streamed[column] == arrays[column], column


@pytest.fixture(scope="module")
def alexnet_files(alexnet_table):
    return {row.file: Path(row.path).read_bytes() for row in alexnet_table.itertuples()}


@pytest.fixture(scope="module")
def googlenet():
    return _models("googlenet", ("fp32", "binary"))


@pytest.fixture(scope="module")
def googlenet_files(googlenet):
    """GoogLeNet's graph is large (57 convolutions): each conversion takes 10 to 30 s, so
    its int8 paths are left to AlexNet here and to the full-size benchmark."""
    return {"fp32": deploy.convert_float(googlenet["fp32"]),
            "binary": deploy.convert_binary(googlenet["binary"])}


def _compare(flatbuffer, model, name, atol):
    images = _images(SHAPES[name], 8, seed=4)
    expected = model.predict(images, verbose=0)
    converted = deploy.TFLiteModel(flatbuffer).predict(images)
    np.testing.assert_allclose(converted, expected, atol=atol)
    return converted, expected


def test_deploy_and_measure_writes_and_measures_every_file(alexnet_table, tmp_path):
    table = alexnet_table.set_index("file")
    assert set(table.index) == {"fp32", "int8_from_fp32", "int8_from_fp32_per_tensor",
                                "int8_from_int8", "binary"}
    assert table.loc["int8_from_int8", "precision"] == "int8"
    assert table.loc["int8_from_fp32_per_tensor", "weight_scales"] == "per tensor"
    assert table.loc["int8_from_int8", "weight_scales"] == "per channel"
    assert pd.isna(table.loc["fp32", "weight_scales"])
    assert set(table["architecture"]) == {"alexnet"}
    directory = Path({path.rsplit("/", 1)[0] for path in table["path"]}.pop())
    assert {path.name: path.stat().st_size for path in directory.glob("*.tflite")} == {
        f"alexnet_{kind}.tflite": size for kind, size in table["size_bytes"].items()}
    assert table.loc["fp32", "ratio_vs_fp32"] == 1.0
    assert (table[["latency_ms_1_threads", "latency_ms_2_threads"]] > 0).all().all()
    # fp32 and binary files predict exactly what Keras predicts: accuracy is preserved.
    assert (table.loc[["fp32", "binary"], "accuracy_change_points"] == 0).all()
    assert table.loc[["fp32", "binary"], "accuracy_preserved"].all()
    assert table["tflite_accuracy"].between(0, 1).all()


@pytest.mark.parametrize("name", ["alexnet", "googlenet"])
def test_float_file_predicts_like_keras(name, request):
    files, models = request.getfixturevalue(f"{name}_files"), request.getfixturevalue(name)
    converted, expected = _compare(files["fp32"], models["fp32"], name, FLOAT_ATOL)
    np.testing.assert_array_equal(converted.argmax(1), expected.argmax(1))
    assert not any(op.startswith("Lce") for op in count_lce_ops(files["fp32"]))


@pytest.mark.parametrize("name", ["alexnet", "googlenet"])
def test_binary_file_predicts_like_keras_with_lce_binary_ops(name, request):
    files, models = request.getfixturevalue(f"{name}_files"), request.getfixturevalue(name)
    converted, expected = _compare(files["binary"], models["binary"], name, FLOAT_ATOL)
    np.testing.assert_array_equal(converted.argmax(1), expected.argmax(1))
    ops = count_lce_ops(files["binary"])
    binary_layers = [layer for layer in models["binary"].layers
                     if getattr(layer, "input_quantizer", None) is not None]
    assert ops["LceBconv2d"] == len(binary_layers)
    assert ops["LceQuantize"] >= 1
    assert ops.get("CONV_2D", 0) == 1  # the first layer keeps its float input


def test_binary_weights_are_bit_packed(alexnet, alexnet_files):
    """32 binary weights per int32 word (input channels padded to a multiple of 32), plus at
    most one int32 threshold per output channel (where LCE binarizes a layer's output for
    the next binary layer directly)."""
    kernels = [layer.kernel.shape for layer in alexnet["binary"].layers
               if getattr(layer, "input_quantizer", None) is not None]
    packed = sum(4 * kh * kw * -(-cin // 32) * cout for kh, kw, cin, cout in kernels)
    thresholds = sum(4 * shape[-1] for shape in kernels)
    kinds = file_bytes(alexnet_files["binary"])["kinds"]
    stored = kinds["bit-packed binary weights"] - 4 * len(kernels)  # less each vector's length
    assert packed == stored
    assert kinds.get("other constants (shapes, axes, clip values, thresholds)", 0) <= (
        thresholds + 4 * len(kernels) + 64)
    assert len(alexnet_files["fp32"]) > 8 * len(alexnet_files["binary"])


def test_the_byte_table_explains_every_file_to_within_one_percent(alexnet, alexnet_files):
    for kind, flatbuffer in alexnet_files.items():
        table = file_bytes(flatbuffer)
        assert sum(table["kinds"].values()) + table["padding"] == len(flatbuffer) == table["size"]
        assert 0 <= table["padding"] < 0.01 * len(flatbuffer), kind  # measured, not left over
        assert table["accounted_percent"] >= 99.0
    fp32 = file_bytes(alexnet_files["fp32"])
    weights = sum(weight.numpy().nbytes for weight in alexnet["fp32"].weights
                  if "moving" not in weight.name)  # batch norm folds into the layers
    assert fp32["kinds"]["float32 weights and biases"] >= 0.9 * weights
    assert fp32["float_tensors"] == []  # a float32 file is float by choice
    names = [detail["name"] for detail in tf.lite.Interpreter(
        model_content=alexnet_files["fp32"]).get_tensor_details()]
    assert fp32["kinds"]["tensor names"] >= sum(len(name.encode()) for name in names) > 0


def test_per_channel_scales_cost_a_scale_and_a_zero_point_per_channel(alexnet_files):
    """12 bytes per output channel (a float32 scale, an int64 zero point) for the weights and
    again for the bias: the bytes between the per-channel file and its per-tensor twin."""
    channel = file_bytes(alexnet_files["int8_from_fp32"])
    tensor = file_bytes(alexnet_files["int8_from_fp32_per_tensor"])
    assert channel["kinds"]["int8 weights"] == tensor["kinds"]["int8 weights"]
    assert "quantization parameters, per channel" not in tensor["kinds"]
    ops = deploy.operator_tensors(alexnet_files["int8_from_fp32"], "CONV_2D") + \
        deploy.operator_tensors(alexnet_files["int8_from_fp32"], "FULLY_CONNECTED")
    channels = sum(len(op["inputs"][1]["scale"]) for op in ops)
    assert len(alexnet_files["int8_from_fp32"]) - len(alexnet_files[
        "int8_from_fp32_per_tensor"]) == pytest.approx(2 * 12 * channels, rel=0.1)
    assert weight_scales("int8_from_fp32") == "per channel"
    assert weight_scales("int8_from_fp32_per_tensor") == "per tensor"
    assert weight_scales("int8_qat") == "per channel" and weight_scales("binary") is None


def test_a_binary_file_names_its_float_tensors_and_why(alexnet_files):
    floats = {entry["op"]: entry for entry in file_bytes(alexnet_files["binary"])["float_tensors"]}
    assert {"CONV_2D", "FULLY_CONNECTED"} <= set(floats)  # the first and last layers
    assert "first layer" in floats["CONV_2D"]["why"] and floats["CONV_2D"]["count"] >= 1
    assert all(entry["tensors"] and entry["bytes"] > 0 for entry in floats.values())


@pytest.mark.parametrize("kind", ["int8_from_fp32", "int8_from_int8"])
def test_int8_file_is_integer_only_and_close_to_keras(kind, alexnet, alexnet_files):
    flatbuffer = alexnet_files[kind]
    ops = count_lce_ops(flatbuffer)
    assert not {"QUANTIZE", "DEQUANTIZE", "ROUND"} & set(ops)
    table = file_bytes(flatbuffer)
    assert "float32 weights and biases" not in table["kinds"] and not table["float_tensors"]
    interpreter = deploy.TFLiteModel(flatbuffer)
    assert interpreter.input_spec.dtype == np.int8 == interpreter.output_spec.dtype
    _compare(flatbuffer, alexnet[kind.removeprefix("int8_from_")], "alexnet", INT8_ATOL)


def test_int8_files_are_smaller_than_float(alexnet_table):
    ratios = alexnet_table.set_index("file")["ratio_vs_fp32"]
    assert ratios["int8_from_fp32"] > 3


def test_float_twin_bakes_quantized_kernels_and_clips_activations(alexnet):
    model = alexnet["int8"]
    twin = deploy.float_twin(model)
    for layer in model.layers:
        if getattr(layer, "kernel_quantizer", None) is None:
            continue
        copy = twin.get_layer(layer.name)
        assert copy.kernel_quantizer is None
        np.testing.assert_array_equal(copy.kernel.numpy(), KBitQuantizer(8)(layer.kernel))
        if layer.input_quantizer is not None:
            assert isinstance(copy.input_quantizer, tf.keras.layers.ReLU)
    images = _images(SHAPES["alexnet"], 8, seed=4)
    np.testing.assert_allclose(twin.predict(images, verbose=0),
                               model.predict(images, verbose=0), atol=TWIN_ATOL)


def test_int8_conversion_refuses_float_islands(alexnet, monkeypatch):
    """Without its float twin the 8-bit model's ROUND ops would stay float in the file."""
    monkeypatch.setattr(deploy, "float_twin", lambda model: model)
    with pytest.raises(RuntimeError, match="DEQUANTIZE"):
        deploy.convert_int8(alexnet["int8"], _images(SHAPES["alexnet"], 4, seed=3))


def test_binary_model_has_no_int8_twin(alexnet):
    with pytest.raises(ValueError, match="convert_binary"):
        deploy.float_twin(alexnet["binary"])


def test_convert_int8_rejects_images_of_the_wrong_shape(alexnet):
    with pytest.raises(ValueError, match="representative_images"):
        deploy.convert_int8(alexnet["fp32"], np.zeros((4, 32, 32, 3), np.float32))


def test_save_tflite_is_atomic_and_sizes_are_listed(tmp_path):
    path = deploy.save_tflite(b"TFL3" * 10, tmp_path / "sub" / "model.tflite")
    assert path.read_bytes() == b"TFL3" * 10
    assert [p.name for p in path.parent.iterdir()] == ["model.tflite"]
    assert [(p.name, p.stat().st_size) for p in path.parent.glob("*.tflite")] == [
        ("model.tflite", 40)]
    if os.name == "posix":  # readable by everyone, not only by the writer
        assert path.stat().st_mode & 0o777 == 0o644


def test_without_lce_binary_files_are_skipped_with_a_clear_error(monkeypatch, alexnet,
                                                                 alexnet_files, tmp_path):
    monkeypatch.setattr(deploy, "lce_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"larq-compute-engine \(LCE\) is not usable here"):
        deploy.convert_binary(alexnet["binary"])
    table = deploy.deploy_and_measure({"binary": alexnet["binary"]}, None, None, tmp_path)
    (row,) = table.to_dict(orient="records")  # the file is listed, with the reason
    assert row["file"] == "binary" and row["status"].startswith("not made: larq-compute")
    assert np.isnan(row["ratio_vs_fp32"]) and not list(tmp_path.glob("*.tflite"))
    # float and int8 files still run, in TensorFlow's interpreter
    _compare(alexnet_files["fp32"], alexnet["fp32"], "alexnet", FLOAT_ATOL)
    _compare(alexnet_files["int8_from_fp32"], alexnet["fp32"], "alexnet", INT8_ATOL)


def test_a_converter_failure_lists_the_file_with_the_op_it_could_not_convert(
        monkeypatch, alexnet, tmp_path):
    class ConverterError(Exception):  # the name of TFLite's error, in a private module
        pass

    def fail(model):  # what the converter says for full-size AlexNet's QAT fc6 kernel
        raise ConverterError("Could not translate MLIR to FlatBuffer.\nDetails:\n\t"
                             "tf.FakeQuantWithMinMaxVarsPerChannel(tensor<1x1x9216x4096xf32>)")

    monkeypatch.setattr(deploy, "convert_float", fail)
    with pytest.warns(UserWarning, match="the TFLite converter failed"):
        table = deploy.deploy_and_measure({"fp32": alexnet["fp32"]}, None, alexnet_images(),
                                          tmp_path, runs=1, warmup=0)
    rows = table.set_index("file")
    assert rows.loc["fp32", "status"] == ("not made: the TFLite converter failed: "
                                          "tf.FakeQuantWithMinMaxVarsPerChannel(tensor<1x1x9216"
                                          "x4096xf32>)")
    assert rows.loc["int8_from_fp32", "status"] == "measured"  # the other file is still made
    monkeypatch.setattr(deploy, "convert_float", lambda model: 1 / 0)
    with pytest.raises(ZeroDivisionError):  # any other error is a bug, and is raised
        deploy.deploy_and_measure({"fp32": alexnet["fp32"]}, None, None, tmp_path)


def alexnet_images():
    return _images(SHAPES["alexnet"], 4, seed=3)


def test_runtime_failure_is_reported_not_fatal(tmp_path):
    good = tmp_path / "good.tflite"
    inputs = tf.keras.Input((4,))
    good.write_bytes(deploy.convert_float(tf.keras.Model(inputs, tf.keras.layers.Dense(2)(inputs))))
    assert deploy.runtime_failure(good) == ("tflite", None, [])
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    runtime, error, notes = deploy.runtime_failure(broken)
    assert runtime is None and error.startswith("not a readable TFLite file") and notes == []


def test_a_file_the_delegate_refuses_is_run_without_it(tmp_path, monkeypatch):
    path = tmp_path / "model.tflite"
    inputs = tf.keras.Input((4,))
    path.write_bytes(deploy.convert_float(tf.keras.Model(inputs, tf.keras.layers.Dense(2)(inputs))))
    tried = []

    def child(path, runtime):  # the default delegate fails to prepare, the builtins run
        tried.append(runtime)
        return "failed to create XNNPACK runtime" if runtime == "tflite" else None

    monkeypatch.setattr(deploy, "_child_failure", child)
    runtime, error, notes = deploy.runtime_failure(path)
    assert (runtime, error, tried) == ("tflite_builtin", None, ["tflite", "tflite_builtin"])
    assert notes == [f"{deploy.RUNTIMES['tflite']} could not run it: failed to create XNNPACK "
                     "runtime"]
    monkeypatch.setattr(deploy, "_child_failure", lambda path, runtime: "aborted")
    assert deploy.runtime_failure(path)[:2] == (None, f"{deploy.RUNTIMES['tflite_builtin']} "
                                                      "could not run it: aborted")


def test_files_run_where_a_device_would_run_them(alexnet_files):
    assert deploy.runtime_for(alexnet_files["fp32"]) == "tflite"
    assert deploy.runtime_for(alexnet_files["int8_from_fp32"]) == "tflite"
    if "binary" in alexnet_files:
        assert deploy.runtime_for(alexnet_files["binary"]) == "lce"
    with pytest.raises(ValueError, match="accepted: tflite, tflite_builtin, lce"):
        deploy.TFLiteModel(alexnet_files["fp32"], runtime="onnx")


RUN_TIME_SHAPE_OPS = {"SHAPE", "STRIDED_SLICE", "PACK"}


def test_every_file_takes_one_image_with_static_shapes(alexnet_files):
    """The quantized networks (binary and 8-bit) reshape to (1, 1, C) before their dense
    layers; with a free batch that reshape would be computed at run time (SHAPE,
    STRIDED_SLICE and PACK ops) and keep XNNPACK off the graph."""
    for kind, flatbuffer in alexnet_files.items():
        assert not RUN_TIME_SHAPE_OPS & set(count_lce_ops(flatbuffer)), kind
        if deploy.runtime_for(flatbuffer) == "tflite":
            (source,) = tf.lite.Interpreter(model_content=flatbuffer).get_input_details()
            assert list(source["shape_signature"]) == [1, *SHAPES["alexnet"]], kind
