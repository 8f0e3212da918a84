"""The one training path of the course: seed, build, compile, fit and evaluate one network.

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
machine does, and lets :func:`utils.experiments.run_configs` train one run per core in
parallel, which on 2 cores trains about 1.3 times as many of the course's small networks per
hour as two threads on one run.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import larq as lq
import numpy as np
import tensorflow as tf

from utils.callbacks import MONITOR, EpochLog, make_callbacks
from utils.config import TrainConfig
from utils.data import DatasetSplits
from utils.models import build_model

__all__ = [
    "CPU_THREADS",
    "best_epoch",
    "build_from_config",
    "compile_from_config",
    "configure_threads",
    "confusion_matrix",
    "evaluate",
    "fit",
    "has_accelerator",
    "make_optimizer",
    "seed_everything",
    "steps_per_epoch",
]


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

    Returns the :class:`~utils.callbacks.EpochLog` with the history and timings of every epoch.
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
