"""AlexNet and GoogLeNet at every precision of the precision map (report §5, §6, App. A/B).

``build_model(name, precision, input_shape, num_classes, width=1.0, **options)`` returns an
uncompiled ``tf.keras.Model``. The float networks use plain Keras layers; every quantized
layer is a larq ``QuantConv2D`` configured by :mod:`utils.precision`, followed by batch
normalization as larq's model zoo places it (after the pooling that follows a convolution).

What makes the binary networks trainable and deployable (report §4.3, §7.1; larq and LCE
practice):

- no ReLU before a sign quantizer: the next layer's ``input_quantizer`` is the activation;
- same-padded binary convolutions pad with +1 (``pad_values=1.0``), so the padded input is
  still in {-1, +1} and LCE can run it as a binary convolution;
- dense layers are 1x1 ``QuantConv2D`` on a (1, 1, C) tensor (:class:`utils.layers.DenseAsConv2D`,
  which only computes its gradient faster): LCE bit-packs binary convolutions but not
  ``QuantDense``.

Parameter counts (float, no batch norm, 2 classes):

- GoogLeNet at 224x224x3: 5,975,602, exactly the report's Table 4.1 (Inception v1 without
  auxiliary heads, with biases; local response normalization is left out: it has no
  parameters and batch normalization supersedes it).
- AlexNet at 227x227x3: 58,289,538 for the canonical single-tower network of Krizhevsky et
  al. (conv 96-256-384-384-256, 3x3/2 max-pools, 9,216 features into dense 4096-4096-2).
  The report's 143,233,410 cannot come from these layers. Its Table 5.1 does match our
  first convolution exactly (105,415,200 float MACs = 55·55·11·11·3·96), but its 1-bit MAC
  count is 84,942,848 higher than the canonical one, which is what a first dense layer fed
  with about 29,954 features instead of 6·6·256 = 9,216 would add; the report does not list
  its layers, so we keep the canonical network and explain the gap in the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import larq as lq
import pandas as pd
import tensorflow as tf

from utils.autograph import skip_tf_keras_conversion
from utils.layers import DenseAsConv2D
from utils.precision import LayerQuantization, PrecisionSpec, get_precision

__all__ = [
    "MODEL_NAMES",
    "MIN_INPUT_SIZE",
    "build_model",
    "summary_figures",
    "summary_table",
]

skip_tf_keras_conversion()

MODEL_NAMES = ("alexnet", "googlenet")

# Smallest square input each network admits.
# AlexNet: conv1 (11x11/4, valid) then three valid 3x3/2 max-pools; the last pool needs a 3x3
# map, so the second needs 7x7, the first 15x15, and conv1 11 + 4·14 = 67 pixels.
# GoogLeNet: every layer is same-padded, so any size runs; below its total stride of 32 the
# last inception stage sees less than one input pixel per cell, so 32 is the floor we admit.
MIN_INPUT_SIZE = {"alexnet": 67, "googlenet": 32}

# Inception v1 blocks (Szegedy et al. 2014, Table 1):
# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection)
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


@dataclass(frozen=True)
class _LayerFactory:
    """Builds convolution and dense blocks for one precision and set of options."""

    spec: PrecisionSpec
    width: float
    batch_norm: bool
    bn_momentum: float
    pad_value: float
    bn_after_pool: bool

    def channels(self, count: int) -> int:
        return max(1, round(count * self.width))

    def _role(self, role: str) -> LayerQuantization:
        return getattr(self.spec, role)

    def _normalize(self, x, name: str):
        if not self.batch_norm:
            return x
        return tf.keras.layers.BatchNormalization(
            momentum=self.bn_momentum, scale=False if self.spec.is_binary else True,
            name=f"{name}_bn",
        )(x)

    @staticmethod
    def _quantized_kwargs(settings: LayerQuantization, kernel: int, inputs: int,
                          outputs: int) -> dict:
        """``settings``' larq arguments, with a kernel initializer suited to a coarse grid.

        Glorot-uniform weights lie within sqrt(6 / (fan_in + fan_out)), about 0.07 for a
        3x3 layer of 64 channels: on the grid of a 2- or 4-bit quantizer (step 0.5 or 0.125,
        report eq. 4.6) they would all round to 0, and a layer of zeros passes neither signal
        nor gradient. Where the Glorot limit is below one step, the latent weights start
        uniform in [-step, step] instead, so that about half of them start on a non-zero
        level; for 8 bits and more (step 1/128 or finer) Glorot is kept.
        """
        kwargs = settings.layer_kwargs()
        step = getattr(kwargs.get("kernel_quantizer"), "step", None)
        glorot_limit = (6.0 / (kernel * kernel * (inputs + outputs))) ** 0.5
        if step is not None and glorot_limit < step:
            kwargs["kernel_initializer"] = tf.keras.initializers.RandomUniform(-step, step)
        return kwargs

    def conv(self, x, filters, kernel, *, strides=1, padding="same", role="hidden",
             pool=None, name: str):
        """Convolution (+ optional 3x3/2 max-pool) with its normalization and activation.

        Float: conv -> [BN] -> ReLU -> [pool]. Quantized: conv -> [pool] -> [BN] (BN after
        the pool as in larq's zoo, or before it with ``bn_after_pool=False``); the ReLU or
        sign lives in the next layer's input quantizer.
        """
        settings = self._role(role)
        filters = self.channels(filters)
        if settings.is_quantized:
            extra = {}
            if padding == "same" and self.spec.is_binary and settings.input_quantizer:
                extra["pad_values"] = self.pad_value
            x = lq.layers.QuantConv2D(
                filters, kernel, strides=strides, padding=padding,
                use_bias=not self.batch_norm, name=name, **extra,
                **self._quantized_kwargs(settings, kernel, x.shape[-1], filters),
            )(x)
            if pool and self.bn_after_pool:
                x = pool(x)
                return self._normalize(x, name)
            x = self._normalize(x, name)
            return pool(x) if pool else x
        x = tf.keras.layers.Conv2D(
            filters, kernel, strides=strides, padding=padding,
            use_bias=not self.batch_norm, name=name,
        )(x)
        x = self._normalize(x, name)
        x = tf.keras.layers.ReLU(name=f"{name}_relu")(x)
        return pool(x) if pool else x

    def pool(self, x, size=3, strides=2, *, name: str):
        """Same-padded max-pool between blocks; in quantized nets followed by BN.

        A max over a window of batch-normalized values is mostly positive, so the next
        layer's sign (or quantized ReLU) would see a biased, almost constant input;
        normalizing after the pool recentres it, as larq's zoo does after every pool.
        """
        x = _max_pool(size, strides, "same", name=name)(x)
        if self.spec.hidden.is_quantized:
            x = self._normalize(x, name)
        return x

    def dense(self, x, units, *, role="hidden", name: str):
        """Fully connected layer. Quantized: a 1x1 conv on a (1, 1, C) tensor, kept 4-D.

        Float: Dense -> [BN] -> ReLU on a flat tensor.
        """
        settings = self._role(role)
        units = self.channels(units)
        if settings.is_quantized:
            x = DenseAsConv2D(units, use_bias=not self.batch_norm, name=name,
                              **self._quantized_kwargs(settings, 1, x.shape[-1], units))(x)
            return self._normalize(x, name)
        x = tf.keras.layers.Dense(units, use_bias=not self.batch_norm, name=name)(x)
        x = self._normalize(x, name)
        return tf.keras.layers.ReLU(name=f"{name}_relu")(x)

    def classifier(self, x, num_classes: int):
        """Last layer and softmax. Float by default; quantized when ``quantize_last``."""
        settings = self._role("last")
        if settings.is_quantized:
            if len(x.shape) == 2:
                x = tf.keras.layers.Reshape((1, 1, x.shape[-1]), name="to_1x1")(x)
            x = DenseAsConv2D(num_classes, use_bias=not self.batch_norm, name="classifier",
                              **self._quantized_kwargs(settings, 1, x.shape[-1],
                                                       num_classes))(x)
            x = self._normalize(x, "classifier")
            x = tf.keras.layers.Flatten(name="logits")(x)
            return tf.keras.layers.Softmax(name="softmax")(x)
        if len(x.shape) == 4:
            x = tf.keras.layers.Flatten(name="flatten_head")(x)
        return tf.keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)


def _max_pool(size=3, strides=2, padding="valid", name=None):
    return tf.keras.layers.MaxPooling2D(size, strides=strides, padding=padding, name=name)


def _alexnet(inputs, layers: _LayerFactory, num_classes: int, dropout: float):
    """Canonical AlexNet (Krizhevsky et al. 2012; report §5, Appendix A)."""
    x = layers.conv(inputs, 96, 11, strides=4, padding="valid", role="first",
                    pool=_max_pool(name="pool1"), name="conv1")
    x = layers.conv(x, 256, 5, pool=_max_pool(name="pool2"), name="conv2")
    x = layers.conv(x, 384, 3, name="conv3")
    x = layers.conv(x, 384, 3, name="conv4")
    x = layers.conv(x, 256, 3, pool=_max_pool(name="pool5"), name="conv5")
    x = tf.keras.layers.Flatten(name="flatten")(x)
    if layers.spec.hidden.is_quantized:
        x = tf.keras.layers.Reshape((1, 1, x.shape[-1]), name="to_1x1")(x)
    x = layers.dense(x, 4096, name="fc6")
    if dropout:
        x = tf.keras.layers.Dropout(dropout, name="fc6_dropout")(x)
    x = layers.dense(x, 4096, name="fc7")
    return layers.classifier(x, num_classes)


def _inception(x, layers: _LayerFactory, block: str):
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


def _googlenet(inputs, layers: _LayerFactory, num_classes: int, dropout: float):
    """Inception v1 (Szegedy et al. 2014) with one output, no auxiliary heads (report §6)."""
    x = layers.conv(inputs, 64, 7, strides=2, role="first",
                    pool=_max_pool(3, 2, "same", name="stem_pool1"), name="stem_conv1")
    x = layers.conv(x, 64, 1, name="stem_conv2_reduce")
    x = layers.conv(x, 192, 3, pool=_max_pool(3, 2, "same", name="stem_pool2"),
                    name="stem_conv2")
    for block in ("3a", "3b"):
        x = _inception(x, layers, block)
    x = layers.pool(x, name="pool3")
    for block in ("4a", "4b", "4c", "4d", "4e"):
        x = _inception(x, layers, block)
    x = layers.pool(x, name="pool4")
    for block in ("5a", "5b"):
        x = _inception(x, layers, block)
    x = tf.keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    if dropout:
        x = tf.keras.layers.Dropout(dropout, name="head_dropout")(x)
    return layers.classifier(x, num_classes)


_ARCHITECTURES = {"alexnet": (_alexnet, 0.5), "googlenet": (_googlenet, 0.4)}


def _check_arguments(name, input_shape, num_classes, width):
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; accepted: {', '.join(MODEL_NAMES)}")
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    height, width_px, channels = input_shape
    minimum = MIN_INPUT_SIZE[name]
    if min(height, width_px) < minimum:
        raise ValueError(
            f"{name} needs inputs of at least {minimum}x{minimum} pixels, got "
            f"{height}x{width_px}; resize the images to {minimum} or more"
        )
    if channels < 1:
        raise ValueError(f"input_shape needs at least one channel, got {input_shape!r}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if not width > 0:
        raise ValueError(f"width must be positive (1.0 = the paper's channels), got {width!r}")


def build_model(
    name: str,
    precision: str,
    input_shape,
    num_classes: int,
    width: float = 1.0,
    *,
    batch_norm: bool | None = None,
    bn_momentum: float = 0.9,
    dropout: float | None = None,
    quantize_first: bool = False,
    quantize_last: bool = False,
    pad_value: float = 1.0,
    bn_after_pool: bool = True,
    magnitude_aware_sign: bool = False,
) -> tf.keras.Model:
    """Build AlexNet or GoogLeNet at a precision of :func:`utils.precision.get_precision`.

    Args:
        name: "alexnet" or "googlenet".
        precision: "fp32", "binary", "ternary" or "int2".."int16" ("int8" = 8-bit).
        input_shape: (height, width, channels), at least ``MIN_INPUT_SIZE[name]`` pixels.
        num_classes: number of output classes (softmax).
        width: multiplies every channel count and dense width (1.0 = the papers').
        batch_norm: batch normalization after every conv/dense layer; default on for
            reduced precision, off for "fp32" (pass True for a like-for-like float net).
        bn_momentum: momentum of the moving statistics.
        dropout: rate after AlexNet's first dense layer (report §5.1, default 0.5) or before
            GoogLeNet's classifier (default 0.4); 0 disables it.
        quantize_first, quantize_last: quantize the first/last layer like the hidden ones
            (report §5.1 experiment).
        pad_value: value that binary same-padded convolutions pad with (1.0, or 0.0 for the
            padding ablation).
        bn_after_pool: in quantized nets, normalize after the max-pool (larq zoo) or before.
        magnitude_aware_sign: binary only; sign-quantized kernels times their per-channel
            mean |w| (larq's ``MagnitudeAwareSign``, the gain term of report §3.2, §7.1).

    Returns:
        An uncompiled ``tf.keras.Model`` named ``f"{name}_{precision}"``.
    """
    _check_arguments(name, input_shape, num_classes, width)
    spec = get_precision(precision, quantize_first=quantize_first, quantize_last=quantize_last,
                         magnitude_aware=magnitude_aware_sign)
    architecture, default_dropout = _ARCHITECTURES[name]
    layers = _LayerFactory(
        spec=spec,
        width=width,
        batch_norm=(not spec.is_float) if batch_norm is None else batch_norm,
        bn_momentum=bn_momentum,
        pad_value=pad_value,
        bn_after_pool=bn_after_pool,
    )
    inputs = tf.keras.Input(shape=tuple(input_shape), name="image")
    outputs = architecture(inputs, layers, num_classes,
                           default_dropout if dropout is None else dropout)
    return tf.keras.Model(inputs, outputs, name=f"{name}_{precision}")


def summary_figures(model: tf.keras.Model) -> dict[str, float]:
    """larq's model summary as numbers (the figures of report Tables 5.1 and 6.1).

    Keys: total/trainable/non-trainable parameters, parameters per bit width
    ("params_1bit", "params_32bit", ...), memory and its float-32 equivalent in MiB, the
    compression ratio, total MACs and MACs per precision ("macs_1bit", ...).
    """
    profile = lq.models.ModelProfile(model)
    mib = 8 * 1024 * 1024
    figures = {
        "params_total": profile.weight_count(),
        "params_trainable": profile.weight_count(trainable=True),
        "params_non_trainable": profile.weight_count(trainable=False),
    }
    for bits in profile.unique_param_bidtwidths:
        figures[f"params_{bits}bit"] = profile.weight_count(bitwidth=bits)
    figures["memory_mib"] = profile.memory / mib
    figures["memory_fp32_equivalent_mib"] = profile.fp_equivalent_memory / mib
    figures["compression_ratio"] = profile.fp_equivalent_memory / max(1, profile.memory)
    figures["macs_total"] = profile.op_count("mac")
    for bits in profile.unique_op_precisions:
        figures[f"macs_{bits}bit"] = profile.op_count("mac", bits)
    return figures


def summary_table(model: tf.keras.Model) -> pd.DataFrame:
    """larq's summary of ``model`` as a one-column DataFrame indexed by figure name.

    Concatenate several with ``pd.concat([...], axis=1)`` to compare models side by side.
    """
    figures = summary_figures(model)
    return pd.DataFrame({model.name: pd.Series(figures, dtype="float64")})
