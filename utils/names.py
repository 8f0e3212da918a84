"""Names every part of the course shares (networks, precisions, data sets, profiles, the
repository's address) with the checks of a name, and the reference report's published numbers.

The names every part of the course shares: profiles, datasets, networks and precisions.
---------------------------------------------------------------------------------------

This is the bottom of the package: it imports nothing from TensorFlow, larq or the rest of
``utils``, so configs, records, tables and the report can use these names without loading
TensorFlow. Precisions and their bit widths live here once; :mod:`utils.quantizers` maps each
name to larq quantizers.

The reference report's published numbers, for side-by-side comparison (Tables 4.1-6.2).
---------------------------------------------------------------------------------------

All accuracies are the report's "optimal epoch" values on Kaggle Cats & Dogs (two classes,
so 50% is chance), in percent, as printed in its Tables 5.2 and 6.2.
"""

from __future__ import annotations

import re

__all__ = ["ACCEPTED_PRECISIONS", "ACTIVATIONS", "ACTIVATION_RANGES", "COURSE_DIR_VARIABLE",
           "DATASETS", "DATASET_CHOICES", "MAIN_MODELS", "MAIN_PRECISIONS", "MAX_BITS", "MIN_BITS",
           "MIN_INPUT_SIZE", "MODEL_NAMES", "PRECISION_NAMES_TEXT", "PROFILES", "QAT_PRECISION",
           "REFERENCE_ACCURACY", "REFERENCE_PARAMETERS", "REFERENCE_SUMMARY", "REPOSITORY",
           "REPOSITORY_BRANCH", "WEIGHT_RANGES", "check_block_sizes", "check_choice",
           "check_notebook_parameters", "check_precision", "check_precision_options",
           "model_file_suffix", "multibase_bases", "precision_bits", "precision_for_bits"]

# Where the course lives on GitHub: the Colab badges and the setup cell's clone come from
# here (a fork changes these two lines, then runs python -m utils.notebook_sources --write).
REPOSITORY = "reduced-precision/rpnn-course"
REPOSITORY_BRANCH = "main"

# The environment variable that names the course folder (utils.course).
COURSE_DIR_VARIABLE = "COURSE_DIR"

PROFILES = ("smoke", "quick", "full", "report")
DATASETS = ("cats_and_dogs", "mnist5k")
DATASET_CHOICES = ("auto", *DATASETS)

# The report's two networks, the small networks of notebook 02, and the networks of the related
# systems (utils.nets: RWTH's LeNet5 and VGG-7; utils.nets: Moons et al.'s
# k-bit QNN), all built by one layer factory (utils.nets).
MAIN_MODELS = ("alexnet", "googlenet")
MODEL_NAMES = (*MAIN_MODELS, "mlp", "small_cnn", "lenet5", "vgg7", "qnn")

# The main comparison: the report's three precisions (binary, its fixed-range 8-bit network,
# float) and the field's 8-bit network, trained with quantization-aware training (utils.qat).
MAIN_PRECISIONS = ("binary", "int8", "int8_qat", "fp32")

# Smallest square input each network admits.
# AlexNet: conv1 (11x11/4, valid) then three valid 3x3/2 max-pools; the last pool needs a 3x3
# map, so the second needs 7x7, the first 15x15, and conv1 11 + 4·14 = 67 pixels.
# GoogLeNet: every layer is same-padded, so any size runs; below its total stride of 32 the
# last inception stage sees less than one input pixel per cell, so 32 is the floor we admit.
# small_cnn: two valid 3x3 convolutions, each followed by a 2x2 pool: 3 + 2·(3 + 1) = 10 px.
# lenet5: a same-padded 5x5 convolution, a 2x2 pool, a valid 5x5 convolution, a 2x2 pool; the
# last pool needs a 2x2 map, so the second convolution needs 2 + 4 = 6 and the image 2·6 = 12.
# vgg7 and qnn: every convolution is same-padded, and three valid 2x2 pools need 2³ = 8 px.
MIN_INPUT_SIZE = {"alexnet": 67, "googlenet": 32, "mlp": 1, "small_cnn": 10, "lenet5": 12,
                  "vgg7": 8, "qnn": 8}

