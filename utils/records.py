"""Results records: one JSON file per training run, found again by config, seed and code.

A record (written by :func:`utils.train.run_experiment`) holds the run's config and its hash,
the dataset, the environment, the per-epoch history, test metrics, timing, the model summary
and the fingerprint of the code that trained it (:mod:`utils.fingerprint`). Notebooks, tables
and the report read only these files. No TensorFlow here.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from utils.config import field_names, make_config
from utils.environment import same_machine_and_settings
from utils.fingerprint import code_fingerprint
from utils.names import MAIN_MODELS, MAIN_PRECISIONS
from utils.stats import SPREAD_FACTOR

__all__ = [
    "DIFFERS_DEFECT",
    "DIFFERS_ELSEWHERE",
    "IDENTICAL",
    "compare_records",
    "find_records",
    "format_record",
    "is_stale",
    "load_record",
    "main_records",
    "missing_main_runs",
    "record_path",
    "records_frame",
    "seed_spread",
    "staleness",
]

# The three answers of a reproduction (compare_records' "verdict").
IDENTICAL = "identical"
DIFFERS_ELSEWHERE = "differs within the seed spread, on another CPU or other settings"
DIFFERS_DEFECT = "DIFFERS: a defect"

REQUIRED_KEYS = ("config", "config_hash", "history", "test_accuracy")


def record_path(results_dir: str | Path, config) -> Path:
    """Where the record of ``config`` (a :class:`~utils.config.TrainConfig`) lives."""
    return Path(results_dir) / f"{config.run_name}.json"


def load_record(path: str | Path) -> dict[str, Any]:
    """Read one results record; ValueError when the file is not one."""
    with open(path) as stream:
        record = json.load(stream)
    missing = [key for key in REQUIRED_KEYS if not isinstance(record, dict) or key not in record]
    if missing:
        raise ValueError(f"{path} is not a training record (missing {', '.join(missing)})")
    return record


def _all_records(results_dir: str | Path) -> Iterable[dict[str, Any]]:
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            yield load_record(path)
        except (ValueError, json.JSONDecodeError):
            continue  # benchmarks and summaries share the folder


def find_records(results_dir: str | Path = "results", **filters) -> list[dict[str, Any]]:
    """Every record in ``results_dir`` whose config matches ``filters``, sorted by file name.

    Filters compare config fields, e.g. ``find_records("results", model="alexnet",
    profile="quick")``; a filter value may also be a list or tuple of accepted values. Other
    JSON files (benchmarks) are skipped.
    """
    unknown = sorted(set(filters) - set(field_names()))
    if unknown:
        raise ValueError(
            f"unknown filter(s) {', '.join(unknown)}; accepted: {', '.join(field_names())}"
        )
    return [record for record in _all_records(results_dir)
            if all(_matches(record["config"].get(name), wanted)
                   for name, wanted in filters.items())]


def _matches(value, wanted) -> bool:
    return value in wanted if isinstance(wanted, list | tuple | set) else value == wanted


def main_records(results_dir: str | Path, profile: str, *, models=MAIN_MODELS,
                 seeds: Iterable[int] | None = None, **overrides) -> list[dict[str, Any]]:
    """The records of the main comparison: each network of ``models`` at each precision,
    trained with exactly ``profile``'s default recipe (with ``overrides``, e.g. the ``limit``
    and ``epochs`` of a dry run), one per seed (of ``seeds``, or every seed found); ablation
    variants and other recipes are left out.

    Sorted by model, precision and seed.
    """
    wanted_seeds = None if seeds is None else set(seeds)
    chosen = []
    for record in find_records(results_dir, profile=profile, model=tuple(models)):
        config = record["config"]
        if wanted_seeds is not None and config["seed"] not in wanted_seeds:
            continue
        default = make_config(config["model"], config["precision"], dataset=config["dataset"],
                              profile=profile, **{**overrides, "seed": config["seed"]})
        if default.config_hash() == record["config_hash"]:
            chosen.append(record)
    return sorted(chosen, key=lambda r: (r["config"]["model"], r["config"]["precision"],
                                         r["config"]["seed"]))


def missing_main_runs(records: Iterable[dict[str, Any]], models=MAIN_MODELS,
                      precisions=MAIN_PRECISIONS) -> list[str]:
    """"model precision" of every network of the main comparison without a record."""
    have = {(record["config"]["model"], record["config"]["precision"]) for record in records}
    return [f"{model} {precision}" for model in models for precision in precisions
            if (model, precision) not in have]


def staleness(record: dict[str, Any]) -> str | None:
    """Why ``record`` may no longer match the code, or None when it is current.

    A record is stale when it carries no code fingerprint (written before records had one)
    or when its fingerprint differs from that of the current code (:mod:`utils.fingerprint`).
    """
    config = record["config"]
    current = code_fingerprint(config["model"], config["precision"])
    recorded = record.get("code_fingerprint")
    if recorded is None:
        return "written before records carried a code fingerprint"
    if recorded != current:
        return (f"trained by other code (fingerprint {recorded}, current code {current}); "
                "retrain with force=True")
    return None


def is_stale(record: dict[str, Any]) -> bool:
    """Whether the code that shapes ``record``'s result changed since it was written."""
    return staleness(record) is not None


