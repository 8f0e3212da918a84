"""Small networks of notebook 02, the live-layer demo and the notebook helpers."""

import json
import math
import sys
import warnings

import larq as lq
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from utils import dataset_choice, small_nets
from utils.data import KaggleUnavailableError, PreparationReport
from utils.kaggle_fetch import COMPLETE_MARKER
from utils.quantizers import KBitQuantizer, QuantizedReLU

# ---------------------------------------------------------------------------------------------
# Settings and names
# ---------------------------------------------------------------------------------------------


def test_settings_for_profiles_and_overrides():
    smoke = small_nets.settings_for("smoke", "sweep")
    quick = small_nets.settings_for("quick", "mlp")
    assert smoke.epochs == 1 and smoke.limit is not None
    assert quick.epochs == 5 and quick.hidden_layers == 3 and quick.limit is None
    assert small_nets.settings_for("quick", "sweep", epochs=2).epochs == 2
    with pytest.raises(ValueError, match="profile"):
        small_nets.settings_for("fast")
    with pytest.raises(ValueError, match="task"):
        small_nets.settings_for("quick", "alexnet")
    with pytest.raises(ValueError, match="unknown setting"):
        small_nets.settings_for("quick", "mlp", epoch=3)
    with pytest.raises(ValueError, match="at least 1"):
        small_nets.settings_for("quick", "mlp", epochs=0)


def test_precision_for_bits():
    assert [small_nets.precision_for_bits(b) for b in (1, 2, 3, 4, 8, 32)] == [
        "binary", "int2", "int3", "int4", "int8", "fp32"]
    for bad in (0, 17, 64, 1.5):
        with pytest.raises(ValueError, match="bit width"):
            small_nets.precision_for_bits(bad)


def test_check_parameters():
    small_nets.check_parameters("smoke", "mnist5k")
    small_nets.check_parameters("full")
    with pytest.raises(ValueError, match="profile"):
        small_nets.check_parameters("medium", "auto")
    with pytest.raises(ValueError, match="dataset"):
        small_nets.check_parameters("quick", "mnist")


def test_precision_table_roles():
    table = small_nets.precision_table(("fp32", "binary", "int8"))
    assert len(table) == 9
    assert table.loc[("binary", "first"), "input_quantizer"] == "-"
    assert table.loc[("binary", "hidden"), "input_quantizer"] == "SteSign"
    assert table.loc[("int8", "hidden"), "kernel_quantizer"] == "KBitQuantizer(8)"
    assert table.loc[("int8", "hidden"), "input_quantizer"] == "QuantizedReLU(8)"
    assert (table.loc["fp32"] == "-").all().all()
    assert table.loc[("binary", "last"), "kernel_quantizer"] == "-"


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


def _quant_layers(model):
    return [layer for layer in model.layers if isinstance(layer, lq.layers.QuantizerBase)]


