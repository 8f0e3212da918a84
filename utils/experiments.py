"""What the notebooks call to train many runs: every precision and seed of one network.

Every run goes through :func:`utils.train.run_experiment` (the one training path), so each
writes one record and is reused when its record exists. Kept apart from :mod:`utils.train`
(one run) so that notebooks stay one line per step.

On a machine without GPU or TPU the runs train in worker processes, one per core, each with
one thread (:func:`utils.training.configure_threads`): every record is then made with the
same thread count, whatever trains it, and a run reproduces its record bit for bit. Each
worker prints Keras' progress to the process's own output; the notebook shows one line per
finished run. With an accelerator the runs train here, one after the other.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from utils.config import MAIN_SEEDS, TrainConfig, make_config
from utils.names import MAIN_PRECISIONS, model_file_suffix
from utils.records import load_record, record_path

__all__ = ["run_configs", "train_precisions", "training_workers"]


def training_workers() -> int:
    """Worker processes for training: one per core on a CPU-only machine, else 0 (train in
    this process, where the accelerator is)."""
    from utils.training import CPU_THREADS, has_accelerator  # imports TensorFlow

    return 0 if has_accelerator() else max(1, (os.cpu_count() or 1) // CPU_THREADS)


def _start_worker() -> None:
    from utils.training import configure_threads

    configure_threads()


def _train(config: TrainConfig, settings: dict[str, Any]) -> dict[str, Any]:
    """One run (in a worker or here); its record."""
    from utils.train import run_experiment

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
    :func:`utils.train.run_experiment`). ``workers``: parallel training processes (default
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
        return [report(config, _train(config, settings)) for config, settings in todo]
    context = multiprocessing.get_context("spawn")  # a fresh TensorFlow in every worker
    with context.Pool(min(workers, len(todo)), initializer=_start_worker) as pool:
        pending = [pool.apply_async(_train, item) for item in todo]
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
