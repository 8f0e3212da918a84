"""Tests for utils.lessons.binary_and_8bit_layers (notebook 02's own code): the precision
table, the live layer demo and the plots."""

import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from utils.lessons import binary_and_8bit_layers
from utils.lessons.binary_and_8bit_layers import live_layer_demo, precision_table

matplotlib.use("Agg")  # as in tests/test_figures.py: no window, on any machine


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_precision_table_roles():
    table = precision_table(("fp32", "binary", "int8"))
    assert len(table) == 9
    assert table.loc[("binary", "first"), "input_quantizer"] == "-"
    assert table.loc[("binary", "hidden"), "input_quantizer"] == "SteSign"
    assert table.loc[("int8", "hidden"), "kernel_quantizer"] == "KBitQuantizer(8)"
    assert table.loc[("int8", "hidden"), "input_quantizer"] == "QuantizedReLU(8)"
    assert (table.loc["fp32"] == "-").all().all()
    assert table.loc[("binary", "last"), "kernel_quantizer"] == "-"


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


# --- plots ------------------------------------------------------------------------------------


def test_plot_latent_weights_with_and_without_steps():
    rng = np.random.default_rng(0)
    latent = np.clip(rng.normal(0, 0.5, 100), -1, 1)
    steps = pd.DataFrame({"step": [1, 2, 3], "clipped_fraction": [0.0, 0.1, 0.2],
                          "flips": [30, 10, 5]})
    fig = binary_and_8bit_layers.plot_latent_weights(latent * 0.1, latent, np.sign(latent), steps)
    assert len(fig.axes) == 4  # three panels and the twin axis of the third
    fig = binary_and_8bit_layers.plot_latent_weights(latent * 0.1, latent, np.sign(latent))
    assert len(fig.axes) == 2


def test_plot_histories_train_dashed_validation_solid_same_colour():
    histories = {
        "binary": {"accuracy": [0.5, 0.7], "val_accuracy": [0.4, 0.6]},
        "fp32": {"accuracy": [0.8, 0.9], "val_accuracy": [0.7, 0.85], "loss": [1, 0.5]},
    }
    fig = binary_and_8bit_layers.plot_histories(histories, metric="accuracy", title="runs")
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 4
    assert [line.get_linestyle() for line in lines] == ["--", "-", "--", "-"]
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert list(lines[0].get_xdata()) == [1, 2]
    assert ax.get_title() == "runs"


def test_plot_histories_without_validation_and_errors():
    fig = binary_and_8bit_layers.plot_histories({"run": {"loss": [3, 2, 1]}}, metric="loss")
    assert len(fig.axes[0].get_lines()) == 1
    with pytest.raises(ValueError, match="no history"):
        binary_and_8bit_layers.plot_histories({"run": {"loss": [1]}}, metric="accuracy")
    with pytest.raises(ValueError):
        binary_and_8bit_layers.plot_histories({})


def test_plot_training_curves_accuracy_and_loss():
    history = {"accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7], "loss": [1.0, 0.5],
               "val_loss": [1.2, 0.8]}
    fig = binary_and_8bit_layers.plot_training_curves(history, title="mlp")
    assert [ax.get_ylabel() for ax in fig.axes] == ["accuracy", "loss"]
    assert all(len(ax.get_lines()) == 2 for ax in fig.axes)


def test_plot_accuracy_vs_bits_log2_axis_and_memory_labels():
    table = pd.DataFrame({"bits": [32, 1, 8, 2, 4], "test_accuracy": [0.98, 0.9, 0.97, 0.93, 0.95],
                          "memory_kib": [800, 30, 200, 60, 110]})
    fig = binary_and_8bit_layers.plot_accuracy_vs_bits(table)
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [1, 2, 4, 8, 32]  # sorted by bits
    assert ax.get_xscale() == "log"
    assert len(ax.texts) == 5


def test_ptq_record_names_its_float_parent_and_is_reused_until_its_inputs_change(
        tmp_path, monkeypatch):
    from utils.models import build_model, save_model

    model = build_model("small_cnn", "fp32", (28, 28, 3), 10, width=0.25)
    path = save_model(model, tmp_path / "models" / "float.keras")
    parent = {"run_name": "small_cnn_fp32_x", "config_hash": "abc", "code_fingerprint": "def",
              "test_accuracy": 0.5, "model_path": str(path), "dataset": {"name": "mnist5k"},
              "config": {"dataset": "mnist5k", "image_size": 28, "seed": 0, "limit": 200}}
    results = tmp_path / "results"
    record = binary_and_8bit_layers.ptq_record(parent, results_dir=results, data_dir=tmp_path,
                                               bits=(8,), methods=("minmax",))
    written = results / "ptq_small_cnn_fp32_x.json"
    assert written.exists() and record["float_parent"]["run"] == "small_cnn_fp32_x"
    rows = pd.DataFrame(record["rows"])
    assert sorted(zip(rows["bits"], rows["weight scales"], rows["calibration"], strict=True)) == [
        (8, "per channel", "minmax"), (8, "per tensor", "minmax"), (32, "float", "none")]
    assert record["settings"]["calibration_images"] == 256 and record["peak_memory"]["self_mb"]

    def measured_again(*args, **kwargs):
        raise AssertionError("a matching record must be reused")

    monkeypatch.setattr(binary_and_8bit_layers, "ptq_table", measured_again)
    assert binary_and_8bit_layers.ptq_record(
        parent, results_dir=results, data_dir=tmp_path, bits=(8,), methods=("minmax",)
    ) == record
    for changed in ({"bits": (4,)}, {"force": True}):  # other settings, or asked to: measured
        with pytest.raises(AssertionError, match="reused"):
            binary_and_8bit_layers.ptq_record(parent, results_dir=results, data_dir=tmp_path,
                                              **{"bits": (8,), "methods": ("minmax",), **changed})
    retrained = {**parent, "config_hash": "xyz"}  # the float parent changed: measured again
    with pytest.raises(AssertionError, match="reused"):
        binary_and_8bit_layers.ptq_record(retrained, results_dir=results, data_dir=tmp_path,
                                          bits=(8,), methods=("minmax",))


def test_plot_ptq_against_qat_draws_one_line_per_scale_and_range_rule():
    rows = [{"bits": 32, "weight scales": "float", "calibration": "none", "test_accuracy": 0.98}]
    rows += [{"bits": b, "weight scales": scales, "calibration": method,
              "test_accuracy": 0.5 + b / 20}
             for b in (2, 4, 8) for scales in ("per tensor", "per channel")
             for method in ("minmax", "percentile", "mse")]
    trained = pd.DataFrame({"bits": [1, 2, 4, 8, 32], "test_accuracy": [0.9] * 5})
    fig = binary_and_8bit_layers.plot_ptq_against_qat(pd.DataFrame(rows), trained)
    (ax,) = fig.axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert sorted(label for label in labels if label.startswith("PTQ")) == sorted(
        f"PTQ, {scales}, {rule}" for scales in ("per tensor", "per channel")
        for rule in ("min/max", "percentile", "MSE clip"))
    ptq_line = next(line for line in ax.get_lines()
                    if line.get_label() == "PTQ, per channel, MSE clip")
    assert list(ptq_line.get_xdata()) == [2, 4, 8]
    np.testing.assert_allclose(ptq_line.get_ydata(), [60.0, 70.0, 90.0])
    assert {"trained at that width (QAT)", "float"} <= set(labels)
