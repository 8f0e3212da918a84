"""Tables that compare training runs, read only from results records (report §5.4, §6.4).

The report picks an "optimal epoch" by eye in TensorBoard: the epoch where training and
validation accuracy are close and high while the losses are low (§5.1). We make that rule
explicit and reproducible: the optimal epoch maximizes

    val_accuracy - |accuracy - val_accuracy|

(high validation accuracy, small gap to training accuracy), ties going to the lower
validation loss. Next to it we always show the best epoch (highest validation accuracy, the
one early stopping restores) and the final epoch, so that no choice hides another.

Runs of the main comparison are repeated over seeds: :func:`comparison_table` gives each
network and precision as mean ± std over its seeds, with the gap to float32 read against the
seed spread (:mod:`utils.stats`); per-epoch tables show one seed and name it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from utils.names import MAX_BITS, MIN_BITS, precision_bits
from utils.records import is_stale
from utils.reference import REFERENCE_ACCURACY
from utils.stats import SUMMARY_COLUMNS, difference, seed_summary

__all__ = [
    "PRECISION_ORDER",
    "bits_table",
    "comparison_table",
    "epoch_choices",
    "epoch_table",
    "reference_table",
    "runs_table",
    "training_bench_table",
]

PRECISION_ORDER = ("binary", "ternary", *(f"int{k}" for k in range(MIN_BITS, MAX_BITS + 1)),
                   "fp32")


def _precision_rank(precision: str) -> int:
    return PRECISION_ORDER.index(precision) if precision in PRECISION_ORDER else len(
        PRECISION_ORDER)


def _sorted(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(records, key=lambda r: (r["config"]["model"],
                                          _precision_rank(r["config"]["precision"]),
                                          r["config"]["seed"]))


def epoch_choices(history: Mapping[str, list]) -> dict[str, int]:
    """Positions in ``history`` of the optimal, best and final epochs (see module docstring)."""
    train = np.asarray(history["accuracy"], dtype=float)
    val = np.asarray(history["val_accuracy"], dtype=float)
    val_loss = np.asarray(history["val_loss"], dtype=float)
    score = val - np.abs(train - val)
    candidates = np.flatnonzero(np.isclose(score, score.max()))
    optimal = int(candidates[np.argmin(val_loss[candidates])])
    return {"optimal": optimal, "best": int(np.argmax(val)), "final": len(val) - 1}


def epoch_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Tables 5.2 / 6.2: accuracy and loss at the optimal, best and final epochs, in percent.

    One row per (model, precision, seed, choice); columns epoch (0-based), train and
    validation accuracy and loss, and the test accuracy of the saved (restored) weights.
    Pass the records of one seed for the tables of the notebooks.
    """
    rows = []
    for record in _sorted(records):
        history, config = record["history"], record["config"]
        for choice, i in epoch_choices(history).items():
            rows.append({
                "model": config["model"],
                "precision": config["precision"],
                "seed": config["seed"],
                "epoch choice": choice,
                "epoch": history["epoch"][i],
                "train accuracy %": 100 * history["accuracy"][i],
                "val accuracy %": 100 * history["val_accuracy"][i],
                "train loss": history["loss"][i],
                "val loss": history["val_loss"][i],
                "test accuracy % (saved weights)": 100 * record["test_accuracy"],
            })
    return pd.DataFrame(rows).set_index(["model", "precision", "seed", "epoch choice"])


def runs_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per record: model, precision, seed, dataset, test accuracy (%) and loss, best
    validation accuracy (%), larq's size figures, training speed and whether it is stale."""
    rows = []
    for record in _sorted(records):
        config, summary = record["config"], record.get("summary", {})
        rows.append({
            "model": config["model"],
            "precision": config["precision"],
            "seed": config["seed"],
            "dataset": record["dataset"]["name"],
            "test accuracy %": 100 * record["test_accuracy"],
            "test loss": record["test_loss"],
            "best val accuracy %": 100 * record["best_val_accuracy"],
            "parameters": summary.get("params_total"),
            "memory MiB": summary.get("memory_mib"),
            "fp32-equivalent MiB": summary.get("memory_fp32_equivalent_mib"),
            "compression x": summary.get("compression_ratio"),
            "MACs (M)": summary.get("macs_total", np.nan) / 1e6,
            "binary MAC share": summary.get("macs_1bit", 0) / max(1, summary.get("macs_total", 1)),
            "train images/s": record.get("train_images_per_s"),
            "stale": is_stale(record),
        })
    return pd.DataFrame(rows)


