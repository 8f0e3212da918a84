"""Energy per inference (utils.lessons.arithmetic_and_energy): the cost table against its sources, the derived bit
widths, one-layer networks counted by hand, and the accuracy-energy tables and figure."""

import json
import math

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from matplotlib.figure import Figure

from utils.lessons import arithmetic_and_energy
from utils.lessons.arithmetic_and_energy import (
    EXTRA_SERIES,
    plot_accuracy_vs_energy,
    plot_energy_breakdown,
    plot_mac_energy,
)
from utils.models import summary_figures
from utils.quantizers import KBitQuantizer
from utils.records import to_jsonable

# Horowitz, ISSCC 2014 (45 nm, 0.9 V), and Han et al.'s 32-bit DRAM figure, in pJ.
CITED = {
    "int_add_8": 0.03, "int_add_32": 0.1, "int_mult_8": 0.2, "int_mult_32": 3.1,
    "fp_add_16": 0.4, "fp_add_32": 0.9, "fp_mult_16": 1.1, "fp_mult_32": 3.7,
    "sram_8kb": 10.0, "sram_32kb": 20.0, "sram_1mb": 100.0,
    "dram_64bit_low": 1300.0, "dram_64bit_high": 2600.0, "dram": 640.0,
}
SRAM_32KB_PJ_PER_BIT = 20.0 / 64
DRAM_PJ_PER_BIT = 640.0 / 32


def test_cost_table_holds_the_cited_figures_with_their_sources():
    table = arithmetic_and_energy.cost_table().set_index("name")
    assert table["energy_pj"].to_dict() == CITED
    assert set(table.loc[table["per"] == "64-bit access", "bits"]) == {64}
    assert table.loc["dram", "bits"] == 32 and "Han" in table.loc["dram", "source"]
    others = table.drop(index="dram")
    assert all("Horowitz, ISSCC 2014" in source for source in others["source"])


def test_other_widths_scale_linearly_for_adders_and_quadratically_for_multipliers():
    assert arithmetic_and_energy.adder_energy_pj(8) == 0.03 and arithmetic_and_energy.adder_energy_pj(32) == 0.1
    assert arithmetic_and_energy.adder_energy_pj(1) == pytest.approx(0.03 / 8)
    assert arithmetic_and_energy.adder_energy_pj(16) == pytest.approx(0.06)
    assert arithmetic_and_energy.adder_energy_pj(24) == pytest.approx(0.075)
    assert arithmetic_and_energy.multiplier_energy_pj(8) == 0.2 and arithmetic_and_energy.multiplier_energy_pj(32) == 3.1
    assert arithmetic_and_energy.multiplier_energy_pj(4) == pytest.approx(0.05)
    assert arithmetic_and_energy.multiplier_energy_pj(2) == pytest.approx(0.0125)
    assert arithmetic_and_energy.multiplier_energy_pj(16) == pytest.approx(0.8)
    for bad in (0, 65, 8.0, True):
        with pytest.raises(ValueError, match="integer from 1 to 64"):
            arithmetic_and_energy.adder_energy_pj(bad)


@pytest.mark.parametrize("precision, pj", [
    ("fp32", 3.7 + 0.9), ("fp16", 1.1 + 0.4), ("int16", 0.8 + 0.1), ("int8", 0.2 + 0.1),
    ("int8_qat", 0.2 + 0.1), ("int4", 0.05 + 0.1), ("int2", 0.0125 + 0.1),
    ("ternary", 0.0125 + 0.1), ("binary", 0.03 / 8),
])
def test_mac_energy_per_precision(precision, pj):
    assert arithmetic_and_energy.mac_energy_pj(precision) == pytest.approx(pj)


def test_accumulator_width_sets_the_integer_macs_add():
    assert arithmetic_and_energy.mac_energy_pj("int8", accumulator_bits=16) == pytest.approx(0.2 + 0.06)
    assert arithmetic_and_energy.mac_energy_pj("fp32", accumulator_bits=16) == pytest.approx(4.6)
    assert arithmetic_and_energy.mac_energy_pj("binary", accumulator_bits=16) == pytest.approx(0.00375)
    table = arithmetic_and_energy.mac_table(("fp32", "int8", "binary"))
    assert table.loc["int8", "fp32_over_this"] == pytest.approx(4.6 / 0.3)
    assert table.loc["binary", "multiply_pj"] == 0.0


def test_unknown_precisions_and_memories_are_refused():
    with pytest.raises(ValueError, match="unknown MAC precision 'abc_w1a1'; accepted: fp32"):
        arithmetic_and_energy.mac_energy_pj("abc_w1a1")
    with pytest.raises(ValueError, match="unknown memory 'hbm'; accepted: dram, sram_1mb"):
        arithmetic_and_energy.memory_energy_pj_per_bit("hbm")
    with pytest.raises(ValueError, match="no macs_<k>bit counts"):
        arithmetic_and_energy.inference_energy({"memory_mib": 1.0}, "fp32")


