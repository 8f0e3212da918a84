"""The notebooks: kept as code and paired, stored clean, and notebooks 00-02 run in smoke.

The notebooks run with papermill in the "python3" kernel. jupyter_client starts a kernel spec
whose command is "python" with ``sys.executable``, so the kernel is the interpreter running
these tests (the virtualenv's); notebook 00 prints its executable and the test checks it.
"""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from utils.notebook_sources import (
    badge_url,
    check_notebooks,
    clone_url,
    notebook_sources,
    read_source,
    write_notebook,
)
from utils.pipeline import list_notebooks

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO_ROOT / "notebooks"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# What utils.pipeline passes to every notebook; every notebook declares them.
STANDARD_PARAMETERS = ("profile", "dataset", "figures_dir", "results_dir")

SMOKE_FIGURES = {
    "00_setup_and_data.ipynb": ["00_samples", "00_class_balance", "00_image_sizes"],
    "01_quantization_theory.ipynb": [
        "01_throughput", "01_quantizer_staircase", "01_kbit_staircase",
        "01_clipping_tradeoff", "01_clipping", "01_symmetric_vs_asymmetric",
        "01_weight_histograms", "01_quantization_error", "01_ste_gradients",
        "01_affine_grids", "01_calibration", "01_weight_scales_alexnet",
        "01_weight_scales_googlenet",
    ],
    "02_binary_and_8bit_layers.ipynb": [
        "02_latent_weights", "02_latent_weights_int4", "02_binary_mlp_curves",
        "02_accuracy_vs_bits", "02_bitwidth_curves", "02_ptq_against_qat",
    ],
    # 03 to 06 run in one course folder in tests/test_pipeline.py, 07 in test_lessons_ablations.py.
    "08_arithmetic_and_energy.ipynb": [
        "08_mac_energy", "08_energy_breakdown", "08_accuracy_vs_energy",
    ],
    "09_related_systems.ipynb": [
        "09_abc_accuracy_vs_memory", "09_qnn_accuracy_vs_memory", "09_qnn_accuracy_vs_energy",
    ],
}


def test_every_notebook_is_paired_clean_and_shares_the_setup_cell():
    sources = notebook_sources()
    assert [path.with_suffix(".ipynb") for path in sources] == list_notebooks(NOTEBOOKS)
    assert len(sources) >= 8
    assert check_notebooks() == []


@pytest.mark.parametrize("source", notebook_sources(), ids=lambda path: path.stem)
def test_every_notebook_declares_the_standard_parameters(source):
    notebook = read_source(source)
    (parameters,) = [cell for cell in notebook.cells
                     if "parameters" in cell.metadata.get("tags", [])]
    for name in STANDARD_PARAMETERS:
        assert f"\n{name} = " in f"\n{parameters.source}", f"{source.name}: no {name}"
    assert 'profile = "quick"' in parameters.source and 'dataset = "auto"' in parameters.source


def _copy_notebooks(tmp_path: Path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for source in notebook_sources()[:2]:
        (folder / source.name).write_text(source.read_text())
        (folder / source.with_suffix(".ipynb").name).write_text(
            source.with_suffix(".ipynb").read_text())
    return folder


def test_the_check_finds_an_edit_outputs_and_a_different_setup_cell(tmp_path):
    folder = _copy_notebooks(tmp_path)
    first, second = notebook_sources(folder)
    assert check_notebooks(folder) == []
    first.write_text(first.read_text().replace("# # 00 ·", "# # 00 (edited) ·", 1))
    assert any("out of sync" in problem for problem in check_notebooks(folder))
    write_notebook(first)
    assert check_notebooks(folder) == []
    notebook = nbformat.read(second.with_suffix(".ipynb"), as_version=4)
    code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="hello")]
    nbformat.write(notebook, second.with_suffix(".ipynb"))
    assert any("holds outputs" in problem for problem in check_notebooks(folder))
    write_notebook(second)
    second.write_text(second.read_text().replace("import utils  #", "import utils as u  #", 1))
    write_notebook(second)
    assert any("setup cells differ" in problem for problem in check_notebooks(folder))


