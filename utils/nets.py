"""The networks and the layer factory they are written with: the quantized layers, the
factory that gives every layer one precision's quantizers, and the architectures, each a
``build_<name>(inputs, layers, num_classes, dropout)`` function with its default dropout.
:func:`utils.models.build_model` is the public entry point.

Custom Keras layers that the networks need and neither Keras nor larq provides.
-------------------------------------------------------------------------------

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

The layer factory every network of the course is built with (report §4.3, §5, §6).
----------------------------------------------------------------------------------

:class:`LayerFactory` makes the blocks of AlexNet, GoogLeNet and the small networks of
notebook 02 for one precision (:mod:`utils.quantizers`) and one set of options. Float blocks are
plain Keras layers; quantized blocks are larq ``QuantConv2D`` layers followed by batch
normalization, as larq's model zoo places it. What makes the quantized networks trainable and
deployable (report §4.3, §7.1; larq and LCE practice):

- no ReLU before a sign quantizer: the next layer's ``input_quantizer`` is the activation;
- same-padded binary convolutions pad with +1 (``pad_values=1.0``), so the padded input is
  still in {-1, +1} and LCE can run the layer as one binary convolution;
- dense layers are 1x1 convolutions on a (1, 1, C) tensor (:class:`DenseAsConv2D`):
  LCE bit-packs binary convolutions but not ``QuantDense``. The "int8_qat" network does the
  same with plain 1x1 convolutions, because TFLite folds a batch normalization into the
  convolution before it but not into a fully connected layer, which would stay float;
- batch normalization follows the max-pool that follows a quantized convolution, and every
  pooling between blocks: a max over normalized values is mostly positive, so the next sign
  would see an almost constant input (found by measurement, see the GoogLeNet section below).

Canonical AlexNet (Krizhevsky et al. 2012; report §5, Appendix A).
------------------------------------------------------------------

Five convolutions (96@11x11 stride 4, 256@5x5, 384, 384 and 256@3x3), three overlapping 3x3/2
max-pools and three dense layers (4096, 4096, classes), dropout after the first dense layer.

Parameters at 227x227x3 with 2 classes (float, no batch norm): 58,289,538. The report's
143,233,410 cannot come from these layers. Its Table 5.1 does match our first convolution
exactly (105,415,200 float MACs = 55·55·11·11·3·96), but its 1-bit MAC count is 84,942,848
higher than the canonical one, which is what a first dense layer fed with about 29,954
features instead of 6·6·256 = 9,216 would add; the report does not list its layers, so we
keep the canonical network and explain the gap in notebook 03 and the report.

GoogLeNet (Inception v1, Szegedy et al. 2014) with one output, no auxiliary heads (report §6).
----------------------------------------------------------------------------------------------

A stem, nine inception blocks whose 1x1, 3x3, 5x5 and pooling branches are concatenated,
global average pooling, dropout 0.4 and one softmax output. Local response normalization is
left out: it has no parameters, and batch normalization supersedes it. At 224x224x3 with 2
classes the float network (no batch norm) has 5,975,602 parameters, exactly the report's
Table 4.1.

Found by measurement: in the quantized networks batch normalization follows every max-pool
(the stage pools and each block's pool branch, :meth:`LayerFactory.pool`).
Without it the sign after a max-pool saw an almost constant +1, and binary GoogLeNet reached
26.5% after 4 epochs against 79.4% with it (32 px, width 0.5, lr 1e-2).

The small networks of notebook 02: the report's binary MLP (§5.5) and a LeNet-sized CNN.
----------------------------------------------------------------------------------------

Both are built by the same :class:`LayerFactory` as AlexNet and GoogLeNet, so a
precision means exactly the same thing in all of them: float input and quantized kernel in
the first layer, quantized input and kernel in the hidden ones, a float softmax classifier.

- ``mlp``: flatten, three dense blocks of 512 units (at width 1.0), classifier. The report's
  MLP had three hidden layers and reached about 97% on the 60,000 MNIST digits in 5 epochs.
- ``small_cnn``: two unpadded 3x3 convolutions (32 and 64 filters), each followed by a 2x2
  max-pool, one dense block of 128 units and the classifier. Unpadded, so binary layers
  never see padding. Used for the bit-width sweep.

The reference networks of the binary-network literature: LeNet5 and VGG-7.
--------------------------------------------------------------------------

Built from the same :class:`LayerFactory` as every other network of the course, so
"binary" means the same here as in AlexNet: float image into the first layer's binary kernel,
signs between the hidden layers, a float softmax classifier.

- ``lenet5``: the LeNet5 of RWTH's efficient binary neural networks (Stadtmann, Latotzke and
  Gemmeke, ICMLA 2020; ``models/lenet.py`` of RWTH-IDS/efficient-binary-neural-networks):
  32 filters of 5x5 (same-padded), 2x2 max-pool, 64 filters of 5x5 (unpadded), 2x2 max-pool,
  a dense layer of 512 units and the classifier. On 28x28 digits the maps are 28, 14, 10 and
  5 pixels wide, so the dense layer sees 5·5·64 = 1,600 features, as in RWTH's network. Two
  differences: our images have three channels (mnist5k repeats the grey one), and ``width``
  scales the dense layer too, where RWTH's ``width_infl`` scales only the convolutions.
  RWTH reports 99.50% (float) and 99.16% (binary) on the 60,000 MNIST digits.
- ``vgg7``: VGG-7 as the ternary and binary papers use it on CIFAR-10 (Li and Liu's ternary
  weight networks, 2016): 2x(128C3)-MP2-2x(256C3)-MP2-2x(512C3)-MP2-1024FC-classifier, every
  3x3 convolution same-padded (binary ones pad with +1, see the layer factory above). RWTH's
  VGGNet7 has the same six convolutions but leaves the first one unpadded and has two
  1024-unit dense layers; RWTH reports 94.05% (float) and 89.85% (binary) on CIFAR-10.

Neither paper uses dropout, so the default rate is 0.

Moons et al.'s k-bit quantized network: three blocks A, B and C of sized convolutions.
--------------------------------------------------------------------------------------

The QNNs of "Minimum Energy Quantized Neural Networks" (Moons, Goetschalckx, Van Berckelaer and
Verhelst, Asilomar 2017; ``build_net.py`` of BertMoons/QuantizedNeuralNetworks-Lasagne-Theano)
are one template with the network's size as a parameter: block A, B and C each hold ``nl``
same-padded 3x3 convolutions of ``nf`` filters, every block ends in a 2x2 max-pool, and a
single dense layer classifies the last map. The paper sweeps the bit width together with
these sizes to find the network of least energy at a given accuracy.

Here the sizes are ``block_layers`` and ``block_filters`` (one value per block, A to C), the
bit width is the precision ("int4" = 4-bit weights and activations, "binary" = BinaryNet), and
the activation, ReLU or hardtanh (Moons et al.'s ``-nl`` flag), comes from the precision map
(:mod:`utils.quantizers`). The default, one layer of 64 filters per block, is the README's
4-bit CIFAR-10 example. ``width`` scales the filters as in every other network.
"""

