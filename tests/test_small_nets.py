"""The small networks of notebook 02 (built by the same layer factory as AlexNet and
GoogLeNet, trained by the same runner), the demos, the dataset choice and the environment."""

import math
import sys
import warnings

import larq as lq
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from utils import cats_and_dogs
from utils.cats_and_dogs import COMPLETE_MARKER
from utils.config import make_config
from utils.data import KaggleUnavailableError, PreparationReport
from utils.fitting import environment_table
from utils.lessons.binary_and_8bit_layers import live_layer_demo, precision_table
from utils.models import build_model
from utils.names import check_notebook_parameters, precision_for_bits
from utils.nets import DenseAsConv2D
from utils.quantizers import KBitQuantizer, QuantizedReLU
from utils.tables import bits_table


def test_precision_for_bits():
    assert [precision_for_bits(b) for b in (1, 2, 3, 4, 8, 32)] == [
        "binary", "int2", "int3", "int4", "int8", "fp32"]
    for bad in (0, 17, 64, 1.5):
        with pytest.raises(ValueError, match="bit width"):
            precision_for_bits(bad)


def test_check_notebook_parameters():
    check_notebook_parameters("smoke", "mnist5k")
    check_notebook_parameters("full")
    with pytest.raises(ValueError, match="profile"):
        check_notebook_parameters("medium", "auto")
    with pytest.raises(ValueError, match="dataset"):
        check_notebook_parameters("quick", "mnist")


def test_precision_table_roles():
    table = precision_table(("fp32", "binary", "int8"))
    assert len(table) == 9
    assert table.loc[("binary", "first"), "input_quantizer"] == "-"
    assert table.loc[("binary", "hidden"), "input_quantizer"] == "SteSign"
    assert table.loc[("int8", "hidden"), "kernel_quantizer"] == "KBitQuantizer(8)"
    assert table.loc[("int8", "hidden"), "input_quantizer"] == "QuantizedReLU(8)"
    assert (table.loc["fp32"] == "-").all().all()
    assert table.loc[("binary", "last"), "kernel_quantizer"] == "-"


def _quant_layers(model):
    return [layer for layer in model.layers if isinstance(layer, lq.layers.QuantizerBase)]


def test_binary_mlp_layers_follow_report_5_5():
    model = build_model("mlp", "binary", (28, 28, 3), 10, width=0.0625)
    assert model.output_shape == (None, 10)
    dense = [layer for layer in model.layers if isinstance(layer, DenseAsConv2D)]
    assert len(dense) == 3  # three hidden layers, 1x1 convolutions that LCE bit-packs
    assert [layer.filters for layer in dense] == [32, 32, 32]
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


def test_kbit_small_nets_use_kbit_quantizers_and_the_grid_aware_start():
    model = build_model("mlp", "int4", (28, 28, 3), 10, width=0.125)
    first, second, _ = [layer for layer in model.layers if isinstance(layer, DenseAsConv2D)]
    assert isinstance(first.kernel_quantizer, KBitQuantizer) and first.kernel_quantizer.k == 4
    assert isinstance(second.input_quantizer, QuantizedReLU)
    # 64 units after 2,352 inputs: Glorot's limit 0.05 is under the 4-bit step 0.125, so the
    # kernel starts uniform in [-step, step], as in AlexNet and GoogLeNet (utils.nets).
    kernel = first.kernel.numpy()
    assert -0.125 <= kernel.min() < -0.1 and 0.1 < kernel.max() <= 0.125
    cnn = build_model("small_cnn", "int2", (28, 28, 3), 10, width=0.125)
    convs = [layer for layer in cnn.layers if isinstance(layer, lq.layers.QuantConv2D)
             and not isinstance(layer, DenseAsConv2D)]
    assert [layer.filters for layer in convs] == [4, 8]
    assert convs[0].input_quantizer is None
    assert isinstance(convs[1].input_quantizer, QuantizedReLU)


@pytest.mark.parametrize("precision", ["fp32", "binary", "int8"])
def test_small_cnn_builds_and_runs(precision):
    model = build_model("small_cnn", precision, (28, 28, 3), 10, width=0.125)
    out = model(np.zeros((2, 28, 28, 3), np.float32))
    assert out.shape == (2, 10)
    np.testing.assert_allclose(out.numpy().sum(axis=1), 1.0, rtol=1e-5)
    assert bool(_quant_layers(model)) == (precision != "fp32")


def test_small_nets_have_their_own_profile_rows():
    quick = make_config("mlp", "binary")
    assert (quick.image_size, quick.width, quick.epochs, quick.augment) == (28, 1.0, 5, False)
    assert quick.learning_rate == 0.01 and quick.lr_schedule == "cosine" and quick.batch_norm
    smoke = make_config("small_cnn", "int4", profile="smoke")
    assert smoke.epochs == 1 and smoke.limit == 128 and smoke.image_size == 28