# k-bit precisions of the report's fixed-point grid (eq. 4.6).
MIN_BITS = 2
MAX_BITS = 16
# "int8_qat": the field's 8-bit network (affine int8 of TFLite, quantization-aware training
# with tensorflow-model-optimization; utils.qat), next to the report's fixed-grid "int8".
QAT_PRECISION = "int8_qat"
# "abc_w<M>a<N>": ABC-Net's multi-base binarization (Lin et al. 2017; utils.quantizers), weights
# as M binary bases and activations as N, with M up to 5 and N up to 3.
MULTIBASE_WEIGHTS, MULTIBASE_ACTIVATIONS = range(1, 6), range(1, 4)
ACCEPTED_PRECISIONS: tuple[str, ...] = (
    "fp32",
    "binary",
    "ternary",
    *(f"int{k}" for k in range(MIN_BITS, MAX_BITS + 1)),
    QAT_PRECISION,
    *(f"abc_w{m}a{n}" for m in MULTIBASE_WEIGHTS for n in MULTIBASE_ACTIVATIONS),
)
PRECISION_NAMES_TEXT = (f"fp32, binary, ternary, int{MIN_BITS}..int{MAX_BITS} (e.g. int8), "
                        f"{QAT_PRECISION}, abc_w<M>a<N> (M 1..5, N 1..3)")


# How a k-bit network sets its ranges (notebook 07's range ablation): the report's fixed
# ranges, or the field's learned activation ranges and per-channel weight ranges.
ACTIVATION_RANGES = ("fixed", "learned")
# The activation of float and k-bit layers: ReLU (report §4.4), or hardtanh, the symmetric
# choice of Moons et al.'s k-bit networks (clip to [-1, 1]; k-bit: eq. 4.6's grid).
ACTIVATIONS = ("relu", "hardtanh")
WEIGHT_RANGES = ("fixed", "per_channel")


def check_choice(name: str, value, accepted) -> None:
    """Raise ValueError naming ``name``, the bad ``value`` and the accepted values."""
    if value not in accepted:
        raise ValueError(f"unknown {name} {value!r}; accepted: {', '.join(map(str, accepted))}")


def check_block_sizes(name: str, value) -> tuple[int, int, int]:
    """``value`` as a tuple of three positive integers (one per block A, B, C of the "qnn"
    network), else ValueError naming ``name`` and the bad value; lists become tuples."""
    sizes = tuple(value) if isinstance(value, list | tuple) else None
    if sizes is None or len(sizes) != 3 or not all(
            isinstance(size, int) and not isinstance(size, bool) and size >= 1 for size in sizes):
        raise ValueError(f"{name} must be three integers >= 1 (blocks A, B and C), e.g. "
                         f"[1, 1, 1], got {value!r}")
    return sizes


def check_notebook_parameters(profile, dataset=None) -> None:
    """Raise a clear ValueError when a notebook's ``profile`` or ``dataset`` is not accepted."""
    check_choice("profile", profile, PROFILES)
    if dataset is not None:
        check_choice("dataset", dataset, DATASET_CHOICES)


def check_precision(name) -> str:
    """``name`` if it is a precision of the course, else ValueError listing the accepted ones."""
    if not isinstance(name, str) or name not in ACCEPTED_PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; accepted: {PRECISION_NAMES_TEXT}")
    return name


def precision_bits(name: str) -> int:
    """Bits per weight of a precision: 1 binary, 2 ternary, k for "int<k>", 8 for
    "int8_qat", M for "abc_w<M>a<N>" (M binary bases), 32 for "fp32"."""
    check_precision(name)
    if name == "binary":
        return 1
    if name == "ternary":
        return 2
    if name == "fp32":
        return 32
    if name.startswith("abc_"):
        return multibase_bases(name)[0]
    return int(re.match(r"int(\d+)", name).group(1))


def multibase_bases(name: str) -> tuple[int, int]:
    """(M weight bases, N activation bases) of an "abc_w<M>a<N>" precision."""
    match = re.fullmatch(r"abc_w(\d)a(\d)", name)
    if match is None or name not in ACCEPTED_PRECISIONS:
        raise ValueError(f"{name!r} is not a multi-base precision; accepted: abc_w<M>a<N> "
                         f"with M in 1..5 and N in 1..3, e.g. abc_w3a1")
    return int(match[1]), int(match[2])


