"""Energy per inference, estimated from what each operation and memory access costs in 45 nm.

The report argues that fewer bits mean less power (§1, §3.1, §8) but measures only accuracy
and size, and warns that software on a laptop says nothing about hardware (§7). This module
puts numbers on the argument with the field's usual first-order model: count the operations
and the memory traffic of one inference, and multiply each by its energy.

**The cost table** (:data:`COSTS`, :func:`cost_table`) is Horowitz's, for 45 nm CMOS at
0.9 V [HOROWITZ], with one entry from Han et al. [HAN]:

- integer add 0.03 pJ (8-bit), 0.1 pJ (32-bit); integer multiply 0.2 pJ (8-bit), 3.1 pJ
  (32-bit); float16 add 0.4 pJ, multiply 1.1 pJ; float32 add 0.9 pJ, multiply 3.7 pJ;
- SRAM read of a 64-bit word: 10 pJ from an 8 KB array, 20 pJ from 32 KB, 100 pJ from 1 MB;
  DRAM: 1.3 to 2.6 nJ per 64-bit access. Where one figure is needed, this module uses
  640 pJ per 32-bit word, the DRAM figure Han et al. quote from Horowitz's table, close to
  half the low end of the 64-bit range (1.3 nJ / 2 = 650 pJ).

**Other bit widths** are derived, not measured (:func:`adder_energy_pj`,
:func:`multiplier_energy_pj`): an adder's energy grows about linearly with its width, a
multiplier's (an array of partial products) about with the square of it. Each is scaled
from the nearer of the table's two widths, 8 bits for widths up to 16 and 32 bits above;
the table itself agrees with this rule within 20% (4 × 0.03 = 0.12 against 0.1 pJ for a
32-bit add, 16 × 0.2 = 3.2 against 3.1 pJ for a multiply).

**One multiply-accumulate** (:func:`mac_energy_pj`):

- float32 (fp16): a float multiply and a float add of that width;
- int<k>, ternary (2 bits) and int8_qat (8 bits): a k-bit multiply and an add at the
  accumulator's width (``accumulator_bits``, 32 by default, as TFLite's int8 kernels and
  report Fig. 3.1 accumulate), so at 4 bits and below the add costs more than the multiply;
- binary: one XNOR and a share of a popcount, counted as one 1-bit add (0.03 / 8 pJ).
  This is an assumption, and a low one: an XNOR gate costs less than a full-adder bit,
  but an adder tree that counts n bits needs about (log2 n) / 2 one-bit additions per
  input. Change :data:`BINARY_MAC_BIT_ADDS` to see what that does.

**One inference** (:func:`inference_energy`) is compute plus memory, from larq's summary
figures (:func:`utils.models.summary_figures`):

- compute: each ``macs_<k>bit`` count times the MAC energy at k bits (larq gives a MAC the
  wider of its two operands' widths, so a binary network's float first layer counts as
  float32 MACs);
- weights: every stored parameter (``memory_mib``: weights at their width, biases and batch
  normalization at 32 bits) read once per inference, packed densely, from DRAM or from an
  on-chip SRAM (``weight_memory``);
- activations: every value passed between layers (:func:`count_activation_values`) written
  once and read once, at the precision's activation width, in an on-chip SRAM
  (``activation_memory``). larq's summary has no activation counts; without them this term
  is 0 and :func:`inference_energy` says so in ``activations_counted``.

Everything else is left out: control, clock, data movement inside the chip between SRAM
and arithmetic units, the batch normalization and pooling arithmetic, and any reuse that
would read a weight from DRAM less than once per image (batching). Read the results as
orders of magnitude and ratios between precisions, not as joules a device will draw.

[HOROWITZ] M. Horowitz, "Computing's energy problem (and what we can do about it)", IEEE
ISSCC 2014, Digest of Technical Papers, pp. 10-14.
[HAN] S. Han, J. Pool, J. Tran, W. J. Dally, "Learning both weights and connections for
efficient neural networks", NeurIPS 2015 (its energy table, after Horowitz).

No TensorFlow here: :func:`count_activation_values` reads only the shapes of a built model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from utils.ablations import ablation_settings, base_config
from utils.names import (
    MAX_BITS,
    MIN_BITS,
    QAT_PRECISION,
    check_choice,
    precision_bits,
    precision_for_bits,
)

__all__ = [
    "BINARY_MAC_BIT_ADDS",
    "COSTS",
    "ENERGY_COLUMNS",
    "MAC_PRECISIONS",
    "MEMORIES",
    "WIDER_PRECISIONS",
    "WIDTH_FACTOR",
    "Cost",
    "accuracy_energy_table",
    "activation_bits",
    "adder_energy_pj",
    "cheapest_at_accuracy",
    "conv_layer_energy",
    "cost_table",
    "count_activation_values",
    "energy_record",
    "energy_table",
    "inference_energy",
    "mac_energy_pj",
    "mac_table",
    "memory_energy_pj_per_bit",
    "multiplier_energy_pj",
    "wider_configs",
]

HOROWITZ = "Horowitz, ISSCC 2014 (45 nm, 0.9 V)"
HAN = "Han et al., NeurIPS 2015, quoting Horowitz's table"


@dataclass(frozen=True)
class Cost:
    """One entry of the energy table: ``energy_pj`` per ``per`` of ``bits`` bits."""

    name: str
    operation: str
    bits: int
    energy_pj: float
    per: str
    source: str


COSTS: tuple[Cost, ...] = (
    Cost("int_add_8", "integer add", 8, 0.03, "operation", HOROWITZ),
    Cost("int_add_32", "integer add", 32, 0.1, "operation", HOROWITZ),
    Cost("int_mult_8", "integer multiply", 8, 0.2, "operation", HOROWITZ),
    Cost("int_mult_32", "integer multiply", 32, 3.1, "operation", HOROWITZ),
    Cost("fp_add_16", "float add", 16, 0.4, "operation", HOROWITZ),
    Cost("fp_add_32", "float add", 32, 0.9, "operation", HOROWITZ),
    Cost("fp_mult_16", "float multiply", 16, 1.1, "operation", HOROWITZ),
    Cost("fp_mult_32", "float multiply", 32, 3.7, "operation", HOROWITZ),
    Cost("sram_8kb", "SRAM read, 8 KB array", 64, 10.0, "64-bit access", HOROWITZ),
    Cost("sram_32kb", "SRAM read, 32 KB array", 64, 20.0, "64-bit access", HOROWITZ),
    Cost("sram_1mb", "SRAM read, 1 MB array", 64, 100.0, "64-bit access", HOROWITZ),
    Cost("dram_64bit_low", "DRAM access, low end", 64, 1300.0, "64-bit access", HOROWITZ),
    Cost("dram_64bit_high", "DRAM access, high end", 64, 2600.0, "64-bit access", HOROWITZ),
    Cost("dram", "DRAM access (the figure used here)", 32, 640.0, "32-bit access", HAN),
)
_COST = {cost.name: cost for cost in COSTS}
# Where weights or activations can be read from: keys of COSTS.
MEMORIES = ("dram", "sram_1mb", "sram_32kb", "sram_8kb")
# One-bit additions charged for one binary MAC (an XNOR and its share of a popcount).
BINARY_MAC_BIT_ADDS = 1.0
MAC_PRECISIONS: tuple[str, ...] = (
    "fp32", "fp16", *(f"int{k}" for k in range(MAX_BITS, MIN_BITS - 1, -1)), QAT_PRECISION,
    "ternary", "binary",
)
ENERGY_COLUMNS = ["compute_uj", "weights_uj", "activations_uj", "total_uj"]
_PJ_PER_UJ = 1e6
_BITS_PER_MIB = 8 * 2**20


def cost_table() -> pd.DataFrame:
    """:data:`COSTS` as a table: name, operation, bits, energy_pj, per, source."""
    return pd.DataFrame([asdict(cost) for cost in COSTS])


def _check_width(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 64:
        raise ValueError(f"a bit width must be an integer from 1 to 64, got {bits!r}")
    return bits


def adder_energy_pj(bits: int) -> float:
    """Energy of one integer add at ``bits``: the table's 8- and 32-bit figures, other
    widths scaled linearly from the nearer of them (8 bits up to 16, else 32)."""
    anchor = 8 if _check_width(bits) <= 16 else 32
    return _COST[f"int_add_{anchor}"].energy_pj * bits / anchor


def multiplier_energy_pj(bits: int) -> float:
    """Energy of one integer multiply at ``bits``: the table's 8- and 32-bit figures, other
    widths scaled with the square of the width from the nearer of them."""
    anchor = 8 if _check_width(bits) <= 16 else 32
    return _COST[f"int_mult_{anchor}"].energy_pj * (bits / anchor) ** 2


def _mac_parts(precision: str, accumulator_bits: int) -> tuple[float, float]:
    """(multiply, add) energy in pJ of one MAC at ``precision``."""
    check_choice("MAC precision", precision, MAC_PRECISIONS)
    if precision in ("fp32", "fp16"):
        width = precision[2:]
        return _COST[f"fp_mult_{width}"].energy_pj, _COST[f"fp_add_{width}"].energy_pj
    if precision == "binary":
        return 0.0, BINARY_MAC_BIT_ADDS * adder_energy_pj(1)
    return multiplier_energy_pj(precision_bits(precision)), adder_energy_pj(accumulator_bits)


def mac_energy_pj(precision: str, accumulator_bits: int = 32) -> float:
    """Energy in pJ of one multiply-accumulate at ``precision`` (see the module docstring).

    ``precision`` is one of :data:`MAC_PRECISIONS`: "fp32", "fp16", "int2".."int16",
    "int8_qat" (an int8 MAC), "ternary" (a 2-bit MAC) or "binary" (XNOR and popcount).
    ``accumulator_bits`` is the width of the integer MACs' adds.
    """
    return sum(_mac_parts(precision, _check_width(accumulator_bits)))


def mac_table(precisions: Sequence[str] = ("fp32", "fp16", "int16", "int8", "int4", "int2",
                                           "binary"),
              accumulator_bits: int = 32) -> pd.DataFrame:
    """One MAC per precision: multiply_pj, add_pj, mac_pj and fp32_over_this (how many of
    these MACs cost as much as one float32 MAC)."""
    rows = {}
    for precision in precisions:
        multiply, add = _mac_parts(precision, _check_width(accumulator_bits))
        rows[precision] = {"multiply_pj": multiply, "add_pj": add, "mac_pj": multiply + add}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("precision")
    table["fp32_over_this"] = mac_energy_pj("fp32") / table["mac_pj"]
    return table


def memory_energy_pj_per_bit(memory: str) -> float:
    """Energy in pJ of moving one bit to or from ``memory`` (one of :data:`MEMORIES`),
    the cost of a full word spread over its bits (dense packing)."""
    check_choice("memory", memory, MEMORIES)
    cost = _COST[memory]
    return cost.energy_pj / cost.bits


def activation_bits(precision: str) -> int:
    """Bits per activation value a network of ``precision`` passes between layers: 1 for
    binary, 2 ternary, k for "int<k>", 8 for "int8_qat", 16 for fp16, 32 for fp32."""
    check_choice("precision", precision, MAC_PRECISIONS)
    return 16 if precision == "fp16" else precision_bits(precision)


def _size(shape) -> int:
    return math.prod(size for size in shape[1:])


def count_activation_values(model) -> int:
    """Values one image makes a network pass between layers: the input image and the output
    of every layer that holds a kernel (convolutions and dense layers, also inside tfmot's
    wrappers). Batch normalization, activations and pooling are taken as fused into the
    layer before them. Reads only the shapes of a built Keras ``model``."""
    total = _size(model.input_shape)
    for layer in model.layers:
        if getattr(getattr(layer, "layer", layer), "kernel", None) is not None:
            total += _size(layer.output_shape)
    return total


def _mac_counts(figures: Mapping[str, Any]) -> dict[str, float]:
    """{MAC precision: count} from larq's ``macs_<k>bit`` figures."""
    matches = [(re.fullmatch(r"macs_(\d+)bit", key), count) for key, count in figures.items()]
    counts = {precision_for_bits(int(match[1])): float(count)
              for match, count in matches if match}
    if not counts:
        raise ValueError("figures have no macs_<k>bit counts; pass the dict of "
                         "utils.models.summary_figures(model)")
    return counts


