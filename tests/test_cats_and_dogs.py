"""Tests for utils.cats_and_dogs: Kaggle Cats & Dogs preparation and fetching (no network,
the kaggle package faked), and the dataset choice (resolve_dataset, raw_image_sizes)."""

import io
import json
import os
import sys
import types
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from utils import cats_and_dogs
from utils.cats_and_dogs import (
    COMPLETE_MARKER,
    REASON_CORRUPT,
    REASON_NOT_IMAGE,
    REASON_REENCODED,
    REASON_SYSTEM_FILE,
    KaggleUnavailableError,
    PreparationReport,
    fetch_cats_and_dogs,
    prepare_cats_and_dogs,
    read_report,
)

IMAGES_PER_CLASS = 4
CLASS_COLORS = {"cats": (220, 30, 30), "dogs": (30, 30, 220)}  # red cats, blue dogs
EXPECTED_KEPT = {"train": {"cats": 5, "dogs": 4}, "test": {"cats": 4, "dogs": 4}}
EXPECTED_SKIPPED = {
    "train/cats/_DS_Store": REASON_SYSTEM_FILE,
    "train/dogs/_DS_Store": REASON_SYSTEM_FILE,
    "test/cats/_DS_Store": REASON_SYSTEM_FILE,
    "test/dogs/_DS_Store": REASON_SYSTEM_FILE,
    "train/cats/cat.text.jpg": REASON_NOT_IMAGE,
    "train/cats/cat.truncated.jpg": REASON_CORRUPT,
}
EXPECTED_REENCODED = {"train/cats/cat.png.jpg": "PNG RGB"}
CREDENTIAL_VARIABLES = (
    "KAGGLE_USERNAME",
    "KAGGLE_KEY",
    "KAGGLE_API_TOKEN",
    "KAGGLE_CONFIG_DIR",
    "XDG_CONFIG_HOME",
)


def encode(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def solid(color: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (40, 30), color)


def write_kaggle_tree(root: Path, doubled: bool = True) -> None:
    """A miniature of Kaggle's layout, with the kinds of bad files the real one may hold."""
    for folder in ("training_set", "test_set"):
        split_dir = root / folder / folder if doubled else root / folder
        for class_name, color in CLASS_COLORS.items():
            class_dir = split_dir / class_name
            class_dir.mkdir(parents=True)
            for index in range(IMAGES_PER_CLASS):
                name = f"{class_name[:-1]}.{index}.jpg"
                (class_dir / name).write_bytes(encode(solid(color), "JPEG"))
            (class_dir / "_DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    cats = (
        root / "training_set" / "training_set" / "cats" if doubled else root / "training_set/cats"
    )
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8))
    jpeg = encode(noise, "JPEG")
    (cats / "cat.truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (cats / "cat.png.jpg").write_bytes(encode(solid(CLASS_COLORS["cats"]), "PNG"))
    (cats / "cat.text.jpg").write_text("this is not a picture")


def zip_tree(root: Path, archive: Path) -> Path:
    """Zip the files under root (no directory entries, like Kaggle's archives)."""
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(root).as_posix())
    return archive


@pytest.fixture
def kaggle_zip(tmp_path: Path) -> Path:
    write_kaggle_tree(tmp_path / "tree")
    return zip_tree(tmp_path / "tree", tmp_path / "cat-and-dog.zip")


def make_source(tmp_path: Path, layout: str) -> Path:
    if layout == "zip":
        write_kaggle_tree(tmp_path / "tree")
        return zip_tree(tmp_path / "tree", tmp_path / "cat-and-dog.zip")
    write_kaggle_tree(tmp_path / "tree", doubled=layout == "folder")
    return tmp_path / "tree"


def prepare_quietly(source: Path, dest: Path) -> cats_and_dogs.PreparationReport:
    """prepare_cats_and_dogs on the miniature, whose counts always differ from Kaggle's."""
    with pytest.warns(UserWarning, match="tongpython/cat-and-dog has"):
        return prepare_cats_and_dogs(source, dest)


# --- prepare_cats_and_dogs ---------------------------------------------------------------


