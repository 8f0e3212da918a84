"""Tests for utils.train, the training runner: records, resume, caching, early stopping,
distribution, CLI, train_precisions and a bit-width sweep.

Runs use the smoke profile (smallest inputs, width 1/16, a few dozen images). Tests that need
controlled labels train on a small synthetic dataset served through ``utils.data``'s
``DatasetSplits``, with the validation and test splits being the same images, so that the
test metrics of the restored weights can be compared with a validation epoch's metrics.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import utils.train
from utils.config import dry_run_of, make_config
from utils.data import DatasetSplits
from utils.names import precision_for_bits
from utils.records import (
    code_fingerprint,
    find_records,
    format_record,
    load_record,
    staleness,
    write_json_atomic,
)
from utils.tables import bits_table
from utils.train import run_experiment, train_precisions

REPO = Path(__file__).resolve().parents[1]

RECORD_KEYS = {
    "run_name", "config", "config_hash", "dataset", "environment", "history", "epoch_seconds",
    "epochs_run", "stopped_early", "resumed_at_epoch", "best_epoch", "best_val_accuracy",
    "best_val_loss", "final_val_accuracy", "final_val_loss", "test_accuracy", "test_loss",
    "confusion_matrix", "wall_time_s", "train_time_s", "train_images_per_s", "summary",
    "record_path", "model_path", "log_dir", "created", "notes", "code_fingerprint", "dry_run",
    "peak_memory",
}


def dirs(root: Path) -> dict:
    """run_experiment's output folders, all under ``root``."""
    return {name: root / folder for name, folder in (
        ("results_dir", "results"), ("checkpoint_dir", "checkpoints"),
        ("models_dir", "models"), ("logs_dir", "logs"))}


class EpochCounter(tf.keras.callbacks.Callback):
    """Records the epochs that ``fit`` actually runs."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


class Interrupted(Exception):
    """Stands for a crash or a disconnected runtime."""


class InterruptAfter(tf.keras.callbacks.Callback):
    """Raises at the end of epoch ``epoch`` (after the runner's own callbacks saved it)."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupted(f"interrupted after epoch {epoch}")


class SabotageFrom(tf.keras.callbacks.Callback):
    """From epoch ``start`` on, force the classifier to predict class 2 after every step.

    The synthetic validation/test labels are all class 0, so a sabotaged epoch has validation
    accuracy 0 and a large validation loss: it can never be the best epoch.
    """

    def __init__(self, start: int):
        super().__init__()
        self.start = start
        self.active = False

    def on_epoch_begin(self, epoch, logs=None):
        self.active = epoch >= self.start

    def on_train_batch_end(self, batch, logs=None):
        if self.active:
            layer = self.model.get_layer("classifier")
            kernel, bias = layer.get_weights()
            layer.set_weights([np.zeros_like(kernel), np.array([0.0, 0.0, 30.0], bias.dtype)])


def synthetic_splits(image_size: int, batch_size: int, size: int = 48) -> DatasetSplits:
    """Random images; training labels 0..2, validation = test = 16 images all of class 0."""
    rng = np.random.default_rng(0)
    shape = (image_size, image_size, 3)

    def pipeline(images, labels):
        return tf.data.Dataset.from_tensor_slices(
            (images, tf.one_hot(labels, 3))).batch(batch_size)

    train_images = rng.uniform(-1, 1, (size, *shape)).astype("float32")
    train_labels = rng.integers(0, 3, size)
    eval_images = rng.uniform(-1, 1, (16, *shape)).astype("float32")
    eval_labels = np.zeros(16, dtype=np.int64)
    evaluation = pipeline(eval_images, eval_labels)
    return DatasetSplits(
        name="synthetic", train=pipeline(train_images, train_labels), validation=evaluation,
        test=evaluation, class_names=["a", "b", "c"], image_shape=shape,
        batch_size=batch_size, augment=False, is_offline_standin=False,
        labels={"train": train_labels, "validation": eval_labels, "test": eval_labels},
    )


@pytest.fixture
def synthetic_data(monkeypatch):
    """Make run_experiment train on :func:`synthetic_splits`."""
    monkeypatch.setattr(utils.train, "load_dataset",
                        lambda name, image_size, batch_size, **kw: synthetic_splits(image_size,
                                                                                    batch_size))


# fp32 AlexNet (fast to trace) for the synthetic-data tests.
SYNTHETIC_CONFIG = make_config("alexnet", "fp32", profile="smoke", epochs=4,
                               early_stopping_patience=3)


# ---------------------------------------------------------------- records, no training


def test_write_json_atomic_converts_numpy_and_leaves_no_temporary(tmp_path):
    path = write_json_atomic(tmp_path / "sub" / "a.json",
                             {"x": np.float32(0.5), "n": np.int64(3), "a": np.arange(2)})
    assert json.loads(path.read_text()) == {"x": 0.5, "n": 3, "a": [0, 1]}
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]
    with pytest.raises(ValueError, match="not a training record"):
        load_record(path)


