"""The deployment benchmark: real files of both networks at every precision, measured in one run.

``python -m utils.deploy_bench [--profile quick]`` (and notebook 06) does two things and
writes both to ``results/bench_deploy.json``:

1. **Full size.** AlexNet (227 px) and GoogLeNet (224 px), 2 classes, width 1.0, built at
   fp32, int8, int8_qat and binary with untrained weights and converted by
   :mod:`utils.deploy` (full-size AlexNet's QAT fc6 in two parts, see
   :func:`utils.deploy.split_for_converter`): file
   sizes, size ratios against the float32 file (with the goal of at least 28x for binary;
   int8 stands against its physical limit of 4x), where every byte of each file goes
   (:func:`utils.deploy.file_bytes`), and latency at 1 and 2 threads.
   Sizes and latencies do not depend on the weights' values, provided that no two constants
   are equal (the converters store equal buffers once): constant-initialized weights are
   varied, and QAT weight ranges set as training sets them.
2. **Trained.** The networks that notebooks 03 and 04 trained in this profile (their saved
   models), converted the same way and run on the test split: accuracy of each file against
   its Keras model (within ``ACCURACY_TOLERANCE_POINTS``), sizes and latencies at the
   trained input size.

Latency is measured on this machine's x86 CPU, where LCE runs its reference kernels (see
``KERNELS_NOTE``); file sizes transfer to any device, binary latencies do not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from utils.course import add_folder_flags, folders_from_flags
from utils.data import load_dataset, to_arrays
from utils.deploy import (
    ACCURACY_TOLERANCE_POINTS,
    CONVERTER_FOLD_LIMIT,
    INT8_PER_CHANNEL,
    MAX_CALIBRATION_IMAGES,
    count_lce_ops,
    deploy_and_measure,
    file_bytes,
)
from utils.environment import LCE_MISSING, environment_info, lce_available, peak_resident_mb
from utils.models import build_model, load_model
from utils.qat import is_qat_model, network_variables
from utils.records import main_records, top_level_definitions, write_json_atomic
from utils.tables import BINARY_RATIO_GOAL, INT8_RATIO_LIMIT, goal_for

__all__ = ["DEPLOY_PROFILES", "KERNELS_NOTE", "MEASURED_CODE", "full_size_key", "full_size_table",
           "main", "run_deployment_bench", "trained_table"]

FULL_INPUT_SHAPES = {"alexnet": (227, 227, 3), "googlenet": (224, 224, 3)}
PRECISIONS = ("fp32", "int8", "int8_qat", "binary")
# Per profile: channel width of the full-size networks, timed runs and warm-up runs per
# latency, calibration images for int8 (random images at full size; training images for
# the trained models), and at most this many test images for the trained models' accuracy.
# ``networks``: the networks measured, at full size and trained. The smoke profile (a check of
# the path) measures AlexNet's files only: most of its time went into exporting and
# converting graphs (TFLite exports a SavedModel of every Keras model first), and
# GoogLeNet's conversions are checked by tests/test_deploy.py and tests/test_full_path.py.
# ``own_processes``: each network's step in a child process of its own, so that one
# network's models are in memory at a time (full size); the smoke profile's tiny networks
# run in this process, which spares a TensorFlow start per step.
DEPLOY_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(width=0.0625, runs=2, warmup=1, calibration_images=4, test_images=64,
                  networks=("alexnet",), own_processes=False),
    "quick": dict(width=1.0, runs=20, warmup=3, calibration_images=16, test_images=None,
                  networks=tuple(FULL_INPUT_SHAPES), own_processes=True),
    "full": dict(width=1.0, runs=50, warmup=5, calibration_images=16, test_images=None,
                 networks=tuple(FULL_INPUT_SHAPES), own_processes=True),
}
KERNELS_NOTE = (
    "x86 runs LCE's reference kernels, not its optimized ARM kernels: binary latency here is "
    "no guide to ARM devices, while file sizes are the same on every device"
)


# The code that decides a full-size file's bytes and latency: the networks, their
# quantizers, building, QAT, conversion and this benchmark. With the versions of the
# converter and runtimes, the CPU and the settings it keys the full-size measurement.
MEASURED_CODE = ("quantizers", "nets", "models", "qat", "deploy", "deploy_bench")
VERSIONS = ("tensorflow", "tf_keras", "larq", "larq_compute_engine",
            "tensorflow_model_optimization", "numpy")


def full_size_key(settings: dict[str, Any]) -> dict[str, Any]:
    """What determines the full-size measurement: a fingerprint of :data:`MEASURED_CODE`
    (top-level definitions, as records are fingerprinted), the versions, the CPU and its
    instruction-set flags, the numeric settings and the profile's measurement settings."""
    digest = hashlib.sha256()
    for module in MEASURED_CODE:
        for name, source in top_level_definitions(module):
            digest.update(f"{name}\n{source}\n".encode())
    environment = environment_info()
    return {"code": digest.hexdigest()[:10],
            "versions": {name: environment.get(name) for name in VERSIONS},
            "cpu": environment["cpu"], "cpu_flags": environment["cpu_flags"],
            "numerics": environment["numerics"],
            "settings": {**{name: settings[name] for name in
                            ("width", "runs", "warmup", "calibration_images")},
                         "networks": list(settings["networks"])}}


