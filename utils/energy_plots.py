"""The figures of notebook 08: the cost of one MAC, energy per inference, accuracy per energy.

Each function takes a table of :mod:`utils.energy` and returns a matplotlib ``Figure`` for
:func:`utils.plots.save_fig` (names "08_..."). Energies span four orders of magnitude from a
binary MAC to a float one, so every energy axis is logarithmic and the parts of a total are
drawn side by side, not stacked (a stacked bar on a log axis misstates its parts). Nothing
here needs TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from utils.energy import accuracy_energy_table, cheapest_at_accuracy

__all__ = ["EXTRA_SERIES", "plot_accuracy_vs_energy", "plot_energy_breakdown",
           "plot_mac_energy"]

# Series label of the records passed as ``extra_records`` (e.g. wider binary networks).
EXTRA_SERIES = "wider networks"
_PARTS = {"compute_uj": "compute", "weights_uj": "weights (read once)",
          "activations_uj": "activations (on chip)"}


def plot_mac_energy(table: pd.DataFrame, title: str = "Energy of one multiply-accumulate"
                    ) -> Figure:
    """Multiply and add energy of one MAC per precision (log axis), from
    :func:`utils.energy.mac_table`, with the float32 MAC's multiple over each bar."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    positions = np.arange(len(table))
    for offset, (column, label) in zip((-0.2, 0.2), (("multiply_pj", "multiply"),
                                                     ("add_pj", "add (accumulate)")),
                                       strict=True):
        values = table[column].where(table[column] > 0)
        ax.bar(positions + offset, values, width=0.4, label=label)
    for position, (mac, ratio) in enumerate(zip(table["mac_pj"], table["fp32_over_this"],
                                                strict=True)):
        ax.annotate(f"{mac:.3g} pJ\n1/{ratio:.0f} of fp32" if ratio > 1.5 else f"{mac:.3g} pJ",
                    (position, mac), textcoords="offset points", xytext=(0, 6),
                    ha="center", fontsize=7)
    ax.set_xticks(positions, table.index)
    ax.set_yscale("log")
    ax.set_ylim(top=ax.get_ylim()[1] * 10)
    ax.set_ylabel("energy (pJ, 45 nm, log scale)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def plot_energy_breakdown(table: pd.DataFrame,
                          title: str = "Energy of one inference, by part") -> Figure:
    """One panel per network of :func:`utils.energy.energy_table`: compute, weight and
    activation energy of each precision (µJ, log axis), the total marked above."""
    networks = list(dict.fromkeys(table.index.get_level_values("network")))
    fig, axes = plt.subplots(1, len(networks), figsize=(5.5 * len(networks), 3.9),
                             squeeze=False, sharey=True)
    for ax, network in zip(axes.ravel(), networks, strict=True):
        rows = table.xs(network, level="network")
        positions = np.arange(len(rows))
        for offset, (column, label) in zip((-0.27, 0.0, 0.27), _PARTS.items(), strict=True):
            ax.bar(positions + offset, rows[column].where(rows[column] > 0), width=0.27,
                   label=label)
        ax.scatter(positions, rows["total_uj"], marker="_", s=400, color="black", zorder=3,
                   label="total")
        ax.set_xticks(positions, rows.index, rotation=20)
        ax.set_yscale("log")
        ax.set_title(network)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("energy per image (µJ, log scale)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_energy(
    table: pd.DataFrame,
    extra_records: Sequence[Mapping[str, Any]] = (),
    *,
    min_accuracy: float | None = None,
    title: str = "Accuracy against energy per inference",
    **assumptions,
) -> Figure:
    """Mean test accuracy (± one standard deviation over seeds) against the estimated energy
    of one inference (log axis), one marker per trained network.

    Args:
        table: :func:`utils.energy.accuracy_energy_table`'s output.
        extra_records: more training records (each with config["precision"],
            config["width"], test_accuracy and summary), e.g. wider binary or 4-bit
            networks, drawn as the series :data:`EXTRA_SERIES` and labelled by width.
        min_accuracy: an accuracy bar (a fraction): the cheapest network that reaches it
            is circled, and the bar drawn.
        assumptions: :func:`utils.energy.inference_energy`'s keywords, for the extra
            records (use the ones ``table`` was made with).
    """
    if extra_records:
        extra = accuracy_energy_table({EXTRA_SERIES: list(extra_records)}, **assumptions)
        table = pd.concat([table, extra], ignore_index=True)
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    markers = dict(zip(dict.fromkeys(table["model"]), "osD^vP", strict=False))
    colors = dict(zip(dict.fromkeys(table["series"]), plt.get_cmap("tab10").colors,
                      strict=False))
    for (series, model), rows in table.groupby(["series", "model"], sort=False):
        ax.errorbar(rows["total_uj"], 100 * rows["accuracy_mean"],
                    yerr=100 * rows["accuracy_std"].fillna(0.0), fmt=markers[model],
                    color=colors[series], capsize=3, markersize=6, linestyle="none",
                    label=f"{series}: {model}")
        for _, row in rows.iterrows():
            label = row["precision"]
            if series == EXTRA_SERIES:
                label = f"{label}, width {row['width']:g}"
            ax.annotate(label, (row["total_uj"], 100 * row["accuracy_mean"]),
                        textcoords="offset points", xytext=(4, 3), fontsize=7)
    if min_accuracy is not None:
        ax.axhline(100 * min_accuracy, color="grey", linestyle="--", linewidth=1,
                   label=f"accuracy bar {100 * min_accuracy:.1f}%")
        best = cheapest_at_accuracy(table, min_accuracy)
        if best is not None:
            ax.scatter(best["total_uj"], 100 * best["accuracy_mean"], s=250,
                       facecolors="none", edgecolors="red", linewidths=1.5, zorder=3,
                       label=f"least energy at the bar: {best['model']} "
                             f"{best['precision']}, width {best['width']:g}")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_xlabel("estimated energy per image (µJ, 45 nm, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
