"""YAML run files (utils.config.config_from_file, ``python -m utils.train --config``), the
shipped run files in configs/, and the evaluation of saved models (``python -m utils.evaluate``).
Smoke profile only."""

from pathlib import Path

import pytest

import utils.train
from utils import evaluate
from utils.config import config_from_file, make_config
from utils.evaluate import EvaluationError, evaluate_saved_model
from utils.models import build_model, save_model

ROOT = Path(__file__).resolve().parents[1]
RUN_FILES = sorted((ROOT / "configs").glob("*.yml"))


def _run_file(folder: Path, text: str, name: str = "run.yml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# --- reading run files ------------------------------------------------------------------------


def test_run_file_gives_the_profile_defaults_with_its_settings(tmp_path):
    path = _run_file(tmp_path, "# RWTH-style preset\nmodel: lenet5\nprecision: binary\n"
                               "profile: smoke\nepochs: 2\nlearning_rate: 1e-3\nlimit: null\n")
    assert config_from_file(path) == make_config("lenet5", "binary", profile="smoke", epochs=2,
                                                 learning_rate=1e-3, limit=None)


def test_run_file_reads_block_sizes_as_tuples(tmp_path):
    path = _run_file(tmp_path, "model: qnn\nprecision: int4\nprofile: smoke\n"
                               "block_layers: [2, 1, 1]\nblock_filters: [32, 64, 128]\n")
    config = config_from_file(path)
    assert (config.block_layers, config.block_filters) == ((2, 1, 1), (32, 64, 128))


@pytest.mark.parametrize(("text", "message"), [
    ("model: lenet5\nprecision: binary\ncolour: red\n",
     r"unknown key\(s\) colour in .*run.yml; accepted: model, precision, dataset, profile"),
    ("model: lenet5\nprecision: binary\nepochs: zero\n",
     "run.yml: epochs must be an integer >= 1, got 'zero'"),
    ("model: lenet5\nprecision: int99\n", "unknown precision 'int99'; accepted: fp32, binary"),
    ("model: resnet\nprecision: binary\n", "unknown model 'resnet'; accepted: alexnet"),
    ("model: lenet5\nprecision: binary\nblock_layers: [1, 1, 1]\n",
     "block_layers sizes the blocks of model 'qnn', not of 'lenet5'"),
    ("precision: binary\n", "must name the model"),
    ("- model\n- lenet5\n", "must hold 'field: value' lines of TrainConfig fields, not a list"),
    ("model: [lenet5\n", "is not valid YAML"),
])
def test_run_file_errors_name_the_problem(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        config_from_file(_run_file(tmp_path, text))


def test_run_file_that_does_not_exist(tmp_path):
    with pytest.raises(ValueError, match="cannot read the run file .*missing.yml"):
        config_from_file(tmp_path / "missing.yml")


def test_run_file_overrides_take_precedence_and_must_be_fields(tmp_path):
    path = _run_file(tmp_path, "model: lenet5\nprecision: binary\nprofile: smoke\nepochs: 2\n")
    assert config_from_file(path, epochs=3, precision="fp32") == make_config(
        "lenet5", "fp32", profile="smoke", epochs=3)
    with pytest.raises(TypeError, match="unknown setting"):
        config_from_file(path, epoch=3)


# --- the command line ---------------------------------------------------------------------------


def test_run_file_on_the_command_line_with_flags_overriding_it(tmp_path):
    path = _run_file(tmp_path, "model: qnn\nprecision: int4\nprofile: smoke\nepochs: 2\n"
                               "activation: hardtanh\n")
    config, _ = utils.train.config_from_args(["--config", str(path), "--epochs", "3",
                                              "--block-layers", "1", "2", "3"])
    assert config == make_config("qnn", "int4", profile="smoke", epochs=3,
                                 activation="hardtanh", block_layers=(1, 2, 3))


@pytest.mark.parametrize(("text", "flags", "message"), [
    ("model: lenet5\nprecision: binary\ncolour: red\n", [], "colour"),
    ("model: lenet5\nprecision: binary\nepochs: -1\n", [], "epochs must be an integer >= 1"),
    ("model: lenet5\nprecision: binary\n", ["--block-filters", "8", "8", "8"],
     "block_filters sizes the blocks of model 'qnn'"),
])
def test_run_file_errors_exit_with_status_2(tmp_path, capsys, text, flags, message):
    path = _run_file(tmp_path, text)
    with pytest.raises(SystemExit) as exit_info:
        utils.train.config_from_args(["--config", str(path), *flags])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    if "colour" in message:
        assert "accepted: model, precision, dataset, profile, image_size" in error


def test_run_file_or_model_and_precision_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        utils.train.config_from_args(["--model", "lenet5"])
    assert exit_info.value.code == 2
    assert "--model and --precision are required without --config" in capsys.readouterr().err


# --- the shipped run files --------------------------------------------------------------------


def test_run_files_are_shipped_for_every_network_of_the_comparison():
    names = {path.stem for path in RUN_FILES}
    expected = {f"{model}_{precision}" for model in ("alexnet", "googlenet")
                for precision in ("binary", "int8", "int8_qat", "fp32")}
    expected |= {f"{model}_{precision}" for model in ("lenet5", "vgg7")
                 for precision in ("binary", "fp32")}
    assert expected | {"qnn_int4_hardtanh", "small_cnn_fp32_reproduction_probe"} == names


@pytest.mark.parametrize("path", RUN_FILES, ids=lambda path: path.name)
def test_run_file_shipped_parses_to_a_valid_config(path):
    config = config_from_file(path)
    assert path.stem.startswith(f"{config.model}_{config.precision}")
    assert (config.dataset, config.profile) == ("mnist5k", "quick")
    if config.model in ("alexnet", "googlenet"):  # the notebooks' runs: their records are reused
        assert config == make_config(config.model, config.precision, profile="quick")


def test_run_file_of_the_qnn_example_is_4_bit_hardtanh():
    config = config_from_file(ROOT / "configs" / "qnn_int4_hardtanh.yml")
    assert (config.precision, config.activation) == ("int4", "hardtanh")
    assert (config.block_layers, config.block_filters) == ((1, 1, 1), (64, 64, 64))


# --- evaluating saved models ---------------------------------------------------------------------


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