# ---------------------------------------------------------------- a real run on MNIST-5k


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory):
    """A binary AlexNet smoke run on real MNIST digits (64 images per split, 2 epochs)."""
    root = tmp_path_factory.mktemp("run")
    config = make_config("alexnet", "binary", profile="smoke")
    model, record = run_experiment(config, **dirs(root), verbose=0)
    return root, config, model, record


@pytest.mark.slow
def test_run_writes_a_complete_record(recorded_run):
    root, config, model, record = recorded_run
    assert set(record) == RECORD_KEYS
    assert record["peak_memory"]["self_mb"] > 50  # a process that has loaded TensorFlow
    assert record == load_record(root / "results" / f"{config.run_name}.json")
    assert record["config"] == config.to_dict()
    assert record["dry_run"] == (dry_run_of(config) or None)
    # the fingerprint of the code that trains binary AlexNet, so the record counts as current
    assert record["code_fingerprint"] == code_fingerprint("alexnet", "binary")
    assert staleness(record) is None
    assert record["history"]["epoch"] == [0, 1]
    assert all(len(values) == config.epochs for values in record["history"].values())
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(record["history"])
    assert 0.0 <= record["test_accuracy"] <= 1.0 and np.isfinite(record["test_loss"])
    assert record["dataset"]["is_offline_standin"] and record["dataset"]["sizes"] == {
        "train": 64, "validation": 64, "test": 64}
    assert any("offline stand-in" in note for note in record["notes"])
    matrix = np.array(record["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 64
    assert np.trace(matrix) / 64 == pytest.approx(record["test_accuracy"])
    assert record["summary"]["params_1bit"] > 0
    assert record["train_images_per_s"] > 0 and record["wall_time_s"] > 0
    assert set(record["environment"]) >= {"python", "tensorflow", "tf_keras", "larq", "numpy",
                                          "platform", "cpu", "device", "strategy"}
    assert not (root / "checkpoints" / record["config_hash"]).exists()
    assert list((root / "logs" / record["config_hash"]).rglob("events.out.tfevents*"))
    assert "test accuracy" in format_record(record)


@pytest.mark.slow
def test_saved_model_reloads_and_predicts_the_same(recorded_run):
    _, _, model, record = recorded_run
    images = np.random.default_rng(0).uniform(-1, 1, (4, 67, 67, 3)).astype("float32")
    reloaded = tf.keras.models.load_model(record["model_path"])
    np.testing.assert_allclose(reloaded.predict(images, verbose=0),
                               model.predict(images, verbose=0), atol=1e-6)


@pytest.mark.slow
def test_recorded_run_is_reused_and_force_retrains(recorded_run, monkeypatch):
    root, config, _, record = recorded_run

    def no_fit(*args, **kwargs):
        raise AssertionError("a recorded run must not train again")

    with monkeypatch.context() as patch:
        patch.setattr(tf.keras.Model, "fit", no_fit)
        model, cached = run_experiment(config, **dirs(root), verbose=0)
    assert cached == record and model is not None

    assert find_records(root / "results", model="alexnet", precision=["binary"]) == [record]
    assert find_records(root / "results", precision="fp32") == []

    counter = EpochCounter()
    _, retrained = run_experiment(config, **dirs(root), verbose=0, force=True,
                                  callbacks=[counter])
    assert counter.epochs == [0, 1]
    assert retrained["created"] >= record["created"]
    assert retrained["history"]["epoch"] == [0, 1]


# ---------------------------------------------------------------- resume, early stopping


@pytest.mark.slow
def test_interrupted_run_resumes_where_it_stopped(tmp_path, synthetic_data):
    config = SYNTHETIC_CONFIG
    paths = dirs(tmp_path)
    first = EpochCounter()
    with pytest.raises(Interrupted):
        run_experiment(config, **paths, verbose=0, callbacks=[first, InterruptAfter(1)])
    work = tmp_path / "checkpoints" / config.config_hash()
    assert first.epochs == [0, 1]
    assert sorted(json.loads((work / "history.json").read_text())) == ["0", "1"]
    assert (work / "backup").exists()
    assert not (tmp_path / "results").exists()

    second = EpochCounter()
    _, record = run_experiment(config, **paths, verbose=0, callbacks=[second, SabotageFrom(2)])
    assert second.epochs == [2, 3]  # continued, not restarted
    assert record["history"]["epoch"] == [0, 1, 2, 3]
    assert all(len(values) == 4 for values in record["history"].values())
    assert record["resumed_at_epoch"] == 2
    # Epochs 2 and 3 are sabotaged, so the best weights come from before the interruption.
    best = record["best_epoch"]
    assert best in (0, 1)
    assert record["test_loss"] == pytest.approx(record["history"]["val_loss"][best], rel=1e-5)
    assert record["history"]["val_loss"][3] > 10 * record["test_loss"]
    assert not work.exists()


@pytest.mark.slow
def test_early_stopping_restores_the_best_weights(tmp_path, synthetic_data):
    config = SYNTHETIC_CONFIG.replace(early_stopping_patience=1)
    counter = EpochCounter()
    _, record = run_experiment(config, **dirs(tmp_path), verbose=0,
                               callbacks=[counter, SabotageFrom(1)])
    assert counter.epochs == [0, 1]  # stopped one epoch after the best
    history = record["history"]
    assert record["stopped_early"] and record["best_epoch"] == 0
    assert history["val_accuracy"][1] == 0.0
    assert record["test_loss"] == pytest.approx(history["val_loss"][0], rel=1e-5)
    assert record["test_accuracy"] == pytest.approx(history["val_accuracy"][0])
    assert history["val_loss"][1] > 10 * record["test_loss"]


# ---------------------------------------------------------------- distribution, CLI

MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import utils
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    from utils.config import make_config
    from utils.train import run_experiment

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    config = make_config("alexnet", "binary", profile="smoke", epochs=1, limit=32,
                         optimizer="bop")
    root = sys.argv[1]
    model, record = run_experiment(
        config, results_dir=f"{root}/results", checkpoint_dir=f"{root}/checkpoints",
        models_dir=f"{root}/models", logs_dir=f"{root}/logs", strategy=strategy, verbose=0)
    kernel = model.get_layer("conv2").kernel
    print(json.dumps({
        "replicas": model.distribute_strategy.num_replicas_in_sync,
        "mirrored": type(kernel.latent_variable).__name__,
        "strategy": record["environment"]["strategy"],
        "loss": record["history"]["loss"],
        "test_accuracy": record["test_accuracy"],
    }))
    """
)


@pytest.mark.slow
def test_larq_model_trains_under_mirrored_strategy(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(tmp_path)], cwd=REPO,
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["mirrored"] == "MirroredVariable"
    assert report["strategy"] == "MirroredStrategy, 2 replicas"
    assert len(report["loss"]) == 1 and np.isfinite(report["loss"][0])
    assert 0.0 <= report["test_accuracy"] <= 1.0


def test_cli_rejects_an_invalid_precision_with_status_2():
    result = subprocess.run(
        [sys.executable, "-m", "utils.train", "--model", "alexnet", "--precision", "int99"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "invalid choice: 'int99'" in result.stderr and "'fp32', 'binary'" in result.stderr


def test_cli_rejects_an_invalid_model_and_lists_choices_in_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        utils.train.main(["--model", "resnet", "--precision", "binary"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'resnet' (choose from 'alexnet', 'googlenet', 'mlp', " in (
        capsys.readouterr().err)
    with pytest.raises(SystemExit) as exit_info:
        utils.train.main(["--help"])
    assert exit_info.value.code == 0
    output = capsys.readouterr().out
    for choice in ("googlenet", "int8", "smoke", "quick", "full", "mnist5k", "cats_and_dogs"):
        assert choice in output


def test_cli_sets_the_model_options_of_the_ablations():
    config, _ = utils.train.config_from_args([
        "--model", "alexnet", "--precision", "binary", "--profile", "smoke",
        "--magnitude-aware-sign", "--no-bn-after-pool", "--quantize-last", "--dropout", "0",
        "--pad-value", "0", "--optimizer", "bop", "--bop-gamma", "0.001"])
    assert config.magnitude_aware_sign and config.quantize_last
    assert not config.bn_after_pool and not config.quantize_first  # unset keeps the default
    assert (config.dropout, config.pad_value, config.optimizer, config.bop_gamma) == (
        0.0, 0.0, "bop", 0.001)
    default, _ = utils.train.config_from_args(
        ["--model", "alexnet", "--precision", "binary", "--profile", "smoke"])
    assert default == utils.train.make_config("alexnet", "binary", profile="smoke")


def test_cli_refuses_magnitude_aware_sign_on_a_float_net(capsys):
    with pytest.raises(SystemExit) as exit_info:
        utils.train.config_from_args(["--model", "alexnet", "--precision", "fp32",
                                      "--magnitude-aware-sign"])
    assert exit_info.value.code == 2
    assert "magnitude_aware_sign" in capsys.readouterr().err


# ---------------------------------------------------------------- determinism


@pytest.mark.slow
def test_the_same_config_and_seed_give_the_same_record_and_weights(tmp_path):
    """Two runs of one config (shuffling and augmentation on, a binary network) agree bit
    for bit: history, test metrics, confusion matrix and every weight."""
    config = make_config("alexnet", "binary", profile="smoke", augment=True, epochs=2,
                         limit=48, batch_size=8)
    _, first = run_experiment(config, **dirs(tmp_path / "a"), verbose=0)
    _, second = run_experiment(config, **dirs(tmp_path / "b"), verbose=0)
    for key in ("history", "test_accuracy", "test_loss", "confusion_matrix", "best_epoch"):
        assert first[key] == second[key], key
    weights = [tf.keras.models.load_model(record["model_path"]).get_weights()
               for record in (first, second)]
    assert all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))
    other = run_experiment(config.replace(seed=1), **dirs(tmp_path / "c"), verbose=0)[1]
    assert other["history"]["loss"] != first["history"]["loss"]  # the seed does matter


# ---------------------------------------------------------------- train_precisions


@pytest.mark.slow
def test_required_model_is_trained_again_and_compared_with_its_record(tmp_path, capsys):
    results = tmp_path / "results"
    (first,) = train_precisions("alexnet", "mnist5k", "smoke", ["fp32"], results_dir=results,
                                verbose=0)
    assert first["config"]["seed"] == 0
    model_path = tmp_path / "models" / f"{first['run_name']}.keras"
    assert model_path.exists()
    model_path.unlink()  # as in a fresh clone: records are committed, models are not

    (cached,) = train_precisions("alexnet", "mnist5k", "smoke", ["fp32"], results_dir=results,
                                 verbose=0)
    assert cached["created"] == first["created"] and not model_path.exists()

    (again,) = train_precisions("alexnet", "mnist5k", "smoke", ["fp32"], results_dir=results,
                                require_model=True, verbose=0)
    assert model_path.exists()
    assert again["created"] >= first["created"]
    output = capsys.readouterr().out
    # Deterministic training: the same config and seed give the same record here.
    assert again["reproduction"]["identical"], again["reproduction"]["summary"]
    assert "reproduced the recorded run exactly" in output
    assert again["history"] == first["history"]


@pytest.mark.slow
def test_several_seeds_give_one_record_each(tmp_path):
    records = train_precisions("alexnet", "mnist5k", "smoke", ["fp32"], seeds=(0, 1),
                               results_dir=tmp_path / "results", verbose=0, epochs=1, limit=32)
    assert [record["config"]["seed"] for record in records] == [0, 1]
    assert len({record["config_hash"] for record in records}) == 2


# ---------------------------------------------------------------- a bit-width sweep


@pytest.mark.slow
def test_a_bit_width_sweep_trains_through_the_runner(tmp_path):
    from utils.train import run_configs

    configs = [make_config("small_cnn", precision_for_bits(bits), profile="smoke", limit=64)
               for bits in (1, 8, 32)]
    records = run_configs(configs, results_dir=tmp_path / "results", verbose=0)
    assert {path.stem.split("_")[2] for path in (tmp_path / "results").glob("*.json")} == {
        "binary", "int8", "fp32"}
    table = bits_table(records)
    assert table["bits"].tolist() == [1, 8, 32]
    assert table["test_accuracy"].between(0, 1).all()
    assert table["params"].between(0.99 * table["params"].max(), table["params"].max()).all()
    assert np.all(np.diff(table["memory_kib"]) > 0)  # memory grows with the bit width
    assert table.loc[2, "compression"] == pytest.approx(1.0)
    assert set(table.attrs["histories"]) == {"binary", "int8", "fp32"}
    assert all(record["dataset"]["is_offline_standin"] for record in records)
