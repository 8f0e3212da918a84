"""The small networks of notebook 02: the report's binary MLP (§5.5) and a LeNet-sized CNN.

Both are built by the same :class:`utils.blocks.LayerFactory` as AlexNet and GoogLeNet, so a
precision means exactly the same thing in all of them: float input and quantized kernel in
the first layer, quantized input and kernel in the hidden ones, a float softmax classifier.

- ``mlp``: flatten, three dense blocks of 512 units (at width 1.0), classifier. The report's
  MLP had three hidden layers and reached about 97% on the 60,000 MNIST digits in 5 epochs.
- ``small_cnn``: two unpadded 3x3 convolutions (32 and 64 filters), each followed by a 2x2
  max-pool, one dense block of 128 units and the classifier. Unpadded, so binary layers
  never see padding. Used for the bit-width sweep.
"""

from __future__ import annotations

import tensorflow as tf

from utils.blocks import LayerFactory, max_pool

__all__ = ["MLP_LAYERS", "MLP_UNITS", "CNN_FILTERS", "CNN_UNITS", "DEFAULT_DROPOUT",
           "build_mlp", "build_small_cnn"]

DEFAULT_DROPOUT = 0.0
MLP_LAYERS, MLP_UNITS = 3, 512
CNN_FILTERS, CNN_UNITS = (32, 64), 128


def build_mlp(inputs, layers: LayerFactory, num_classes: int, dropout: float):
    """Flatten, :data:`MLP_LAYERS` dense blocks, softmax (report §5.5)."""
    x = layers.flatten(inputs)
    for index in range(MLP_LAYERS):
        x = layers.dense(x, MLP_UNITS, role="first" if index == 0 else "hidden",
                         name=f"dense{index + 1}")
    return _head(x, layers, num_classes, dropout)


def build_small_cnn(inputs, layers: LayerFactory, num_classes: int, dropout: float):
    """Two 3x3 convolutions with 2x2 pools, one dense block, softmax."""
    x = inputs
    for index, (filters, role) in enumerate(zip(CNN_FILTERS, ("first", "hidden"), strict=True)):
        name = f"conv{index + 1}"
        x = layers.conv(x, filters, 3, padding="valid", role=role,
                        pool=max_pool(2, 2, name=f"{name}_pool"), name=name)
    x = layers.flatten(x)
    x = layers.dense(x, CNN_UNITS, name="dense1")
    return _head(x, layers, num_classes, dropout)


def _head(x, layers: LayerFactory, num_classes: int, dropout: float):
    if dropout:
        x = tf.keras.layers.Dropout(dropout, name="head_dropout")(x)
    return layers.classifier(x, num_classes)
