"""Notebook 09's own code: the related systems (ABC-Net, RWTH's LeNet-5 and VGG-7, Moons et
al.'s QNN) as runs on the course's data, their table (with RWTH's published accuracy beside
its networks) and their figures.

The related systems of the reference folder, as experiments on the course's data.
---------------------------------------------------------------------------------

Each list of configs below is trained by notebook 09 (:func:`utils.train.run_configs`)
and read back by the report; no TensorFlow here.

- **ABC-Net** (Lin et al. 2017, reference README 001; :mod:`utils.quantizers`): AlexNet with
  M = 1, 3, 5 weight bases and N = 1, 3 activation bases, against plain binary, ternary and
  int8. All use the recipe and seeds of notebook 07's bit-width sweep
  (:func:`utils.lessons.ablations.base_config`), so the binary and int8 runs are the sweep's own.
- **RWTH's small networks** (README 002; :mod:`utils.nets`): LeNet-5 and VGG-7 at
  float32 and binary, with the profile's recipe and the main comparison's seeds. RWTH
  trained on MNIST's 60,000 digits (and CIFAR-10 for VGG-7); mnist5k has 3,500 for training.
- **Moons et al.'s k-bit QNN** (README 004; :mod:`utils.nets`): A-B-C blocks at 1, 2, 4
  and 8 bits and at width 1 and 2, to set accuracy against memory as their paper does.

"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from utils.config import MAIN_SEEDS, TrainConfig, make_config
from utils.figures import finish_axes, new_figure
from utils.lessons.ablations import ablation_settings, base_config
from utils.names import precision_for_bits
from utils.records import seed_summary

__all__ = ["ABC_BASELINES", "ABC_BASES", "QNN_BITS", "QNN_WIDTHS", "REFERENCE_NETS",
           "REFERENCE_PRECISIONS", "RWTH_ACCURACY", "SYSTEMS", "abc_configs", "plot_system_memory",
           "qnn_configs", "reference_configs", "system_configs", "system_table"]

# (M weight bases, N activation bases) of the ABC-Net runs; M = 1, N = 1 is a plain sign with
# a fitted scale and a learned shift, the closest multi-base relative of binary.
ABC_BASES = ((1, 1), (3, 1), (5, 1), (1, 3), (3, 3), (5, 3))
ABC_BASELINES = ("binary", "ternary", "int8")
REFERENCE_NETS = ("lenet5", "vgg7")
REFERENCE_PRECISIONS = ("fp32", "binary")
# RWTH's published test accuracies (README 002), in percent; VGG-7's are on CIFAR-10.
RWTH_ACCURACY = {("lenet5", "fp32"): (99.50, "MNIST"), ("lenet5", "binary"): (99.16, "MNIST"),
                 ("vgg7", "fp32"): (94.05, "CIFAR-10"), ("vgg7", "binary"): (89.85, "CIFAR-10")}
QNN_BITS = (1, 2, 4, 8)
QNN_WIDTHS = (1.0, 2.0)
SYSTEMS = ("abc", "reference", "qnn")


def abc_configs(profile: str = "quick", dataset: str = "mnist5k",
                **overrides: Any) -> list[TrainConfig]:
    """AlexNet with each multi-base precision of :data:`ABC_BASES` and each baseline of
    :data:`ABC_BASELINES`, one per sweep seed, with the bit-width sweep's recipe."""
    precisions = [*ABC_BASELINES, *(f"abc_w{m}a{n}" for m, n in ABC_BASES)]
    return [base_config(profile, dataset, seed).replace(precision=precision, **overrides)
            for precision in precisions for seed in ablation_settings(profile).sweep_seeds]


def reference_configs(profile: str = "quick", dataset: str = "mnist5k",
                      **overrides: Any) -> list[TrainConfig]:
    """LeNet-5 and VGG-7 at float32 and binary, one per main-comparison seed."""
    return [make_config(model, precision, dataset=dataset, profile=profile,
                        **{**overrides, "seed": seed})
            for model in REFERENCE_NETS for precision in REFERENCE_PRECISIONS
            for seed in MAIN_SEEDS[profile]]


