"""The layer factory every network of the course is built with (report §4.3, §5, §6).

:class:`LayerFactory` makes the blocks of AlexNet, GoogLeNet and the small networks of
notebook 02 for one precision (:mod:`utils.precision`) and one set of options. Float blocks are
plain Keras layers; quantized blocks are larq ``QuantConv2D`` layers followed by batch
normalization, as larq's model zoo places it. What makes the quantized networks trainable and
deployable (report §4.3, §7.1; larq and LCE practice):

- no ReLU before a sign quantizer: the next layer's ``input_quantizer`` is the activation;
- same-padded binary convolutions pad with +1 (``pad_values=1.0``), so the padded input is
  still in {-1, +1} and LCE can run the layer as one binary convolution;
- dense layers are 1x1 convolutions on a (1, 1, C) tensor (:class:`utils.layers.DenseAsConv2D`):
  LCE bit-packs binary convolutions but not ``QuantDense``. The "int8_qat" network does the
  same with plain 1x1 convolutions, because TFLite folds a batch normalization into the
  convolution before it but not into a fully connected layer, which would stay float;
- batch normalization follows the max-pool that follows a quantized convolution, and every
  pooling between blocks: a max over normalized values is mostly positive, so the next sign
  would see an almost constant input (found by measurement, see ``utils/nets/googlenet.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import larq as lq
import tensorflow as tf

from utils.layers import DenseAsConv2D
from utils.precision import LayerQuantization, PrecisionSpec

__all__ = ["LayerFactory", "max_pool"]


def max_pool(size=3, strides=2, padding="valid", name=None) -> tf.keras.layers.MaxPooling2D:
    """A max-pooling layer (AlexNet's overlapping 3x3/2 by default)."""
    return tf.keras.layers.MaxPooling2D(size, strides=strides, padding=padding, name=name)


@dataclass(frozen=True)
class LayerFactory:
    """Builds convolution, pooling, dense and classifier blocks at one precision.

    Attributes:
        spec: the precision's quantizer settings per layer role (first, hidden, last).
        width: multiplies every channel count and dense width (1.0 = the papers').
        batch_norm: batch normalization after every convolution and dense layer.
        bn_momentum: momentum of batch normalization's moving statistics.
        pad_value: what same-padded binary convolutions pad with (+1 by default).
        bn_after_pool: quantized blocks normalize after their max-pool (True) or before.
    """

    spec: PrecisionSpec
    width: float
    batch_norm: bool
    bn_momentum: float = 0.9
    pad_value: float = 1.0
    bn_after_pool: bool = True

    def channels(self, count: int) -> int:
        """``count`` scaled by the width, at least 1."""
        return max(1, round(count * self.width))

    def normalize(self, x, name: str):
        """Batch normalization (when on); without a learned scale before a sign (a positive
        scale never changes a sign)."""
        if not self.batch_norm:
            return x
        return tf.keras.layers.BatchNormalization(
            momentum=self.bn_momentum, scale=not self.spec.is_binary, name=f"{name}_bn",
        )(x)

    @staticmethod
    def quantized_arguments(settings: LayerQuantization, kernel: int, inputs: int,
                            outputs: int) -> dict:
        """``settings``' larq arguments, with a kernel initializer suited to a coarse grid.

        Glorot-uniform weights lie within sqrt(6 / (fan_in + fan_out)), about 0.07 for a
        3x3 layer of 64 channels: on the grid of a 2- or 4-bit quantizer (step 0.5 or 0.125,
        report eq. 4.6) most would round to 0 (those below half a step), and a layer of
        zeros passes neither signal nor gradient. Where the Glorot limit is below one step,
        the latent weights start uniform in [-step, step] instead, so that about half of them
        start on a non-zero level; for 8 bits and more (step 1/128 or finer) Glorot is kept.
        """
        arguments = settings.layer_kwargs()
        step = getattr(arguments.get("kernel_quantizer"), "step", None)
        glorot_limit = (6.0 / (kernel * kernel * (inputs + outputs))) ** 0.5
        if step is not None and glorot_limit < step:
            arguments["kernel_initializer"] = tf.keras.initializers.RandomUniform(-step, step)
        return arguments

    def conv(self, x, filters, kernel, *, strides=1, padding="same", role="hidden",
             pool=None, name: str):
        """Convolution (+ optional max-pool) with its normalization and activation.

        Float: conv -> [BN] -> ReLU (or hardtanh) -> [pool]. Quantized: conv -> [pool] ->
        [BN] (BN after the pool as in larq's zoo, or before it with ``bn_after_pool=False``);
        the activation lives in the next layer's input quantizer.
        """
        settings = getattr(self.spec, role)
        filters = self.channels(filters)
        if settings.is_quantized:
            extra = {}
            if padding == "same" and self.spec.is_binary and settings.input_quantizer:
                extra["pad_values"] = self.pad_value
            x = lq.layers.QuantConv2D(
                filters, kernel, strides=strides, padding=padding,
                use_bias=not self.batch_norm, name=name, **extra,
                **self.quantized_arguments(settings, kernel, x.shape[-1], filters),
            )(x)
            if pool and self.bn_after_pool:
                return self.normalize(pool(x), name)
            x = self.normalize(x, name)
            return pool(x) if pool else x
        x = tf.keras.layers.Conv2D(
            filters, kernel, strides=strides, padding=padding,
            use_bias=not self.batch_norm, name=name,
        )(x)
        x = self.normalize(x, name)
        x = self.activate(x, name)
        return pool(x) if pool else x

    def activate(self, x, name: str):
        """The float layers' activation: ReLU, or hardtanh = clip(x, -1, 1) (larq's)."""
        if self.spec.activation == "hardtanh":
            return tf.keras.layers.Activation(lq.activations.hard_tanh,
                                              name=f"{name}_hardtanh")(x)
        return tf.keras.layers.ReLU(name=f"{name}_relu")(x)

    def pool(self, x, size=3, strides=2, *, name: str):
        """Same-padded max-pool between blocks; in quantized nets followed by BN."""
        x = max_pool(size, strides, "same", name=name)(x)
        if self.spec.hidden.is_quantized:
            x = self.normalize(x, name)
        return x

    @property
    def dense_as_conv(self) -> bool:
        """Whether dense layers are 1x1 convolutions on (1, 1, C) tensors (see the module
        docstring): in every larq-quantized network and in the QAT network."""
        return self.spec.hidden.is_quantized or self.spec.is_qat

    def flatten(self, x, name: str = "flatten"):
        """Flatten for the dense layers, kept as a (1, 1, C) tensor when they are 1x1
        convolutions."""
        x = tf.keras.layers.Flatten(name=name)(x)
        if self.dense_as_conv:
            x = tf.keras.layers.Reshape((1, 1, x.shape[-1]), name="to_1x1")(x)
        return x

    def dense(self, x, units, *, role="hidden", name: str):
        """Fully connected layer. Quantized: a 1x1 conv on a (1, 1, C) tensor, kept 4-D.

        Float: Dense -> [BN] -> ReLU on a flat tensor (a 1x1 convolution in the QAT network).
        """
        settings = getattr(self.spec, role)
        units = self.channels(units)
        if settings.is_quantized:
            x = DenseAsConv2D(units, use_bias=not self.batch_norm, name=name,
                              **self.quantized_arguments(settings, 1, x.shape[-1], units))(x)
            return self.normalize(x, name)
        if self.dense_as_conv:
            x = tf.keras.layers.Conv2D(units, 1, use_bias=not self.batch_norm, name=name)(x)
        else:
            x = tf.keras.layers.Dense(units, use_bias=not self.batch_norm, name=name)(x)
        x = self.normalize(x, name)
        return self.activate(x, name)

    def classifier(self, x, num_classes: int):
        """Last layer and softmax. Float by default; quantized when ``quantize_last``."""
        settings = self.spec.last
        if settings.is_quantized:
            if len(x.shape) == 2:
                x = tf.keras.layers.Reshape((1, 1, x.shape[-1]), name="to_1x1")(x)
            x = DenseAsConv2D(num_classes, use_bias=not self.batch_norm, name="classifier",
                              **self.quantized_arguments(settings, 1, x.shape[-1],
                                                         num_classes))(x)
            x = self.normalize(x, "classifier")
            x = tf.keras.layers.Flatten(name="logits")(x)
            return tf.keras.layers.Softmax(name="softmax")(x)
        if len(x.shape) == 4:
            x = tf.keras.layers.Flatten(name="flatten_head")(x)
        return tf.keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
