"""The main job: run every notebook top to bottom with papermill, then rebuild the report.

    python -m utils.pipeline [--profile smoke|quick|full] [--dataset auto|cats_and_dogs|mnist5k]
                             [--course-dir DIR] [--limit N] [--epochs N] [--full-ablations]

Figures, results records and the report go where :func:`utils.course.course_folders` says:
the quick profile on the offline digits regenerates the committed ``figures/``,
``results/`` and ``report/``; every other profile and dataset writes under
``runs/<profile>_<dataset>/`` of the course folder (git-ignored in the repository), so that
a smoke or full run never replaces the committed outputs. Executed copies of the notebooks
go to ``executed/`` next to that run's results, never over the tracked notebooks. With
``--dataset auto`` (the default) the Kaggle Cats & Dogs photos are used when they are
prepared or can be downloaded; otherwise the offline MNIST digits stand in, and the job says
so at the start and the end, as do the records, figures and the report.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from utils.cats_and_dogs import resolve_dataset
from utils.config import TrainConfig
from utils.course import REPOSITORY_ROOT, course_folders, course_root
from utils.names import DATASET_CHOICES, PROFILES, check_choice
from utils.records import RUN_LEDGER_VARIABLE, load_record, read_run_ledger

__all__ = ["MODELS_FIRST", "NOTEBOOK_DIR", "list_notebooks", "main", "run_pipeline",
           "train_saved_models_first"]

NOTEBOOK_DIR = Path("notebooks")
# How the main job learns which training runs each notebook uses, without touching the
# training code (whose definitions fingerprint every record, so that any edit there makes
# every committed record stale): an IPython startup file, in an IPython directory of the
# job's own, wraps ``utils.train.run_configs`` (which every training call of the notebooks
# goes through) in the notebook's kernel, and adds the runs it returned, which of them it
# trained, and which saved models it asked for, to the notebook's ledger
# (:func:`utils.records.note_runs_used`).
LEDGER_STARTUP = """\
# Written by utils.pipeline for the main job: notes the training runs of this notebook.
import functools as _functools
from datetime import UTC as _UTC, datetime as _datetime

import utils.train as _train
from utils.records import note_runs_used as _note_runs_used


def _noting_runs(run_configs):
    @_functools.wraps(run_configs)
    def run_and_note(*args, **kwargs):
        started = _datetime.now(_UTC).replace(microsecond=0)  # records keep whole seconds
        records = run_configs(*args, **kwargs)
        names = [record["run_name"] for record in records]
        required = kwargs.get("require_model", False)
        _note_runs_used(names, [record["run_name"] for record in records
                                if _datetime.fromisoformat(record["created"]) >= started],
                        names if required is True else
                        [config.run_name for config in required or ()])
        return records

    return run_and_note


_train.run_configs = _noting_runs(_train.run_configs)
"""
# The main job's first step, before the notebooks, when it has anything to train: see
# train_saved_models_first. Its time and runs are kept under this name beside the notebooks'.
MODELS_FIRST = "saved models, trained first"
# The notebooks that train tens of networks (ablations; related systems), hours at full size.
EXPERIMENT_NOTEBOOKS = ("07_ablations.ipynb", "09_related_systems.ipynb")


@contextlib.contextmanager
def _environment(**variables: str):
    """Set environment ``variables`` for the block; put back what was there after it."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def list_notebooks(notebook_dir: str | Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``), in course order."""
    return sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb"))


