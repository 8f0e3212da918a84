"""Course folders (where data, records, models, checkpoints and figures go) and the Colab
runtime (Drive, the repository clone, installs). Imports neither TensorFlow nor numpy.

Prepare a Colab runtime for the course: install the stack that fits its Python.
-------------------------------------------------------------------------------

Each notebook's setup cell calls :func:`prepare_runtime` right after cloning the repository,
before ``import utils`` and before TensorFlow. What it installs depends on the runtime
(:func:`runtime_plan` decides; it is a pure function, so the decision is unit-tested):

- ``"pinned"`` (Python 3.11 or 3.12, Colab's older runtime versions): the stack of
  ``requirements.txt`` (TensorFlow 2.16.2, numpy 1.26.4, larq, larq-compute-engine 0.16.0...).
  Colab preinstalls newer TensorFlow and numpy 2, which the kernel has already loaded, so the
  runtime restarts once; the setup cell is then run again and installs nothing.
- ``"tf220-compat"`` (Python 3.13 or newer, Colab's default runtime): TensorFlow 2.16 and numpy
  1.26 have no wheels there, so the preinstalled TensorFlow (2.20) and numpy 2 stay, tf-keras of
  the same minor version is added (larq needs the Keras 2 API), larq 0.14.0 is installed with
  ``--no-deps`` (its ``numpy<2`` pin is the only conflict) and LCE is skipped: 0.16 has no wheel
  for 3.13 and its interpreter fails under numpy 2. Notebooks print
  :data:`utils.environment.LCE_MISSING` where they would convert with LCE. Nothing that was
  preinstalled is replaced, so no restart.
- ``"unsupported"`` (Python older than 3.11): nothing is installed; the plan says why.

Jupyter tooling pinned in ``requirements.txt`` (jupyter, ipykernel, nbclient, nbformat,
papermill) is never installed here: Colab runs its own kernel, which a newer ipykernel can
break, and only the batch pipeline needs papermill.

One course folder: where the data, the training records, the figures and the report go.
---------------------------------------------------------------------------------------

Every notebook and the main job ask :func:`course_folders` where to read and write. One
setting decides it, the course folder: the ``course_dir`` parameter of a notebook, else the
``COURSE_DIR`` environment variable (which the Colab setup cell points at Google Drive, see
:func:`use_drive`), else the repository itself. Inside it:

- ``data/``: downloaded and prepared datasets, shared by every profile;
- the outputs of one profile and dataset: ``runs/<profile>_<dataset>/`` holds that run's
  ``results/`` (records, benchmarks), ``figures/``, ``report/``, and next to them the saved
  ``models/``, ``checkpoints/`` (resume state) and TensorBoard ``logs/``.

One pair is special: the quick profile on mnist5k in the repository writes the committed
``results/``, ``figures/`` and ``report/`` at the top of the repository, the reference outputs
that a fresh clone shows and reuses. So a smoke run, a full run, or any run in a course folder
elsewhere (Drive) never writes over the committed files, and every notebook of one run,
even each in its own Colab runtime, finds the records the others wrote.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from utils.environment import LCE_MISSING
from utils.names import (
    COURSE_DIR_VARIABLE,
    DATASETS,
    PROFILES,
    check_choice,
    check_notebook_parameters,
)

if TYPE_CHECKING:
    from utils.cats_and_dogs import DatasetChoice

__all__ = ["CourseFolders", "DRIVE_COURSE_FOLDER", "DRIVE_MOUNT_POINT", "REFERENCE_RUN",
           "REPOSITORY_ROOT", "RuntimePlan", "add_folder_flags", "course_folders", "course_root",
           "folders_from_flags", "installed_versions", "notebook_folders", "on_colab",
           "prepare_runtime", "read_pins", "reproductions_dir", "runtime_plan", "use_drive"]

REPO_ROOT = Path(__file__).resolve().parent.parent
PINNED_PYTHONS = ((3, 11), (3, 12))
COMPAT_MIN_PYTHON = (3, 13)
COMPAT_TENSORFLOW = "2.20"  # installed only when a 3.13+ runtime has no TensorFlow at all
LARQ_VERSION = "0.14.0"
LARQ_LIGHT_DEPS = ("terminaltables", "packaging")  # larq's requirements besides numpy
NOT_ON_COLAB = frozenset({"jupyter", "ipykernel", "nbclient", "nbformat", "papermill"})
# Pins the compat plan does not take from requirements.txt (it keeps or handles these itself).
COMPAT_OWN = frozenset({"tensorflow", "tf-keras", "numpy", "larq", "larq-compute-engine"})

@dataclass(frozen=True)
class RuntimePlan:
    """What :func:`prepare_runtime` will do on a runtime.

    ``commands`` are pip argument lists, each run as ``python -m pip <args>``; ``changes``
    lists ``(package, installed version or None, wanted version spec)``; ``restart_needed`` is
    true when a package already on the runtime gets another version (the kernel may have it
    loaded); ``message`` says in one or two sentences what the plan is, or why it is refused.
    """

    kind: str  # "pinned", "tf220-compat" or "unsupported"
    python_version: tuple[int, int]
    commands: tuple[tuple[str, ...], ...] = ()
    changes: tuple[tuple[str, str | None, str], ...] = ()
    lce_available: bool = False
    restart_needed: bool = False
    message: str = ""

    @property
    def pip_lines(self) -> list[str]:
        """The commands as shell lines, e.g. ``pip install --no-deps larq==0.14.0``."""
        return ["pip " + shlex.join(args) for args in self.commands]


def read_pins(path: str | os.PathLike) -> dict[str, str]:
    """``{package: version}`` from a requirements file of ``name==version`` lines.

    Lines are parsed by ``packaging`` (PEP 508); names are canonicalized (``TF_Keras`` ->
    ``tf-keras``). Anything but one exact pin per line raises ValueError naming the line.
    """
    pins = {}
    for number, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            requirement = None
        specifiers = list(requirement.specifier) if requirement else []
        if len(specifiers) != 1 or specifiers[0].operator != "==" or requirement.marker:
            raise ValueError(
                f"{path}:{number}: {raw.strip()!r} is not an exact pin; "
                "only 'name==version' lines are accepted"
            )
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def _satisfies(installed: str | None, wanted: str) -> bool:
    """Whether an installed version matches ``wanted`` ("2.16.2", or "2.20.*" for a series).

    A local label such as "+cu121" (Colab's CUDA builds) is ignored.
    """
    if installed is None:
        return False
    try:
        release = Version(installed).public
    except InvalidVersion:
        return False
    return release in SpecifierSet(f"=={wanted}")


def _minor_series(version: str) -> str:
    """``"2.20.0"`` -> ``"2.20.*"``."""
    major, minor = Version(version).release[:2]
    return f"{major}.{minor}.*"


def runtime_plan(
    python_version: tuple,
    installed: dict[str, str | None],
    *,
    pins: dict[str, str] | None = None,
) -> RuntimePlan:
    """Decide what to install on a Colab runtime (pure, apart from reading the default pins).

    ``python_version`` is ``sys.version_info`` or a ``(major, minor)`` tuple; ``installed``
    maps package names to installed versions (``None`` or absent: not installed); ``pins``
    defaults to the repository's ``requirements.txt``. See the module docstring for the plans.
    """
    python = tuple(python_version[:2])
    pins = read_pins(REPO_ROOT / "requirements.txt") if pins is None else pins
    have = {canonicalize_name(name): version for name, version in installed.items()}
    shown = ".".join(map(str, python))

    if python in PINNED_PYTHONS:
        wanted = {
            name: version
            for name, version in pins.items()
            if name not in NOT_ON_COLAB and not _satisfies(have.get(name), version)
        }
        install = [f"{name}=={version}" for name, version in wanted.items()]
        plain = (("install", *install),) if install else ()
        no_deps = ()
        kind, lce = "pinned", True
        summary = f"Python {shown}: the pinned stack of requirements.txt"
    elif python >= COMPAT_MIN_PYTHON:
        tensorflow = have.get("tensorflow")
        wanted = {} if tensorflow else {"tensorflow": COMPAT_TENSORFLOW + ".*"}
        wanted["tf-keras"] = _minor_series(tensorflow or COMPAT_TENSORFLOW)
        for name, version in pins.items():  # mlxtend, pandas...: add if missing, keep if there
            if name not in COMPAT_OWN | NOT_ON_COLAB and have.get(name) is None:
                wanted[name] = version
        wanted.update({name: "" for name in LARQ_LIGHT_DEPS if have.get(name) is None})
        wanted = {
            name: spec
            for name, spec in wanted.items()
            if not spec or not _satisfies(have.get(name), spec)
        }
        install = [f"{name}=={spec}" if spec else name for name, spec in wanted.items()]
        plain = (("install", *install),) if install else ()
        no_deps = ()
        if not _satisfies(have.get("larq"), LARQ_VERSION):
            wanted["larq"] = LARQ_VERSION
            no_deps = (("install", "--no-deps", f"larq=={LARQ_VERSION}"),)
        kind, lce = "tf220-compat", False
        tf_shown = f"{tensorflow} (preinstalled)" if tensorflow else wanted["tensorflow"]
        summary = (
            f"Python {shown}: TensorFlow {tf_shown} with tf-keras of the same minor version, "
            f"larq {LARQ_VERSION} without its numpy<2 pin, and no LCE"
        )
    else:
        return RuntimePlan(
            "unsupported",
            python,
            message=(
                f"Python {shown} is not supported: the course needs Python 3.11 or 3.12 "
                "(pinned stack with LCE) or 3.13+ (Colab's default: TensorFlow 2.20, no LCE). "
                "In Colab, open Runtime > Change runtime type and pick a newer runtime version."
            ),
        )

    changes = tuple((name, have.get(name), spec or "any") for name, spec in wanted.items())
    replaced = sorted(name for name, old, _ in changes if old is not None)
    restart = bool(replaced)
    if not changes:
        summary += "; everything is installed already."
    else:
        summary += f"; installing {len(changes)} package(s)"
        summary += f", replacing {', '.join(replaced)} (runtime restart)." if restart else "."
    return RuntimePlan(kind, python, plain + no_deps, changes, lce, restart, summary)


def installed_versions(names) -> dict[str, str | None]:
    """``{name: installed version or None}`` from package metadata (imports nothing)."""
    versions = {}
    for name in names:
        try:
            versions[canonicalize_name(name)] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[canonicalize_name(name)] = None
    return versions


def _all_versions() -> dict[str, str]:
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }


def on_colab() -> bool:
    """Whether this process is a Colab kernel (``google.colab`` is loaded there at start)."""
    return "google.colab" in sys.modules


def _python_version() -> tuple[int, int]:
    return sys.version_info[:2]


def _restart_kernel() -> None:
    """Kill the kernel process; Colab restarts the runtime (its documented way to do it)."""
    os.kill(os.getpid(), signal.SIGKILL)


def prepare_runtime(*, requirements="requirements.txt", dry_run=False) -> RuntimePlan | None:
    """Install what this Colab runtime needs (see :func:`runtime_plan`); elsewhere do nothing.

    Prints the plan and each pip command. When the plan replaces packages the kernel may
    have loaded, prints one line saying so and restarts the runtime: run the setup cell
    again afterwards, and this call finds everything installed and does nothing. With
    ``dry_run`` it only prints the plan (on any machine). Returns the plan, or ``None``
    outside Colab. Raises ``RuntimeError`` on an unsupported Python or a failing pip.
    """
    if not (on_colab() or dry_run):
        return None
    path = Path(requirements)
    if not path.is_absolute() and not path.exists():
        path = REPO_ROOT / path
    pins = read_pins(path)
    names = {*pins, "tensorflow", "tf-keras", "numpy", "larq", *LARQ_LIGHT_DEPS}
    plan = runtime_plan(_python_version(), installed_versions(names), pins=pins)
    print(f"[colab setup] {plan.message}")
    if plan.kind == "unsupported":
        if dry_run:
            return plan
        raise RuntimeError(plan.message)
    if not plan.lce_available:
        print(f"[colab setup] {LCE_MISSING}")
    for line in plan.pip_lines:
        print(f"[colab setup] {'would run' if dry_run else 'running'}: {line}")
    if dry_run or not plan.commands:
        return plan

    before = _all_versions()
    for args in plan.commands:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            raise RuntimeError(f"pip {shlex.join(args)} failed:\n{tail}")
        print(f"[colab setup] done in {time.monotonic() - started:.0f} s")
    importlib.invalidate_caches()
    after = _all_versions()
    moved = sorted(name for name, version in before.items() if after.get(name) != version)
    if plan.restart_needed or moved:
        print(
            "[colab setup] Restarting the runtime so the new versions of "
            f"{', '.join(moved) or 'the replaced packages'} load: this is expected. "
            "When it reconnects, run this cell again, then the rest of the notebook.",
            flush=True,
        )
        _restart_kernel()
    return plan


DRIVE_MOUNT_POINT = "/content/drive"
DRIVE_COURSE_FOLDER = "MyDrive/rpnn-course"
# Set once the student was told, in this runtime, what a course folder off Drive loses.
_DECLINED_VARIABLE = "COURSE_DRIVE_DECLINED"
LOST_WITHOUT_DRIVE = (
    "The course folder stays on this runtime's disk (/content): Colab wipes it when the "
    "runtime is recycled, which loses the training records, saved models, resume "
    "checkpoints and the Kaggle download, and every notebook (each its own runtime) sees "
    "only its own records. Run this cell again and allow Google Drive to keep them."
)


def use_drive(*, mount=None, mount_point: str | os.PathLike = DRIVE_MOUNT_POINT,
              folder: str = DRIVE_COURSE_FOLDER) -> Path | None:
    """On Colab, keep the course folder on Google Drive so that it outlives the runtime.

    Mounts Drive (Colab asks the student for permission) and points ``COURSE_DIR`` (see
    :func:`course_folders`) at ``MyDrive/rpnn-course``: every notebook then reads and writes
    the same records, the Kaggle download happens once, and a long run resumes after the
    runtime is recycled. If Drive is not mounted, says once per runtime what that loses and
    returns None. Does nothing outside Colab or when ``COURSE_DIR`` is already set.
    ``mount`` and ``mount_point`` replace ``google.colab.drive.mount`` and its folder (for
    tests).
    """
    if os.environ.get(COURSE_DIR_VARIABLE):
        return Path(os.environ[COURSE_DIR_VARIABLE])
    if mount is None:
        if not on_colab():
            return None
        from google.colab import drive  # only on Colab

        mount = drive.mount
    try:
        mount(str(mount_point))
    except Exception as error:  # refused, timed out, or no Drive: Colab raises many kinds
        if not os.environ.get(_DECLINED_VARIABLE):
            print(f"[colab setup] Google Drive is not mounted ({error}). {LOST_WITHOUT_DRIVE}")
            os.environ[_DECLINED_VARIABLE] = "1"
        return None
    course = Path(mount_point) / folder
    course.mkdir(parents=True, exist_ok=True)
    os.environ[COURSE_DIR_VARIABLE] = str(course)
    print(f"[colab setup] Course folder on Google Drive: {course} (data, records, models, "
          "figures and reports of every notebook go there)")
    return course


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


def add_folder_flags(parser: argparse.ArgumentParser, results_help: str) -> None:
    """The flags by which every command line says where it reads and writes, with the
    notebooks' rule as default: ``--course-dir``, else ``$COURSE_DIR``, else the
    repository (:func:`course_folders`)."""
    group = parser.add_argument_group(
        "where things go (default: the course folder's, as in the notebooks)")
    group.add_argument("--course-dir", help="the course folder (default: $COURSE_DIR, else "
                       "the repository)")
    group.add_argument("--results-dir", help=results_help)
    group.add_argument("--data-dir", help="default: the course folder's data/")


def folders_from_flags(args: argparse.Namespace, profile: str = REFERENCE_RUN[0],
                       dataset: str = REFERENCE_RUN[1]) -> CourseFolders:
    """The folders the flags of :func:`add_folder_flags` choose, for ``profile`` on
    ``dataset``."""
    return course_folders(profile, dataset, args.course_dir, data_dir=args.data_dir,
                          results_dir=args.results_dir)


def notebook_folders(profile: str, dataset: str = "auto",
                     course_dir: str | os.PathLike | None = None, *, download: bool = True,
                     data_dir: str | os.PathLike | None = None, **given
                     ) -> tuple[DatasetChoice, CourseFolders]:
    """The dataset a notebook uses and its folders, both printed.

    ``dataset`` is resolved as :func:`utils.cats_and_dogs.resolve_dataset` does ("auto":
    Kaggle Cats & Dogs when it can be had, else the offline digits, said loudly), in the
    course folder's ``data/`` (or ``data_dir``, e.g. a dataset kept outside the course
    folder); ``given`` are the notebook's explicit ``results_dir``, ``figures_dir`` and
    ``report_dir`` (None: the defaults).
    """
    # Imported here, not above: the Kaggle fetcher loads numpy, and a notebook prepares its
    # Colab runtime (prepare_runtime, which may change numpy's version) before numpy loads.
    from utils.cats_and_dogs import resolve_dataset

    check_notebook_parameters(profile, dataset)
    data = Path(data_dir).expanduser() if data_dir else course_root(course_dir) / "data"
    choice = resolve_dataset(dataset, data_dir=data, download=download)
    folders = course_folders(profile, choice.name, course_dir, data_dir=data_dir, **given)
    print(choice)
    print(folders)
    return choice, folders
