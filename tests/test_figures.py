"""Tests for utils.figures: save_fig (atomic PNG writes) and the shared plotting functions'
figures. The notebooks' own plots are tested in tests/test_lessons_*.py."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from utils import figures  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _simple_figure(value: float = 1.0) -> Figure:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, value])
    return fig


# ---------------------------------------------------------------------------------------------
# save_fig
# ---------------------------------------------------------------------------------------------


def test_save_fig_writes_png_and_returns_path(tmp_path):
    folder = tmp_path / "nested" / "figures"
    path = figures.save_fig(_simple_figure(), "01_example", folder)
    assert path == folder / "01_example.png"
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in folder.iterdir()) == ["01_example.png"]


def test_save_fig_overwrites_existing_file(tmp_path):
    first = figures.save_fig(_simple_figure(1.0), "same", tmp_path).read_bytes()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar([0, 1, 2], [3, 1, 2])
    second_path = figures.save_fig(fig, "same", tmp_path)
    assert second_path.read_bytes() != first
    assert [p.name for p in tmp_path.iterdir()] == ["same.png"]


def test_save_fig_accepts_png_suffix(tmp_path):
    assert figures.save_fig(_simple_figure(), "name.png", tmp_path).name == "name.png"


def test_save_fig_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = figures.save_fig(_simple_figure(), "keep", tmp_path)
    before = path.read_bytes()
    fig = _simple_figure(2.0)

    def broken_savefig(stream, **kwargs):
        stream.write(b"half a png")
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        figures.save_fig(fig, "keep", tmp_path)
    assert path.read_bytes() == before  # the old figure is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]  # no temporary left


@pytest.mark.parametrize("name", ["", "../escape", "sub/dir", ".hidden", None])
def test_save_fig_rejects_bad_names(tmp_path, name):
    with pytest.raises(ValueError, match="plain file name"):
        figures.save_fig(_simple_figure(), name, tmp_path)


def test_save_fig_rejects_non_figures(tmp_path):
    with pytest.raises(TypeError, match="matplotlib Figure"):
        figures.save_fig("not a figure", "x", tmp_path)


# ---------------------------------------------------------------------------------------------
# Plotting functions
# ---------------------------------------------------------------------------------------------


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.axison]


def test_plot_confusion_matrix_counts_and_normalized():
    matrix = np.array([[5, 1], [2, 7]])
    fig = figures.plot_confusion_matrix(matrix, ["cats", "dogs"], title="cm")
    ax = fig.axes[0]
    assert ax.get_title() == "cm"
    assert [t.get_text() for t in ax.texts] == ["5", "1", "2", "7"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cats", "dogs"]
    fig = figures.plot_confusion_matrix(matrix, ["cats", "dogs"], normalize=True)
    assert fig.axes[0].texts[0].get_text() == "0.83"
    with pytest.raises(ValueError, match="class names"):
        figures.plot_confusion_matrix(matrix, ["only one"])
    with pytest.raises(ValueError, match="square"):
        figures.plot_confusion_matrix(np.ones((2, 3)), ["a", "b"])


def test_plot_accuracy_vs_size_draws_one_marker_per_run():
    import pandas as pd

    from utils.figures import plot_accuracy_vs_size

    table = pd.DataFrame(
        {"memory MiB": [0.1, 3.2, 0.5], "test accuracy % mean": [95.0, 98.0, 90.0],
         "test accuracy % std": [0.5, 0.2, float("nan")], "seeds": [3, 3, 1]},
        index=pd.MultiIndex.from_tuples(
            [("alexnet", "binary"), ("alexnet", "fp32"), ("googlenet", "binary")],
            names=["model", "precision"]),
    )
    fig = plot_accuracy_vs_size(table)
    ax = fig.axes[0]
    assert len(ax.containers) == 3 and ax.get_xscale() == "log"
    points = [tuple(np.ravel(c.lines[0].get_data())) for c in ax.containers]
    assert (3.2, 98.0) in points
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "alexnet fp32 (3 seeds)" in labels
