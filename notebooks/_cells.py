"""Cells every course notebook shares, for the scripts that generate the notebooks.

Every notebook starts the same way:

1. ``BADGE(filename)``: a markdown "Open in Colab" badge for ``notebooks/<filename>``;
2. ``SETUP()``: the setup cell, whose source is :data:`SETUP_SOURCE` (identical in all
   notebooks): find the repository root (or clone it on Colab), prepare Colab, then
   ``import utils`` before anything imports TensorFlow;
3. ``PARAMETERS(extra)``: the papermill parameters cell (tagged "parameters") with
   ``profile``, ``dataset``, ``figures_dir`` and ``results_dir``, plus ``extra`` names.

Then ``write_notebook(path, cells)`` writes a clean notebook: no outputs, no execution
counts, the "python3" kernel. Usage in a generator script::

    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from _cells import BADGE, PARAMETERS, SETUP, code, md, write_notebook

    write_notebook("notebooks/03_alexnet.ipynb", [
        BADGE("03_alexnet.ipynb"), md("# AlexNet ..."), SETUP(),
        PARAMETERS({"epochs": None}, comments={"epochs": "None: the profile's"}),
        code("..."),
    ])
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

__all__ = [
    "BADGE",
    "COLAB_URL",
    "KERNEL_NAME",
    "PARAMETERS",
    "REPO_URL",
    "SETUP",
    "SETUP_SOURCE",
    "STANDARD_PARAMETERS",
    "code",
    "md",
    "write_notebook",
]

REPO_URL = "https://github.com/reduced-precision/rpnn-course.git"
COLAB_URL = (
    "https://colab.research.google.com/github/reduced-precision/rpnn-course/blob/main/"
    "notebooks/{filename}"
)
KERNEL_NAME = "python3"

SETUP_SOURCE = f'''\
# Setup: go to the repository root (cloning it on Colab), then import `utils` before
# TensorFlow: it switches TensorFlow to the Keras 2 API that larq needs.
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's start-up chatter
ON_COLAB = "google.colab" in sys.modules
if ON_COLAB:
    REPO_DIR = Path("/content/rpnn-course")
    if not (REPO_DIR / "utils").is_dir():
        import subprocess

        url = os.environ.get("COURSE_REPO_URL", "{REPO_URL}")
        subprocess.run(["git", "clone", "--depth", "1", url, str(REPO_DIR)], check=True)
    os.chdir(REPO_DIR)
elif not Path("utils").is_dir() and Path("../utils").is_dir():
    os.chdir("..")  # opened from notebooks/ in Jupyter
if str(Path.cwd()) not in sys.path:
    sys.path.insert(0, str(Path.cwd()))
if ON_COLAB:
    from utils.colab import prepare_runtime

    prepare_runtime()

import utils  # noqa: E402  (before TensorFlow: sets TF_USE_LEGACY_KERAS=1)

print("working directory:", Path.cwd())
'''

# name -> (default, comment); every notebook's parameters cell starts with these.
STANDARD_PARAMETERS: dict[str, tuple[object, str]] = {
    "profile": ("quick", '"smoke" (seconds, tests), "quick" (CPU, minutes), "full" (report, GPU)'),
    "dataset": ("auto", '"auto" (Cats & Dogs if available, else mnist5k), "cats_and_dogs", '
                        '"mnist5k"'),
    "figures_dir": ("figures", "where save_fig writes the PNGs"),
    "results_dir": ("results", "where results records (JSON) go"),
}


def md(text: str):
    """A markdown cell from (dedented, stripped) ``text``."""
    return new_markdown_cell(textwrap.dedent(text).strip())


def code(text: str, tags: list[str] | None = None):
    """A code cell from (dedented, stripped) ``text``, optionally with cell tags."""
    cell = new_code_cell(textwrap.dedent(text).strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def BADGE(filename: str):  # noqa: N802  (a constant-like cell factory, named in the brief)
    """Markdown "Open in Colab" badge for ``notebooks/<filename>``."""
    if "/" in filename or not filename.endswith(".ipynb"):
        raise ValueError(
            f"filename must be a notebook file name like '00_x.ipynb', got {filename!r}"
        )
    url = COLAB_URL.format(filename=filename)
    return new_markdown_cell(
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"
    )


def SETUP():  # noqa: N802
    """The setup cell (source :data:`SETUP_SOURCE`), tagged "setup"."""
    return code(SETUP_SOURCE, tags=["setup"])


def _literal(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # double quotes, as black would write it
    return repr(value)


def PARAMETERS(extra: dict | None = None, comments: dict | None = None):  # noqa: N802
    """The papermill parameters cell (tag "parameters").

    Holds :data:`STANDARD_PARAMETERS` (profile, dataset, figures_dir, results_dir) followed
    by ``extra`` (name -> default; a name already standard overrides its default).
    ``comments`` (name -> text) adds or replaces the trailing comment of a line.
    """
    values = {name: default for name, (default, _) in STANDARD_PARAMETERS.items()}
    notes = {name: note for name, (_, note) in STANDARD_PARAMETERS.items()}
    values.update(extra or {})
    notes.update(comments or {})
    for name in values:
        if not name.isidentifier():
            raise ValueError(f"parameter name {name!r} is not a Python identifier")
        if "=" in notes.get(name, "") or "\n" in notes.get(name, ""):
            # papermill's parameter inspection skips lines with more than one "=".
            raise ValueError(f"the comment of {name!r} must be one line without '='")
    lines = ["# Parameters: papermill replaces these (see the README); edit them to explore."]
    for name, value in values.items():
        line = f"{name} = {_literal(value)}"
        if notes.get(name):
            line += f"  # {notes[name]}"
        lines.append(line)
    return code("\n".join(lines), tags=["parameters"])


def write_notebook(path: str | Path, cells: list) -> Path:
    """Write ``cells`` as a clean notebook (no outputs, python3 kernel) to ``path``."""
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": KERNEL_NAME,
    }
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.metadata["colab"] = {"provenance": []}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.pop("id", None)  # stable files: ids are added below, from the position
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:03d}"
    nbformat.validate(notebook)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(notebook) + "\n"
    if not path.exists() or path.read_text() != text:  # keep mtime when unchanged
        path.write_text(text)
    return path