def seed_spread(results_dir: str | Path, config: dict[str, Any]) -> float | None:
    """Sample standard deviation of the test accuracy over the records in ``results_dir``
    whose config equals ``config`` but for the seed; None with fewer than two seeds."""
    same = {name: value for name, value in config.items() if name != "seed"}
    accuracies = [record["test_accuracy"] for record in _all_records(results_dir)
                  if {n: v for n, v in record["config"].items() if n != "seed"} == same]
    return statistics.stdev(accuracies) if len(accuracies) >= 2 else None


def _conditions(environment: dict[str, Any]) -> str:
    numerics = environment.get("numerics")
    settings = (", ".join(f"{name}={value}" for name, value in numerics.items()
                          if name.isupper()) if numerics else "numeric settings not recorded")
    flags = environment.get("cpu_flags")
    isa = "/".join(flags) if flags else "flags not recorded"
    threads = environment.get("intra_op_threads")
    threads = f"; {threads} thread(s)" if threads is not None else ""
    return f"{environment.get('cpu', 'unknown CPU')} ({isa}; {settings}{threads})"


def compare_records(previous: dict[str, Any], new: dict[str, Any],
                    spread: float | None = None) -> dict[str, Any]:
    """How a retrained run compares with its earlier record of the same config.

    Returns ``identical`` (test metrics, every per-epoch metric and the confusion matrix
    equal), the largest absolute difference over the per-epoch metrics, both test
    accuracies, the earlier record's date, code fingerprint and machine, a ``verdict`` and
    a one-line ``summary``. The verdict has three answers:

    - *identical*;
    - *differs within the seed spread, on another CPU or other settings*: the two records
      name different CPUs, instruction-set flags or numeric settings (or the earlier one
      does not say), and the accuracies differ by no more than two runs of different seeds
      would: ``|difference| <= 2 · sqrt(2) · spread`` (the rule of :mod:`utils.stats`
      for two single runs), with ``spread`` the sample standard deviation of the test
      accuracy over the seeds of that network and precision (:func:`seed_spread`);
    - *DIFFERS: a defect*: beyond that spread, or on the same CPU and settings (where op
      determinism promises identical bits), or with no spread to judge by.
    """
    old_history, new_history = previous["history"], new["history"]
    names = sorted((set(old_history) | set(new_history)) - {"epoch"})
    differences = [abs(a - b) for name in names
                   for a, b in zip(old_history.get(name, []), new_history.get(name, []),
                                   strict=False)]
    same_shape = all(len(old_history.get(name, [])) == len(new_history.get(name, []))
                     for name in names)
    identical = (same_shape and not any(differences)
                 and previous["test_accuracy"] == new["test_accuracy"]
                 and previous.get("test_loss") == new.get("test_loss")
                 and previous.get("confusion_matrix") == new.get("confusion_matrix"))
    old_accuracy, new_accuracy = previous["test_accuracy"], new["test_accuracy"]
    old_environment = previous.get("environment", {})
    new_environment = new.get("environment", {})
    same_conditions = same_machine_and_settings(old_environment, new_environment)
    bound = (SPREAD_FACTOR * math.sqrt(2) * spread) if spread is not None else None
    gap = new_accuracy - old_accuracy
    where = (f"recorded on {_conditions(old_environment)}, retrained on "
             f"{_conditions(new_environment)}")
    if identical:
        verdict = IDENTICAL
        summary = f"reproduced the recorded run exactly (test accuracy {new_accuracy:.4f})"
    else:
        change = (f"test accuracy {new_accuracy:.4f} against {old_accuracy:.4f} recorded "
                  f"({100 * gap:+.2f} points; largest per-epoch difference "
                  f"{max(differences, default=0.0):.3g})")
        if same_conditions:
            verdict = DIFFERS_DEFECT
            reason = "on the same CPU and numeric settings, where it must be identical"
        elif bound is None:
            verdict = DIFFERS_DEFECT
            reason = "and there is no seed spread to judge it by"
        elif abs(gap) > bound:
            verdict = DIFFERS_DEFECT
            reason = (f"beyond the seed spread (limit {100 * bound:.2f} points from a "
                      f"seed std of {100 * spread:.2f})")
        else:
            verdict = DIFFERS_ELSEWHERE
            reason = (f"inside the seed spread (limit {100 * bound:.2f} points from a seed "
                      f"std of {100 * spread:.2f})")
        summary = (f"{verdict.upper() if verdict == DIFFERS_DEFECT else verdict}: {change}, "
                   f"{reason}; {where}")
    return {
        "identical": identical,
        "verdict": verdict,
        "summary": summary,
        "previous_test_accuracy": old_accuracy,
        "new_test_accuracy": new_accuracy,
        "history_max_abs_difference": max(differences, default=0.0),
        "seed_spread": spread,
        "same_cpu_and_settings": same_conditions,
        "previous_created": previous.get("created"),
        "previous_code_fingerprint": previous.get("code_fingerprint"),
        "previous_cpu": old_environment.get("cpu") or old_environment.get("device"),
        "previous_conditions": _conditions(old_environment),
        "new_conditions": _conditions(new_environment),
    }


