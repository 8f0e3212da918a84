"""Benchmarks. ``python -m utils.bench train``: training throughput of every model at every
precision, side by side, on synthetic data of the dataset's shape, and what deterministic
training costs.

Each (model, precision) is built and compiled as :func:`utils.train.run_experiment` would
(same optimizer recipe and loss), at the width and image size it is trained at in the
profile (``--width`` and ``--image-size`` override), then Keras' own train step runs
``--warmup`` steps (graph tracing included) and then ``--repeats`` separate timed runs of
``--steps`` steps each on one random batch, repeated so that the input pipeline costs
nothing. Every repeat's images per second is kept, with the median and the spread (minimum
and maximum over the repeats). The ratio to float32 of the same model (median over median)
is larq's overhead for simulated quantization during training (binary and int8 layers train
with float kernels plus quantizers); it is called "beyond the noise" only when the two
ranges of repeats (min..max) do not overlap, and "within the noise" otherwise
(:func:`noise_verdict`).

Every measurement is made twice, each time in a fresh process: with TensorFlow's op
determinism switched on, as every training run of the course has it
(:func:`utils.fitting.seed_everything`), and with it off, TensorFlow's default. The ratio of
the two medians is the price of bit-identical reruns. (Op determinism cannot be switched off again
in a process once it is on, hence the separate processes.)

``python -m utils.bench numerics``: what the numeric settings do (see
:mod:`utils.environment`). The reproduction probe
(``configs/small_cnn_fp32_reproduction_probe.yml``) is trained in fresh processes under
several oneDNN instruction-set caps, twice under the portable settings, and the records are
compared: on one machine, two instruction-set levels give two different records, the portable
settings the same one each time. Then the training
throughput of both networks is measured ``--repeats`` times under the portable and the
native settings (``bench train`` in a fresh process each time), and the median ratio is the
price of the pin, with its spread over the repeats. Writes ``results/bench_numerics.json``.

Examples::

    python -m utils.bench train                      # as trained in the quick profile, 5 repeats
    python -m utils.bench numerics --repeats 5
    python -m utils.bench train --image-size full --width 1.0 --batch-size 64   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from utils.config import (
    CATS_AND_DOGS_SPLIT,
    T4_EFFECTIVE_FLOPS,
    make_config,
    t4_epoch_seconds,
)
from utils.course import add_folder_flags, folders_from_flags
from utils.environment import (
    NUMERICS_VARIABLE,
    PORTABLE_NUMERICS,
    environment_info,
    numeric_settings,
)
from utils.fitting import build_from_config, choose_strategy, compile_from_config, device_name
from utils.models import summary_figures
from utils.names import ACCEPTED_PRECISIONS, DATASETS, MAIN_MODELS, MAIN_PRECISIONS, MIN_INPUT_SIZE
from utils.records import write_json_atomic
from utils.tables import training_bench_table

__all__ = ["NUMERIC_CONDITIONS", "bench_numerics", "bench_training", "image_size_for", "main",
           "measure_epoch_time", "measure_training", "noise_verdict", "run_time_table",
           "t4_estimate", "width_for"]

NUM_CLASSES = {"mnist5k": 10, "cats_and_dogs": 2}
SIZE_PRESETS = ("min", "quick", "full")


def image_size_for(model: str, size: str | int) -> int:
    """Pixels for ``model``: an explicit size, or the "min", "quick" or "full" profile's."""
    if isinstance(size, int):
        return size
    if size == "min":
        return MIN_INPUT_SIZE[model]
    return make_config(model, "fp32", profile=size).image_size


def _profile_for(image_size: str | int) -> str:
    """The profile whose recipe (and trained widths) a benchmark at ``image_size`` uses."""
    return "full" if image_size == "full" else "quick"


def width_for(model: str, image_size: str | int, width: float | None = None) -> float:
    """The width to benchmark ``model`` at: ``width`` when given, else the width it is trained
    at in the profile of ``image_size`` (full for "full", quick otherwise)."""
    if width is not None:
        return width
    return make_config(model, "fp32", profile=_profile_for(image_size)).width


