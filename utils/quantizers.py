"""Quantization: the k-bit, ternary and multi-base quantizers (report section 4), the map from
a precision name to a layer's quantizers, affine and symmetric int8 arithmetic (scale and
zero point, calibration), and post-training quantization of trained kernels.

The quantizers larq does not ship.
----------------------------------

k-bit (report eq. 4.6/4.7), symmetric with a clipping threshold (eqs. 3.1-3.4) and a quantized
ReLU for k-bit hidden layers (report §4.4), and the two range choices that separate the
report's 8-bit networks from the field's: a ReLU whose clipping range is learned (PACT) and a
k-bit weight grid scaled per output channel.

Binary and ternary quantizers come from larq (``ste_sign``, ``ste_tern``, ``weight_clip``)
and are not rewritten here. Every quantizer class here is a ``larq.quantizers.Quantizer``, so
it can be passed as ``input_quantizer`` or ``kernel_quantizer`` to any larq layer, and it
carries a ``precision`` attribute that ``lq.models.summary`` uses to count k-bit parameters
and MACs.

Rounding: ``tf.round`` rounds half-way values to the nearest even integer (IEEE 754
round-half-to-even), e.g. round(0.5) = 0 and round(1.5) = 2. Equations 3.1 and 4.6 only say
"round"; half-to-even is the default of TensorFlow and NumPy and, unlike half-away-from-zero,
adds no bias to the quantization error on average.

Multi-base binarization (ABC-Net, Lin, Zhao and Pan, NIPS 2017).
----------------------------------------------------------------

Several binary tensors per weight and per activation, combined with real coefficients.

**Weights.** A kernel W is approximated by M binary bases,

    W ≈ Σᵢ αᵢ Bᵢ,   Bᵢ = sign(W − mean(W) + uᵢ · std(W)),   uᵢ = −1 + 2(i − 1)/(M − 1)

(u = 0 for M = 1), so that the bases cut W at M thresholds spread over ± one standard
deviation, and the coefficients α are the least-squares fit of W by the bases, recomputed at
every forward pass (``tf.linalg.lstsq``). Gradients pass straight through to W.

**Activations.** An input R is approximated by N binary bases with learned shifts vⱼ and
learned coefficients βⱼ,

    A ≈ Σⱼ βⱼ Hⱼ(R),   Hⱼ(R) = sign(clip(R + vⱼ, 0, 1) − 0.5),

with the gradient of clip(R + vⱼ, 0, 1) standing in for that of the sign (a straight-through
estimator on [−vⱼ, 1 − vⱼ]).

A layer with M weight bases and N activation bases computes M·N binary convolutions, each
an XNOR-popcount over bits, and a weighted sum of their outputs: M bits per stored weight
and M·N binary operations per multiply-accumulate. Both quantizers work in any larq layer
and carry ``precision`` (M for the weights, N for the activations) so that larq's summary
counts M bits per weight. LCE has no multi-base kernel, so such a layer deploys as float
arithmetic (see notebook 08).

One map from a precision name to the quantizer settings of a network's layers.
------------------------------------------------------------------------------

Names: "fp32", "binary", "ternary" and "int<k>" for k = 2..16 ("int8" is the report's
8-bit network). Each name gives settings for three roles (report §4.3, §5.1):

- first layer: float input (the image), quantized kernel;
- hidden layers: quantized input and kernel, the input quantizer doubling as the activation
  (``ste_sign`` for binary, larq's practice of no ReLU before a sign; ``QuantizedReLU`` for
  k-bit, report §4.4);
- last layer: float input and kernel, followed by softmax.

``quantize_first`` / ``quantize_last`` give the first / last layer the hidden layers'
settings, for the report's §5.1 experiment. Binary kernels are constrained by larq's
``weight_clip`` so that latent weights stay in [-1, 1] (report §4.3, the clip of Courbariaux
et al.'s update rule).

``magnitude_aware=True`` (binary only) gives every sign-quantized kernel a gain term: larq's
``MagnitudeAwareSign`` multiplies sign(w) by the mean |w| of each output channel, the
weight scaling of XNOR-Net and Bi-Real Net (report §3.2, §7.1 "scaling with the gain term").
The scale is a per-channel constant, so a bit-packed kernel stays one bit per weight.

Affine (scale and zero point) quantization, the scheme TFLite, PyTorch and every toolkit use.
---------------------------------------------------------------------------------------------

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

The affine functions are written with numpy because these are the formulas notebook 01 teaches
term by term; the tests check them against TensorFlow's own ``fake_quant_with_min_max_vars``,
the op that quantization-aware training and TFLite's calibration use.

Post-training quantization (PTQ) of a trained float network, simulated at any bit width.
----------------------------------------------------------------------------------------

The practitioner's first choice is between quantizing a trained float network as it is (PTQ,
what TFLite's converter does with calibration images) and training with the quantizers in
the loop (QAT: the report's k-bit networks, and the course's "int8_qat"). TFLite's integer
kernels only exist for 8 bits, so :func:`quantize_after_training` simulates PTQ at 2 to 16
bits in Keras, with the same two steps the converter takes:

1. **Weights.** Every convolution and dense kernel is rounded to a symmetric k-bit grid
   (zero point 0, narrow range), with one scale for the whole kernel or one per output
   channel (:func:`symmetric_scales`), before batch normalization is folded
   (which a per-channel scale absorbs exactly).
2. **Activations.** The range of every hidden ReLU's output is calibrated on training
   images (:func:`calibrate`), and the activation is rounded to k bits on that
   range, with TensorFlow's ``fake_quant_with_min_max_vars``.

It follows the course's precision map (report §4.3): the first layer's input (the image)
and the classifier stay float, so that PTQ at k bits compares like for like with the k-bit
networks of notebook 02's sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import larq as lq
import numpy as np
import pandas as pd
import tensorflow as tf

from utils.names import (
    ACCEPTED_PRECISIONS,
    MAX_BITS,
    MIN_BITS,
    QAT_PRECISION,
    check_precision,
    check_precision_options,
    multibase_bases,
    precision_bits,
)

__all__ = ["ACCEPTED_PRECISIONS", "AffineQuantization", "CALIBRATION_METHODS", "KBitQuantizer",
           "LayerQuantization", "LearnedRangeReLU", "MultiBaseActivation", "MultiBaseWeights",
           "PerChannelKBitQuantizer", "PrecisionSpec", "QuantizedReLU", "SymmetricQuantizer",
           "activation_ranges", "affine_from_range", "asymmetric_levels", "calibrate",
           "calibration_table", "get_precision", "integer_range", "kernels", "ptq_table",
           "quantize_after_training", "quantize_to_integers", "relu_outputs", "symmetric_levels",
           "symmetric_scales", "weight_error_table", "weight_quantization_error", "weight_shifts"]

def _check_bits(k: int, minimum: int = MIN_BITS) -> int:
    """Validate a bit width: an integer in [minimum, 16]."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not minimum <= k <= MAX_BITS:
        raise ValueError(
            f"bit width must be an integer from {minimum} to {MAX_BITS}, got {k!r}; "
            "for 1 bit use larq's 'ste_sign', for 32 bits use no quantizer"
        )
    return int(k)