def _reusable_full_size(out: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The full-size part of the record at ``out`` when it was measured under ``key``."""
    try:
        previous = json.loads(out.read_text())
    except (OSError, ValueError):
        return None
    full = previous.get("full_size") if isinstance(previous, dict) else None
    return full if isinstance(full, dict) and full.get("key") == key else None


def _vary_constant_weights(model: tf.keras.Model, rng: np.random.Generator) -> None:
    """Give constant-initialized weights (biases, batch-norm parameters) distinct values.

    Training makes every bias and batch-norm statistic different; left at their initial
    zeros and ones, identical buffers would be merged by the converters and the files would
    be smaller than trained ones. Adds uniform noise in [0, 0.1), which keeps variances
    positive. A QAT network's quantization ranges are left alone: they must stay symmetric
    for its weights (TFLite requires a zero point of 0 there).
    """
    for weight in network_variables(model) if is_qat_model(model) else model.weights:
        values = weight.numpy()
        if values.size > 1 and np.ptp(values) == 0:
            weight.assign(values + rng.uniform(0.0, 0.1, values.shape).astype(values.dtype))


def _set_weight_ranges(model: tf.keras.Model, images: np.ndarray) -> None:
    """Give an untrained QAT network's weight ranges the values training gives them.

    tfmot starts every kernel's range at [-6, 6] and sets it to the kernel's own (per output
    channel) at each training step. Left at [-6, 6], untrained kernels of about 0.01 would all
    round to int8 zeros, which the converter stores once per shape, and the file would be
    smaller than a trained one. One forward pass in training mode, as the first training step
    makes, sets them (and moves activation ranges and batch-norm statistics by one step).
    """
    if is_qat_model(model):
        model(images[:2], training=True)


def _with_contents(table: pd.DataFrame, judge_goals: bool = True) -> pd.DataFrame:
    """Add each file's op counts and where its bytes go (:func:`utils.deploy.file_bytes`,
    read back from its path; None for a file that was not made), and its size goal and
    verdict. The goal is defined for the full-size binary files only: with ``judge_goals``
    False (another width, trained networks) both are None."""
    flatbuffers = [Path(path).read_bytes() if isinstance(path, str) else None
                   for path in table.get("path", pd.Series([None] * len(table)))]
    table = table.copy()
    table["ops"] = [flatbuffer and count_lce_ops(flatbuffer) for flatbuffer in flatbuffers]
    table["bytes"] = [flatbuffer and file_bytes(flatbuffer) for flatbuffer in flatbuffers]
    goals = [goal_for(kind) if judge_goals else None for kind in table["file"]]
    table["goal_ratio"] = goals
    table["meets_goal"] = [None if goal is None or np.isnan(ratio) else bool(ratio >= goal)
                           for goal, ratio in zip(goals, table["ratio_vs_fp32"], strict=True)]
    return table


def _measured_step(function, args: tuple, kwargs: dict) -> tuple[Any, dict[str, float]]:
    """``function(*args, **kwargs)`` with the seconds it took and this process's peak memory."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, {"seconds": round(time.perf_counter() - started, 1),
                    "peak_mb": peak_resident_mb()["self_mb"]}


