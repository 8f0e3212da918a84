"""Shared test set-up: `utils` must be imported before TensorFlow (Keras 2 mode)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import utils  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# The tests that execute notebooks take minutes each, the main job's (03-06 in one course
# folder) the longest; the other slow ones tens of seconds.
_LONGEST = "test_notebooks_in_separate_kernels"
_NOTEBOOKS = "test_notebook_runs_in_smoke_profile"


def pytest_collection_modifyitems(config, items):
    """Longest first: the main job's notebooks, the other notebook executions, the rest of the
    slow layer, then the fast one.

    pyproject.toml runs pytest-xdist with ``--maxschedchunk 1``: each worker holds two tests
    and gets the next one as it finishes one, so in this order the workers take the long
    tests first and finish together (longest-processing-time-first scheduling). Without it,
    xdist's "load" scheduler starts each worker on a chunk of consecutive tests (a quarter of
    its share), and in this order every slow test would go to the first worker. The order is
    the same in every worker (a stable sort of the collection order), as xdist requires.
    """
    def rank(item) -> int:
        if item.name.startswith(_LONGEST):
            return 0
        if item.name.startswith(_NOTEBOOKS):
            return 1
        return 2 if item.get_closest_marker("slow") else 3

    items.sort(key=rank)