@pytest.mark.slow
def test_a_bit_width_sweep_trains_through_the_runner(tmp_path):
    from utils.train import run_configs

    configs = [make_config("small_cnn", precision_for_bits(bits), profile="smoke", limit=64)
               for bits in (1, 8, 32)]
    records = run_configs(configs, results_dir=tmp_path / "results", verbose=0)
    assert {path.stem.split("_")[2] for path in (tmp_path / "results").glob("*.json")} == {
        "binary", "int8", "fp32"}
    table = bits_table(records)
    assert table["bits"].tolist() == [1, 8, 32]
    assert table["test_accuracy"].between(0, 1).all()
    assert table["params"].between(0.99 * table["params"].max(), table["params"].max()).all()
    assert np.all(np.diff(table["memory_kib"]) > 0)  # memory grows with the bit width
    assert table.loc[2, "compression"] == pytest.approx(1.0)
    assert set(table.attrs["histories"]) == {"binary", "int8", "fp32"}
    assert all(record["dataset"]["is_offline_standin"] for record in records)


def test_live_layer_demo_binary_clips_latent_weights():
    demo = live_layer_demo("binary", epochs=2, samples=256, batch_size=32)
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
    demo = live_layer_demo("int4", epochs=1, samples=64)
    grid = demo.quantized_final * 8
    np.testing.assert_allclose(grid, np.round(grid))  # multiples of 1/8 (eq. 4.6, k = 4)
    assert demo.quantized_final.min() >= -1 and demo.quantized_final.max() <= 0.875
    with pytest.raises(ValueError, match="no quantized kernel"):
        live_layer_demo("fp32")


def _no_kaggle(*args, **kwargs):
    raise KaggleUnavailableError("Cannot download Kaggle Cats & Dogs: no credentials.\nmore")


def test_resolve_dataset_explicit_mnist():
    choice = cats_and_dogs.resolve_dataset("mnist5k")
    assert choice.name == "mnist5k" and not choice.fell_back and choice.is_offline_standin
    with pytest.raises(ValueError, match="dataset"):
        cats_and_dogs.resolve_dataset("cifar10")


def test_resolve_dataset_auto_falls_back_loudly(tmp_path, monkeypatch):
    monkeypatch.setattr(cats_and_dogs, "fetch_cats_and_dogs", _no_kaggle)
    with pytest.warns(UserWarning, match="offline stand-in"):
        choice = cats_and_dogs.resolve_dataset("auto", data_dir=tmp_path)
    assert choice.name == "mnist5k" and choice.fell_back and choice.requested == "auto"
    text = str(choice)
    assert "OFFLINE STAND-IN" in text and "no credentials" in text
    assert "more" in text  # the whole message, not only its first line
    with pytest.warns(UserWarning):
        fallback = cats_and_dogs.resolve_dataset("auto", data_dir=tmp_path, download=False)
        assert fallback.fell_back


def test_resolve_dataset_cats_and_dogs_errors_propagate(tmp_path, monkeypatch):
    monkeypatch.setattr(cats_and_dogs, "fetch_cats_and_dogs", _no_kaggle)
    with pytest.raises(KaggleUnavailableError):
        cats_and_dogs.resolve_dataset("cats_and_dogs", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="not prepared"):
        cats_and_dogs.resolve_dataset("cats_and_dogs", data_dir=tmp_path, download=False)


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
    monkeypatch.setattr(cats_and_dogs, "fetch_cats_and_dogs", _no_kaggle)  # must not be called
    _prepare_fake_cats_and_dogs(tmp_path, [(40, 30), (50, 20)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for requested in ("auto", "cats_and_dogs"):
            choice = cats_and_dogs.resolve_dataset(requested, data_dir=tmp_path)
            assert choice.name == "cats_and_dogs" and not choice.fell_back
    assert "Cats & Dogs" in str(choice)


def test_raw_image_sizes(tmp_path):
    sizes = cats_and_dogs.raw_image_sizes("mnist5k")
    assert sizes.shape == (5000, 2) and (sizes == 28).all()
    assert cats_and_dogs.raw_image_sizes("mnist5k", limit=10).shape == (10, 2)
    _prepare_fake_cats_and_dogs(tmp_path, [(40, 30), (50, 20), (64, 48)])
    found = cats_and_dogs.raw_image_sizes("cats_and_dogs", data_dir=tmp_path)
    assert sorted(map(tuple, found.tolist())) == [(40, 30), (50, 20), (64, 48)]
    with pytest.raises(FileNotFoundError):
        cats_and_dogs.raw_image_sizes("cats_and_dogs", data_dir=tmp_path / "empty")
    with pytest.raises(ValueError):
        cats_and_dogs.raw_image_sizes("cifar10")


def test_environment_table_names_the_stack():
    table = environment_table()
    assert sys.executable in table.loc["python", "value"]
    assert table.loc["tensorflow", "value"] == tf.__version__
    assert table.loc["tf.keras", "value"].startswith("tf_keras")
    assert table.loc["larq", "value"] == lq.__version__
    assert "larq-compute-engine (LCE)" in table.index
