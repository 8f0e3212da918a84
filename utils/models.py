"""Building networks by name and precision (:func:`build_model`, the public entry point),
saving and loading them, and their summaries; on import, AutoGraph is kept away from tf_keras.

Every network of the course at every precision: :func:`build_model` and larq's summary.
---------------------------------------------------------------------------------------

``build_model(name, precision, input_shape, num_classes, width=1.0, **options)`` returns an
uncompiled ``tf.keras.Model``. The architectures live in :mod:`utils.nets` (AlexNet, report §5;
GoogLeNet, §6; the small networks of notebook 02; the related systems' LeNet5, VGG-7 and k-bit
QNN), and all of them are built by one :class:`utils.nets.LayerFactory`, configured here for
the precision (:mod:`utils.quantizers`) and the options.

Keep AutoGraph away from tf_keras' own code (a start-up cost, not a behaviour change).
--------------------------------------------------------------------------------------

TensorFlow 2.16's AutoGraph skips modules named "tensorflow" and "keras" but not "tf_keras",
so in Keras 2 mode every process spent about 30 s of its first ``fit()`` rewriting tf_keras'
training loop. No public API adds a module to the skip list, hence the private config.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import nullcontext
from pathlib import Path

import larq as lq
import pandas as pd
import tensorflow as tf
from tensorflow.python.autograph.core import config as _autograph_config

from utils import nets
from utils.config import check_model_options, model_option_defaults
from utils.names import MIN_INPUT_SIZE, MODEL_NAMES, check_block_sizes, check_choice
from utils.nets import LayerFactory
from utils.quantizers import get_precision

__all__ = ["MIN_INPUT_SIZE", "MODEL_NAMES", "build_model", "layer_table", "load_model",
           "save_model", "skip_tf_keras_conversion", "summary_figures", "summary_table"]

def skip_tf_keras_conversion() -> None:
    """Add a DoNotConvert rule for tf_keras (idempotent)."""
    rules = _autograph_config.CONVERSION_RULES
    if not any(str(rule) == "DoNotConvert rule for tf_keras" for rule in rules):
        _autograph_config.CONVERSION_RULES = (_autograph_config.DoNotConvert("tf_keras"), *rules)


skip_tf_keras_conversion()

# name -> (function that builds the layers, its default dropout)
ARCHITECTURES = {
    "alexnet": (nets.build_alexnet, nets.ALEXNET_DROPOUT),
    "googlenet": (nets.build_googlenet, nets.GOOGLENET_DROPOUT),
    "mlp": (nets.build_mlp, nets.SMALL_DROPOUT),
    "small_cnn": (nets.build_small_cnn, nets.SMALL_DROPOUT),
    "lenet5": (nets.build_lenet5, nets.REFERENCE_DROPOUT),
    "vgg7": (nets.build_vgg7, nets.REFERENCE_DROPOUT),
    "qnn": (nets.build_qnn, nets.QNN_DROPOUT),
}
# Options that only some architectures take, passed on to their build function.
ARCHITECTURE_OPTIONS = {"qnn": ("block_layers", "block_filters")}


def _check_arguments(name, input_shape, num_classes, width):
    check_choice("model", name, MODEL_NAMES)
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


def _architecture_options(name: str, options: dict) -> dict:
    """The options of ``options`` that are set, checked against what ``name`` accepts."""
    accepted = ARCHITECTURE_OPTIONS.get(name, ())
    given = {option: value for option, value in options.items() if value is not None}
    refused = sorted(set(given) - set(accepted))
    if refused:
        owners = sorted(model for model, names in ARCHITECTURE_OPTIONS.items()
                        if set(refused) & set(names))
        raise ValueError(f"{' and '.join(refused)} only apply to {' and '.join(map(repr, owners))}"
                         f", not to {name!r}; leave them unset (None)")
    return {option: check_block_sizes(option, value) for option, value in given.items()}


def build_model(name: str, precision: str, input_shape, num_classes: int, width: float = 1.0,
                **options) -> tf.keras.Model:
    """Build a network of :data:`MODEL_NAMES` at a precision of :mod:`utils.quantizers`.

    Args:
        name: "alexnet", "googlenet", the small "mlp" and "small_cnn" of notebook 02, or the
            related systems' "lenet5", "vgg7" and "qnn" (:mod:`utils.nets`).
        precision: "fp32", "binary", "ternary", "int2".."int16" ("int8" = the report's 8-bit
            network), "int8_qat" (the float network with tfmot's quantization-aware
            training, :mod:`utils.qat`) or "abc_w<M>a<N>" (ABC-Net, :mod:`utils.quantizers`).
        input_shape: (height, width, channels), at least ``MIN_INPUT_SIZE[name]`` pixels.
        num_classes: number of output classes (softmax).
        width: multiplies every channel count and dense width (1.0 = the papers').
        options: the model options of :class:`utils.config.TrainConfig`
            (:data:`utils.config.MODEL_OPTIONS`, described there), with its defaults;
            another keyword raises ValueError naming the accepted ones.

    Returns:
        An uncompiled ``tf.keras.Model`` named ``f"{name}_{precision}"``.
    """
    _check_arguments(name, input_shape, num_classes, width)
    check_model_options(options)
    option = {**model_option_defaults(), **options}
    extra = _architecture_options(name, {"block_layers": option["block_layers"],
                                         "block_filters": option["block_filters"]})
    spec = get_precision(precision, quantize_first=option["quantize_first"],
                         quantize_last=option["quantize_last"],
                         magnitude_aware=option["magnitude_aware_sign"],
                         activation_range=option["activation_range"],
                         weight_range=option["weight_range"], activation=option["activation"])
    architecture, default_dropout = ARCHITECTURES[name]
    batch_norm, dropout = option["batch_norm"], option["dropout"]
    layers = LayerFactory(
        spec=spec,
        width=width,
        batch_norm=(not spec.is_float or spec.is_qat) if batch_norm is None else batch_norm,
        bn_momentum=option["bn_momentum"],
        pad_value=option["pad_value"],
        bn_after_pool=option["bn_after_pool"],
    )
    inputs = tf.keras.Input(shape=tuple(input_shape), name="image")
    outputs = architecture(inputs, layers, num_classes,
                           default_dropout if dropout is None else dropout, **extra)
    if spec.is_qat:
        from utils.qat import quantize_network  # tfmot: only for the QAT precision

        return quantize_network(tf.keras.Model(inputs, outputs, name=f"{name}_fp32"))
    return tf.keras.Model(inputs, outputs, name=f"{name}_{precision}")


def summary_figures(model: tf.keras.Model) -> dict[str, float]:
    """larq's model summary as numbers (the figures of report Tables 5.1 and 6.1).

    Keys: total/trainable/non-trainable parameters, parameters per bit width
    ("params_1bit", "params_32bit", ...), memory and its float-32 equivalent in MiB, the
    compression ratio, total MACs and MACs per precision ("macs_1bit", ...). larq cannot
    see tfmot's quantizers, so QAT networks are counted by :func:`utils.qat.qat_summary`.
    """
    if "tensorflow_model_optimization" in sys.modules:  # a QAT model needs tfmot loaded
        from utils.qat import is_qat_model, qat_summary

        if is_qat_model(model):
            return qat_summary(model)
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


def layer_table(model: tf.keras.Model) -> pd.DataFrame:
    """One row per layer that has weights or does arithmetic, from larq's profile: output
    shape, parameters, the bit widths of its weights and inputs, and its multiply-accumulates
    (the per-layer view of report Tables 5.1 and 6.1)."""
    rows = []
    for profile in lq.models.ModelProfile(model).layer_profiles:
        parameters, macs = profile.weight_count(), profile.op_count("mac") or 0
        if not parameters and not macs:
            continue
        rows.append({"layer": profile.name, "output shape": profile.output_shape_str,
                     "parameters": parameters,
                     "weight bits": "/".join(map(str, profile.unique_param_bidtwidths)),
                     "input bits": profile.input_precision or "float", "MACs": macs})
    return pd.DataFrame(rows).set_index("layer")


def summary_table(model: tf.keras.Model) -> pd.DataFrame:
    """larq's summary of ``model`` as a one-column DataFrame indexed by figure name.

    Concatenate several with ``pd.concat([...], axis=1)`` to compare models side by side.
    """
    figures = summary_figures(model)
    return pd.DataFrame({model.name: pd.Series(figures, dtype="float64")})


def save_model(model: tf.keras.Model, path: str | Path) -> Path:
    """Save ``model`` without compile state or optimizer (a model over the same layers, never
    compiled), in the format of its suffix; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # HDF5 is chosen on purpose, see model_file_suffix
        warnings.filterwarnings("ignore", message="You are saving your model as an HDF5")
        tf.keras.Model(model.inputs, model.outputs, name=model.name).save(path)
    return path


def load_model(path: str | Path) -> tf.keras.Model:
    """A saved network of the course, any precision (QAT networks load in tfmot's scope)."""
    try:
        from utils.qat import qat_scope
    except ImportError:  # without tfmot no QAT model was saved here
        scope = nullcontext()
    else:
        scope = qat_scope()
    with scope:
        return tf.keras.models.load_model(path)