from __future__ import annotations

from dataclasses import dataclass

import larq as lq
import tensorflow as tf

from utils.quantizers import LayerQuantization, PrecisionSpec

__all__ = ["ALEXNET_DROPOUT", "BLOCK_NAMES", "CNN_FILTERS", "CNN_UNITS", "DEFAULT_BLOCK_FILTERS",
           "DEFAULT_BLOCK_LAYERS", "DenseAsConv2D", "GOOGLENET_DROPOUT", "INCEPTION_BLOCKS",
           "LENET5_FILTERS", "LENET5_UNITS", "LayerFactory", "MLP_LAYERS", "MLP_UNITS",
           "QNN_DROPOUT", "REFERENCE_DROPOUT", "SMALL_DROPOUT", "VGG7_STAGES", "VGG7_UNITS",
           "build_alexnet", "build_googlenet", "build_lenet5", "build_mlp", "build_qnn",
           "build_small_cnn", "build_vgg7", "inception_block", "max_pool", "pointwise_conv"]

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


ALEXNET_DROPOUT = 0.5  # after the first dense layer, as in the paper and report §5.1


def build_alexnet(inputs, layers: LayerFactory, num_classes: int, dropout: float):
    """AlexNet's layers on ``inputs``; returns the softmax output."""
    x = layers.conv(inputs, 96, 11, strides=4, padding="valid", role="first",
                    pool=max_pool(name="pool1"), name="conv1")
    x = layers.conv(x, 256, 5, pool=max_pool(name="pool2"), name="conv2")
    x = layers.conv(x, 384, 3, name="conv3")
    x = layers.conv(x, 384, 3, name="conv4")
    x = layers.conv(x, 256, 3, pool=max_pool(name="pool5"), name="conv5")
    x = layers.flatten(x)
    x = layers.dense(x, 4096, name="fc6")
    if dropout:
        x = tf.keras.layers.Dropout(dropout, name="fc6_dropout")(x)
    x = layers.dense(x, 4096, name="fc7")
    return layers.classifier(x, num_classes)


