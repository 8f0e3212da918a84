"""Notebook 08's own code: integer and XNOR arithmetic rebuilt by hand and checked against the
TFLite interpreter and larq, the energy model (with the wider networks it sets against the
bit-width sweep, :func:`wider_configs`) and its figures.

What the hardware computes: an int8 and a binary convolution redone by hand in numpy.
-------------------------------------------------------------------------------------

Two layers are recomputed from their stored integers and bits, with no framework arithmetic,
and checked against the framework that runs them:

- **int8** (:func:`int8_conv2d`, :func:`check_int8_conv`): one ``CONV_2D`` of a full-integer
  ``.tflite`` file. With r = S (q − Z) for every tensor (:mod:`utils.quantizers`) and weights
  stored with Z_w = 0, a convolution output is

      q_out = Z_out + M · (Σ (q_in − Z_in) · q_w + q_bias),     M = S_in · S_w / S_out,

  an int32 sum of int8 products and an int32 bias stored at scale S_in · S_w. The real
  multiplier M (one per output channel when the weights have per-channel scales) is applied
  as TFLite applies it, in integers only: M = M0 · 2^shift with M0 in [0.5, 1) stored as the
  31-bit fixed-point number round(M0 · 2^31) (:func:`quantize_multiplier`), then a rounding
  high multiply and a rounding right shift (:func:`multiply_by_quantized_multiplier`). The
  result is clamped to int8, and to the fused ReLU's range when the op has one.
- **binary** (:func:`binary_conv2d`, :func:`binary_layer_by_hand`): a larq ``QuantConv2D``
  with sign-quantized inputs and kernel. With a = +1 stored as bit 1 and −1 as bit 0, the
  product of two ±1 values is +1 exactly when their bits agree, so a dot product of n such
  values is (agreements) − (disagreements) = 2 · popcount(XNOR(a, w)) − n, the XNOR-network
  identity of report §3.2. Bits are packed eight to a byte along the input channels with
  ``numpy.packbits``; a same-padded layer pads with +1 (``pad_values=1.0``, report §7.1), so
  the padded border is bit 1 and every window still holds n = k_h · k_w · C_in bits.

:func:`check_int8_conv` reads the layer's real int8 input from TFLite's interpreter (every
intermediate tensor kept), so the comparison is on the data the file actually sees, and
:func:`int8_conv_table` does it for every convolution of a file, against TFLite's reference
kernels (whose rounding this module mirrors: equal) and its optimized ones (measured: equal
but for rare rounding ties, one step apart). :func:`int8_output_steps` shows the arithmetic
of one output. :func:`binary_layer_table` redoes every binary layer of a Keras network on the
inputs an image gives it. TensorFlow is imported only by the functions that run a file or a
Keras model.

Energy per inference, estimated from what each operation and memory access costs in 45 nm.
------------------------------------------------------------------------------------------

The report argues that fewer bits mean less power (§1, §3.1, §8) but measures only accuracy
and size, and warns that software on a laptop says nothing about hardware (§7). The energy
model puts numbers on the argument with the field's usual first-order model: count the operations
and the memory traffic of one inference, and multiply each by its energy.

**The cost table** (:data:`COSTS`, :func:`cost_table`) is Horowitz's, for 45 nm CMOS at
0.9 V [HOROWITZ], with one entry from Han et al. [HAN]:

- integer add 0.03 pJ (8-bit), 0.1 pJ (32-bit); integer multiply 0.2 pJ (8-bit), 3.1 pJ
  (32-bit); float16 add 0.4 pJ, multiply 1.1 pJ; float32 add 0.9 pJ, multiply 3.7 pJ;
- SRAM read of a 64-bit word: 10 pJ from an 8 KB array, 20 pJ from 32 KB, 100 pJ from 1 MB;
  DRAM: 1.3 to 2.6 nJ per 64-bit access. Where one figure is needed, the model uses
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

The energy model needs no TensorFlow: :func:`count_activation_values` reads only the shapes
of a built model.

The figures of notebook 08: the cost of one MAC, energy per inference, accuracy per energy.
-------------------------------------------------------------------------------------------

Each function takes a table of the energy model and returns a matplotlib ``Figure`` for
:func:`utils.figures.save_fig` (names "08_..."). Energies span four orders of magnitude from a
binary MAC to a float one, so every energy axis is logarithmic and the parts of a total are
drawn side by side, not stacked (a stacked bar on a log axis misstates its parts). None of
them needs TensorFlow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from utils.figures import finish_axes
from utils.lessons.ablations import ablation_settings, base_config
from utils.names import (
    MAX_BITS,
    MIN_BITS,
    QAT_PRECISION,
    check_choice,
    precision_bits,
    precision_for_bits,
)

__all__ = ["BINARY_MAC_BIT_ADDS", "BinaryConvolution", "COSTS", "Cost", "ENERGY_COLUMNS",
           "EXTRA_SERIES", "INTERPRETER_KERNELS", "Int8Check", "MAC_PRECISIONS", "MEMORIES",
           "WIDER_PRECISIONS", "WIDTH_FACTOR", "accuracy_energy_table", "activation_bits",
           "adder_energy_pj", "binary_conv2d", "binary_layer_by_hand", "binary_layer_table",
           "cheapest_at_accuracy", "check_int8_conv", "cost_table", "count_activation_values",
           "energy_record", "energy_table", "inference_energy", "int8_conv2d", "int8_conv_table",
           "int8_output_steps", "layer_inputs", "mac_energy_pj", "mac_table",
           "memory_energy_pj_per_bit", "multiplier_energy_pj", "multiply_by_quantized_multiplier",
           "plot_accuracy_vs_energy", "plot_energy_breakdown", "plot_mac_energy",
           "quantize_multiplier", "wider_configs"]

INT8_MIN, INT8_MAX = -128, 127
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# Enum values of TFLite's flatbuffer schema (tensorflow/lite/schema/schema.fbs): Padding and
# ActivationFunctionType, as they appear in operator_tensors' "options".
TFLITE_PADDING = {0: "same", 1: "valid"}
TFLITE_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
# Bits set in each byte value: popcount by table lookup.
POPCOUNT = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(axis=1,
                                                                             dtype=np.int64)


class Int8Check(NamedTuple):
    """An int8 convolution by hand next to the interpreter's, both (1, H, W, C_out) int8."""

    by_hand: np.ndarray
    interpreter: np.ndarray
    max_difference: int  # largest |by hand − interpreter|, in int8 steps
    differing: int  # how many outputs differ


