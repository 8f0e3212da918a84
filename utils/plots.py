"""Every figure of the course: one ``save_fig`` and one plotting function per kind of figure.

Notebooks never hold plotting code: they compute numbers with :mod:`utils.theory`,
:mod:`utils.demos` or the training records, pass them to a function here, and hand the
returned ``matplotlib.figure.Figure`` to :func:`save_fig`, which writes
``<figures_dir>/<name>.png`` atomically (a reader sees the old file or the new one, never half
a PNG). Nothing here needs TensorFlow.

Matplotlib picks the non-interactive Agg backend by itself when there is no display (tests,
papermill, CI); in Jupyter the inline backend shows the returned figures.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from utils.ablation_runs import measured
from utils.ablations import ABLATIONS, OVERVIEW_FIGURE, figure_name, get_ablation
from utils.files import write_bytes_atomic
from utils.stats import SPREAD_FACTOR

__all__ = [
    "DPI",
    "plot_accuracy_vs_size",
    "plot_affine_grid",
    "plot_calibration",
    "plot_ptq_against_qat",
    "plot_weight_scales",
    "plot_deployment",
    "plot_system_memory",
    "plot_ablation",
    "plot_bit_sweep",
    "plot_differences",
    "plot_accuracy_vs_bits",
    "plot_class_balance",
    "plot_clipping",
    "plot_clipping_tradeoff",
    "plot_confusion_matrix",
    "plot_histories",
    "plot_seed_histories",
    "plot_image_grid",
    "plot_image_sizes",
    "plot_latent_weights",
    "plot_quantization_error",
    "plot_quantizer_staircase",
    "plot_ste",
    "plot_symmetric_vs_asymmetric",
    "plot_throughput_table",
    "plot_training_curves",
    "plot_weight_histograms",
    "save_ablation_figures",
    "save_fig",
]

DPI = 120
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_FLOAT_COLOR = "tab:blue"
_QUANT_COLOR = "tab:orange"


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------


def save_fig(fig: Figure, name: str, figures_dir: str | os.PathLike = "figures",
             dpi: int = DPI) -> Path:
    """Write ``fig`` to ``<figures_dir>/<name>.png`` atomically and return that path.

    The PNG is written to a temporary file in the same folder and moved into place with
    ``os.replace``, so an existing figure is replaced in one step and a crash never leaves a
    truncated file. The folder is created if needed. ``name`` is a plain file name such as
    "01_quantizer_staircase" (a trailing ".png" is accepted and not doubled).
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"save_fig needs a matplotlib Figure, got {type(fig).__name__}")
    if isinstance(name, str) and name.lower().endswith(".png"):
        name = name[:-4]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"figure name must be a plain file name of letters, digits, '_', '-' or '.' "
            f"(no folders), e.g. '01_quantizer_staircase'; got {name!r}"
        )
    folder = Path(figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return write_bytes_atomic(path, buffer.getvalue())


def _figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (5.0, 3.6), **kwargs):
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                             squeeze=False, **kwargs)
    return fig, axes.ravel()


# ---------------------------------------------------------------------------------------------
# Data (notebook 00)
# ---------------------------------------------------------------------------------------------