GOOGLENET_DROPOUT = 0.4  # before the classifier, as in the paper

# Szegedy et al. 2014, Table 1: (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection).
INCEPTION_BLOCKS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def inception_block(x, layers: LayerFactory, block: str):
    """Inception block: 1x1, 1x1->3x3, 1x1->5x5 and pool->1x1 branches, concatenated."""
    c1, c3r, c3, c5r, c5, pool_proj = INCEPTION_BLOCKS[block]
    name = f"inception{block}"
    branch1 = layers.conv(x, c1, 1, name=f"{name}_1x1")
    branch3 = layers.conv(x, c3r, 1, name=f"{name}_3x3_reduce")
    branch3 = layers.conv(branch3, c3, 3, name=f"{name}_3x3")
    branch5 = layers.conv(x, c5r, 1, name=f"{name}_5x5_reduce")
    branch5 = layers.conv(branch5, c5, 5, name=f"{name}_5x5")
    branch_pool = layers.pool(x, 3, 1, name=f"{name}_pool")
    branch_pool = layers.conv(branch_pool, pool_proj, 1, name=f"{name}_pool_proj")
    return tf.keras.layers.Concatenate(name=f"{name}_concat")(
        [branch1, branch3, branch5, branch_pool]
    )


def build_googlenet(inputs, layers: LayerFactory, num_classes: int, dropout: float):
    """GoogLeNet's layers on ``inputs``; returns the softmax output."""
    x = layers.conv(inputs, 64, 7, strides=2, role="first",
                    pool=max_pool(3, 2, "same", name="stem_pool1"), name="stem_conv1")
    x = layers.conv(x, 64, 1, name="stem_conv2_reduce")
    x = layers.conv(x, 192, 3, pool=max_pool(3, 2, "same", name="stem_pool2"),
                    name="stem_conv2")
    for block in ("3a", "3b"):
        x = inception_block(x, layers, block)
    x = layers.pool(x, name="pool3")
    for block in ("4a", "4b", "4c", "4d", "4e"):
        x = inception_block(x, layers, block)
    x = layers.pool(x, name="pool4")
    for block in ("5a", "5b"):
        x = inception_block(x, layers, block)
    x = tf.keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    if dropout:
        x = tf.keras.layers.Dropout(dropout, name="head_dropout")(x)
    return layers.classifier(x, num_classes)


SMALL_DROPOUT = 0.0
MLP_LAYERS, MLP_UNITS = 3, 512
CNN_FILTERS, CNN_UNITS = (32, 64), 128


def build_mlp(inputs, layers: LayerFactory, num_classes: int, dropout: float):
    """Flatten, :data:`MLP_LAYERS` dense blocks, softmax (report §5.5)."""
    x = layers.flatten(inputs)
    for index in range(MLP_LAYERS):
        x = layers.dense(x, MLP_UNITS, role="first" if index == 0 else "hidden",
                         name=f"dense{index + 1}")
    return _small_head(x, layers, num_classes, dropout)


