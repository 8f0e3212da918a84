"""Notebooks kept as code: ``notebooks/NN_name.py`` is the source, paired with its ``.ipynb``.

Each course notebook is a jupytext percent-format script (``# %%`` cells), which is what you
edit, lint (ruff) and review. Its ``.ipynb`` twin is committed without outputs, so that the
"Open in Colab" badge opens a ready notebook. Open either file in Jupyter with jupytext
installed and both stay in sync; after editing the ``.py`` elsewhere, run::

    python -m utils.notebook_sources --write     # rewrite every .ipynb from its .py
    python -m utils.notebook_sources --check     # what the tests check, as a list

The repository address (Colab badge and the clone URL of the setup cell) comes from one
setting, :data:`utils.names.REPOSITORY`; ``--write`` puts it into every notebook. No TensorFlow
here.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jupytext
import nbformat
from jupytext.config import load_jupytext_config

from utils.names import REPOSITORY, REPOSITORY_BRANCH

__all__ = ["NOTEBOOK_DIR", "badge_url", "check_notebooks", "clone_url", "main", "notebook_sources",
           "read_source", "write_notebook"]

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
SETUP_TAG, PARAMETERS_TAG = "setup", "parameters"
PAIRED_FORMATS = "ipynb,py:percent"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Cell metadata the course uses: tags, and the hidden source of worked solutions (Jupyter's
# "source_hidden" and Colab's form view).
CELL_METADATA = ("tags", "jupyter", "cellView")
_BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]+")
_CLONE = re.compile(r'"https://github\.com/[^"]+\.git"')


def badge_url(filename: str) -> str:
    """The "Open in Colab" address of ``notebooks/<filename>`` in :data:`REPOSITORY`."""
    return (f"https://colab.research.google.com/github/{REPOSITORY}/blob/"
            f"{REPOSITORY_BRANCH}/notebooks/{filename}")


def clone_url() -> str:
    """The address the setup cell clones on Colab."""
    return f"https://github.com/{REPOSITORY}.git"


def notebook_sources(folder: str | Path = NOTEBOOK_DIR) -> list[Path]:
    """The course notebooks' sources, ``NN_name.py``, in course order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.py"))


def read_source(path: str | Path) -> nbformat.NotebookNode:
    """The notebook that the percent-format script ``path`` describes."""
    return jupytext.read(path, fmt="py:percent")


def _with_repository(notebook: nbformat.NotebookNode, filename: str) -> None:
    for cell in notebook.cells:
        cell.source = _BADGE.sub(badge_url(filename), cell.source)
        if SETUP_TAG in cell.metadata.get("tags", []):
            cell.source = _CLONE.sub(f'"{clone_url()}"', cell.source)


def _clean(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """No outputs, no execution counts, stable ids, the course's kernel and metadata."""
    for index, cell in enumerate(notebook.cells):
        cell.metadata = {key: cell.metadata[key] for key in CELL_METADATA
                         if key in cell.metadata}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell["id"] = f"cell-{index:03d}"
    notebook.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"},
                         "colab": {"provenance": []},
                         "jupytext": {"formats": PAIRED_FORMATS}}
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    return notebook


def write_notebook(source: str | Path) -> Path:
    """Rewrite the ``.ipynb`` of ``source`` (and the repository address in ``source``)."""
    source = Path(source)
    target = source.with_suffix(".ipynb")
    notebook = read_source(source)
    _with_repository(notebook, target.name)
    notebook.metadata["jupytext"] = {"formats": PAIRED_FORMATS}
    notebook.metadata["kernelspec"] = KERNELSPEC
    # The filters of pyproject.toml's [tool.jupytext] keep the header free of versions.
    jupytext.write(notebook, source, fmt="py:percent",
                   config=load_jupytext_config(str(source.parent)))
    text = nbformat.writes(_clean(notebook)) + "\n"
    nbformat.validate(nbformat.reads(text, as_version=4))
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return target


def _cells(notebook) -> list[tuple[str, str, dict]]:
    return [(cell.cell_type, cell.source.strip(),
             {key: cell.metadata[key] for key in CELL_METADATA if key in cell.metadata})
            for cell in notebook.cells]


def _check_one(source: Path) -> list[str]:
    problems = []
    target = source.with_suffix(".ipynb")
    if not target.exists():
        return [f"{source.name} has no {target.name}: run python -m utils.notebook_sources "
                "--write"]
    stored = nbformat.read(target, as_version=4)
    expected = read_source(source)
    if _cells(stored) != _cells(expected):
        problems.append(f"{target.name} is out of sync with {source.name}: run python -m "
                        "utils.notebook_sources --write")
    if any(cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
           for cell in stored.cells):
        problems.append(f"{target.name} holds outputs; the committed notebooks must not")
    tagged = [cell for cell in expected.cells if PARAMETERS_TAG in cell.metadata.get("tags", [])]
    if len(tagged) != 1:
        problems.append(f"{source.name} needs exactly one cell tagged 'parameters' "
                        f"(papermill), found {len(tagged)}")
    first = expected.cells[0].source if expected.cells else ""
    if badge_url(target.name) not in first:
        problems.append(f"{source.name} must start with the Colab badge {badge_url(target.name)}")
    return problems


def _setup_cells(sources: list[Path]) -> dict[str, str | None]:
    found = {}
    for source in sources:
        cells = [cell.source for cell in read_source(source).cells
                 if SETUP_TAG in cell.metadata.get("tags", [])]
        found[source.name] = cells[0] if len(cells) == 1 else None
    return found


def check_notebooks(folder: str | Path = NOTEBOOK_DIR) -> list[str]:
    """Every problem with the notebooks of ``folder`` (an empty list when all is well).

    Checks that every source has its ``.ipynb`` and every ``.ipynb`` its source, that each
    pair holds the same cells, that no ``.ipynb`` holds outputs, that every notebook starts
    with the badge of :data:`REPOSITORY`, has one tagged parameters cell and the same setup
    cell (one cell tagged "setup", identical everywhere, cloning :func:`clone_url` and
    importing ``utils`` before anything loads TensorFlow).
    """
    folder = Path(folder)
    sources = notebook_sources(folder)
    problems = [f"{path.name} has no source {path.with_suffix('.py').name}"
                for path in sorted(folder.glob("[0-9][0-9]_*.ipynb"))
                if not path.with_suffix(".py").exists()]
    for source in sources:
        problems += _check_one(source)
    setups = _setup_cells(sources)
    problems += [f"{name} needs exactly one cell tagged 'setup'"
                 for name, cell in setups.items() if cell is None]
    distinct = {cell for cell in setups.values() if cell is not None}
    if len(distinct) > 1:
        problems.append("the setup cells differ between notebooks: "
                        + ", ".join(sorted(setups)) + "; make them identical")
    for setup in distinct:
        if clone_url() not in setup:
            problems.append(f"the setup cell does not clone {clone_url()}")
        if "\nimport utils  #" not in setup:
            problems.append("the setup cell must `import utils` (before TensorFlow)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.notebook_sources",
                                     description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite every .ipynb from its .py")
    action.add_argument("--check", action="store_true", help="list problems, exit 1 if any")
    args = parser.parse_args(argv)
    if args.write:
        for source in notebook_sources():
            print(write_notebook(source))
    problems = check_notebooks()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
