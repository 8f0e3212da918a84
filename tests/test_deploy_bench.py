"""The deployment benchmark: one run measures full-size and trained files, and records them."""

import json
from pathlib import Path

import pytest

import utils  # noqa: F401  (selects tf-keras)
from utils.deploy import ACCURACY_TOLERANCE_POINTS, lce_available
from utils.deploy_bench import (
    BINARY_RATIO_GOAL,
    INT8_RATIO_GOAL,
    binary_ratio_ceiling,
    composition_table,
    run_deployment_bench,
    size_table,
)
from utils.experiments import train_precisions

FILES = {"fp32", "int8_from_fp32", "int8_from_int8"} | ({"binary"} if lce_available() else set())


def test_composition_table_in_kilobytes_and_percent():
    record = {"full_size": {"files": [
        {"architecture": "net", "file": "binary", "size_bytes": 10000, "composition_bytes": {
            "LceBconv2d/INT32": 8000, "LceBconv2d/FLOAT32": 1000, "MUL/FLOAT32": 400,
            "tensor names": 100, "structure": 500}},
        {"architecture": "net", "file": "fp32", "size_bytes": 40500, "composition_bytes": {
            "CONV_2D/FLOAT32": 40000, "structure": 500}},
    ]}}
    kilobytes = composition_table(record)
    assert list(kilobytes.columns) == ["CONV_2D/FLOAT32", "LceBconv2d/INT32",
                                       "LceBconv2d/FLOAT32", "MUL/FLOAT32", "tensor names",
                                       "structure"]
    assert kilobytes.loc[("net", "binary")].tolist() == [0.0, 8.0, 1.0, 0.4, 0.1, 0.5]
    percent = composition_table(record, percent=True)
    assert percent.loc[("net", "binary"), "LceBconv2d/INT32"] == pytest.approx(80.0)
    assert percent.sum(axis=1).tolist() == pytest.approx([100.0, 100.0])


def test_unknown_profile_is_refused(tmp_path):
    with pytest.raises(ValueError, match="accepted: smoke, quick, full"):
        run_deployment_bench("huge", tmp_path)


def test_smoke_bench_measures_full_size_and_trained_files(tmp_path):
    results = tmp_path / "results"
    train_precisions("alexnet", "mnist5k", "smoke", results_dir=results, verbose=0)
    record = run_deployment_bench("smoke", results, files_dir=tmp_path / "files")

    assert json.loads((results / "bench_deploy.json").read_text()) == record
    full = size_table(record)
    assert set(full.index.get_level_values("architecture")) == {"alexnet", "googlenet"}
    for architecture in ("alexnet", "googlenet"):
        rows = full.loc[architecture]
        assert set(rows.index) == FILES
        assert rows.loc["fp32", "ratio_vs_fp32"] == 1.0
        for kind in FILES - {"fp32"}:
            goal = BINARY_RATIO_GOAL if kind == "binary" else INT8_RATIO_GOAL
            assert rows.loc[kind, "goal_ratio"] == goal
            assert rows.loc[kind, "meets_goal"] == (rows.loc[kind, "ratio_vs_fp32"] >= goal)
            assert rows.loc[kind, "ratio_vs_fp32"] > 1  # smaller, even at width 1/16
        assert (rows[["latency_ms_1_threads", "latency_ms_2_threads"]] > 0).all().all()
    for entry in record["full_size"]["files"]:  # the sizes are those of real files
        path = tmp_path / "files" / "full_size" / f"{entry['architecture']}_{entry['file']}.tflite"
        assert path.stat().st_size == entry["size_bytes"]

    trained = size_table(record, "trained").loc[("alexnet", "mnist5k")]
    assert set(trained.index) == FILES
    assert "goal_ratio" not in trained  # the goals are for full-size files
    assert trained["keras_accuracy"].between(0, 1).all()
    changes = 100 * (trained["tflite_accuracy"] - trained["keras_accuracy"])
    assert changes.round(6).tolist() == trained["accuracy_change_points"].round(6).tolist()
    assert (trained["accuracy_preserved"]
            == (changes.abs() <= ACCURACY_TOLERANCE_POINTS)).all()
    assert record["trained"]["files"][0]["offline_standin"] is True
    assert record["trained"]["all_preserved"] == bool(trained["accuracy_preserved"].all())
    assert Path(tmp_path / "files" / "trained" / "alexnet_fp32.tflite").exists()


def test_binary_ratio_ceiling_counts_only_packed_weights_and_structure():
    record = {"full_size": {"files": [
        {"architecture": "net", "file": "fp32", "size_bytes": 32000,
         "composition_bytes": {"CONV_2D/FLOAT32": 31500, "structure": 500}},
        {"architecture": "net", "file": "binary", "size_bytes": 2000, "composition_bytes": {
            "LceBconv2d/INT32": 900, "LceBconv2d/FLOAT32": 1000, "tensor names": 60,
            "structure": 40}},
    ]}}
    table = binary_ratio_ceiling(record)
    assert table.loc["net", "ratio"] == 16.0
    assert table.loc["net", "ceiling (weights and structure only)"] == 32.0
    assert table.loc["net", "per-channel and float bytes (KB)"] == 1.0
    # Folded: multipliers and biases halve to one threshold each, names go: 900 + 500 + 40.
    assert table.loc["net", "with every exact fold"] == pytest.approx(32000 / 1440)


def test_binary_ratio_ceiling_folds_the_first_layer_to_bits():
    record = {"full_size": {"files": [
        {"architecture": "net", "file": "fp32", "size_bytes": 64000, "composition_bytes": {}},
        {"architecture": "net", "file": "binary", "size_bytes": 7200, "composition_bytes": {
            "LceBconv2d/INT32": 1000, "CONV_2D/FLOAT32": 3200, "MUL/FLOAT32": 800,
            "ADD/FLOAT32": 800, "FULLY_CONNECTED/FLOAT32": 400, "structure": 1000}},
    ]}}
    # 1000 + 3200 / 32 + (800 + 800) / 2 + 400 + 1000 = 3300 bytes
    assert binary_ratio_ceiling(record).loc["net", "with every exact fold"] == pytest.approx(
        64000 / 3300)
