"""Tests for utils.bench: the training benchmark writes a well-formed report (no timing
assertions)."""

import json

import pandas as pd
import pytest

from utils import bench
from utils.bench import main
from utils.config import make_config


@pytest.mark.slow
def test_tiny_training_bench_writes_a_report(tmp_path, capsys):
    out = tmp_path / "bench_train.json"
    main(["train", "--models", "alexnet", "--precisions", "fp32", "binary", "--image-size",
          "min", "--width", "0.0625", "--batch-size", "4", "--steps", "1", "--warmup", "1",
          "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["benchmark"] == "train"
    assert {"python", "tensorflow", "larq", "device", "strategy"} <= set(report["environment"])
    assert report["settings"] | {"image_size": "min", "width": 0.0625, "batch_size": 4,
                                 "steps": 1, "warmup_steps": 1} == report["settings"]
    alexnet = report["models"]["alexnet"]
    assert alexnet["image_size"] == 67 and set(alexnet["precisions"]) == {"fp32", "binary"}
    for figures in alexnet["precisions"].values():
        assert figures["images_per_s"] > 0 and figures["step_ms"] > 0
        assert figures["ratio_to_fp32"] == pytest.approx(
            figures["images_per_s"] / alexnet["precisions"]["fp32"]["images_per_s"])
    cost = report["determinism_cost"]["alexnet"]
    assert set(cost) == {"fp32", "binary"} and all(ratio > 0 for ratio in cost.values())
    without = report["without_determinism"]["alexnet"]["precisions"]["binary"]
    assert cost["binary"] == pytest.approx(
        without["images_per_s"] / alexnet["precisions"]["binary"]["images_per_s"])
    assert "images/s" in capsys.readouterr().out


def test_bench_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--image-size", "large"])
    assert exit_info.value.code == 2
    assert "min, quick, full or a number of pixels" in capsys.readouterr().err


@pytest.mark.slow
def test_run_time_table_estimates_a_t4_and_times_this_machine():
    table = bench.run_time_table("alexnet", "mnist5k", "smoke", precisions=("binary", "fp32"),
                                 limit=128)
    assert list(table.index) == ["binary", "fp32", "all"]
    row = table.loc["binary"]
    config = make_config("alexnet", "binary", profile="smoke", limit=128)
    estimate = bench.t4_estimate(config, train_images=128, validation_images=128)
    assert row["T4 estimate: hours"] == pytest.approx(estimate["run_h"])
    # 6 FLOPs per MAC per training image, 2 per validation image, at the assumed rate
    macs = estimate["macs_per_image"]
    assert estimate["epoch_s"] == pytest.approx(8 * 128 * macs / bench.T4_EFFECTIVE_FLOPS)
    assert row["here: s per step"] > 0
    assert row["here: s per epoch"] == pytest.approx(row["here: s per step"] * 128 / 16)
    assert table.loc["all", "here: hours"] == pytest.approx(table["here: hours"][:2].sum())
    assert pd.isna(table.loc["all", "epochs"])
