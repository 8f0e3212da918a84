"""Tests for utils.report and utils.tables: comparison tables and the regenerated report,
from synthetic records."""

import json
import re

import numpy as np
import pytest

from utils.config import make_config
from utils.lessons import arithmetic_and_energy as energy
from utils.records import main_records, write_json_atomic
from utils.report import build_report
from utils.tables import (
    comparison_table,
    epoch_choices,
    epoch_table,
    reference_table,
    runtime_summary,
)


def _record(model, precision, accuracy, *, created="2026-01-01T00:00:00", **overrides):
    config = make_config(model, precision, dataset="mnist5k", profile="quick", **overrides)
    history = {"epoch": [0, 1, 2], "accuracy": [0.5, 0.9, 0.99], "val_accuracy": [0.5, 0.88, 0.9],
               "loss": [1.0, 0.3, 0.05], "val_loss": [1.1, 0.35, 0.4]}
    return {
        "run_name": config.run_name, "config": config.to_dict(),
        "config_hash": config.config_hash(),
        "dataset": {"name": "mnist5k", "is_offline_standin": True, "num_classes": 10},
        "history": history, "test_accuracy": accuracy, "test_loss": 0.3,
        "best_val_accuracy": 0.9, "train_images_per_s": 100.0, "created": created,
        "summary": {"params_total": 1000, "memory_mib": 0.1 if precision == "binary" else 3.2,
                    "memory_fp32_equivalent_mib": 3.2, "compression_ratio": 32.0,
                    "macs_total": 2e6, "macs_1bit": 1.9e6 if precision == "binary" else 0},
    }


def test_epoch_choices_follow_the_stated_rule():
    history = {"accuracy": [0.6, 0.95, 0.99, 0.97], "val_accuracy": [0.6, 0.93, 0.94, 0.90],
               "val_loss": [1.0, 0.3, 0.2, 0.5]}
    # scores: 0.6, 0.91, 0.89, 0.83 -> optimal epoch 1; best val accuracy at 2; final 3
    assert epoch_choices(history) == {"optimal": 1, "best": 2, "final": 3}


def test_epoch_choices_break_ties_with_validation_loss():
    history = {"accuracy": [0.9, 0.9], "val_accuracy": [0.9, 0.9], "val_loss": [0.5, 0.4]}
    assert epoch_choices(history)["optimal"] == 1


def test_tables_show_gap_to_float_and_reference():
    records = [_record("alexnet", "fp32", 0.98), _record("alexnet", "binary", 0.95)]
    table = comparison_table(records)
    assert list(table.index) == [("alexnet", "binary"), ("alexnet", "fp32")]
    assert table.loc[("alexnet", "binary"), "gap to fp32 (points)"] == pytest.approx(-3.0)
    assert table.loc[("alexnet", "binary"), "binary MAC share"] == pytest.approx(0.95)
    assert not table.loc[("alexnet", "binary"), "gap beyond seed spread"]  # one seed
    epochs = epoch_table(records)
    assert epochs.loc[("alexnet", "fp32", 0, "best"), "val accuracy %"] == pytest.approx(90.0)
    reference = reference_table(records)
    assert reference.loc[("alexnet", "fp32"), "report val accuracy % (Cats & Dogs)"] == 57.5
    assert reference.loc[("alexnet", "binary"), "chance %"] == pytest.approx(10.0)
    assert np.isnan(comparison_table([records[1]])["gap to fp32 (points)"].iloc[0])


