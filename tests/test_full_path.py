"""The real task's path at full size, end to end, with only Kaggle's download call replaced.

A synthetic archive in Kaggle's layout (``training_set/training_set/cats/cat.1.jpg``, ...)
holds photos of real sizes (250-500 px) and the kinds of bad files the real one has. It is
fetched through a stand-in ``kaggle`` module (the boundary: ``KaggleApi`` copies the archive
where the real one would download it), prepared, and then the command line trains one
full-size network (GoogLeNet at 224 px, full width) in the full profile as a dry run; its
record is checked, the model converted to a ``.tflite`` file and run, and the report built
from that run's outputs only.
"""

import io
import json
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from utils.course import course_folders
from utils.data import load_dataset, read_report
from utils.deploy import TFLiteModel, convert_binary, convert_float, count_lce_ops, save_tflite
from utils.environment import lce_available
from utils.models import load_model
from utils.report import build_report
from utils.train import main as train_main

PHOTOS_PER_CLASS = {"training_set": 14, "test_set": 5}
DRY_RUN = {"limit": 24, "epochs": 1}


def _photo(rng: np.random.Generator, cat: bool) -> Image.Image:
    """A photo-sized image (250-500 px a side) whose colour says its class."""
    width, height = (int(v) for v in rng.integers(250, 501, 2))
    pixels = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    pixels[..., 0 if cat else 2] += 160
    return Image.fromarray(pixels)


