"""Notebook 06_deployment: stored clean, generated from its script, with the shared first cells.

Running it (papermill, smoke profile) is tested separately; these checks need no TensorFlow.
"""

from pathlib import Path

import nbformat
import pytest

from tests.notebook_generators import load_generator

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO_ROOT / "notebooks"
FILENAME = "06_deployment.ipynb"
# What utils.pipeline passes to every notebook; 06 declares them all.
PIPELINE_PARAMETERS = ("profile", "dataset", "figures_dir", "results_dir", "report_dir")


@pytest.fixture(scope="module")
def cells_module():
    return load_generator("_cells")


@pytest.fixture(scope="module")
def builder():
    return load_generator("_build_notebook_06")


@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(NOTEBOOKS / FILENAME, as_version=4)


def test_notebook_matches_its_generator(builder, cells_module, tmp_path):
    """The .ipynb file is generated: edit notebooks/_build_notebook_06.py instead."""
    fresh = cells_module.write_notebook(tmp_path / FILENAME, builder.deployment_notebook())
    assert fresh.read_text() == (NOTEBOOKS / FILENAME).read_text(), (
        f"{FILENAME} differs from what notebooks/_build_notebook_06.py generates; run the script"
    )


def test_notebook_has_no_outputs(notebook):
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has outputs"
            assert cell.execution_count is None, f"cell {index} has an execution count"


def test_notebook_starts_with_badge_setup_and_parameters(notebook, cells_module):
    badge, *rest = notebook.cells
    assert badge.cell_type == "markdown"
    assert cells_module.COLAB_URL.format(filename=FILENAME) in badge.source
    setup, parameters = [cell for cell in rest if cell.cell_type == "code"][:2]
    assert setup.source == cells_module.SETUP_SOURCE.strip()
    assert "setup" in setup.metadata.get("tags", [])
    assert "parameters" in parameters.metadata.get("tags", [])
    for name in PIPELINE_PARAMETERS:
        assert f"\n{name} = " in parameters.source, f"no {name} parameter"
    assert 'profile = "quick"' in parameters.source and 'dataset = "auto"' in parameters.source
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_notebook_saves_its_figure_and_reads_results_from_the_record(notebook):
    source = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert 'save_fig(figure, "06_deployment", figures_dir)' in source
    assert "run_deployment_bench(profile, results_dir" in source
    for model in ("alexnet", "googlenet"):
        assert model in source
    assert "train_precisions(" in source and "resolve_dataset(dataset)" in source
