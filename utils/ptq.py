"""Post-training quantization (PTQ) of a trained float network, simulated at any bit width.

The practitioner's first choice is between quantizing a trained float network as it is (PTQ,
what TFLite's converter does with calibration images) and training with the quantizers in
the loop (QAT: the report's k-bit networks, and the course's "int8_qat"). TFLite's integer
kernels only exist for 8 bits, so :func:`quantize_after_training` simulates PTQ at 2 to 16
bits in Keras, with the same two steps the converter takes:

1. **Weights.** Every convolution and dense kernel is rounded to a symmetric k-bit grid
   (zero point 0, narrow range), with one scale for the whole kernel or one per output
   channel (:func:`utils.affine.symmetric_scales`), before batch normalization is folded
   (which a per-channel scale absorbs exactly).
2. **Activations.** The range of every hidden ReLU's output is calibrated on training
   images (:func:`utils.affine.calibrate`), and the activation is rounded to k bits on that
   range, with TensorFlow's ``fake_quant_with_min_max_vars``.

It follows the course's precision map (report §4.3): the first layer's input (the image)
and the classifier stay float, so that PTQ at k bits compares like for like with the k-bit
networks of notebook 02's sweep.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import tensorflow as tf

from utils.affine import calibrate, symmetric_scales

__all__ = ["activation_ranges", "kernels", "ptq_table", "quantize_after_training",
           "relu_outputs"]


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
        grid = symmetric_scales(kernel, bits, per_channel=per_channel)
        layer.kernel.assign(grid.fake_quantize(kernel))
    return quantized


def ptq_table(model: tf.keras.Model, calibration_images: np.ndarray, test_images: np.ndarray,
              test_labels: np.ndarray, bits: Sequence[int] = (2, 4, 8)) -> pd.DataFrame:
    """Test accuracy of ``model`` quantized after training at each bit width, with
    per-tensor and per-channel weight scales, next to the float model's own.

    Rows: ``bits`` (32 for the float model), ``weight scales``, ``test_accuracy``.
    """
    classes = np.argmax(test_labels, axis=-1)

    def accuracy(network) -> float:
        predictions = network.predict(test_images, verbose=0)
        return float(np.mean(np.argmax(predictions, axis=-1) == classes))

    rows = [{"bits": 32, "weight scales": "float", "test_accuracy": accuracy(model)}]
    for k in bits:
        for per_channel in (False, True):
            quantized = quantize_after_training(model, k, calibration_images,
                                                per_channel=per_channel)
            rows.append({"bits": k, "weight scales": "per channel" if per_channel
                         else "per tensor", "test_accuracy": accuracy(quantized)})
    return pd.DataFrame(rows)
