"""Custom Keras layers that the networks need and neither Keras nor larq provides.

:class:`DenseAsConv2D` is larq's ``QuantConv2D`` with a 1x1 kernel on a (1, 1, C) tensor:
the quantized networks' dense layers (report §5, App. A), kept as convolutions because LCE
bit-packs binary convolutions and not ``QuantDense``. Its forward pass is exactly
``QuantConv2D``'s, so converters see the same ``Conv2D`` op; only its gradient differs.

Why by hand: TensorFlow's CPU kernel for the input gradient of a convolution
(``Conv2DBackpropInput``) is pathologically slow on a 1x1 kernel over a 1x1 map, about 440 ms
for a batch of 128 through a 1024 -> 1024 layer on 2 cores, against 10 ms for the same
product as a matrix multiply. That one op made binary and 8-bit AlexNet train 6x slower than
the float net, whose dense layers are ``Dense``. The gradient here is the same product,
computed with ``tf.matmul``.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

__all__ = ["DenseAsConv2D", "pointwise_conv"]


@tf.custom_gradient
def pointwise_conv(inputs: tf.Tensor, kernel: tf.Tensor):
    """``tf.nn.conv2d`` of (N, H, W, C) ``inputs`` with a (1, 1, C, F) ``kernel``.

    The forward op is a plain VALID, stride-1 convolution; the gradients are the matrix
    products dL/dx = dL/dy · Kᵀ and dL/dK = xᵀ · dL/dy over the N·H·W positions.
    """
    outputs = tf.nn.conv2d(inputs, kernel, strides=1, padding="VALID")

    def gradient(upstream):
        channels_in, channels_out = tf.shape(kernel)[2], tf.shape(kernel)[3]
        flat_upstream = tf.reshape(upstream, (-1, channels_out))
        flat_inputs = tf.reshape(inputs, (-1, channels_in))
        matrix = tf.reshape(kernel, (channels_in, channels_out))
        d_inputs = tf.matmul(flat_upstream, matrix, transpose_b=True)
        d_kernel = tf.matmul(flat_inputs, flat_upstream, transpose_a=True)
        return tf.reshape(d_inputs, tf.shape(inputs)), tf.reshape(d_kernel, tf.shape(kernel))

    return outputs, gradient


@tf.keras.utils.register_keras_serializable(package="utils")
class DenseAsConv2D(lq.layers.QuantConv2D):
    """A quantized dense layer as a 1x1, stride-1, VALID ``QuantConv2D`` (fast gradient).

    Takes ``QuantConv2D``'s arguments except ``kernel_size``, ``strides`` and ``padding``,
    which are fixed; ``filters`` is the number of units.
    """

    def __init__(self, filters: int, **kwargs):
        for fixed in ("kernel_size", "strides", "padding"):
            kwargs.pop(fixed, None)
        super().__init__(filters, 1, strides=1, padding="valid", **kwargs)

    def convolution_op(self, inputs, kernel):
        return pointwise_conv(inputs, tf.convert_to_tensor(kernel))
