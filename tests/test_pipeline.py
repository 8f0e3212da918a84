"""The main job: notebooks 03-06 executed in the smoke profile, README and CI commands."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_deploy_bench import check_deployment_record
from utils.pipeline import list_notebooks, output_dirs, run_pipeline

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
                     executed_dir=str(tmp_path / "executed"))


@pytest.mark.slow
def test_training_notebooks_run_in_smoke_profile_and_write_their_outputs(tmp_path):
    dirs = {name: str(tmp_path / name) for name in ("figures", "results", "report", "executed")}
    notebooks = ["03_alexnet.ipynb", "04_googlenet.ipynb", "05_comparison.ipynb",
                 "06_deployment.ipynb"]
    timings = run_pipeline("smoke", "mnist5k", root=ROOT, notebooks=notebooks,
                           figures_dir=dirs["figures"], results_dir=dirs["results"],
                           report_dir=dirs["report"], executed_dir=dirs["executed"])
    assert list(timings) == notebooks
    for name in notebooks:  # executed copies, with outputs, outside notebooks/
        executed = json.loads((tmp_path / "executed" / name).read_text())
        assert any(cell.get("outputs") for cell in executed["cells"])
    figures = {path.stem for path in (tmp_path / "figures").glob("*.png")}
    for model in ("03_alexnet", "04_googlenet"):
        assert {f"{model}_accuracy", f"{model}_loss"} <= figures
        assert {f"{model}_confusion_{p}" for p in ("binary", "int8", "fp32")} <= figures
    assert {"05_accuracy_vs_size", "06_deployment"} <= figures
    deployed = json.loads((tmp_path / "results" / "bench_deploy.json").read_text())
    check_deployment_record(deployed, tmp_path / "results")
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*_smoke_*.json")]
    assert sorted((r["config"]["model"], r["config"]["precision"]) for r in records) == sorted(
        (m, p) for m in ("alexnet", "googlenet") for p in ("binary", "int8", "fp32"))
    assert all(r["dataset"]["is_offline_standin"] for r in records)
    report = (tmp_path / "report" / "README.md").read_text()
    assert "offline stand-in was used" in report and "googlenet" in report
    assert "## Deployment: real files at each precision" in report
    assert json.loads((tmp_path / "results" / "pipeline_smoke.json").read_text())
    assert "--profile smoke" not in (ROOT / "report" / "README.md").read_text()


def test_smoke_runs_never_replace_the_committed_outputs():
    assert output_dirs("smoke") == {"figures_dir": "runs/smoke/figures",
                                    "results_dir": "runs/smoke/results",
                                    "report_dir": "runs/smoke/report"}
    assert output_dirs("quick") == output_dirs("full") == {
        "figures_dir": "figures", "results_dir": "results", "report_dir": "report"}
    assert "runs/" in (ROOT / ".gitignore").read_text().splitlines()
