"""Shared test set-up: `utils` must be imported before TensorFlow (Keras 2 mode)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import utils  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# The tests that execute notebooks take minutes each; the other slow ones tens of seconds.
_LONGEST = ("test_notebooks_in_separate_kernels", "test_notebook_runs_in_smoke_profile")


def pytest_collection_modifyitems(config, items):
    """Longest first: notebook executions, then the slow layer, then the fast one, so that
    pytest-xdist's workers start the long tests early and finish together. The order is the
    same in every worker (a stable sort of the collection order), as xdist requires."""
    def rank(item) -> int:
        if item.name.startswith(_LONGEST):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=rank)