def build_small_cnn(inputs, layers: LayerFactory, num_classes: int, dropout: float):
    """Two 3x3 convolutions with 2x2 pools, one dense block, softmax."""
    x = inputs
    for index, (filters, role) in enumerate(zip(CNN_FILTERS, ("first", "hidden"), strict=True)):
        name = f"conv{index + 1}"
        x = layers.conv(x, filters, 3, padding="valid", role=role,
                        pool=max_pool(2, 2, name=f"{name}_pool"), name=name)
    x = layers.flatten(x)
    x = layers.dense(x, CNN_UNITS, name="dense1")
    return _small_head(x, layers, num_classes, dropout)


def _small_head(x, layers: LayerFactory, num_classes: int, dropout: float):
    if dropout:
        x = tf.keras.layers.Dropout(dropout, name="head_dropout")(x)
    return layers.classifier(x, num_classes)


REFERENCE_DROPOUT = 0.0
LENET5_FILTERS, LENET5_UNITS = (32, 64), 512
# (filters, convolutions) of each stage before a 2x2 max-pool
VGG7_STAGES, VGG7_UNITS = ((128, 2), (256, 2), (512, 2)), 1024


def build_lenet5(inputs, layers: LayerFactory, num_classes: int, dropout: float):
    """Two 5x5 convolutions with 2x2 pools, one dense block, softmax (RWTH's LeNet5)."""
    first, second = LENET5_FILTERS
    x = layers.conv(inputs, first, 5, padding="same", role="first",
                    pool=max_pool(2, 2, name="conv1_pool"), name="conv1")
    x = layers.conv(x, second, 5, padding="valid",
                    pool=max_pool(2, 2, name="conv2_pool"), name="conv2")
    x = layers.flatten(x)
    x = layers.dense(x, LENET5_UNITS, name="fc1")
    return _reference_head(x, layers, num_classes, dropout)


def build_vgg7(inputs, layers: LayerFactory, num_classes: int, dropout: float):
    """Three stages of two same-padded 3x3 convolutions, each stage ending in a 2x2 pool;
    one dense block, softmax (VGG-7)."""
    x, index = inputs, 0
    for stage, (filters, convolutions) in enumerate(VGG7_STAGES, start=1):
        for position in range(convolutions):
            index += 1
            last = position == convolutions - 1
            x = layers.conv(x, filters, 3, role="first" if index == 1 else "hidden",
                            pool=max_pool(2, 2, name=f"stage{stage}_pool") if last else None,
                            name=f"conv{index}")
    x = layers.flatten(x)
    x = layers.dense(x, VGG7_UNITS, name="fc1")
    return _reference_head(x, layers, num_classes, dropout)


def _reference_head(x, layers: LayerFactory, num_classes: int, dropout: float):
    if dropout:
        x = tf.keras.layers.Dropout(dropout, name="head_dropout")(x)
    return layers.classifier(x, num_classes)


QNN_DROPOUT = 0.0  # Moons et al. use none
BLOCK_NAMES = ("A", "B", "C")
DEFAULT_BLOCK_LAYERS = (1, 1, 1)
DEFAULT_BLOCK_FILTERS = (64, 64, 64)


def build_qnn(inputs, layers: LayerFactory, num_classes: int, dropout: float, *,
          block_layers=None, block_filters=None):
    """Blocks A, B and C (``block_layers[i]`` 3x3 convolutions of ``block_filters[i]``
    filters, then a 2x2 max-pool), softmax; None takes the default sizes."""
    block_layers = DEFAULT_BLOCK_LAYERS if block_layers is None else block_layers
    block_filters = DEFAULT_BLOCK_FILTERS if block_filters is None else block_filters
    x, first = inputs, True
    for block, count, filters in zip(BLOCK_NAMES, block_layers, block_filters, strict=True):
        for index in range(1, count + 1):
            pool = max_pool(2, 2, name=f"block{block}_pool") if index == count else None
            x = layers.conv(x, filters, 3, role="first" if first else "hidden", pool=pool,
                            name=f"block{block}_conv{index}")
            first = False
    x = layers.flatten(x)
    if dropout:
        x = tf.keras.layers.Dropout(dropout, name="head_dropout")(x)
    return layers.classifier(x, num_classes)