def plot_image_grid(samples: Sequence[tuple[np.ndarray, str]], ncols: int | None = None,
                    title: str | None = None) -> Figure:
    """Images with their labels as titles: ``samples`` is a list of (image, label).

    Images are (height, width), (height, width, 1) or (height, width, 3) arrays in [0, 1] (as
    :func:`utils.data.sample_images` returns them). One axes per image, unused cells hidden.
    """
    if len(samples) == 0:
        raise ValueError("plot_image_grid needs at least one (image, label) pair")
    ncols = ncols or min(len(samples), 8)
    nrows = math.ceil(len(samples) / ncols)
    fig, axes = _figure(ncols, nrows, size=(1.6, 2.0))
    for ax in axes:
        ax.axis("off")
    for ax, (image, label) in zip(axes, samples, strict=False):
        image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0)
        ax.set_title(str(label), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_class_balance(counts: Mapping, title: str = "Images per class") -> Figure:
    """Bar chart of images per class.

    ``counts`` is ``{class: count}`` (one bar per class) or ``{split: {class: count}}`` (bars
    grouped by class, one colour per split), e.g. from :func:`utils.data.class_counts`.
    """
    if not counts:
        raise ValueError("plot_class_balance needs at least one class")
    first = next(iter(counts.values()))
    if not isinstance(first, Mapping):
        counts = {"images": counts}
    table = pd.DataFrame(counts).fillna(0)  # rows: classes, columns: splits
    fig, (ax,) = _figure(size=(min(10.0, max(5.0, 0.25 * len(table) * len(table.columns))),
                               3.6))
    table.plot.bar(ax=ax, rot=0, width=0.8)
    for container in ax.containers:
        ax.bar_label(container, fontsize=7)
    ax.set_ylim(0, 1.15 * float(table.to_numpy().max()))
    ax.set_xlabel("class")
    ax.set_ylabel("images")
    ax.set_title(title)
    if len(table.columns) == 1:
        ax.get_legend().remove()
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


def plot_image_sizes(sizes, title: str = "Original image sizes") -> Figure:
    """Histograms of the stored images' widths and heights (two axes).

    ``sizes`` is an array of (width, height) pairs. When every image has the same size (as
    with MNIST's 28x28 digits) each histogram is a single bar, which is the point to see.
    """
    sizes = np.asarray(sizes, dtype=float).reshape(-1, 2)
    if len(sizes) == 0:
        raise ValueError("plot_image_sizes needs at least one (width, height) pair")
    fig, axes = _figure(2, size=(4.5, 3.4))
    for ax, column, label in zip(axes, sizes.T, ("width", "height"), strict=True):
        low, high = column.min(), column.max()
        bins = 1 if low == high else min(40, int(high - low) + 1)
        ax.hist(column, bins=bins, range=(low - 0.5, high + 0.5), color=_FLOAT_COLOR)
        ax.set_xlabel(f"{label} (pixels)")
        ax.set_ylabel("images")
        ax.set_title(f"{label}: median {np.median(column):.0f}, "
                     f"{low:.0f} to {high:.0f}", fontsize=9)
    fig.suptitle(f"{title} ({len(sizes):,} images)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Quantization theory (notebook 01)
# ---------------------------------------------------------------------------------------------


def plot_quantizer_staircase(curves: Mapping[int, tuple[np.ndarray, np.ndarray]],
                             title: str = "Quantizers for several bit widths",
                             identity: bool = True) -> Figure:
    """One staircase line per bit width: ``curves`` is ``{k: (x, q(x))}``.

    (As :func:`utils.theory.quantizer_curves` returns.) The dashed identity shows the float
    value each level approximates.
    """
    fig, (ax,) = _figure(size=(5.5, 4.2))
    for k, (x, q) in sorted(curves.items()):
        levels = len(np.unique(q))
        label = "1 bit (sign)" if k == 1 else f"{k} bits ({levels} levels shown)"
        ax.step(x, q, where="mid", label=label, linewidth=1.5)
    if identity and curves:
        x = next(iter(curves.values()))[0]
        ax.plot(x, x, "k--", linewidth=0.8, label="identity")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("input x")
    ax.set_ylabel("quantized q(x)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_clipping(values: np.ndarray, quantized: np.ndarray, alpha: float, k: int,
                  title: str | None = None) -> Figure:
    """Clipping in eq. 3.1: where the threshold alpha falls on a weight distribution.

    Left: histogram of ``values`` with the clipped tails (|x| > alpha) shaded. Right: the
    quantizer's transfer curve on those values (``quantized`` = q(values)), flat beyond
    ±alpha, with its levels marked.
    """
    values = np.asarray(values, dtype=float).ravel()
    quantized = np.asarray(quantized, dtype=float).ravel()
    fig, axes = _figure(2, size=(5.0, 3.8))
    clipped = np.mean(np.abs(values) > alpha)
    ax = axes[0]
    ax.hist(values, bins=120, color=_FLOAT_COLOR, alpha=0.8)
    limit = np.max(np.abs(values))
    for side in (-1, 1):
        ax.axvline(side * alpha, color="tab:red", linestyle="--")
        ax.axvspan(side * alpha, side * limit, color="tab:red", alpha=0.12)
    ax.set_title(f"alpha = {alpha:.3g}: {clipped:.2%} of values clipped", fontsize=9)
    ax.set_xlabel("weight value")
    ax.set_ylabel("count")
    ax = axes[1]
    order = np.argsort(values)
    ax.plot(values[order], quantized[order], color=_QUANT_COLOR, label=f"{k}-bit q(x)")
    ax.plot(values[order], values[order], "k--", linewidth=0.8, label="identity")
    for level in np.unique(quantized):
        ax.axhline(level, color="grey", linewidth=0.3)
    for side in (-1, 1):
        ax.axvline(side * alpha, color="tab:red", linestyle="--")
    ax.set_xlabel("weight value x")
    ax.set_ylabel("q(x)")
    ax.set_title(f"{len(np.unique(quantized))} levels used", fontsize=9)
    ax.legend(fontsize=8)
    fig.suptitle(title or f"Clipping before {k}-bit quantization (eq. 3.1)")
    fig.tight_layout()
    return fig


def plot_clipping_tradeoff(table: pd.DataFrame, k: int | None = None,
                           title: str | None = None) -> Figure:
    """Quantization error against the clipping threshold (a table from
    :func:`utils.theory.clipping_tradeoff`): total, rounding and clipping parts, best alpha."""
    fig, (ax,) = _figure(size=(6.0, 4.0))
    x = table["alpha_over_std"]
    ax.plot(x, table["mse"], color="black", label="total")
    ax.plot(x, table["rounding_mse"], "--", color=_FLOAT_COLOR, label="rounding (inside ±alpha)")
    ax.plot(x, table["clipping_mse"], "--", color="tab:red", label="clipping (outside ±alpha)")
    best = table.loc[table["mse"].idxmin()]
    ax.axvline(best["alpha_over_std"], color="grey", linestyle=":")
    ax.annotate(f"best alpha = {best['alpha_over_std']:.2f} std",
                (best["alpha_over_std"], best["mse"]), textcoords="offset points",
                xytext=(8, 20), fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("clipping threshold alpha / standard deviation")
    ax.set_ylabel("mean squared error")
    ax.set_title(title or f"Clipping trade-off{f' at {k} bits' if k else ''}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_symmetric_vs_asymmetric(curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
                                 bias: pd.DataFrame, k: int,
                                 title: str = "Symmetric vs asymmetric ranges") -> Figure:
    """Left: the two k-bit transfer curves (``{scheme: (x, q)}``). Right: the mean error
    (bias) of each scheme against the bit width, in quantization steps (a table from
    :func:`utils.theory.symmetric_vs_asymmetric`)."""
    fig, axes = _figure(2, size=(5.0, 3.8))
    ax = axes[0]
    for scheme, (x, q) in curves.items():
        ax.step(x, q, where="mid", label=scheme)
    x = next(iter(curves.values()))[0]
    ax.plot(x, x, "k--", linewidth=0.8, label="identity")
    ax.set_xlabel("input x")
    ax.set_ylabel("q(x)")
    ax.set_title(f"{k}-bit codes (eqs. 3.2, 3.4)", fontsize=9)
    ax.legend(fontsize=8)
    ax = axes[1]
    for scheme, group in bias.groupby("scheme"):
        ax.plot(group["bits"], group["mean_error_in_steps"], "o-", label=scheme)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("bits k")
    ax.set_ylabel("mean error E[q(x) - x] (steps)")
    ax.set_title("bias on a symmetric distribution", fontsize=9)
    ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_weight_histograms(float_weights: np.ndarray, quantized_weights: np.ndarray,
                           bits: int = 4, title: str | None = None) -> Figure:
    """Float weights next to their k-bit counterparts (the report's Fig. 3.2), two axes."""
    float_weights = np.asarray(float_weights, dtype=float).ravel()
    quantized_weights = np.asarray(quantized_weights, dtype=float).ravel()
    fig, axes = _figure(2, size=(4.8, 3.6), sharex=True)
    axes[0].hist(float_weights, bins=100, color=_FLOAT_COLOR)
    axes[0].set_title("32-bit float weights", fontsize=10)
    levels, counts = np.unique(quantized_weights, return_counts=True)
    step = np.min(np.diff(levels)) if len(levels) > 1 else 1.0
    axes[1].bar(levels, counts, width=0.8 * step, color=_QUANT_COLOR)
    axes[1].set_title(f"{bits}-bit weights: {len(levels)} distinct values", fontsize=10)
    for ax in axes:
        ax.set_xlabel("weight value")
        ax.set_ylabel("count")
    fig.suptitle(title or f"Float vs {bits}-bit weights")
    fig.tight_layout()
    return fig


def plot_quantization_error(table: pd.DataFrame,
                            title: str = "Quantization error vs bit width") -> Figure:
    """SQNR (dB, left) and mean squared error (log scale, right) against the bit width, one
    line per distribution (a table from :func:`utils.theory.quantization_error`), with the
    6.02 dB-per-bit rule of thumb as a dotted reference."""
    fig, axes = _figure(2, size=(5.0, 3.8))
    for name, group in table.groupby("distribution", sort=False):
        axes[0].plot(group["bits"], group["sqnr_db"], "o-", label=name)
        axes[1].plot(group["bits"], group["mse"], "o-", label=name)
    bits = np.array(sorted(table["bits"].unique()))
    axes[0].plot(bits, 6.02 * bits, "k:", label="6.02 dB × bits")
    axes[0].set_ylabel("SQNR (dB)")
    axes[1].set_ylabel("mean squared error")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("bits k")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_ste(samples: pd.DataFrame, title: str = "Straight-through estimators") -> Figure:
    """Forward values (top) and STE gradients (bottom) per quantizer, one column each (a
    long table from :func:`utils.theory.ste_samples`)."""
    names = list(dict.fromkeys(samples["quantizer"]))
    fig, axes = plt.subplots(2, len(names), figsize=(3.4 * len(names), 5.4), sharex=True,
                             squeeze=False)
    for column, name in enumerate(names):
        group = samples[samples["quantizer"] == name]
        top, bottom = axes[0, column], axes[1, column]
        top.plot(group["x"], group["forward"], color=_QUANT_COLOR)
        top.set_title(name, fontsize=9)
        bottom.plot(group["x"], group["gradient"], color=_FLOAT_COLOR)
        bottom.set_ylim(-0.1, 1.2)
        bottom.set_xlabel("x")
        for ax in (top, bottom):
            ax.axvspan(-1, 1, color="grey", alpha=0.08)
            ax.axhline(0, color="grey", linewidth=0.5)
    axes[0, 0].set_ylabel("forward q(x)")
    axes[1, 0].set_ylabel("backward dq/dx (STE)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_throughput_table(table: pd.DataFrame,
                          title: str = "Speed-up relative to FP32 (report Fig. 3.1)") -> Figure:
    """Bars of relative math throughput and bandwidth savings per number type (log scale),
    from :func:`utils.theory.relative_throughput_table`."""
    fig, (ax,) = _figure(size=(6.0, 3.8))
    data = table.set_index("input_type")[["relative_math_throughput", "bandwidth_savings"]]
    data.plot.bar(ax=ax, rot=0, logy=True)
    for container in ax.containers:
        ax.bar_label(container, fmt="%gx", fontsize=8)
    ax.set_xlabel("input type")
    ax.set_ylabel("factor relative to FP32")
    ax.set_title(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Layers and training (notebooks 02 onwards)
# ---------------------------------------------------------------------------------------------


def plot_latent_weights(latent_initial: np.ndarray, latent_final: np.ndarray,
                        quantized_final: np.ndarray, steps: pd.DataFrame | None = None,
                        clip_value: float = 1.0, title: str | None = None) -> Figure:
    """Latent (float) weights of a quantized layer and what the forward pass uses.

    Left: histograms of the latent weights before and after training, with the weight-clip
    bounds ±``clip_value``. Middle: quantized kernel against latent weight (the staircase).
    Right (when ``steps`` is given, a table with ``step``, ``clipped_fraction`` and
    ``flips`` as from :func:`utils.demos.live_layer_demo`): clipping and flips per
    training step.
    """
    latent_initial = np.ravel(latent_initial)
    latent_final = np.ravel(latent_final)
    quantized_final = np.ravel(quantized_final)
    fig, axes = _figure(3 if steps is not None else 2, size=(4.4, 3.6))
    ax = axes[0]
    bins = np.linspace(-1.1 * clip_value, 1.1 * clip_value, 89)
    ax.hist(latent_initial, bins=bins, alpha=0.6, label="initial", color="grey")
    ax.hist(latent_final, bins=bins, alpha=0.6, label="after training", color=_FLOAT_COLOR)
    for side in (-1, 1):
        ax.axvline(side * clip_value, color="tab:red", linestyle="--")
    ax.set_yscale("log")
    ax.set_xlabel("latent weight")
    ax.set_ylabel("count")
    ax.set_title("latent weights, weight_clip at ±1", fontsize=9)
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.scatter(latent_final, quantized_final, s=3, color=_QUANT_COLOR)
    ax.set_xlabel("latent weight (float)")
    ax.set_ylabel("quantized kernel")
    ax.set_title("what the forward pass uses", fontsize=9)
    if steps is not None:
        ax = axes[2]
        ax.plot(steps["step"], steps["clipped_fraction"], color="tab:red",
                label="fraction at ±clip")
        ax.set_ylim(0.0, max(0.05, 1.1 * float(np.max(steps["clipped_fraction"]))))
        ax.set_xlabel("training step")
        ax.set_ylabel("fraction of latent weights clipped")
        twin = ax.twinx()
        twin.plot(steps["step"], steps["flips"], color=_FLOAT_COLOR, label="flips")
        twin.set_ylabel("quantized weights that changed")
        ax.set_title("clipping and flips per step", fontsize=9)
        lines = ax.get_lines() + twin.get_lines()
        ax.legend(lines, [line.get_label() for line in lines], fontsize=8)
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
        fig, (ax,) = _figure(size=(6.0, 4.0))
    else:
        fig = ax.figure
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
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} per epoch (train dashed, validation solid)")
    ax.legend(handles=handles, fontsize=7)
    fig.tight_layout()
    return fig


def plot_seed_histories(histories: Mapping[str, Sequence[Mapping[str, Sequence[float]]]],
                        metric: str = "accuracy", title: str | None = None) -> Figure:
    """``metric`` per epoch over several seeds: the mean as a line, ± one standard deviation
    as a band; training dashed, validation solid.

    ``histories`` maps a label (a precision) to the Keras-style histories of its seeds. Seeds
    of one label that ran different numbers of epochs (early stopping) are cut to the
    shortest; the legend gives the number of seeds.
    """
    if not histories:
        raise ValueError("plot_seed_histories needs at least one label")
    fig, (ax,) = _figure(size=(6.0, 4.0))
    colors = sns.color_palette(n_colors=max(10, len(histories)))
    handles = []
    for color, (label, runs) in zip(colors, histories.items(), strict=False):
        runs = [run for run in runs if run.get(metric)]
        if not runs:
            continue
        for key, style in ((metric, "--"), (f"val_{metric}", "-")):
            length = min(len(run.get(key, [])) for run in runs)
            if length == 0:
                continue
            values = np.array([run[key][:length] for run in runs], dtype=float)
            epochs = np.arange(1, length + 1)
            mean, spread = values.mean(axis=0), values.std(axis=0, ddof=1) if len(runs) > 1 else 0
            ax.plot(epochs, mean, style, color=color)
            ax.fill_between(epochs, mean - spread, mean + spread, color=color, alpha=0.15,
                            linewidth=0)
        handles.append(Line2D([], [], color=color, label=f"{label} ({len(runs)} seeds)"))
    if not handles:
        raise ValueError(f"no history holds {metric!r}")
    handles += [Line2D([], [], color="grey", linestyle="--", label="train"),
                Line2D([], [], color="grey", linestyle="-", label="validation")]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} per epoch: mean ± std over seeds")
    ax.legend(handles=handles, fontsize=7)
    fig.tight_layout()
    return fig


def plot_training_curves(history: Mapping[str, Sequence[float]], title: str | None = None,
                         label: str = "run") -> Figure:
    """Accuracy (left) and loss (right) of one run, training dashed, validation solid."""
    fig, axes = _figure(2, size=(5.0, 3.8))
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
    fig, (ax,) = _figure(size=(6.0, 4.0))
    ax.plot(table["bits"], table[metric], "o-", color=_FLOAT_COLOR)
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
    ax.set_xlabel("bits (1 = binary, 32 = float)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix, class_names: Sequence[str],
                          title: str = "Confusion matrix", normalize: bool = False) -> Figure:
    """Heat map of a confusion matrix (rows: true class, columns: predicted class).

    With ``normalize`` each row is divided by its total (per-class recall); the cells then show
    fractions instead of counts.
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {matrix.shape}")
    if matrix.shape[0] != len(class_names):
        raise ValueError(
            f"{matrix.shape[0]} classes in the matrix but {len(class_names)} class names"
        )
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    side = max(3.5, 0.5 * len(class_names) + 2)
    fig, (ax,) = _figure(size=(side + 1, side))
    sns.heatmap(matrix, annot=True, fmt=".2f" if normalize else ".0f", cmap="Blues",
                xticklabels=class_names, yticklabels=class_names, ax=ax, cbar=True)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_size(table: pd.DataFrame, title: str = "Accuracy against model size"
                          ) -> Figure:
    """Test accuracy against larq's memory estimate, one marker per (model, precision).

    ``table`` is :func:`utils.compare.comparison_table`'s output (index model, precision;
    columns "memory MiB", "test accuracy % mean" and "test accuracy % std"): the mean over
    seeds with ± one standard deviation as an error bar. Memory is on a log axis: binary
    networks sit about 32 times to the left of their float twins.
    """
    fig, (ax,) = _figure(size=(6.0, 4.0))
    markers = dict(zip(sorted(set(table.index.get_level_values("model"))), "osD^v", strict=False))
    for (model, precision), row in table.iterrows():
        mean, spread = row["test accuracy % mean"], row["test accuracy % std"]
        ax.errorbar(row["memory MiB"], mean, yerr=0.0 if np.isnan(spread) else spread,
                    fmt=markers[model], markersize=7, capsize=3,
                    label=f"{model} {precision} ({int(row['seeds'])} seeds)")
        ax.annotate(precision, (row["memory MiB"], mean), textcoords="offset points",
                    xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("memory of the weights (MiB, larq's estimate)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_system_memory(table: pd.DataFrame, title: str) -> Figure:
    """Test accuracy against larq's weight memory for one related system (notebook 09).

    ``table`` is :func:`utils.related.system_table`'s output (index model, precision, width;
    columns seeds, mean, std, memory_kib): the mean over seeds with ± one standard deviation
    as an error bar, one line per (model, width) through its precisions in order of memory,
    memory on a log axis. Rows without a run (0 seeds) are left out.
    """
    fig, (ax,) = _figure(size=(6.4, 4.2))
    frame = table[table["seeds"] > 0].reset_index().sort_values("memory_kib")
    for (model, width), rows in frame.groupby(["model", "width"], sort=False):
        ax.errorbar(rows["memory_kib"], rows["mean"], yerr=rows["std"].fillna(0.0),
                    marker="o", capsize=3, label=f"{model}, width {width:g}")
        for row in rows.itertuples():
            ax.annotate(row.precision, (row.memory_kib, row.mean), textcoords="offset points",
                        xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("memory of the weights (KiB, larq's estimate)")
    ax.set_ylabel("test accuracy (%), mean ± std over seeds")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_deployment(table: pd.DataFrame, title: str = "Deployed files at full size") -> Figure:
    """File size (log axis, with the ratio to float32 on each bar) and latency per file.

    ``table`` is :func:`utils.deploy_bench.size_table`'s output: index (architecture, file),
    columns "size_mb", "ratio_vs_fp32", "latency_ms_1_threads", "latency_ms_2_threads".
    """
    fig, (size_ax, latency_ax) = _figure(ncols=2, size=(5.5, 3.8))
    frame = table.reset_index()
    sns.barplot(frame, x="architecture", y="size_mb", hue="file", ax=size_ax)
    size_ax.set_yscale("log")
    size_ax.set_ylabel("file size (MB, log scale)")
    for container in size_ax.containers:
        kind = container.get_label()
        ratios = frame.loc[frame["file"] == kind, "ratio_vs_fp32"]
        size_ax.bar_label(container, labels=[f"{ratio:.1f}x" for ratio in ratios], fontsize=7)
    latency = frame.melt(id_vars=["architecture", "file"],
                         value_vars=["latency_ms_1_threads", "latency_ms_2_threads"],
                         var_name="threads", value_name="latency_ms")
    latency["threads"] = latency["threads"].str.extract(r"(\d)")[0] + " thread(s)"
    latency["file and threads"] = latency["architecture"] + " " + latency["threads"]
    sns.barplot(latency, x="file", y="latency_ms", hue="file and threads", ax=latency_ax)
    latency_ax.set_ylabel("latency per image (ms, x86)")
    latency_ax.tick_params(axis="x", rotation=20)
    for ax in (size_ax, latency_ax):
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Ablations (notebook 07)
# ---------------------------------------------------------------------------------------------


def _rows(runs: pd.DataFrame, key: str) -> pd.DataFrame:
    rows = runs[runs["ablation"] == key]
    if rows.empty:
        raise ValueError(f"no runs of ablation {key!r} in the runs frame")
    return rows.assign(accuracy=100.0 * rows["test_accuracy"])


def plot_ablation(runs: pd.DataFrame, key: str) -> Figure:
    """Test accuracy of every seed (points) and the mean ± std (bar) per condition."""
    ablation = get_ablation(key)
    if ablation.sweep:
        return plot_bit_sweep(runs, key)
    rows = _rows(runs, key)
    labels = list(dict.fromkeys(rows["condition"]))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(labels), 3.6))
    rng = np.random.default_rng(0)
    for position, label in enumerate(labels):
        values = rows.loc[rows["condition"] == label, "accuracy"].to_numpy()
        color = "tab:gray" if position == 0 else "tab:orange"
        ax.scatter(position + rng.uniform(-0.08, 0.08, len(values)), values, color=color,
                   alpha=0.8, zorder=3, label="one seed" if position == 0 else None)
        spread = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.errorbar(position + 0.25, values.mean(), yerr=spread, fmt="D", color="black",
                    capsize=4, zorder=4, label="mean ± std" if position == 0 else None)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlim(-0.5, len(labels) - 0.5)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{ablation.title}\n(report {ablation.section_text})", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_bit_sweep(runs: pd.DataFrame, key: str = "bits") -> Figure:
    """Test accuracy against bit width (log2 axis): every seed as a point, the mean as a line."""
    rows = _rows(runs, key)
    means = rows.groupby("bits")["accuracy"].agg(["mean", "std"]).sort_index()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.scatter(rows["bits"], rows["accuracy"], color="tab:orange", alpha=0.7, zorder=3,
               label="one seed")
    ax.errorbar(means.index, means["mean"], yerr=means["std"].fillna(0.0), color="black",
                marker="D", capsize=4, zorder=4, label="mean ± std")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(means.index), [str(bits) for bits in means.index])
    ax.set_xlabel("bits of weights and activations (32 = float)")
    ax.set_ylabel("test accuracy (%)")
    ablation = get_ablation(key)
    ax.set_title(f"{ablation.title}\n(report {ablation.section_text})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_differences(summary: pd.DataFrame) -> Figure:
    """Every variant's difference to its baseline, ± twice its standard error (one panel)."""
    wanted = [(ablation.key, label) for ablation in ABLATIONS if not ablation.sweep
              for label in ablation.variants if (ablation.key, label) in summary.index]
    if not wanted:
        raise ValueError("no ablation variant in the summary to plot")
    rows = summary.loc[wanted]
    fig, ax = plt.subplots(figsize=(6.5, 0.5 * max(len(rows), 2) + 1.2))
    labels = [f"{get_ablation(key).name}: {condition}" for key, condition in rows.index]
    positions = np.arange(len(rows))[::-1]
    colors = ["tab:orange" if beyond else "tab:gray" for beyond in rows["beyond_spread"]]
    ax.errorbar(rows["diff"], positions, xerr=SPREAD_FACTOR * rows["se_diff"].fillna(0.0),
                fmt="none", ecolor="black", capsize=3, zorder=2)
    ax.scatter(rows["diff"], positions, c=colors, zorder=3, s=40)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(positions, labels)
    ax.set_xlabel("test accuracy difference to the baseline (points, ± 2 standard errors)")
    ax.set_title("Ablations: variant minus baseline (orange: beyond the seed spread)",
                 fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def save_ablation_figures(runs: pd.DataFrame, summary: pd.DataFrame,
                          figures_dir: str | Path = "figures") -> dict[str, Path]:
    """Save the ablations' overview and one figure per measured ablation; paths by name."""
    figures = {OVERVIEW_FIGURE: plot_differences(summary)}
    for key in measured(runs):
        figures[figure_name(key)] = plot_ablation(runs, key)
    paths = {}
    for name, fig in figures.items():
        paths[name] = save_fig(fig, name, figures_dir)
        plt.close(fig)
    return paths


# ---------------------------------------------------------------------------------------------
# Affine quantization, calibration, PTQ against QAT (notebooks 01 and 02)
# ---------------------------------------------------------------------------------------------


def plot_affine_grid(grids: Mapping[str, tuple[np.ndarray, np.ndarray]],
                     title: str = "Real values and the integer codes they map to") -> Figure:
    """Staircases of affine quantizers: ``grids`` maps a label to (real inputs, dequantized
    outputs); zero is marked, since an affine grid must represent it exactly."""
    fig, (ax,) = _figure(size=(6.0, 4.0))
    for label, (values, quantized) in grids.items():
        ax.plot(values, quantized, label=label, linewidth=1.2)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("real value r")
    ax.set_ylabel("S (q − Z), the value stored")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_weight_scales(table: pd.DataFrame, bits: int = 8,
                       title: str | None = None) -> Figure:
    """SQNR of every layer's kernel with per-tensor and per-channel scales at ``bits`` bits
    (a table from :func:`utils.affine.weight_error_table`, index (layer, bits))."""
    rows = table.xs(bits, level="bits")
    fig, (ax,) = _figure(size=(max(6.0, 0.55 * len(rows)), 4.0))
    positions = np.arange(len(rows))
    ax.bar(positions - 0.2, rows["SQNR per tensor (dB)"], 0.4, label="one scale per kernel",
           color="tab:gray")
    ax.bar(positions + 0.2, rows["SQNR per channel (dB)"], 0.4,
           label="one scale per output channel", color=_QUANT_COLOR)
    ax.set_xticks(positions, rows.index, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(f"SQNR at {bits} bits (dB)")
    ax.set_title(title or f"Per-tensor against per-channel weight scales, {bits} bits")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_calibration(activations: Mapping[str, np.ndarray], table: pd.DataFrame,
                     title: str = "Calibrating activation ranges") -> Figure:
    """Histogram of each layer's activations (log counts) with the upper end of the range
    that each calibration method chose (a table from :func:`utils.affine.calibration_table`)."""
    names = list(activations)
    fig, axes = _figure(len(names), size=(4.2, 3.4))
    styles = {"minmax": ("black", "-"), "percentile": ("tab:blue", "--"),
              "mse": ("tab:red", ":")}
    for ax, name in zip(axes, names, strict=True):
        values = np.asarray(activations[name]).ravel()
        ax.hist(values, bins=80, color="lightgrey", log=True)
        for method, (color, style) in styles.items():
            high = table.loc[(name, method), "r_max"]
            sqnr = table.loc[(name, method), "SQNR (dB)"]
            ax.axvline(high, color=color, linestyle=style,
                       label=f"{method}: {high:.2f} ({sqnr:.1f} dB)")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("activation value")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("count (log)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_ptq_against_qat(ptq: pd.DataFrame, qat: pd.DataFrame,
                         title: str = "Quantized after training (PTQ) or while training (QAT)"
                         ) -> Figure:
    """Test accuracy against bit width: PTQ of the float network with per-tensor and
    per-channel weight scales (:func:`utils.ptq.ptq_table`), and the networks trained at each
    width (a :func:`utils.compare.bits_table`)."""
    fig, (ax,) = _figure(size=(6.0, 4.0))
    float_accuracy = ptq.loc[ptq["bits"] == 32, "test_accuracy"].iloc[0]
    for scales, marker in (("per tensor", "s--"), ("per channel", "o--")):
        rows = ptq[ptq["weight scales"] == scales].sort_values("bits")
        ax.plot(rows["bits"], 100 * rows["test_accuracy"], marker, label=f"PTQ, {scales}")
    trained = qat[qat["bits"] < 32].sort_values("bits")
    ax.plot(trained["bits"], 100 * trained["test_accuracy"], "D-", color="black",
            label="trained at that width (QAT)")
    ax.axhline(100 * float_accuracy, color=_FLOAT_COLOR, linestyle=":", label="float")
    ax.set_xscale("log", base=2)
    ticks = sorted(set(ptq["bits"]) | set(trained["bits"]))
    ax.set_xticks(ticks, [str(bits) for bits in ticks])
    ax.minorticks_off()
    ax.set_xlabel("bits of weights and activations")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
