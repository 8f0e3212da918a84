"""One course folder: where the data, the training records, the figures and the report go.

Every notebook and the main job ask :func:`course_folders` where to read and write. One
setting decides it, the course folder: the ``course_dir`` parameter of a notebook, else the
``COURSE_DIR`` environment variable (which the Colab setup cell points at Google Drive, see
:func:`utils.colab.use_drive`), else the repository itself. Inside it:

- ``data/``: downloaded and prepared datasets, shared by every profile;
- the outputs of one profile and dataset: ``runs/<profile>_<dataset>/`` holds that run's
  ``results/`` (records, benchmarks), ``figures/``, ``report/``, and next to them the saved
  ``models/``, ``checkpoints/`` (resume state) and TensorBoard ``logs/``.

One pair is special: the quick profile on mnist5k in the repository writes the committed
``results/``, ``figures/`` and ``report/`` at the top of the repository, the reference outputs
that a fresh clone shows and reuses. So a smoke run, a full run, or any run in a course folder
elsewhere (Drive) never writes over the committed files, and every notebook of one run,
even each in its own Colab runtime, finds the records the others wrote. No TensorFlow here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from utils.dataset_choice import DatasetChoice, resolve_dataset
from utils.names import (
    COURSE_DIR_VARIABLE,
    DATASETS,
    PROFILES,
    check_choice,
    check_notebook_parameters,
)

__all__ = [
    "REFERENCE_RUN",
    "REPOSITORY_ROOT",
    "CourseFolders",
    "course_folders",
    "course_root",
    "notebook_folders",
    "reproductions_dir",
]

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
# The (profile, dataset) whose outputs are committed at the top of the repository.
REFERENCE_RUN = ("quick", "mnist5k")


@dataclass(frozen=True)
class CourseFolders:
    """The folders of one profile and dataset in one course folder (see the module doc)."""

    root: Path
    profile: str
    dataset: str
    data: Path
    results: Path
    figures: Path
    report: Path

    @property
    def is_reference(self) -> bool:
        """Whether these are the committed reference outputs of the repository."""
        return (self.root == REPOSITORY_ROOT and (self.profile, self.dataset) == REFERENCE_RUN
                and self.results == REPOSITORY_ROOT / "results")

    def __str__(self) -> str:
        kind = ("the repository's committed reference outputs" if self.is_reference
                else f"the outputs of the {self.profile} profile on {self.dataset}")
        return (f"Course folder {self.root}: data in {self.data}, {kind}: records in "
                f"{self.results}, figures in {self.figures}, report in {self.report}")


def course_root(course_dir: str | os.PathLike | None = None) -> Path:
    """The course folder: ``course_dir``, else ``$COURSE_DIR``, else the repository."""
    chosen = course_dir or os.environ.get(COURSE_DIR_VARIABLE) or REPOSITORY_ROOT
    return Path(chosen).expanduser().resolve()


def reproductions_dir(results_dir: str | os.PathLike) -> Path:
    """Where a retrained run that does not reproduce its record exactly is written, beside
    the record it was compared with, which stays as it was: ``runs/reproductions/`` for the
    repository's committed records (git-ignored), else ``reproductions/`` next to
    ``results_dir``."""
    results = Path(results_dir).expanduser().resolve()
    if results == REPOSITORY_ROOT / "results":
        return REPOSITORY_ROOT / "runs" / "reproductions"
    return results.parent / "reproductions"


def course_folders(profile: str, dataset: str, course_dir: str | os.PathLike | None = None, *,
                   data_dir: str | os.PathLike | None = None,
                   results_dir: str | os.PathLike | None = None,
                   figures_dir: str | os.PathLike | None = None,
                   report_dir: str | os.PathLike | None = None) -> CourseFolders:
    """Where ``profile`` on ``dataset`` reads and writes; a folder given explicitly (a
    notebook parameter) replaces the default one."""
    check_choice("profile", profile, PROFILES)
    check_choice("dataset", dataset, DATASETS)
    root = course_root(course_dir)
    if root == REPOSITORY_ROOT and (profile, dataset) == REFERENCE_RUN:
        outputs = root
    else:
        outputs = root / "runs" / f"{profile}_{dataset}"

    def chosen(given, name: str) -> Path:
        return Path(given).expanduser().resolve() if given else outputs / name

    data = Path(data_dir).expanduser().resolve() if data_dir else root / "data"
    return CourseFolders(root=root, profile=profile, dataset=dataset, data=data,
                         results=chosen(results_dir, "results"),
                         figures=chosen(figures_dir, "figures"),
                         report=chosen(report_dir, "report"))


def notebook_folders(profile: str, dataset: str = "auto",
                     course_dir: str | os.PathLike | None = None, *, download: bool = True,
                     data_dir: str | os.PathLike | None = None, **given
                     ) -> tuple[DatasetChoice, CourseFolders]:
    """The dataset a notebook uses and its folders, both printed.

    ``dataset`` is resolved as :func:`utils.dataset_choice.resolve_dataset` does ("auto":
    Kaggle Cats & Dogs when it can be had, else the offline digits, said loudly), in the
    course folder's ``data/`` (or ``data_dir``, e.g. a dataset kept outside the course
    folder); ``given`` are the notebook's explicit ``results_dir``, ``figures_dir`` and
    ``report_dir`` (None: the defaults).
    """
    check_notebook_parameters(profile, dataset)
    data = Path(data_dir).expanduser() if data_dir else course_root(course_dir) / "data"
    choice = resolve_dataset(dataset, data_dir=data, download=download)
    folders = course_folders(profile, choice.name, course_dir, data_dir=data_dir, **given)
    print(choice)
    print(folders)
    return choice, folders
