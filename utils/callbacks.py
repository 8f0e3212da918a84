"""Keras callbacks that let a training run survive an interruption and keep its history.

- :class:`EpochLog` writes each epoch's metrics and timings to a JSON file (atomically) and,
  on a resumed ``fit``, drops the epochs that ``fit`` runs again, so the final history holds
  every epoch exactly once;
- :class:`ResumableEarlyStopping` and :class:`ResumableBestCheckpoint` rebuild their best
  value and patience count from that history after a resume, so the best weights of the
  whole run are restored;
- :func:`make_callbacks` puts them together with Keras' ``BackupAndRestore`` (weights,
  optimizer and epoch, saved at every epoch end) and TensorBoard.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import tensorflow as tf

from utils.files import write_json_atomic

__all__ = ["MONITOR", "EpochLog", "ResumableBestCheckpoint", "ResumableEarlyStopping",
           "make_callbacks"]

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
