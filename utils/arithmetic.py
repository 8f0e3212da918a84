"""What the hardware computes: an int8 and a binary convolution redone by hand in numpy.

Two layers are recomputed from their stored integers and bits, with no framework arithmetic,
and checked against the framework that runs them:

- **int8** (:func:`int8_conv2d`, :func:`check_int8_conv`): one ``CONV_2D`` of a full-integer
  ``.tflite`` file. With r = S (q − Z) for every tensor (:mod:`utils.affine`) and weights
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
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "BinaryConvolution",
    "INTERPRETER_KERNELS",
    "Int8Check",
    "binary_conv2d",
    "binary_layer_by_hand",
    "binary_layer_table",
    "check_int8_conv",
    "int8_conv2d",
    "int8_conv_table",
    "int8_output_steps",
    "layer_inputs",
    "multiply_by_quantized_multiplier",
    "quantize_multiplier",
]

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


# --- fixed-point requantization, as TFLite does it -----------------------------------------


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


# --- int8 convolution ------------------------------------------------------------------------


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
        op: one entry of ``utils.tflite_files.operator_tensors(flatbuffer, "CONV_2D")``.

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
    from utils.tflite_files import operator_tensors

    return operator_tensors(flatbuffer, "CONV_2D")


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


def int8_conv_table(flatbuffer: bytes, image) -> pd.DataFrame:
    """Every CONV_2D of a full-integer file redone by hand for one ``image``, against both
    kinds of interpreter kernels: one row per op with its shapes, strides, padding, fused
    activation, weight scales (per tensor or per channel), and per kernels the largest
    difference (in int8 steps) and the number of differing outputs."""
    ops = _conv_ops(flatbuffer)
    runs = {kernels: _run_keeping_tensors(flatbuffer, image, kernels)
            for kernels in INTERPRETER_KERNELS}
    rows = []
    for index, op in enumerate(ops):
        strides, padding, activation = _conv_settings(op["options"])
        weights = op["inputs"][1]
        row = {"op": index, "input": op["inputs"][0]["shape"][1:],
               "kernel": weights["shape"][1:3], "output": op["outputs"][0]["shape"][1:],
               "strides": strides, "padding": padding, "activation": activation,
               "weight_scales": "per channel" if len(weights["scale"]) > 1 else "per tensor"}
        for kernels, interpreter in runs.items():
            check = _compare(interpreter, op)
            row[f"max_difference_{kernels}"] = check.max_difference
            row[f"differing_{kernels}"] = check.differing
        row["outputs"] = int(np.prod(op["outputs"][0]["shape"]))
        rows.append(row)
    return pd.DataFrame(rows).set_index("op")


# --- binary convolution ----------------------------------------------------------------------


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
