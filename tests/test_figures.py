"""save_fig (atomic PNG writes) and the plotting functions' figures."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from utils import figures  # noqa: E402
from utils.lessons import binary_and_8bit_layers, quantization_theory, setup_and_data  # noqa: E402

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


def test_plot_quantizer_staircase_one_line_per_bit_width_plus_identity():
    x = np.linspace(-1, 1, 11)
    curves = {1: (x, np.sign(x)), 2: (x, np.round(x)), 4: (x, np.round(4 * x) / 4)}
    fig = quantization_theory.plot_quantizer_staircase(curves)
    (ax,) = fig.axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:3] == ["1 bit (sign)", "2 bits (3 levels shown)", "4 bits (9 levels shown)"]
    assert "identity" in labels


def test_plot_clipping_and_tradeoff():
    values = np.random.default_rng(0).normal(size=1000)
    quantized = np.round(np.clip(values, -2, 2) * 3) / 3
    fig = quantization_theory.plot_clipping(values, quantized, alpha=2.0, k=3)
    assert len(fig.axes) == 2
    table = pd.DataFrame({
        "alpha_over_std": [1.0, 2.0, 3.0], "mse": [3.0, 1.0, 2.0],
        "rounding_mse": [0.5, 0.8, 1.9], "clipping_mse": [2.5, 0.2, 0.1],
    })
    fig = quantization_theory.plot_clipping_tradeoff(table, k=4)
    (ax,) = fig.axes
    assert len([line for line in ax.get_lines() if line.get_label() != "_child"]) >= 3
    assert ax.get_yscale() == "log"


def test_plot_symmetric_vs_asymmetric_has_two_panels():
    x = np.linspace(-1, 1, 9)
    curves = {"asymmetric": (x, np.floor(x * 2) / 2), "symmetric": (x, np.round(x))}
    bias = pd.DataFrame({
        "bits": [2, 2, 4, 4], "scheme": ["asymmetric", "symmetric"] * 2,
        "mean_error_in_steps": [-0.12, 0.0, -0.03, 0.0],
    })
    fig = quantization_theory.plot_symmetric_vs_asymmetric(curves, bias, k=2)
    assert len(fig.axes) == 2
    assert len(fig.axes[1].get_lines()) == 2 + 1  # two schemes and the zero line


def test_plot_weight_histograms_float_and_quantized():
    weights = np.random.default_rng(0).normal(0, 0.05, 2000)
    quantized = np.round(weights / 0.02) * 0.02
    fig = quantization_theory.plot_weight_histograms(weights, quantized, bits=4)
    assert len(fig.axes) == 2
    assert len(fig.axes[1].patches) == len(np.unique(quantized))


def test_plot_quantization_error_lines_per_distribution():
    table = pd.DataFrame({
        "distribution": ["uniform"] * 3 + ["gaussian"] * 3,
        "bits": [2, 4, 8] * 2,
        "sqnr_db": [12, 24, 48, 8, 20, 40],
        "mse": [1e-2, 1e-3, 1e-5, 2e-2, 2e-3, 2e-5],
    })
    fig = quantization_theory.plot_quantization_error(table)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].get_lines()) == 3  # two distributions and the 6 dB rule
    assert fig.axes[1].get_yscale() == "log"


def test_plot_ste_grid_of_forward_and_gradient():
    x = np.linspace(-2, 2, 5)
    samples = pd.concat([
        pd.DataFrame({"quantizer": name, "x": x, "forward": np.sign(x),
                      "gradient": (np.abs(x) <= 1).astype(float)})
        for name in ("sign", "2-bit", "4-bit")
    ])
    fig = quantization_theory.plot_ste(samples)
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:3]] == ["sign", "2-bit", "4-bit"]


def test_plot_throughput_table_bars():
    table = pd.DataFrame({"input_type": ["FP16", "INT8"], "relative_math_throughput": [8, 16],
                          "bandwidth_savings": [2, 4]})
    fig = quantization_theory.plot_throughput_table(table)
    assert len(fig.axes[0].patches) == 4


def test_plot_latent_weights_with_and_without_steps():
    rng = np.random.default_rng(0)
    latent = np.clip(rng.normal(0, 0.5, 100), -1, 1)
    steps = pd.DataFrame({"step": [1, 2, 3], "clipped_fraction": [0.0, 0.1, 0.2],
                          "flips": [30, 10, 5]})
    fig = binary_and_8bit_layers.plot_latent_weights(latent * 0.1, latent, np.sign(latent), steps)
    assert len(fig.axes) == 4  # three panels and the twin axis of the third
    fig = binary_and_8bit_layers.plot_latent_weights(latent * 0.1, latent, np.sign(latent))
    assert len(fig.axes) == 2


def test_plot_histories_train_dashed_validation_solid_same_colour():
    histories = {
        "binary": {"accuracy": [0.5, 0.7], "val_accuracy": [0.4, 0.6]},
        "fp32": {"accuracy": [0.8, 0.9], "val_accuracy": [0.7, 0.85], "loss": [1, 0.5]},
    }
    fig = binary_and_8bit_layers.plot_histories(histories, metric="accuracy", title="runs")
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 4
    assert [line.get_linestyle() for line in lines] == ["--", "-", "--", "-"]
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert list(lines[0].get_xdata()) == [1, 2]
    assert ax.get_title() == "runs"


def test_plot_histories_without_validation_and_errors():
    fig = binary_and_8bit_layers.plot_histories({"run": {"loss": [3, 2, 1]}}, metric="loss")
    assert len(fig.axes[0].get_lines()) == 1
    with pytest.raises(ValueError, match="no history"):
        binary_and_8bit_layers.plot_histories({"run": {"loss": [1]}}, metric="accuracy")
    with pytest.raises(ValueError):
        binary_and_8bit_layers.plot_histories({})


def test_plot_training_curves_accuracy_and_loss():
    history = {"accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7], "loss": [1.0, 0.5],
               "val_loss": [1.2, 0.8]}
    fig = binary_and_8bit_layers.plot_training_curves(history, title="mlp")
    assert [ax.get_ylabel() for ax in fig.axes] == ["accuracy", "loss"]
    assert all(len(ax.get_lines()) == 2 for ax in fig.axes)


def test_plot_accuracy_vs_bits_log2_axis_and_memory_labels():
    table = pd.DataFrame({"bits": [32, 1, 8, 2, 4], "test_accuracy": [0.98, 0.9, 0.97, 0.93, 0.95],
                          "memory_kib": [800, 30, 200, 60, 110]})
    fig = binary_and_8bit_layers.plot_accuracy_vs_bits(table)
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [1, 2, 4, 8, 32]  # sorted by bits
    assert ax.get_xscale() == "log"
    assert len(ax.texts) == 5


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
