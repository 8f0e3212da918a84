"""The main job: notebooks 03-06 executed in the smoke profile, README and CI commands."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_deploy_bench import check_deployment_record
from utils.course import course_folders
from utils.pipeline import list_notebooks, run_pipeline, train_saved_models_first

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text)


def test_readme_gives_the_test_command_that_ci_runs():
    commands = _readme_commands()
    test_command = next(c for c in commands if "pytest" in c)
    main_job = next(c for c in commands if "utils.pipeline" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()
    assert main_job.endswith("python -m utils.pipeline")


def test_notebooks_are_listed_in_course_order():
    names = [path.name for path in list_notebooks(ROOT / "notebooks")]
    assert names[:6] == ["00_setup_and_data.ipynb", "01_quantization_theory.ipynb",
                         "02_binary_and_8bit_layers.ipynb", "03_alexnet.ipynb",
                         "04_googlenet.ipynb", "05_comparison.ipynb"]


def test_pipeline_cli_rejects_unknown_choices():
    result = subprocess.run([sys.executable, "-m", "utils.pipeline", "--profile", "huge"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2
    assert "invalid choice: 'huge'" in result.stderr and "smoke" in result.stderr


def test_unknown_notebook_is_reported(tmp_path):
    with pytest.raises(ValueError, match="no such notebooks"):
        run_pipeline("smoke", "mnist5k", root=ROOT, notebooks=["99_missing.ipynb"],
                     course_dir=tmp_path)


@pytest.mark.slow
def test_notebooks_in_separate_kernels_share_the_course_folder_and_write_their_outputs(tmp_path):
    """03, 04, 05 and 06 each run in their own kernel (as on Colab, each its own runtime);
    they share only the course folder, and 05 shows the records that 03 and 04 wrote."""
    notebooks = ["03_alexnet.ipynb", "04_googlenet.ipynb", "05_comparison.ipynb",
                 "06_deployment.ipynb"]
    before = _git_status()
    timings = run_pipeline("smoke", "mnist5k", root=ROOT, notebooks=notebooks,
                           course_dir=tmp_path / "course")
    assert list(timings) == notebooks
    assert _git_status() == before  # nothing written into the repository
    run = tmp_path / "course" / "runs" / "smoke_mnist5k"
    for name in notebooks:  # executed copies, with outputs, next to the run's results
        executed = json.loads((run / "executed" / name).read_text())
        assert any(cell.get("outputs") for cell in executed["cells"])
    comparison = (run / "executed" / "05_comparison.ipynb").read_text()
    assert "No smoke-profile record" not in comparison  # 05 found every network's records
    assert all(word in comparison for word in ("alexnet", "googlenet", "int8_qat"))
    figures = {path.stem for path in (run / "figures").glob("*.png")}
    for model in ("03_alexnet", "04_googlenet"):
        assert {f"{model}_accuracy", f"{model}_loss"} <= figures
        assert {f"{model}_confusion_{p}" for p in ("binary", "int8", "int8_qat", "fp32")} <= figures
    assert {"05_accuracy_vs_size", "06_deployment"} <= figures
    deployed = json.loads((run / "results" / "bench_deploy.json").read_text())
    check_deployment_record(deployed, run / "results")
    records = [json.loads(p.read_text()) for p in (run / "results").glob("*_smoke_*.json")]
    assert sorted((r["config"]["model"], r["config"]["precision"]) for r in records) == sorted(
        (m, p) for m in ("alexnet", "googlenet") for p in ("binary", "int8", "int8_qat", "fp32"))
    assert all(r["dataset"]["is_offline_standin"] for r in records)
    report = (run / "report" / "README.md").read_text()
    assert "offline stand-in was used" in report and "googlenet" in report
    assert "by `python -m utils.pipeline --profile smoke --dataset mnist5k`" in report
    assert "## Deployment: real files at each precision" in report
    job = json.loads((run / "results" / "pipeline_smoke.json").read_text())
    # the ledger: what each notebook's kernel asked utils.train.run_configs for
    runs = job["notebook_runs"]
    assert len(runs["03_alexnet.ipynb"]["trained"]) == 4  # every precision, one seed
    assert runs["03_alexnet.ipynb"]["used"] == runs["03_alexnet.ipynb"]["trained"]
    assert runs["05_comparison.ipynb"] == {"used": [], "trained": [], "models": []}
    assert runs["06_deployment.ipynb"]["trained"] == []  # 03 and 04 trained them
    assert len(runs["06_deployment.ipynb"]["used"]) == 8
    # 06 asked for every model it used: the next job trains them first if they are missing
    assert runs["06_deployment.ipynb"]["models"] == runs["06_deployment.ipynb"]["used"]
    assert "IPYTHONDIR" not in os.environ or os.environ["IPYTHONDIR"] != str(
        run / "executed" / "ipython")  # the job put back the environment it changed


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                          capture_output=True, text=True, cwd=ROOT, check=True).stdout


def test_each_profile_and_dataset_has_its_own_folders(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_DIR", raising=False)
    reference = course_folders("quick", "mnist5k")
    assert reference.is_reference and reference.results == ROOT / "results"
    assert (reference.figures, reference.report) == (ROOT / "figures", ROOT / "report")
    smoke = course_folders("smoke", "mnist5k")
    assert smoke.results == ROOT / "runs" / "smoke_mnist5k" / "results" and not smoke.is_reference
    full = course_folders("full", "cats_and_dogs")
    assert full.figures == ROOT / "runs" / "full_cats_and_dogs" / "figures"
    assert full.data == ROOT / "data"
    assert "runs/" in (ROOT / ".gitignore").read_text().splitlines()
    monkeypatch.setenv("COURSE_DIR", str(tmp_path / "drive"))  # what use_drive() sets
    elsewhere = course_folders("quick", "mnist5k")
    assert elsewhere.results == tmp_path / "drive" / "runs" / "quick_mnist5k" / "results"
    assert elsewhere.data == tmp_path / "drive" / "data" and not elsewhere.is_reference
    given = course_folders("quick", "mnist5k", results_dir=tmp_path / "mine")
    assert given.results == tmp_path / "mine" and given.figures == elsewhere.figures
    with pytest.raises(ValueError, match="accepted: smoke, quick, full"):
        course_folders("huge", "mnist5k")


@pytest.mark.slow
def test_the_job_trains_first_the_missing_models_its_notebooks_loaded_last_time(tmp_path):
    """As in a fresh clone: the records are there, the models are not; the job's first step
    trains again the models the last job's notebooks asked for, and only those."""
    from utils.config import make_config
    from utils.train import run_configs

    results = tmp_path / "results"
    loaded, other = (make_config("small_cnn", "fp32", profile="smoke", limit=64, seed=seed)
                     for seed in (0, 1))
    first = run_configs([loaded, other], results_dir=results, verbose=0)  # one per core
    for config in (loaded, other):
        (tmp_path / "models" / f"{config.run_name}.keras").unlink()
    ledger = {"02_binary_and_8bit_layers.ipynb": {"used": [loaded.run_name, other.run_name],
                                                  "trained": [], "models": [loaded.run_name]}}
    assert train_saved_models_first(["02_binary_and_8bit_layers.ipynb"], results,
                                    tmp_path / "data", "smoke") == []  # no job timed yet
    (results / "pipeline_smoke.json").write_text(json.dumps({"notebook_runs": ledger}))
    assert train_saved_models_first(["03_alexnet.ipynb"], results, tmp_path / "data",
                                    "smoke") == []  # 03 loaded no saved model
    (again,) = train_saved_models_first(["02_binary_and_8bit_layers.ipynb"], results,
                                        tmp_path / "data", "smoke")
    assert again["run_name"] == loaded.run_name
    assert again["reproduction"]["identical"], again["reproduction"]["summary"]
    assert again["history"] == first[0]["history"]
    assert (tmp_path / "models" / f"{loaded.run_name}.keras").exists()
    assert not (tmp_path / "models" / f"{other.run_name}.keras").exists()
    assert train_saved_models_first(["02_binary_and_8bit_layers.ipynb"], results,
                                    tmp_path / "data", "smoke") == []  # now it is there
