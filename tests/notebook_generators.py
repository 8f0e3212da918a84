"""Loading the notebook generator scripts (notebooks/_build_*.py, _cells.py) in tests.

They are scripts next to the notebooks, not a package: each is loaded from its file with
``notebooks/`` on the import path, so that its ``from _cells import ...`` works.
"""

import importlib.util
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def load_generator(stem: str):
    """The module ``notebooks/<stem>.py``, e.g. ``load_generator("_build_notebook_06")``."""
    path = NOTEBOOKS / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module
