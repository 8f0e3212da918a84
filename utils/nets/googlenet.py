"""GoogLeNet (Inception v1, Szegedy et al. 2014) with one output, no auxiliary heads (report §6).

A stem, nine inception blocks whose 1x1, 3x3, 5x5 and pooling branches are concatenated,
global average pooling, dropout 0.4 and one softmax output. Local response normalization is
left out: it has no parameters, and batch normalization supersedes it. At 224x224x3 with 2
classes the float network (no batch norm) has 5,975,602 parameters, exactly the report's
Table 4.1.

Found by measurement: in the quantized networks batch normalization follows every max-pool
(the stage pools and each block's pool branch, :meth:`utils.blocks.LayerFactory.pool`).
Without it the sign after a max-pool saw an almost constant +1, and binary GoogLeNet reached
26.5% after 4 epochs against 79.4% with it (32 px, width 0.5, lr 1e-2).
"""

from __future__ import annotations

import tensorflow as tf

from utils.blocks import LayerFactory, max_pool

__all__ = ["DEFAULT_DROPOUT", "INCEPTION_BLOCKS", "build", "inception_block"]

DEFAULT_DROPOUT = 0.4  # before the classifier, as in the paper

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


def build(inputs, layers: LayerFactory, num_classes: int, dropout: float):
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