def inference_energy(
    figures: Mapping[str, Any],
    precision: str,
    *,
    activation_values: int | None = None,
    weight_memory: str = "dram",
    activation_memory: str = "sram_32kb",
    accumulator_bits: int = 32,
) -> dict[str, Any]:
    """Energy of one inference in µJ, split into compute and memory.

    Args:
        figures: larq's summary figures of the network
            (:func:`utils.models.summary_figures`, or a record's "summary").
        precision: the network's precision (sets the activation width).
        activation_values: values passed between layers per image
            (:func:`count_activation_values`); None takes ``figures["activation_values"]``
            when present, else leaves activations out.
        weight_memory: where the parameters are read from, once per inference: "dram" (a
            network too big for the chip) or an on-chip SRAM, "sram_1mb", "sram_32kb",
            "sram_8kb".
        activation_memory: the on-chip SRAM that holds activations.
        accumulator_bits: width of the integer MACs' adds.

    Returns:
        compute_uj, weights_uj, activations_uj, total_uj, and activations_counted.
    """
    macs = _mac_counts(figures)
    compute = sum(count * mac_energy_pj(mac, accumulator_bits) for mac, count in macs.items())
    weights = figures["memory_mib"] * _BITS_PER_MIB * memory_energy_pj_per_bit(weight_memory)
    values = figures.get("activation_values") if activation_values is None else activation_values
    activations = 0.0 if values is None else (
        2 * values * activation_bits(precision) * memory_energy_pj_per_bit(activation_memory))
    energy = dict(zip(ENERGY_COLUMNS, (part / _PJ_PER_UJ for part in (
        compute, weights, activations, compute + weights + activations)), strict=True))
    return {**energy, "activations_counted": values is not None}


def energy_table(figures: Mapping[tuple[str, str], Mapping[str, Any]],
                 **assumptions) -> pd.DataFrame:
    """Energy of one inference for each (network, precision) of ``figures``.

    ``figures`` maps (network, precision) to summary figures (with "activation_values"
    added to count activations); ``assumptions`` go to :func:`inference_energy`. Columns:
    macs_total, memory_mib, the energies in µJ, compute_share (of the total) and
    fp32_over_this (the network's float32 energy over this one's, where it has fp32).
    """
    rows = {
        key: {"macs_total": values.get("macs_total"), "memory_mib": values["memory_mib"],
              **inference_energy(values, key[1], **assumptions)}
        for key, values in figures.items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["network", "precision"])
    table["compute_share"] = table["compute_uj"] / table["total_uj"]
    fp32 = table.xs("fp32", level="precision")["total_uj"] if (
        "fp32" in table.index.get_level_values("precision")) else pd.Series(dtype=float)
    table["fp32_over_this"] = [fp32.get(network, float("nan")) / total
                               for (network, _), total in table["total_uj"].items()]
    return table


def _conv_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    return -(-size // stride) if padding == "same" else (size - kernel) // stride + 1


def conv_layer_energy(input_shape: Sequence[int], filters: int, kernel_size: int,
                      precision: str, *, strides: int = 1, padding: str = "valid",
                      use_bias: bool = False, **assumptions) -> dict[str, Any]:
    """Energy of a network made of one convolution whose input and kernel are both at
    ``precision``, counted by hand from its shape (for checking :func:`inference_energy`).

    MACs: H_out · W_out · filters · k² · C_in, each at ``precision``; parameters: the
    kernel at the precision's width plus a 32-bit bias per filter; activation values: the
    input and the output. ``assumptions`` are :func:`inference_energy`'s keywords.
    """
    check_choice("padding", padding, ("same", "valid"))
    height, width, channels = input_shape
    out_height, out_width = (_conv_output_size(size, kernel_size, strides, padding)
                             for size in (height, width))
    macs = out_height * out_width * filters * kernel_size**2 * channels
    bits = precision_bits(precision)
    parameter_bits = kernel_size**2 * channels * filters * bits + 32 * filters * use_bias
    figures = {f"macs_{bits}bit": macs, "macs_total": macs,
               "memory_mib": parameter_bits / _BITS_PER_MIB,
               "activation_values": height * width * channels + out_height * out_width * filters}
    return inference_energy(figures, precision, **assumptions)


def accuracy_energy_table(series: Mapping[str, Sequence[Mapping[str, Any]]],
                          **assumptions) -> pd.DataFrame:
    """Mean test accuracy and energy per inference of trained networks, for plotting.

    ``series`` maps a label (e.g. "main comparison", "bit-width sweep") to training records,
    each with ``config`` (precision, width, and model, image_size, seed where known),
    ``test_accuracy`` and ``summary`` (larq's figures at the trained size). Records of one
    (series, model, precision, width, image size) are seeds of one network: one row each,
    with accuracy_mean, accuracy_std, seeds and :func:`inference_energy`'s columns.
    """
    rows = []
    for label, records in series.items():
        for record in records:
            config = record["config"]
            rows.append({"series": label, "model": config.get("model", "network"),
                         "precision": config["precision"], "width": config["width"],
                         "image_size": config.get("image_size"), "seed": config.get("seed"),
                         "test_accuracy": record["test_accuracy"],
                         **inference_energy(record["summary"], config["precision"],
                                            **assumptions)})
    keys = ["series", "model", "precision", "width", "image_size"]
    if not rows:
        return pd.DataFrame(columns=[*keys, "accuracy_mean", "accuracy_std", "seeds",
                                     *ENERGY_COLUMNS, "activations_counted"])
    frame = pd.DataFrame(rows)
    return frame.groupby(keys, sort=False, dropna=False).agg(
        accuracy_mean=("test_accuracy", "mean"), accuracy_std=("test_accuracy", "std"),
        seeds=("test_accuracy", "size"), **{column: (column, "mean") for column in ENERGY_COLUMNS},
        activations_counted=("activations_counted", "all"),
    ).reset_index()


def cheapest_at_accuracy(table: pd.DataFrame, min_accuracy: float) -> pd.Series | None:
    """The row of :func:`accuracy_energy_table` with the least energy among those whose
    mean accuracy reaches ``min_accuracy`` (a fraction, e.g. 0.95); None if none does."""
    if not 0.0 <= min_accuracy <= 1.0:
        raise ValueError(f"min_accuracy is a fraction from 0 to 1, got {min_accuracy!r}")
    reaching = table[table["accuracy_mean"] >= min_accuracy]
    return None if reaching.empty else reaching.loc[reaching["total_uj"].idxmin()]


# Moons et al.'s second knob, the width: binary and 4-bit AlexNet made twice as wide as the
# ablation baseline, to set against the bit-width sweep's 8-bit network at its own width.
WIDER_PRECISIONS = ("binary", "int4")
WIDTH_FACTOR = 2.0


def wider_configs(profile: str = "quick", dataset: str = "mnist5k", *,
                  factor: float = WIDTH_FACTOR, precisions: Sequence[str] = WIDER_PRECISIONS,
                  **overrides):
    """The wider low-precision networks of the accuracy-against-energy comparison: the
    ablation baseline (:func:`utils.ablations.base_config`, the recipe of the bit-width
    sweep) at each of ``precisions`` and ``factor`` times its width, one per sweep seed.
    ``overrides`` (a dry run's ``limit`` and ``epochs``) apply to every one."""
    configs = []
    for precision in precisions:
        for seed in ablation_settings(profile).sweep_seeds:
            base = base_config(profile, dataset, seed)
            configs.append(base.replace(precision=precision, width=base.width * factor,
                                        **overrides))
    return configs


def _plain_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, with missing values (NaN) as None, which JSON can hold."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def energy_record(full_size: pd.DataFrame, accuracy: pd.DataFrame, *, profile: str,
                  dataset: str, margins_points: Sequence[float] = (0.5, 1.0, 2.0, 5.0),
                  checks: Mapping[str, Any] | None = None,
                  assumptions: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What notebook 08 found, as plain data for ``results/energy.json`` and the report.

    ``full_size``: :func:`energy_table` of the networks at full size; ``accuracy``:
    :func:`accuracy_energy_table` of the trained ones; ``margins_points``: for each, the
    cheapest trained network within that many percentage points of the most accurate
    one; ``checks``: the by-hand layers' results; ``assumptions``: the keywords the
    energies were computed with (defaults of :func:`inference_energy` when omitted).
    """
    best = accuracy["accuracy_mean"].max() if len(accuracy) else None
    cheapest = []
    for margin in margins_points if best is not None else ():
        bar = max(0.0, best - margin / 100)
        row = cheapest_at_accuracy(accuracy, bar)
        cheapest.append({"margin_points": margin, "min_accuracy": bar,
                         **row[["series", "model", "precision", "width", "accuracy_mean",
                                "total_uj"]].to_dict()})
    return {
        "profile": profile, "dataset": dataset,
        "assumptions": {"weight_memory": "dram", "activation_memory": "sram_32kb",
                        "accumulator_bits": 32, "binary_mac_bit_adds": BINARY_MAC_BIT_ADDS,
                        **(assumptions or {})},
        "costs_pj": {cost.name: cost.energy_pj for cost in COSTS},
        "mac_pj": mac_table(MAC_PRECISIONS, (assumptions or {}).get("accumulator_bits", 32)
                            )["mac_pj"].to_dict(),
        "full_size": _plain_rows(full_size.reset_index()),
        "trained": _plain_rows(accuracy),
        "cheapest_within": cheapest,
        "checks": dict(checks or {}),
    }
