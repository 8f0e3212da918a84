"""Tests for utils.evaluate: a saved model evaluated again (``python -m utils.evaluate``),
its record found, corrupt and misfitting files refused. Smoke profile only."""

from pathlib import Path

import pytest

import utils.train
from utils import evaluate
from utils.config import make_config
from utils.evaluate import EvaluationError, evaluate_saved_model
from utils.models import build_model, save_model


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """A lenet5 smoke run (1 epoch on 128 digits): its saved model and results folder."""
    root = tmp_path_factory.mktemp("smoke_run")
    config = make_config("lenet5", "fp32", profile="smoke")
    _, record = utils.train.run_experiment(
        config, results_dir=root / "results", models_dir=root / "models",
        checkpoint_dir=root / "checkpoints", logs_dir=root / "logs", verbose=0)
    return Path(record["model_path"]), root / "results", record


@pytest.mark.slow
def test_run_file_evaluate_finds_the_record_and_reproduces_its_accuracy(smoke_run):
    model_path, results_dir, record = smoke_run
    result = evaluate_saved_model(model_path, results_dir=results_dir)
    assert result["record"] == str(results_dir / f"{record['run_name']}.json")
    assert (result["dataset"], result["image_size"], result["num_test"]) == ("mnist5k", 28, 128)
    assert result["test_accuracy"] == pytest.approx(record["test_accuracy"], abs=1e-6)
    assert result["recorded_test_accuracy"] == record["test_accuracy"]


@pytest.mark.slow
def test_run_file_evaluate_command_line_prints_accuracy_and_loss(smoke_run, capsys):
    model_path, results_dir, _ = smoke_run
    assert evaluate.main([str(model_path), "--results-dir", str(results_dir)]) == 0
    output = capsys.readouterr().out
    assert "test accuracy" in output and "test loss" in output and "recorded:" in output


def test_run_file_evaluate_without_a_record_uses_the_model_s_input_size(smoke_run, tmp_path):
    model_path, _, _ = smoke_run
    result = evaluate_saved_model(model_path, results_dir=tmp_path)
    assert result["record"] is None and result["recorded_test_accuracy"] is None
    assert (result["image_size"], result["num_test"]) == (28, 1000)
    assert 0.0 <= result["test_accuracy"] <= 1.0


def test_run_file_evaluate_refuses_a_corrupt_file_with_status_2(smoke_run, tmp_path, capsys):
    model_path, _, _ = smoke_run
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(model_path.read_bytes()[:2000])
    text = tmp_path / "notes.keras"
    text.write_text("not a model")
    for path in (truncated, text):
        with pytest.raises(EvaluationError, match="is not a readable Keras model"):
            evaluate_saved_model(path, results_dir=tmp_path)
        with pytest.raises(SystemExit) as exit_info:
            evaluate.main([str(path), "--results-dir", str(tmp_path)])
        assert exit_info.value.code == 2
        assert "is not a readable Keras model" in capsys.readouterr().err
    with pytest.raises(EvaluationError, match="no model file at"):
        evaluate_saved_model(tmp_path / "missing.keras")


@pytest.mark.parametrize(("shape", "classes", "message"), [
    ((28, 28, 3), 5, "has 5 outputs, but mnist5k has 10 classes"),
    ((28, 28, 1), 10, r"takes images of shape \(28, 28, 1\), but mnist5k at image size 28 "
                      r"gives \(28, 28, 3\)"),
])
def test_run_file_evaluate_refuses_a_model_that_does_not_fit(tmp_path, shape, classes,
                                                             message):
    path = save_model(build_model("lenet5", "fp32", shape, classes, width=0.125),
                      tmp_path / "misfit.keras")
    with pytest.raises(EvaluationError, match=message):
        evaluate_saved_model(path, results_dir=tmp_path)


def test_the_command_line_finds_the_record_by_the_course_folder_rule(tmp_path, monkeypatch):
    import argparse

    from utils.evaluate import _folders

    monkeypatch.delenv("COURSE_DIR", raising=False)
    args = argparse.Namespace(path="models/alexnet_binary_cats_and_dogs_full_0123456789.keras",
                              course_dir=str(tmp_path), results_dir=None, data_dir=None)
    folders = _folders(args)
    assert folders.results == tmp_path / "runs" / "full_cats_and_dogs" / "results"
    assert folders.data == tmp_path / "data"
    args.path, args.results_dir = "elsewhere/model.keras", str(tmp_path / "mine")
    assert _folders(args).results == tmp_path / "mine"  # given: used as it is