def qnn_configs(profile: str = "quick", dataset: str = "mnist5k",
                **overrides: Any) -> list[TrainConfig]:
    """The QNN at each bit width of :data:`QNN_BITS` and each width factor of
    :data:`QNN_WIDTHS` (times the profile's width), one per main-comparison seed."""
    configs = []
    for width in QNN_WIDTHS:
        for bits in QNN_BITS:
            for seed in MAIN_SEEDS[profile]:
                config = make_config("qnn", precision_for_bits(bits), dataset=dataset,
                                     profile=profile, **{**overrides, "seed": seed})
                configs.append(config.replace(width=config.width * width))
    return configs


def system_configs(system: str, profile: str = "quick", dataset: str = "mnist5k",
                   **overrides: Any) -> list[TrainConfig]:
    """The configs of one of :data:`SYSTEMS`; ValueError for another name."""
    makers = {"abc": abc_configs, "reference": reference_configs, "qnn": qnn_configs}
    if system not in makers:
        raise ValueError(f"unknown system {system!r}; accepted: {', '.join(SYSTEMS)}")
    return makers[system](profile, dataset, **overrides)


def system_table(records: Iterable[dict[str, Any]],
                 configs: Sequence[TrainConfig] | None = None) -> pd.DataFrame:
    """Test accuracy over seeds (percent: seeds, mean, std, min, max) and larq's weight memory
    (KiB) per (model, precision, width), in the order of ``configs`` (or of the records).

    ``configs`` also says which runs are missing: a planned (model, precision, width) without
    any record has a row with 0 seeds. For the reference networks, RWTH's accuracy and its
    dataset are joined where they exist.
    """
    rows = [{"model": r["config"]["model"], "precision": r["config"]["precision"],
             "width": r["config"]["width"], "seed": r["config"]["seed"],
             "accuracy": 100.0 * r["test_accuracy"],
             "memory_kib": r.get("summary", {}).get("memory_mib", math.nan) * 1024}
            for r in records]
    keys = ["model", "precision", "width"]
    frame = pd.DataFrame(rows, columns=[*keys, "seed", "accuracy", "memory_kib"])
    table = seed_summary(frame, keys, "accuracy") if len(frame) else pd.DataFrame(
        columns=["seeds", "mean", "std", "min", "max"],
        index=pd.MultiIndex.from_tuples([], names=keys))
    table["memory_kib"] = frame.groupby(keys, sort=False)["memory_kib"].first()
    if configs is not None:
        planned = list(dict.fromkeys((c.model, c.precision, c.width) for c in configs))
        table = table.reindex(pd.MultiIndex.from_tuples(planned, names=keys))
        table["seeds"] = table["seeds"].fillna(0).astype(int)
    rwth = [RWTH_ACCURACY.get((model, precision)) for model, precision, _ in table.index]
    if any(rwth):
        table["RWTH accuracy"] = [entry and entry[0] for entry in rwth]
        table["RWTH dataset"] = [entry and entry[1] for entry in rwth]
    return table


def plot_system_memory(table: pd.DataFrame, title: str) -> Figure:
    """Test accuracy against larq's weight memory for one related system (notebook 09).

    ``table`` is :func:`system_table`'s output (index model, precision, width;
    columns seeds, mean, std, memory_kib): the mean over seeds with ± one standard deviation
    as an error bar, one line per (model, width) through its precisions in order of memory,
    memory on a log axis. Rows without a run (0 seeds) are left out.
    """
    fig, (ax,) = new_figure(size=(6.4, 4.2))
    frame = table[table["seeds"] > 0].reset_index().sort_values("memory_kib")
    for (model, width), rows in frame.groupby(["model", "width"], sort=False):
        ax.errorbar(rows["memory_kib"], rows["mean"], yerr=rows["std"].fillna(0.0),
                    marker="o", capsize=3, label=f"{model}, width {width:g}")
        for row in rows.itertuples():
            ax.annotate(row.precision, (row.memory_kib, row.mean), textcoords="offset points",
                        xytext=(4, 4), fontsize=7)
    return finish_axes(ax, xlabel="memory of the weights (KiB, larq's estimate)",
                       ylabel="test accuracy (%), mean ± std over seeds", title=title,
                       xlog=True, grid=True, legend={"fontsize": 7})