def _run_step(step: str, own_process: bool, function, *args, **kwargs
              ) -> tuple[Any, dict[str, Any]]:
    """Run one deployment step, in a fresh process of its own or in this one; its result and
    what it cost.

    In a process of its own, one network's models, converters and interpreters live only as
    long as their step, so the peak memory of the whole measurement is that of its largest
    step, not their sum (TensorFlow does not return freed memory to the system), and the
    cost names that process's own peak resident memory (``getrusage``). In this process
    the peak is this process's high-water mark so far, which includes earlier steps.
    """
    if own_process:
        context = multiprocessing.get_context("spawn")  # a fresh TensorFlow, as utils.train's
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            result, cost = pool.submit(_measured_step, function, args, kwargs).result()
    else:
        result, cost = _measured_step(function, args, kwargs)
    print(f"    {step}: {cost['seconds']:.0f} s, peak {cost['peak_mb']:,.0f} MB"
          + ("" if own_process else " (this process so far)"), file=sys.stderr)
    return result, {"step": step, "own_process": own_process, **cost}


def _full_size_network(name: str, width: float, *, runs: int, warmup: int,
                       calibration_images: int, seed: int, files_dir,
                       int8_per_channel: bool) -> pd.DataFrame:
    """The full-size rows of one network (see :func:`full_size_table`)."""
    tf.keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    shape = FULL_INPUT_SHAPES[name]
    models = {precision: build_model(name, precision, shape, 2, width=width)
              for precision in PRECISIONS}
    calibration = rng.random((calibration_images, *shape), dtype=np.float32)
    for model in models.values():
        _vary_constant_weights(model, rng)
        _set_weight_ranges(model, calibration)
    with tempfile.TemporaryDirectory() as scratch:  # the files are read before it goes
        table = deploy_and_measure(models, None, calibration, files_dir or scratch,
                                   runs=runs, warmup=warmup, int8_per_channel=int8_per_channel)
        return _with_contents(table, judge_goals=width == 1.0)


def full_size_table(width: float = 1.0, *, runs: int = 20, warmup: int = 3,
                    calibration_images: int = 16, seed: int = 0, files_dir=None,
                    int8_per_channel: bool = INT8_PER_CHANNEL,
                    networks=tuple(FULL_INPUT_SHAPES), own_processes: bool = True
                    ) -> tuple[pd.DataFrame, list[dict]]:
    """Files of ``networks`` at full input size and ``width``, untrained, every precision,
    and what each network's step cost (seconds, peak memory of its own process).

    One row per file (see :func:`utils.deploy.deploy_and_measure`) plus ``ops``,
    ``bytes``, ``goal_ratio`` and ``meets_goal``. Int8 calibration uses random
    images (ranges only matter for accuracy, which untrained networks do not have). Each
    network is built, converted and timed in a child process of its own (``own_processes``,
    see :func:`_run_step`).
    """
    tables, steps = [], []
    for name in networks:
        table, cost = _run_step(
            f"full size {name}", own_processes, _full_size_network, name, width, runs=runs,
            warmup=warmup,
            calibration_images=calibration_images, seed=seed, files_dir=files_dir,
            int8_per_channel=int8_per_channel)
        tables.append(table)
        steps.append(cost)
        print(table[["architecture", "file", "size_mb", "ratio_vs_fp32"]].to_string(index=False),
              file=sys.stderr)
    return pd.concat(tables, ignore_index=True), steps


def _trained_models(results_dir, profile: str, **overrides
                    ) -> dict[tuple[str, str], dict[str, dict]]:
    """Main-comparison records of ``profile`` (with a dry run's ``overrides``) by (model,
    dataset), then precision."""
    grouped: dict[tuple[str, str], dict[str, dict]] = {}
    for record in main_records(results_dir, profile, seeds=(0,), **overrides):
        config = record["config"]
        if config["precision"] in PRECISIONS:
            grouped.setdefault((config["model"], config["dataset"]), {})[
                config["precision"]] = record
    return grouped


