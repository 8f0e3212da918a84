"""Tests for utils.lessons.setup_and_data (notebook 00's own code): its plots of the images,
the class balance and the image sizes."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from utils.lessons import setup_and_data

matplotlib.use("Agg")  # as in tests/test_figures.py: no window, on any machine


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_image_grid_shows_each_image_with_its_label():
    samples = [(np.random.rand(8, 8, 3), f"class {i}") for i in range(5)]
    samples.append((np.random.rand(8, 8, 1), "gray"))
    fig = setup_and_data.plot_image_grid(samples, ncols=4, title="grid")
    assert isinstance(fig, Figure)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6 and len(fig.axes) == 8  # two empty cells hidden
    assert [ax.get_title() for ax in shown] == [label for _, label in samples]
    with pytest.raises(ValueError):
        setup_and_data.plot_image_grid([])


def test_plot_class_balance_groups_splits():
    counts = {"train": {"cats": 10, "dogs": 12}, "test": {"cats": 3, "dogs": 4}}
    fig = setup_and_data.plot_class_balance(counts)
    (ax,) = fig.axes
    assert len(ax.patches) == 4
    assert sorted(p.get_height() for p in ax.patches) == [3, 4, 10, 12]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cats", "dogs"]
    single = setup_and_data.plot_class_balance({"a": 1, "b": 2, "c": 3})
    assert len(single.axes[0].patches) == 3


def test_plot_image_sizes_has_width_and_height_histograms():
    sizes = np.array([[500, 375], [320, 240], [500, 375]])
    fig = setup_and_data.plot_image_sizes(sizes)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_xlabel().startswith("width")
    assert fig.axes[1].get_xlabel().startswith("height")
    same = setup_and_data.plot_image_sizes(np.full((10, 2), 28))
    assert sum(p.get_height() for p in same.axes[0].patches) == 10
