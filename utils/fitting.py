"""Fitting one network: threads and the distribution strategy, the callbacks that keep a run
resumable (checkpoints each epoch, the epoch log), compiling, fitting and evaluating.

Where training runs: the tf.distribute strategy for this runtime and a description of it.
-----------------------------------------------------------------------------------------

``choose_strategy()`` picks, in order: ``TPUStrategy`` on a Colab (or Cloud) TPU runtime,
``MirroredStrategy`` when there is more than one GPU, otherwise TensorFlow's default strategy
(one GPU or the CPU). Build and compile models inside ``strategy.scope()``; Keras' ``fit``
then splits every batch across the replicas (the batch size stays the global one).

Keras callbacks that let a training run survive an interruption and keep its history.
-------------------------------------------------------------------------------------

- :class:`EpochLog` writes each epoch's metrics and timings to a JSON file (atomically) and,
  on a resumed ``fit``, drops the epochs that ``fit`` runs again, so the final history holds
  every epoch exactly once;
- :class:`ResumableEarlyStopping` and :class:`ResumableBestCheckpoint` rebuild their best
  value and patience count from that history after a resume, so the best weights of the
  whole run are restored;
- :func:`make_callbacks` puts them together with Keras' ``BackupAndRestore`` (weights,
  optimizer and epoch, saved at every epoch end) and TensorBoard.

The one training path of the course: seed, build, compile, fit and evaluate one network.
----------------------------------------------------------------------------------------

Every network, the small ones of notebook 02 included, is trained here, through
:func:`utils.train.run_experiment`, which adds caching, resumption and the results record.

Determinism (:func:`seed_everything`): the same config and seed on the same machine give
bit-identical weights, history and test metrics. One call seeds Python's, numpy's and
TensorFlow's generators (``tf.keras.utils.set_random_seed``) and switches on TensorFlow's op
determinism (``tf.config.experimental.enable_op_determinism``), under which ``tf.data`` keeps
its element order and TensorFlow raises instead of running an op that has no deterministic
kernel. The data pipeline's shuffling and augmentation are seeded from the config
(:func:`utils.data.load_dataset`). A run resumed after an interruption continues from the
restored weights with freshly seeded generators, so it is not bit-identical to an
uninterrupted one; its record says it was resumed.

Threads (:func:`configure_threads`): on a machine without GPU or TPU every run trains with
one intra-op and one inter-op thread. The number of threads changes the order of floating-
point sums and so the bits of the result; fixing it makes a run reproduce whatever else the
machine does, and lets :func:`utils.train.run_configs` train one run per core in
parallel, which on 2 cores trains about 1.3 times as many of the course's small networks per
hour as two threads on one run.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import larq as lq
import numpy as np
import pandas as pd
import tensorflow as tf

from utils.config import TrainConfig
from utils.data import DatasetSplits
from utils.environment import cpu_model, environment_info, lce_available
from utils.models import build_model
from utils.records import write_json_atomic

__all__ = ["CPU_THREADS", "EpochLog", "MONITOR", "ResumableBestCheckpoint",
           "ResumableEarlyStopping", "best_epoch", "build_from_config", "choose_strategy",
           "compile_from_config", "configure_threads", "confusion_matrix", "describe_strategy",
           "device_name", "environment_table", "evaluate", "fit", "has_accelerator",
           "make_callbacks", "make_optimizer", "seed_everything", "steps_per_epoch"]

def _tpu_resolver():
    """A connected TPUClusterResolver on a TPU runtime, else None (never raises)."""
    if os.environ.get("COLAB_TPU_ADDR"):  # the older Colab TPU node runtime
        address = f"grpc://{os.environ['COLAB_TPU_ADDR']}"
    elif tf.config.list_logical_devices("TPU_SYSTEM") or tf.config.list_physical_devices("TPU"):
        address = "local"  # TPU VM runtimes (Colab "TPU v2" and later)
    else:
        return None
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        print(f"TPU found but not usable ({error}); training without it", file=sys.stderr)
        return None
    return resolver


def choose_strategy() -> tuple[tf.distribute.Strategy, str]:
    """The best strategy for this runtime, and a short description of it."""
    resolver = _tpu_resolver()
    if resolver is not None:
        strategy = tf.distribute.TPUStrategy(resolver)
    elif len(tf.config.list_logical_devices("GPU")) > 1:
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    return strategy, describe_strategy(strategy)


def describe_strategy(strategy: tf.distribute.Strategy) -> str:
    """E.g. "MirroredStrategy, 2 replicas" or "default strategy (one device)"."""
    if strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy():
        return "default strategy (one device)"
    replicas = strategy.num_replicas_in_sync
    return f"{type(strategy).__name__}, {replicas} replica{'s' if replicas != 1 else ''}"


def device_name() -> str:
    """The accelerator training runs on: GPU model name(s), "TPU", or the CPU's model name."""
    if tf.config.list_logical_devices("TPU"):
        return f"TPU ({len(tf.config.list_logical_devices('TPU'))} cores)"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = [tf.config.experimental.get_device_details(gpu).get("device_name", "GPU")
                 for gpu in gpus]
        return ", ".join(names)
    return f"CPU: {cpu_model()} ({os.cpu_count()} cores)"


