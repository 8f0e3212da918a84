"""Affine quantization (scale and zero point), per-channel scales and calibration."""

import numpy as np
import pytest
import tensorflow as tf

from utils.quantizers import (
    affine_from_range,
    calibrate,
    calibration_table,
    integer_range,
    symmetric_scales,
    weight_error_table,
    weight_quantization_error,
)


def test_integer_ranges():
    assert integer_range(8) == (-128, 127)
    assert integer_range(8, narrow=True) == (-127, 127)
    assert integer_range(8, signed=False) == (0, 255)
    assert integer_range(4) == (-8, 7)
    with pytest.raises(ValueError, match="bits"):
        integer_range(1)


def test_scale_and_zero_point_by_hand():
    # [-1, 3] on int8: S = 4 / 255, Z = round(-128 + 1 / S) = round(-64.25) = -64
    q = affine_from_range(-1.0, 3.0, 8)
    assert float(q.scale) == pytest.approx(4 / 255) and int(q.zero_point) == -64
    assert int(q.quantize(0.0)) == -64 and float(q.dequantize(-64)) == 0.0  # zero is exact
    assert q.quantize([-1.0, 3.0, 10.0]).tolist() == [-128, 127, 127]  # ends, then clamped
    # a range that does not contain zero is widened to it: [2, 6] -> [0, 6], Z at q_min
    widened = affine_from_range(2.0, 6.0, 8)
    assert float(widened.scale) == pytest.approx(6 / 255) and int(widened.zero_point) == -128
    # a constant tensor: [3, 3] -> [0, 3]; all zeros: scale 1, every value on Z
    constant = affine_from_range(3.0, 3.0, 8, signed=False)
    assert float(constant.scale) == pytest.approx(3 / 255) and int(constant.zero_point) == 0
    assert float(constant.fake_quantize(3.0)) == pytest.approx(3.0)
    zeros = affine_from_range(0.0, 0.0, 8)
    assert float(zeros.scale) == 1.0 and zeros.quantize([0.0]).tolist() == [int(zeros.zero_point)]
    with pytest.raises(ValueError, match="must not exceed"):
        affine_from_range([1.0, 2.0], [0.5, -1.0])


@pytest.mark.parametrize("r_min, r_max, bits", [(-1.0, 3.0, 8), (0.0, 6.0, 8), (-0.7, 0.2, 4)])
def test_fake_quantization_matches_tensorflows_op(r_min, r_max, bits):
    values = np.random.default_rng(0).uniform(r_min - 0.5, r_max + 0.5, 1000).astype(np.float32)
    ours = affine_from_range(r_min, r_max, bits, signed=False).fake_quantize(values)
    theirs = tf.quantization.fake_quant_with_min_max_vars(values, r_min, r_max,
                                                          num_bits=bits).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_symmetric_weights_have_zero_point_zero_and_narrow_range():
    weights = np.array([[0.5, -0.01], [-1.0, 0.02]])  # two output channels (last axis)
    tensor = symmetric_scales(weights, per_channel=False)
    channel = symmetric_scales(weights, per_channel=True)
    assert float(tensor.scale) == pytest.approx(1 / 127) and tensor.q_min == -127
    assert channel.scale.tolist() == pytest.approx([1 / 127, 0.02 / 127])
    assert channel.quantize(weights).tolist() == [[64, -64], [-127, 127]]
    assert tensor.quantize(weights)[:, 1].tolist() == [-1, 3]  # the small channel's 3 levels


def test_per_channel_beats_per_tensor_on_unequal_channels():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 16, 8)) * np.geomspace(0.001, 1.0, 8)  # channel ranges
    tensor = weight_quantization_error(kernel, 8, per_channel=False)
    channel = weight_quantization_error(kernel, 8, per_channel=True)
    assert channel["mse"] < tensor["mse"] and channel["sqnr_db"] > tensor["sqnr_db"]
    assert channel["worst_channel_relative_error"] < 0.05 < tensor[
        "worst_channel_relative_error"]
    table = weight_error_table({"conv": kernel}, bits=(4, 8))
    assert table.loc[("conv", 8), "MSE ratio (tensor / channel)"] == pytest.approx(
        tensor["mse"] / channel["mse"])
    assert table.loc[("conv", 8), "largest / median channel range"] > 10
    equal = rng.normal(size=(3, 3, 16, 8))  # equal channels: per-channel gains little
    ratio = (weight_quantization_error(equal, 8, per_channel=False)["mse"]
             / weight_quantization_error(equal, 8, per_channel=True)["mse"])
    assert 1.0 <= ratio < 1.5


def test_calibration_clips_a_heavy_tail_when_the_grid_is_coarse():
    values = np.maximum(np.random.default_rng(0).standard_t(3, 100_000), 0.0)  # ReLU'd tail
    low, high = calibrate(values, "minmax")
    assert (low, high) == (0.0, values.max())
    assert calibrate(values, "percentile", percentile=99.9)[1] == pytest.approx(
        np.percentile(values, 99.9))
    coarse = calibration_table({"relu": values}, bits=4).xs("relu")
    fine = calibration_table({"relu": values}, bits=8).xs("relu")
    # At 4 bits a clipped range beats the full one; at 8 bits the grid is fine enough that
    # clipping the tail costs more than it saves. The MSE search includes min/max.
    assert coarse.loc["mse", "SQNR (dB)"] >= coarse.loc["percentile", "SQNR (dB)"] > (
        coarse.loc["minmax", "SQNR (dB)"] + 3)
    assert fine.loc["mse", "SQNR (dB)"] >= fine.loc["minmax", "SQNR (dB)"] > fine.loc[
        "percentile", "SQNR (dB)"]
    assert coarse.loc["mse", "r_max"] < high / 2 and coarse.loc["mse", "clipped %"] > 0
    assert fine.loc["minmax", "clipped %"] == 0.0
    assert fine.loc["minmax", "zero point"] == -128  # ReLU: zero at the bottom of int8
    with pytest.raises(ValueError, match="accepted: minmax, percentile, mse"):
        calibrate(values, "entropy")