WITHIN_NOISE = "within the noise"
BEYOND_NOISE = "beyond the noise"
NOT_REPEATED = "not repeated"


def noise_verdict(measured: list[float], reference: list[float]) -> str:
    """Whether two sets of repeated measurements differ beyond their noise: "beyond the
    noise" when their ranges (min..max) do not overlap, "within the noise" when they do
    (touching ends count as overlapping), "not repeated" when either has fewer than two
    repeats (a single run has no spread to judge by)."""
    if len(measured) < 2 or len(reference) < 2:
        return NOT_REPEATED
    if max(measured) < min(reference) or max(reference) < min(measured):
        return BEYOND_NOISE
    return WITHIN_NOISE


def measure_training(
    model_name: str,
    precision: str,
    *,
    image_size: int,
    width: float,
    batch_size: int,
    steps: int,
    warmup: int,
    num_classes: int,
    strategy: tf.distribute.Strategy,
    profile: str = "quick",
    repeats: int = 1,
) -> dict[str, Any]:
    """Time ``steps`` training steps (after ``warmup``) of one model at one precision,
    ``repeats`` times (separate timed runs of the same model): ``images_per_s`` and
    ``step_ms`` are the medians, ``images_per_s_repeats`` every repeat's figure and
    ``images_per_s_min`` / ``images_per_s_max`` their spread."""
    if steps < 1 or warmup < 1 or repeats < 1:
        raise ValueError(f"steps, warmup and repeats must be at least 1, got {steps}, "
                         f"{warmup} and {repeats}")
    config = make_config(model_name, precision, profile=profile, image_size=image_size,
                         width=width, batch_size=batch_size)
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_from_config(config, (image_size, image_size, 3), num_classes)
        compile_from_config(model, config, steps_per_epoch=steps + warmup)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch_size, image_size, image_size, 3)).astype("float32")
    labels = tf.one_hot(rng.integers(0, num_classes, batch_size), num_classes)
    batches = tf.data.Dataset.from_tensors((images, labels)).repeat()
    iterator = iter(strategy.experimental_distribute_dataset(batches))
    train_step = model.make_train_function()

    def run(count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            logs = train_step(iterator)
        float(logs["loss"])  # wait for the device to finish
        return time.perf_counter() - start

    warmup_s = run(warmup)
    seconds = [run(steps) for _ in range(repeats)]
    images_per_s = [steps * batch_size / s for s in seconds]
    return {
        "images_per_s": statistics.median(images_per_s),
        "images_per_s_min": min(images_per_s),
        "images_per_s_max": max(images_per_s),
        "images_per_s_repeats": images_per_s,
        "step_ms": 1000 * statistics.median(seconds) / steps,
        "warmup_s": warmup_s,
        "params_total": int(model.count_params()),
    }


def _add_ratios(measured: dict[str, dict[str, Any]]) -> None:
    """Each precision's median images/s over fp32's (``ratio_to_fp32``) and whether the two
    differ beyond the noise (``vs_fp32``, :func:`noise_verdict`; None for fp32 itself)."""
    fp32 = measured.get("fp32")
    for precision, figures in measured.items():
        if fp32 is None:
            figures["ratio_to_fp32"], figures["vs_fp32"] = None, None
            continue
        figures["ratio_to_fp32"] = figures["images_per_s"] / fp32["images_per_s"]
        figures["vs_fp32"] = None if precision == "fp32" else noise_verdict(
            figures["images_per_s_repeats"], fp32["images_per_s_repeats"])


def _measure_all(models, precisions, *, dataset: str, image_size, width: float | None,
                 batch_size: int, steps: int, warmup: int, repeats: int, deterministic: bool,
                 verbose: bool) -> tuple[dict[str, Any], str]:
    """Every (model, precision) of one process, with op determinism on or off."""
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy, strategy_text = choose_strategy()
    profile = _profile_for(image_size)
    results: dict[str, Any] = {}
    for model_name in models:
        pixels = image_size_for(model_name, image_size)
        model_width = width_for(model_name, image_size, width)
        measured = {}
        for precision in precisions:
            measured[precision] = measure_training(
                model_name, precision, image_size=pixels, width=model_width,
                batch_size=batch_size, steps=steps, warmup=warmup,
                num_classes=NUM_CLASSES[dataset], strategy=strategy, profile=profile,
                repeats=repeats,
            )
            if verbose:
                figures = measured[precision]
                print(f"{model_name:9} {precision:7} {pixels:4d} px width {model_width:g} "
                      f"{figures['images_per_s']:9.1f} images/s (median of {repeats}, "
                      f"{figures['images_per_s_min']:.1f} to {figures['images_per_s_max']:.1f})"
                      f"{' (deterministic)' if deterministic else ''}", flush=True)
        _add_ratios(measured)
        results[model_name] = {"image_size": pixels, "width": model_width,
                               "precisions": measured}
    return results, strategy_text


def bench_training(
    *,
    models=MAIN_MODELS,
    precisions=("fp32", "int8", "binary"),
    dataset: str = "mnist5k",
    image_size: str | int = "quick",
    width: float | None = None,
    batch_size: int = 32,
    steps: int = 10,
    warmup: int = 2,
    repeats: int = 5,
    out: str | Path | None = "results/bench_train.json",
    verbose: bool = True,
) -> dict[str, Any]:
    """Training throughput of each model at each precision, with op determinism (as the
    course trains) and without; writes ``out`` (unless None).

    ``width=None``: each model at its trained width in the profile of ``image_size``
    (:func:`width_for`); a number sets it for every model. Each figure is measured
    ``repeats`` times (see :func:`measure_training`). ``models`` holds the deterministic
    measurements, with per precision the ratio of medians to fp32 and its verdict
    (``vs_fp32``, :func:`noise_verdict`); ``determinism_cost`` gives, per model and
    precision, the median images per second without determinism over the median with it
    (1.0: free), and ``determinism_verdict`` whether the two differ beyond the noise.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    settings = dict(dataset=dataset, image_size=image_size, width=width,
                    batch_size=batch_size, steps=steps, warmup=warmup, repeats=repeats,
                    verbose=verbose)
    context = multiprocessing.get_context("spawn")  # a fresh TensorFlow for each mode
    with context.Pool(1) as pool:
        default, _ = pool.apply(_measure_all, (models, precisions),
                                {**settings, "deterministic": False})
    with context.Pool(1) as pool:
        deterministic, strategy_text = pool.apply(_measure_all, (models, precisions),
                                                  {**settings, "deterministic": True})
    cost = {model: {precision: default[model]["precisions"][precision]["images_per_s"]
                    / figures["images_per_s"]
                    for precision, figures in result["precisions"].items()}
            for model, result in deterministic.items()}
    cost_verdict = {
        model: {precision: noise_verdict(
            default[model]["precisions"][precision]["images_per_s_repeats"],
            figures["images_per_s_repeats"]) for precision, figures in result["precisions"].items()}
        for model, result in deterministic.items()}
    report = {
        "benchmark": "train",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment_info(device=device_name(), strategy=strategy_text),
        "settings": {
            "dataset": dataset, "num_classes": NUM_CLASSES[dataset], "image_size": image_size,
            "width": width if width is not None else "as trained",
            "widths": {model: result["width"] for model, result in deterministic.items()},
            "image_sizes": {model: result["image_size"]
                            for model, result in deterministic.items()},
            "batch_size": batch_size, "steps": steps, "warmup_steps": warmup,
            "repeats": repeats,
            "statistic": "images_per_s and step_ms: median over the repeats; "
                         "images_per_s_repeats: every repeat (a separate timed run of "
                         "`steps` steps after one warm-up of `warmup_steps`)",
            "spread": "images_per_s_min and images_per_s_max: minimum and maximum over "
                      "the repeats",
            "verdict": f"{BEYOND_NOISE!r} when the ranges (min..max) of the repeats do not "
                       f"overlap, {WITHIN_NOISE!r} when they do, {NOT_REPEATED!r} under 2 "
                       "repeats",
            "profile_recipe": _profile_for(image_size),
            "data": "synthetic: one batch of uniform [-1, 1] images, repeated",
            "op_determinism": "on in models; determinism_cost = median images/s off over "
                              "median on",
        },
        "models": deterministic,
        "without_determinism": default,
        "determinism_cost": cost,
        "determinism_verdict": cost_verdict,
    }
    if out is not None:
        write_json_atomic(out, report)
    return report


# The numeric conditions the probe is trained under: the environment variables each sets
# (on top of COURSE_NUMERICS=native, which leaves the variables to these entries).
NUMERIC_CONDITIONS: dict[str, dict[str, str]] = {
    "portable (AVX2, oneDNN rewrites off)": PORTABLE_NUMERICS,
    "native (TensorFlow's default on this CPU)": {},
    "AVX-512, oneDNN rewrites off": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
                                     "TF_ENABLE_ONEDNN_OPTS": "0"},
    "SSE4.1, oneDNN rewrites off": {"ONEDNN_MAX_CPU_ISA": "SSE41",
                                    "TF_ENABLE_ONEDNN_OPTS": "0"},
}
PROBE_CONFIG = (Path(__file__).resolve().parent.parent / "configs"
                / "small_cnn_fp32_reproduction_probe.yml")


def _environment_for(condition: dict[str, str] | None) -> dict[str, str]:
    """This process's environment with the numeric variables replaced: ``None`` is the
    portable default (``import utils`` pins it), a dict the native mode plus its variables."""
    env = {name: value for name, value in os.environ.items()
           if name not in PORTABLE_NUMERICS and name != NUMERICS_VARIABLE}
    if condition is not None:
        env.update({NUMERICS_VARIABLE: "native", **condition})
    return env


def _train_probe(condition: dict[str, str] | None, scratch: Path) -> dict[str, Any]:
    subprocess.run([sys.executable, "-m", "utils.train", "--config", str(PROBE_CONFIG),
                    "--results-dir", str(scratch / "results"),
                    "--models-dir", str(scratch / "models"),
                    "--checkpoint-dir", str(scratch / "checkpoints"),
                    "--logs-dir", str(scratch / "logs"), "--verbose", "0"],
                   env=_environment_for(condition), check=True, capture_output=True)
    (path,) = (scratch / "results").glob("*.json")
    record = json.loads(path.read_text())
    return {"numerics": record["environment"]["numerics"],
            "test_accuracy": record["test_accuracy"], "test_loss": record["test_loss"],
            "val_loss": record["history"]["val_loss"],
            "train_images_per_s": record["train_images_per_s"]}


def bench_numerics(*, repeats: int = 5, steps: int = 20, width: float = 0.25,
                   out: str | Path | None = "results/bench_numerics.json",
                   verbose: bool = True) -> dict[str, Any]:
    """The probe under each of :data:`NUMERIC_CONDITIONS` (and the portable settings twice),
    and the training throughput under the portable and native settings (see the module
    docstring); writes ``out`` (unless None)."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    probes: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench_numerics_") as scratch:
        runs = [(name, None if name.startswith("portable") else condition)
                for name, condition in NUMERIC_CONDITIONS.items()]
        runs.insert(1, ("portable, again", None))
        for index, (name, condition) in enumerate(runs):
            probes[name] = _train_probe(condition, Path(scratch) / str(index))
            if verbose:
                print(f"probe, {name}: test loss {probes[name]['test_loss']:.8f}, accuracy "
                      f"{probes[name]['test_accuracy']:.4f}", flush=True)
        throughput: dict[str, list] = {"portable": [], "native": []}
        for repeat in range(repeats):
            for mode, condition in (("portable", None), ("native", {})):
                path = Path(scratch) / f"train_{mode}_{repeat}.json"
                subprocess.run([sys.executable, "-m", "utils.bench", "train", "--precisions",
                                "fp32", "binary", "--steps", str(steps), "--width",
                                str(width), "--repeats", "1", "--out", str(path)],
                               env=_environment_for(condition), check=True,
                               capture_output=True)
                throughput[mode].append(json.loads(path.read_text())["models"])
    portable = probes["portable (AVX2, oneDNN rewrites off)"]
    same = {name: probe["val_loss"] == portable["val_loss"]
            and probe["test_loss"] == portable["test_loss"] for name, probe in probes.items()}
    cost = {}
    for model, result in throughput["native"][0].items():
        for precision in result["precisions"]:
            ratios = [pinned[model]["precisions"][precision]["images_per_s"]
                      / native[model]["precisions"][precision]["images_per_s"]
                      for pinned, native in zip(throughput["portable"], throughput["native"],
                                                strict=True)]
            cost[f"{model} {precision}"] = {
                "portable_over_native_median": statistics.median(ratios),
                "min": min(ratios), "max": max(ratios), "repeats": len(ratios)}
            if verbose:
                print(f"{model} {precision}: portable / native images/s, median "
                      f"{statistics.median(ratios):.3f} (range {min(ratios):.3f} to "
                      f"{max(ratios):.3f}, {len(ratios)} repeats)", flush=True)
    report = {
        "benchmark": "numerics",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment_info(),
        "settings": {"probe": PROBE_CONFIG.name, "repeats": repeats, "steps": steps,
                     "width": width, "conditions": NUMERIC_CONDITIONS,
                     "numerics_of_this_process": numeric_settings()},
        "probe": probes,
        "same_as_portable": same,
        "throughput_portable_over_native": cost,
        "throughput": throughput,
    }
    if out is not None:
        write_json_atomic(out, report)
    return report


