"""The names every part of the course shares: profiles, datasets, networks and precisions.

This is the bottom of the package: it imports nothing from TensorFlow, larq or the rest of
``utils``, so configs, records, tables and the report can use these names without loading
TensorFlow. Precisions and their bit widths live here once; :mod:`utils.precision` maps each
name to larq quantizers.
"""

from __future__ import annotations

import re

__all__ = [
    "ACCEPTED_PRECISIONS",
    "REPOSITORY",
    "REPOSITORY_BRANCH",
    "DATASETS",
    "DATASET_CHOICES",
    "MAIN_MODELS",
    "MAX_BITS",
    "MIN_BITS",
    "MIN_INPUT_SIZE",
    "MODEL_NAMES",
    "PROFILES",
    "PRECISION_NAMES_TEXT",
    "QAT_PRECISION",
    "check_choice",
    "check_notebook_parameters",
    "check_precision",
    "precision_bits",
    "precision_for_bits",
]

# Where the course lives on GitHub: the Colab badges and the setup cell's clone come from
# here (a fork changes these two lines, then runs python -m utils.notebook_sources --write).
REPOSITORY = "reduced-precision/rpnn-course"
REPOSITORY_BRANCH = "main"

PROFILES = ("smoke", "quick", "full")
DATASETS = ("cats_and_dogs", "mnist5k")
DATASET_CHOICES = ("auto", *DATASETS)

# The report's two networks, and the small networks of notebook 02, all built by one
# layer factory (utils.blocks).
MAIN_MODELS = ("alexnet", "googlenet")
MODEL_NAMES = (*MAIN_MODELS, "mlp", "small_cnn")

# Smallest square input each network admits.
# AlexNet: conv1 (11x11/4, valid) then three valid 3x3/2 max-pools; the last pool needs a 3x3
# map, so the second needs 7x7, the first 15x15, and conv1 11 + 4·14 = 67 pixels.
# GoogLeNet: every layer is same-padded, so any size runs; below its total stride of 32 the
# last inception stage sees less than one input pixel per cell, so 32 is the floor we admit.
# small_cnn: two valid 3x3 convolutions, each followed by a 2x2 pool: 3 + 2·(3 + 1) = 10 px.
MIN_INPUT_SIZE = {"alexnet": 67, "googlenet": 32, "mlp": 1, "small_cnn": 10}

# k-bit precisions of the report's fixed-point grid (eq. 4.6).
MIN_BITS = 2
MAX_BITS = 16
# "int8_qat": the field's 8-bit network (affine int8 of TFLite, quantization-aware training
# with tensorflow-model-optimization; utils.qat), next to the report's fixed-grid "int8".
QAT_PRECISION = "int8_qat"
ACCEPTED_PRECISIONS: tuple[str, ...] = (
    "fp32",
    "binary",
    "ternary",
    *(f"int{k}" for k in range(MIN_BITS, MAX_BITS + 1)),
    QAT_PRECISION,
)
PRECISION_NAMES_TEXT = (f"fp32, binary, ternary, int{MIN_BITS}..int{MAX_BITS} (e.g. int8), "
                        f"{QAT_PRECISION}")


def check_choice(name: str, value, accepted) -> None:
    """Raise ValueError naming ``name``, the bad ``value`` and the accepted values."""
    if value not in accepted:
        raise ValueError(f"unknown {name} {value!r}; accepted: {', '.join(map(str, accepted))}")


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
    "int8_qat", 32 for "fp32"."""
    check_precision(name)
    if name == "binary":
        return 1
    if name == "ternary":
        return 2
    if name == "fp32":
        return 32
    return int(re.match(r"int(\d+)", name).group(1))


def precision_for_bits(bits) -> str:
    """Precision name of a bit width: 1 -> "binary", 32 -> "fp32", k in 2..16 -> "int<k>"."""
    if bits == 1:
        return "binary"
    if bits == 32:
        return "fp32"
    if isinstance(bits, int) and not isinstance(bits, bool) and MIN_BITS <= bits <= MAX_BITS:
        return f"int{bits}"
    raise ValueError(f"bit width must be 1, {MIN_BITS}..{MAX_BITS} or 32, got {bits!r}")
