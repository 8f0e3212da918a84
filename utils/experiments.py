"""What the notebooks call to train many runs: every precision and seed of one network.

Every run goes through :func:`utils.train.run_experiment` (the one training path), so each
writes one record and is reused when its record exists. Kept apart from :mod:`utils.train`
(one run) so that notebooks stay one line per step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from utils.config import MAIN_SEEDS, TrainConfig, make_config

__all__ = ["MAIN_PRECISIONS", "run_configs", "train_precisions"]

# The main comparison: the report's three precisions (binary, its fixed-range 8-bit network,
# float) and the field's 8-bit network, trained with quantization-aware training (utils.qat).
MAIN_PRECISIONS = ("binary", "int8", "int8_qat", "fp32")


def run_configs(configs: Iterable[TrainConfig], *, results_dir: str | Path = "results",
                data_dir: str | Path = "data", force: bool = False,
                require_model: bool = False, verbose: int = 2) -> list[dict[str, Any]]:
    """Train (or load the record of) each config once, in order; their records.

    Identical configs (same hash) train once. Models, checkpoints and TensorBoard logs go
    next to ``results_dir`` (its parent's ``models/``, ``checkpoints/`` and ``logs/``).
    ``require_model`` retrains a recorded run whose saved model is missing and compares the
    result with the record (see :func:`utils.train.run_experiment`).
    """
    from utils.train import run_experiment  # imports TensorFlow: only when training

    root = Path(results_dir).parent
    paths = dict(results_dir=results_dir, checkpoint_dir=root / "checkpoints",
                 models_dir=root / "models", logs_dir=root / "logs", data_dir=data_dir)
    done: dict[str, dict[str, Any]] = {}
    for config in configs:
        key = config.config_hash()
        if key not in done:
            print(f"--- {config.model} {config.precision} seed {config.seed}: "
                  f"{config.run_name}", flush=True)
            _, done[key] = run_experiment(config, force=force, require_model=require_model,
                                          verbose=verbose, **paths)
    return list(done.values())


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
    records = []
    for precision in precisions:
        for index, seed in enumerate(seeds):
            config = make_config(model, precision, dataset=dataset, profile=profile,
                                 **{**overrides, "seed": seed})
            records += run_configs([config], results_dir=results_dir, data_dir=data_dir,
                                   force=force, require_model=require_model and index == 0,
                                   verbose=verbose)
    return records