def train_saved_models_first(notebooks: Sequence[str], results_dir: str | Path,
                             data_dir: str | Path, profile: str) -> list[dict]:
    """Train, in one pool, the saved models ``notebooks`` loaded in the last main job of
    ``profile`` (``pipeline_<profile>.json`` in ``results_dir``) whose record is there but
    whose model is not; their records.

    A fresh clone has the committed records but not the models, too large to commit (01
    loads the float AlexNet and GoogLeNet, 02 its float CNN, 06 and 08 the seed-0 networks
    of every main precision). Left to the notebooks, each would train its own in turn, and a
    long GoogLeNet run would leave the second core idle; trained together they keep one run
    per core busy (:func:`utils.train.training_workers`). Each retrained run is compared
    with its record, as the notebooks would have done (:func:`utils.train.run_configs` with
    ``require_model``). A run not in the last job's ledger is left to its notebook.
    """
    from utils.train import run_configs  # imported here: it loads TensorFlow

    job = Path(results_dir) / f"pipeline_{profile}.json"
    if not job.exists():
        return []
    ledgers = json.loads(job.read_text()).get("notebook_runs", {})
    names = sorted({name for notebook in notebooks
                    for name in ledgers.get(notebook, {}).get("models", [])})
    models_dir = Path(results_dir).parent / "models"
    records = [load_record(Path(results_dir) / f"{name}.json") for name in names
               if (Path(results_dir) / f"{name}.json").exists()
               and not any(models_dir.glob(f"{name}.*"))]
    if not records:
        return []
    # longest first, as the records timed them: the pool hands out runs in this order, so
    # the short runs fill in beside the long ones at the end
    records.sort(key=lambda record: -record.get("wall_time_s", 0))
    configs = [TrainConfig.from_dict(record["config"]) for record in records]
    print(f"Training first the {len(configs)} saved model(s) the notebooks load, which this "
          "course folder lacks (each result is compared with its record)", flush=True)
    return run_configs(configs, results_dir=results_dir, data_dir=data_dir, require_model=True)


