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
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from utils.names import MAIN_PRECISIONS
from utils.records import write_bytes_atomic

__all__ = ["DPI", "FLOAT_COLOR", "LEGEND_SIZE", "QUANT_COLOR", "finish_axes", "new_figure",
           "plot_accuracy_vs_size", "plot_confusion_matrix", "plot_deployment",
           "plot_seed_histories", "save_fig", "save_network_figures"]

DPI = 120
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
FLOAT_COLOR = "tab:blue"
QUANT_COLOR = "tab:orange"
LEGEND_SIZE = 8
_GRID_ALPHA = 0.3


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


def finish_axes(ax: Axes, *, xlabel: str | None = None, ylabel: str | None = None,
                title: str | None = None, title_size: float | None = None,
                xlog: bool | float = False, ylog: bool | float = False,
                grid: bool | str = False, legend: bool | Mapping[str, Any] = False,
                layout: bool = True) -> Figure:
    """Label, scale, grid and lay out one axes in the house style; returns its figure.

    What is left at its default is left as it is. ``xlabel``, ``ylabel`` and ``title`` set
    those texts (``title_size`` a smaller title, e.g. over one panel of several). ``xlog`` and
    ``ylog`` put that axis on a log scale: base 10 for ``True``, or the base given (2 for bit
    widths). ``grid`` draws faint grid lines: ``True`` along both axes, ``"x"`` or ``"y"``
    along one. ``legend`` draws the legend: ``True`` at :data:`LEGEND_SIZE` points, or a mapping
    of ``Axes.legend`` keywords (``{"loc": "lower right"}``, ``{"handles": handles,
    "fontsize": 7}``). ``layout`` ends with the figure's ``tight_layout``; pass ``False`` for
    all panels of a multi-panel figure and lay it out once, after its ``suptitle``.
    """
    for log, set_scale in ((xlog, ax.set_xscale), (ylog, ax.set_yscale)):
        if log is True:
            set_scale("log")
        elif log:
            set_scale("log", base=log)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title, **({} if title_size is None else {"fontsize": title_size}))
    if grid:
        ax.grid(axis="both" if grid is True else grid, alpha=_GRID_ALPHA)
    if legend:
        ax.legend(**{"fontsize": LEGEND_SIZE, **(legend if isinstance(legend, Mapping) else {})})
    fig = ax.figure
    if layout:
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
    return finish_axes(ax, xlabel="epoch", ylabel=metric,
                       title=title or f"{metric} per epoch: mean ± std over seeds",
                       legend={"handles": handles, "fontsize": 7})


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
    return finish_axes(ax, xlabel="predicted", ylabel="true", title=title)



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

def _plain_log_ticks(axis) -> None:
    """Label a log axis in plain numbers (0.2, 1, 50), at the powers of ten and at 2 and 5
    times them, instead of matplotlib's 2×10⁻¹ labels, which run into each other within a
    decade or two."""
    def label(value: float, _) -> str:
        if value <= 0:
            return ""
        leading = round(value / 10 ** math.floor(math.log10(value) + 1e-9))
        return f"{value:g}" if leading in (1, 2, 5) else ""

    axis.set_major_formatter(FuncFormatter(label))
    axis.set_minor_formatter(FuncFormatter(label))


def plot_accuracy_vs_size(table: pd.DataFrame, title: str = "Accuracy against model size"
                          ) -> Figure:
    """Test accuracy against larq's memory estimate, one marker per (model, precision): its
    shape gives the model, its colour the precision.

    ``table`` is :func:`utils.tables.comparison_table`'s output (index model, precision;
    columns "memory MiB", "test accuracy % mean" and "test accuracy % std"): the mean over
    seeds with ± one standard deviation as an error bar. Memory is on a log axis: binary
    networks sit about 32 times to the left of their float twins.
    """
    fig, (ax,) = new_figure(size=(6.0, 4.0))
    markers = dict(zip(sorted(set(table.index.get_level_values("model"))), "osD^v", strict=False))
    # colour by precision, in the order (so the colours) of the seed-history figures of
    # notebooks 03 and 04, whose records list the precisions as MAIN_PRECISIONS does
    found = set(table.index.get_level_values("precision"))
    precisions = [precision for precision in MAIN_PRECISIONS if precision in found]
    precisions += sorted(found - set(precisions))
    colors = dict(zip(precisions, sns.color_palette(n_colors=max(10, len(precisions))),
                      strict=False))
    for (model, precision), row in table.iterrows():
        mean, spread = row["test accuracy % mean"], row["test accuracy % std"]
        ax.errorbar(row["memory MiB"], mean, yerr=0.0 if np.isnan(spread) else spread,
                    fmt=markers[model], color=colors[precision], markersize=7, capsize=3,
                    label=f"{model} {precision} ({int(row['seeds'])} seeds)")
        ax.annotate(precision, (row["memory MiB"], mean), textcoords="offset points",
                    xytext=(6, 0), va="center", fontsize=8)  # level with its point
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    return finish_axes(ax, xlabel="memory of the weights (MiB, larq's estimate)",
                       ylabel="test accuracy (%)", title=title, grid=True,
                       legend={"fontsize": 7})


