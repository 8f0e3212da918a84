"""The field's 8-bit network: quantization-aware training with tensorflow-model-optimization.

The report's 8-bit networks (:class:`utils.quantizers.KBitQuantizer`, eq. 4.6) put weights on a
fixed grid in [-1, 1) and activations on a fixed grid in [0, 1). The "int8_qat" precision
instead trains the float network with the quantization that TFLite's integer kernels apply:
``tfmot.quantization.keras.quantize_model`` wraps every layer with fake quantization of the
default 8-bit scheme,

- weights: symmetric int8, r = S_c · q with q in [-127, 127], one scale per output channel
  for convolutions (S_c = max|w_c| / 127 of each channel, from the weights themselves) and
  one per tensor for ``Dense`` layers (tfmot's default 8-bit scheme);
- activations: affine int8 per tensor, r = S (q - Z) with q in [-128, 127], on a range
  [min, max] that is tracked, not learned: two non-trainable variables (starting at -6 and
  6) that follow each training batch's minimum and maximum as an exponential moving average
  (decay 0.999), with no gradient reaching them;
- a convolution followed by batch normalization (and ReLU) is quantized as one unit, as
  TFLite folds the normalization into the convolution's weights and bias when it converts.

Straight-through estimators carry the gradients through the rounding, as for every other
precision of the course. The trained network converts to a full-integer ``.tflite`` with no
calibration data (:func:`utils.deploy.convert_qat`): the ranges are in the model.

This module imports tensorflow-model-optimization, which is only needed here.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from utils.names import QAT_PRECISION

__all__ = ["is_qat_model", "network_variables", "qat_scope", "qat_summary", "quantize_network"]

WEIGHT_BITS = 8


def quantize_network(float_model: tf.keras.Model) -> tf.keras.Model:
    """``float_model`` with tfmot's default 8-bit quantization-aware training wrappers.

    The float model's layers are cloned (its own weights are left as they are); the result
    is uncompiled and named like the float model, with the QAT precision in place of fp32.
    """
    model = tfmot.quantization.keras.quantize_model(float_model)
    name = float_model.name.removesuffix("_fp32") + f"_{QAT_PRECISION}"
    return tf.keras.Model(model.inputs, model.outputs, name=name)


def is_qat_model(model: tf.keras.Model) -> bool:
    """Whether ``model`` holds tfmot quantization wrappers."""
    return any(isinstance(layer, tfmot.quantization.keras.QuantizeWrapperV2)
               for layer in model.layers)


def qat_scope():
    """The context in which saved QAT models load (tfmot's custom objects registered)."""
    return tfmot.quantization.keras.quantize_scope()


def _own_variables(layer) -> list[tf.Variable]:
    """The variables of a wrapper's float layer (the kernel of a quantized convolution is
    moved into the wrapper), without tfmot's ranges and step counter, which the wrapper
    creates in its own name scope ("quant_<layer>/...")."""
    return [weight for weight in layer.weights if not weight.name.startswith(f"{layer.name}/")]


def network_variables(model: tf.keras.Model) -> list[tf.Variable]:
    """The network's own parameters in a QAT model, without tfmot's quantization state."""
    return [weight for layer in model.layers
            if isinstance(layer, tfmot.quantization.keras.QuantizeWrapper)
            for weight in _own_variables(layer)]


def _parameter_counts(layer) -> tuple[int, int]:
    """(parameters, trainable parameters) of one layer of a QAT model, counted as larq does:
    a batch normalization by larq's own rule (two numbers per channel, its folded scale and
    offset). Outside the wrappers a QAT model holds only tfmot's input range."""
    if not isinstance(layer, tfmot.quantization.keras.QuantizeWrapper):
        return 0, 0
    if isinstance(layer.layer, tf.keras.layers.BatchNormalization):
        profile = lq.models.LayerProfile(layer.layer)
        return profile.weight_count(), profile.weight_count(trainable=True)
    own = _own_variables(layer)
    return (sum(weight.shape.num_elements() for weight in own),
            sum(weight.shape.num_elements() for weight in own if weight.trainable))


def qat_summary(model: tf.keras.Model) -> dict[str, float]:
    """larq-style size and MAC figures of a QAT network (same keys as
    :func:`utils.models.summary_figures`).

    larq's summary cannot see tfmot's quantizers (its profile of a QAT model counts every
    weight at 32 bits), so they are counted here from the wrapped layers: every convolution
    and dense kernel at 8 bits (how TFLite stores them), every other parameter (biases,
    batch normalization) at 32 bits, tfmot's range variables not at all, and every
    multiply-accumulate of a convolution or dense layer as an 8-bit one, since both its
    operands are int8 in the converted file.
    """
    total = trainable = kernels = macs = 0
    for layer in model.layers:
        count, trainable_count = _parameter_counts(layer)
        total, trainable = total + count, trainable + trainable_count
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, tf.keras.layers.Conv2D | tf.keras.layers.Dense):
            kernel = inner.kernel.shape
            kernels += kernel.num_elements()
            outputs = 1
            for size in layer.output_shape[1:]:
                outputs *= size
            macs += outputs * kernel.num_elements() // kernel[-1]
    mib = 8 * 1024 * 1024
    memory = (WEIGHT_BITS * kernels + 32 * (total - kernels)) / mib
    return {
        "params_total": total,
        "params_trainable": trainable,
        "params_non_trainable": total - trainable,
        f"params_{WEIGHT_BITS}bit": kernels,
        "params_32bit": total - kernels,
        "memory_mib": memory,
        "memory_fp32_equivalent_mib": 32 * total / mib,
        "compression_ratio": 32 * total / mib / memory,
        "macs_total": macs,
        f"macs_{WEIGHT_BITS}bit": macs,
    }