def test_write_puts_the_repository_setting_into_badge_and_clone(tmp_path):
    folder = _copy_notebooks(tmp_path)
    source = notebook_sources(folder)[0]
    source.write_text(source.read_text()
                      .replace(badge_url(source.with_suffix(".ipynb").name),
                               "https://colab.research.google.com/github/someone/fork/blob/"
                               "main/notebooks/x.ipynb")
                      .replace(clone_url(), "https://github.com/someone/fork.git"))
    assert check_notebooks(folder)
    write_notebook(source)
    assert badge_url(source.with_suffix(".ipynb").name) in source.read_text()
    assert clone_url() in source.read_text()
    assert check_notebooks(folder) == []


def test_ruff_lints_the_notebook_sources():
    settings = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert not any("notebooks" in pattern for pattern in settings.get("extend-exclude", []))
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "notebooks"],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("filename", sorted(SMOKE_FIGURES))
def test_notebook_runs_in_smoke_profile(filename, tmp_path):
    import papermill

    figures, results = tmp_path / "figures", tmp_path / "results"
    output = tmp_path / filename
    papermill.execute_notebook(
        str(NOTEBOOKS / filename),
        str(output),
        parameters={"profile": "smoke", "dataset": "mnist5k",
                    "figures_dir": str(figures), "results_dir": str(results)},
        kernel_name="python3",
        cwd=str(REPO_ROOT),
        progress_bar=False,
    )
    for name in SMOKE_FIGURES[filename]:
        path = figures / f"{name}.png"
        assert path.is_file(), f"{filename} did not write {path.name}"
        assert path.read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.stem for p in figures.glob("*.png")) == sorted(SMOKE_FIGURES[filename])
    if filename.startswith("02"):
        records = [json.loads(path.read_text()) for path in results.glob("*_smoke_*.json")
                   if not path.name.startswith("ptq_")]
        runs = sorted((r["config"]["model"], r["config"]["precision"]) for r in records)
        # the post-training quantization of the sweep's float network, as a record
        (ptq,) = [json.loads(path.read_text()) for path in results.glob("ptq_*.json")]
        assert ptq["float_parent"]["run"].startswith("small_cnn_fp32_mnist5k_smoke_")
        assert {row["calibration"] for row in ptq["rows"]} == {"none", "minmax", "percentile",
                                                              "mse"}
        assert runs == sorted([("mlp", "binary")] + [
            ("small_cnn", precision) for precision in ("binary", "int2", "int4", "int8",
                                                       "fp32")])
        assert all(r["dataset"]["is_offline_standin"] for r in records)
    if filename.startswith("00"):
        text = output.read_text()
        assert json.dumps(sys.executable)[1:-1] in text, "the kernel is not this interpreter"


def unpacked_course_folders(text: str) -> list[int]:
    """Lines of a notebook source that copy the course folders into loose variables (an
    assignment whose value is ``folders.results``, ``.figures`` or ``.report``, or a tuple
    holding one)."""
    import ast

    def is_folder(node) -> bool:
        return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "folders" and node.attr in ("results", "figures", "report"))

    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Assign):
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            if any(is_folder(value) for value in values):
                found.append(node.lineno)
    return found


@pytest.mark.parametrize("source", notebook_sources(), ids=lambda path: path.stem)
def test_no_notebook_takes_the_course_folders_apart(source):
    assert unpacked_course_folders(source.read_text()) == []


def test_the_unpacking_check_finds_an_unpacking():
    text = ("dataset, figures_dir = (choice.name, folders.figures)\n"
            "results_dir = folders.results\nsave_fig(fig, 'x', folders.figures)\n"
            "run(results_dir=folders.results)\n")
    assert unpacked_course_folders(text) == [1, 2]
