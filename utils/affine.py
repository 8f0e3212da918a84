"""Affine (scale and zero point) quantization, the scheme TFLite, PyTorch and every toolkit use.

A real value r is stored as an integer q with

    r = S · (q − Z)                                   (scale S > 0, zero point Z an integer)

- **From a range.** For a tensor whose values lie in [r_min, r_max], the range is first
  widened to contain 0 (so that zero, the value of every padded pixel and every ReLU'd
  negative, is stored exactly as q = Z), then S = (r_max − r_min) / (q_max − q_min) and
  Z = round(q_min − r_min / S), clamped into [q_min, q_max]. Signed int8 has
  [q_min, q_max] = [−128, 127] ("full range") or [−127, 127] ("narrow" or "restricted"
  range, which keeps the grid symmetric around zero).
- **Symmetric** (the field's word) means Z = 0 and S = max|r| / q_max: TFLite stores weights
  this way, in the narrow range, one S per output channel ("per-channel scales"), so a
  channel of small weights is not forced onto the coarse grid of the largest channel.
- **Asymmetric** (the field's word) means any Z: TFLite's activations, one S and Z per tensor,
  so that the [0, 6] of a ReLU output spends all 256 codes on its own range.

The reference report's "symmetric" and "asymmetric" (§3, eqs. 3.2–3.4) are both Z = 0 schemes
in these terms: its symmetric range (eqs. 3.3/3.4) is the narrow range [−(2^(k−1)−1),
2^(k−1)−1] with S = α / (2^(k−1)−1), what the field calls symmetric; its asymmetric range
(eq. 3.2) is the full two's-complement range with S = α / 2^(k−1), still with Z = 0, so
the field would call it symmetric with full range, not asymmetric.

Calibration chooses [r_min, r_max] of an activation from sample data (:func:`calibrate`):
the observed min and max, a percentile (ignoring rare outliers), or the clip that minimizes
the squared quantization error.

Written with numpy because these are the formulas notebook 01 teaches term by term; the tests
check them against TensorFlow's own ``fake_quant_with_min_max_vars``, the op that
quantization-aware training and TFLite's calibration use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "CALIBRATION_METHODS",
    "AffineQuantization",
    "affine_from_range",
    "calibrate",
    "calibration_table",
    "integer_range",
    "symmetric_scales",
    "weight_error_table",
    "weight_quantization_error",
]

CALIBRATION_METHODS = ("minmax", "percentile", "mse")


def integer_range(bits: int = 8, *, signed: bool = True, narrow: bool = False) -> tuple[int, int]:
    """[q_min, q_max] of a ``bits``-bit integer: signed full, signed narrow, or unsigned."""
    if not isinstance(bits, int) or not 2 <= bits <= 16:
        raise ValueError(f"bits must be an integer from 2 to 16, got {bits!r}")
    if signed:
        top = 2 ** (bits - 1) - 1
        return (-top if narrow else -top - 1), top
    return (1 if narrow else 0), 2**bits - 1


@dataclass(frozen=True)
class AffineQuantization:
    """One scale and zero point (or one per channel) and the integer range they map onto."""

    scale: np.ndarray
    zero_point: np.ndarray
    q_min: int
    q_max: int

    def quantize(self, values, axis: int = -1) -> np.ndarray:
        """Integer codes q = clamp(round(r / S) + Z, q_min, q_max) (half to even)."""
        scale, zero = self._broadcast(values, axis)
        codes = np.round(np.asarray(values, np.float64) / scale) + zero
        return np.clip(codes, self.q_min, self.q_max).astype(np.int64)

    def dequantize(self, codes, axis: int = -1) -> np.ndarray:
        """The real values the codes stand for, r = S (q − Z)."""
        scale, zero = self._broadcast(codes, axis)
        return (scale * (np.asarray(codes, np.float64) - zero)).astype(np.float32)

    def fake_quantize(self, values, axis: int = -1) -> np.ndarray:
        """Round trip through the integers: what a quantized network computes with."""
        return self.dequantize(self.quantize(values, axis), axis)

    def _broadcast(self, values, axis: int):
        scale, zero = np.asarray(self.scale, np.float64), np.asarray(self.zero_point)
        if scale.ndim == 0:
            return scale, zero
        shape = [1] * np.ndim(values)
        shape[axis] = -1
        return scale.reshape(shape), zero.reshape(shape)


def affine_from_range(r_min, r_max, bits: int = 8, *, signed: bool = True,
                      narrow: bool = False) -> AffineQuantization:
    """Scale and zero point that map [r_min, r_max] (widened to contain 0) onto the integers.

    A range that is a single point (e.g. a constant tensor) is widened to [0, r] or [r, 0];
    the all-zero range gets S = 1 so that every value maps to the zero point.
    """
    q_min, q_max = integer_range(bits, signed=signed, narrow=narrow)
    r_min, r_max = np.asarray(r_min, np.float64), np.asarray(r_max, np.float64)
    if np.any(r_min > r_max):
        raise ValueError(f"r_min must not exceed r_max, got {r_min} and {r_max}")
    r_min, r_max = np.minimum(r_min, 0.0), np.maximum(r_max, 0.0)
    width = r_max - r_min
    scale = np.where(width > 0, width / (q_max - q_min), 1.0)
    zero_point = np.clip(np.round(q_min - r_min / scale), q_min, q_max).astype(np.int64)
    return AffineQuantization(scale, zero_point, q_min, q_max)


def symmetric_scales(weights, bits: int = 8, *, per_channel: bool = True,
                     axis: int = -1) -> AffineQuantization:
    """TFLite's weight scheme: Z = 0, narrow range, S = max|w| / q_max per output channel
    (``axis``) or for the whole tensor."""
    weights = np.asarray(weights, np.float64)
    if per_channel:
        reduce = tuple(i for i in range(weights.ndim) if i != axis % weights.ndim)
        max_abs = np.max(np.abs(weights), axis=reduce)
    else:
        max_abs = np.max(np.abs(weights))
    quantization = affine_from_range(-max_abs, max_abs, bits, narrow=True)
    return AffineQuantization(quantization.scale, np.zeros_like(quantization.zero_point),
                              quantization.q_min, quantization.q_max)


def weight_quantization_error(weights, bits: int = 8, *, per_channel: bool = True,
                              axis: int = -1) -> dict[str, float]:
    """Mean squared error, SQNR (dB) and the worst relative error of any channel when
    ``weights`` are quantized per channel or per tensor (TFLite's weight scheme)."""
    weights = np.asarray(weights, np.float64)
    quantized = symmetric_scales(weights, bits, per_channel=per_channel, axis=axis)
    error = quantized.fake_quantize(weights, axis) - weights
    reduce = tuple(i for i in range(weights.ndim) if i != axis % weights.ndim)
    channel_power = np.mean(weights**2, axis=reduce)
    channel_noise = np.mean(error**2, axis=reduce)
    relative = np.sqrt(channel_noise / np.where(channel_power > 0, channel_power, np.inf))
    return {"mse": float(np.mean(error**2)),
            "sqnr_db": float(10 * np.log10(np.mean(weights**2) / np.mean(error**2))),
            "worst_channel_relative_error": float(np.max(relative))}


def weight_error_table(kernels: dict[str, np.ndarray], bits: Sequence[int] = (4, 8)
                       ) -> pd.DataFrame:
    """Per layer and bit width: the quantization error of per-tensor against per-channel
    scales, and the spread of the channels' ranges that explains it.

    ``kernels`` maps a layer name to its kernel (output channels on the last axis).
    """
    rows = []
    for name, kernel in kernels.items():
        kernel = np.asarray(kernel, np.float64)
        ranges = np.max(np.abs(kernel.reshape(-1, kernel.shape[-1])), axis=0)
        for k in bits:
            tensor = weight_quantization_error(kernel, k, per_channel=False)
            channel = weight_quantization_error(kernel, k, per_channel=True)
            rows.append({"layer": name, "bits": k, "channels": kernel.shape[-1],
                         "largest / median channel range": float(np.max(ranges)
                                                                 / np.median(ranges)),
                         "SQNR per tensor (dB)": tensor["sqnr_db"],
                         "SQNR per channel (dB)": channel["sqnr_db"],
                         "MSE ratio (tensor / channel)": tensor["mse"] / channel["mse"],
                         "worst channel error, per tensor": tensor[
                             "worst_channel_relative_error"],
                         "worst channel error, per channel": channel[
                             "worst_channel_relative_error"]})
    return pd.DataFrame(rows).set_index(["layer", "bits"])


def _mse_of_clip(values: np.ndarray, r_min: float, r_max: float, bits: int) -> float:
    quantization = affine_from_range(r_min, r_max, bits)
    return float(np.mean((quantization.fake_quantize(values) - values) ** 2))


def calibrate(values, method: str = "minmax", bits: int = 8, *,
              percentile: float = 99.99, candidates: int = 100) -> tuple[float, float]:
    """An activation range [r_min, r_max] chosen from sample ``values``.

    - "minmax": the smallest and largest value seen (nothing is clipped, one outlier can
      stretch the grid for everything else);
    - "percentile": the ``percentile``-th percentile at the top and its mirror at the
      bottom (rare outliers are clipped);
    - "mse": the clip of ``candidates`` evenly spaced fractions of the min/max range that
      gives the smallest mean squared quantization error at ``bits`` bits.
    """
    values = np.asarray(values, np.float64).ravel()
    if values.size == 0:
        raise ValueError("calibration needs at least one value")
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"unknown method {method!r}; accepted: {', '.join(CALIBRATION_METHODS)}")
    low, high = float(values.min()), float(values.max())
    if method == "minmax":
        return low, high
    if method == "percentile":
        return (float(np.percentile(values, 100 - percentile)),
                float(np.percentile(values, percentile)))
    fractions = np.linspace(1.0 / candidates, 1.0, candidates)
    errors = [_mse_of_clip(values, low * f, high * f, bits) for f in fractions]
    best = fractions[int(np.argmin(errors))]
    return low * best, high * best


def calibration_table(activations: dict[str, np.ndarray], bits: int = 8, *,
                      percentile: float = 99.99) -> pd.DataFrame:
    """Per layer and calibration method: the range, the fraction of values clipped, the
    scale, the zero point, and the SQNR of the quantized activations (dB)."""
    rows = []
    for name, values in activations.items():
        values = np.asarray(values, np.float64).ravel()
        power = np.mean(values**2)
        for method in CALIBRATION_METHODS:
            r_min, r_max = calibrate(values, method, bits, percentile=percentile)
            quantization = affine_from_range(r_min, r_max, bits)
            error = quantization.fake_quantize(values) - values
            rows.append({"layer": name, "method": method, "r_min": r_min, "r_max": r_max,
                         "clipped %": 100 * float(np.mean((values < r_min) | (values > r_max))),
                         "scale": float(quantization.scale),
                         "zero point": int(quantization.zero_point),
                         "SQNR (dB)": float(10 * np.log10(power / np.mean(error**2)))})
    return pd.DataFrame(rows).set_index(["layer", "method"])
