"""Tests for utils.bench: the training benchmark writes a well-formed record (no timing
assertions), its verdicts on synthetic numbers, and its table and report paragraph."""

import json
import statistics

import pandas as pd
import pytest

from utils import bench
from utils.bench import main, noise_verdict, width_for
from utils.config import T4_EFFECTIVE_FLOPS, make_config
from utils.report import _bench_section
from utils.tables import training_bench_table


@pytest.mark.slow
def test_tiny_training_bench_writes_a_report(tmp_path, capsys):
    out = tmp_path / "bench_train.json"
    main(["train", "--models", "alexnet", "--precisions", "fp32", "binary", "--image-size",
          "min", "--width", "0.0625", "--batch-size", "4", "--steps", "2", "--warmup", "1",
          "--repeats", "2", "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["benchmark"] == "train"
    assert {"python", "tensorflow", "larq", "device", "strategy", "cpu"} <= set(
        report["environment"])
    assert report["settings"] | {"image_size": "min", "width": 0.0625, "batch_size": 4,
                                 "steps": 2, "warmup_steps": 1, "repeats": 2,
                                 "widths": {"alexnet": 0.0625},
                                 "image_sizes": {"alexnet": 67}} == report["settings"]
    assert {"statistic", "spread", "verdict"} <= set(report["settings"])
    for part in ("models", "without_determinism"):
        alexnet = report[part]["alexnet"]
        assert alexnet["image_size"] == 67 and alexnet["width"] == 0.0625
        assert set(alexnet["precisions"]) == {"fp32", "binary"}
        fp32 = alexnet["precisions"]["fp32"]
        for figures in alexnet["precisions"].values():
            repeats = figures["images_per_s_repeats"]
            assert len(repeats) == 2 and all(value > 0 for value in repeats)
            assert figures["images_per_s"] == pytest.approx(statistics.median(repeats))
            assert (figures["images_per_s_min"], figures["images_per_s_max"]) == (
                min(repeats), max(repeats))
            assert figures["step_ms"] > 0
            assert figures["ratio_to_fp32"] == pytest.approx(
                figures["images_per_s"] / fp32["images_per_s"])
        assert fp32["vs_fp32"] is None
        assert alexnet["precisions"]["binary"]["vs_fp32"] == noise_verdict(
            alexnet["precisions"]["binary"]["images_per_s_repeats"],
            fp32["images_per_s_repeats"])
    cost = report["determinism_cost"]["alexnet"]
    assert set(cost) == {"fp32", "binary"} and all(ratio > 0 for ratio in cost.values())
    without = report["without_determinism"]["alexnet"]["precisions"]["binary"]
    with_ = report["models"]["alexnet"]["precisions"]["binary"]
    assert cost["binary"] == pytest.approx(without["images_per_s"] / with_["images_per_s"])
    assert report["determinism_verdict"]["alexnet"]["binary"] == noise_verdict(
        without["images_per_s_repeats"], with_["images_per_s_repeats"])
    assert "median images/s" in capsys.readouterr().out


def test_the_bench_defaults_to_the_trained_widths_and_five_repeats():
    for model in ("alexnet", "googlenet"):
        assert width_for(model, "quick") == make_config(model, "binary", profile="quick").width
        assert width_for(model, "full") == make_config(model, "fp32", profile="full").width
        assert width_for(model, "quick", 0.125) == 0.125
    # the issue: both networks were benchmarked at 0.25 while GoogLeNet trains at 0.5
    assert (width_for("alexnet", "quick"), width_for("googlenet", "quick")) == (0.25, 0.5)
    args = bench._parser().parse_args(["train"])
    assert (args.repeats, args.width, args.steps) == (5, None, 10)
    assert bench._parser().parse_args(["train", "--width", "1.0"]).width == 1.0


def test_the_verdict_is_beyond_the_noise_only_when_the_ranges_do_not_overlap():
    assert noise_verdict([80, 82, 81], [100, 98, 103]) == "beyond the noise"
    assert noise_verdict([100, 98, 103], [80, 82, 81]) == "beyond the noise"
    assert noise_verdict([80, 99, 81], [100, 98, 103]) == "within the noise"
    assert noise_verdict([80, 98], [98, 103]) == "within the noise"  # touching ends
    assert noise_verdict([90, 110], [95, 100]) == "within the noise"  # one inside the other
    assert noise_verdict([80], [100, 101]) == "not repeated"


def _figures(repeats):
    return {"images_per_s": statistics.median(repeats), "images_per_s_min": min(repeats),
            "images_per_s_max": max(repeats), "images_per_s_repeats": repeats,
            "step_ms": 1.0, "warmup_s": 1.0, "params_total": 10}


def _synthetic_record():
    precisions = {"fp32": _figures([100.0, 104.0, 98.0, 101.0, 99.0]),
                  "int8": _figures([80.0, 83.0, 79.0, 81.0, 82.0]),
                  "binary": _figures([97.0, 110.0, 102.0, 99.0, 103.0])}
    bench._add_ratios(precisions)
    return {"benchmark": "train",
            "environment": {"device": "CPU: test", "strategy": "default", "cpu": "test"},
            "settings": {"batch_size": 32, "steps": 10, "warmup_steps": 2, "repeats": 5,
                         "width": "as trained", "widths": {"googlenet": 0.5}},
            "models": {"googlenet": {"image_size": 48, "width": 0.5, "precisions": precisions}},
            "determinism_cost": {"googlenet": {"fp32": 1.05, "int8": 0.9, "binary": 1.0}},
            "determinism_verdict": {"googlenet": {"fp32": "within the noise",
                                                  "int8": "beyond the noise",
                                                  "binary": "within the noise"}}}


def test_ratios_to_fp32_are_ratios_of_medians_with_their_verdict():
    precisions = _synthetic_record()["models"]["googlenet"]["precisions"]
    assert precisions["fp32"]["ratio_to_fp32"] == 1.0 and precisions["fp32"]["vs_fp32"] is None
    assert precisions["int8"]["ratio_to_fp32"] == pytest.approx(81 / 100)
    assert precisions["int8"]["vs_fp32"] == "beyond the noise"
    assert precisions["binary"]["ratio_to_fp32"] == pytest.approx(102 / 100)
    assert precisions["binary"]["vs_fp32"] == "within the noise"


def test_training_bench_table_shows_medians_spread_ratios_and_verdicts():
    table = training_bench_table(_synthetic_record())
    assert list(table.columns) == ["image size", "width", "median images/s", "min images/s",
                                   "max images/s", "ratio vs fp32", "verdict vs fp32",
                                   "speed-up without determinism"]
    int8 = table.loc[("googlenet", "int8")]
    assert (int8["median images/s"], int8["min images/s"], int8["max images/s"]) == (81, 79, 83)
    assert int8["ratio vs fp32"] == pytest.approx(0.81) and int8["width"] == 0.5
    assert list(table["verdict vs fp32"]) == ["reference", "beyond the noise",
                                              "within the noise"]
    assert table.loc[("googlenet", "int8"), "speed-up without determinism"] == 0.9


def test_the_report_states_each_ratio_with_its_verdict(tmp_path):
    record = _synthetic_record()
    (tmp_path / "bench_train.json").write_text(json.dumps(record))
    text = _bench_section(tmp_path, [])
    assert "| googlenet | int8" in text and "beyond the noise" in text
    assert "median of 5 timed runs of 10 steps (after 2 warm-up steps)" in text
    assert "googlenet int8 0.81 (beyond the noise: slower)" in text
    assert "googlenet binary 1.02 (within the noise)" in text
    assert "Slower beyond the noise in 1 of 2, faster beyond the noise in 0" in text
    assert "faster)" not in text and "a faster result" not in text
    # a ratio above 1 that is beyond the noise is called faster, and flagged
    precisions = record["models"]["googlenet"]["precisions"]
    precisions["binary"] = _figures([120.0, 121.0, 125.0, 122.0, 123.0])
    bench._add_ratios(precisions)
    (tmp_path / "bench_train.json").write_text(json.dumps(record))
    text = _bench_section(tmp_path, [])
    assert "googlenet binary 1.22 (beyond the noise: faster)" in text
    assert "a faster result is one to re-measure" in text


def test_a_record_without_repeats_is_rendered_but_no_ratio_is_judged(tmp_path):
    old = {"benchmark": "train", "environment": {"device": "CPU: test", "strategy": "default"},
           "settings": {"image_size": "quick", "width": 0.25, "batch_size": 32, "steps": 10,
                        "warmup_steps": 2},
           "models": {"googlenet": {"image_size": 48, "precisions": {
               "fp32": {"images_per_s": 100.0, "step_ms": 1.0, "ratio_to_fp32": 1.0},
               "binary": {"images_per_s": 113.0, "step_ms": 1.0, "ratio_to_fp32": 1.13}}}},
           "determinism_cost": {"googlenet": {"fp32": 0.99, "binary": 0.7}}}
    table = training_bench_table(old)
    assert list(table["verdict vs fp32"]) == ["reference", "not repeated"]
    assert table.loc[("googlenet", "binary"), "median images/s"] == 113.0
    assert table["min images/s"].isna().all() and (table["width"] == 0.25).all()
    (tmp_path / "bench_train.json").write_text(json.dumps(old))
    text = _bench_section(tmp_path, [])
    assert "This record predates repeated measurements" in text
    assert "none of its ratios to fp32 is claimed as a speed-up or a slow-down" in text
    assert "faster" not in text and "slower" not in text


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
    assert estimate["epoch_s"] == pytest.approx(8 * 128 * macs / T4_EFFECTIVE_FLOPS)
    assert row["here: s per step"] > 0
    assert row["here: s per epoch"] == pytest.approx(row["here: s per step"] * 128 / 16)
    assert table.loc["all", "here: hours"] == pytest.approx(table["here: hours"][:2].sum())
    assert pd.isna(table.loc["all", "epochs"])