def precision_for_bits(bits) -> str:
    """Precision name of a bit width: 1 -> "binary", 32 -> "fp32", k in 2..16 -> "int<k>"."""
    if bits == 1:
        return "binary"
    if bits == 32:
        return "fp32"
    if isinstance(bits, int) and not isinstance(bits, bool) and MIN_BITS <= bits <= MAX_BITS:
        return f"int{bits}"
    raise ValueError(f"bit width must be 1, {MIN_BITS}..{MAX_BITS} or 32, got {bits!r}")


def model_file_suffix(precision: str) -> str:
    """".keras" (Keras' native format), or ".h5" for QAT networks: tfmot's input quantizer
    creates its variables twice when a native-format file is loaded, so such files fail to
    load (tfmot 0.8.1); the HDF5 format loads them."""
    return ".h5" if precision == QAT_PRECISION else ".keras"


# Table 4.1: parameter counts of the float networks used.
REFERENCE_PARAMETERS = {"alexnet": 143_233_410, "googlenet": 5_975_602}

# Tables 5.2 (AlexNet) and 6.2 (GoogLeNet): the "optimal epoch" figures.
REFERENCE_ACCURACY = {
    ("alexnet", "binary"): dict(train_accuracy=48.44, val_accuracy=50.31, train_loss=1.100,
                                val_loss=6.95),
    ("alexnet", "int8"): dict(train_accuracy=46.88, val_accuracy=53.22, train_loss=9.93,
                              val_loss=4.74),
    ("alexnet", "fp32"): dict(train_accuracy=51.56, val_accuracy=57.50, train_loss=0.7144,
                              val_loss=0.6842),
    ("googlenet", "binary"): dict(train_accuracy=51.56, val_accuracy=51.56, train_loss=0.8481,
                                  val_loss=0.6934),
    ("googlenet", "int8"): dict(train_accuracy=54.69, val_accuracy=53.44, train_loss=0.7434,
                                val_loss=0.7876),
    ("googlenet", "fp32"): dict(train_accuracy=56.25, val_accuracy=54.92, train_loss=0.6977,
                                val_loss=0.6892),
}

# Tables 5.1 and 6.1: larq's summary of the binary networks.
REFERENCE_SUMMARY = {
    "alexnet": dict(params_total=143e6, memory_mib=17.14, memory_fp32_equivalent_mib=546.39,
                    macs_32bit=105_415_200, macs_1bit=1_110_687_744),
    "googlenet": dict(params_total=5.98e6, memory_mib=1.17, memory_fp32_equivalent_mib=22.80,
                      macs_32bit=494_889_728, macs_1bit=1_254_041_856),
}


def check_precision_options(precision: str, *, quantize_first: bool = False,
                            quantize_last: bool = False, magnitude_aware_sign: bool = False,
                            activation_range: str = "fixed", weight_range: str = "fixed",
                            activation: str = "relu") -> None:
    """ValueError when a model option does not apply to ``precision``, naming what it needs.

    The one place these rules live: the config checks them before a run, and
    :func:`utils.quantizers.get_precision` before it builds a layer.
    """
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("activation_range", activation_range, ACTIVATION_RANGES)
    check_choice("weight_range", weight_range, WEIGHT_RANGES)
    is_kbit = precision.startswith("int") and precision != QAT_PRECISION
    if activation != "relu" and not (is_kbit or precision == "fp32"):
        raise ValueError(f"activation {activation!r} applies to fp32 and the k-bit precisions "
                         f"int2..int16, not to {precision!r}")
    if (activation_range, weight_range) != ("fixed", "fixed") and not is_kbit or (
            activation_range == "learned" and activation != "relu"):
        raise ValueError(f"activation_range and weight_range choose the ranges of the k-bit "
                         f"precisions int2..int16 (a learned range: of ReLU), not of "
                         f"{precision!r}")
    if magnitude_aware_sign and precision != "binary":
        raise ValueError(f"magnitude_aware_sign scales sign-quantized kernels and needs "
                         f"precision 'binary', got {precision!r}")
    if (quantize_first or quantize_last) and precision in ("fp32", QAT_PRECISION):
        raise ValueError(f"quantize_first and quantize_last apply to larq's precisions; "
                         f"{precision!r} quantizes every layer or none")
