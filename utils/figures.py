"""Figures shared across notebooks: :func:`save_fig` (every figure goes through it), the house
style, and the main comparison's figures (seed histories, confusion matrices, accuracy
against size, deployed files).

Every figure of the course: one ``save_fig`` and one plotting function per kind of figure.
------------------------------------------------------------------------------------------

Notebooks never hold plotting code: they compute numbers with their own module of
:mod:`utils.lessons` or from the training records, pass them to a plotting function (here for
the figures of the main comparison, in the notebook's own module for the rest), and hand the
returned ``matplotlib.figure.Figure`` to :func:`save_fig`, which writes
``<figures_dir>/<name>.png`` atomically (a reader sees the old file or the new one, never half
a PNG). Nothing here needs TensorFlow.

Matplotlib picks the non-interactive Agg backend by itself when there is no display (tests,
papermill, CI); in Jupyter the inline backend shows the returned figures.
"""

from __future__ import annotations

import io
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

from utils.records import write_bytes_atomic

__all__ = ["DPI", "FLOAT_COLOR", "QUANT_COLOR", "new_figure", "plot_accuracy_vs_size",
           "plot_confusion_matrix", "plot_deployment", "plot_seed_histories", "save_fig",
           "save_network_figures"]

DPI = 120
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
FLOAT_COLOR = "tab:blue"
QUANT_COLOR = "tab:orange"


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


def new_figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (5.0, 3.6), **kwargs):
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                             squeeze=False, **kwargs)
    return fig, axes.ravel()


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
    fig, (ax,) = new_figure(size=(6.0, 4.0))
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
    fig, (ax,) = new_figure(size=(side + 1, side))
    sns.heatmap(matrix, annot=True, fmt=".2f" if normalize else ".0f", cmap="Blues",
                xticklabels=class_names, yticklabels=class_names, ax=ax, cbar=True)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig



def save_network_figures(records: Sequence[Mapping], title: str, prefix: str,
                         figures_dir: str | os.PathLike = "figures") -> list[Path]:
    """The figures of one network of the main comparison (notebooks 03 and 04), saved.

    From the records of every precision and seed of one network: accuracy and loss per
    epoch over the seeds (:func:`plot_seed_histories`; the report's Figs. 5.1/5.2 and
    6.2/6.3), and the confusion matrix of the first seed of each precision. ``title`` names
    the network in the figures ("AlexNet (mnist5k)"), ``prefix`` their files
    ("03_alexnet"): ``<prefix>_accuracy``, ``<prefix>_loss``,
    ``<prefix>_confusion_<precision>``. Returns the paths written.
    """
    histories: dict[str, list] = {}
    for record in records:
        histories.setdefault(record["config"]["precision"], []).append(record["history"])
    paths = [save_fig(plot_seed_histories(histories, metric, f"{title}: {metric}"),
                      f"{prefix}_{metric}", figures_dir) for metric in ("accuracy", "loss")]
    first_seed = min(record["config"]["seed"] for record in records)
    for record in records:
        if record["config"]["seed"] == first_seed:
            precision = record["config"]["precision"]
            figure = plot_confusion_matrix(record["confusion_matrix"],
                                           record["dataset"]["class_names"],
                                           title=f"{title}: {precision}")
            paths.append(save_fig(figure, f"{prefix}_confusion_{precision}", figures_dir))
    return paths

def plot_accuracy_vs_size(table: pd.DataFrame, title: str = "Accuracy against model size"
                          ) -> Figure:
    """Test accuracy against larq's memory estimate, one marker per (model, precision).

    ``table`` is :func:`utils.tables.comparison_table`'s output (index model, precision;
    columns "memory MiB", "test accuracy % mean" and "test accuracy % std"): the mean over
    seeds with ± one standard deviation as an error bar. Memory is on a log axis: binary
    networks sit about 32 times to the left of their float twins.
    """
    fig, (ax,) = new_figure(size=(6.0, 4.0))
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


def plot_deployment(table: pd.DataFrame, title: str = "Deployed files at full size") -> Figure:
    """File size (log axis, with the ratio to float32 on each bar) and latency per file.

    ``table`` is :func:`utils.deploy_bench.size_table`'s output: index (architecture, file),
    columns "size_mb", "ratio_vs_fp32", "latency_ms_1_threads", "latency_ms_2_threads".
    """
    fig, (size_ax, latency_ax) = new_figure(ncols=2, size=(5.5, 3.8))
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
