"""Moons et al.'s k-bit quantized network: three blocks A, B and C of sized convolutions.

The QNNs of "Minimum Energy Quantized Neural Networks" (Moons, Goetschalckx, Van Berckelaer and
Verhelst, Asilomar 2017; ``build_net.py`` of BertMoons/QuantizedNeuralNetworks-Lasagne-Theano)
are one template with the network's size as a parameter: block A, B and C each hold ``nl``
same-padded 3x3 convolutions of ``nf`` filters, every block ends in a 2x2 max-pool, and a
single dense layer classifies the last map. The paper sweeps the bit width together with
these sizes to find the network of least energy at a given accuracy.

Here the sizes are ``block_layers`` and ``block_filters`` (one value per block, A to C), the
bit width is the precision ("int4" = 4-bit weights and activations, "binary" = BinaryNet), and
the activation, ReLU or hardtanh (Moons et al.'s ``-nl`` flag), comes from the precision map
(:mod:`utils.precision`). The default, one layer of 64 filters per block, is the README's
4-bit CIFAR-10 example. ``width`` scales the filters as in every other network.
"""

from __future__ import annotations

import tensorflow as tf

from utils.blocks import LayerFactory, max_pool

__all__ = ["BLOCK_NAMES", "DEFAULT_BLOCK_FILTERS", "DEFAULT_BLOCK_LAYERS", "DEFAULT_DROPOUT",
           "build"]

DEFAULT_DROPOUT = 0.0  # Moons et al. use none
BLOCK_NAMES = ("A", "B", "C")
DEFAULT_BLOCK_LAYERS = (1, 1, 1)
DEFAULT_BLOCK_FILTERS = (64, 64, 64)


def build(inputs, layers: LayerFactory, num_classes: int, dropout: float, *,
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
