"""The reference networks of the binary-network literature: LeNet5 and VGG-7.

Built from the same :class:`utils.blocks.LayerFactory` as every other network of the course, so
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
  3x3 convolution same-padded (binary ones pad with +1, see :mod:`utils.blocks`). RWTH's
  VGGNet7 has the same six convolutions but leaves the first one unpadded and has two
  1024-unit dense layers; RWTH reports 94.05% (float) and 89.85% (binary) on CIFAR-10.

Neither paper uses dropout, so the default rate is 0.
"""

from __future__ import annotations

import tensorflow as tf

from utils.blocks import LayerFactory, max_pool

__all__ = ["DEFAULT_DROPOUT", "LENET5_FILTERS", "LENET5_UNITS", "VGG7_STAGES", "VGG7_UNITS",
           "build_lenet5", "build_vgg7"]

DEFAULT_DROPOUT = 0.0
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
    return _head(x, layers, num_classes, dropout)


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
    return _head(x, layers, num_classes, dropout)


def _head(x, layers: LayerFactory, num_classes: int, dropout: float):
    if dropout:
        x = tf.keras.layers.Dropout(dropout, name="head_dropout")(x)
    return layers.classifier(x, num_classes)