def _significant(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures in plain notation: 531.7 -> "532",
    64.02 -> "64.0", 0.9626 -> "0.963"."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g}"
    return f"{value:.{max(0, digits - 1 - math.floor(math.log10(abs(value))))}f}"


def _file_bars(ax: Axes, values: pd.DataFrame, colors: Mapping[str, Any],
               text: Callable[[str, str, float], str]) -> None:
    """Grouped bars: one group per row of ``values`` (its index labels the group), one bar per
    column (a file) in ``colors[file]``, each labelled ``text(group, file, value)`` above it;
    a missing value leaves a gap, with its text written upwards from the axis."""
    width = 0.8 / len(values.columns)
    for number, file in enumerate(values.columns):
        positions = np.arange(len(values)) + (number - (len(values.columns) - 1) / 2) * width
        heights = values[file].to_numpy(dtype=float)
        ax.bar(positions, np.nan_to_num(heights), width, color=colors[file], label=file)
        for position, group, height in zip(positions, values.index, heights, strict=True):
            if np.isnan(height):
                ax.annotate(text(group, file, height), (position, 0),
                            xycoords=("data", "axes fraction"),
                            xytext=(0, 3), textcoords="offset points", rotation=90,
                            ha="center", va="bottom", fontsize=6.5, color="grey")
            else:
                ax.annotate(text(group, file, height), (position, height), xytext=(0, 2),
                            textcoords="offset points", ha="center", va="bottom",
                            fontsize=6.5, linespacing=1.0)
    ax.set_xticks(np.arange(len(values)), values.index)


def plot_deployment(table: pd.DataFrame, title: str = "Deployed files at full size") -> Figure:
    """File size and latency per file, both on log axes, one colour per file in both panels.

    Each bar carries its value to three significant figures, a size also how many times
    smaller than float32 the file is; a file not made (or not run) leaves a marked gap.
    Latency is shown per architecture at each thread count measured.

    ``table`` is :func:`utils.deploy_bench.size_table`'s output: index (architecture, file),
    columns "size_mb", "ratio_vs_fp32", "latency_ms_1_threads", "latency_ms_2_threads".
    """
    frame = table.reset_index()
    architectures = list(dict.fromkeys(frame["architecture"]))
    files = list(dict.fromkeys(frame["file"]))
    # the file of each trained network takes its precision's colour in the figures of
    # notebooks 03 to 05 (int8 network: "int8_from_int8"); other files the next colours
    ordered = [file for file in ({"int8": "int8_from_int8"}.get(precision, precision)
                                 for precision in MAIN_PRECISIONS) if file in files]
    ordered += [file for file in files if file not in ordered]
    colors = dict(zip(ordered, sns.color_palette(n_colors=max(10, len(ordered))), strict=False))
    by_file = {architecture: rows.set_index("file").reindex(files)
               for architecture, rows in frame.groupby("architecture", sort=False)}
    fig, (size_ax, latency_ax) = new_figure(ncols=2, size=(6.0, 4.2),
                                            gridspec_kw={"width_ratios": (2, 3)})
    sizes = pd.DataFrame({architecture: by_file[architecture]["size_mb"]
                          for architecture in architectures}).T[files]

    def size_text(architecture: str, file: str, size: float) -> str:
        ratio = by_file[architecture].loc[file, "ratio_vs_fp32"]
        if np.isnan(size):
            return "not made"
        if np.isnan(ratio) or abs(ratio - 1.0) < 1e-9:
            return _significant(size)
        return f"{_significant(size)}\n{ratio:.{1 if ratio < 10 else 0}f}x"

    _file_bars(size_ax, sizes, colors, size_text)
    threads = sorted({int(match) for match in frame.columns.str.extract(
        r"^latency_ms_(\d+)_threads$")[0].dropna()})
    groups = {f"{architecture}\n{count} thread{'s' if count > 1 else ''}": (architecture, count)
              for architecture in architectures for count in threads}
    latency = pd.DataFrame({group: by_file[architecture][f"latency_ms_{count}_threads"]
                            for group, (architecture, count) in groups.items()}).T[files]

    def latency_text(group: str, file: str, latency: float) -> str:
        if not np.isnan(latency):
            return _significant(latency)
        made = not np.isnan(by_file[groups[group][0]].loc[file, "size_mb"])
        return "not run" if made else "not made"

    _file_bars(latency_ax, latency, colors, latency_text)
    for ax, values, headroom in ((size_ax, sizes, 4.0), (latency_ax, latency, 2.0)):
        if (values > 0).to_numpy().any():  # room above the highest bar for its label
            ax.set_yscale("log")
            ax.set_ylim(top=ax.get_ylim()[1] * headroom)
    finish_axes(size_ax, ylabel="file size (MB, log scale)", grid="y", layout=False,
                title="size in MB, and times smaller than fp32", title_size=9)
    finish_axes(latency_ax, ylabel="latency per image (ms, x86, log scale)", grid="y",
                layout=False, title="latency in ms, at each thread count", title_size=9)
    fig.legend(*size_ax.get_legend_handles_labels(), loc="upper center", ncol=len(files),
               fontsize=LEGEND_SIZE, frameon=False, bbox_to_anchor=(0.5, 0.95))
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig
