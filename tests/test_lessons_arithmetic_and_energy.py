"""Tests for utils.lessons.arithmetic_and_energy (notebook 08).

Layers redone by hand: an int8 convolution of a full-integer TFLite file against TFLite's
interpreter, and a binary convolution by XNOR and popcount against larq. The int8 models are
tiny Conv2D -> BN -> ReLU -> pooling -> Dense networks whose batch-norm statistics are settled
on the calibration images first, so that the folded convolution has varied outputs; the
by-hand layer must equal TFLite's reference kernels exactly, and the optimized kernels within
one int8 step.

Energy per inference: the cost table against its sources, the derived bit widths, one-layer
networks counted by hand, and the accuracy-energy tables and figures."""

import json
import math
from fractions import Fraction

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from matplotlib.figure import Figure

from utils.deploy import convert_float, convert_int8, operator_tensors
from utils.lessons import arithmetic_and_energy as energy
from utils.lessons.arithmetic_and_energy import (
    EXTRA_SERIES,
    binary_conv2d,
    binary_layer_by_hand,
    binary_layer_table,
    check_int8_conv,
    int8_conv2d,
    int8_conv_table,
    int8_output_steps,
    layer_inputs,
    multiply_by_quantized_multiplier,
    plot_accuracy_vs_energy,
    plot_energy_breakdown,
    plot_mac_energy,
    quantize_multiplier,
)
from utils.models import summary_figures
from utils.quantizers import KBitQuantizer
from utils.records import to_jsonable

# Schema enum values of CONV_2D options (see TFLITE_PADDING and TFLITE_ACTIVATIONS in
# utils.lessons.arithmetic_and_energy).
SAME, VALID, RELU = 0, 1, 1


# --- fixed-point requantization --------------------------------------------------------------


@pytest.mark.parametrize("real, fixed, shift", [
    (0.5, 2**30, 0), (0.75, 3 * 2**29, 0), (1.0, 2**30, 1), (0.25, 2**30, -1),
    (2.0**-20, 2**30, -19),
])
def test_quantize_multiplier_is_a_31_bit_mantissa_and_a_shift(real, fixed, shift):
    got_fixed, got_shift = quantize_multiplier(real)
    assert (int(got_fixed), int(got_shift)) == (fixed, shift)


def test_quantize_multiplier_is_within_half_a_unit_of_the_31st_bit():
    reals = np.random.default_rng(0).uniform(1e-6, 0.99, 500)
    fixed, shift = quantize_multiplier(reals)
    assert np.all((fixed >= 2**30) & (fixed <= 2**31 - 1))
    rebuilt = fixed.astype(np.float64) * 2.0 ** (shift.astype(np.float64) - 31)
    assert np.all(np.abs(rebuilt - reals) <= 2.0 ** (shift - 32) * 1.0000001)


@pytest.mark.parametrize("real", [0.0, -0.5, float("nan")])
def test_quantize_multiplier_rejects_non_positive_multipliers(real):
    with pytest.raises(ValueError, match="positive and finite"):
        quantize_multiplier(real)


@pytest.mark.parametrize("value, real, expected", [
    # 2.5 and -2.5 in the high multiply: gemmlowp's nudge rounds a positive tie up and a
    # negative one toward zero
    (5, 0.5, 3), (-5, 0.5, -2),
    (6, 0.25, 2), (-6, 0.25, -2),  # 1.5 and -1.5 in the right shift: away from zero
    (7, 0.25, 2), (-7, 0.25, -2),  # 1.75 and -1.75
    (3, 3.0, 9),  # a positive shift multiplies first
])
def test_multiply_by_quantized_multiplier_rounds_like_tflite(value, real, expected):
    fixed, shift = quantize_multiplier(real)
    assert int(multiply_by_quantized_multiplier(value, fixed, shift)) == expected


def test_multiply_by_quantized_multiplier_is_the_rounded_product():
    rng = np.random.default_rng(1)
    values = rng.integers(-2**20, 2**20, 2000)
    reals = rng.uniform(1e-5, 0.9, 2000)
    fixed, shift = quantize_multiplier(reals)
    got = multiply_by_quantized_multiplier(values, fixed, shift)
    exact = [Fraction(int(v)) * Fraction(int(f)) / 2 ** (31 - int(s))
             for v, f, s in zip(values, fixed, shift, strict=True)]
    errors = np.array([float(abs(Fraction(int(g)) - e)) for g, e in zip(got, exact, strict=True)])
    # TFLite rounds twice: to an integer at 2^-shift of the final step (the high multiply),
    # then to the final step (the right shift): at most half of each.
    assert np.all(errors <= 0.5 + 0.5 * 2.0**shift)
    assert np.mean(errors <= 0.5) > 0.9


# --- int8 convolution against the interpreter -------------------------------------------------


def _int8_file(size, channels, filters, strides, padding, *, per_channel=False, seed=0):
    """A tiny Conv2D -> BN -> ReLU -> GAP -> Dense network as a full-integer file."""
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input((size, size, channels))
    x = tf.keras.layers.Conv2D(filters, 3, strides=strides, padding=padding,
                               use_bias=False)(inputs)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(2, activation="softmax")(x))
    images = np.random.default_rng(seed).uniform(-1, 1, (16, size, size, channels))
    images = images.astype(np.float32)
    for _ in range(20):  # settle the batch-norm statistics
        model(images, training=True)
    return convert_int8(model, images, per_channel=per_channel), images


@pytest.mark.parametrize("size, channels, filters, strides, padding, per_channel", [
    (12, 3, 8, 1, "same", False),
    (15, 5, 6, 2, "valid", False),
    (13, 4, 7, 2, "same", True),
    (64, 32, 32, 1, "same", True),
])
@pytest.mark.slow
def test_int8_convolution_by_hand_equals_tflite(size, channels, filters, strides, padding,
                                                per_channel):
    flatbuffer, images = _int8_file(size, channels, filters, strides, padding,
                                    per_channel=per_channel)
    (op,) = operator_tensors(flatbuffer, "CONV_2D")
    assert op["options"]["padding"] == {"same": SAME, "valid": VALID}[padding]
    assert (op["options"]["strideH"], op["options"]["strideW"]) == (strides, strides)
    assert op["options"]["fusedActivationFunction"] == RELU
    assert len(op["inputs"][1]["scale"]) == (filters if per_channel else 1)
    reference = check_int8_conv(flatbuffer, images[0], kernels="reference")
    out = -(-size // strides) if padding == "same" else (size - 3) // strides + 1
    assert reference.by_hand.shape == (1, out, out, filters)
    assert reference.by_hand.dtype == np.int8
    assert reference.max_difference == 0 and reference.differing == 0
    assert len(np.unique(reference.by_hand)) > 10  # a real test: varied outputs
    optimized = check_int8_conv(flatbuffer, images[0], kernels="optimized")
    assert optimized.max_difference <= 1
    assert optimized.differing <= 0.01 * optimized.by_hand.size


@pytest.mark.slow
def test_int8_convolution_takes_the_int8_input_the_interpreter_saw():
    flatbuffer, images = _int8_file(10, 3, 4, 1, "valid")
    check = check_int8_conv(flatbuffer, images[1])
    assert not np.array_equal(check.by_hand, check_int8_conv(flatbuffer, images[2]).by_hand)


def test_every_convolution_of_a_file_in_one_table_and_one_output_step_by_step():
    flatbuffer, images = _int8_file(12, 3, 8, 1, "same")
    table = int8_conv_table(flatbuffer, images[0])
    assert table.index.tolist() == [0]
    row = table.loc[0]
    assert (row["padding"], row["activation"], row["weight_scales"]) == (
        "same", "RELU", "per tensor")
    assert row["output"] == (12, 12, 8) and row["outputs"] == 12 * 12 * 8
    assert row["max_difference_reference"] == 0 and row["max_difference_optimized"] <= 1
    steps = int8_output_steps(flatbuffer, images[0], 0, (5, 6, 2))
    clamped = next(value for key, value in steps.items() if key.startswith("clamped to"))
    assert clamped == steps["interpreter"]
    assert steps["M0 · 2^(shift − 31)"] == pytest.approx(steps["M = S_in·S_w / S_out"],
                                                       rel=2**-30)
    assert abs(steps["sum · M, integer arithmetic"] - steps["sum · M, exact"]) < 1


def test_int8_check_rejects_float_files_and_missing_ops():
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((6, 6, 2))
    outputs = tf.keras.layers.Conv2D(2, 3)(inputs)
    flatbuffer = convert_float(tf.keras.Model(inputs, outputs))
    (op,) = operator_tensors(flatbuffer, "CONV_2D")
    with pytest.raises(ValueError, match="not a full-integer convolution"):
        int8_conv2d(np.zeros((1, 6, 6, 2), np.int8), op)
    with pytest.raises(ValueError, match="op_index 3 is out of range"):
        check_int8_conv(flatbuffer, np.zeros((6, 6, 2), np.float32), op_index=3)
    with pytest.raises(ValueError, match="unknown kernels"):
        check_int8_conv(flatbuffer, np.zeros((6, 6, 2), np.float32), kernels="fast")


# --- binary convolution against larq ---------------------------------------------------------


def _binary_layer(filters, kernel_size, strides, padding, *, use_bias=False,
                  kernel_quantizer="ste_sign", pad_values=1.0):
    return lq.layers.QuantConv2D(filters, kernel_size, strides=strides, padding=padding,
                                 input_quantizer="ste_sign", kernel_quantizer=kernel_quantizer,
                                 kernel_constraint="weight_clip", pad_values=pad_values,
                                 use_bias=use_bias, bias_initializer="random_normal")


@pytest.mark.parametrize("size, channels, filters, kernel_size, strides, padding", [
    (9, 8, 4, 3, 1, "same"),     # channels a multiple of 8
    (9, 5, 7, 3, 1, "same"),     # not: the last byte is partly padding
    (10, 16, 8, 3, 2, "valid"),
    (11, 13, 6, 5, 2, "same"),
    (8, 3, 2, 2, 1, "valid"),
])
def test_xnor_popcount_equals_larq_exactly(size, channels, filters, kernel_size, strides,
                                           padding):
    tf.keras.utils.set_random_seed(0)
    layer = _binary_layer(filters, kernel_size, strides, padding)
    inputs = np.random.default_rng(0).normal(size=(2, size, size, channels))
    inputs = inputs.astype(np.float32)
    inputs[0, 0, 0, :] = 0.0  # sign(0) = +1, as ste_sign
    expected = layer(inputs).numpy()
    result = binary_layer_by_hand(layer, inputs)
    assert result.output.dtype == np.float32
    np.testing.assert_array_equal(result.output, expected)
    n = kernel_size**2 * channels
    assert np.all((result.output + n) % 2 == 0) and np.abs(result.output).max() <= n
    packed_bytes = kernel_size**2 * -(-channels // 8) * filters
    assert result.packed_weight_bytes == packed_bytes
    assert result.float_weight_bytes == 4 * kernel_size**2 * channels * filters
    positions = expected.shape[1] * expected.shape[2] * filters
    assert result.macs == positions * n
    assert result.xnor_popcounts == positions * kernel_size**2 * -(-channels // 8)


def test_xnor_popcount_adds_the_bias_exactly():
    tf.keras.utils.set_random_seed(1)
    layer = _binary_layer(5, 3, 1, "same", use_bias=True)
    inputs = np.random.default_rng(1).normal(size=(1, 7, 7, 6)).astype(np.float32)
    expected = layer(inputs).numpy()
    assert np.any(layer.bias.numpy() != 0)
    np.testing.assert_array_equal(binary_layer_by_hand(layer, inputs).output, expected)


def test_magnitude_aware_kernels_scale_the_popcount_per_channel():
    tf.keras.utils.set_random_seed(2)
    layer = _binary_layer(4, 3, 1, "same", kernel_quantizer=lq.quantizers.MagnitudeAwareSign())
    inputs = np.random.default_rng(2).normal(size=(1, 8, 8, 9)).astype(np.float32)
    expected = layer(inputs).numpy()
    np.testing.assert_allclose(binary_layer_by_hand(layer, inputs).output, expected,
                               rtol=1e-5, atol=1e-5)


def test_binary_layer_by_hand_refuses_what_is_not_a_binary_convolution():
    inputs = np.ones((1, 6, 6, 3), np.float32)
    zero_padded = _binary_layer(2, 3, 1, "same", pad_values=0.0)
    zero_padded(inputs)
    with pytest.raises(ValueError, match="pads with 0.0"):
        binary_layer_by_hand(zero_padded, inputs)
    float_inputs = lq.layers.QuantConv2D(2, 3, kernel_quantizer="ste_sign")
    float_inputs(inputs)
    with pytest.raises(ValueError, match="does not binarize its inputs"):
        binary_layer_by_hand(float_inputs, inputs)
    with pytest.raises(ValueError, match="padding must be 'same' or 'valid'"):
        binary_conv2d(inputs, np.ones((3, 3, 3, 2)), padding="causal")


def test_binary_layer_table_finds_the_sign_convolutions_of_a_network():
    tf.keras.utils.set_random_seed(4)
    inputs = tf.keras.Input((10, 10, 3))
    x = lq.layers.QuantConv2D(12, 3, kernel_quantizer="ste_sign", use_bias=False)(inputs)
    x = tf.keras.layers.BatchNormalization()(x)
    x = _binary_layer(9, 3, 1, "same")(x)
    x = _binary_layer(4, 3, 2, "valid")(x)
    model = tf.keras.Model(inputs, tf.keras.layers.GlobalAveragePooling2D()(x))
    images = np.random.default_rng(4).normal(size=(2, 10, 10, 3)).astype(np.float32)
    table = binary_layer_table(model, images)
    assert len(table) == 2  # the first layer's inputs are not binarized
    assert table["equal"].all() and (table["kernel_scale"] == "±1").all()
    assert table["input_channels"].tolist() == [12, 9]
    assert table["packed_weight_bytes"].tolist() == [9 * 2 * 9, 9 * 2 * 4]


def test_layer_inputs_are_what_the_layer_receives():
    tf.keras.utils.set_random_seed(3)
    inputs = tf.keras.Input((6, 6, 2))
    hidden = tf.keras.layers.Conv2D(3, 3, name="first")(inputs)
    outputs = _binary_layer(2, 3, 1, "valid")(hidden)
    model = tf.keras.Model(inputs, outputs)
    images = np.random.default_rng(3).normal(size=(2, 6, 6, 2)).astype(np.float32)
    binary_name = model.layers[-1].name
    np.testing.assert_allclose(layer_inputs(model, binary_name, images),
                               model.get_layer("first")(images).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="has no layer 'missing'"):
        layer_inputs(model, "missing", images)


# --- energy per inference ---------------------------------------------------------------------


# The published figures, typed once, in the units the papers print them in.
# M. Horowitz, "Computing's energy problem (and what we can do about it)", IEEE ISSCC 2014,
# Digest of Technical Papers pp. 10-14, Fig. 1.1.9 "Rough energy costs for various
# operations in 45nm 0.9V": pJ per operation; SRAM caches in pJ per 64-bit read; DRAM as a
# range in nJ per 64-bit access.
HOROWITZ_OPERATION_PJ = {
    ("integer add", 8): 0.03, ("integer add", 32): 0.1,
    ("integer multiply", 8): 0.2, ("integer multiply", 32): 3.1,
    ("float add", 16): 0.4, ("float add", 32): 0.9,
    ("float multiply", 16): 1.1, ("float multiply", 32): 3.7,
}
HOROWITZ_SRAM_64BIT_PJ = {"8 KB": 10, "32 KB": 20, "1 MB": 100}
HOROWITZ_DRAM_64BIT_NJ = (1.3, 2.6)
# S. Han, J. Pool, J. Tran, W. J. Dally, "Learning both weights and connections for efficient
# neural networks", NeurIPS 2015, Fig. 1 (energy table for 45 nm CMOS, after Horowitz):
# "32 bit DRAM Memory 640 pJ".
HAN_DRAM_32BIT_PJ = 640
# Per bit, by hand: a 64-bit read spread over its 64 bits, a 32-bit word over its 32.
SRAM_32KB_PJ_PER_BIT = 0.3125  # 20 pJ / 64
DRAM_PJ_PER_BIT = 20.0  # 640 pJ / 32


def test_cost_table_holds_the_published_figures_with_their_sources():
    table = energy.cost_table()
    assert len(table) == len(HOROWITZ_OPERATION_PJ) + len(HOROWITZ_SRAM_64BIT_PJ) + 2 + 1
    arithmetic = table[table["per"] == "operation"]
    assert {(row.operation, row.bits): row.energy_pj
            for row in arithmetic.itertuples()} == HOROWITZ_OPERATION_PJ
    sram = table[table["operation"].str.startswith("SRAM read")]
    assert {row.operation.removeprefix("SRAM read, ").removesuffix(" array"):
            (row.energy_pj, row.bits, row.per)
            for row in sram.itertuples()} == {
        size: (pj, 64, "64-bit access") for size, pj in HOROWITZ_SRAM_64BIT_PJ.items()}
    dram_64 = table[table["name"].str.startswith("dram_64bit")]
    assert sorted(dram_64["energy_pj"]) == pytest.approx(  # nJ to pJ
        [nj * 1000 for nj in HOROWITZ_DRAM_64BIT_NJ])
    assert set(dram_64["bits"]) == {64}
    dram = table.set_index("name").loc["dram"]
    assert (dram["energy_pj"], dram["bits"]) == (HAN_DRAM_32BIT_PJ, 32)
    assert "Han et al., NeurIPS 2015" in dram["source"]
    assert all("Horowitz, ISSCC 2014" in source
               for source in table.loc[table["name"] != "dram", "source"])
    # the module's claim: Han's 32-bit word is close to half the 64-bit low end (650 pJ)
    assert dram["energy_pj"] == pytest.approx(dram_64["energy_pj"].min() / 2, rel=0.02)


def test_other_widths_scale_linearly_for_adders_and_quadratically_for_multipliers():
    assert energy.adder_energy_pj(8) == 0.03 and energy.adder_energy_pj(32) == 0.1
    assert energy.adder_energy_pj(1) == pytest.approx(0.03 / 8)
    assert energy.adder_energy_pj(16) == pytest.approx(0.06)
    assert energy.adder_energy_pj(24) == pytest.approx(0.075)
    assert energy.multiplier_energy_pj(8) == 0.2 and energy.multiplier_energy_pj(32) == 3.1
    assert energy.multiplier_energy_pj(4) == pytest.approx(0.05)
    assert energy.multiplier_energy_pj(2) == pytest.approx(0.0125)
    assert energy.multiplier_energy_pj(16) == pytest.approx(0.8)
    for bad in (0, 65, 8.0, True):
        with pytest.raises(ValueError, match="integer from 1 to 64"):
            energy.adder_energy_pj(bad)


@pytest.mark.parametrize("precision, pj", [
    ("fp32", 3.7 + 0.9), ("fp16", 1.1 + 0.4), ("int16", 0.8 + 0.1), ("int8", 0.2 + 0.1),
    ("int8_qat", 0.2 + 0.1), ("int4", 0.05 + 0.1), ("int2", 0.0125 + 0.1),
    ("ternary", 0.0125 + 0.1), ("binary", 0.03 / 8),
])
def test_mac_energy_per_precision(precision, pj):
    assert energy.mac_energy_pj(precision) == pytest.approx(pj)


def test_accumulator_width_sets_the_integer_macs_add():
    assert energy.mac_energy_pj("int8", accumulator_bits=16) == pytest.approx(0.2 + 0.06)
    assert energy.mac_energy_pj("fp32", accumulator_bits=16) == pytest.approx(4.6)
    assert energy.mac_energy_pj("binary", accumulator_bits=16) == pytest.approx(0.00375)
    table = energy.mac_table(("fp32", "int8", "binary"))
    assert table.loc["int8", "fp32_over_this"] == pytest.approx(4.6 / 0.3)
    assert table.loc["binary", "multiply_pj"] == 0.0


def test_unknown_precisions_and_memories_are_refused():
    with pytest.raises(ValueError, match="unknown MAC precision 'abc_w1a1'; accepted: fp32"):
        energy.mac_energy_pj("abc_w1a1")
    with pytest.raises(ValueError, match="unknown memory 'hbm'; accepted: dram, sram_1mb"):
        energy.memory_energy_pj_per_bit("hbm")
    with pytest.raises(ValueError, match="no macs_<k>bit counts"):
        energy.inference_energy({"memory_mib": 1.0}, "fp32")


def test_memory_costs_per_bit():
    assert energy.memory_energy_pj_per_bit("sram_8kb") == 0.15625  # 10 pJ / 64 bits
    assert energy.memory_energy_pj_per_bit("sram_32kb") == SRAM_32KB_PJ_PER_BIT
    assert energy.memory_energy_pj_per_bit("sram_1mb") == 1.5625  # 100 pJ / 64 bits
    assert energy.memory_energy_pj_per_bit("dram") == DRAM_PJ_PER_BIT


# --- one-layer networks ----------------------------------------------------------------------


def _one_layer(precision, use_bias=False):
    """A network of one 3x3 convolution, 8x8x3 -> 6x6x4, with input and kernel at
    ``precision`` (fp32, int8 or binary)."""
    tf.keras.utils.set_random_seed(0)
    quantizers = {"fp32": {},
                  "int8": {"input_quantizer": KBitQuantizer(8),
                           "kernel_quantizer": KBitQuantizer(8)},
                  "binary": {"input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign"}}
    inputs = tf.keras.Input((8, 8, 3))
    layer = lq.layers.QuantConv2D(4, 3, use_bias=use_bias, **quantizers[precision])
    return tf.keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize("precision, use_bias, mac_pj, weight_bits", [
    ("binary", False, 0.03 / 8, 108 * 1),
    ("int8", False, 0.2 + 0.1, 108 * 8),
    ("fp32", True, 3.7 + 0.9, 108 * 32 + 4 * 32),
])
def test_one_layer_energy_from_larq_equals_the_hand_count(precision, use_bias, mac_pj,
                                                          weight_bits):
    model = _one_layer(precision, use_bias)
    assert energy.count_activation_values(model) == 8 * 8 * 3 + 6 * 6 * 4
    figures = summary_figures(model)
    from_larq = energy.inference_energy(
        figures, precision, activation_values=energy.count_activation_values(model))
    # By hand: 6·6·4 outputs of 3·3·3 MACs; every weight read once from DRAM; 192 input and
    # 144 output values written and read once in a 32 KB SRAM.
    macs = 6 * 6 * 4 * 27
    bits = {"binary": 1, "int8": 8, "fp32": 32}[precision]
    by_hand_pj = (macs * mac_pj + weight_bits * DRAM_PJ_PER_BIT
                  + 2 * (192 + 144) * bits * SRAM_32KB_PJ_PER_BIT)
    assert from_larq["total_uj"] == pytest.approx(by_hand_pj / 1e6, rel=1e-12)
    assert from_larq["compute_uj"] == pytest.approx(macs * mac_pj / 1e6, rel=1e-12)
    assert from_larq["activations_counted"]


def test_binary_layer_example_in_numbers():
    # 3,888 binary MACs at 0.00375 pJ, 108 weight bits at 20 pJ, 672 one-bit activation
    # accesses at 0.3125 pJ.
    model = _one_layer("binary", use_bias=False)
    result = energy.inference_energy(summary_figures(model), "binary",
                                     activation_values=energy.count_activation_values(model))
    assert result["compute_uj"] == pytest.approx(14.58e-6)
    assert result["weights_uj"] == pytest.approx(2160e-6)
    assert result["activations_uj"] == pytest.approx(210e-6)
    assert result["total_uj"] == pytest.approx(2384.58e-6)


def test_assumptions_move_the_parts_they_name():
    figures = {"macs_32bit": 1000, "macs_1bit": 9000, "macs_total": 10000, "memory_mib": 1.0}
    dram = energy.inference_energy(figures, "binary")
    sram = energy.inference_energy(figures, "binary", weight_memory="sram_1mb")
    assert dram["compute_uj"] == sram["compute_uj"] == pytest.approx(
        (1000 * 4.6 + 9000 * 0.00375) / 1e6)
    assert dram["weights_uj"] / sram["weights_uj"] == pytest.approx(20.0 / (100 / 64))
    assert dram["activations_uj"] == 0.0 and not dram["activations_counted"]
    counted = energy.inference_energy({**figures, "activation_values": 1000}, "int4",
                                      activation_memory="sram_8kb")
    assert counted["activations_uj"] == pytest.approx(2 * 1000 * 4 * 10 / 64 / 1e6)


def test_energy_table_compares_each_precision_with_float():
    figures = {("net", "fp32"): {"macs_32bit": 100, "macs_total": 100, "memory_mib": 2.0},
               ("net", "binary"): {"macs_32bit": 10, "macs_1bit": 90, "macs_total": 100,
                                   "memory_mib": 0.1}}
    table = energy.energy_table(figures)
    assert list(table.index) == list(figures)
    assert table.loc[("net", "fp32"), "fp32_over_this"] == 1.0
    assert table.loc[("net", "binary"), "fp32_over_this"] > 10
    assert np.allclose(table["total_uj"], table[energy.ENERGY_COLUMNS[:3]].sum(axis=1))
    assert ((table["compute_share"] > 0) & (table["compute_share"] < 1)).all()


# --- accuracy against energy -----------------------------------------------------------------


def _record(precision, seed, accuracy, width=0.25, macs_bits=32, memory_mib=1.0):
    return {"config": {"model": "alexnet", "precision": precision, "width": width,
                       "image_size": 67, "seed": seed},
            "test_accuracy": accuracy,
            "summary": {f"macs_{macs_bits}bit": 1e6, "macs_total": 1e6,
                        "memory_mib": memory_mib}}


def test_accuracy_energy_table_averages_seeds_and_finds_the_cheapest():
    records = [_record("fp32", 0, 0.96), _record("fp32", 1, 0.98),
               _record("binary", 0, 0.93, macs_bits=1, memory_mib=0.05),
               _record("binary", 1, 0.95, macs_bits=1, memory_mib=0.05)]
    table = energy.accuracy_energy_table({"main": records})
    assert list(table["precision"]) == ["fp32", "binary"]
    assert table["accuracy_mean"].tolist() == pytest.approx([0.97, 0.94])
    assert table["seeds"].tolist() == [2, 2]
    assert table["accuracy_std"].iloc[0] == pytest.approx(math.sqrt(2) * 0.01)
    assert energy.cheapest_at_accuracy(table, 0.94)["precision"] == "binary"
    assert energy.cheapest_at_accuracy(table, 0.95)["precision"] == "fp32"
    assert energy.cheapest_at_accuracy(table, 0.99) is None
    with pytest.raises(ValueError, match="a fraction from 0 to 1, got 95"):
        energy.cheapest_at_accuracy(table, 95)
    assert energy.accuracy_energy_table({}).empty


def test_energy_figures_draw_every_point_and_label_extra_records_by_width():
    table = energy.accuracy_energy_table(
        {"main": [_record("fp32", 0, 0.97), _record("binary", 0, 0.93, macs_bits=1,
                                                   memory_mib=0.05)]})
    wider = [_record("binary", 0, 0.96, width=1.0, macs_bits=1, memory_mib=0.5),
             _record("int4", 0, 0.97, width=0.5, macs_bits=4, memory_mib=0.3)]
    fig = plot_accuracy_vs_energy(table, wider, min_accuracy=0.95)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    labels = {text.get_text() for text in ax.texts}
    assert {"fp32", "binary", "binary, width 1", "int4, width 0.5"} <= labels
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert f"{EXTRA_SERIES}: alexnet" in legend
    # the 4-bit network: 0.3 MiB of weights against the wider binary network's 0.5 MiB
    assert "least energy at the bar: alexnet int4, width 0.5" in legend
    assert isinstance(plot_mac_energy(energy.mac_table()), Figure)
    figures = {("a", p): {f"macs_{b}bit": 10, "macs_total": 10, "memory_mib": 1.0,
                          "activation_values": 100} for p, b in (("fp32", 32), ("int8", 8))}
    breakdown = plot_energy_breakdown(energy.energy_table(figures))
    assert len(breakdown.axes) == 1 and len(breakdown.axes[0].patches) == 6


def test_energy_record_is_plain_json_with_the_cheapest_network_per_margin():
    figures = {("net", "fp32"): {"macs_32bit": 100, "macs_total": 100, "memory_mib": 2.0}}
    trained = energy.accuracy_energy_table(
        {"main": [_record("fp32", 0, 0.97), _record("binary", 0, 0.95, macs_bits=1,
                                                   memory_mib=0.05)]})
    record = energy.energy_record(energy.energy_table(figures), trained, profile="smoke",
                                  dataset="mnist5k", margins_points=(1.0, 3.0),
                                  checks={"int8": {"max_difference_reference": 0}},
                                  assumptions={"accumulator_bits": 16})
    text = json.dumps(to_jsonable(record), allow_nan=False)  # NaN (one seed's std) is None
    assert json.loads(text)["trained"][0]["accuracy_std"] is None
    assert [row["precision"] for row in record["cheapest_within"]] == ["fp32", "binary"]
    assert record["assumptions"]["accumulator_bits"] == 16
    assert record["mac_pj"]["int8"] == pytest.approx(0.2 + 0.06)
    assert record["costs_pj"]["dram"] == 640.0
    assert record["full_size"][0]["network"] == "net"