def trained_table(results_dir="results", profile: str = "quick", *, runs: int = 20,
                  warmup: int = 3, test_images: int | None = None, data_dir="data",
                  files_dir=None, int8_per_channel: bool = INT8_PER_CHANNEL,
                  networks=tuple(FULL_INPUT_SHAPES), own_processes: bool = True,
                  **overrides) -> tuple[pd.DataFrame, list[dict]]:
    """Files of the ``networks`` trained in ``profile`` (notebooks 03, 04), with their accuracy.

    For every (model, dataset) with saved fp32, int8 and binary models among the profile's
    main records, loads the models, converts them, and measures each file's size, latency
    and test accuracy next to its Keras model's (at most ``test_images`` test images).
    Int8 calibration uses the first 200 training images, unaugmented. The test set is
    streamed batch by batch (never held as float32 arrays: at 227 px, 2,500 photos would
    take 1.5 GB). ``overrides`` (``limit``, ``epochs``) select a dry run's records.
    Returns an empty table when no complete set of trained models exists, and what each
    network's step cost (``own_processes``: each in a child process of its own, see
    :func:`_run_step`).
    """
    tables, steps = [], []
    for (model_name, dataset), records in sorted(_trained_models(
            results_dir, profile, **overrides).items()):
        if model_name not in networks:
            continue
        paths = {p: Path(r.get("model_path", "")) for p, r in records.items()}
        if set(paths) != set(PRECISIONS) or not all(p.exists() for p in paths.values()):
            print(f"{model_name} on {dataset}: no saved model for every precision "
                  f"({', '.join(sorted(paths))}); run notebooks 03/04 first",
                  file=sys.stderr)
            continue
        table, cost = _run_step(
            f"trained {model_name} on {dataset}", own_processes, _trained_network, paths,
            records["fp32"]["config"], runs=runs, warmup=warmup, test_images=test_images,
            data_dir=data_dir, files_dir=files_dir, int8_per_channel=int8_per_channel)
        tables.append(table)
        steps.append(cost)
    return (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()), steps


def _trained_network(paths: dict[str, Path], config: dict[str, Any], *, runs: int,
                     warmup: int, test_images: int | None, data_dir, files_dir,
                     int8_per_channel: bool) -> pd.DataFrame:
    """The rows of one trained network's files (see :func:`trained_table`)."""
    dataset = config["dataset"]
    splits = load_dataset(dataset, config["image_size"], 64, data_dir=data_dir,
                          seed=config["seed"], limit=config.get("limit"))
    test_set = (splits.test if test_images is None else
                splits.test.unbatch().take(test_images).batch(64))
    calibration, _ = to_arrays(splits.train, MAX_CALIBRATION_IMAGES)
    models = {p: load_model(paths[p]) for p in PRECISIONS}
    with tempfile.TemporaryDirectory() as scratch:  # the files are read before it goes
        table = deploy_and_measure(models, test_set, calibration, files_dir or scratch,
                                   runs=runs, warmup=warmup, int8_per_channel=int8_per_channel)
        table.insert(1, "dataset", dataset)
        table.insert(2, "image_size", config["image_size"])
        table.insert(3, "width", config["width"])
        table["offline_standin"] = splits.is_offline_standin
        return _with_contents(table, judge_goals=False)


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(table.drop(columns="path", errors="ignore").to_json(orient="records"))