class BinaryConvolution(NamedTuple):
    """A binary convolution by XNOR and popcount, and what it costs per image.

    ``output`` is float32 (N, H, W, C_out): 2 · popcount − n per output (times the kernel's
    per-channel scale, plus the bias, when the layer has them). ``packed_weight_bytes``:
    the kernel bit-packed along input channels, k_h · k_w · ceil(C_in / 8) · C_out bytes;
    ``float_weight_bytes``: the same kernel in float32. ``xnor_popcounts``: byte-wide
    XNOR-and-popcount operations per image; ``macs``: the multiply-accumulates per image
    that a float convolution of the same shape does.
    """

    output: np.ndarray
    packed_weight_bytes: int
    float_weight_bytes: int
    xnor_popcounts: int
    macs: int


def quantize_multiplier(real_multiplier) -> tuple[np.ndarray, np.ndarray]:
    """(M0 as int32, shift as int32) with real_multiplier ≈ M0 · 2^(shift − 31).

    The decomposition of TFLite's ``QuantizeMultiplier``: frexp gives M = m · 2^shift with m
    in [0.5, 1); M0 = round(m · 2^31), rounding half away from zero; an m that rounds up to
    2^31 becomes 2^30 with the shift one higher; below 2^-31 · 2^-31 the multiplier is 0.
    Works element-wise (one multiplier per output channel).
    """
    real = np.asarray(real_multiplier, dtype=np.float64)
    if not np.all(np.isfinite(real)) or np.any(real <= 0):
        raise ValueError(f"real multipliers must be positive and finite, got {real!r}")
    mantissa, shift = np.frexp(real)
    fixed = np.floor(mantissa * 2.0**31 + 0.5).astype(np.int64)
    carry = fixed == 2**31
    fixed, shift = np.where(carry, fixed // 2, fixed), shift + carry
    negligible = shift < -31
    fixed, shift = np.where(negligible, 0, fixed), np.where(negligible, 0, shift)
    return fixed.astype(np.int32), shift.astype(np.int32)


def _divide_toward_zero(numerator: np.ndarray, denominator: int) -> np.ndarray:
    """Integer division that truncates like C++ ``/`` (numpy's ``//`` floors)."""
    quotient = np.abs(numerator) // denominator
    return np.where(numerator < 0, -quotient, quotient)


def multiply_by_quantized_multiplier(values, multiplier, shift) -> np.ndarray:
    """values · M0 · 2^(shift − 31), rounded, in integer arithmetic only.

    Mirrors TFLite's ``MultiplyByQuantizedMultiplier`` (the double-rounding version that
    its reference and optimized int8 kernels use by default): a positive shift first
    multiplies by 2^shift; then gemmlowp's ``SaturatingRoundingDoublingHighMul`` keeps the
    high 32 bits of 2 · x · M0, rounded to nearest (a tie goes up when the product is
    positive, toward zero when it is negative); then ``RoundingDivideByPOT`` divides by
    2^(−shift) for a negative shift, rounding to nearest with ties away from zero. Inputs
    broadcast (e.g. (..., C) values with (C,) multipliers).
    """
    x = np.asarray(values, dtype=np.int64)
    fixed = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    x = x * (np.int64(1) << np.maximum(shift, 0))
    # SaturatingRoundingDoublingHighMul(x, M0): (x · M0 + nudge) / 2^31, truncated toward
    # zero; the one overflowing case (both INT32_MIN) saturates.
    product = x * fixed
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    high = _divide_toward_zero(product + nudge, 1 << 31)
    high = np.where((x == fixed) & (x == INT32_MIN), INT32_MAX, high)
    # RoundingDivideByPOT(high, exponent): arithmetic shift, plus one when the remainder is
    # over half (at exactly half: for positive values only, so ties go away from zero).
    exponent = np.maximum(-shift, 0)
    mask = (np.int64(1) << exponent) - 1
    remainder = high & mask
    threshold = (mask >> 1) + (high < 0)
    return (high >> exponent) + (remainder > threshold)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TensorFlow's and TFLite's "same": ceil(size / stride)
    outputs, the odd pixel of padding after."""
    outputs = -(-size // stride)
    total = max((outputs - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    return -(-size // stride) if padding == "same" else (size - kernel) // stride + 1


def _pad_spatially(values: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int],
                   padding: str, fill) -> np.ndarray:
    if padding == "valid":
        return values
    pads = [_same_padding(values.shape[axis], kernel[axis - 1], strides[axis - 1])
            for axis in (1, 2)]
    return np.pad(values, [(0, 0), *pads, (0, 0)], constant_values=fill)


def _windows(values: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int],
             out_shape: tuple[int, int]):
    """For each kernel offset (dy, dx): the (N, H_out, W_out, ...) inputs it multiplies."""
    (stride_y, stride_x), (height, width) = strides, out_shape
    for dy in range(kernel[0]):
        for dx in range(kernel[1]):
            yield dy, dx, values[:, dy:dy + stride_y * (height - 1) + 1:stride_y,
                                 dx:dx + stride_x * (width - 1) + 1:stride_x]


def _check_padding(padding: str) -> str:
    padding = str(padding).lower()
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    return padding


def _activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """int8 range of a fused activation (TFLite's ``CalculateActivationRangeQuantized``)."""

    def quantize(value: float) -> int:
        return zero_point + int(np.round(np.float32(value) / np.float32(scale)))

    low, high = {"NONE": (INT8_MIN, INT8_MAX),
                 "RELU": (quantize(0.0), INT8_MAX),
                 "RELU6": (quantize(0.0), quantize(6.0)),
                 "RELU_N1_TO_1": (quantize(-1.0), quantize(1.0))}[activation]
    return max(INT8_MIN, low), min(INT8_MAX, high)


def _conv_settings(options: dict[str, Any]) -> tuple[tuple[int, int], str, str]:
    """(strides, padding, fused activation) of a CONV_2D op's options."""
    dilation = (options.get("dilationHFactor", 1), options.get("dilationWFactor", 1))
    if dilation != (1, 1):
        raise ValueError(f"dilated convolutions are not supported here, got {dilation}")
    padding = TFLITE_PADDING.get(options.get("padding"))
    activation = TFLITE_ACTIVATIONS.get(options.get("fusedActivationFunction", 0))
    if padding is None or activation is None:
        raise ValueError(
            f"unsupported CONV_2D options {options!r}; accepted: padding SAME or VALID, fused "
            f"activation {', '.join(TFLITE_ACTIVATIONS.values())}")
    return (options["strideH"], options["strideW"]), padding, activation


def _int8_parameters(op: dict[str, Any]) -> dict[str, Any]:
    """Input, weight, bias and output parameters of a CONV_2D entry of operator_tensors."""
    source, weights, *rest = op["inputs"]
    (target,) = op["outputs"]
    types = [tensor["type"] for tensor in (source, weights, target)]
    if types != ["INT8"] * 3 or weights["values"] is None:
        raise ValueError(f"not a full-integer convolution: input, weights and output are "
                         f"{', '.join(types)}; accepted: INT8 with stored weights (convert "
                         f"with utils.deploy.convert_int8 or convert_qat)")
    if any(weights["zero_point"]):
        raise ValueError(f"int8 weights must have zero point 0, got {weights['zero_point']}")
    channels = weights["shape"][0]
    bias = rest[0]["values"] if rest else None
    return {
        "weights": weights["values"].astype(np.int64),  # (C_out, k_h, k_w, C_in)
        "bias": np.zeros(channels, np.int64) if bias is None else bias.astype(np.int64),
        "input_scale": source["scale"][0], "input_zero_point": source["zero_point"][0],
        "weight_scales": np.broadcast_to(np.asarray(weights["scale"], np.float64), (channels,)),
        "output_scale": target["scale"][0], "output_zero_point": target["zero_point"][0],
    }


def _int8_accumulators(q_input, op: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """The int32 sums Σ (q_in − Z_in) · q_w + bias of a CONV_2D, (N, H_out, W_out, C_out),
    and the op's parameters (with its requantization: multipliers, activation range)."""
    p = _int8_parameters(op)
    strides, padding, activation = _conv_settings(op["options"])
    q_input = np.asarray(q_input)
    weights = p["weights"]
    if q_input.ndim != 4 or q_input.shape[-1] != weights.shape[-1]:
        raise ValueError(f"q_input must be (N, H, W, {weights.shape[-1]}), got {q_input.shape}")
    kernel = weights.shape[1:3]
    # (q_in − Z_in): a padded position holds a real 0, which is exactly q = Z_in, so it
    # pads with 0 here (TFLite skips those taps, the same sum).
    centred = _pad_spatially(q_input.astype(np.int64) - p["input_zero_point"], kernel,
                             strides, padding, fill=0)
    out_shape = tuple(_output_size(q_input.shape[axis], kernel[axis - 1], strides[axis - 1],
                                   padding) for axis in (1, 2))
    accumulator = np.zeros((q_input.shape[0], *out_shape, weights.shape[0]), np.int64)
    for dy, dx, window in _windows(centred, kernel, strides, out_shape):
        accumulator += window @ weights[:, dy, dx, :].T  # (.., C_in) @ (C_in, C_out)
    accumulator += p["bias"]
    if np.abs(accumulator).max(initial=0) > INT32_MAX:
        raise ValueError("the int32 accumulator overflows; this is not a valid TFLite layer")
    # M per output channel, computed in double from the stored float32 scales, as TFLite's
    # PopulateConvolutionQuantizationParams does (in float32 it can differ in the last bits
    # of M0, enough to move an output that sits within 10^-3 of a rounding tie).
    p["real_multiplier"] = p["input_scale"] * p["weight_scales"] / p["output_scale"]
    p["multiplier"], p["shift"] = quantize_multiplier(p["real_multiplier"])
    p["activation"] = activation
    p["output_range"] = _activation_range(activation, p["output_scale"], p["output_zero_point"])
    return accumulator, p


def int8_conv2d(q_input: np.ndarray, op: dict[str, Any]) -> np.ndarray:
    """A full-integer TFLite convolution recomputed in numpy (see the module docstring).

    Args:
        q_input: the op's int8 input, (N, H, W, C_in).
        op: one entry of ``utils.deploy.operator_tensors(flatbuffer, "CONV_2D")``.

    Returns:
        The int8 output, (N, H_out, W_out, C_out).
    """
    accumulator, p = _int8_accumulators(q_input, op)
    scaled = multiply_by_quantized_multiplier(accumulator, p["multiplier"], p["shift"])
    return np.clip(scaled + p["output_zero_point"], *p["output_range"]).astype(np.int8)


def _encode(image, details: dict[str, Any]) -> np.ndarray:
    """``image`` in the file's input type: int8 as given, floats quantized with the file's
    input scale and zero point."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = image[None]
    if tuple(image.shape) != tuple(details["shape"]):
        raise ValueError(f"the file takes one image of shape {tuple(details['shape'][1:])}, "
                         f"got an array of shape {image.shape}")
    if image.dtype == np.int8:
        return image
    scale, zero_point = details["quantization"]
    return np.clip(np.round(image / scale) + zero_point, INT8_MIN, INT8_MAX).astype(np.int8)


# The interpreter's kernels (the default XNNPACK delegate is never applied): TFLite's
# reference kernels, or the optimized builtin kernels a device runs.
INTERPRETER_KERNELS = {"reference": "BUILTIN_REF",
                       "optimized": "BUILTIN_WITHOUT_DEFAULT_DELEGATES"}


def _run_keeping_tensors(flatbuffer: bytes, image, kernels: str):
    """An interpreter that has run ``image`` and kept every intermediate tensor."""
    import tensorflow as tf

    if kernels not in INTERPRETER_KERNELS:
        raise ValueError(f"unknown kernels {kernels!r}; accepted: "
                         f"{', '.join(INTERPRETER_KERNELS)}")
    interpreter = tf.lite.Interpreter(
        model_content=flatbuffer, experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=getattr(tf.lite.experimental.OpResolverType,
                                              INTERPRETER_KERNELS[kernels]))
    interpreter.allocate_tensors()
    (details,) = interpreter.get_input_details()
    interpreter.set_tensor(details["index"], _encode(image, details))
    interpreter.invoke()
    return interpreter


def _compare(interpreter, op: dict[str, Any]) -> Int8Check:
    q_input = interpreter.get_tensor(op["inputs"][0]["index"])
    reference = interpreter.get_tensor(op["outputs"][0]["index"])
    by_hand = int8_conv2d(q_input, op)
    difference = np.abs(by_hand.astype(np.int32) - reference.astype(np.int32))
    return Int8Check(by_hand, reference, int(difference.max(initial=0)),
                     int(np.count_nonzero(difference)))


def _conv_ops(flatbuffer: bytes) -> list[dict[str, Any]]:
    from utils.deploy import operator_tensors

    return operator_tensors(flatbuffer, "CONV_2D")


def int8_output_steps(flatbuffer: bytes, image, op_index: int,
                      position: tuple[int, int, int]) -> dict[str, Any]:
    """The arithmetic of one output of the ``op_index``-th CONV_2D, at ``position``
    (y, x, channel) of its output for ``image``, step by step: the int32 sum, the real
    multiplier M and its fixed-point form, the requantized value, the output zero point,
    the clamp, and the interpreter's value (reference kernels)."""
    op = _conv_ops(flatbuffer)[op_index]
    interpreter = _run_keeping_tensors(flatbuffer, image, "reference")
    accumulator, p = _int8_accumulators(interpreter.get_tensor(op["inputs"][0]["index"]), op)
    where = (0, *position)
    channel = position[-1]
    total = int(accumulator[where])
    fixed, shift = int(p["multiplier"][channel]), int(p["shift"][channel])
    scaled = int(multiply_by_quantized_multiplier(total, fixed, shift))
    low, high = p["output_range"]
    return {
        "int32 sum Σ (q_in − Z_in)·q_w + bias": total,
        "of which bias": int(p["bias"][channel]),
        "M = S_in·S_w / S_out": float(p["real_multiplier"][channel]),
        "M0 (31-bit fixed point)": fixed,
        "shift": shift,
        "M0 · 2^(shift − 31)": fixed * 2.0 ** (shift - 31),
        "sum · M, exact": total * float(p["real_multiplier"][channel]),
        "sum · M, integer arithmetic": scaled,
        "Z_out": int(p["output_zero_point"]),
        f"clamped to [{low}, {high}] ({p['activation']})": int(
            np.clip(scaled + p["output_zero_point"], low, high)),
        "interpreter": int(interpreter.get_tensor(op["outputs"][0]["index"])[where]),
    }


def check_int8_conv(flatbuffer: bytes, image, op_index: int = 0, *,
                    kernels: str = "reference") -> Int8Check:
    """The ``op_index``-th CONV_2D of a full-integer file, by hand and by the interpreter.

    Runs ``image`` (one float image as the Keras model takes it, or the file's int8 input)
    through TensorFlow's TFLite interpreter with every intermediate tensor kept, reads the
    convolution's real int8 input and output, and recomputes the output with
    :func:`int8_conv2d`.

    ``kernels`` (:data:`INTERPRETER_KERNELS`) chooses the interpreter's kernels:
    "reference", TFLite's reference kernels, whose requantization is the one mirrored here,
    so the two agree exactly; or "optimized", the builtin kernels a device runs. Measured
    on x86, those differ by one step, and only at negative outputs whose high multiply
    lands exactly on a half of the final step: they round such a tie up, the reference's
    right shift rounds it away from zero.
    """
    ops = _conv_ops(flatbuffer)
    if not 0 <= op_index < len(ops):
        raise ValueError(f"op_index {op_index} is out of range: the file has {len(ops)} "
                         f"CONV_2D ops (accepted: 0..{len(ops) - 1})")
    return _compare(_run_keeping_tensors(flatbuffer, image, kernels), ops[op_index])


def int8_conv_table(flatbuffer: bytes, image) -> pd.DataFrame:
    """Every CONV_2D of a full-integer file redone by hand for one ``image``, against both
    kinds of interpreter kernels: one row per op with its shapes, strides, padding, fused
    activation, weight scales (per tensor or per channel), and per kernels the largest
    difference (in int8 steps) and the number of differing outputs."""
    ops = _conv_ops(flatbuffer)
    rows = []
    for index, op in enumerate(ops):
        strides, padding, activation = _conv_settings(op["options"])
        weights = op["inputs"][1]
        row = {"op": index, "input": op["inputs"][0]["shape"][1:],
               "kernel": weights["shape"][1:3], "output": op["outputs"][0]["shape"][1:],
               "strides": strides, "padding": padding, "activation": activation,
               "weight_scales": "per channel" if len(weights["scale"]) > 1 else "per tensor"}
        for kernels in INTERPRETER_KERNELS:
            check = check_int8_conv(flatbuffer, image, index, kernels=kernels)
            row[f"max_difference_{kernels}"] = check.max_difference
            row[f"differing_{kernels}"] = check.differing
        row["outputs"] = int(np.prod(op["outputs"][0]["shape"]))
        rows.append(row)
    return pd.DataFrame(rows).set_index("op")


def _valid_bit_mask(channels: int) -> np.ndarray:
    """Per packed byte, the bits that hold channels (packbits fills the last byte's low
    bits with zeros, whose XNOR with zeros would count as agreements)."""
    mask = np.full(-(-channels // 8), 0xFF, np.uint8)
    if channels % 8:
        mask[-1] = (0xFF << (8 - channels % 8)) & 0xFF
    return mask


def binary_conv2d(inputs, kernel, *, strides=(1, 1), padding: str = "valid",
                  kernel_scale=None, bias=None) -> BinaryConvolution:
    """A binary convolution computed with XNOR and popcount on bit-packed operands.

    Args:
        inputs: (N, H, W, C_in) real inputs; binarized by sign, x >= 0 -> +1 (larq's
            ``ste_sign``, report eq. 4.2).
        kernel: (k_h, k_w, C_in, C_out) weights (Keras' layout), binarized the same way.
        strides: (s_h, s_w) or one int.
        padding: "valid", or "same" padded with +1 (``pad_values=1.0``).
        kernel_scale: optional per-output-channel magnitude of the binary kernel (larq's
            ``MagnitudeAwareSign``), applied after the popcount; None for ±1 weights.
        bias: optional (C_out,) bias, added last.

    Returns:
        :class:`BinaryConvolution`.
    """
    inputs, kernel = np.asarray(inputs), np.asarray(kernel)
    if inputs.ndim != 4 or kernel.ndim != 4 or inputs.shape[-1] != kernel.shape[2]:
        raise ValueError(f"inputs must be (N, H, W, C_in) and kernel (k_h, k_w, C_in, C_out) "
                         f"with the same C_in, got {inputs.shape} and {kernel.shape}")
    strides = (strides, strides) if np.isscalar(strides) else tuple(strides)
    padding = _check_padding(padding)
    size, channels, filters = kernel.shape[:2], kernel.shape[2], kernel.shape[3]
    bits = _pad_spatially(inputs >= 0, size, strides, padding, fill=True)
    packed_inputs = np.packbits(bits, axis=-1)  # (N, H', W', ceil(C_in / 8))
    packed_kernel = np.packbits(kernel >= 0, axis=2)  # (k_h, k_w, ceil(C_in / 8), C_out)
    mask = _valid_bit_mask(channels)[:, None]
    out_shape = tuple(_output_size(inputs.shape[axis], size[axis - 1], strides[axis - 1],
                                   padding) for axis in (1, 2))
    agreements = np.zeros((inputs.shape[0], *out_shape, filters), np.int64)
    for dy, dx, window in _windows(packed_inputs, size, strides, out_shape):
        xnor = ~(window[..., :, None] ^ packed_kernel[dy, dx]) & mask  # (.., bytes, C_out)
        agreements += POPCOUNT[xnor].sum(axis=-2)
    n = size[0] * size[1] * channels
    output = (2 * agreements - n).astype(np.float32)
    if kernel_scale is not None:
        output = output * np.asarray(kernel_scale, np.float32)
    if bias is not None:
        output = output + np.asarray(bias, np.float32)
    positions = out_shape[0] * out_shape[1] * filters
    return BinaryConvolution(
        output=output,
        packed_weight_bytes=int(packed_kernel.size),
        float_weight_bytes=4 * int(kernel.size),
        xnor_popcounts=positions * size[0] * size[1] * packed_kernel.shape[2],
        macs=positions * n,
    )


def _binary_kernel(layer) -> tuple[np.ndarray, np.ndarray | None]:
    """(signs source, per-channel magnitude or None) of a sign-quantized kernel."""
    latent = np.asarray(getattr(layer.kernel, "latent_variable", layer.kernel))
    quantized = np.asarray(layer.kernel_quantizer(latent))
    magnitude = np.abs(quantized).max(axis=(0, 1, 2))
    if not np.allclose(np.abs(quantized), magnitude, rtol=1e-6, atol=0):
        raise ValueError(f"layer {layer.name!r}: its kernel quantizer does not give one "
                         f"magnitude per output channel; accepted: ste_sign or "
                         f"MagnitudeAwareSign kernels")
    return quantized, None if np.all(magnitude == 1) else magnitude


def binary_layer_by_hand(layer, inputs) -> BinaryConvolution:
    """A larq ``QuantConv2D`` with sign-quantized inputs and kernel, by XNOR and popcount.

    ``inputs`` are the layer's real (unquantized) inputs, (N, H, W, C_in). The result's
    output equals the layer's output exactly for ``ste_sign`` kernels (each output is a
    small integer, exact in float32); a ``MagnitudeAwareSign`` kernel multiplies it by a
    per-channel float, which the layer sums in another order (equal to float32 rounding).

    Raises:
        ValueError: a layer that is not a binary convolution this function can redo (inputs
            not quantized to ±1, same padding with zeros, dilation, groups, an activation).
    """
    inputs = np.asarray(inputs, np.float32)
    signs = np.where(inputs >= 0, 1.0, -1.0).astype(np.float32)
    quantizer = getattr(layer, "input_quantizer", None)
    if quantizer is None or not np.array_equal(np.asarray(quantizer(inputs)), signs):
        raise ValueError(f"layer {layer.name!r} does not binarize its inputs to ±1 by sign; "
                         f"accepted: a larq QuantConv2D with input_quantizer='ste_sign'")
    if layer.padding == "same" and getattr(layer, "pad_values", 0.0) != 1.0:
        raise ValueError(f"layer {layer.name!r} pads with {layer.pad_values}, a third value "
                         f"beside ±1 (report §7.1); accepted: padding 'valid', or 'same' "
                         f"with pad_values=1.0")
    activation = getattr(layer.activation, "__name__", str(layer.activation))
    if (tuple(layer.dilation_rate) != (1, 1) or getattr(layer, "groups", 1) != 1
            or activation != "linear"):
        raise ValueError(f"layer {layer.name!r}: accepted are convolutions without dilation, "
                         f"groups or activation; got dilation {layer.dilation_rate}, groups "
                         f"{getattr(layer, 'groups', 1)}, activation {activation}")
    kernel, scale = _binary_kernel(layer)
    bias = np.asarray(layer.bias) if layer.use_bias else None
    return binary_conv2d(inputs, kernel, strides=layer.strides, padding=layer.padding,
                         kernel_scale=scale, bias=bias)


def _is_sign_convolution(layer) -> bool:
    import larq as lq

    return (isinstance(layer, lq.layers.QuantConv2D)
            and isinstance(layer.input_quantizer, lq.quantizers.SteSign))


def binary_layer_table(model, images) -> pd.DataFrame:
    """Every binary convolution of ``model`` (larq ``QuantConv2D`` layers whose inputs are
    sign-quantized) redone by XNOR and popcount on the inputs ``images`` give it.

    One row per layer: its shape, whether the kernel has a per-channel scale, the largest
    absolute and relative difference from the layer's own output and whether they are
    equal, and per image the packed and float32 weight bytes, the byte-wide XNOR-popcounts
    and the multiply-accumulates they replace.
    """
    rows = []
    for layer in filter(_is_sign_convolution, model.layers):
        inputs = layer_inputs(model, layer.name, images)
        expected = layer(inputs).numpy()
        result = binary_layer_by_hand(layer, inputs)
        difference = float(np.abs(result.output - expected).max())
        rows.append({
            "layer": layer.name, "kernel": tuple(layer.kernel_size),
            "strides": tuple(layer.strides), "padding": layer.padding,
            "input_channels": inputs.shape[-1], "filters": layer.filters,
            "kernel_scale": "±1" if _binary_kernel(layer)[1] is None else "per channel",
            "max_difference": difference,
            "relative_difference": difference / max(float(np.abs(expected).max()), 1e-30),
            "equal": difference == 0.0,
            "packed_weight_bytes": result.packed_weight_bytes,
            "float_weight_bytes": result.float_weight_bytes,
            "xnor_popcounts": result.xnor_popcounts, "macs": result.macs,
        })
    return pd.DataFrame(rows).set_index("layer") if rows else pd.DataFrame()


def layer_inputs(model, layer_name: str, images) -> np.ndarray:
    """What layer ``layer_name`` of a functional Keras ``model`` receives for ``images``
    (inference mode)."""
    import tensorflow as tf

    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"model {model.name!r} has no layer {layer_name!r}; its layers: "
                         f"{', '.join(names)}")
    probe = tf.keras.Model(model.inputs, model.get_layer(layer_name).input)
    return probe(np.asarray(images, np.float32), training=False).numpy()


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
    ablation baseline (:func:`utils.lessons.ablations.base_config`, the recipe of the bit-width
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


# Series label of the records passed as ``extra_records`` (e.g. wider binary networks).
EXTRA_SERIES = "wider networks"
_PARTS = {"compute_uj": "compute", "weights_uj": "weights (read once)",
          "activations_uj": "activations (on chip)"}


def plot_mac_energy(table: pd.DataFrame, title: str = "Energy of one multiply-accumulate"
                    ) -> Figure:
    """Multiply and add energy of one MAC per precision (log axis), from
    :func:`mac_table`, with the float32 MAC's multiple over each bar."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    positions = np.arange(len(table))
    for offset, (column, label) in zip((-0.2, 0.2), (("multiply_pj", "multiply"),
                                                     ("add_pj", "add (accumulate)")),
                                       strict=True):
        values = table[column].where(table[column] > 0)
        ax.bar(positions + offset, values, width=0.4, label=label)
    for position, (mac, ratio) in enumerate(zip(table["mac_pj"], table["fp32_over_this"],
                                                strict=True)):
        ax.annotate(f"{mac:.3g} pJ\n1/{ratio:.0f} of fp32" if ratio > 1.5 else f"{mac:.3g} pJ",
                    (position, mac), textcoords="offset points", xytext=(0, 6),
                    ha="center", fontsize=7)
    ax.set_xticks(positions, table.index)
    ax.set_yscale("log")
    ax.set_ylim(top=ax.get_ylim()[1] * 10)
    return finish_axes(ax, ylabel="energy (pJ, 45 nm, log scale)", title=title, grid="y",
                       legend={"loc": "lower left"})


def plot_energy_breakdown(table: pd.DataFrame,
                          title: str = "Energy of one inference, by part") -> Figure:
    """One panel per network of :func:`energy_table`: compute, weight and
    activation energy of each precision (µJ, log axis), the total marked above."""
    networks = list(dict.fromkeys(table.index.get_level_values("network")))
    fig, axes = plt.subplots(1, len(networks), figsize=(5.5 * len(networks), 3.9),
                             squeeze=False, sharey=True)
    for number, (ax, network) in enumerate(zip(axes.ravel(), networks, strict=True)):
        rows = table.xs(network, level="network")
        positions = np.arange(len(rows))
        for offset, (column, label) in zip((-0.27, 0.0, 0.27), _PARTS.items(), strict=True):
            ax.bar(positions + offset, rows[column].where(rows[column] > 0), width=0.27,
                   label=label)
        ax.scatter(positions, rows["total_uj"], marker="_", s=400, color="black", zorder=3,
                   label="total")
        ax.set_xticks(positions, rows.index, rotation=20)
        finish_axes(ax, ylabel=None if number else "energy per image (µJ, log scale)",
                    title=network, ylog=True, grid="y",
                    legend=False if number else {"fontsize": 7}, layout=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_energy(
    table: pd.DataFrame,
    extra_records: Sequence[Mapping[str, Any]] = (),
    *,
    min_accuracy: float | None = None,
    title: str = "Accuracy against energy per inference",
    **assumptions,
) -> Figure:
    """Mean test accuracy (± one standard deviation over seeds) against the estimated energy
    of one inference (log axis), one marker per trained network.

    Args:
        table: :func:`accuracy_energy_table`'s output.
        extra_records: more training records (each with config["precision"],
            config["width"], test_accuracy and summary), e.g. wider binary or 4-bit
            networks, drawn as the series :data:`EXTRA_SERIES` and labelled by width.
        min_accuracy: an accuracy bar (a fraction): the cheapest network that reaches it
            is circled, and the bar drawn.
        assumptions: :func:`inference_energy`'s keywords, for the extra
            records (use the ones ``table`` was made with).
    """
    if extra_records:
        extra = accuracy_energy_table({EXTRA_SERIES: list(extra_records)}, **assumptions)
        table = pd.concat([table, extra], ignore_index=True)
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    markers = dict(zip(dict.fromkeys(table["model"]), "osD^vP", strict=False))
    colors = dict(zip(dict.fromkeys(table["series"]), plt.get_cmap("tab10").colors,
                      strict=False))
    for (series, model), rows in table.groupby(["series", "model"], sort=False):
        ax.errorbar(rows["total_uj"], 100 * rows["accuracy_mean"],
                    yerr=100 * rows["accuracy_std"].fillna(0.0), fmt=markers[model],
                    color=colors[series], capsize=3, markersize=6, linestyle="none",
                    label=f"{series}: {model}")
        for _, row in rows.iterrows():
            label = row["precision"]
            if series == EXTRA_SERIES:
                label = f"{label}, width {row['width']:g}"
            ax.annotate(label, (row["total_uj"], 100 * row["accuracy_mean"]),
                        textcoords="offset points", xytext=(4, 3), fontsize=7)
    if min_accuracy is not None:
        ax.axhline(100 * min_accuracy, color="grey", linestyle="--", linewidth=1,
                   label=f"accuracy bar {100 * min_accuracy:.1f}%")
        best = cheapest_at_accuracy(table, min_accuracy)
        if best is not None:
            ax.scatter(best["total_uj"], 100 * best["accuracy_mean"], s=250,
                       facecolors="none", edgecolors="red", linewidths=1.5, zorder=3,
                       label=f"least energy at the bar: {best['model']} "
                             f"{best['precision']}, width {best['width']:g}")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    return finish_axes(ax, xlabel="estimated energy per image (µJ, 45 nm, log scale)",
                       ylabel="test accuracy (%)", title=title, grid=True,
                       legend={"fontsize": 7})