@pytest.mark.parametrize("layout", ["zip", "folder", "single-level folder"])
def test_prepare_keeps_good_images_and_gives_a_reason_for_every_other_file(tmp_path, layout):
    dest = tmp_path / "data" / "cats_and_dogs"
    (tmp_path / "data" / ".cats_and_dogs.partial-killed").mkdir(parents=True)  # a killed run

    report = prepare_quietly(make_source(tmp_path, layout), dest)

    assert report.kept == EXPECTED_KEPT
    assert report.skipped == EXPECTED_SKIPPED
    assert report.reencoded == EXPECTED_REENCODED
    assert report.reason_counts() == {
        REASON_SYSTEM_FILE: 4,
        REASON_NOT_IMAGE: 1,
        REASON_CORRUPT: 1,
        REASON_REENCODED: 1,
    }
    assert sorted(path.name for path in dest.iterdir()) == [COMPLETE_MARKER, "test", "train"]
    assert [path.name for path in dest.parent.iterdir()] == ["cats_and_dogs"]
    for split, classes in EXPECTED_KEPT.items():
        for class_name, count in classes.items():
            files = sorted((dest / split / class_name).iterdir())
            assert len(files) == count
            assert all(path.suffix == ".jpg" for path in files)
            for path in files:
                with Image.open(path) as image:
                    assert image.format == "JPEG"
                    assert image.getpixel((5, 5)) == pytest.approx(CLASS_COLORS[class_name], abs=8)
    assert read_report(dest) == report


def test_prepare_warns_with_kept_and_expected_counts_and_prints_the_report(
    tmp_path, kaggle_zip, capsys
):
    with pytest.warns(UserWarning) as record:
        prepare_cats_and_dogs(kaggle_zip, tmp_path / "out")

    messages = [str(warning.message) for warning in record]
    assert any("train: kept 9 images" in m and "has 8,005" in m for m in messages)
    assert any("test: kept 8 images" in m and "has 2,023" in m for m in messages)
    printed = capsys.readouterr().out
    assert "train: 9 images (cats 5, dogs 4)" in printed
    assert f"{REASON_CORRUPT}: 1 file(s)" in printed


def test_prepare_rejects_sources_without_the_kaggle_layout(tmp_path, kaggle_zip):
    dest = tmp_path / "out"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        prepare_cats_and_dogs(tmp_path / "missing.zip", dest)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="neither a folder nor a zip"):
        prepare_cats_and_dogs(tmp_path / "notes.txt", dest)
    (tmp_path / "flat" / "cats").mkdir(parents=True)
    (tmp_path / "flat" / "dogs").mkdir()
    with pytest.raises(FileNotFoundError, match="training_set/training_set/cats"):
        prepare_cats_and_dogs(tmp_path / "flat", dest)
    train_only = tmp_path / "train_only.zip"
    with zipfile.ZipFile(kaggle_zip) as full, zipfile.ZipFile(train_only, "w") as part:
        for name in full.namelist():
            if name.startswith("training_set/"):
                part.writestr(name, full.read(name))
    with pytest.raises(FileNotFoundError, match="no test images: expected the folders test_set"):
        prepare_cats_and_dogs(train_only, dest)
    assert not dest.exists()


def test_interrupted_preparation_keeps_the_previous_complete_tree(
    tmp_path, kaggle_zip, monkeypatch
):
    dest = tmp_path / "cats_and_dogs"
    first = prepare_quietly(kaggle_zip, dest)
    decode = cats_and_dogs._as_jpeg
    calls = []

    def interrupted_after_three_files(data: bytes) -> tuple[bytes, str]:
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return decode(data)

    monkeypatch.setattr(cats_and_dogs, "_as_jpeg", interrupted_after_three_files)
    with pytest.raises(KeyboardInterrupt):
        prepare_cats_and_dogs(kaggle_zip, dest)

    assert len(calls) == 4
    assert read_report(dest) == first
    assert len(list((dest / "train" / "cats").iterdir())) == 5
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


