"""Notebooks 00-02: stored clean, generated from their script, and run in the smoke profile.

The notebooks run with papermill in the "python3" kernel. jupyter_client starts a kernel spec
whose command is "python" with ``sys.executable``, so the kernel is the interpreter running
these tests (the virtualenv's); notebook 00 prints its executable and the test checks it.
"""

import json
import sys
from pathlib import Path

import nbformat
import pytest

from tests.notebook_generators import load_generator

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO_ROOT / "notebooks"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

EXPECTED = {
    "00_setup_and_data.ipynb": {
        "figures": ["00_samples", "00_class_balance", "00_image_sizes"],
        "results": [],
    },
    "01_quantization_theory.ipynb": {
        "figures": [
            "01_throughput", "01_quantizer_staircase", "01_kbit_staircase",
            "01_clipping_tradeoff", "01_clipping", "01_symmetric_vs_asymmetric",
            "01_weight_histograms", "01_quantization_error", "01_ste_gradients",
        ],
        "results": [],
    },
    "02_binary_and_8bit_layers.ipynb": {
        "figures": [
            "02_latent_weights", "02_latent_weights_int4", "02_binary_mlp_curves",
            "02_accuracy_vs_bits", "02_bitwidth_curves",
        ],
        "results": ["02_binary_mlp.json", "02_bitwidth_sweep.json"],
    },
}


@pytest.fixture(scope="module")
def cells_module():
    return load_generator("_cells")


@pytest.fixture(scope="module")
def builder():
    return load_generator("_build_notebooks_00_02")


def test_no_committed_notebook_has_outputs():
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert notebooks, "no notebooks found"
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            assert cell.outputs == [], f"{path.name} cell {index} has outputs"
            assert cell.execution_count is None, f"{path.name} cell {index} has a count"


@pytest.mark.parametrize("filename", sorted(EXPECTED))
def test_notebook_starts_with_badge_setup_and_parameters(filename, cells_module):
    notebook = nbformat.read(NOTEBOOKS / filename, as_version=4)
    badge, *rest = notebook.cells
    assert badge.cell_type == "markdown"
    assert cells_module.COLAB_URL.format(filename=filename) in badge.source
    code_cells = [cell for cell in rest if cell.cell_type == "code"]
    setup, parameters = code_cells[:2]
    assert setup.source == cells_module.SETUP_SOURCE.strip()
    assert "parameters" in parameters.metadata.get("tags", [])
    for name in ("profile", "dataset", "figures_dir", "results_dir"):
        assert f"\n{name} = " in parameters.source
    assert 'profile = "quick"' in parameters.source and 'dataset = "auto"' in parameters.source
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("filename", sorted(EXPECTED))
def test_notebook_matches_its_generator(filename, builder, cells_module, tmp_path):
    """The .ipynb files are generated: edit notebooks/_build_notebooks_00_02.py instead."""
    cells = builder.NOTEBOOKS[filename]()
    fresh = cells_module.write_notebook(tmp_path / filename, cells)
    assert fresh.read_text() == (NOTEBOOKS / filename).read_text(), (
        f"{filename} differs from what notebooks/_build_notebooks_00_02.py generates; "
        "run the script"
    )


def test_parameters_cell_rejects_comments_papermill_cannot_parse(cells_module):
    cell = cells_module.PARAMETERS({"epochs": 3}, comments={"epochs": "None: the profile's"})
    assert cell.source.splitlines()[-1] == "epochs = 3  # None: the profile's"
    with pytest.raises(ValueError, match="without '='"):
        cells_module.PARAMETERS({"bits": [1]}, comments={"bits": "1 = binary"})


@pytest.mark.slow
@pytest.mark.parametrize("filename", sorted(EXPECTED))
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
    expected = EXPECTED[filename]
    for name in expected["figures"]:
        path = figures / f"{name}.png"
        assert path.is_file(), f"{filename} did not write {path.name}"
        assert path.read_bytes().startswith(PNG_MAGIC)
    written = sorted(p.stem for p in figures.glob("*.png"))
    assert written == sorted(expected["figures"])
    for name in expected["results"]:
        record = json.loads((results / name).read_text())
        assert record["dataset"] == "mnist5k"
        assert record["is_offline_standin"] is True
    if filename.startswith("02"):
        sweep = json.loads((results / "02_bitwidth_sweep.json").read_text())
        assert [row["bits"] for row in sweep["rows"]] == [1, 2, 4, 8, 32]
        assert sweep["profile"] == "smoke"
    if filename.startswith("00"):
        text = output.read_text()
        assert json.dumps(sys.executable)[1:-1] in text, "the kernel is not this interpreter"