def _straight_through(x: tf.Tensor, quantized: tf.Tensor, low: float, high: float) -> tf.Tensor:
    """Forward ``quantized``; backward pass the gradient where ``low <= x <= high``, else 0.

    This is the straight-through estimator of report eqs. 4.3 and 4.7: the derivative of the
    staircase is replaced by that of clip(x, low, high) (hardtanh for [-1, 1]).
    """
    x = tf.convert_to_tensor(x)

    @tf.custom_gradient
    def _identity_in_range(inputs):
        def grad(dy):
            inside = tf.logical_and(inputs >= low, inputs <= high)
            return dy * tf.cast(inside, dy.dtype)

        return quantized, grad

    return _identity_in_range(x)


@tf.keras.utils.register_keras_serializable(package="utils")
class KBitQuantizer(lq.quantizers.Quantizer):
    r"""k-bit fixed-point quantizer of report eq. 4.6 with the STE of eq. 4.7.

    Forward:  q = clip(round(2^(k-1) x) / 2^(k-1), -1, 1 - 2^-(k-1)),
    so q lives on the grid of step 2^-(k-1) in [-1, 1 - 2^-(k-1)] (2^k levels, the
    asymmetric two's-complement range of eq. 3.2 scaled to [-1, 1)).

    Backward: dq/dx = 1 where |x| <= 1 and 0 elsewhere (hardtanh's derivative, eq. 4.7).

    Args:
        k: bit width, 2 to 16.
    """

    def __init__(self, k: int = 8, **kwargs):
        self.k = _check_bits(k)
        self.precision = self.k
        super().__init__(**kwargs)

    @property
    def step(self) -> float:
        """Distance between neighbouring levels, 2^-(k-1)."""
        return 2.0 ** -(self.k - 1)

    def call(self, inputs):
        scale = 2.0 ** (self.k - 1)
        quantized = tf.clip_by_value(tf.round(inputs * scale) / scale, -1.0, 1.0 - self.step)
        return _straight_through(inputs, quantized, -1.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


@tf.keras.utils.register_keras_serializable(package="utils")
class QuantizedReLU(lq.quantizers.Quantizer):
    r"""Quantized ReLU for k-bit hidden layers (report §4.4, after Moons et al. 2017).

    Forward:  q = clip(round(2^k x) / 2^k, 0, 1 - 2^-k): a ReLU clipped at 1 and rounded to
    the 2^k unsigned levels {0, 2^-k, ..., 1 - 2^-k}. Activations after a ReLU are never
    negative, so all k bits go to the magnitude (the signed grid of eq. 4.6 would spend one
    on a sign that is always +).

    Backward: the gradient passes where 0 <= x <= 1 and is zero elsewhere, the STE of the
    clipped ReLU.

    Used as the ``input_quantizer`` of a k-bit layer it is that layer's activation function
    and its input quantization at once, the way ``ste_sign`` is for a binary layer.

    Args:
        k: bit width, 2 to 16.
    """

    def __init__(self, k: int = 8, **kwargs):
        self.k = _check_bits(k)
        self.precision = self.k
        super().__init__(**kwargs)

    def call(self, inputs):
        scale = 2.0**self.k
        quantized = tf.clip_by_value(tf.round(inputs * scale) / scale, 0.0, 1.0 - 1.0 / scale)
        return _straight_through(inputs, quantized, 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


def symmetric_levels(k: int) -> tuple[int, int]:
    """Integer range of the symmetric k-bit code, eqs. 3.3/3.4: [-(2^(k-1) - 1), 2^(k-1) - 1].

    The report prints the lower end of eq. 3.4 as -2^(k-1) - 1, a typo: with k = 8 it must
    give eq. 3.3's [-127, 127].
    """
    k = _check_bits(k)
    top = 2 ** (k - 1) - 1
    return -top, top


def asymmetric_levels(k: int) -> tuple[int, int]:
    """Integer range of the asymmetric (two's-complement) k-bit code, eq. 3.2.

    That is [-2^(k-1), 2^(k-1) - 1], e.g. [-128, 127] for k = 8.
    """
    k = _check_bits(k)
    return -(2 ** (k - 1)), 2 ** (k - 1) - 1


def quantize_to_integers(x, k: int, alpha: float, symmetric: bool = True) -> np.ndarray:
    """Integer codes of eq. 3.1: y_q = round(s * clip(y, -alpha, alpha)).

    Symmetric (eq. 3.3/3.4): s = (2^(k-1) - 1) / alpha, codes in [-(2^(k-1)-1), 2^(k-1)-1].
    Asymmetric (eq. 3.2): s = 2^(k-1) / alpha; +alpha then maps to 2^(k-1), one past the top
    code, so the result is clipped to 2^(k-1) - 1 (the bias the report warns about).
    Divide the codes by s to get back to the input's scale.
    """
    if alpha <= 0:
        raise ValueError(f"clipping threshold alpha must be positive, got {alpha!r}")
    low, high = symmetric_levels(k) if symmetric else asymmetric_levels(k)
    scale = (high if symmetric else -low) / alpha
    codes = np.round(scale * np.clip(np.asarray(x, dtype=np.float64), -alpha, alpha))
    return np.clip(codes, low, high).astype(np.int64)


@tf.keras.utils.register_keras_serializable(package="utils")
class SymmetricQuantizer(lq.quantizers.Quantizer):
    r"""Symmetric k-bit quantizer with clipping threshold alpha (report eqs. 3.1 and 3.4).

    Forward:  q = round(s * clip(x, -alpha, alpha)) / s with s = (2^(k-1) - 1) / alpha, i.e.
    the integer code of eq. 3.1 mapped back to the input's scale; 2^k - 1 levels, zero
    included, symmetric around it.

    Backward: straight-through where |x| <= alpha, zero where the input was clipped.

    Args:
        k: bit width, 2 to 16.
        alpha: clipping threshold, > 0.
    """

    def __init__(self, k: int = 8, alpha: float = 1.0, **kwargs):
        self.k = _check_bits(k)
        if not alpha > 0:
            raise ValueError(f"clipping threshold alpha must be positive, got {alpha!r}")
        self.alpha = float(alpha)
        self.precision = self.k
        super().__init__(**kwargs)

    def call(self, inputs):
        scale = (2.0 ** (self.k - 1) - 1.0) / self.alpha
        clipped = tf.clip_by_value(inputs, -self.alpha, self.alpha)
        quantized = tf.round(scale * clipped) / scale
        return _straight_through(inputs, quantized, -self.alpha, self.alpha)

    def get_config(self):
        return {**super().get_config(), "k": self.k, "alpha": self.alpha}


def _round_straight_through(values: tf.Tensor, step) -> tf.Tensor:
    """``values`` rounded to multiples of ``step``; the gradient passes as if not rounded."""
    return values + tf.stop_gradient(tf.round(values / step) * step - values)


@tf.keras.utils.register_keras_serializable(package="utils")
class LearnedRangeReLU(lq.quantizers.Quantizer):
    r"""k-bit ReLU whose clipping range [0, α] is learned (PACT, Choi et al. 2018).

    Forward:  y = clip(x, 0, α) on the 2^k levels {0, α/(2^k − 1), ..., α}: TFLite's
    unsigned affine activation grid (scale α/(2^k − 1), zero point 0) with a trained α.
    Backward: the gradient passes to x where 0 ≤ x ≤ α and to α where x > α; the rounding
    is straight-through. Where :class:`QuantizedReLU` fixes the range at [0, 1) (report
    §4.4), this one lets each layer find its own.

    Args:
        k: bit width, 2 to 16.
        initial_range: α at the start of training (4.0: batch-normalized inputs rarely
            exceed 4 standard deviations).
    """

    def __init__(self, k: int = 8, initial_range: float = 4.0, **kwargs):
        self.k = _check_bits(k)
        if not initial_range > 0:
            raise ValueError(f"initial_range must be positive, got {initial_range!r}")
        self.initial_range = float(initial_range)
        self.precision = self.k
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.alpha = self.add_weight(
            name="alpha", shape=(), trainable=True,
            initializer=tf.keras.initializers.Constant(self.initial_range))
        super().build(input_shape)

    def call(self, inputs):
        clipped = tf.minimum(tf.nn.relu(inputs), self.alpha)
        return _round_straight_through(clipped, self.alpha / (2.0**self.k - 1.0))

    def get_config(self):
        return {**super().get_config(), "k": self.k, "initial_range": self.initial_range}


@tf.keras.utils.register_keras_serializable(package="utils")
class PerChannelKBitQuantizer(lq.quantizers.Quantizer):
    r"""k-bit weights on a symmetric grid scaled per output channel (TFLite's weight scheme).

    Forward:  q = S_c · round(w / S_c) with S_c = max|w_c| / (2^(k−1) − 1) for each output
    channel c (the last axis): every channel spans its own range on 2^k − 1 levels, zero
    included, where :class:`KBitQuantizer` puts every weight on one grid over [−1, 1)
    (report eq. 4.6). Backward: straight-through; S_c is treated as a constant.

    Args:
        k: bit width, 2 to 16.
    """

    def __init__(self, k: int = 8, **kwargs):
        self.k = _check_bits(k)
        self.precision = self.k
        super().__init__(**kwargs)

    def call(self, inputs):
        axes = list(range(len(inputs.shape) - 1))
        largest = tf.stop_gradient(tf.reduce_max(tf.abs(inputs), axis=axes))
        step = tf.maximum(largest, 1e-12) / (2.0 ** (self.k - 1) - 1.0)
        return _round_straight_through(inputs, step)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


def weight_shifts(bases: int) -> list[float]:
    """The shifts uᵢ of ABC-Net's weight bases: evenly spaced over [−1, 1] (0 for one base)."""
    if bases == 1:
        return [0.0]
    return [-1.0 + 2.0 * i / (bases - 1) for i in range(bases)]


def _sign(x: tf.Tensor) -> tf.Tensor:
    """sign with sign(0) = +1, as larq's binary quantizers."""
    return tf.where(x >= 0, 1.0, -1.0)


class _OneBaseIsNotStarved(logging.Filter):
    """Drops larq's "starved weights" warning, which it logs for any kernel quantizer of
    precision 1 without a kernel constraint. In the course only ABC-Net with one weight base
    is such a layer (every sign kernel of the precision map has ``WeightClip(1)``), and its
    gradient passes unchanged to every latent weight (see :meth:`MultiBaseWeights.call`), so
    no weight can starve; the warning was printed once per layer of notebook 09."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "starved weights" not in record.getMessage()


logging.getLogger("larq.layers_base").addFilter(_OneBaseIsNotStarved())


@tf.keras.utils.register_keras_serializable(package="utils")
class MultiBaseWeights(lq.quantizers.Quantizer):
    """A kernel as M least-squares-weighted binary bases (see the module docstring).

    Args:
        bases: M, the number of binary bases (1 to 5).
    """

    def __init__(self, bases: int = 3, **kwargs):
        if not isinstance(bases, int) or not 1 <= bases <= 5:
            raise ValueError(f"bases must be an integer from 1 to 5, got {bases!r}")
        self.bases = bases
        self.precision = bases
        super().__init__(**kwargs)

    def binary_bases(self, kernel: tf.Tensor) -> tf.Tensor:
        """The M binary tensors Bᵢ, stacked on a new last axis."""
        centred = kernel - tf.reduce_mean(kernel)
        spread = tf.math.reduce_std(kernel)
        return tf.stack([_sign(centred + shift * spread) for shift in weight_shifts(self.bases)],
                        axis=-1)

    def coefficients(self, kernel: tf.Tensor) -> tf.Tensor:
        """The least-squares αᵢ of ``kernel`` by its bases (a vector of M).

        Solved through the M x M normal equations (BᵀB) α = Bᵀw, whose pseudo-inverse also
        copes with bases that coincide; a dense kernel has millions of rows, which a direct
        least-squares solve would factor at every forward pass.
        """
        bases = tf.reshape(self.binary_bases(kernel), (-1, self.bases))
        target = tf.reshape(kernel, (-1, 1))
        gram = tf.matmul(bases, bases, transpose_a=True)
        return tf.reshape(tf.linalg.pinv(gram) @ tf.matmul(bases, target, transpose_a=True),
                          (self.bases,))

    def call(self, inputs):
        kernel = tf.stop_gradient(inputs)
        approximation = tf.reduce_sum(self.binary_bases(kernel) * self.coefficients(kernel),
                                      axis=-1)
        return inputs + tf.stop_gradient(approximation - inputs)

    def get_config(self):
        return {**super().get_config(), "bases": self.bases}


@tf.keras.utils.register_keras_serializable(package="utils")
class MultiBaseActivation(lq.quantizers.Quantizer):
    """Activations as N binary bases with learned shifts and coefficients (module docstring).

    Base j switches at x = 0.5 − vⱼ. The shifts start at 0.5 + 0.5·uⱼ (uⱼ as for the
    weights: 0.5 for one base), so that the switching points spread over [−0.5, 0.5] around
    zero, where batch-normalized inputs are, and the coefficients start at 1/N, so that the
    sum starts in [−1, 1]: one base starts as the sign itself.

    Args:
        bases: N, the number of binary bases (1 to 3).
    """

    def __init__(self, bases: int = 1, **kwargs):
        if not isinstance(bases, int) or not 1 <= bases <= 3:
            raise ValueError(f"bases must be an integer from 1 to 3, got {bases!r}")
        self.bases = bases
        self.precision = bases
        super().__init__(**kwargs)

    def build(self, input_shape):
        initial = [0.5 + 0.5 * shift for shift in weight_shifts(self.bases)]
        self.shifts = self.add_weight(name="shifts", shape=(self.bases,), trainable=True,
                                      initializer=tf.keras.initializers.Constant(initial))
        self.scales = self.add_weight(
            name="scales", shape=(self.bases,), trainable=True,
            initializer=tf.keras.initializers.Constant(1.0 / self.bases))
        super().build(input_shape)

    def call(self, inputs):
        total = 0.0
        for index in range(self.bases):
            soft = tf.clip_by_value(inputs + self.shifts[index], 0.0, 1.0)
            binary = soft + tf.stop_gradient(_sign(soft - 0.5) - soft)  # straight through
            total += self.scales[index] * binary
        return total

    def get_config(self):
        return {**super().get_config(), "bases": self.bases}


QuantizerFactory = Callable[[], object] | None


@dataclass(frozen=True)
class LayerQuantization:
    """How one layer quantizes its input and kernel.

    Factories (not instances) are stored so that every layer gets its own quantizer objects.
    """

    input_quantizer: QuantizerFactory = None
    kernel_quantizer: QuantizerFactory = None
    kernel_constraint: QuantizerFactory = None

    @property
    def is_quantized(self) -> bool:
        return self.input_quantizer is not None or self.kernel_quantizer is not None

    def layer_kwargs(self) -> dict:
        """Keyword arguments for a larq ``QuantConv2D``/``QuantDense``, with fresh objects."""
        return {
            "input_quantizer": _make(self.input_quantizer),
            "kernel_quantizer": _make(self.kernel_quantizer),
            "kernel_constraint": _make(self.kernel_constraint),
        }


def _make(factory: QuantizerFactory):
    return None if factory is None else factory()


@dataclass(frozen=True)
class PrecisionSpec:
    """Quantization settings of a whole network at one precision.

    Attributes:
        name: the precision name, e.g. "int8".
        bits: weight bit width used for reporting (1 binary, 2 ternary, 32 float).
        first, hidden, last: settings of the first, hidden and last layers.
        is_binary: True for sign-quantized hidden layers (padding with +1 applies).
        is_qat: True for "int8_qat": float layers here, which tfmot's quantization-aware
            training wraps once the float network is built (:mod:`utils.qat`).
        activation: "relu" or "hardtanh", the activation of float layers (k-bit layers have
            it in their input quantizer).
    """

    name: str
    bits: int
    first: LayerQuantization
    hidden: LayerQuantization
    last: LayerQuantization
    is_binary: bool = False
    is_qat: bool = False
    activation: str = "relu"

    @property
    def is_float(self) -> bool:
        return not (self.first.is_quantized or self.hidden.is_quantized or self.last.is_quantized)


def _hidden_settings(name: str, magnitude_aware: bool = False, activation_range: str = "fixed",
                     weight_range: str = "fixed", activation: str = "relu") -> LayerQuantization:
    if name == "binary":
        kernel = lq.quantizers.MagnitudeAwareSign if magnitude_aware else lq.quantizers.SteSign
        return LayerQuantization(
            input_quantizer=lambda: lq.quantizers.SteSign(),
            kernel_quantizer=lambda: kernel(),
            kernel_constraint=lambda: lq.constraints.WeightClip(1.0),
        )
    if name == "ternary":
        return LayerQuantization(
            input_quantizer=lambda: lq.quantizers.SteTern(),
            kernel_quantizer=lambda: lq.quantizers.SteTern(),
            kernel_constraint=lambda: lq.constraints.WeightClip(1.0),
        )
    if name.startswith("abc_"):
        weight_bases, activation_bases = multibase_bases(name)
        return LayerQuantization(
            input_quantizer=lambda: MultiBaseActivation(activation_bases),
            kernel_quantizer=lambda: MultiBaseWeights(weight_bases),
        )
    k = precision_bits(name)
    if activation == "hardtanh":  # Moons et al.: the symmetric grid of eq. 4.6 on [-1, 1)
        inputs = KBitQuantizer
    else:
        inputs = LearnedRangeReLU if activation_range == "learned" else QuantizedReLU
    kernel = PerChannelKBitQuantizer if weight_range == "per_channel" else KBitQuantizer
    return LayerQuantization(
        input_quantizer=lambda: inputs(k),
        kernel_quantizer=lambda: kernel(k),
        kernel_constraint=lambda: lq.constraints.WeightClip(1.0),
    )


def get_precision(
    name: str, *, quantize_first: bool = False, quantize_last: bool = False,
    magnitude_aware: bool = False, activation_range: str = "fixed", weight_range: str = "fixed",
    activation: str = "relu",
) -> PrecisionSpec:
    """Settings for precision ``name``; raises ValueError listing the accepted names.

    ``magnitude_aware`` (only with "binary") scales each sign-quantized kernel by its
    per-output-channel mean |w| (larq's ``MagnitudeAwareSign``; report §3.2, §7.1).
    ``activation_range`` and ``weight_range`` (only with "int<k>") replace the report's fixed
    ranges: "learned" activation ranges (:class:`LearnedRangeReLU`) and
    "per_channel" weight ranges (:class:`PerChannelKBitQuantizer`).
    ``activation`` "hardtanh" (fp32 and "int<k>") replaces ReLU by clip(x, -1, 1), on
    eq. 4.6's symmetric grid in k-bit layers (Moons et al.'s QNNs). "abc_w<M>a<N>" is ABC-Net's
    multi-base binarization (:class:`MultiBaseWeights`, :class:`MultiBaseActivation`).
    """
    check_precision(name)
    check_precision_options(name, quantize_first=quantize_first, quantize_last=quantize_last,
                            magnitude_aware_sign=magnitude_aware,
                            activation_range=activation_range, weight_range=weight_range,
                            activation=activation)
    if name in ("fp32", QAT_PRECISION):
        floating = LayerQuantization()
        return PrecisionSpec(name, precision_bits(name), floating, floating, floating,
                             is_qat=name == QAT_PRECISION, activation=activation)

    hidden = _hidden_settings(name, magnitude_aware, activation_range, weight_range, activation)
    first = hidden if quantize_first else LayerQuantization(
        kernel_quantizer=hidden.kernel_quantizer, kernel_constraint=hidden.kernel_constraint
    )
    last = hidden if quantize_last else LayerQuantization()
    return PrecisionSpec(name, precision_bits(name), first, hidden, last,
                         is_binary=name == "binary", activation=activation)


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


def _symmetric_clip(values: np.ndarray, bits: int, method: str, *, percentile: float = 99.99,
                    candidates: int = 100) -> float:
    """The clip T of a symmetric grid for ``values`` (the grid spans [−T, T]), by ``method``
    as :func:`calibrate` chooses an activation range: the largest |value|, a percentile of
    |value|, or the fraction of the largest that gives the smallest mean squared error."""
    magnitudes = np.abs(np.asarray(values, np.float64).ravel())
    top = float(magnitudes.max())
    if method == "minmax" or top == 0:
        return top
    if method == "percentile":
        return float(np.percentile(magnitudes, percentile))
    q_max = 2 ** (bits - 1) - 1

    def error(clip: float) -> float:
        step = clip / q_max
        return float(np.mean((np.clip(np.round(magnitudes / step), 0, q_max) * step
                              - magnitudes) ** 2))

    fractions = np.linspace(1.0 / candidates, 1.0, candidates)
    return top * float(fractions[int(np.argmin([error(top * f) for f in fractions]))])


def symmetric_scales(weights, bits: int = 8, *, per_channel: bool = True,
                     axis: int = -1, method: str = "minmax") -> AffineQuantization:
    """TFLite's weight scheme: Z = 0, narrow range, S = T / q_max per output channel
    (``axis``) or for the whole tensor, where T is max|w| (``method="minmax"``, what
    TFLite does) or a clip chosen by ``"percentile"`` or ``"mse"`` (see :func:`calibrate`)."""
    weights = np.asarray(weights, np.float64)
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"unknown method {method!r}; accepted: {', '.join(CALIBRATION_METHODS)}")
    if per_channel:
        channels = np.moveaxis(weights, axis, -1).reshape(-1, weights.shape[axis])
        max_abs = (np.max(np.abs(channels), axis=0) if method == "minmax"  # one vector op
                   else np.array([_symmetric_clip(channels[:, c], bits, method)
                                  for c in range(channels.shape[1])]))
    else:
        max_abs = np.asarray(_symmetric_clip(weights, bits, method))
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


def _hidden_relus(model: tf.keras.Model) -> list[tf.keras.layers.Layer]:
    """The ReLU layers whose outputs feed another quantized layer (all but the last)."""
    return [layer for layer in model.layers if isinstance(layer, tf.keras.layers.ReLU)][:-1]


def kernels(model: tf.keras.Model) -> dict[str, np.ndarray]:
    """Every convolution and dense kernel of a float network, by layer name (output channels
    on the last axis)."""
    return {layer.name: layer.kernel.numpy() for layer in model.layers
            if isinstance(layer, tf.keras.layers.Conv2D | tf.keras.layers.Dense)}


def relu_outputs(model: tf.keras.Model, images: np.ndarray) -> dict[str, np.ndarray]:
    """What every hidden ReLU of a float network outputs for ``images``, by layer name."""
    layers = _hidden_relus(model)
    outputs = tf.keras.Model(model.inputs, [layer.output for layer in layers]).predict(
        images, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return {layer.name: values for layer, values in zip(layers, outputs, strict=True)}


def activation_ranges(model: tf.keras.Model, images: np.ndarray, bits: int = 8,
                      method: str = "minmax") -> dict[str, tuple[float, float]]:
    """Calibrated [r_min, r_max] of every hidden ReLU's output on ``images``, by layer name."""
    return {name: calibrate(values, method, bits)
            for name, values in relu_outputs(model, images).items()}


def quantize_after_training(model: tf.keras.Model, bits: int, calibration_images: np.ndarray,
                            *, per_channel: bool = True, method: str = "minmax"
                            ) -> tf.keras.Model:
    """A copy of the trained float ``model`` with k-bit weights and activations (see the
    module docstring); ``model`` itself is left unchanged."""
    ranges = activation_ranges(model, calibration_images, bits, method)

    def clone(layer):
        if layer.name not in ranges:
            return layer.__class__.from_config(layer.get_config())
        low, high = ranges[layer.name]
        return tf.keras.layers.Lambda(
            lambda x, low=low, high=high: tf.quantization.fake_quant_with_min_max_vars(
                tf.nn.relu(x), low, high, num_bits=bits),
            name=layer.name)

    quantized = tf.keras.models.clone_model(model, clone_function=clone)
    quantized.set_weights(model.get_weights())
    kernels = [layer for layer in quantized.layers
               if isinstance(layer, tf.keras.layers.Conv2D | tf.keras.layers.Dense)]
    for layer in kernels[:-1]:  # the classifier stays float
        kernel = layer.kernel.numpy()
        grid = symmetric_scales(kernel, bits, per_channel=per_channel, method=method)
        layer.kernel.assign(grid.fake_quantize(kernel))
    return quantized


def ptq_table(model: tf.keras.Model, calibration_images: np.ndarray, test_images: np.ndarray,
              test_labels: np.ndarray, bits: Sequence[int] = (2, 4, 8),
              methods: Sequence[str] = ("minmax",)) -> pd.DataFrame:
    """Test accuracy of ``model`` quantized after training at each bit width, with
    per-tensor and per-channel weight scales and each calibration ``method`` (for the
    weights' clip and the activations' range alike), next to the float model's own.

    Rows: ``bits`` (32 for the float model), ``weight scales``, ``calibration``,
    ``test_accuracy``.
    """
    classes = np.argmax(test_labels, axis=-1)

    def accuracy(network) -> float:
        predictions = network.predict(test_images, verbose=0)
        return float(np.mean(np.argmax(predictions, axis=-1) == classes))

    rows = [{"bits": 32, "weight scales": "float", "calibration": "none",
             "test_accuracy": accuracy(model)}]
    for k in bits:
        for method in methods:
            for per_channel in (False, True):
                quantized = quantize_after_training(model, k, calibration_images,
                                                    per_channel=per_channel, method=method)
                rows.append({"bits": k, "weight scales": "per channel" if per_channel
                             else "per tensor", "calibration": method,
                             "test_accuracy": accuracy(quantized)})
    return pd.DataFrame(rows)