def _ratios(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {architecture: {row["file"]: round(float(row["ratio_vs_fp32"]), 2)
                           for _, row in rows.iterrows() if row["file"] != "fp32"}
            for architecture, rows in table.groupby("architecture")}


def run_deployment_bench(profile: str = "quick", results_dir="results", *, out=None,
                         data_dir="data", files_dir=None, force: bool = False,
                         **overrides) -> dict[str, Any]:
    """Measure the full-size and the trained files of ``profile``; write and return the record.

    Writes ``{results_dir}/bench_deploy.json`` (or ``out``) atomically: environment, goals,
    ``full_size`` (settings, ``ratios``, ``meets_goal`` per architecture and file, ``files``)
    and ``trained`` (``files`` with Keras and TFLite accuracy, ``all_preserved``). Files are
    kept under ``files_dir`` when given (one sub-folder per part), else deleted.
    ``overrides`` (``limit``, ``epochs``) measure a dry run's models, and the record says so.

    The full-size files depend only on code, versions, CPU and settings
    (:func:`full_size_key`), so their measurement is a record too: when the existing record
    at ``out`` was measured under the same key, its full-size part is reused (and says when
    and where it was measured); ``force`` measures again. The trained files are converted
    and checked in every run.
    """
    if profile not in DEPLOY_PROFILES:
        raise ValueError(f"unknown profile {profile!r}; accepted: {', '.join(DEPLOY_PROFILES)}")
    settings = DEPLOY_PROFILES[profile]
    if not lce_available():
        print(LCE_MISSING, file=sys.stderr)

    def folder(part):
        return None if files_dir is None else Path(files_dir) / part

    out = Path(out) if out else Path(results_dir) / "bench_deploy.json"
    key = full_size_key(settings)
    reused = None if force or files_dir is not None else _reusable_full_size(out, key)
    if reused is None:
        full, full_steps = full_size_table(
            settings["width"], runs=settings["runs"], warmup=settings["warmup"],
            calibration_images=settings["calibration_images"], files_dir=folder("full_size"),
            networks=settings["networks"], own_processes=settings["own_processes"])
    else:
        print(f"Full-size files: the measurement of {reused['measured']} on {key['cpu']} is "
              "reused (same code, versions, CPU and settings; force=True measures again)")
    trained, trained_steps = trained_table(results_dir, profile, runs=settings["runs"],
                            warmup=settings["warmup"], test_images=settings["test_images"],
                            data_dir=data_dir, files_dir=folder("trained"),
                            networks=settings["networks"],
                            own_processes=settings["own_processes"], **overrides)
    record = {
        "profile": profile,
        "dry_run": dict(overrides) or None,
        "note": "MB = 10^6 bytes; latency = median of single-image runs after warm-up, in "
                "the runtime named per file; ratio = float32 file size / this file's size",
        # the note on LCE's x86 kernels applies only where LCE ran the binary files
        "environment": environment_info(kernels=KERNELS_NOTE if lce_available() else None),
        "int8_weight_scales": ("per channel (post-training files; the float network's "
                               "int8_from_fp32_per_tensor file is the per-tensor comparison)"
                               if INT8_PER_CHANNEL else "per tensor"),
        "goal_ratios": {"binary": BINARY_RATIO_GOAL},
        "int8_ratio_limit": INT8_RATIO_LIMIT,
        "accuracy_tolerance_points": ACCURACY_TOLERANCE_POINTS,
        "converter_fold_limit": CONVERTER_FOLD_LIMIT,
        "full_size": reused or {
            "weights": "untrained (sizes and latencies only)",
            "key": key,
            "measured": datetime.now(UTC).isoformat(timespec="seconds"),
            "width": settings["width"], "num_classes": 2,
            "input_shapes": {name: list(FULL_INPUT_SHAPES[name]) for name in settings["networks"]},
            "runs": settings["runs"], "calibration_images": settings["calibration_images"],
            "ratios": _ratios(full),
            "meets_goal": {architecture: {row["file"]: row["meets_goal"]
                                          for _, row in rows.iterrows()
                                          if row["meets_goal"] is not None}
                           for architecture, rows in full.groupby("architecture")},
            "files": _records(full),
            "steps": full_steps,
        },
        "trained": {
            "files": _records(trained),
            "steps": trained_steps,
            "all_preserved": (bool(trained["accuracy_preserved"].all())
                              if len(trained) else None),
        },
    }
    record["peak_memory"] = peak_resident_mb()  # this process, and its largest step
    write_json_atomic(out, record)
    return record


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m utils.deploy_bench [--profile quick] [--files-dir DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m utils.deploy_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=DEPLOY_PROFILES, default="quick")
    parser.add_argument("--files-dir", default=None, help="keep the .tflite files here")
    parser.add_argument("--force", action="store_true",
                        help="measure the full-size files again even if the record matches")
    add_folder_flags(parser, "training records to read, bench_deploy.json to write (default: "
                             "the course folder's for the profile on mnist5k)")
    args = parser.parse_args(argv)
    folders = folders_from_flags(args, args.profile, "mnist5k")
    record = run_deployment_bench(args.profile, folders.results, data_dir=folders.data,
                                  files_dir=args.files_dir, force=args.force)
    print(json.dumps({"ratios": record["full_size"]["ratios"],
                      "meets_goal": record["full_size"]["meets_goal"],
                      "trained_accuracy_preserved": record["trained"]["all_preserved"]},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