def _encoded(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def _kaggle_archive(path: Path) -> Path:
    """Kaggle's layout at real photo sizes, with a grayscale, a CMYK, a PNG named .jpg, a
    truncated and an empty file, and macOS's ``_DS_Store`` in every class folder."""
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as archive:
        for folder, count in PHOTOS_PER_CLASS.items():
            for name in ("cats", "dogs"):
                prefix = f"{folder}/{folder}/{name}"
                for index in range(count):
                    photo = _photo(rng, name == "cats")
                    archive.writestr(f"{prefix}/{name[:-1]}.{index + 1}.jpg",
                                     _encoded(photo, "JPEG"))
                archive.writestr(f"{prefix}/_DS_Store", b"\x00\x00\x00\x01Bud1")
        odd = "training_set/training_set/cats/cat"
        archive.writestr(f"{odd}.gray.jpg", _encoded(_photo(rng, True).convert("L"), "JPEG"))
        archive.writestr(f"{odd}.cmyk.jpg", _encoded(_photo(rng, True).convert("CMYK"), "JPEG"))
        archive.writestr(f"{odd}.png.jpg", _encoded(_photo(rng, True), "PNG"))
        jpeg = _encoded(_photo(rng, True), "JPEG")
        archive.writestr(f"{odd}.truncated.jpg", jpeg[: len(jpeg) // 3])
        archive.writestr(f"{odd}.empty.jpg", b"")
    return path


@pytest.fixture
def kaggle_stand_in(tmp_path, monkeypatch):
    """Credentials in the environment and a ``kaggle`` module whose download copies the
    synthetic archive; returns the list of datasets it was asked for."""
    archive = _kaggle_archive(tmp_path / "cat-and-dog.zip")
    downloads = []

    class KaggleApi:
        def authenticate(self) -> None:
            pass

        def dataset_download_files(self, dataset: str, path: str, quiet: bool) -> None:
            downloads.append(dataset)
            (Path(path) / "cat-and-dog.zip").write_bytes(archive.read_bytes())

    module = types.ModuleType("kaggle")
    module.KaggleApi = KaggleApi
    monkeypatch.setitem(sys.modules, "kaggle", module)
    monkeypatch.setitem(sys.modules, "google.colab", None)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_USERNAME", "student")
    monkeypatch.setenv("KAGGLE_KEY", "0123456789abcdef")
    return downloads


@pytest.mark.slow
def test_full_size_googlenet_from_kaggle_archive_to_tflite_and_report(
        tmp_path, kaggle_stand_in, capsys):
    course = tmp_path / "course"
    folders = course_folders("full", "cats_and_dogs", course)
    argv = ["--model", "googlenet", "--precision", "binary", "--dataset", "cats_and_dogs",
            "--profile", "full", "--limit", str(DRY_RUN["limit"]),
            "--epochs", str(DRY_RUN["epochs"]), "--seed", "0", "--verbose", "0",
            "--course-dir", str(course)]  # the notebooks' rule decides every folder
    with pytest.warns(UserWarning, match="tongpython/cat-and-dog has"):  # a miniature
        assert train_main(argv) == 0
    assert kaggle_stand_in == ["tongpython/cat-and-dog"]

    # prepared: every bad file skipped with its reason, odd formats re-encoded
    prepared = read_report(folders.data / "cats_and_dogs")
    assert prepared.kept["train"] == {"cats": 14 + 3, "dogs": 14}
    assert prepared.kept["test"] == {"cats": 5, "dogs": 5}
    odd = "train/cats/cat"
    assert prepared.skipped[f"{odd}.truncated.jpg"] == "corrupt image"
    assert prepared.skipped[f"{odd}.empty.jpg"] in ("corrupt image", "not an image")
    assert sum(reason == "hidden or system file" for reason in prepared.skipped.values()) == 4
    assert prepared.reencoded == {f"{odd}.cmyk.jpg": "JPEG CMYK", f"{odd}.png.jpg": "PNG RGB"}

    # the record: full size, real data, labelled as a dry run
    (record_path,) = folders.results.glob("googlenet_binary_cats_and_dogs_full_*.json")
    record = json.loads(record_path.read_text())
    config = record["config"]
    assert (config["image_size"], config["width"], config["profile"]) == (224, 1.0, "full")
    assert record["dataset"]["name"] == "cats_and_dogs"
    assert not record["dataset"]["is_offline_standin"]
    assert record["dry_run"] == DRY_RUN and record["epochs_run"] == 1
    assert any(note.startswith("dry run (limit 24, epochs 1)") for note in record["notes"])
    assert 0.0 <= record["test_accuracy"] <= 1.0
    assert record["summary"]["compression_ratio"] > 10  # a binary network at full width
    printed = capsys.readouterr().out
    assert "cats_and_dogs" in printed and "stand-in" not in printed.split("\n")[0]

    # converted to a file that a TFLite interpreter runs on a real prepared photo
    # --course-dir alone put the model beside the run's results, as the notebooks do
    assert Path(record["model_path"]).parent == folders.results.parent / "models"
    model = load_model(record["model_path"])
    flatbuffer = convert_binary(model) if lce_available() else convert_float(model)
    path = save_tflite(flatbuffer, tmp_path / "googlenet_binary.tflite")
    if lce_available():
        assert count_lce_ops(flatbuffer).get("LceBconv2d", 0) > 50
    splits = load_dataset("cats_and_dogs", 224, 4, data_dir=folders.data, seed=0, limit=4)
    images, _ = next(iter(splits.test))
    probabilities = TFLiteModel(path.read_bytes()).predict(images.numpy()[:1])
    assert probabilities.shape == (1, 2)
    np.testing.assert_allclose(probabilities.sum(), 1.0, atol=1e-3)

    # the report: built from this run's folder only, saying what is missing
    report = build_report(folders.results, folders.figures, folders.report, profile="full",
                          written_by="tests/test_full_path.py", **DRY_RUN).read_text()
    head = report[:report.index("## ")]
    assert "**Profile:** full. **Dataset:** cats_and_dogs." in head
    assert "**Dry run** (limit 24, epochs 1)" in head
    assert "stand-in" not in report and "mnist5k" not in report
    assert "Missing from this run: alexnet binary" in report
    assert "googlenet int8" in report.split("Missing from this run:")[1].split("\n")[0]
    assert "![" not in report  # no figure of another run is embedded
    # "reduced" names the precision, never the size of these full-size networks
    assert "reduced" not in report.lower().replace("reduced-precision", "")