def test_comparison_over_seeds_gives_mean_spread_and_the_gap_against_the_spread():
    accuracies = {"fp32": [0.98, 0.97, 0.99], "binary": [0.95, 0.96, 0.94],
                  "int8": [0.975, 0.985, 0.98]}
    records = [_record("alexnet", precision, accuracy, seed=seed)
               for precision, values in accuracies.items()
               for seed, accuracy in enumerate(values)]
    table = comparison_table(records)
    binary, int8 = table.loc[("alexnet", "binary")], table.loc[("alexnet", "int8")]
    assert binary["seeds"] == 3
    assert (binary["test accuracy % mean"], binary["test accuracy % std"]) == pytest.approx(
        (95.0, 1.0))
    assert binary["gap to fp32 (points)"] == pytest.approx(-3.0)
    assert binary["gap standard error"] == pytest.approx(np.sqrt(1 / 3 + 1 / 3))
    assert binary["gap beyond seed spread"]  # 3 points against a standard error of 0.8
    assert int8["gap to fp32 (points)"] == pytest.approx(0.0)
    assert not int8["gap beyond seed spread"]
    assert binary["stale records"] == 3  # synthetic records carry no code fingerprint
    reference = reference_table(records)
    assert reference.loc[("alexnet", "binary"), "our seeds"] == 3
    assert reference.loc[("alexnet", "binary"), "our test accuracy %"] == pytest.approx(95.0)


def test_main_records_keep_the_default_recipe_of_every_seed(tmp_path):
    default = _record("googlenet", "fp32", 0.9)
    second_seed = _record("googlenet", "fp32", 0.91, seed=1)
    ablation = _record("googlenet", "fp32", 0.5, loss="mse")
    small_net = _record("mlp", "fp32", 0.9)
    for i, record in enumerate([default, second_seed, ablation, small_net]):
        (tmp_path / f"r{i}.json").write_text(json.dumps(record))
    (tmp_path / "bench_train.json").write_text("{}")
    chosen = main_records(tmp_path, "quick")
    assert [(r["config"]["loss"], r["config"]["seed"]) for r in chosen] == [
        ("categorical_crossentropy", 0), ("categorical_crossentropy", 1)]
    assert [r["config"]["seed"] for r in main_records(tmp_path, "quick", seeds=(1,))] == [1]
    assert main_records(tmp_path, "full") == []


def test_build_report_writes_tables_figures_and_standin_warning(tmp_path):
    results, figures, report = tmp_path / "results", tmp_path / "figures", tmp_path / "report"
    results.mkdir(), figures.mkdir()
    for precision, accuracy in (("fp32", 0.98), ("binary", 0.95), ("int8", 0.97)):
        record = _record("alexnet", precision, accuracy)
        (results / f"{record['run_name']}.json").write_text(json.dumps(record))
    (figures / "03_alexnet_accuracy.png").write_bytes(b"png")
    path = build_report(results, figures, report, profile="quick",
                        notebook_seconds={"03_alexnet.ipynb": 60.0})
    text = path.read_text()
    assert "offline stand-in was used" in text
    assert "../figures/03_alexnet_accuracy.png" in text
    assert "04_googlenet_accuracy" not in text  # missing figures are not linked
    assert re.search(r"\| alexnet +\| binary +\|", text)
    assert "57.5" in text and "Limitations" in text
    assert json.loads((results / "pipeline_quick.json").read_text())["notebook_seconds"]


def _deploy_record(binary_bytes):
    def entry(kind, size, kinds, floats=()):
        return {"architecture": "googlenet", "file": kind, "size_bytes": size,
                "size_mb": size / 1e6, "ratio_vs_fp32": 28000 / size,
                "latency_ms_1_threads": 1.0, "latency_ms_2_threads": 0.6,
                "bytes": {"kinds": kinds, "padding": 0, "float_tensors": list(floats),
                          "accounted_percent": 100.0}}

    binary = entry("binary", binary_bytes,
                   {"bit-packed binary weights": 800,
                    "float32 weights and biases": binary_bytes - 900, "graph: operators": 100},
                   [{"op": "LceBconv2d", "bytes": binary_bytes - 900}])
    ratio = 28000 / binary_bytes
    return {"profile": "quick", "goal_ratios": {"binary": 28.0}, "int8_ratio_limit": 4.0,
            "int8_weight_scales": "per channel", "accuracy_tolerance_points": 0.5,
            "environment": {"cpu": "a CPU", "cpu_count": 2, "kernels": "reference kernels"},
            "full_size": {"input_shapes": {"alexnet": [227, 227, 3], "googlenet": [224, 224, 3]},
                          "width": 1.0, "ratios": {"googlenet": {"binary": round(ratio, 2)}},
                          "meets_goal": {"googlenet": {"binary": ratio >= 28.0}},
                          "files": [entry("fp32", 28000, {"float32 weights and biases": 27900,
                                                          "graph: operators": 100}), binary]},
            "trained": {"files": [], "all_preserved": None}}