def test_memory_costs_per_bit():
    assert arithmetic_and_energy.memory_energy_pj_per_bit("dram") == DRAM_PJ_PER_BIT
    assert arithmetic_and_energy.memory_energy_pj_per_bit("sram_1mb") == 100.0 / 64
    assert arithmetic_and_energy.memory_energy_pj_per_bit("sram_8kb") == 10.0 / 64


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
    assert arithmetic_and_energy.count_activation_values(model) == 8 * 8 * 3 + 6 * 6 * 4
    figures = summary_figures(model)
    from_larq = arithmetic_and_energy.inference_energy(
        figures, precision, activation_values=arithmetic_and_energy.count_activation_values(model))
    # By hand: 6·6·4 outputs of 3·3·3 MACs; every weight read once from DRAM; 192 input and
    # 144 output values written and read once in a 32 KB SRAM.
    macs = 6 * 6 * 4 * 27
    bits = {"binary": 1, "int8": 8, "fp32": 32}[precision]
    by_hand_pj = (macs * mac_pj + weight_bits * DRAM_PJ_PER_BIT
                  + 2 * (192 + 144) * bits * SRAM_32KB_PJ_PER_BIT)
    assert from_larq["total_uj"] == pytest.approx(by_hand_pj / 1e6, rel=1e-12)
    assert from_larq["compute_uj"] == pytest.approx(macs * mac_pj / 1e6, rel=1e-12)
    assert from_larq["activations_counted"]
    from_shape = arithmetic_and_energy.conv_layer_energy((8, 8, 3), 4, 3, precision, use_bias=use_bias)
    for column in arithmetic_and_energy.ENERGY_COLUMNS:
        assert from_shape[column] == pytest.approx(from_larq[column], rel=1e-12)


def test_binary_layer_example_in_numbers():
    # 3,888 binary MACs at 0.00375 pJ, 108 weight bits at 20 pJ, 672 one-bit activation
    # accesses at 0.3125 pJ.
    result = arithmetic_and_energy.conv_layer_energy((8, 8, 3), 4, 3, "binary")
    assert result["compute_uj"] == pytest.approx(14.58e-6)
    assert result["weights_uj"] == pytest.approx(2160e-6)
    assert result["activations_uj"] == pytest.approx(210e-6)
    assert result["total_uj"] == pytest.approx(2384.58e-6)


def test_assumptions_move_the_parts_they_name():
    figures = {"macs_32bit": 1000, "macs_1bit": 9000, "macs_total": 10000, "memory_mib": 1.0}
    dram = arithmetic_and_energy.inference_energy(figures, "binary")
    sram = arithmetic_and_energy.inference_energy(figures, "binary", weight_memory="sram_1mb")
    assert dram["compute_uj"] == sram["compute_uj"] == pytest.approx(
        (1000 * 4.6 + 9000 * 0.00375) / 1e6)
    assert dram["weights_uj"] / sram["weights_uj"] == pytest.approx(20.0 / (100 / 64))
    assert dram["activations_uj"] == 0.0 and not dram["activations_counted"]
    counted = arithmetic_and_energy.inference_energy({**figures, "activation_values": 1000}, "int4",
                                      activation_memory="sram_8kb")
    assert counted["activations_uj"] == pytest.approx(2 * 1000 * 4 * 10 / 64 / 1e6)


def test_energy_table_compares_each_precision_with_float():
    figures = {("net", "fp32"): {"macs_32bit": 100, "macs_total": 100, "memory_mib": 2.0},
               ("net", "binary"): {"macs_32bit": 10, "macs_1bit": 90, "macs_total": 100,
                                   "memory_mib": 0.1}}
    table = arithmetic_and_energy.energy_table(figures)
    assert list(table.index) == list(figures)
    assert table.loc[("net", "fp32"), "fp32_over_this"] == 1.0
    assert table.loc[("net", "binary"), "fp32_over_this"] > 10
    assert np.allclose(table["total_uj"], table[arithmetic_and_energy.ENERGY_COLUMNS[:3]].sum(axis=1))
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
    table = arithmetic_and_energy.accuracy_energy_table({"main": records})
    assert list(table["precision"]) == ["fp32", "binary"]
    assert table["accuracy_mean"].tolist() == pytest.approx([0.97, 0.94])
    assert table["seeds"].tolist() == [2, 2]
    assert table["accuracy_std"].iloc[0] == pytest.approx(math.sqrt(2) * 0.01)
    assert arithmetic_and_energy.cheapest_at_accuracy(table, 0.94)["precision"] == "binary"
    assert arithmetic_and_energy.cheapest_at_accuracy(table, 0.95)["precision"] == "fp32"
    assert arithmetic_and_energy.cheapest_at_accuracy(table, 0.99) is None
    with pytest.raises(ValueError, match="a fraction from 0 to 1, got 95"):
        arithmetic_and_energy.cheapest_at_accuracy(table, 95)
    assert arithmetic_and_energy.accuracy_energy_table({}).empty


def test_energy_figures_draw_every_point_and_label_extra_records_by_width():
    table = arithmetic_and_energy.accuracy_energy_table(
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
    assert isinstance(plot_mac_energy(arithmetic_and_energy.mac_table()), Figure)
    figures = {("a", p): {f"macs_{b}bit": 10, "macs_total": 10, "memory_mib": 1.0,
                          "activation_values": 100} for p, b in (("fp32", 32), ("int8", 8))}
    breakdown = plot_energy_breakdown(arithmetic_and_energy.energy_table(figures))
    assert len(breakdown.axes) == 1 and len(breakdown.axes[0].patches) == 6


def test_energy_record_is_plain_json_with_the_cheapest_network_per_margin():
    figures = {("net", "fp32"): {"macs_32bit": 100, "macs_total": 100, "memory_mib": 2.0}}
    trained = arithmetic_and_energy.accuracy_energy_table(
        {"main": [_record("fp32", 0, 0.97), _record("binary", 0, 0.95, macs_bits=1,
                                                   memory_mib=0.05)]})
    record = arithmetic_and_energy.energy_record(arithmetic_and_energy.energy_table(figures), trained, profile="smoke",
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
