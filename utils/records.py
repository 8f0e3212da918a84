"""Results records, the fingerprints that tie them to their code, atomic files, and seed
statistics. No TensorFlow here: tables, the report and the notebooks read records with this
module alone.

Writing result files atomically, and turning numpy values into plain JSON.
--------------------------------------------------------------------------

Every record, benchmark and report of the course is written through :func:`write_bytes_atomic`
so that an interrupted run leaves the old file or the new one, never half of one.

Seed statistics: mean and spread over seeds, and when a difference is beyond that spread.
-----------------------------------------------------------------------------------------

Every comparison of the course (the main table of notebook 05 and the ablations of 07)
trains each condition with several seeds and reads a difference of means against the
seed-to-seed spread with one rule:

    a difference counts as *beyond the seed spread* when |diff| > 2 · se_diff,
    se_diff = sqrt(s_a² / n_a + s_b² / n_b),

with s the sample standard deviations over the n_a and n_b seeds of the two conditions. With
three seeds per condition this is a rough 95% screen, not a significance test.

Fingerprints of the code that shapes a training result, so a record knows what made it.
---------------------------------------------------------------------------------------

A record stores :func:`code_fingerprint` of its network. When the quantizers, layers, the
network's architecture, the data pipeline or the training loop change, the fingerprint of
the current code differs from the record's, and the record is shown as *stale* until it is
retrained (``force=True``). Docstrings, comments and blank lines do not count: editing prose
leaves every record current. The fingerprint is computed from the source text (not from
``ast.dump``, whose output changes between Python versions), so Colab's Python 3.13 agrees
with the Python 3.11 that made the committed records. The sources are read as text, so
fingerprinting imports no TensorFlow.

Results records: one JSON file per training run, found again by config, seed and code.
--------------------------------------------------------------------------------------

A record (written by :func:`utils.train.run_experiment`) holds the run's config and its hash,
the dataset, the environment, the per-epoch history, test metrics, timing, the model summary
and the fingerprint of the code that trained it (above). Notebooks, tables and the report
read only these files.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import math
import os
import statistics
import sys
import tempfile
import tokenize
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from utils.config import field_names, make_config
from utils.environment import same_machine_and_settings
from utils.names import MAIN_MODELS, MAIN_PRECISIONS

__all__ = ["DIFFERS_DEFECT", "DIFFERS_ELSEWHERE", "IDENTICAL", "NEUTRAL_MODULES", "RESULT_MODULES",
           "RUN_LEDGER_VARIABLE", "SPREAD_FACTOR", "SUMMARY_COLUMNS", "code_fingerprint",
           "compare_records", "difference", "find_records", "fingerprint_modules", "format_record",
           "is_stale", "load_record", "main", "main_records", "missing_main_runs",
           "normalized_source", "note_runs_used", "read_run_ledger", "record_path",
           "restamp_records", "seed_spread", "seed_summary", "staleness", "standard_error",
           "to_jsonable", "top_level_definitions", "write_bytes_atomic", "write_json_atomic"]

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


# The main job names a ledger file here for each notebook it runs; every call of
# utils.train.run_configs in that notebook's kernel adds the runs it used, so the job knows
# which records each notebook reads and which it trained (what its times are made of).
RUN_LEDGER_VARIABLE = "COURSE_RUN_LEDGER"


def note_runs_used(used: Iterable[str], trained: Iterable[str],
                   models: Iterable[str] = ()) -> None:
    """Add run names to the ledger named by :data:`RUN_LEDGER_VARIABLE`, if one is set.

    ``used``: every run whose record the caller returned; ``trained``: those it trained now;
    ``models``: those whose saved model it asked for (``require_model``), which the next
    main job trains first when they are missing (:mod:`utils.pipeline`). One JSON line per
    run, appended (each line is written whole, so a crash loses at most the runs of the call
    it interrupts).
    """
    ledger = os.environ.get(RUN_LEDGER_VARIABLE)
    if not ledger:
        return
    trained, models = set(trained), set(models)
    lines = "".join(json.dumps({"run": name, "trained": name in trained,
                                "model": name in models}) + "\n"
                    for name in used)
    with open(ledger, "a", encoding="utf-8") as stream:
        stream.write(lines)


def read_run_ledger(path: str | Path) -> dict[str, list[str]]:
    """The runs a ledger lists: ``{"used": [...], "trained": [...], "models": [...]}``,
    sorted, each once."""
    path = Path(path)
    entries = ([json.loads(line) for line in path.read_text().splitlines() if line.strip()]
               if path.exists() else [])
    return {"used": sorted({entry["run"] for entry in entries}),
            "trained": sorted({entry["run"] for entry in entries if entry["trained"]}),
            "models": sorted({entry["run"] for entry in entries if entry.get("model")})}


# How many standard errors a difference must exceed to count as beyond the seed spread.
SPREAD_FACTOR = 2.0
SUMMARY_COLUMNS = ["seeds", "mean", "std", "min", "max"]


def seed_summary(frame: pd.DataFrame, by: Sequence[str], value: str) -> pd.DataFrame:
    """Per group of ``by``: number of seeds, mean, sample std (NaN for one), min and max of
    ``value``, groups in order of first appearance."""
    table = frame.groupby(list(by), sort=False)[value].agg(
        seeds="count", mean="mean", std="std", min="min", max="max")
    table["seeds"] = table["seeds"].astype(int)
    return table[SUMMARY_COLUMNS]


def standard_error(row: pd.Series, base: pd.Series) -> float:
    """sqrt(s²/n + s_b²/n_b) of a difference of two means; NaN with fewer than two seeds."""
    if row["seeds"] < 2 or base["seeds"] < 2:
        return math.nan
    return math.sqrt(row["std"] ** 2 / row["seeds"] + base["std"] ** 2 / base["seeds"])


def difference(row: pd.Series, base: pd.Series | None) -> tuple[float, float, bool]:
    """(diff of means, its standard error, beyond the spread) of ``row`` against ``base``.

    ``row`` and ``base`` are rows of :func:`seed_summary`. Without a base everything is
    NaN/False; with fewer than two seeds on either side the difference is never "beyond".
    """
    if base is None:
        return math.nan, math.nan, False
    diff = row["mean"] - base["mean"]
    error = standard_error(row, base)
    if math.isnan(error):
        return diff, error, False
    return diff, error, bool(abs(diff) > SPREAD_FACTOR * error)


PACKAGE_DIR = Path(__file__).resolve().parent

# Modules whose code can change a trained result: how values are quantized, how layers and
# networks are built, what the data looks like, how a network is fitted, and the run itself
# (seeds, resumption, which model is kept).
RESULT_MODULES = ("quantizers", "nets", "models", "data", "fitting", "train", "qat")
# Modules the training path imports that cannot change a trained result, each with why.
# tests/test_records.py walks the training path's imports and fails on a module in neither.
NEUTRAL_MODULES = {
    "names": "names and published numbers: a value that reaches a run is in its config hash",
    "config": "the run's settings: every value is in the config hash that names the record",
    "environment": "where the run happened (CPU, versions, numeric settings), recorded beside",
    "records": "reads and writes records after the run; the fingerprint itself",
    "course": "where files go (course folders, Colab, Drive), not what is computed",
    "cats_and_dogs": "fetches and prepares the Kaggle archive into files and picks the data "
                     "set, named in the config; the images are read by data, fingerprinted",
}
# Definitions that serve one network or one kind of precision count only in those runs'
# fingerprints, so that editing VGG-7 leaves AlexNet's records current.
NETWORK_DEFINITIONS = {
    "alexnet": ("build_alexnet", "ALEXNET_DROPOUT"),
    "googlenet": ("build_googlenet", "inception_block", "INCEPTION_BLOCKS",
                  "GOOGLENET_DROPOUT"),
    "mlp": ("build_mlp", "build_small_cnn", "_small_head", "SMALL_DROPOUT"),
    "small_cnn": ("build_mlp", "build_small_cnn", "_small_head", "SMALL_DROPOUT"),
    "lenet5": ("build_lenet5", "build_vgg7", "_reference_head", "REFERENCE_DROPOUT"),
    "vgg7": ("build_lenet5", "build_vgg7", "_reference_head", "REFERENCE_DROPOUT"),
    "qnn": ("build_qnn", "QNN_DROPOUT", "BLOCK_NAMES", "DEFAULT_BLOCK_LAYERS",
            "DEFAULT_BLOCK_FILTERS"),
}
# ABC-Net's multiple bases (notebook 09) count only for the "abc_*" precisions; the module
# ``qat`` (tensorflow-model-optimization) only for "int8_qat".
MULTIBASE_DEFINITIONS = ("weight_shifts", "_sign", "MultiBaseWeights", "MultiBaseActivation")
PRECISION_MODULES = {"qat": "int8_qat"}
# Quantization that runs only after training (calibration and post-training quantization of
# notebooks 01, 02 and 06): no training run calls it, which tests/test_records.py checks.
POST_TRAINING_DEFINITIONS = (
    "integer_range", "AffineQuantization", "affine_from_range", "_symmetric_clip",
    "symmetric_scales",
    "weight_quantization_error", "weight_error_table", "_mse_of_clip", "calibrate",
    "CALIBRATION_METHODS", "calibration_table", "_hidden_relus", "kernels", "relu_outputs",
    "activation_ranges", "quantize_after_training", "ptq_table")


def _counts_for(name: str, model: str, precision: str) -> bool:
    """Whether the top-level definition ``name`` shapes a ``model``/``precision`` run."""
    if name in POST_TRAINING_DEFINITIONS:
        return False
    if name in MULTIBASE_DEFINITIONS:
        return precision.startswith("abc_")
    owners = [network for network, names in NETWORK_DEFINITIONS.items() if name in names]
    return not owners or model in owners


def fingerprint_modules(model: str, precision: str) -> tuple[str, ...]:
    """Dotted module names under ``utils`` whose code shapes a ``model``/``precision`` run."""
    if model not in NETWORK_DEFINITIONS:
        raise ValueError(f"unknown model {model!r}; accepted: "
                         f"{', '.join(NETWORK_DEFINITIONS)}")
    return tuple(module for module in RESULT_MODULES
                 if PRECISION_MODULES.get(module, precision) == precision)


def _docstring_spans(tree: ast.AST) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                spans.append(((first.lineno, first.col_offset),
                              (first.end_lineno, first.end_col_offset)))
    return spans


def normalized_source(text: str) -> str:
    """``text`` without docstrings, comments, trailing spaces and blank lines."""
    lines = text.splitlines()
    cuts = _docstring_spans(ast.parse(text))
    cuts += [(token.start, token.end)
             for token in tokenize.generate_tokens(io.StringIO(text).readline)
             if token.type == tokenize.COMMENT]
    for (start_line, start_col), (end_line, end_col) in sorted(cuts, reverse=True):
        head = lines[start_line - 1][:start_col]
        tail = lines[end_line - 1][end_col:]
        lines[start_line - 1:end_line] = [head + tail]
    return "\n".join(line.rstrip() for line in lines if line.strip())


@cache
def top_level_definitions(module: str, package_dir: Path = PACKAGE_DIR
                          ) -> tuple[tuple[str, str], ...]:
    """(name, normalized source) of every top-level statement of ``utils.<module>`` but its
    imports and ``__all__``; a statement that binds no name is named by its own source."""
    path = Path(package_dir).joinpath(*module.split(".")).with_suffix(".py")
    text = path.read_text()
    lines = text.splitlines()
    found = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module's docstring
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = node.name
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            name = ",".join(sorted(sub.id for target in targets for sub in ast.walk(target)
                                   if isinstance(sub, ast.Name)))
        else:
            name = ""
        if name == "__all__":
            continue
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        source = normalized_source("\n".join(lines[first - 1:node.end_lineno]))
        found.append((name or source, source))
    return tuple(found)


def code_fingerprint(model: str, precision: str, package_dir: Path = PACKAGE_DIR) -> str:
    """10 hex digits naming the current code that shapes a ``model``/``precision`` run.

    The fingerprint hashes definitions, not files: each top-level function, class and
    constant of the result modules, sorted by name, so that moving a definition from one
    module to another leaves every record current while changing one does not.
    ``package_dir`` is the ``utils`` folder to read (another copy, in tests).
    """
    definitions = sorted(
        (name, source) for module in fingerprint_modules(model, precision)
        for name, source in top_level_definitions(module, Path(package_dir))
        if all(_counts_for(part, model, precision) for part in name.split(",")))
    digest = hashlib.sha256()
    for name, source in definitions:
        digest.update(f"{name}\n{source}\n".encode())
    return digest.hexdigest()[:10]


# The three answers of a reproduction (compare_records' "verdict").
IDENTICAL = "identical"
DIFFERS_ELSEWHERE = "differs within the seed spread, on another CPU or other settings"
DIFFERS_DEFECT = "DIFFERS: a defect"

REQUIRED_KEYS = ("config", "config_hash", "history", "test_accuracy")


def record_path(results_dir: str | Path, config) -> Path:
    """Where the record of ``config`` (a :class:`~utils.config.TrainConfig`) lives."""
    return Path(results_dir) / f"{config.run_name}.json"


def load_record(path: str | Path) -> dict[str, Any]:
    """Read one results record; ValueError when the file is not one.

    A record keeps the absolute path its model was saved to, on the machine that trained it.
    Where that file is missing but a model of the same name sits in the ``models/`` folder
    beside the record's results folder (where every run saves its model, see
    :class:`utils.train.RunPaths`: a course folder moved, or a committed record whose model
    was trained again here), the record read points to that one.
    """
    with open(path) as stream:
        record = json.load(stream)
    missing = [key for key in REQUIRED_KEYS if not isinstance(record, dict) or key not in record]
    if missing:
        raise ValueError(f"{path} is not a training record (missing {', '.join(missing)})")
    model = record.get("model_path")
    if model and not Path(model).exists():
        beside = Path(path).resolve().parent.parent / "models" / Path(model).name
        if beside.exists():
            record["model_path"] = str(beside)
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
    or when its fingerprint differs from that of the current code (:func:`code_fingerprint`).
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
      would: ``|difference| <= 2 · sqrt(2) · spread`` (the seed-spread rule
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


def restamp_records(results_dir: str | Path, change: str, *, profile: str = "quick",
                    models=MAIN_MODELS, precisions=MAIN_PRECISIONS) -> list[Path]:
    """Give the current code fingerprint to the stale records under ``results_dir``, with the
    evidence that the code change ``change`` (one line) left their results as they were.

    The evidence is the main comparison itself: every ``model``/``precision`` run of seed 0
    of ``profile`` (its default recipe) in ``results_dir`` must already carry the current
    fingerprint and a ``reproduction`` that says *identical*, i.e. it was retrained by the
    changed code (as the main job does when a model file is missing) and reproduced its
    record exactly. Without that, nothing is
    changed and ValueError names the runs that are missing or did not reproduce. Each
    re-stamped record keeps its old fingerprint, the change, the witnesses and their CPU
    under ``restamped`` (a list: a record can be re-stamped more than once).
    """
    root = Path(results_dir)
    witnesses, problems = [], []
    current = {(r["config"]["model"], r["config"]["precision"]): r
               for r in main_records(root, profile, models=models, seeds=(0,))}
    for model in models:
        for precision in precisions:
            record = current.get((model, precision))
            if record is None:
                problems.append(f"{model} {precision}: no seed-0 record")
            elif staleness(record) is not None:
                problems.append(f"{model} {precision}: not retrained by the current code")
            elif record.get("reproduction", {}).get("verdict") != IDENTICAL:
                problems.append(f"{model} {precision}: no identical reproduction")
            else:
                witnesses.append(record)
    if problems:
        raise ValueError("not re-stamping: the seed-0 runs of the main comparison must be "
                         "retrained by the current code and reproduce exactly first ("
                         + "; ".join(problems) + ")")
    stamp = {
        "change": change,
        "witnesses": sorted(record["run_name"] for record in witnesses),
        "witnesses_cpu": sorted({str(record.get("environment", {}).get("cpu"))
                                 for record in witnesses}),
        "evidence": "each witness was retrained by the changed code and reproduced its "
                    "record exactly (test metrics, every epoch, the confusion matrix)",
    }
    written = []
    for path in sorted(root.rglob("*.json")):
        try:
            record = load_record(path)
        except (ValueError, json.JSONDecodeError, UnicodeDecodeError):
            continue
        if staleness(record) is None:
            continue
        config = record["config"]
        new = code_fingerprint(config["model"], config["precision"])
        entry = {"from": record.get("code_fingerprint"), "to": new, **stamp,
                 "this_record_cpu": record.get("environment", {}).get("cpu")}
        record["restamped"] = [*record.get("restamped", []), entry]
        record["code_fingerprint"] = new
        write_json_atomic(path, record)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m utils.records --restamp "what changed"``: see :func:`restamp_records`."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.records",
        description="Give stale records the current code fingerprint once the main "
                    "comparison's seed-0 runs, retrained by the changed code, reproduced "
                    "their records exactly.")
    parser.add_argument("--restamp", metavar="CHANGE", required=True,
                        help="one line saying what changed in the code")
    parser.add_argument("--results-dir", default=str(PACKAGE_DIR.parent / "results"),
                        help="records to re-stamp (default: the repository's results/)")
    args = parser.parse_args(argv)
    try:
        written = restamp_records(args.results_dir, args.restamp)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"re-stamped {len(written)} record(s) under {args.results_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