def records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per record: the config fields that vary most, test metrics, speed and size."""
    rows = []
    for record in records:
        config, summary = record["config"], record.get("summary", {})
        rows.append(
            {
                "model": config["model"],
                "precision": config["precision"],
                "dataset": config["dataset"],
                "profile": config["profile"],
                "seed": config["seed"],
                "image_size": config["image_size"],
                "width": config["width"],
                "epochs_run": len(record["history"].get("epoch", [])),
                "best_epoch": record.get("best_epoch"),
                "best_val_accuracy": record.get("best_val_accuracy"),
                "test_accuracy": record["test_accuracy"],
                "test_loss": record.get("test_loss"),
                "train_images_per_s": record.get("train_images_per_s"),
                "wall_time_s": record.get("wall_time_s"),
                "params_total": summary.get("params_total"),
                "memory_mib": summary.get("memory_mib"),
                "stale": is_stale(record),
                "config_hash": record["config_hash"],
            }
        )
    return pd.DataFrame(rows)


def format_record(record: dict[str, Any]) -> str:
    """A few lines summarising a record, for the command line and notebooks."""
    config, dataset = record["config"], record["dataset"]
    epochs = record["history"].get("epoch", [])
    lines = [
        f"{config['model']} {config['precision']} on {dataset['name']} "
        f"({config['profile']} profile, {config['image_size']} px, width {config['width']}, "
        f"seed {config['seed']}), config {record['config_hash']}",
        f"epochs run {len(epochs)} of {config['epochs']}; best epoch {record['best_epoch']} "
        f"(val accuracy {record['best_val_accuracy']:.4f})",
        f"test accuracy {record['test_accuracy']:.4f}, test loss {record['test_loss']:.4f}",
        f"training {record['train_images_per_s']:.1f} images/s; wall time "
        f"{record['wall_time_s']:.1f} s on {record['environment']['device']} "
        f"({record['environment']['strategy']})",
        f"record {record['record_path']}; model {record['model_path']}",
    ]
    reason = staleness(record)
    if reason:
        lines.append(f"STALE: {reason}")
    lines += [f"note: {note}" for note in record.get("notes", [])]
    return "\n".join(lines)
