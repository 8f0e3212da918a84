"""Tests for utils.lessons.quantization_theory (notebook 01): error vs bits, clipping,
symmetric vs asymmetric, Fig. 3.1, the STE, and the notebook's plots."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from utils.lessons import quantization_theory as theory
from utils.quantizers import asymmetric_levels, symmetric_levels

matplotlib.use("Agg")  # as in tests/test_figures.py: no window, on any machine


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_sample_weights_shapes_and_errors():
    for name in theory.DISTRIBUTIONS:
        values = theory.sample_weights(1000, name, scale=0.1, seed=1)
        assert values.shape == (1000,) and values.dtype == np.float32
    uniform = theory.sample_weights(5000, "uniform", scale=0.1)
    assert np.abs(uniform).max() <= 0.1
    again = theory.sample_weights(10, seed=3)
    np.testing.assert_array_equal(theory.sample_weights(10, seed=3), again)
    with pytest.raises(ValueError, match="distribution"):
        theory.sample_weights(10, "cauchy")
    with pytest.raises(ValueError, match="scale"):
        theory.sample_weights(10, scale=0)


def test_error_decreases_with_bits():
    table = theory.quantization_error(bits=(1, 2, 3, 4, 6, 8, 12),
                                      distributions=("uniform", "gaussian", "laplace"),
                                      n=20_000)
    for _, group in table.groupby("distribution"):
        multi_bit = group[group["bits"] >= 2].sort_values("bits")
        assert np.all(np.diff(multi_bit["mse"]) < 0)
        assert np.all(np.diff(multi_bit["sqnr_db"]) > 0)
    assert set(table.columns) >= {"distribution", "bits", "mse", "sqnr_db", "alpha", "levels"}


def test_about_six_db_per_bit_for_uniform_data():
    table = theory.quantization_error(bits=(6, 8, 10, 12), distributions=("uniform",),
                                      n=200_000).set_index("bits")
    slope = (table.loc[12, "sqnr_db"] - table.loc[6, "sqnr_db"]) / 6
    assert slope == pytest.approx(6.02, abs=0.1)
    # 2^k - 1 symmetric levels over [-alpha, alpha]: SQNR = 20 log10(2^k - 2) exactly in theory.
    assert table.loc[8, "sqnr_db"] == pytest.approx(20 * np.log10(2**8 - 2), abs=0.3)


def test_quantization_error_on_given_values_and_clip_options():
    values = np.linspace(-1, 1, 1001)
    table = theory.quantization_error(values, bits=(2, 4), clip=0.5)
    assert list(table["distribution"]) == ["data", "data"]
    assert table["alpha"].tolist() == [0.5, 0.5]
    assert theory.quantization_error(values, bits=(4,), clip="2std")["alpha"].iloc[0] == \
        pytest.approx(2 * np.std(values.astype(np.float32)), rel=1e-5)
    for bad in ("huge", "0std", -1.0):
        with pytest.raises(ValueError, match="clip"):
            theory.quantization_error(values, bits=(4,), clip=bad)


def test_sign_with_mean_scale_and_sqnr():
    values = np.array([-0.2, -0.1, 0.1, 0.4], np.float32)
    np.testing.assert_allclose(theory.sign_with_mean_scale(values),
                               [-0.2, -0.2, 0.2, 0.2], rtol=1e-6)
    assert theory.sqnr_db(values, values) == float("inf")
    assert theory.sqnr_db([1.0, -1.0], [0.9, -0.9]) == pytest.approx(20.0)


def test_clipping_tradeoff_parts_add_up_and_best_alpha_is_inside():
    weights = theory.sample_weights(50_000, "gaussian", scale=0.05)
    table = theory.clipping_tradeoff(weights, k=4)
    np.testing.assert_allclose(table["mse"], table["clipping_mse"] + table["rounding_mse"],
                               rtol=1e-9)
    assert np.all(np.diff(table["clipped_fraction"]) <= 0)
    best = table.loc[table["mse"].idxmin(), "alpha_over_std"]
    assert 1.5 < best < 3.5  # well inside the largest weight (over 4 std)
    assert table["mse"].iloc[-1] > table["mse"].min()


def test_quantizer_curves_levels():
    kbit = theory.quantizer_curves(bits=(1, 2), kind="kbit")
    assert set(np.unique(kbit[1][1])) == {-1.0, 1.0}
    assert set(np.unique(kbit[2][1])) == {-1.0, -0.5, 0.0, 0.5}
    symmetric = theory.quantizer_curves(bits=(2, 3), kind="symmetric", alpha=1.0)
    assert set(np.unique(symmetric[2][1])) == {-1.0, 0.0, 1.0}
    assert len(np.unique(symmetric[3][1])) == 7
    asymmetric = theory.quantizer_curves(bits=(2,), kind="asymmetric", alpha=1.0)
    assert set(np.unique(asymmetric[2][1])) == {-1.0, -0.5, 0.0, 0.5}
    with pytest.raises(ValueError, match="kind"):
        theory.quantizer_curves(kind="log")


def test_asymmetric_range_biases_a_symmetric_distribution():
    table = theory.symmetric_vs_asymmetric(bits=(2, 3, 4, 6), n=200_000)
    asym = table[table["scheme"] == "asymmetric"].set_index("bits")
    sym = table[table["scheme"] == "symmetric"].set_index("bits")
    assert (asym["mean_error"] < 0).all()  # values near +alpha are pulled down
    assert np.all(np.diff(asym["mean_error_in_steps"]) > 0)  # the bias shrinks with k
    assert asym.loc[2, "mean_error_in_steps"] == pytest.approx(-0.125, abs=0.01)
    assert (sym["mean_error_in_steps"].abs() < 0.005).all()  # no bias, up to noise
    for k in (2, 3, 4, 6):
        assert (asym.loc[k, "low"], asym.loc[k, "high"]) == asymmetric_levels(k)
        assert (sym.loc[k, "low"], sym.loc[k, "high"]) == symmetric_levels(k)
        assert sym.loc[k, "top_value"] == pytest.approx(1.0)
        assert asym.loc[k, "top_value"] < 1.0


def test_fig_3_1_table():
    table = theory.relative_throughput_table().set_index("input_type")
    assert list(table.index) == ["FP16", "INT8", "INT4", "INT1"]
    assert table["relative_math_throughput"].tolist() == [8, 16, 32, 128]
    assert table["bandwidth_savings"].tolist() == [2, 4, 8, 32]
    assert table["accumulation_type"].tolist() == ["FP16", "INT32", "INT32", "INT32"]
    assert (table["bandwidth_savings"] == 32 / table["bits"]).all()
    assert set(table["source"]) == {"Wu 2019, via the report's Fig. 3.1"}


def test_ste_gradients_match_eqs_4_3_and_4_7():
    samples = theory.ste_samples(x_range=(-2.0, 2.0), num=401, kbits=(2, 4, 8))
    names = list(dict.fromkeys(samples["quantizer"]))
    assert len(names) == 5
    for name, group in samples.groupby("quantizer"):
        x = group["x"].to_numpy()
        expected = (np.abs(x) <= 1.0).astype(np.float32)  # 1 where |x| <= 1, else 0
        np.testing.assert_array_equal(group["gradient"].to_numpy(), expected, err_msg=name)


def test_ste_forward_values():
    samples = theory.ste_samples(num=401, kbits=(4,))
    sign = samples[samples["quantizer"].str.startswith("sign")]
    np.testing.assert_array_equal(sign["forward"], np.where(sign["x"] >= 0, 1.0, -1.0))  # eq. 4.2
    hardtanh = samples[samples["quantizer"].str.startswith("hardtanh")]
    np.testing.assert_allclose(hardtanh["forward"], np.clip(hardtanh["x"], -1, 1))
    kbit = samples[samples["quantizer"].str.startswith("4-bit")]
    x = kbit["x"].to_numpy(np.float32)
    eq_4_6 = np.clip(np.round(8 * x) / 8, -1, 1 - 1 / 8)
    np.testing.assert_allclose(kbit["forward"], eq_4_6)
    with pytest.raises(ValueError, match="kbits"):
        theory.ste_samples(kbits=(1,))


# --- plots ------------------------------------------------------------------------------------


def test_plot_quantizer_staircase_one_line_per_bit_width_plus_identity():
    x = np.linspace(-1, 1, 11)
    curves = {1: (x, np.sign(x)), 2: (x, np.round(x)), 4: (x, np.round(4 * x) / 4)}
    fig = theory.plot_quantizer_staircase(curves)
    (ax,) = fig.axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:3] == ["1 bit (sign)", "2 bits (3 levels shown)", "4 bits (9 levels shown)"]
    assert "identity" in labels


def test_plot_clipping_and_tradeoff():
    values = np.random.default_rng(0).normal(size=1000)
    quantized = np.round(np.clip(values, -2, 2) * 3) / 3
    fig = theory.plot_clipping(values, quantized, alpha=2.0, k=3)
    assert len(fig.axes) == 2
    table = pd.DataFrame({
        "alpha_over_std": [1.0, 2.0, 3.0], "mse": [3.0, 1.0, 2.0],
        "rounding_mse": [0.5, 0.8, 1.9], "clipping_mse": [2.5, 0.2, 0.1],
    })
    fig = theory.plot_clipping_tradeoff(table, k=4)
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
    fig = theory.plot_symmetric_vs_asymmetric(curves, bias, k=2)
    assert len(fig.axes) == 2
    assert len(fig.axes[1].get_lines()) == 2 + 1  # two schemes and the zero line


def test_plot_weight_histograms_float_and_quantized():
    weights = np.random.default_rng(0).normal(0, 0.05, 2000)
    quantized = np.round(weights / 0.02) * 0.02
    fig = theory.plot_weight_histograms(weights, quantized, bits=4)
    assert len(fig.axes) == 2
    assert len(fig.axes[1].patches) == len(np.unique(quantized))


def test_plot_quantization_error_lines_per_distribution():
    table = pd.DataFrame({
        "distribution": ["uniform"] * 3 + ["gaussian"] * 3,
        "bits": [2, 4, 8] * 2,
        "sqnr_db": [12, 24, 48, 8, 20, 40],
        "mse": [1e-2, 1e-3, 1e-5, 2e-2, 2e-3, 2e-5],
    })
    fig = theory.plot_quantization_error(table)
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
    fig = theory.plot_ste(samples)
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:3]] == ["sign", "2-bit", "4-bit"]


def test_plot_throughput_table_bars():
    table = pd.DataFrame({"input_type": ["FP16", "INT8"], "relative_math_throughput": [8, 16],
                          "bandwidth_savings": [2, 4]})
    fig = theory.plot_throughput_table(table)
    assert len(fig.axes[0].patches) == 4
