"""Same seed, same record: the numeric pin, what records say about their machine, the
three-answer reproduction verdict, runs kept beside the records they differ from, and the
reproduction probe retrained and compared."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import utils  # noqa: F401  (selects tf-keras, pins the numerics)
from utils.config import config_from_file
from utils.course import REPOSITORY_ROOT, reproductions_dir
from utils.environment import (
    PORTABLE_NUMERICS,
    cpu_flags,
    environment_info,
    same_machine_and_settings,
)
from utils.records import (
    DIFFERS_DEFECT,
    DIFFERS_ELSEWHERE,
    IDENTICAL,
    compare_records,
    load_record,
    record_path,
    seed_spread,
)

PROBE = REPOSITORY_ROOT / "configs" / "small_cnn_fp32_reproduction_probe.yml"


def _numerics_in_child(**variables: str) -> dict:
    """The numeric variables a fresh interpreter has after ``import utils``."""
    env = {name: value for name, value in os.environ.items()
           if name not in PORTABLE_NUMERICS and name != "COURSE_NUMERICS"}
    env.update(variables)
    code = ("import json, os, utils; from utils.environment import numeric_settings; "
            "print(json.dumps(numeric_settings()))")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPOSITORY_ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_import_utils_pins_portable_numerics_before_tensorflow():
    settings = _numerics_in_child()
    assert settings["mode"] == "portable"
    assert settings["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert settings["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert settings["tensorflow_loaded_first"] is False


def test_native_mode_pins_nothing_and_a_users_own_setting_is_kept_and_recorded():
    native = _numerics_in_child(COURSE_NUMERICS="native")
    assert native["mode"] == "native"
    assert native["ONEDNN_MAX_CPU_ISA"] is None and native["TF_ENABLE_ONEDNN_OPTS"] is None
    own = _numerics_in_child(ONEDNN_MAX_CPU_ISA="SSE41")
    assert own["ONEDNN_MAX_CPU_ISA"] == "SSE41" and own["TF_ENABLE_ONEDNN_OPTS"] == "0"


def test_an_unknown_numerics_mode_is_refused_with_the_accepted_ones():
    env = {**os.environ, "COURSE_NUMERICS": "fast"}
    done = subprocess.run([sys.executable, "-c", "import utils"], env=env, cwd=REPOSITORY_ROOT,
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "COURSE_NUMERICS='fast'" in done.stderr and "portable, native" in done.stderr


def test_the_environment_names_the_cpu_its_flags_and_the_numeric_settings():
    info = environment_info()
    assert info["cpu_vendor"] and info["cpu"]
    assert info["cpu_flags"] == cpu_flags()
    if Path("/proc/cpuinfo").exists() and "avx2" in Path("/proc/cpuinfo").read_text():
        assert "avx2" in info["cpu_flags"]
    assert info["numerics"]["ONEDNN_MAX_CPU_ISA"] == os.environ.get("ONEDNN_MAX_CPU_ISA")


# --- the verdict, on records made up for the purpose -------------------------------------

XEON = {"cpu": "Intel(R) Xeon(R) Processor", "cpu_vendor": "GenuineIntel",
        "cpu_flags": ["avx2", "fma", "avx512f", "amx_tile"],
        "numerics": {"mode": "portable", "ONEDNN_MAX_CPU_ISA": "AVX2",
                     "TF_ENABLE_ONEDNN_OPTS": "0", "tensorflow_loaded_first": False}}
EPYC = {**XEON, "cpu": "AMD EPYC", "cpu_vendor": "AuthenticAMD", "cpu_flags": ["avx2", "fma"]}


def _record(accuracy: float, environment: dict, losses=(0.5, 0.25)) -> dict:
    return {"history": {"epoch": [0, 1], "val_loss": list(losses)},
            "test_accuracy": accuracy, "test_loss": 0.1, "confusion_matrix": [[1]],
            "environment": environment, "config": {"model": "small_cnn", "seed": 0}}


def test_identical_records_are_identical():
    result = compare_records(_record(0.97, XEON), _record(0.97, EPYC), spread=0.004)
    assert result["identical"] and result["verdict"] == IDENTICAL


def test_a_difference_on_another_cpu_inside_the_seed_spread_is_a_machine_difference():
    # Limit: 2 * sqrt(2) * 0.004 = 1.13 points; 0.5 points is inside it.
    result = compare_records(_record(0.970, XEON), _record(0.965, EPYC, (0.5, 0.26)),
                             spread=0.004)
    assert result["verdict"] == DIFFERS_ELSEWHERE
    assert "AMD EPYC" in result["summary"] and "Intel" in result["summary"]
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in result["summary"]


def test_a_difference_beyond_the_seed_spread_is_a_defect_even_on_another_cpu():
    result = compare_records(_record(0.970, XEON), _record(0.950, EPYC), spread=0.004)
    assert result["verdict"] == DIFFERS_DEFECT
    assert result["summary"].startswith("DIFFERS: A DEFECT") and "beyond" in result["summary"]


def test_any_difference_on_the_same_cpu_and_settings_is_a_defect():
    result = compare_records(_record(0.970, EPYC), _record(0.9699, EPYC, (0.5, 0.2500001)),
                             spread=0.05)
    assert result["same_cpu_and_settings"] is True
    assert result["verdict"] == DIFFERS_DEFECT and "same CPU" in result["summary"]


def test_other_numeric_settings_on_the_same_cpu_count_as_other_conditions():
    native = {**EPYC, "numerics": {**EPYC["numerics"], "mode": "native",
                                   "ONEDNN_MAX_CPU_ISA": None}}
    assert same_machine_and_settings(EPYC, native) is False
    result = compare_records(_record(0.970, native), _record(0.969, EPYC, (0.5, 0.3)),
                             spread=0.004)
    assert result["verdict"] == DIFFERS_ELSEWHERE


def test_a_record_that_does_not_name_its_flags_is_judged_as_other_conditions():
    old = {"cpu": "Intel(R) Xeon(R) Processor"}
    assert same_machine_and_settings(old, EPYC) is None
    result = compare_records(_record(0.970, old), _record(0.968, EPYC, (0.5, 0.3)),
                             spread=0.004)
    assert result["verdict"] == DIFFERS_ELSEWHERE and "flags not recorded" in result["summary"]


def test_without_a_seed_spread_a_difference_cannot_be_judged_harmless():
    result = compare_records(_record(0.970, XEON), _record(0.969, EPYC, (0.5, 0.3)))
    assert result["verdict"] == DIFFERS_DEFECT and "no seed spread" in result["summary"]


def test_seed_spread_is_the_sample_std_over_the_other_seeds_of_the_same_config(tmp_path):
    accuracies = {0: 0.96, 1: 0.97, 2: 0.98}
    for seed, accuracy in accuracies.items():
        record = {"config": {"model": "small_cnn", "precision": "fp32", "seed": seed},
                  "config_hash": str(seed), "history": {}, "test_accuracy": accuracy}
        (tmp_path / f"r{seed}.json").write_text(json.dumps(record))
    other = {"config": {"model": "small_cnn", "precision": "int8", "seed": 0},
             "config_hash": "x", "history": {}, "test_accuracy": 0.5}
    (tmp_path / "other.json").write_text(json.dumps(other))
    spread = seed_spread(tmp_path, {"model": "small_cnn", "precision": "fp32", "seed": 0})
    assert spread == pytest.approx(0.01)  # sample std of 0.96, 0.97, 0.98
    assert seed_spread(tmp_path, {"model": "small_cnn", "precision": "int4", "seed": 0}) is None


def test_committed_records_go_beside_into_runs_reproductions(tmp_path):
    assert reproductions_dir(REPOSITORY_ROOT / "results") == REPOSITORY_ROOT / "runs" / \
        "reproductions"
    assert reproductions_dir(tmp_path / "results") == tmp_path.resolve() / "reproductions"


# --- training -------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_retrained_run_that_differs_is_written_beside_its_record(tmp_path, capsys):
    from utils.config import make_config
    from utils.report import build_report
    from utils.train import run_experiment

    config = make_config("small_cnn", "fp32", profile="smoke")
    folders = dict(results_dir=tmp_path / "results", models_dir=tmp_path / "models",
                   checkpoint_dir=tmp_path / "checkpoints", logs_dir=tmp_path / "logs")
    _, first = run_experiment(config, verbose=0, **folders)
    committed = record_path(tmp_path / "results", config)
    # As if made on another machine: another CPU, and a test accuracy that differs.
    record = json.loads(committed.read_text())
    record["environment"] = {**record["environment"], "cpu": "Another CPU",
                             "cpu_flags": ["avx2"]}
    record["test_accuracy"] = first["test_accuracy"] + 0.5
    committed.write_text(json.dumps(record))
    before = committed.read_bytes()
    Path(first["model_path"]).unlink()

    _, again = run_experiment(config, verbose=0, require_model=True, **folders)
    assert committed.read_bytes() == before  # the committed record is kept as it was
    beside = reproductions_dir(tmp_path / "results") / committed.name
    assert Path(again["record_path"]) == beside and beside.exists()
    assert again["reproduction"]["verdict"] == DIFFERS_DEFECT  # one seed: no spread
    assert "is kept" in capsys.readouterr().out
    # The saved model now is the retrained one: it comes back with its own record.
    _, shown = run_experiment(config, verbose=0, **folders)
    assert shown["record_path"] == str(beside)

    # The report's Reproduction section lists the kept comparison with its verdict.
    build_report(tmp_path / "results", tmp_path / "figures", tmp_path / "report",
                 profile="smoke")
    report = (tmp_path / "report" / "README.md").read_text()
    assert "## Reproduction" in report and "DIFFERS: a defect" in report


@pytest.mark.slow
def test_the_reproduction_probe_is_retrained_and_compared_with_its_committed_record():
    # The command line, in a fresh process: one training thread, as every record was made
    # (a pytest worker's TensorFlow runtime is already started with its own thread count).
    config = config_from_file(PROBE)
    committed = load_record(record_path(REPOSITORY_ROOT / "results", config))
    environment = committed["environment"]
    assert environment["cpu_flags"] and environment["numerics"]["mode"] == "portable"
    done = subprocess.run([sys.executable, "-m", "utils.train", "--config", str(PROBE),
                           "--reproduce", "--verbose", "0"], cwd=REPOSITORY_ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    verdict = done.stdout.strip().splitlines()[-1]
    here = environment_info()
    if same_machine_and_settings(environment, {**here, "intra_op_threads": 1}):
        # The probe's own CPU and settings: op determinism promises identical bits.
        assert done.returncode == 0, verdict
        assert "reproduced the recorded run exactly" in verdict
    else:
        # Another CPU: the verdict is printed for whoever checks (the command exits
        # non-zero on any difference); a machine difference must not break CI.
        print(f"reproduction probe on another CPU: {verdict}")
