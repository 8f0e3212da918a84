"""Results records: one JSON file per training run, written atomically, read back for reports.

A record (see :func:`utils.train.run_experiment`) holds the run's config and its hash, the
dataset, the environment, the per-epoch history, test metrics, timing and the model summary.
The comparison notebook and the report read only these files.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from utils.config import field_names

__all__ = [
    "find_records",
    "format_record",
    "load_record",
    "records_frame",
    "to_jsonable",
    "write_bytes_atomic",
    "write_json_atomic",
]

REQUIRED_KEYS = ("config", "config_hash", "history", "test_accuracy")


def to_jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays, tuples and paths turned into plain JSON types."""
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same folder, are flushed to disk, and replace
    ``path`` with ``os.replace`` (atomic on POSIX and Windows). The file is readable by
    everyone, like one written with ``open`` (mode 644, not the temporary file's 600).
    Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically (see :func:`write_bytes_atomic`)."""
    return write_bytes_atomic(path, (json.dumps(to_jsonable(data), indent=2) + "\n").encode())


def load_record(path: str | Path) -> dict[str, Any]:
    """Read one results record; ValueError when the file is not one."""
    with open(path) as stream:
        record = json.load(stream)
    missing = [key for key in REQUIRED_KEYS if not isinstance(record, dict) or key not in record]
    if missing:
        raise ValueError(f"{path} is not a training record (missing {', '.join(missing)})")
    return record


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
    records = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            record = load_record(path)
        except (ValueError, json.JSONDecodeError):
            continue
        if all(_matches(record["config"].get(name), wanted) for name, wanted in filters.items()):
            records.append(record)
    return records


def _matches(value, wanted) -> bool:
    return value in wanted if isinstance(wanted, list | tuple | set) else value == wanted


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
        f"({config['profile']} profile, {config['image_size']} px, width {config['width']}), "
        f"config {record['config_hash']}",
        f"epochs run {len(epochs)} of {config['epochs']}; best epoch {record['best_epoch']} "
        f"(val accuracy {record['best_val_accuracy']:.4f})",
        f"test accuracy {record['test_accuracy']:.4f}, test loss {record['test_loss']:.4f}",
        f"training {record['train_images_per_s']:.1f} images/s; wall time "
        f"{record['wall_time_s']:.1f} s on {record['environment']['device']} "
        f"({record['environment']['strategy']})",
        f"record {record['record_path']}; model {record['model_path']}",
    ]
    lines += [f"note: {note}" for note in record.get("notes", [])]
    return "\n".join(lines)
