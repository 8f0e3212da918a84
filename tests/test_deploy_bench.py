"""Tests for utils.deploy_bench: the deployment benchmark's tables and refusals. A whole
smoke-profile run is checked by ``check_deployment_record`` below, on the record that notebook
06 writes in ``tests/test_pipeline.py`` (one run of the benchmark serves both)."""

import json
from pathlib import Path

import pandas as pd
import pytest

import utils  # noqa: F401  (selects tf-keras)
from utils.deploy_bench import run_deployment_bench
from utils.environment import lce_available
from utils.tables import (
    BINARY_RATIO_GOAL,
    binary_ratio_ceiling,
    composition_table,
    size_table,
)

FILES = {"fp32", "int8_from_fp32", "int8_from_fp32_per_tensor", "int8_from_int8",
         "int8_qat"} | (
    {"binary"} if lce_available() else set())


def check_deployment_record(record: dict, results: Path) -> None:
    """What a smoke run of the benchmark must have measured and written."""
    assert json.loads((results / "bench_deploy.json").read_text()) == record
    assert record["profile"] == "smoke"
    assert record["goal_ratios"] == {"binary": BINARY_RATIO_GOAL}
    assert record["int8_ratio_limit"] == 4.0
    for entry in record["full_size"]["files"] + record["trained"]["files"]:
        if entry.get("bytes"):  # every file made is explained to within one percent
            assert entry["bytes"]["accounted_percent"] >= 99.0, entry["file"]
            assert sum(entry["bytes"]["kinds"].values()) + entry["bytes"]["padding"] == \
                entry["size_bytes"]
    full = size_table(record)
    # smoke measures AlexNet's files only (GoogLeNet's conversions: tests/test_deploy.py and
    # tests/test_full_path.py), each step in the notebook's own process
    assert set(full.index.get_level_values("architecture")) == {"alexnet"}
    assert [step["step"] for step in record["full_size"]["steps"]] == ["full size alexnet"]
    assert [step["step"] for step in record["trained"]["steps"]] == [
        "trained alexnet on mnist5k"]
    assert not any(step["own_process"] for step in record["trained"]["steps"])
    assert all(step["peak_mb"] > 0 for step in record["trained"]["steps"])
    for architecture in ("alexnet",):
        rows = full.loc[architecture]
        assert set(rows.index) == FILES
        assert rows.loc["fp32", "ratio_vs_fp32"] == 1.0
        for kind in FILES - {"fp32"}:
            # the size goals are defined for the full-size networks, so a smoke width
            # (1/16) is measured but not judged
            assert pd.isna(rows.loc[kind, "goal_ratio"])
            assert pd.isna(rows.loc[kind, "meets_goal"])
            assert rows.loc[kind, "ratio_vs_fp32"] > 1  # smaller, even at width 1/16
        assert (rows[["latency_ms_1_threads", "latency_ms_2_threads"]] > 0).all().all()
    assert set(size_table(record, "trained").index.get_level_values("architecture")) == {
        "alexnet"}
    for architecture in ("alexnet",):
        trained = size_table(record, "trained").loc[(architecture, "mnist5k")]
        assert set(trained.index) == FILES
        assert "goal_ratio" not in trained  # the goals are for full-size files
        # A file a tiny smoke-trained network makes may not run (TFLite refuses some int8
        # files of barely trained networks); its row then says why instead of a number.
        measured = trained[trained["status"] == "measured"]
        unmeasured = trained[trained["status"] != "measured"]
        assert unmeasured["status"].str.contains("could not run it|not made").all()
        assert len(measured) >= len(trained) - 1
        assert measured["keras_accuracy"].between(0, 1).all()
        changes = 100 * (measured["tflite_accuracy"] - measured["keras_accuracy"])
        assert changes.round(6).tolist() == measured["accuracy_change_points"].round(6).tolist()
    assert record["trained"]["files"][0]["offline_standin"] is True



def test_composition_table_in_kilobytes_and_percent():
    def entry(kind, size, kinds, padding):
        return {"architecture": "net", "file": kind, "size_bytes": size, "bytes": {
            "kinds": kinds, "padding": padding, "float_tensors": [],
            "accounted_percent": 100 * (1 - padding / size)}}

    record = {"full_size": {"files": [
        entry("binary", 10000, {"bit-packed binary weights": 8000,
                                "float32 weights and biases": 1400, "tensor names": 100,
                                "graph: operators": 400}, 100),
        entry("fp32", 40500, {"float32 weights and biases": 40000, "graph: operators": 400},
              100),
    ]}}
    kilobytes = composition_table(record)
    assert list(kilobytes.columns) == ["float32 weights and biases", "bit-packed binary weights",
                                       "graph: operators", "tensor names", "alignment padding",
                                       "accounted %"]
    assert kilobytes.loc[("net", "binary")].tolist()[:5] == [1.4, 8.0, 0.4, 0.1, 0.1]
    assert kilobytes.loc[("net", "binary"), "accounted %"] == pytest.approx(99.0)
    percent = composition_table(record, percent=True)
    assert percent.loc[("net", "binary"), "bit-packed binary weights"] == pytest.approx(80.0)
    assert percent.drop(columns="accounted %").sum(axis=1).tolist() == pytest.approx(
        [100.0, 100.0])


def test_unknown_profile_is_refused(tmp_path):
    with pytest.raises(ValueError, match="accepted: smoke, quick, full"):
        run_deployment_bench("huge", tmp_path)


def _binary_entry(size, floats, names=0):
    return {"architecture": "net", "file": "binary", "size_bytes": size, "bytes": {
        "kinds": {"tensor names": names}, "padding": 0,
        "float_tensors": [{"op": op, "bytes": value} for op, value in floats.items()]}}