def t4_estimate(config, *, train_images: int = CATS_AND_DOGS_SPLIT["train"],
                validation_images: int = CATS_AND_DOGS_SPLIT["validation"],
                flops_per_second: float = T4_EFFECTIVE_FLOPS) -> dict[str, float]:
    """Expected seconds per epoch and hours for all of ``config``'s epochs on a Colab T4,
    from the network's multiply-accumulates (larq's count) and :data:`T4_EFFECTIVE_FLOPS`.

    An estimate from stated assumptions, not a measurement; early stopping can end a run
    sooner. :func:`measure_epoch_time` times the machine at hand instead.
    """
    model = build_from_config(config, (config.image_size, config.image_size, 3),
                              NUM_CLASSES[config.dataset])
    macs = summary_figures(model)["macs_total"]
    epoch = t4_epoch_seconds(macs, train_images, validation_images, flops_per_second)
    return {"macs_per_image": macs, "epoch_s": epoch, "run_h": epoch * config.epochs / 3600}


def measure_epoch_time(config, *, train_images: int, steps: int = 5, warmup: int = 2
                       ) -> dict[str, float]:
    """Time a few training steps of ``config`` on this machine and extrapolate to one epoch
    of ``train_images`` and to the run (what a notebook prints before a long run)."""
    strategy, _ = choose_strategy()
    measured = measure_training(
        config.model, config.precision, image_size=config.image_size, width=config.width,
        batch_size=config.batch_size, steps=steps, warmup=warmup,
        num_classes=NUM_CLASSES[config.dataset], strategy=strategy, profile=config.profile)
    epoch = measured["step_ms"] / 1000 * math.ceil(train_images / config.batch_size)
    return {"step_s": measured["step_ms"] / 1000, "epoch_s": epoch,
            "run_h": epoch * config.epochs / 3600}


