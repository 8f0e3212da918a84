"""Test accuracy and loss of a saved model: ``python -m utils.evaluate models/<run>.keras``.

A model saved by :func:`utils.train.run_experiment` is named after its run, and its record
(``results/<run>.json``) holds the config it was trained with. :func:`evaluate_saved_model`
reads that config for the dataset, image size, seed and image limit, loads the same test split
with :func:`utils.data.load_dataset`, and evaluates the model on it, so that the accuracy it
prints can be set against the recorded one (on the machine that trained it they agree). A model
without a record is evaluated on mnist5k (or ``dataset``) at the size of its input.

RWTH's ``main.py --inference --model-path`` does the same for their pretrained networks. This
is a module of its own rather than a flag of :mod:`utils.train`: it takes a file instead of a
config, trains nothing and writes nothing.

A missing or corrupt file, a file that is not a Keras model, or a model whose input shape or
number of classes does not fit the dataset raises :class:`EvaluationError` naming the problem
(exit status 2 on the command line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from utils.config import TrainConfig
from utils.course import REFERENCE_RUN, add_folder_flags, folders_from_flags
from utils.data import load_dataset
from utils.fitting import configure_threads, evaluate
from utils.models import load_model
from utils.names import DATASETS, PROFILES
from utils.records import load_record

__all__ = ["EvaluationError", "evaluate_saved_model", "main", "record_of_model"]

_DEFAULT_DATASET = "mnist5k"
_DEFAULT_BATCH_SIZE = 64


class EvaluationError(ValueError):
    """A saved model cannot be evaluated; the message says why."""


def record_of_model(model_path: str | Path, results_dir: str | Path = "results") -> Path | None:
    """The record of the run that saved ``model_path`` (same name, ``.json``), if it exists."""
    path = Path(results_dir) / f"{Path(model_path).stem}.json"
    return path if path.is_file() else None


def _load(path: Path):
    if not path.is_file():
        raise EvaluationError(f"no model file at {path}")
    try:
        return load_model(path)
    except Exception as error:  # Keras raises many kinds for a file it cannot read
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise EvaluationError(f"{path} is not a readable Keras model (.keras or .h5 saved by "
                              f"utils.models.save_model): {reason}") from error


def _check_fits(model, path: Path, splits, image_size: int) -> None:
    inputs, outputs = model.input_shape, model.output_shape
    if not isinstance(inputs, tuple) or len(inputs) != 4 or not isinstance(outputs, tuple):
        raise EvaluationError(f"{path} is not an image classifier: it takes {inputs} and gives "
                              f"{outputs}, expected (batch, height, width, channels) -> "
                              "(batch, classes)")
    if tuple(inputs[1:]) != tuple(splits.image_shape):
        raise EvaluationError(
            f"{path} takes images of shape {tuple(inputs[1:])}, but {splits.name} at image size "
            f"{image_size} gives {tuple(splits.image_shape)}")
    if outputs[-1] != splits.num_classes:
        raise EvaluationError(f"{path} has {outputs[-1]} outputs, but {splits.name} has "
                              f"{splits.num_classes} classes ({', '.join(splits.class_names)})")


def evaluate_saved_model(path: str | Path, *, results_dir: str | Path = "results",
                         data_dir: str | Path = "data", dataset: str | None = None
                         ) -> dict[str, Any]:
    """Evaluate the saved model at ``path`` on the test split of its run's dataset.

    Args:
        path: a model file written by :func:`utils.models.save_model`.
        results_dir: where to look for the run's record (``<model file name>.json``).
        data_dir: where :func:`utils.data.load_dataset` finds downloaded datasets.
        dataset: evaluate on this dataset instead of the record's (default mnist5k when
            there is no record).

    Returns:
        ``test_accuracy``, ``test_loss`` and ``confusion_matrix`` (as
        :func:`utils.fitting.evaluate`), plus ``dataset``, ``image_size``, ``num_test``,
        ``record`` (the record's path or None) and ``recorded_test_accuracy`` (or None).

    Raises:
        EvaluationError: the file is missing, unreadable or not a Keras model, the dataset is
            unknown, or the model does not fit the dataset.
    """
    path = Path(path)
    if dataset is not None and dataset not in DATASETS:
        raise EvaluationError(f"unknown dataset {dataset!r}; accepted: {', '.join(DATASETS)}")
    model = _load(path)
    record_path = record_of_model(path, results_dir)
    record = config = None
    if record_path:
        try:
            record = load_record(record_path)
            config = TrainConfig.from_dict(record["config"])
        except ValueError as error:  # JSON errors are ValueErrors too
            raise EvaluationError(f"{record_path}, the record of {path.name}, cannot be "
                                  f"read: {error}") from error
    dataset = dataset or (config.dataset if config else _DEFAULT_DATASET)
    image_size = config.image_size if config else model.input_shape[1]
    if not isinstance(image_size, int):
        raise EvaluationError(f"{path} takes inputs of any size and has no record that says "
                              "which one it was trained on")
    try:
        splits = load_dataset(dataset, image_size,
                              config.batch_size if config else _DEFAULT_BATCH_SIZE,
                              data_dir=data_dir, seed=config.seed if config else 0,
                              limit=config.limit if config else None)
    except (OSError, ValueError) as error:
        raise EvaluationError(f"cannot load the {dataset} test split: {error}") from error
    _check_fits(model, path, splits, image_size)
    model.compile(loss=config.loss if config else "categorical_crossentropy",
                  metrics=["accuracy"])
    return {**evaluate(model, splits), "dataset": dataset, "image_size": image_size,
            "num_test": splits.num_test, "record": str(record_path) if record_path else None,
            "recorded_test_accuracy": record["test_accuracy"] if record else None}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m utils.evaluate",
        description="Print the test accuracy and loss of a saved model, on the test split of "
        "the dataset its run's record names (mnist5k without a record).",
    )
    parser.add_argument("path", help="model file, e.g. models/<run name>.keras")
    parser.add_argument("--dataset", choices=DATASETS, help="override the record's dataset")
    add_folder_flags(parser, "where the run's record is (default: the course folder's, for "
                             "the profile and dataset the model file's name gives)")
    return parser


def _folders(args: argparse.Namespace):
    """The course folders of the run the model file's name (``<model>_<precision>_<dataset>
    _<profile>_<hash>``) names; the reference run's when the name says neither."""
    parts = Path(args.path).stem.split("_")
    profile = next((part for part in parts if part in PROFILES), REFERENCE_RUN[0])
    dataset = next((name for name in DATASETS if f"_{name}_" in Path(args.path).stem),
                   REFERENCE_RUN[1])
    return folders_from_flags(args, profile, dataset)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: evaluate one saved model and print the result."""
    parser = _parser()
    args = parser.parse_args(argv)
    configure_threads()  # before anything starts TensorFlow's runtime
    try:
        folders = _folders(args)
        result = evaluate_saved_model(args.path, results_dir=folders.results,
                                      data_dir=folders.data, dataset=args.dataset)
    except EvaluationError as error:
        parser.error(str(error))
    print(f"model:    {args.path}")
    print(f"record:   {result['record'] or f'none found in {folders.results}'}")
    print(f"dataset:  {result['dataset']}, {result['num_test']:,} test images at "
          f"{result['image_size']} px")
    recorded = result["recorded_test_accuracy"]
    print(f"test accuracy {result['test_accuracy']:.4f}, test loss {result['test_loss']:.4f}"
          + ("" if recorded is None else f" (recorded: {recorded:.4f})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