def test_binary_ratio_ceiling_counts_only_packed_weights_and_structure():
    record = {"full_size": {"files": [
        {"architecture": "net", "file": "fp32", "size_bytes": 32000, "bytes": {"kinds": {}}},
        _binary_entry(2000, {"LceBconv2d": 1000}, names=60),
    ]}}
    table = binary_ratio_ceiling(record)
    assert table.loc["net", "ratio"] == 16.0
    # without floats and names: 2000 - 1000 - 60 = 940 bytes
    assert table.loc["net", "ceiling (weights and structure only)"] == pytest.approx(32000 / 940)
    assert table.loc["net", "per-channel and float bytes (KB)"] == pytest.approx(1.06)
    # Folded: multipliers and biases halve to one threshold each, names go: 940 + 500.
    assert table.loc["net", "with every exact fold"] == pytest.approx(32000 / 1440)


def test_the_size_table_shows_a_conversion_column_only_when_some_file_was_split():
    def record(conversion):
        return {"full_size": {"files": [
            {"architecture": "net", "file": "fp32", "size_bytes": 400, "conversion": None},
            {"architecture": "net", "file": "int8_qat", "size_bytes": 100,
             "conversion": conversion}]}}

    assert "conversion" not in size_table(record(""))
    assert "conversion" not in size_table({"full_size": {"files": [  # records made before
        {"architecture": "net", "file": "fp32", "size_bytes": 400}]}})
    shown = size_table(record("fc6 (8 weights) converted as 2 parts of 2 output channels"))
    assert shown.loc[("net", "fp32"), "conversion"] == ""
    assert shown.loc[("net", "int8_qat"), "conversion"].startswith("fc6 (8 weights)")


def test_binary_ratio_ceiling_folds_the_first_layer_to_bits():
    record = {"full_size": {"files": [
        {"architecture": "net", "file": "fp32", "size_bytes": 64000, "bytes": {"kinds": {}}},
        _binary_entry(7200, {"CONV_2D": 3200, "MUL": 800, "ADD": 800, "FULLY_CONNECTED": 400}),
    ]}}
    # 2000 + 3200 / 32 + (800 + 800) / 2 + 400 = 3300 bytes
    assert binary_ratio_ceiling(record).loc["net", "with every exact fold"] == pytest.approx(
        64000 / 3300)


def test_the_full_size_measurement_is_reused_only_under_the_same_key(tmp_path):
    from utils.deploy_bench import DEPLOY_PROFILES, _reusable_full_size, full_size_key

    key = full_size_key(DEPLOY_PROFILES["smoke"])
    assert key["settings"]["width"] == DEPLOY_PROFILES["smoke"]["width"]
    assert len(key["code"]) == 10 and key["cpu"] and key["versions"]["tensorflow"]
    assert key != full_size_key(DEPLOY_PROFILES["quick"])  # other settings, other key
    out = tmp_path / "bench_deploy.json"
    assert _reusable_full_size(out, key) is None  # nothing measured yet
    full = {"key": key, "measured": "2026-12-02T08:00:00+00:00", "files": []}
    out.write_text(json.dumps({"full_size": full}))
    assert _reusable_full_size(out, key) == full
    elsewhere = {**key, "cpu": "Another CPU"}
    assert _reusable_full_size(out, elsewhere) is None
    out.write_text(json.dumps({"full_size": {**full, "key": {**key, "code": "0000000000"}}}))
    assert _reusable_full_size(out, key) is None  # the code changed since


def test_a_step_runs_in_its_own_process_and_reports_its_cost():
    import os

    from utils.deploy_bench import _run_step

    pid, cost = _run_step("which process", True, os.getpid)
    assert pid != os.getpid()  # a fresh process: its memory is returned when it ends
    assert cost["step"] == "which process" and cost["own_process"] and cost["seconds"] >= 0
    assert cost["peak_mb"] > 50  # a Python with utils (and TensorFlow) imported
    pid, cost = _run_step("here", False, os.getpid)
    assert pid == os.getpid() and not cost["own_process"] and cost["peak_mb"] > 50


@pytest.mark.slow
def test_untrained_qat_kernels_get_the_ranges_a_training_step_gives_them():
    """Left at tfmot's starting range [-6, 6], small untrained kernels would round to int8
    zeros, which the converter stores once per shape: the full-size files would be too small."""
    import numpy as np

    from utils import deploy_bench
    from utils.models import build_model

    model = build_model("alexnet", "int8_qat", (67, 67, 3), 2, width=0.0625)
    wrapper = model.get_layer("quant_conv2")
    low, high = (next(weight for weight in wrapper.weights if weight.name.endswith(end))
                 for end in ("kernel_min:0", "kernel_max:0"))
    assert np.all(high.numpy() == 6.0) and np.all(low.numpy() == -6.0)
    images = np.random.default_rng(0).random((2, 67, 67, 3), dtype=np.float32)
    deploy_bench._set_weight_ranges(model, images)
    largest = np.abs(wrapper.layer.kernel.numpy()).max(axis=(0, 1, 2))  # per output channel
    np.testing.assert_allclose(high.numpy(), largest, rtol=1e-6)
    np.testing.assert_allclose(low.numpy(), -largest, rtol=1e-6)
    float_model = build_model("alexnet", "fp32", (67, 67, 3), 2, width=0.0625, batch_norm=True)
    before = [weight.numpy() for weight in float_model.weights]
    deploy_bench._set_weight_ranges(float_model, images)  # other networks are left alone
    # (a training step would move their batch-norm statistics)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, float_model.weights,
                                                            strict=True))