def environment_table() -> pd.DataFrame:
    """This runtime for notebook 00: versions, the Keras that ``tf.keras`` is, the device."""
    info = environment_info(device=device_name())
    # tf.keras.Model's home package: "tf_keras" in Keras 2 (legacy) mode, "keras" for Keras 3.
    keras = tf.keras.Model.__module__.split(".")[0]
    rows = {
        "python": f"{info['python']} ({sys.executable})",
        "platform": info["platform"],
        "tensorflow": info["tensorflow"],
        "tf.keras": f"{keras} ("
                    f"{'Keras 2 API, as larq needs' if keras == 'tf_keras' else 'NOT Keras 2'})",
        "TF_USE_LEGACY_KERAS": os.environ.get("TF_USE_LEGACY_KERAS", "unset"),
        "larq": info["larq"],
        "larq-compute-engine (LCE)": (info["larq_compute_engine"] if lce_available() else
                                      "not usable here (see utils.environment.LCE_MISSING)"),
        "tensorflow-model-optimization": info["tensorflow_model_optimization"],
        "numpy": info["numpy"],
        "device": info["device"],
        "on Colab": info["on_colab"],
    }
    return pd.DataFrame({"value": [str(value) for value in rows.values()]}, index=list(rows))


MONITOR = "val_accuracy"
_TIMING_KEYS = ("epoch_s", "train_s", "first_of_fit")


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


class ResumableEarlyStopping(tf.keras.callbacks.EarlyStopping):
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


class ResumableBestCheckpoint(tf.keras.callbacks.ModelCheckpoint):
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


def make_callbacks(config, log: EpochLog, work_dir: Path, log_dir: Path, verbose: int) -> list:
    """The callbacks of one run: ``log`` first, early stopping with the best-weights
    checkpoint when ``config.early_stopping_patience`` is set, then Keras' backup of the
    training state in ``work_dir/backup`` and TensorBoard logs in ``log_dir``."""
    callbacks = [log]
    if config.early_stopping_patience is not None:
        callbacks += [
            ResumableEarlyStopping(log, monitor=MONITOR, mode="max",
                                    patience=config.early_stopping_patience, verbose=verbose),
            ResumableBestCheckpoint(log, work_dir / "best.weights.h5"),
        ]
    callbacks += [
        tf.keras.callbacks.BackupAndRestore(str(work_dir / "backup")),
        tf.keras.callbacks.TensorBoard(log_dir=str(log_dir)),
    ]
    return callbacks


CPU_THREADS = 1


def has_accelerator() -> bool:
    """Whether a GPU or TPU is attached (asked without starting TensorFlow's runtime)."""
    return bool(tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices("TPU")
                or os.environ.get("COLAB_TPU_ADDR"))


def configure_threads() -> int:
    """Train with :data:`CPU_THREADS` threads on a CPU-only machine (see the module doc).

    Must run before TensorFlow's runtime starts in this process; afterwards (a notebook that
    already computed something) the setting cannot change and is left as it is. Returns the
    intra-op thread count in force (0: TensorFlow's default, one per core).
    """
    if not has_accelerator():
        try:
            tf.config.threading.set_intra_op_parallelism_threads(CPU_THREADS)
            tf.config.threading.set_inter_op_parallelism_threads(CPU_THREADS)
        except RuntimeError:  # the runtime already started here: keep its threads
            pass
    return tf.config.threading.get_intra_op_parallelism_threads()


def seed_everything(seed: int) -> None:
    """Seed every generator and make TensorFlow's ops deterministic (see the module doc)."""
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def build_from_config(config: TrainConfig, input_shape, num_classes: int) -> tf.keras.Model:
    """The uncompiled model that ``config`` describes (its :meth:`~TrainConfig.model_options`
    are the options of :func:`utils.models.build_model`)."""
    return build_model(config.model, config.precision, input_shape, num_classes, config.width,
                       **config.model_options())


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


def steps_per_epoch(splits: DatasetSplits, batch_size: int) -> int:
    """Training batches per epoch."""
    steps = int(splits.train.cardinality())
    return steps if steps > 0 else math.ceil(splits.num_train / batch_size)


def fit(model: tf.keras.Model, config: TrainConfig, splits: DatasetSplits, *, work_dir: Path,
        log_dir: Path, verbose: int = 1, callbacks=()) -> EpochLog:
    """Train ``model`` for ``config.epochs`` (resuming from ``work_dir`` when a backup is
    there), then load the best epoch's weights when early stopping is on.

    Returns the :class:`EpochLog` with the history and timings of every epoch.
    """
    log = EpochLog(Path(work_dir) / "history.json")
    model.fit(splits.train, validation_data=splits.validation, epochs=config.epochs,
              callbacks=[*make_callbacks(config, log, Path(work_dir), Path(log_dir), verbose),
                         *callbacks],
              verbose=verbose)
    best_weights = Path(work_dir) / "best.weights.h5"
    if config.early_stopping_patience is not None and best_weights.exists():
        model.load_weights(best_weights)
    return log


def confusion_matrix(model: tf.keras.Model, dataset: tf.data.Dataset,
                     num_classes: int) -> list[list[int]]:
    """Rows: true class, columns: predicted class, over one pass of ``dataset``."""
    true, predicted = [], []
    for images, labels in dataset:
        predicted.append(np.argmax(model.predict_on_batch(images), axis=-1))
        true.append(np.argmax(labels, axis=-1))
    matrix = tf.math.confusion_matrix(
        np.concatenate(true), np.concatenate(predicted), num_classes=num_classes
    )
    return matrix.numpy().tolist()


def evaluate(model: tf.keras.Model, splits: DatasetSplits) -> dict:
    """Test loss, test accuracy and the confusion matrix of ``model`` on ``splits.test``."""
    test_loss, test_accuracy = model.evaluate(splits.test, verbose=0)
    return {"test_accuracy": float(test_accuracy), "test_loss": float(test_loss),
            "confusion_matrix": confusion_matrix(model, splits.test, splits.num_classes)}


def best_epoch(history: dict[str, list]) -> int:
    """First epoch with the highest val_accuracy (what early stopping and the checkpoint keep)."""
    return history["epoch"][int(np.argmax(history[MONITOR]))]