@pytest.mark.parametrize("binary_bytes, missed", [(1000, False), (1400, True)])
def test_report_explains_a_missed_binary_size_goal(tmp_path, binary_bytes, missed):
    results = tmp_path / "results"
    results.mkdir()
    (results / "bench_deploy.json").write_text(json.dumps(_deploy_record(binary_bytes)))
    text = build_report(results, tmp_path / "figures", tmp_path / "report",
                        profile="quick").read_text()
    assert "## Deployment: real files at each precision" in text
    assert ("Goal missed: googlenet binary (20.0x)" in text) is missed
    assert ("How far the binary files could go" in text) is missed
    if missed:  # estimate: 800 + 500 / 2 + 100 bytes; ceiling: 800 + 100 bytes
        assert re.search(r"\| googlenet +\| +20\.00 \| +24\.35 \| +31\.11 \|", text)


def test_a_partial_run_updates_only_its_notebooks_times(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    build_report(results, tmp_path / "figures", tmp_path / "report", profile="quick",
                 notebook_seconds={"03_alexnet.ipynb": 60.0, "06_deployment.ipynb": 400.0})
    build_report(results, tmp_path / "figures", tmp_path / "report", profile="quick",
                 notebook_seconds={"06_deployment.ipynb": 300.0})
    timing = json.loads((results / "pipeline_quick.json").read_text())["notebook_seconds"]
    assert timing == {"03_alexnet.ipynb": 60.0, "06_deployment.ipynb": 300.0}
    assert "Total: 6.0 min." in (tmp_path / "report" / "README.md").read_text()


def _trained(precision, accuracy, summary):
    return {"config": {"model": "alexnet", "precision": precision, "width": 0.25,
                       "image_size": 67, "seed": 0},
            "test_accuracy": accuracy, "summary": summary}


def test_report_has_the_energy_section_of_notebook_08(tmp_path):
    # energy.json written as notebook 08 writes it, for networks whose counts are chosen here
    full_size = energy.energy_table({
        ("net", "fp32"): {"macs_32bit": 10**6, "macs_total": 10**6, "memory_mib": 1.0,
                          "activation_values": 10**5},
        ("net", "int8"): {"macs_8bit": 10**6, "macs_total": 10**6, "memory_mib": 0.25,
                          "activation_values": 10**5}})
    trained = energy.accuracy_energy_table({"main comparison": [
        _trained("fp32", 0.97, {"macs_32bit": 10**6, "memory_mib": 1.0}),
        _trained("binary", 0.95, {"macs_1bit": 10**6, "memory_mib": 1 / 32})]})
    checks = {"int8": {"file": "alexnet int8_qat", "ops": 7, "outputs": 3222,
                       "max_difference_reference": 0, "max_difference_optimized": 1,
                       "differing_optimized": 2},
              "binary": {"layers": 6, "equal": 6, "max_relative_difference": 0.0,
                         "packed_bytes": 100, "float_bytes": 3200, "xnor_popcounts": 50,
                         "macs": 400}}
    write_json_atomic(tmp_path / "results" / "energy.json", energy.energy_record(
        full_size, trained, profile="smoke", dataset="mnist5k", margins_points=(1.0, 3.0),
        checks=checks))
    report = build_report(tmp_path / "results", tmp_path / "figures", tmp_path / "report",
                          profile="smoke").read_text()
    section = report[report.index("## What the hardware computes"):]
    assert ("Every convolution of the int8 file of alexnet int8_qat (7 ops, 3,222 int8 "
            "outputs for one test image)") in section
    assert "Largest difference: 0 int8 steps against TFLite's reference kernels" in section
    assert "6 of 6 equal to larq's output" in section
    assert "32.0x fewer bytes than float32" in section  # 3200 / 100
    assert "stands for 8.0 MACs" in section  # 400 / 50
    # By hand, in µJ (1e6 pJ): a float32 MAC 3.7 + 0.9 pJ, an int8 one 0.2 + 0.1 pJ, a
    # binary one 0.03 / 8 pJ; 1 MiB = 8 * 2**20 bits of weights at 20 pJ per bit from DRAM
    # (167.77216 µJ); 10**5 values written and read at 32 or 8 bits, 20 / 64 pJ per bit.
    # fp32: 4.6 + 167.77216 + 2 = 174.37216; int8: 0.3 + 41.94304 + 0.5 = 42.74304, and
    # float32 / int8 = 4.080.
    assert re.search(r"\| net +\| fp32 +\| +4\.6 +\| +167\.8 +\| +2 +\| +174\.4 +\| +1 +\|",
                     section)
    assert re.search(r"\| net +\| int8 +\| +0\.3 +\| +41\.94 +\| +0\.5 +\| +42\.74 +\| +4\.08 +\|",
                     section)
    # Trained networks, compute and weights only: fp32 4.6 + 167.77216 = 172.37216; binary
    # 0.00375 + 167.77216 / 32 = 5.24663. Within 1 point of 97% only fp32 reaches 96%; within
    # 3 points the binary network (95%) is the cheaper.
    assert "### Accuracy against energy" in section
    assert re.search(r"\| +1 +\| alexnet +\| fp32 +\| +0\.25 +\| +0\.97 +\| +172\.4 +\|",
                     section)
    assert re.search(r"\| +3 +\| alexnet +\| binary +\| +0\.25 +\| +0\.95 +\| +5\.247 +\|",
                     section)
    assert "(an estimate, not a measurement)" in section
    assert "## What the hardware computes" not in build_report(
        tmp_path / "none", tmp_path / "figures", tmp_path / "report2",
        profile="smoke").read_text()


def test_deployment_section_names_the_runtimes_that_ran_and_the_files_that_did_not():
    record = _deploy_record(1000)
    fp32, binary = record["full_size"]["files"]
    fp32.update(status="measured", runtime="TensorFlow's TFLite interpreter, builtin kernels "
                "without delegate", runtime_notes=["XNNPACK could not run it: failed to prepare"])
    binary.update(status="not made: larq-compute-engine (LCE) is not usable here")
    record["environment"]["kernels"] = None  # LCE absent: no note on its kernels
    text = runtime_summary(record)
    assert text.startswith("Latency is the median single-image time after warm-up; "
                           "TensorFlow's TFLite interpreter, builtin kernels without delegate "
                           "ran the fp32 file.")
    assert "On the way: googlenet fp32: XNNPACK could not run it: failed to prepare." in text
    assert text.endswith("Not made or not run: googlenet binary: not made: larq-compute-engine "
                         "(LCE) is not usable here.")
    assert "LCE's interpreter" not in text
    nothing = _deploy_record(1000)
    for entry in nothing["full_size"]["files"]:
        entry["status"] = "written, but no runtime here could run it: aborted"
    assert runtime_summary(nothing).startswith("No file could be run here.")


def test_the_numerics_benchmark_is_reported_from_its_file():
    from utils.report import _numerics_text

    probe = {"test_loss": 0.07, "test_accuracy": 0.978, "val_loss": [0.2],
             "train_images_per_s": 1.0, "numerics": {}}
    bench = {
        "environment": {"cpu": "AMD EPYC", "cpu_flags": ["avx2", "avx512f"]},
        "settings": {"repeats": 5, "steps": 20, "width": 0.25},
        "probe": {"portable (AVX2, oneDNN rewrites off)": probe, "portable, again": probe,
                  "native": {**probe, "test_loss": 0.072},
                  "SSE4.1": {**probe, "test_loss": 0.07}},
        "same_as_portable": {"portable (AVX2, oneDNN rewrites off)": True,
                             "portable, again": True, "native": False, "SSE4.1": True},
        "throughput_portable_over_native": {
            "alexnet fp32": {"portable_over_native_median": 0.8, "min": 0.7, "max": 0.9,
                             "repeats": 5}},
    }
    text = _numerics_text(bench)
    assert "under 4 settings in fresh processes gave 2 different record(s)" in text
    assert "a second run gave the same record" in text
    assert "1 of the 2 other settings gave a record that differs" in text
    assert re.search(r"\| alexnet fp32 \| +0\.800 \| 0\.700 \| 0\.900 \|", text)
    bench["same_as_portable"]["portable, again"] = False
    assert "ANOTHER record (a defect)" in _numerics_text(bench)


def _timed_record(name, wall, macs, epochs):
    record = _record("alexnet", "fp32", 0.98)
    return {**record, "run_name": name, "wall_time_s": wall, "epochs_run": epochs,
            "summary": {**record.get("summary", {}), "macs_total": macs},
            "dataset": {**record["dataset"],
                        "sizes": {"train": 1000, "validation": 100, "test": 100}}}


def test_notebook_times_add_the_untrained_runs_per_core_and_say_so(tmp_path):
    from utils.tables import notebook_time_table, notebook_time_text

    results = tmp_path / "results"
    results.mkdir()
    for name, wall in (("run_a", 100.0), ("run_b", 60.0)):
        (results / f"{name}.json").write_text(json.dumps(_timed_record(name, wall, 1e9, 2)))
    build_report(results, tmp_path / "figures", tmp_path / "report", profile="quick",
                 notebook_seconds={"03_alexnet.ipynb": 50.0, "05_comparison.ipynb": 4.0},
                 notebook_runs={"03_alexnet.ipynb": {"used": ["run_a", "run_b"],
                                                     "trained": ["run_b"]},
                                "05_comparison.ipynb": {"used": [], "trained": []}})
    job = json.loads((results / "pipeline_quick.json").read_text())
    job["machine"]["cpu_count"] = 2  # as on the 2-core machines the records came from
    (results / "pipeline_quick.json").write_text(json.dumps(job))
    table = notebook_time_table(results, "quick")
    row = table.loc["03_alexnet"]
    assert row["records used"] == 2 and row["trained in the job"] == 1
    assert row["main job (s)"] == 50
    assert row["with models (s, estimate)"] == pytest.approx(50 - 60 / 2)  # run_b trained
    assert row["from scratch (s, estimate)"] == pytest.approx(50 + 100 / 2)  # run_a untrained
    # T4: (6 * 1000 + 2 * 100) images * 1e9 MACs / 2e12 FLOP/s = 3.1 s per epoch, 2 epochs each
    assert row["T4, compute-bound (s, estimate)"] == pytest.approx(2 * 2 * 3.1)
    text = notebook_time_text("03_alexnet", results, "quick")
    assert "50 s in the last main job" in text and "about 2 min from scratch" in text
    assert "trained 1 run(s) again" in text and "about 20 s once they exist" in text
    assert "trains no networks" in notebook_time_text("05_comparison", results, "quick")
    assert "did not run 07_ablations" in notebook_time_text("07_ablations", results, "quick")
    assert "No main job" in notebook_time_text("03_alexnet", results, "full")
