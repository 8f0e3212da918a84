"""Numbers of notebook 01: error vs bits, clipping, symmetric vs asymmetric, Fig. 3.1, STE."""

import numpy as np
import pytest

from utils.lessons import quantization_theory
from utils.quantizers import asymmetric_levels, symmetric_levels


def test_sample_weights_shapes_and_errors():
    for name in quantization_theory.DISTRIBUTIONS:
        values = quantization_theory.sample_weights(1000, name, scale=0.1, seed=1)
        assert values.shape == (1000,) and values.dtype == np.float32
    uniform = quantization_theory.sample_weights(5000, "uniform", scale=0.1)
    assert np.abs(uniform).max() <= 0.1
    again = quantization_theory.sample_weights(10, seed=3)
    np.testing.assert_array_equal(quantization_theory.sample_weights(10, seed=3), again)
    with pytest.raises(ValueError, match="distribution"):
        quantization_theory.sample_weights(10, "cauchy")
    with pytest.raises(ValueError, match="scale"):
        quantization_theory.sample_weights(10, scale=0)


def test_error_decreases_with_bits():
    table = quantization_theory.quantization_error(bits=(1, 2, 3, 4, 6, 8, 12),
                                      distributions=("uniform", "gaussian", "laplace"),
                                      n=20_000)
    for _, group in table.groupby("distribution"):
        multi_bit = group[group["bits"] >= 2].sort_values("bits")
        assert np.all(np.diff(multi_bit["mse"]) < 0)
        assert np.all(np.diff(multi_bit["sqnr_db"]) > 0)
    assert set(table.columns) >= {"distribution", "bits", "mse", "sqnr_db", "alpha", "levels"}


def test_about_six_db_per_bit_for_uniform_data():
    table = quantization_theory.quantization_error(bits=(6, 8, 10, 12), distributions=("uniform",),
                                      n=200_000).set_index("bits")
    slope = (table.loc[12, "sqnr_db"] - table.loc[6, "sqnr_db"]) / 6
    assert slope == pytest.approx(6.02, abs=0.1)
    # 2^k - 1 symmetric levels over [-alpha, alpha]: SQNR = 20 log10(2^k - 2) exactly in theory.
    assert table.loc[8, "sqnr_db"] == pytest.approx(20 * np.log10(2**8 - 2), abs=0.3)


def test_quantization_error_on_given_values_and_clip_options():
    values = np.linspace(-1, 1, 1001)
    table = quantization_theory.quantization_error(values, bits=(2, 4), clip=0.5)
    assert list(table["distribution"]) == ["data", "data"]
    assert table["alpha"].tolist() == [0.5, 0.5]
    assert quantization_theory.quantization_error(values, bits=(4,), clip="2std")["alpha"].iloc[0] == \
        pytest.approx(2 * np.std(values.astype(np.float32)), rel=1e-5)
    for bad in ("huge", "0std", -1.0):
        with pytest.raises(ValueError, match="clip"):
            quantization_theory.quantization_error(values, bits=(4,), clip=bad)


def test_sign_with_mean_scale_and_sqnr():
    values = np.array([-0.2, -0.1, 0.1, 0.4], np.float32)
    np.testing.assert_allclose(quantization_theory.sign_with_mean_scale(values),
                               [-0.2, -0.2, 0.2, 0.2], rtol=1e-6)
    assert quantization_theory.sqnr_db(values, values) == float("inf")
    assert quantization_theory.sqnr_db([1.0, -1.0], [0.9, -0.9]) == pytest.approx(20.0)


def test_clipping_tradeoff_parts_add_up_and_best_alpha_is_inside():
    weights = quantization_theory.sample_weights(50_000, "gaussian", scale=0.05)
    table = quantization_theory.clipping_tradeoff(weights, k=4)
    np.testing.assert_allclose(table["mse"], table["clipping_mse"] + table["rounding_mse"],
                               rtol=1e-9)
    assert np.all(np.diff(table["clipped_fraction"]) <= 0)
    best = table.loc[table["mse"].idxmin(), "alpha_over_std"]
    assert 1.5 < best < 3.5  # well inside the largest weight (over 4 std)
    assert table["mse"].iloc[-1] > table["mse"].min()


def test_quantizer_curves_levels():
    kbit = quantization_theory.quantizer_curves(bits=(1, 2), kind="kbit")
    assert set(np.unique(kbit[1][1])) == {-1.0, 1.0}
    assert set(np.unique(kbit[2][1])) == {-1.0, -0.5, 0.0, 0.5}
    symmetric = quantization_theory.quantizer_curves(bits=(2, 3), kind="symmetric", alpha=1.0)
    assert set(np.unique(symmetric[2][1])) == {-1.0, 0.0, 1.0}
    assert len(np.unique(symmetric[3][1])) == 7
    asymmetric = quantization_theory.quantizer_curves(bits=(2,), kind="asymmetric", alpha=1.0)
    assert set(np.unique(asymmetric[2][1])) == {-1.0, -0.5, 0.0, 0.5}
    with pytest.raises(ValueError, match="kind"):
        quantization_theory.quantizer_curves(kind="log")


def test_asymmetric_range_biases_a_symmetric_distribution():
    table = quantization_theory.symmetric_vs_asymmetric(bits=(2, 3, 4, 6), n=200_000)
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
    table = quantization_theory.relative_throughput_table().set_index("input_type")
    assert list(table.index) == ["FP16", "INT8", "INT4", "INT1"]
    assert table["relative_math_throughput"].tolist() == [8, 16, 32, 128]
    assert table["bandwidth_savings"].tolist() == [2, 4, 8, 32]
    assert table["accumulation_type"].tolist() == ["FP16", "INT32", "INT32", "INT32"]
    assert (table["bandwidth_savings"] == 32 / table["bits"]).all()
    assert set(table["source"]) == {"Wu 2019, via the report's Fig. 3.1"}


def test_ste_gradients_match_eqs_4_3_and_4_7():
    samples = quantization_theory.ste_samples(x_range=(-2.0, 2.0), num=401, kbits=(2, 4, 8))
    names = list(dict.fromkeys(samples["quantizer"]))
    assert len(names) == 5
    for name, group in samples.groupby("quantizer"):
        x = group["x"].to_numpy()
        expected = (np.abs(x) <= 1.0).astype(np.float32)  # 1 where |x| <= 1, else 0
        np.testing.assert_array_equal(group["gradient"].to_numpy(), expected, err_msg=name)


def test_ste_forward_values():
    samples = quantization_theory.ste_samples(num=401, kbits=(4,))
    sign = samples[samples["quantizer"].str.startswith("sign")]
    np.testing.assert_array_equal(sign["forward"], np.where(sign["x"] >= 0, 1.0, -1.0))  # eq. 4.2
    hardtanh = samples[samples["quantizer"].str.startswith("hardtanh")]
    np.testing.assert_allclose(hardtanh["forward"], np.clip(hardtanh["x"], -1, 1))
    kbit = samples[samples["quantizer"].str.startswith("4-bit")]
    x = kbit["x"].to_numpy(np.float32)
    eq_4_6 = np.clip(np.round(8 * x) / 8, -1, 1 - 1 / 8)
    np.testing.assert_allclose(kbit["forward"], eq_4_6)
    with pytest.raises(ValueError, match="kbits"):
        quantization_theory.ste_samples(kbits=(1,))