def run_pipeline(
    profile: str = "quick",
    dataset: str = "auto",
    *,
    root: str | Path = REPOSITORY_ROOT,
    course_dir: str | Path | None = None,
    figures_dir: str | Path | None = None,
    results_dir: str | Path | None = None,
    report_dir: str | Path | None = None,
    executed_dir: str | Path | None = None,
    notebooks: Sequence[str] | None = None,
    limit: int | None = None,
    epochs: int | None = None,
    full_ablations: bool = False,
) -> dict[str, float]:
    """Execute the notebooks in order and rebuild the report; returns seconds per notebook.

    ``root`` is the repository (the notebooks' working directory). Data and outputs go where
    :func:`utils.course.course_folders` says for ``profile`` and the dataset, in
    ``course_dir`` (default: ``$COURSE_DIR`` or the repository); explicit folders replace
    its defaults. ``notebooks`` restricts the run to the given file names. ``limit`` and
    ``epochs`` make a dry run (at most ``limit`` images per split, ``epochs`` epochs), which
    every record and the report say. In the full profile the ablations of notebook 07 (tens
    of full-size runs) and the related systems of notebook 09 run only with
    ``full_ablations``.
    """
    import papermill  # imported here: `--help` should not pay for Jupyter's start-up

    from utils.report import build_report

    check_choice("profile", profile, PROFILES)
    root = Path(root).resolve()
    choice = resolve_dataset(dataset, data_dir=course_root(course_dir) / "data")
    print(choice)
    folders = course_folders(profile, choice.name, course_dir, results_dir=results_dir,
                             figures_dir=figures_dir, report_dir=report_dir)
    print(folders)
    paths = list_notebooks(root / NOTEBOOK_DIR)
    if notebooks is not None:
        unknown = set(notebooks) - {path.name for path in paths}
        if unknown:
            raise ValueError(f"no such notebooks: {sorted(unknown)}; "
                             f"available: {[path.name for path in paths]}")
        paths = [path for path in paths if path.name in notebooks]
    elif profile == "full" and not full_ablations:
        paths = [path for path in paths if path.name not in EXPERIMENT_NOTEBOOKS]
        print(f"Full profile: {' and '.join(EXPERIMENT_NOTEBOOKS)} are left out (their runs "
              "at full size take many GPU hours); pass --full-ablations to run them.")
    out_dir = Path(executed_dir) if executed_dir else folders.results.parent / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    parameters = dict(profile=profile, dataset=choice.name, course_dir=str(folders.root),
                      figures_dir=str(folders.figures), results_dir=str(folders.results),
                      report_dir=str(folders.report))
    dry_run = {name: value for name, value in (("limit", limit), ("epochs", epochs))
               if value is not None}
    command = " ".join(["python -m utils.pipeline", f"--profile {profile}",
                        f"--dataset {dataset}", *(f"--{name} {value}"
                                                  for name, value in dry_run.items())])
    print(f"Main job: profile {profile}, dataset {choice.name}, {len(paths)} notebooks"
          + (f", dry run {dry_run}" if dry_run else ""))
    startup = out_dir / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00_note_training_runs.py").write_text(LEDGER_STARTUP)
    timings, runs = {}, {}
    started = time.perf_counter()
    first = train_saved_models_first([path.name for path in paths], folders.results,
                                     folders.data, profile)
    if first:
        timings[MODELS_FIRST] = time.perf_counter() - started
        names = [record["run_name"] for record in first]
        # it trains only runs whose model is missing: every one of them is trained
        runs[MODELS_FIRST] = {"used": names, "trained": names, "models": names}
    for number, path in enumerate(paths, start=1):
        print(f"[{number}/{len(paths)}] {path.name}", flush=True)
        ledger = out_dir / f"{path.stem}.runs.jsonl"
        ledger.unlink(missing_ok=True)
        started = time.perf_counter()
        # the notebook's kernel inherits both: the ledger and the startup file that fills it
        with _environment(**{RUN_LEDGER_VARIABLE: str(ledger),
                             "IPYTHONDIR": str(startup.parents[1])}):
            papermill.execute_notebook(
                str(path), str(out_dir / path.name), parameters={**parameters, **dry_run},
                cwd=str(root), kernel_name="python3", progress_bar=True,
            )
        timings[path.name] = time.perf_counter() - started
        runs[path.name] = read_run_ledger(ledger)
        print(f"    done in {timings[path.name]:.0f} s; {len(runs[path.name]['used'])} "
              f"training record(s) used, {len(runs[path.name]['trained'])} trained",
              flush=True)
    report = build_report(folders.results, folders.figures, folders.report, profile=profile,
                          notebook_seconds=timings, notebook_runs=runs, written_by=command,
                          **dry_run)
    total = sum(timings.values())
    print(f"Report written to {report}; notebooks took {total / 60:.1f} min in all")
    if choice.name == "mnist5k":
        print("Note: the offline MNIST digits stood in for Kaggle Cats & Dogs in this run.")
    return timings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m utils.pipeline",
        description="Run every notebook top to bottom and regenerate figures/ and report/.",
    )
    parser.add_argument("--profile", choices=PROFILES, default="quick",
                        help="smoke: seconds (tests); quick: 2-core CPU default; "
                             "full: the report's settings, for a GPU (default: quick)")
    parser.add_argument("--dataset", choices=DATASET_CHOICES, default="auto",
                        help="auto: Kaggle Cats & Dogs when available, else the offline "
                             "mnist5k digits (default: auto)")
    parser.add_argument("--notebook", action="append", dest="notebooks", metavar="NAME",
                        help="run only this notebook file (repeatable)")
    parser.add_argument("--course-dir", help="the course folder (default: $COURSE_DIR, else "
                        "the repository; see utils/course.py)")
    parser.add_argument("--limit", type=_positive, help="dry run: at most this many images "
                        "per split")
    parser.add_argument("--epochs", type=_positive, help="dry run: this many epochs per run")
    parser.add_argument("--full-ablations", action="store_true",
                        help="in the full profile, also run notebooks 07 (ablations) and 09 "
                             "(related systems), tens of full-size runs")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run_pipeline(args.profile, args.dataset, notebooks=args.notebooks, course_dir=args.course_dir,
                 limit=args.limit, epochs=args.epochs, full_ablations=args.full_ablations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
