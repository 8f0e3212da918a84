"""Notebook 00's own code: the figures of the data, a grid of images with their labels,
the images per class and the stored images' sizes.

Each function returns a matplotlib ``Figure`` for :func:`utils.figures.save_fig`. No
TensorFlow here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from utils.figures import FLOAT_COLOR, finish_axes, new_figure

__all__ = ["plot_class_balance", "plot_image_grid", "plot_image_sizes"]

def plot_image_grid(samples: Sequence[tuple[np.ndarray, str]], ncols: int | None = None,
                    title: str | None = None) -> Figure:
    """Images with their labels as titles: ``samples`` is a list of (image, label).

    Images are (height, width), (height, width, 1) or (height, width, 3) arrays in [0, 1] (as
    :func:`utils.data.sample_images` returns them). One axes per image, unused cells hidden.
    """
    if len(samples) == 0:
        raise ValueError("plot_image_grid needs at least one (image, label) pair")
    ncols = ncols or min(len(samples), 8)
    nrows = math.ceil(len(samples) / ncols)
    fig, axes = new_figure(ncols, nrows, size=(1.6, 2.0))
    for ax in axes:
        ax.axis("off")
    for ax, (image, label) in zip(axes, samples, strict=False):
        image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0)
        ax.set_title(str(label), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_class_balance(counts: Mapping, title: str = "Images per class") -> Figure:
    """Bar chart of images per class.

    ``counts`` is ``{class: count}`` (one bar per class) or ``{split: {class: count}}`` (bars
    grouped by class, one colour per split), e.g. from :func:`utils.data.class_counts`.
    """
    if not counts:
        raise ValueError("plot_class_balance needs at least one class")
    first = next(iter(counts.values()))
    if not isinstance(first, Mapping):
        counts = {"images": counts}
    table = pd.DataFrame(counts).fillna(0)  # rows: classes, columns: splits
    fig, (ax,) = new_figure(size=(min(10.0, max(5.0, 0.25 * len(table) * len(table.columns))),
                               3.6))
    table.plot.bar(ax=ax, rot=0, width=0.8)
    for container in ax.containers:
        ax.bar_label(container, fontsize=7)
    ax.set_ylim(0, 1.15 * float(table.to_numpy().max()))
    splits = len(table.columns) > 1
    if not splits:
        ax.get_legend().remove()  # the one made by pandas; one colour needs none
    return finish_axes(ax, xlabel="class", ylabel="images", title=title,
                       legend=splits and {"loc": "upper left", "bbox_to_anchor": (1.0, 1.0)})


def plot_image_sizes(sizes, title: str = "Original image sizes") -> Figure:
    """Histograms of the stored images' widths and heights (two axes).

    ``sizes`` is an array of (width, height) pairs. When every image has the same size (as
    with MNIST's 28x28 digits) each histogram is a single bar, which is the point to see.
    """
    sizes = np.asarray(sizes, dtype=float).reshape(-1, 2)
    if len(sizes) == 0:
        raise ValueError("plot_image_sizes needs at least one (width, height) pair")
    fig, axes = new_figure(2, size=(4.5, 3.4))
    for ax, column, label in zip(axes, sizes.T, ("width", "height"), strict=True):
        low, high = column.min(), column.max()
        bins = 1 if low == high else min(40, int(high - low) + 1)
        ax.hist(column, bins=bins, range=(low - 0.5, high + 0.5), color=FLOAT_COLOR)
        finish_axes(ax, xlabel=f"{label} (pixels)", ylabel="images",
                    title=f"{label}: median {np.median(column):.0f}, {low:.0f} to {high:.0f}",
                    title_size=9, layout=False)
    fig.suptitle(f"{title} ({len(sizes):,} images)")
    fig.tight_layout()
    return fig
