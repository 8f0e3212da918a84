"""Training and collecting the ablation runs of :mod:`utils.ablations`.

Every distinct config of the plan is trained once through the one experiment runner
(:func:`utils.experiments.run_configs`), or read from its record when that exists; the shared
baseline of every ablation is one config per seed and so one record. :func:`runs_frame` puts
the records next to the plan: one row per (ablation, condition, seed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from utils.ablations import ABLATIONS, PlannedRun, plan, unique_configs
from utils.names import precision_bits
from utils.records import load_record, record_path

__all__ = ["RUN_COLUMNS", "load_runs", "measured", "run_ablations", "runs_frame"]

RUN_COLUMNS = ["ablation", "condition", "is_baseline", "seed", "bits", "test_accuracy",
               "test_loss", "best_val_accuracy", "epochs_run", "train_time_s", "run_name",
               "chance_accuracy", "final_train_accuracy"]


def runs_frame(planned: Sequence[PlannedRun], records: Mapping[str, Mapping[str, Any]]
               ) -> pd.DataFrame:
    """One row per planned run whose record is in ``records`` (config hash -> record).

    Columns: ablation, condition, is_baseline, seed, bits, test_accuracy, test_loss,
    best_val_accuracy, epochs_run, train_time_s, run_name.
    """
    rows = []
    for run in planned:
        record = records.get(run.config.config_hash())
        if record is None:
            continue
        rows.append({
            "ablation": run.ablation, "condition": run.condition,
            "is_baseline": run.is_baseline, "seed": run.seed,
            "bits": precision_bits(run.config.precision),
            "test_accuracy": record["test_accuracy"], "test_loss": record.get("test_loss"),
            "best_val_accuracy": record.get("best_val_accuracy"),
            "epochs_run": record.get("epochs_run"), "train_time_s": record.get("train_time_s"),
            "run_name": record.get("run_name"),
            "chance_accuracy": 1.0 / record["dataset"]["num_classes"],
            "final_train_accuracy": record["history"]["accuracy"][-1],
        })
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def measured(runs: pd.DataFrame) -> list[str]:
    """Keys of the ablations with a baseline run and at least one variant run (either alone
    is not a comparison), in the order of :data:`ABLATIONS`."""
    baseline = runs["is_baseline"].astype(bool)
    keys = set(runs.loc[baseline, "ablation"]) & set(runs.loc[~baseline, "ablation"])
    return [ablation.key for ablation in ABLATIONS if ablation.key in keys]


def load_runs(profile: str = "quick", dataset: str = "mnist5k", results_dir="results",
              keys: Iterable[str] | None = None) -> pd.DataFrame:
    """The runs of ``profile`` whose records exist in ``results_dir`` (nothing is trained)."""
    planned = plan(profile, dataset, keys)
    records = {}
    for config_hash, group in unique_configs(planned).items():
        path = record_path(results_dir, group[0].config)
        if path.exists():
            records[config_hash] = load_record(path)
    return runs_frame(planned, records)


def run_ablations(profile: str = "quick", dataset: str = "mnist5k", *,
                  results_dir: str | Path = "results", data_dir: str | Path = "data",
                  keys: Iterable[str] | None = None, force: bool = False,
                  verbose: int = 0) -> pd.DataFrame:
    """Train every distinct config of the ablations once (or read its record); the runs frame.

    A config whose record exists in ``results_dir`` is read, not retrained, unless
    ``force``. Models, checkpoints and logs go next to ``results_dir``, as for every run
    (:func:`utils.experiments.run_configs`).
    """
    from utils.experiments import run_configs

    planned = plan(profile, dataset, keys)
    configs = [group[0].config for group in unique_configs(planned).values()]
    records = run_configs(configs, results_dir=results_dir, data_dir=data_dir, force=force,
                          verbose=verbose)
    return runs_frame(planned, {record["config_hash"]: record for record in records})
