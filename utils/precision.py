"""One map from a precision name to the quantizer settings of a network's layers.

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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import larq as lq

from utils.multibase import MultiBaseActivation, MultiBaseWeights
from utils.names import (
    ACCEPTED_PRECISIONS,
    ACTIVATION_RANGES,
    ACTIVATIONS,
    QAT_PRECISION,
    WEIGHT_RANGES,
    check_choice,
    check_precision,
    multibase_bases,
    precision_bits,
)
from utils.quantizers import (
    KBitQuantizer,
    LearnedRangeReLU,
    PerChannelKBitQuantizer,
    QuantizedReLU,
)

__all__ = [
    "ACCEPTED_PRECISIONS",
    "LayerQuantization",
    "PrecisionSpec",
    "get_precision",
]

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
    ranges: "learned" activation ranges (:class:`~utils.quantizers.LearnedRangeReLU`) and
    "per_channel" weight ranges (:class:`~utils.quantizers.PerChannelKBitQuantizer`).
    ``activation`` "hardtanh" (fp32 and "int<k>") replaces ReLU by clip(x, -1, 1), on
    eq. 4.6's symmetric grid in k-bit layers (Moons et al.'s QNNs). "abc_w<M>a<N>" is ABC-Net's
    multi-base binarization (:mod:`utils.multibase`).
    """
    check_precision(name)
    check_choice("activation", activation, ACTIVATIONS)
    is_kbit = name.startswith("int") and name != QAT_PRECISION
    if activation != "relu" and not (is_kbit or name == "fp32"):
        raise ValueError(f"activation {activation!r} applies to fp32 and int2..int16, "
                         f"not to {name!r}")
    check_choice("activation_range", activation_range, ACTIVATION_RANGES)
    check_choice("weight_range", weight_range, WEIGHT_RANGES)
    if (activation_range, weight_range) != ("fixed", "fixed") and not is_kbit or (
            activation_range == "learned" and activation != "relu"):
        raise ValueError(f"activation_range and weight_range choose the ranges of the k-bit "
                         f"precisions int2..int16 (a learned range: of ReLU), not of {name!r}")
    if magnitude_aware and name != "binary":
        raise ValueError(
            f"magnitude_aware scales sign-quantized kernels and needs precision 'binary', "
            f"got {name!r}"
        )
    if name in ("fp32", QAT_PRECISION):
        if quantize_first or quantize_last:
            raise ValueError(f"quantize_first and quantize_last apply to larq's precisions; "
                             f"{name!r} quantizes every layer or none")
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
