"""The quantizers larq does not ship: k-bit (report eq. 4.6/4.7), symmetric with a clipping
threshold (eqs. 3.1-3.4) and a quantized ReLU for k-bit hidden layers (report §4.4), and
the two range choices that separate the report's 8-bit networks from the field's: a ReLU
whose clipping range is learned (PACT) and a k-bit weight grid scaled per output channel.

Binary and ternary quantizers come from larq (``ste_sign``, ``ste_tern``, ``weight_clip``)
and are not rewritten here. Every class below is a ``larq.quantizers.Quantizer``, so it can
be passed as ``input_quantizer`` or ``kernel_quantizer`` to any larq layer, and it carries a
``precision`` attribute that ``lq.models.summary`` uses to count k-bit parameters and MACs.

Rounding: ``tf.round`` rounds half-way values to the nearest even integer (IEEE 754
round-half-to-even), e.g. round(0.5) = 0 and round(1.5) = 2. Equations 3.1 and 4.6 only say
"round"; half-to-even is the default of TensorFlow and NumPy and, unlike half-away-from-zero,
adds no bias to the quantization error on average.
"""

from __future__ import annotations

import larq as lq
import numpy as np
import tensorflow as tf

from utils.names import MAX_BITS, MIN_BITS

__all__ = [
    "KBitQuantizer",
    "LearnedRangeReLU",
    "PerChannelKBitQuantizer",
    "QuantizedReLU",
    "SymmetricQuantizer",
    "symmetric_levels",
    "asymmetric_levels",
    "quantize_to_integers",
]


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
