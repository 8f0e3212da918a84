"""DenseAsConv2D: same outputs and gradients as larq's QuantConv2D, saves, and converts."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import utils  # noqa: F401  (selects tf-keras)
from utils.deploy import convert_binary, count_lce_ops
from utils.environment import lce_available
from utils.nets import DenseAsConv2D, pointwise_conv


def _pair(**kwargs):
    """A DenseAsConv2D and a QuantConv2D(1x1) holding the same weights."""
    fast = DenseAsConv2D(6, **kwargs)
    plain = lq.layers.QuantConv2D(6, 1, **kwargs)
    inputs = tf.random.stateless_normal((4, 1, 1, 10), seed=(1, 2))
    fast(inputs), plain(inputs)
    plain.set_weights(fast.get_weights())
    return fast, plain, inputs


def _gradients(layer, inputs):
    inputs = tf.Variable(inputs)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.sin(layer(inputs)))
    return tape.gradient(loss, [inputs, *layer.trainable_variables])


@pytest.mark.parametrize("quantizers", [
    {},
    {"input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign",
     "kernel_constraint": "weight_clip"},
])
def test_outputs_and_gradients_match_quant_conv2d(quantizers):
    fast, plain, inputs = _pair(**quantizers)
    np.testing.assert_allclose(fast(inputs), plain(inputs), rtol=1e-5, atol=1e-5)
    for mine, reference in zip(_gradients(fast, inputs), _gradients(plain, inputs), strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=1e-5)


def test_pointwise_conv_gradient_on_larger_maps():
    inputs = tf.Variable(tf.random.stateless_normal((2, 3, 5, 4), seed=(3, 4)))
    kernel = tf.Variable(tf.random.stateless_normal((1, 1, 4, 7), seed=(5, 6)))
    results = []
    for convolve in (pointwise_conv,
                     lambda x, k: tf.nn.conv2d(x, k, strides=1, padding="VALID")):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(convolve(inputs, kernel)))
        results.append(tape.gradient(loss, [inputs, kernel]))
    for mine, reference in zip(*results, strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-5)


def test_fixed_arguments_and_serialization(tmp_path):
    inputs = tf.keras.Input((1, 1, 8))
    outputs = DenseAsConv2D(3, kernel_quantizer="ste_sign", input_quantizer="ste_sign")(inputs)
    model = tf.keras.Model(inputs, outputs)
    layer = model.layers[-1]
    assert layer.kernel_size == (1, 1) and layer.strides == (1, 1) and layer.padding == "valid"
    model.save(tmp_path / "m.keras")
    loaded = tf.keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[-1]) is DenseAsConv2D
    batch = np.random.default_rng(0).normal(size=(2, 1, 1, 8)).astype(np.float32)
    np.testing.assert_allclose(loaded(batch), model(batch))


@pytest.mark.skipif(not lce_available(), reason="larq-compute-engine not importable")
def test_binary_dense_as_conv_becomes_lce_binary_convolution():
    inputs = tf.keras.Input((1, 1, 64))
    outputs = DenseAsConv2D(32, input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                            use_bias=False)(inputs)
    outputs = tf.keras.layers.BatchNormalization()(outputs)
    ops = count_lce_ops(convert_binary(tf.keras.Model(inputs, outputs)))
    assert ops.get("LceBconv2d") == 1, ops