# Training images per dataset after the validation split (mnist5k: 5,000 digits, 1,000 for
# test and 500 for validation).
TRAIN_IMAGES = {"mnist5k": 3500, "cats_and_dogs": CATS_AND_DOGS_SPLIT["train"]}


def run_time_table(model: str, dataset: str, profile: str,
                   precisions=MAIN_PRECISIONS, **overrides) -> pd.DataFrame:
    """What a notebook prints before a long run: per precision, the expected hours on a
    Colab T4 (:func:`t4_estimate`) and on this machine, from a few timed training steps
    (:func:`measure_epoch_time`); ``overrides`` as for :func:`utils.config.make_config`
    (a dry run's ``limit`` and ``epochs``). Early stopping may end a run sooner."""
    rows = {}
    for precision in precisions:
        config = make_config(model, precision, dataset=dataset, profile=profile, **overrides)
        images = min(TRAIN_IMAGES[dataset], config.limit or TRAIN_IMAGES[dataset])
        t4 = t4_estimate(config, train_images=images,
                         validation_images=min(CATS_AND_DOGS_SPLIT["validation"], images))
        here = measure_epoch_time(config, train_images=images)
        rows[precision] = {"epochs": config.epochs, "T4 estimate: s per epoch": t4["epoch_s"],
                           "T4 estimate: hours": t4["run_h"],
                           "here: s per step": here["step_s"],
                           "here: s per epoch": here["epoch_s"], "here: hours": here["run_h"]}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.loc["all"] = table.sum(numeric_only=True).where(
        [column.endswith("hours") for column in table.columns])
    return table


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _image_size(text: str) -> str | int:
    if text in SIZE_PRESETS:
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {', '.join(SIZE_PRESETS)} or a number of pixels, got {text!r}"
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m utils.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="training throughput per model and precision")
    train.add_argument("--models", nargs="+", choices=MAIN_MODELS, default=list(MAIN_MODELS))
    train.add_argument("--precisions", nargs="+", choices=ACCEPTED_PRECISIONS,
                       default=["fp32", "int8", "binary"])
    train.add_argument("--dataset", choices=DATASETS, default="mnist5k",
                       help="sets the number of classes (images are synthetic)")
    train.add_argument("--image-size", type=_image_size, default="quick",
                       help="min, quick (default), full (227/224 px) or pixels")
    train.add_argument("--width", type=float, default=None,
                       help="network width for every model (default: each at its trained "
                       "width in the profile)")
    train.add_argument("--batch-size", type=_positive, default=32)
    train.add_argument("--steps", type=_positive, default=10, help="timed steps per repeat")
    train.add_argument("--warmup", type=_positive, default=2,
                       help="untimed steps first (graph tracing)")
    train.add_argument("--repeats", type=_positive, default=5,
                       help="timed runs of --steps steps per measurement (median and range)")
    train.add_argument("--out", help="default: bench_train.json in the course folder's "
                       "results/")
    add_folder_flags(train, "where --out goes by default")
    numerics = commands.add_parser(
        "numerics", help="the probe under several instruction-set caps; the pin's cost")
    numerics.add_argument("--repeats", type=_positive, default=5,
                          help="throughput measurements per setting")
    numerics.add_argument("--steps", type=_positive, default=20)
    numerics.add_argument("--out", help="default: bench_numerics.json in the course folder's "
                          "results/")
    add_folder_flags(numerics, "where --out goes by default")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parser().parse_args(argv)
    if args.out is None:
        args.out = str(folders_from_flags(args).results / f"bench_{args.command}.json")
    if args.command == "numerics":
        bench_numerics(repeats=args.repeats, steps=args.steps, out=args.out)
        print(f"written to {args.out}")
        return 0
    report = bench_training(
        models=args.models, precisions=args.precisions, dataset=args.dataset,
        image_size=args.image_size, width=args.width, batch_size=args.batch_size,
        steps=args.steps, warmup=args.warmup, repeats=args.repeats, out=args.out,
    )
    print(training_bench_table(report).round(
        {"median images/s": 1, "min images/s": 1, "max images/s": 1, "ratio vs fp32": 2,
         "speed-up without determinism": 2}).to_string())
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
