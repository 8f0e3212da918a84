"""Tables that compare training runs, read only from results records (report §5.4, §6.4).

The report picks an "optimal epoch" by eye in TensorBoard: the epoch where training and
validation accuracy are close and high while the losses are low (§5.1). We make that rule
explicit and reproducible: the optimal epoch maximizes

    val_accuracy - |accuracy - val_accuracy|

(high validation accuracy, small gap to training accuracy), ties going to the lower
validation loss. Next to it we always show the best epoch (highest validation accuracy, the
one early stopping restores) and the final epoch, so that no choice hides another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from utils.reference import REFERENCE_ACCURACY

__all__ = [
    "PRECISION_ORDER",
    "epoch_choices",
    "epoch_table",
    "comparison_table",
    "reference_table",
]

PRECISION_ORDER = ("binary", "ternary", *(f"int{k}" for k in range(2, 17)), "fp32")


def _precision_rank(precision: str) -> int:
    return PRECISION_ORDER.index(precision) if precision in PRECISION_ORDER else len(
        PRECISION_ORDER)


def _sorted(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(records, key=lambda r: (r["config"]["model"],
                                          _precision_rank(r["config"]["precision"])))


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

    One row per (model, precision, choice); columns epoch (0-based), train and validation
    accuracy and loss, and the test accuracy of the saved (restored) weights.
    """
    rows = []
    for record in _sorted(records):
        history, config = record["history"], record["config"]
        for choice, i in epoch_choices(history).items():
            rows.append({
                "model": config["model"],
                "precision": config["precision"],
                "epoch choice": choice,
                "epoch": history["epoch"][i],
                "train accuracy %": 100 * history["accuracy"][i],
                "val accuracy %": 100 * history["val_accuracy"][i],
                "train loss": history["loss"][i],
                "val loss": history["val_loss"][i],
                "test accuracy % (saved weights)": 100 * record["test_accuracy"],
            })
    return pd.DataFrame(rows).set_index(["model", "precision", "epoch choice"])


def comparison_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Every network at every precision: accuracy, loss, size, MACs and the gap to float.

    The gap is in percentage points of test accuracy against the fp32 run of the same
    network in ``records`` (NaN when there is none).
    """
    rows = []
    for record in _sorted(records):
        config, summary = record["config"], record.get("summary", {})
        rows.append({
            "model": config["model"],
            "precision": config["precision"],
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
        })
    table = pd.DataFrame(rows).set_index(["model", "precision"])
    float_accuracy = {model: table.loc[(model, "fp32"), "test accuracy %"]
                      for model in table.index.get_level_values("model")
                      if (model, "fp32") in table.index}
    table["gap to fp32 (points)"] = [
        acc - float_accuracy.get(model, np.nan)
        for (model, _), acc in zip(table.index, table["test accuracy %"], strict=True)
    ]
    return table


def reference_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Our accuracies next to the reference report's Tables 5.2 / 6.2 (validation, optimal).

    The datasets differ whenever the offline stand-in was used; the "dataset" column says
    which one each of our numbers comes from.
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
    return pd.DataFrame(rows).set_index(["model", "precision"])
