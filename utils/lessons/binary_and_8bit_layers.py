"""Notebook 02's own code: the live-layer demonstrations and the notebook's figures (latent
weights, training curves, accuracy against bit width, PTQ against QAT).

Demonstrations that train nothing worth recording.
--------------------------------------------------

- :func:`precision_table`: how each layer role is quantized at each precision, read from
  :mod:`utils.quantizers`, the map every network is built with;
- :func:`live_layer_demo`: a larq ``QuantDense`` trained for a few steps on a synthetic
  problem, to watch its latent weights, their clipping to [-1, 1] and the quantized kernel
  the forward pass uses. Its kernel is set up by the same rule as every network's
  (:meth:`utils.nets.LayerFactory.quantized_arguments`).

Networks worth recording, the small ones of notebook 02 included, are trained through
:func:`utils.train.run_experiment`.

"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import larq as lq
import numpy as np
import pandas as pd
import seaborn as sns
import tensorflow as tf
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from utils.data import load_dataset, to_arrays
from utils.environment import environment_info, peak_resident_mb
from utils.figures import FLOAT_COLOR, QUANT_COLOR, finish_axes, new_figure
from utils.models import load_model
from utils.nets import LayerFactory
from utils.quantizers import get_precision, ptq_table
from utils.records import write_json_atomic

__all__ = ["LiveLayerDemo", "PTQ_BITS", "PTQ_CALIBRATION_IMAGES", "PTQ_METHODS", "live_layer_demo",
           "plot_accuracy_vs_bits", "plot_histories", "plot_latent_weights",
           "plot_ptq_against_qat", "plot_training_curves", "precision_table", "ptq_record"]

def precision_table(names=("fp32", "int8", "int4", "binary")) -> pd.DataFrame:
    """How each layer role is quantized at each precision (from :mod:`utils.quantizers`).

    One row per (precision, role) with the class names of the input quantizer, kernel
    quantizer and kernel constraint ("-" when none: a float input or kernel).
    """

    def describe(factory) -> str:
        if factory is None:
            return "-"
        made = factory()
        k = getattr(made, "k", None)
        return type(made).__name__ + (f"({k})" if k is not None else "")

    rows = []
    for name in names:
        spec = get_precision(name)
        for role in ("first", "hidden", "last"):
            settings = getattr(spec, role)
            rows.append({
                "precision": name,
                "role": role,
                "input_quantizer": describe(settings.input_quantizer),
                "kernel_quantizer": describe(settings.kernel_quantizer),
                "kernel_constraint": describe(settings.kernel_constraint),
            })
    return pd.DataFrame(rows).set_index(["precision", "role"])


@dataclass
class LiveLayerDemo:
    """What :func:`live_layer_demo` observed on one larq ``QuantDense`` layer.

    ``latent_initial`` / ``latent_final``: the float (latent) kernel before and after
    training; ``quantized_final``: the kernel as the forward pass sees it (read inside
    ``lq.context.quantized_scope(True)``); ``steps``: per training step the ``loss``, the
    ``clipped_fraction`` of latent weights at ±1, ``flips`` (quantized weights that
    changed in that step) and ``mean_abs_latent``.
    """

    precision: str
    latent_initial: np.ndarray
    latent_final: np.ndarray
    quantized_final: np.ndarray
    steps: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """A few numbers on the latent and quantized kernels, for display."""
        unique = np.unique(self.quantized_final)
        return pd.DataFrame({
            "value": [
                self.latent_final.size,
                float(np.min(self.latent_final)),
                float(np.max(self.latent_final)),
                float(np.mean(np.abs(self.latent_final) >= 1.0)),
                len(unique),
                ", ".join(f"{v:g}" for v in unique[:8]) + (" ..." if len(unique) > 8 else ""),
                int(self.steps["flips"].sum()),
            ]
        }, index=[
            "weights", "min latent", "max latent", "fraction of latent weights at ±1",
            "distinct quantized values", "quantized values", "changes of quantized weights",
        ])


def _quantized_kernel(layer) -> np.ndarray:
    with lq.context.quantized_scope(True):
        return np.array(layer.get_weights()[0])


def live_layer_demo(
    precision: str = "binary",
    *,
    input_dim: int = 32,
    units: int = 64,
    num_classes: int = 4,
    samples: int = 512,
    batch_size: int = 32,
    epochs: int = 4,
    learning_rate: float = 0.1,
    seed: int = 0,
) -> LiveLayerDemo:
    """Train a real larq ``QuantDense`` for a few steps and watch its latent weights.

    The model is ``QuantDense(units)`` with the first-layer settings of ``precision`` (float
    input, quantized kernel, ``weight_clip`` to [-1, 1]), batch normalization and a float
    softmax layer, trained with Adam on a small synthetic task (Gaussian inputs labelled by a
    random linear teacher). The learning rate is deliberately large so that within a few
    dozen steps latent weights reach the clip bounds and quantized weights change.
    """
    spec = get_precision(precision)
    if not spec.first.is_quantized:
        raise ValueError(f"precision {precision!r} has no quantized kernel to look at")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, input_dim)).astype(np.float32)
    teacher = rng.normal(size=(input_dim, num_classes))
    y = tf.keras.utils.to_categorical(np.argmax(x @ teacher, axis=1), num_classes)
    tf.keras.utils.set_random_seed(seed)
    layer = lq.layers.QuantDense(
        units, use_bias=False, name="quant_dense",
        **LayerFactory.quantized_arguments(spec.first, 1, input_dim, units))
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(input_dim,)),
        layer,
        tf.keras.layers.BatchNormalization(momentum=0.9, scale=not spec.is_binary),
        tf.keras.layers.Dense(num_classes, activation="softmax"),
    ], name=f"live_{precision}")
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    latent_initial = layer.kernel.numpy().copy()
    previous, rows = _quantized_kernel(layer), []
    for _ in range(epochs):  # train_on_batch per batch: Keras' own step, constraint included
        order = rng.permutation(samples)
        for start in range(0, samples, batch_size):
            batch = order[start:start + batch_size]
            loss = model.train_on_batch(x[batch], y[batch], return_dict=True)["loss"]
            latent, quantized = layer.kernel.numpy(), _quantized_kernel(layer)
            rows.append({
                "step": len(rows) + 1,
                "loss": float(loss),
                "clipped_fraction": float(np.mean(np.abs(latent) >= 1.0)),
                "flips": int(np.sum(quantized != previous)),
                "mean_abs_latent": float(np.mean(np.abs(latent))),
            })
            previous = quantized
    return LiveLayerDemo(
        precision=precision,
        latent_initial=latent_initial,
        latent_final=layer.kernel.numpy().copy(),
        quantized_final=_quantized_kernel(layer),
        steps=pd.DataFrame(rows),
    )


def plot_latent_weights(latent_initial: np.ndarray, latent_final: np.ndarray,
                        quantized_final: np.ndarray, steps: pd.DataFrame | None = None,
                        clip_value: float = 1.0, title: str | None = None) -> Figure:
    """Latent (float) weights of a quantized layer and what the forward pass uses.

    Left: histograms of the latent weights before and after training, with the weight-clip
    bounds ±``clip_value``. Middle: quantized kernel against latent weight (the staircase).
    Right (when ``steps`` is given, a table with ``step``, ``clipped_fraction`` and
    ``flips`` as from :func:`live_layer_demo`): clipping and flips per
    training step.
    """
    latent_initial = np.ravel(latent_initial)
    latent_final = np.ravel(latent_final)
    quantized_final = np.ravel(quantized_final)
    fig, axes = new_figure(3 if steps is not None else 2, size=(4.4, 3.6))
    ax = axes[0]
    bins = np.linspace(-1.1 * clip_value, 1.1 * clip_value, 89)
    ax.hist(latent_initial, bins=bins, alpha=0.6, label="initial", color="grey")
    ax.hist(latent_final, bins=bins, alpha=0.6, label="after training", color=FLOAT_COLOR)
    for side in (-1, 1):
        ax.axvline(side * clip_value, color="tab:red", linestyle="--")
    finish_axes(ax, xlabel="latent weight", ylabel="count", ylog=True, legend=True,
                title="latent weights, weight_clip at ±1", title_size=9, layout=False)
    ax = axes[1]
    ax.scatter(latent_final, quantized_final, s=3, color=QUANT_COLOR)
    finish_axes(ax, xlabel="latent weight (float)", ylabel="quantized kernel",
                title="what the forward pass uses", title_size=9, layout=False)
    if steps is not None:
        ax = axes[2]
        ax.plot(steps["step"], steps["clipped_fraction"], color="tab:red",
                label="fraction at ±clip")
        ax.set_ylim(0.0, max(0.05, 1.1 * float(np.max(steps["clipped_fraction"]))))
        twin = ax.twinx()  # flips are quantized weights changing: the quantized colour
        twin.plot(steps["step"], steps["flips"], color=QUANT_COLOR, label="flips")
        twin.set_ylabel("quantized weights that changed")
        finish_axes(ax, xlabel="training step", ylabel="fraction of latent weights clipped",
                    title="clipping and flips per step", title_size=9,
                    legend={"handles": ax.get_lines() + twin.get_lines()}, layout=False)
    fig.suptitle(title or "Latent weights of a larq QuantDense layer")
    fig.tight_layout()
    return fig


def plot_histories(histories: Mapping[str, Mapping[str, Sequence[float]]],
                   metric: str = "accuracy", title: str | None = None,
                   ax=None) -> Figure:
    """``metric`` per epoch for several runs on one axes: training dashed, validation solid.

    ``histories`` maps a label to a Keras-style history dict (``{"accuracy": [...],
    "val_accuracy": [...], ...}``, e.g. ``model.fit(...).history``). Each run keeps one
    colour; a run without ``val_<metric>`` gets only its dashed training line. Epochs are
    numbered from 1 unless the history has an ``"epoch"`` list.
    """
    if not histories:
        raise ValueError("plot_histories needs at least one history")
    if ax is None:
        _, (ax,) = new_figure(size=(6.0, 4.0))
    colors = sns.color_palette(n_colors=max(10, len(histories)))
    found, handles = False, []
    for color, (label, history) in zip(colors, histories.items(), strict=False):
        for key, style in ((metric, "--"), (f"val_{metric}", "-")):
            values = history.get(key)
            if values is None or len(values) == 0:
                continue
            found = True
            epochs = history.get("epoch")
            if epochs is None or len(epochs) != len(values):
                epochs = range(1, len(values) + 1)
            ax.plot(epochs, values, style, color=color, marker="o", markersize=3,
                    label=f"{label} ({'train' if style == '--' else 'validation'})")
        handles.append(Line2D([], [], color=color, label=str(label)))  # one entry per run
    if not found:
        raise ValueError(f"no history holds {metric!r} or 'val_{metric}'")
    handles += [Line2D([], [], color="grey", linestyle="--", label="train"),
                Line2D([], [], color="grey", linestyle="-", label="validation")]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return finish_axes(ax, xlabel="epoch", ylabel=metric,
                       title=title or f"{metric} per epoch (train dashed, validation solid)",
                       legend={"handles": handles, "fontsize": 7})


def plot_training_curves(history: Mapping[str, Sequence[float]], title: str | None = None,
                         label: str = "run") -> Figure:
    """Accuracy (left) and loss (right) of one run, training dashed, validation solid."""
    fig, axes = new_figure(2, size=(5.0, 3.8))
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        plot_histories({label: history}, metric=metric, title=metric, ax=ax)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_bits(table: pd.DataFrame, metric: str = "test_accuracy",
                          title: str = "Accuracy vs weight/activation bit width") -> Figure:
    """Accuracy against the bit width (log2 axis at 1, 2, 4, 8, 32), each point labelled with
    the model's memory (``memory_kib`` column, if present). ``table`` has ``bits`` and
    ``metric`` columns (as the bit-width sweep of notebook 02 returns)."""
    table = table.sort_values("bits")
    fig, (ax,) = new_figure(size=(6.0, 4.0))
    ax.plot(table["bits"], table[metric], "o-", color=FLOAT_COLOR)
    ax.set_xscale("log", base=2)
    ax.set_xticks(table["bits"], [str(b) for b in table["bits"]])
    ax.minorticks_off()
    if "memory_kib" in table:
        for bits, value, memory in zip(table["bits"], table[metric], table["memory_kib"],
                                       strict=True):
            ax.annotate(f"{memory:,.0f} KiB", (bits, value), textcoords="offset points",
                        xytext=(0, -14), ha="center", fontsize=8)
    low = float(np.nanmin(table[metric]))
    ax.set_ylim(max(0.0, low - 0.1), 1.0)
    return finish_axes(ax, xlabel="bits (1 = binary, 32 = float)",
                       ylabel=metric.replace("_", " "), title=title, grid=True)


def plot_ptq_against_qat(ptq: pd.DataFrame, qat: pd.DataFrame,
                         title: str = "Quantized after training (PTQ) or while training (QAT)"
                         ) -> Figure:
    """Test accuracy against bit width: PTQ of the float network with per-tensor and
    per-channel weight scales, min/max or MSE-clipped ranges (:func:`utils.quantizers.ptq_table`,
    a :func:`ptq_record`'s rows), and the networks trained at each width (a
    :func:`utils.tables.bits_table`)."""
    fig, (ax,) = new_figure(size=(6.5, 4.2))
    float_accuracy = ptq.loc[ptq["bits"] == 32, "test_accuracy"].iloc[0]
    # grey and orange as in quantization_theory.plot_weight_scales; blue stays the float line;
    # the line style says how the ranges were set
    for (scales, marker, color), (method, style, label) in (
            (scale, method) for scale in (("per tensor", "s", "tab:gray"),
                                          ("per channel", "o", QUANT_COLOR))
            for method in (("minmax", "--", "min/max"), ("percentile", "-.", "percentile"),
                           ("mse", ":", "MSE clip"))):
        rows = ptq[(ptq["weight scales"] == scales)
                   & (ptq.get("calibration", "minmax") == method)].sort_values("bits")
        if len(rows):
            ax.plot(rows["bits"], 100 * rows["test_accuracy"], marker + style, color=color,
                    label=f"PTQ, {scales}, {label}")
    trained = qat[qat["bits"] < 32].sort_values("bits")
    ax.plot(trained["bits"], 100 * trained["test_accuracy"], "D-", color="black",
            label="trained at that width (QAT)")
    ax.axhline(100 * float_accuracy, color=FLOAT_COLOR, linestyle=":", label="float")
    ax.set_xscale("log", base=2)
    ticks = sorted(set(ptq["bits"]) | set(trained["bits"]))
    ax.set_xticks(ticks, [str(bits) for bits in ticks])
    ax.minorticks_off()
    return finish_axes(ax, xlabel="bits of weights and activations",
                       ylabel="test accuracy (%)", title=title, grid=True, legend=True)


# What notebook 02 quantizes after training: every width of its sweep below float, with
# min/max ranges (TFLite's default), a 99.99th-percentile clip and the clip of least
# squared error (notebook 01, section 10).
PTQ_BITS = (2, 4, 8)
PTQ_METHODS = ("minmax", "percentile", "mse")
PTQ_CALIBRATION_IMAGES = 256


def ptq_record(float_record: Mapping[str, Any], *, results_dir: str | Path,
               data_dir: str | Path, bits: Sequence[int] = PTQ_BITS,
               methods: Sequence[str] = PTQ_METHODS, force: bool = False) -> dict[str, Any]:
    """Post-training quantization of a trained float network, as a record.

    The float model of ``float_record`` is quantized at each of ``bits`` with per-tensor and
    per-channel weight scales and each calibration method
    (:func:`utils.quantizers.ptq_table`), calibrated on the first
    :data:`PTQ_CALIBRATION_IMAGES` training images and tested on the record's test split.
    The record, ``ptq_<float run>.json`` in ``results_dir``, names its float parent (run,
    config hash and code fingerprint) and the settings; one that matches them is reused
    (``force`` measures again).
    """
    path = Path(results_dir) / f"ptq_{float_record['run_name']}.json"
    parent = {"run": float_record["run_name"], "config_hash": float_record["config_hash"],
              "code_fingerprint": float_record["code_fingerprint"],
              "test_accuracy": float_record["test_accuracy"]}
    settings = {"bits": list(bits), "methods": list(methods),
                "calibration_images": PTQ_CALIBRATION_IMAGES}
    if path.exists() and not force:
        kept = json.loads(path.read_text())
        if kept.get("float_parent") == parent and kept.get("settings") == settings:
            return kept
    config = float_record["config"]
    splits = load_dataset(config["dataset"], config["image_size"], 64, data_dir=data_dir,
                          seed=config["seed"], limit=config["limit"])
    calibration_images, _ = to_arrays(splits.train, PTQ_CALIBRATION_IMAGES)
    test_images, test_labels = to_arrays(splits.test)
    started = time.perf_counter()
    table = ptq_table(load_model(float_record["model_path"]), calibration_images, test_images,
                      test_labels, bits=bits, methods=methods)
    record = {"kind": "post-training quantization", "float_parent": parent,
              "settings": settings, "dataset": float_record["dataset"],
              "rows": table.to_dict("records"),
              "seconds": time.perf_counter() - started, "peak_memory": peak_resident_mb(),
              "environment": environment_info(), "created": datetime.now(UTC).isoformat()}
    write_json_atomic(path, record)
    return record
