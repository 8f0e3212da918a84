"""The main job: run every notebook top to bottom with papermill, then rebuild the report.

    python -m utils.pipeline [--profile smoke|quick|full] [--dataset auto|cats_and_dogs|mnist5k]

Executed copies go to ``executed/<profile>/`` (git-ignored), never over the tracked
notebooks. Figures, results records and ``report/README.md`` are regenerated; a smoke run
writes them under ``runs/smoke/`` (git-ignored) instead, so that it never replaces the
committed results of the quick profile (:func:`output_dirs`). With
``--dataset auto`` (the default) the Kaggle Cats & Dogs photos are used when they are
prepared or can be downloaded; otherwise the offline MNIST digits stand in, and the job says
so at the start and the end, as do the records, figures and the report.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from utils.dataset_choice import resolve_dataset
from utils.names import DATASET_CHOICES, PROFILES

__all__ = ["NOTEBOOK_DIR", "list_notebooks", "output_dirs", "run_pipeline", "main"]

NOTEBOOK_DIR = Path("notebooks")


def list_notebooks(notebook_dir: str | Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``), in course order."""
    return sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb"))


def output_dirs(profile: str) -> dict[str, str]:
    """Default figures, results and report folders of ``profile``, relative to the root.

    smoke (tests, a check that everything runs) goes to ``runs/smoke/``; quick and full
    regenerate the tracked ``figures/``, ``results/`` and ``report/``.
    """
    prefix = "runs/smoke/" if profile == "smoke" else ""
    return {name: f"{prefix}{folder}" for name, folder in
            (("figures_dir", "figures"), ("results_dir", "results"), ("report_dir", "report"))}


def run_pipeline(
    profile: str = "quick",
    dataset: str = "auto",
    *,
    root: str | Path = ".",
    figures_dir: str | None = None,
    results_dir: str | None = None,
    report_dir: str | None = None,
    executed_dir: str | None = None,
    notebooks: Sequence[str] | None = None,
) -> dict[str, float]:
    """Execute the notebooks in order and rebuild the report; returns seconds per notebook.

    Paths are relative to ``root`` (the repository root, also the notebooks' working
    directory). Output folders left at None take :func:`output_dirs`' defaults.
    ``notebooks`` restricts the run to the given file names.
    """
    import papermill  # imported here: `--help` should not pay for Jupyter's start-up

    from utils.report import build_report

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; accepted: {', '.join(PROFILES)}")
    defaults = output_dirs(profile)
    figures_dir = figures_dir or defaults["figures_dir"]
    results_dir = results_dir or defaults["results_dir"]
    report_dir = report_dir or defaults["report_dir"]
    root = Path(root).resolve()
    choice = resolve_dataset(dataset, data_dir=root / "data")
    print(choice)
    dataset = choice.name
    paths = list_notebooks(root / NOTEBOOK_DIR)
    if notebooks is not None:
        unknown = set(notebooks) - {path.name for path in paths}
        if unknown:
            raise ValueError(f"no such notebooks: {sorted(unknown)}; "
                             f"available: {[path.name for path in paths]}")
        paths = [path for path in paths if path.name in notebooks]
    out_dir = root / (executed_dir or f"executed/{profile}")
    out_dir.mkdir(parents=True, exist_ok=True)
    parameters = dict(profile=profile, dataset=dataset, figures_dir=figures_dir,
                      results_dir=results_dir, report_dir=report_dir)
    print(f"Main job: profile {profile}, dataset {dataset}, {len(paths)} notebooks")
    timings = {}
    for number, path in enumerate(paths, start=1):
        print(f"[{number}/{len(paths)}] {path.name}", flush=True)
        started = time.perf_counter()
        papermill.execute_notebook(
            str(path), str(out_dir / path.name), parameters=parameters, cwd=str(root),
            kernel_name="python3", progress_bar=True,
        )
        timings[path.name] = time.perf_counter() - started
        print(f"    done in {timings[path.name]:.0f} s", flush=True)
    report = build_report(root / results_dir, root / figures_dir, root / report_dir,
                          profile=profile, notebook_seconds=timings)
    total = sum(timings.values())
    print(f"Report written to {report}; notebooks took {total / 60:.1f} min in all")
    if dataset == "mnist5k":
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run_pipeline(args.profile, args.dataset, notebooks=args.notebooks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