def test_binary_mlp_layers_follow_report_5_5():
    model = small_nets.build_mlp("binary", (28, 28, 3), 10, hidden_units=32)
    assert model.output_shape == (None, 10)
    dense = [layer for layer in model.layers if isinstance(layer, lq.layers.QuantDense)]
    assert len(dense) == 3  # three hidden layers
    first, *hidden = dense
    assert first.input_quantizer is None  # float input
    assert isinstance(first.kernel_quantizer, lq.quantizers.SteSign)
    for layer in hidden:
        assert isinstance(layer.input_quantizer, lq.quantizers.SteSign)
        assert isinstance(layer.kernel_quantizer, lq.quantizers.SteSign)
        assert isinstance(layer.kernel_constraint, lq.constraints.WeightClip)
    norms = [layer for layer in model.layers
             if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert len(norms) == 3 and not any(bn.scale for bn in norms)
    last = model.layers[-1]
    assert type(last) is tf.keras.layers.Dense and last.activation.__name__ == "softmax"


def test_kbit_mlp_and_cnn_use_kbit_quantizers_and_span_their_range():
    model = small_nets.build_mlp("int4", (28, 28, 3), 10, hidden_units=64)
    first, second, _ = [layer for layer in model.layers
                        if isinstance(layer, lq.layers.QuantDense)]
    assert isinstance(first.kernel_quantizer, KBitQuantizer) and first.kernel_quantizer.k == 4
    assert isinstance(second.input_quantizer, QuantizedReLU)
    kernel = first.kernel.numpy()
    assert kernel.min() < -0.5 and kernel.max() > 0.5  # not all rounded to zero at 4 bits
    cnn = small_nets.build_small_cnn("int2", (28, 28, 3), 10, filters=(4, 8), dense_units=8)
    convs = [layer for layer in cnn.layers if isinstance(layer, lq.layers.QuantConv2D)]
    assert len(convs) == 2 and convs[0].input_quantizer is None
    assert isinstance(convs[1].input_quantizer, QuantizedReLU)


@pytest.mark.parametrize("precision", ["fp32", "binary", "int8"])
def test_small_cnn_builds_and_runs(precision):
    model = small_nets.build_small_cnn(precision, (28, 28, 3), 10, filters=(4, 8),
                                       dense_units=8)
    out = model(np.zeros((2, 28, 28, 3), np.float32))
    assert out.shape == (2, 10)
    np.testing.assert_allclose(out.numpy().sum(axis=1), 1.0, rtol=1e-5)
    assert bool(_quant_layers(model)) == (precision != "fp32")


# ---------------------------------------------------------------------------------------------
# Training (smoke size)
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_bitwidth_sweep_smoke_rows(tmp_path):
    table = small_nets.bitwidth_sweep("smoke", "mnist5k", limit=64)
    assert table["bits"].tolist() == [1, 2, 4, 8, 32]
    assert table["precision"].tolist() == ["binary", "int2", "int4", "int8", "fp32"]
    assert {"test_accuracy", "params", "memory_kib", "compression"} <= set(table.columns)
    assert table["test_accuracy"].between(0, 1).all()
    assert table["params"].nunique() == 1  # same network at every precision
    assert np.all(np.diff(table["memory_kib"]) > 0)  # memory grows with the bit width
    assert table.loc[4, "compression"] == pytest.approx(1.0)
    assert table.attrs["dataset"] == "mnist5k" and table.attrs["is_offline_standin"] is True
    assert set(table.attrs["histories"]) == set(table["precision"])
    record = small_nets.sweep_record(table)
    path = small_nets.save_json(tmp_path / "sweep.json", record)
    loaded = json.loads(path.read_text())
    assert loaded["dataset"] == "mnist5k" and loaded["is_offline_standin"] is True
    assert len(loaded["rows"]) == 5 and loaded["histories"]["fp32"]["accuracy"]


@pytest.mark.slow
def test_binary_mlp_trains_one_epoch_on_a_small_limit():
    result = small_nets.train_binary_mlp("smoke", limit=64)
    assert result.precision == "binary" and result.bits == 1
    assert len(result.history["accuracy"]) == 1 and len(result.history["val_accuracy"]) == 1
    assert 0.0 <= result.test_accuracy <= 1.0
    assert result.dataset == "mnist5k" and result.is_offline_standin
    assert result.summary["params_1bit"] > 0
    record = result.to_record()
    assert "model" not in record and record["profile"] == "smoke"
    json.dumps(record)


def test_bitwidth_sweep_rejects_bad_arguments():
    with pytest.raises(ValueError, match="network"):
        small_nets.bitwidth_sweep("smoke", network="resnet")
    with pytest.raises(ValueError, match="bit width"):
        small_nets.bitwidth_sweep("smoke", bits=(1, 64))


# ---------------------------------------------------------------------------------------------
# Live layer
# ---------------------------------------------------------------------------------------------


def test_live_layer_demo_binary_clips_latent_weights():
    demo = small_nets.live_layer_demo("binary", epochs=2, samples=256, batch_size=32)
    assert len(demo.steps) == 2 * math.ceil(256 / 32)
    assert np.abs(demo.latent_final).max() <= 1.0  # weight_clip
    assert set(np.unique(demo.quantized_final)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(demo.quantized_final,
                                  np.where(demo.latent_final >= 0, 1.0, -1.0))
    assert demo.steps["clipped_fraction"].iloc[-1] > 0  # the large learning rate reaches ±1
    assert demo.steps["flips"].sum() > 0
    assert not np.array_equal(demo.latent_initial, demo.latent_final)
    assert isinstance(demo.summary(), pd.DataFrame)


def test_live_layer_demo_kbit_and_float():
    demo = small_nets.live_layer_demo("int4", epochs=1, samples=64)
    grid = demo.quantized_final * 8
    np.testing.assert_allclose(grid, np.round(grid))  # multiples of 1/8 (eq. 4.6, k = 4)
    assert demo.quantized_final.min() >= -1 and demo.quantized_final.max() <= 0.875
    with pytest.raises(ValueError, match="no quantized kernel"):
        small_nets.live_layer_demo("fp32")


# ---------------------------------------------------------------------------------------------
# Dataset choice, image sizes, environment
# ---------------------------------------------------------------------------------------------


def _no_kaggle(*args, **kwargs):
    raise KaggleUnavailableError("Cannot download Kaggle Cats & Dogs: no credentials.\nmore")


def test_resolve_dataset_explicit_mnist():
    choice = dataset_choice.resolve_dataset("mnist5k")
    assert choice.name == "mnist5k" and not choice.fell_back and choice.is_offline_standin
    with pytest.raises(ValueError, match="dataset"):
        dataset_choice.resolve_dataset("cifar10")


def test_resolve_dataset_auto_falls_back_loudly(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_choice, "fetch_cats_and_dogs", _no_kaggle)
    with pytest.warns(UserWarning, match="offline stand-in"):
        choice = dataset_choice.resolve_dataset("auto", data_dir=tmp_path)
    assert choice.name == "mnist5k" and choice.fell_back and choice.requested == "auto"
    text = str(choice)
    assert "OFFLINE STAND-IN" in text and "no credentials" in text
    assert "more" in text  # the whole message, not only its first line
    with pytest.warns(UserWarning):
        fallback = dataset_choice.resolve_dataset("auto", data_dir=tmp_path, download=False)
        assert fallback.fell_back


def test_resolve_dataset_cats_and_dogs_errors_propagate(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_choice, "fetch_cats_and_dogs", _no_kaggle)
    with pytest.raises(KaggleUnavailableError):
        dataset_choice.resolve_dataset("cats_and_dogs", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="not prepared"):
        dataset_choice.resolve_dataset("cats_and_dogs", data_dir=tmp_path, download=False)


def _prepare_fake_cats_and_dogs(root, sizes):
    from PIL import Image

    folder = root / "cats_and_dogs"
    for index, size in enumerate(sizes):
        split, name = ("train", "cats") if index % 2 else ("test", "dogs")
        path = folder / split / name / f"{index}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (index * 20, 0, 0)).save(path)
    (folder / COMPLETE_MARKER).write_text(PreparationReport(dest=str(folder)).to_json())
    return folder


def test_resolve_dataset_uses_prepared_cats_and_dogs(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_choice, "fetch_cats_and_dogs", _no_kaggle)  # must not be called
    _prepare_fake_cats_and_dogs(tmp_path, [(40, 30), (50, 20)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for requested in ("auto", "cats_and_dogs"):
            choice = dataset_choice.resolve_dataset(requested, data_dir=tmp_path)
            assert choice.name == "cats_and_dogs" and not choice.fell_back
    assert "Cats & Dogs" in str(choice)


def test_raw_image_sizes(tmp_path):
    sizes = dataset_choice.raw_image_sizes("mnist5k")
    assert sizes.shape == (5000, 2) and (sizes == 28).all()
    assert dataset_choice.raw_image_sizes("mnist5k", limit=10).shape == (10, 2)
    _prepare_fake_cats_and_dogs(tmp_path, [(40, 30), (50, 20), (64, 48)])
    found = dataset_choice.raw_image_sizes("cats_and_dogs", data_dir=tmp_path)
    assert sorted(map(tuple, found.tolist())) == [(40, 30), (50, 20), (64, 48)]
    with pytest.raises(FileNotFoundError):
        dataset_choice.raw_image_sizes("cats_and_dogs", data_dir=tmp_path / "empty")
    with pytest.raises(ValueError):
        dataset_choice.raw_image_sizes("cifar10")


def test_environment_summary_names_the_stack():
    table = small_nets.environment_summary()
    assert table.loc["python executable", "value"] == sys.executable
    assert table.loc["tensorflow", "value"] == tf.__version__
    assert table.loc["tf.keras", "value"].startswith("tf_keras")
    assert table.loc["larq", "value"] == lq.__version__
    assert "larq-compute-engine (LCE)" in table.index


def test_save_json_is_atomic_and_readable(tmp_path):
    path = small_nets.save_json(tmp_path / "out" / "r.json", {"a": np.float32(0.5), "b": [1]})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [1]}
    small_nets.save_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]
