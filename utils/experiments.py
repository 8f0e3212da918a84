"""What the training notebooks (03, 04) call: train each precision of one network.

Kept separate from :mod:`utils.train` (one run) so notebooks stay one line per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from utils.config import make_config

__all__ = ["train_precisions", "THREE_PRECISIONS"]

THREE_PRECISIONS = ("binary", "int8", "fp32")


def train_precisions(
    model: str,
    dataset: str,
    profile: str,
    precisions: Sequence[str] = THREE_PRECISIONS,
    *,
    results_dir: str | Path = "results",
    force: bool = False,
    require_model: bool = False,
    verbose: int = 2,
    **overrides: Any,
) -> dict[str, dict[str, Any]]:
    """Train (or load the cached record of) ``model`` at each precision; records by precision.

    ``overrides`` go to :func:`utils.config.make_config` for every run (e.g. epochs=3).
    Models and checkpoints go next to ``results_dir`` (its parent's models/, checkpoints/).
    With ``require_model``, a cached record whose saved model is missing (records are
    committed, models are not) is trained again, with a message saying so, so that the
    model exists afterwards (notebook 06 converts it).
    """
    from utils.train import run_experiment  # imports TensorFlow: only when training

    root = Path(results_dir).parent
    records = {}
    for precision in precisions:
        config = make_config(model, precision, dataset=dataset, profile=profile, **overrides)
        print(f"--- {model} {precision}: {config.run_name}")
        paths = dict(results_dir=results_dir, checkpoint_dir=root / "checkpoints",
                     models_dir=root / "models", logs_dir=root / "logs")
        model_object, record = run_experiment(config, force=force, verbose=verbose, **paths)
        if model_object is None and require_model:
            print(f"    its record exists but its saved model ({root / 'models'}) does not: "
                  "training it again to have the model")
            _, record = run_experiment(config, force=True, verbose=verbose, **paths)
        records[precision] = record
    return records