def comparison_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Every network at every precision over its seeds: test accuracy as seeds, mean, std,
    min and max (in %), the gap of the mean to float32 of the same network with its standard
    error and whether it is beyond the seed spread (:mod:`utils.stats`), then the mean test
    loss, larq's size figures, training speed and how many of the records are stale.

    Index (model, precision), precisions from fewest bits to float.
    """
    runs = runs_table(records)
    if runs.empty:
        return pd.DataFrame()
    summary = seed_summary(runs, ["model", "precision"], "test accuracy %")
    gaps = pd.DataFrame(
        [difference(row, summary.loc[(model, "fp32")] if (model, "fp32") in summary.index
                    else None) for (model, _), row in summary.iterrows()],
        index=summary.index,
        columns=["gap to fp32 (points)", "gap standard error", "gap beyond seed spread"])
    accuracy = summary.rename(columns={name: f"test accuracy % {name}"
                                       for name in SUMMARY_COLUMNS if name != "seeds"})
    grouped = runs.groupby(["model", "precision"], sort=False)
    means = grouped[["test loss", "best val accuracy %", "train images/s"]].mean()
    firsts = grouped[["dataset", "parameters", "memory MiB", "fp32-equivalent MiB",
                      "compression x", "MACs (M)", "binary MAC share"]].first()
    stale = grouped["stale"].sum().astype(int).rename("stale records")
    return pd.concat([accuracy, gaps, means, firsts, stale], axis=1)


def bits_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The runs of a bit-width sweep (one network, one seed per precision), by bit width.

    Columns ``bits``, ``precision``, ``test_accuracy``, ``best_val_accuracy``, ``test_loss``,
    ``params``, ``memory_kib`` (larq's estimate, each weight at its bit width),
    ``fp32_memory_kib``, ``compression`` and ``train_seconds``; ``attrs["histories"]`` maps
    each precision to its per-epoch history.
    """
    rows, histories = [], {}
    for record in records:
        precision, summary = record["config"]["precision"], record["summary"]
        histories[precision] = record["history"]
        rows.append({
            "bits": precision_bits(precision),
            "precision": precision,
            "test_accuracy": record["test_accuracy"],
            "best_val_accuracy": record["best_val_accuracy"],
            "test_loss": record["test_loss"],
            "params": int(summary["params_total"]),
            "memory_kib": summary["memory_mib"] * 1024,
            "fp32_memory_kib": summary["memory_fp32_equivalent_mib"] * 1024,
            "compression": summary["compression_ratio"],
            "train_seconds": record["train_time_s"],
        })
    table = pd.DataFrame(rows).sort_values("bits").reset_index(drop=True)
    table.attrs["histories"] = histories
    return table


def reference_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Our accuracies next to the reference report's Tables 5.2 / 6.2 (validation, optimal).

    Ours are means over the seeds in ``records``. The datasets differ whenever the offline
    stand-in was used; the "dataset" column says which one each of our numbers comes from.
    """
    rows = []
    for record in _sorted(records):
        config = record["config"]
        key = (config["model"], config["precision"])
        if key not in REFERENCE_ACCURACY:
            continue
        optimal = epoch_choices(record["history"])["optimal"]
        rows.append({
            "model": key[0],
            "precision": key[1],
            "report val accuracy % (Cats & Dogs)": REFERENCE_ACCURACY[key]["val_accuracy"],
            "our dataset": record["dataset"]["name"],
            "our val accuracy % (optimal epoch)":
                100 * record["history"]["val_accuracy"][optimal],
            "our test accuracy %": 100 * record["test_accuracy"],
            "chance %": 100 / record["dataset"]["num_classes"],
        })
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    seeds = frame.groupby(["model", "precision"], sort=False).size().rename("our seeds")
    table = frame.groupby(["model", "precision"], sort=False).agg({
        "report val accuracy % (Cats & Dogs)": "first", "our dataset": "first",
        "our val accuracy % (optimal epoch)": "mean", "our test accuracy %": "mean",
        "chance %": "first"})
    return pd.concat([table, seeds], axis=1)


def training_bench_table(bench: Mapping[str, Any]) -> pd.DataFrame:
    """The training benchmark (``results/bench_train.json``): images per second of every
    model and precision, the ratio to float32 of the same model and, where measured, how
    much faster training runs without op determinism."""
    cost = bench.get("determinism_cost", {})
    rows = [{"model": model, "precision": precision, "image size": result["image_size"],
             "images/s": figures["images_per_s"], "vs fp32": figures["ratio_to_fp32"],
             "speed-up without determinism": cost.get(model, {}).get(precision, np.nan)}
            for model, result in bench["models"].items()
            for precision, figures in result["precisions"].items()]
    return pd.DataFrame(rows).set_index(["model", "precision"])
