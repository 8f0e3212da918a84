"""Tests for utils.data: the loaders of MNIST-5k and of the prepared Cats & Dogs tree."""

from pathlib import Path

import numpy as np
import pytest

from tests.test_cats_and_dogs import prepare_quietly, write_kaggle_tree, zip_tree
from utils.data import class_counts, load_dataset, sample_images


@pytest.fixture
def kaggle_zip(tmp_path: Path) -> Path:
    """The miniature of Kaggle's archive that tests/test_cats_and_dogs.py prepares."""
    write_kaggle_tree(tmp_path / "tree")
    return zip_tree(tmp_path / "tree", tmp_path / "cat-and-dog.zip")


def first_batch(dataset) -> tuple[np.ndarray, np.ndarray]:
    images, labels = next(iter(dataset))
    return images.numpy(), labels.numpy()


def test_mnist5k_batches_shapes_range_and_split_sizes():
    splits = load_dataset("mnist5k", 32, 64)
    images, labels = first_batch(splits.train)

    assert images.shape == (64, 32, 32, 3) and images.dtype == np.float32
    assert images.min() == -1.0 and 0.9 < images.max() <= 1.0
    assert np.array_equal(images[..., 0], images[..., 2])  # gray replicated to 3 channels
    assert labels.shape == (64, 10)
    assert np.array_equal(labels.sum(axis=1), np.ones(64)) and set(np.unique(labels)) == {0, 1}
    assert (splits.name, splits.num_classes, splits.image_shape) == ("mnist5k", 10, (32, 32, 3))
    assert splits.class_names == [str(digit) for digit in range(10)]
    assert (splits.num_train, splits.num_validation, splits.num_test) == (3500, 500, 1000)
    assert class_counts(splits) == dict.fromkeys(splits.class_names, 350)
    assert class_counts(splits, "validation") == dict.fromkeys(splits.class_names, 50)
    assert class_counts(splits, "test") == dict.fromkeys(splits.class_names, 100)
    assert sum(len(batch[1]) for batch in splits.validation) == 500
    assert splits.is_offline_standin
    assert "OFFLINE STAND-IN" in splits.describe() and "Cats & Dogs" in splits.describe()


def test_mnist5k_is_reproducible_with_a_seed_and_keeps_its_test_set_across_seeds():
    first, again, other = (load_dataset("mnist5k", 28, 32, seed=seed) for seed in (0, 0, 1))

    for a, b in zip(first_batch(first.train), first_batch(again.train), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.labels["validation"], again.labels["validation"])
    assert not np.array_equal(first_batch(first.train)[1], first_batch(other.train)[1])
    assert not np.array_equal(first.labels["validation"], other.labels["validation"])
    for a, b in zip(first_batch(first.test), first_batch(other.test), strict=True):
        np.testing.assert_array_equal(a, b)


def test_mnist5k_limit_augmentation_and_samples():
    plain = load_dataset("mnist5k", 32, 16, limit=40)
    augmented = load_dataset("mnist5k", 32, 16, limit=40, augment=True)

    images, labels = first_batch(plain.train)
    moved, same_labels = first_batch(augmented.train)
    assert (plain.num_train, plain.num_validation, plain.num_test) == (40, 40, 40)
    assert sum(len(labels) for _, labels in plain.train) == 40
    np.testing.assert_array_equal(labels, same_labels)
    assert moved.shape == images.shape and -1.0 <= moved.min() and moved.max() <= 1.0
    assert not np.array_equal(moved, images)
    pairs = sample_images(plain, 5, split="test")
    assert len(pairs) == 5
    assert all(
        image.shape == (32, 32, 3) and 0.0 <= image.min() <= image.max() <= 1.0
        for image, _ in pairs
    )
    assert [name for _, name in pairs] == [str(label) for label in plain.labels["test"][:5]]


def test_cats_and_dogs_loader_reads_the_prepared_tree(tmp_path, kaggle_zip):
    prepare_quietly(kaggle_zip, tmp_path / "data" / "cats_and_dogs")

    splits = load_dataset(
        "cats_and_dogs", (24, 20), 4, data_dir=tmp_path / "data", validation_split=0.25
    )

    assert splits.class_names == ["cats", "dogs"] and splits.num_classes == 2
    assert not splits.is_offline_standin and "STAND-IN" not in splits.describe()
    assert (splits.num_train, splits.num_validation, splits.num_test) == (7, 2, 8)
    assert class_counts(splits, "validation") == {"cats": 1, "dogs": 1}
    assert class_counts(splits, "test") == {"cats": 4, "dogs": 4}
    batches = list(splits.train)
    assert [len(labels) for _, labels in batches] == [4, 3]
    for images, labels in batches + list(splits.validation) + list(splits.test):
        images, labels = images.numpy(), labels.numpy()
        assert images.shape[1:] == (24, 20, 3) and labels.shape[1:] == (2,)
        reddish = images[..., 0].mean(axis=(1, 2)) > images[..., 2].mean(axis=(1, 2))
        np.testing.assert_array_equal(reddish, labels[:, 0] == 1)  # cats are red, dogs blue
    again = load_dataset(
        "cats_and_dogs", (24, 20), 4, data_dir=tmp_path / "data", validation_split=0.25
    )
    for a, b in zip(batches[0], first_batch(again.train), strict=True):  # each epoch reshuffles
        np.testing.assert_array_equal(a, b)


def test_loader_errors_name_what_is_expected(tmp_path):
    with pytest.raises(ValueError, match="accepted names: cats_and_dogs, mnist5k"):
        load_dataset("imagenet", 32, 8)
    with pytest.raises(FileNotFoundError, match="does not exist") as caught:
        load_dataset("cats_and_dogs", 32, 8, data_dir=tmp_path)
    assert "fetch_cats_and_dogs()" in str(caught.value) and "mnist5k" in str(caught.value)
    (tmp_path / "cats_and_dogs" / "train" / "cats").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="is incomplete"):
        load_dataset("cats_and_dogs", 32, 8, data_dir=tmp_path)
