"""Tests for utils.config: YAML run files (config_from_file, ``python -m utils.train
--config``), the shipped run files in configs/, and TrainConfig itself (the profiles, the
hash, the validation of settings). Smoke profile only."""

import hashlib
import json
from pathlib import Path

import pytest

import utils.train
from utils.config import PROFILE_TABLE, TrainConfig, config_from_file, make_config

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


# --- TrainConfig: the profiles, hashes and validation -----------------------------------------


def test_profiles_give_each_model_its_settings():
    smoke = make_config("googlenet", "binary", profile="smoke")
    assert (smoke.image_size, smoke.width, smoke.epochs, smoke.batch_size, smoke.limit) == (
        32, 0.0625, 2, 16, 64)
    assert make_config("alexnet", "fp32", profile="smoke").image_size == 67
    full = make_config("alexnet", "int8", dataset="cats_and_dogs", profile="full")
    assert (full.image_size, full.width, full.epochs, full.optimizer, full.loss) == (
        227, 1.0, 40, "adam", "categorical_crossentropy")
    assert (full.learning_rate, full.lr_schedule, full.warmup_epochs) == (2e-3, "cosine", 2)
    assert full.early_stopping_patience == 8 and full.limit is None and full.augment
    full_googlenet = make_config("googlenet", "fp32", profile="full")
    assert (full_googlenet.image_size, full_googlenet.epochs) == (224, 40)
    # the report's own recipe (§5.4): Adam at a constant 1e-3, no augmentation, batch norm
    # directly after each layer and only in the quantized networks (None: the precision's own)
    report = make_config("alexnet", "fp32", dataset="cats_and_dogs", profile="report")
    assert (report.learning_rate, report.lr_schedule, report.augment, report.batch_norm,
            report.bn_after_pool, report.dropout) == (1e-3, "constant", False, None, False, 0.0)
    assert make_config("alexnet", "int8", profile="report").dropout == 0.5
    quick_binary = make_config("alexnet", "binary")
    assert quick_binary.profile == "quick" and quick_binary.lr_schedule == "cosine"
    assert {row[0] for row in PROFILE_TABLE} == {"smoke", "quick", "full", "report"}


def test_config_round_trip_and_hash():
    config = make_config("alexnet", "binary", profile="smoke", optimizer="bop", width=1)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.config_hash() == make_config(
        "alexnet", "binary", profile="smoke", optimizer="bop", width=1.0).config_hash()
    assert config.replace(seed=1).config_hash() != config.config_hash()
    assert len(config.config_hash()) == 10
    assert config.run_name == f"alexnet_binary_mnist5k_smoke_{config.config_hash()}"


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"precision": "int99"}, ValueError, "accepted: fp32, binary"),
        ({"model": "resnet"}, ValueError, "accepted: alexnet, googlenet"),
        ({"profile": "huge"}, ValueError, "accepted: smoke, quick, full"),
        ({"optimizer": "sgd"}, ValueError, "accepted: adam, bop"),
        ({"loss": "hinge"}, ValueError, "categorical_crossentropy, mse"),
        ({"image_size": 40}, ValueError, "image_size must be an integer >= 67"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"lerning_rate": 0.1}, TypeError, "lerning_rate"),
        ({"precision": "fp32", "optimizer": "bop"}, ValueError, "needs precision 'binary'"),
        ({"warmup_epochs": 1}, ValueError, "needs lr_schedule 'cosine'"),
    ],
)
def test_invalid_settings_are_named(overrides, error, message):
    arguments = {"model": "alexnet", "precision": "binary", "profile": "smoke", **overrides}
    with pytest.raises(error, match=message):
        make_config(**arguments)


def test_from_dict_rejects_unknown_fields():
    values = make_config("alexnet", "fp32").to_dict() | {"colour": "red"}
    with pytest.raises(ValueError, match="colour"):
        TrainConfig.from_dict(values)


def test_small_nets_have_their_own_profile_rows():
    quick = make_config("mlp", "binary")
    assert (quick.image_size, quick.width, quick.epochs, quick.augment) == (28, 1.0, 5, False)
    assert quick.learning_rate == 0.01 and quick.lr_schedule == "cosine" and quick.batch_norm
    smoke = make_config("small_cnn", "int4", profile="smoke")
    assert smoke.epochs == 1 and smoke.limit == 128 and smoke.image_size == 28


# TrainConfig(model="alexnet", precision="binary", image_size=67) field by field, typed
# here: the fields a config had before the later options (magnitude_aware_sign,
# activation_range, weight_range, activation, block_layers, block_filters) existed. A
# record's name ends in the first 10 hex digits of the SHA-256 of this dict as canonical JSON
# (keys sorted, no spaces), so that records written before an option existed keep their name.
FIRST_FIELDS = {
    "model": "alexnet", "precision": "binary", "dataset": "mnist5k", "profile": "quick",
    "image_size": 67, "width": 1.0, "epochs": 5, "batch_size": 64, "optimizer": "adam",
    "learning_rate": 0.001, "lr_schedule": "constant", "warmup_epochs": 0,
    "loss": "categorical_crossentropy", "early_stopping_patience": None, "dropout": None,
    "seed": 0, "bn_momentum": 0.9, "batch_norm": None, "quantize_first": False,
    "quantize_last": False, "pad_value": 1.0, "bn_after_pool": True, "augment": False,
    "limit": None, "bop_threshold": 1e-08, "bop_gamma": 0.0001,
}


def _sha256_of_canonical_json(fields: dict) -> str:
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def test_reference_block_fields_leave_existing_hashes_alone():
    assert TrainConfig(model="alexnet", precision="binary", image_size=67).config_hash() == (
        _sha256_of_canonical_json(FIRST_FIELDS))
    # a later field that is used enters the hash
    googlenet = {**FIRST_FIELDS, "model": "googlenet", "precision": "int8", "image_size": 48,
                 "activation": "hardtanh"}
    assert TrainConfig(model="googlenet", precision="int8", image_size=48,
                       activation="hardtanh").config_hash() == (
        _sha256_of_canonical_json(googlenet))
    default = make_config("qnn", "int4", profile="quick")
    sized = default.replace(block_layers=(1, 1, 1))
    assert sized.config_hash() != default.config_hash()
    assert sized.replace(block_layers=None).config_hash() == default.config_hash()


def test_reference_profiles():
    for name in ("lenet5", "vgg7", "qnn"):
        smoke = make_config(name, "binary", profile="smoke")
        assert (smoke.image_size, smoke.epochs, smoke.limit) == (28, 1, 128)
        assert smoke.width <= 0.25
        quick = make_config(name, "binary", profile="quick")
        assert quick.batch_norm and not quick.augment
        assert (quick.learning_rate, quick.lr_schedule) == (1e-2, "cosine")
        assert make_config(name, "fp32", profile="full").image_size >= 28
    assert make_config("lenet5", "fp32").image_size == 28
    assert make_config("vgg7", "fp32").image_size == 32
    assert make_config("qnn", "int4").image_size == 28