# --- fetch_cats_and_dogs, with the kaggle package faked -----------------------------------


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """No Kaggle credentials anywhere: no variables, an empty HOME, not on Colab."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.setenv(name, "")  # recorded, so values the code sets are removed afterwards
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setitem(sys.modules, "google.colab", None)  # makes the import fail


@pytest.fixture
def credentials(no_credentials, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "student")
    monkeypatch.setenv("KAGGLE_KEY", "0123456789abcdef")


def fake_kaggle(monkeypatch, archive: Path, fail: str = "", error: BaseException | None = None):
    """Put a fake ``kaggle`` module in place; return the list of download calls it records.

    With ``fail`` ("authenticate" or "download") that step raises ``error``.
    """
    downloads = []

    class FakeKaggleApi:
        def authenticate(self) -> None:
            if fail == "authenticate":
                raise error

        def dataset_download_files(self, dataset: str, path: str, quiet: bool) -> None:
            downloads.append({"dataset": dataset, "path": path, "quiet": quiet})
            if fail == "download":
                raise error
            (Path(path) / "cat-and-dog.zip").write_bytes(archive.read_bytes())

    module = types.ModuleType("kaggle")
    module.KaggleApi = FakeKaggleApi
    monkeypatch.setitem(sys.modules, "kaggle", module)
    return downloads


def test_fetch_downloads_once_then_returns_the_stored_report(
    tmp_path, kaggle_zip, credentials, monkeypatch
):
    downloads = fake_kaggle(monkeypatch, kaggle_zip)
    dest = tmp_path / "data" / "cats_and_dogs"

    with pytest.warns(UserWarning):
        first = fetch_cats_and_dogs(dest)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = fetch_cats_and_dogs(dest)

    assert len(downloads) == 1
    assert downloads[0]["dataset"] == "tongpython/cat-and-dog"
    assert downloads[0]["quiet"] is False
    assert Path(downloads[0]["path"]).parent == dest.parent
    assert first.kept == EXPECTED_KEPT
    assert second == first
    assert json.loads((dest / COMPLETE_MARKER).read_text())["kept"] == EXPECTED_KEPT
    assert [path.name for path in dest.parent.iterdir()] == ["cats_and_dogs"]

    with pytest.warns(UserWarning):
        fetch_cats_and_dogs(dest, force=True)
    assert len(downloads) == 2


def test_interrupted_fetch_leaves_an_incomplete_dest_that_the_next_call_rebuilds(
    tmp_path, kaggle_zip, credentials, monkeypatch
):
    downloads = fake_kaggle(monkeypatch, kaggle_zip)
    dest = tmp_path / "data" / "cats_and_dogs"
    stale = dest / "train" / "cats" / "stale.jpg"  # an old tree without the marker
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over")

    def interrupt(data: bytes) -> tuple[bytes, str]:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(cats_and_dogs, "_as_jpeg", interrupt)
        with pytest.raises(KeyboardInterrupt):
            fetch_cats_and_dogs(dest)
    assert read_report(dest) is None
    assert sorted(path.name for path in dest.parent.iterdir()) == ["cats_and_dogs"]

    with pytest.warns(UserWarning):
        report = fetch_cats_and_dogs(dest)
    assert len(downloads) == 2
    assert report.kept == EXPECTED_KEPT
    assert not stale.exists()


def test_missing_credentials_raise_a_helpful_error_before_importing_kaggle(
    tmp_path, no_credentials, monkeypatch
):
    monkeypatch.setitem(sys.modules, "kaggle", None)  # importing kaggle would fail differently

    with pytest.raises(KaggleUnavailableError) as caught:
        fetch_cats_and_dogs(tmp_path / "cats_and_dogs")

    message = str(caught.value)
    assert "no Kaggle credentials were found" in message
    for hint in ("kaggle.json", "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "Colab"):
        assert hint in message
    assert 'load_dataset("mnist5k"' in message and "--dataset mnist5k" in message
    assert not (tmp_path / "cats_and_dogs").exists()


def test_exit_while_importing_kaggle_becomes_kaggle_unavailable_error(
    tmp_path, credentials, monkeypatch
):
    package = tmp_path / "site" / "kaggle"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise SystemExit(1)  # what kaggle does without auth\n")
    monkeypatch.delitem(sys.modules, "kaggle", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))

    with pytest.raises(KaggleUnavailableError, match="could not authenticate") as caught:
        fetch_cats_and_dogs(tmp_path / "cats_and_dogs")

    assert isinstance(caught.value.__cause__, SystemExit)
    assert "mnist5k" in str(caught.value)


@pytest.mark.parametrize(
    ("fail", "error", "expected"),
    [
        ("authenticate", SystemExit(1), "could not authenticate"),
        ("download", OSError("network is unreachable"), "network is unreachable"),
    ],
)
def test_kaggle_failures_become_kaggle_unavailable_errors(
    tmp_path, kaggle_zip, credentials, monkeypatch, fail, error, expected
):
    fake_kaggle(monkeypatch, kaggle_zip, fail=fail, error=error)
    dest = tmp_path / "data" / "cats_and_dogs"

    with pytest.raises(KaggleUnavailableError, match=expected) as caught:
        fetch_cats_and_dogs(dest)

    assert caught.value.__cause__ is error
    assert "kaggle.json" in str(caught.value)
    assert read_report(dest) is None
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []


@pytest.mark.parametrize("where", ["~/.kaggle/kaggle.json", "KAGGLE_CONFIG_DIR", "token"])
def test_each_credential_source_is_accepted(
    tmp_path, kaggle_zip, no_credentials, monkeypatch, where
):
    downloads = fake_kaggle(monkeypatch, kaggle_zip)
    if where == "token":
        monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_0123")
    else:
        folder = tmp_path / "home" / ".kaggle" if where.startswith("~") else tmp_path / "config"
        folder.mkdir(parents=True)
        (folder / "kaggle.json").write_text('{"username": "student", "key": "0123"}')
        if where == "KAGGLE_CONFIG_DIR":
            monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(folder))

    with pytest.warns(UserWarning):
        fetch_cats_and_dogs(tmp_path / "data" / "cats_and_dogs")
    assert len(downloads) == 1


def test_colab_secrets_are_copied_into_the_environment(
    tmp_path, kaggle_zip, no_credentials, monkeypatch
):
    downloads = fake_kaggle(monkeypatch, kaggle_zip)
    secrets = {"KAGGLE_USERNAME": "colab-student", "KAGGLE_KEY": "feedbeef"}
    colab = types.ModuleType("google.colab")
    colab.userdata = types.SimpleNamespace(get=secrets.__getitem__)
    monkeypatch.setitem(sys.modules, "google.colab", colab)

    with pytest.warns(UserWarning):
        fetch_cats_and_dogs(tmp_path / "data" / "cats_and_dogs")

    assert len(downloads) == 1
    assert {name: os.environ[name] for name in secrets} == secrets


# --- resolve_dataset and raw_image_sizes ------------------------------------------------------


def _no_kaggle(*args, **kwargs):
    raise KaggleUnavailableError("Cannot download Kaggle Cats & Dogs: no credentials.\nmore")


def test_resolve_dataset_explicit_mnist():
    choice = cats_and_dogs.resolve_dataset("mnist5k")
    assert choice.name == "mnist5k" and not choice.fell_back and choice.is_offline_standin
    with pytest.raises(ValueError, match="dataset"):
        cats_and_dogs.resolve_dataset("cifar10")


def test_resolve_dataset_auto_falls_back_loudly(tmp_path, monkeypatch):
    monkeypatch.setattr(cats_and_dogs, "fetch_cats_and_dogs", _no_kaggle)
    with pytest.warns(UserWarning, match="offline stand-in"):
        choice = cats_and_dogs.resolve_dataset("auto", data_dir=tmp_path)
    assert choice.name == "mnist5k" and choice.fell_back and choice.requested == "auto"
    text = str(choice)
    assert "OFFLINE STAND-IN" in text and "no credentials" in text
    assert "more" in text  # the whole message, not only its first line
    with pytest.warns(UserWarning):
        fallback = cats_and_dogs.resolve_dataset("auto", data_dir=tmp_path, download=False)
        assert fallback.fell_back


def test_resolve_dataset_cats_and_dogs_errors_propagate(tmp_path, monkeypatch):
    monkeypatch.setattr(cats_and_dogs, "fetch_cats_and_dogs", _no_kaggle)
    with pytest.raises(KaggleUnavailableError):
        cats_and_dogs.resolve_dataset("cats_and_dogs", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="not prepared"):
        cats_and_dogs.resolve_dataset("cats_and_dogs", data_dir=tmp_path, download=False)


def _prepare_fake_cats_and_dogs(root, sizes):
    from PIL import Image

    folder = root / "cats_and_dogs"
    for index, size in enumerate(sizes):
        split, name = ("train", "cats") if index % 2 else ("test", "dogs")
        path = folder / split / name / f"{index}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (index * 20, 0, 0)).save(path)
    (folder / COMPLETE_MARKER).write_text(PreparationReport(dest=str(folder)).to_json())
    return folder


def test_resolve_dataset_uses_prepared_cats_and_dogs(tmp_path, monkeypatch):
    monkeypatch.setattr(cats_and_dogs, "fetch_cats_and_dogs", _no_kaggle)  # must not be called
    _prepare_fake_cats_and_dogs(tmp_path, [(40, 30), (50, 20)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for requested in ("auto", "cats_and_dogs"):
            choice = cats_and_dogs.resolve_dataset(requested, data_dir=tmp_path)
            assert choice.name == "cats_and_dogs" and not choice.fell_back
    assert "Cats & Dogs" in str(choice)


def test_raw_image_sizes(tmp_path):
    sizes = cats_and_dogs.raw_image_sizes("mnist5k")
    assert sizes.shape == (5000, 2) and (sizes == 28).all()
    assert cats_and_dogs.raw_image_sizes("mnist5k", limit=10).shape == (10, 2)
    _prepare_fake_cats_and_dogs(tmp_path, [(40, 30), (50, 20), (64, 48)])
    found = cats_and_dogs.raw_image_sizes("cats_and_dogs", data_dir=tmp_path)
    assert sorted(map(tuple, found.tolist())) == [(40, 30), (50, 20), (64, 48)]
    with pytest.raises(FileNotFoundError):
        cats_and_dogs.raw_image_sizes("cats_and_dogs", data_dir=tmp_path / "empty")
    with pytest.raises(ValueError):
        cats_and_dogs.raw_image_sizes("cifar10")
