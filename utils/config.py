"""One training run's settings: the :class:`TrainConfig` dataclass and per-profile defaults.

``make_config(model, precision, dataset, profile, **overrides)`` fills a config from
:data:`PROFILE_TABLE`, the one place where the smoke / quick / full recipes live:

- ``smoke``: seconds per run, for tests and CI (the model's smallest input, tiny width).
- ``quick``: the offline default on a 2-core CPU and MNIST-5k (reduced input and width).
- ``full``: the course's recipe at the papers' size (227/224 px, full width, warm-up and
  cosine decay, batch norm everywhere, photo augmentation), for GPUs and Cats & Dogs.
- ``report``: the reference report's own setup at full size (Adam 1e-3 constant, no batch
  norm in the float networks, no augmentation), to see what the course's recipe changed.

``config_from_file(path, **overrides)`` does the same from a YAML run file of config fields
(``configs/*.yml``; the presets of RWTH's ``config/*.yml``), ``overrides`` taking precedence.

A config is frozen and hashable; :meth:`TrainConfig.config_hash` names its results record, so
two runs with the same settings share one record and a changed setting starts a new one.
Fields added after records were first written are listed in :data:`_LATER_FIELDS` with their
defaults; the hash leaves such a field out while it holds its default, so every existing
record keeps its name and stays reusable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from utils.names import (
    ACCEPTED_PRECISIONS,
    ACTIVATION_RANGES,
    ACTIVATIONS,
    DATASETS,
    MAIN_MODELS,
    MIN_INPUT_SIZE,
    MODEL_NAMES,
    PROFILES,
    WEIGHT_RANGES,
    check_block_sizes,
    check_choice,
    check_precision,
    check_precision_options,
)

__all__ = ["CATS_AND_DOGS_SPLIT", "FIELD_CHOICES", "LOSSES", "LR_SCHEDULES", "MAIN_SEEDS",
           "MODEL_OPTIONS", "OPTIMIZERS", "PROFILES", "PROFILE_TABLE", "RECIPE_REASONS",
           "T4_EFFECTIVE_FLOPS", "TrainConfig", "check_model_options", "config_from_file",
           "dry_run_of", "dry_run_overrides", "field_help", "field_names", "make_config",
           "model_option_defaults", "recipe_table", "t4_epoch_seconds"]

OPTIMIZERS = ("adam", "bop")
LR_SCHEDULES = ("constant", "cosine")
LOSSES = ("categorical_crossentropy", "mse")
_FLOAT_FIELDS = ("width", "learning_rate", "dropout", "bn_momentum", "pad_value",
                 "bop_threshold", "bop_gamma")
# Fields that hold one size per block A, B, C of the "qnn" network (lists in JSON and YAML).
_BLOCK_FIELDS = ("block_layers", "block_filters")
# The fields that build_model takes as options (the rest shape data, training or the name).
MODEL_OPTIONS = ("batch_norm", "bn_momentum", "dropout", "quantize_first", "quantize_last",
                 "pad_value", "bn_after_pool", "magnitude_aware_sign", "activation_range",
                 "weight_range", "activation", *_BLOCK_FIELDS)
# Fields added after the first records were written, with their defaults. config_hash() leaves
# a field out while it holds this default, so the configs of older records hash as before.
# A new field goes here (and at the end of TrainConfig), with the default that reproduces
# the behaviour from before it existed.
_LATER_FIELDS: dict[str, Any] = {"magnitude_aware_sign": False, "activation_range": "fixed",
                                 "weight_range": "fixed", "activation": "relu",
                                 "block_layers": None, "block_filters": None}

# Seeds of the main comparison (notebooks 03-05 and the report) per profile: three in the
# quick profile, so that every difference between precisions is read against the seed
# spread; one in smoke (tests) and full (a GPU's hours per run).
MAIN_SEEDS: dict[str, tuple[int, ...]] = {"smoke": (0,), "quick": (0, 1, 2), "full": (0,),
                                          "report": (0,)}

# Per-profile defaults: rows (profile, model, precision, settings), "*" matching any model or
# precision. Later matching rows override earlier ones, so the general rows come first.
PROFILE_TABLE: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("smoke", "*", "*", dict(width=0.0625, epochs=2, batch_size=16, limit=64)),
    ("smoke", "alexnet", "*", dict(image_size=MIN_INPUT_SIZE["alexnet"])),
    ("smoke", "googlenet", "*", dict(image_size=MIN_INPUT_SIZE["googlenet"])),
    # quick: chosen by measurement on mnist5k with 2 cores (results in report/). One recipe for all
    # precisions (Adam 1e-2, cosine decay, batch norm, light augmentation) keeps the
    # comparison fair; at 1e-3 binary and 8-bit GoogLeNet barely learn in a few epochs.
    ("quick", "*", "*", dict(width=0.25, epochs=15, batch_size=64, learning_rate=1e-2,
                             lr_schedule="cosine", batch_norm=True, augment=True)),
    ("quick", "alexnet", "*", dict(image_size=67)),
    ("quick", "googlenet", "*", dict(image_size=48, width=0.5, epochs=20)),
    # full: the course's recipe at the papers' size, for a GPU and Kaggle's Cats & Dogs.
    # Adam with a linear warm-up and cosine decay (larq's zoo trains binary AlexNet with Adam
    # at 1e-2 in batches of 512 and BiRealNet at 5e-3 in batches of 256; at batches of 64,
    # 2e-3), batch normalization everywhere, photo augmentation (flips, zoom, shifts, small
    # turns; utils.data). Epochs from the T4 estimate of utils.bench.t4_estimate (about 25 s
    # per AlexNet epoch, 35 s per GoogLeNet epoch on Cats & Dogs): each network's four
    # precisions in under two hours, before early stopping on validation accuracy ends them.
    ("full", "*", "*", dict(width=1.0, batch_size=64, learning_rate=2e-3,
                            lr_schedule="cosine", warmup_epochs=2, batch_norm=True,
                            augment=True, early_stopping_patience=8)),
    ("full", "alexnet", "*", dict(image_size=227, epochs=40)),
    ("full", "googlenet", "*", dict(image_size=224, epochs=40)),
    # report: the reference report's own setup at full size, to compare with (§5, §6):
    # Adam at a constant 1e-3, batch normalization only in the quantized networks, placed
    # directly after each layer, no augmentation, early stopping; binary and float AlexNet
    # without dropout and 8-bit AlexNet with 0.5 after fc6 (§5.1-5.3), GoogLeNet's 0.4.
    ("report", "*", "*", dict(width=1.0, batch_size=64, learning_rate=1e-3,
                              lr_schedule="constant", bn_after_pool=False, augment=False,
                              early_stopping_patience=10)),
    ("report", "alexnet", "*", dict(image_size=227, epochs=30, dropout=0.0)),
    ("report", "alexnet", "int8", dict(dropout=0.5)),
    ("report", "googlenet", "*", dict(image_size=224, epochs=150)),
    # The small networks of notebook 02 (utils.nets): 28 px digits, no augmentation,
    # five epochs of the quick recipe at their own width (1.0 = 512-unit MLP, 32/64-filter CNN).
    ("smoke", "mlp", "*", dict(image_size=28, epochs=1, width=0.125, limit=128)),
    ("smoke", "small_cnn", "*", dict(image_size=28, epochs=1, width=0.25, limit=128)),
    ("quick", "mlp", "*", dict(image_size=28, width=1.0, epochs=5, augment=False)),
    ("quick", "small_cnn", "*", dict(image_size=28, width=1.0, epochs=5, augment=False)),
    ("full", "mlp", "*", dict(image_size=28, width=2.0, epochs=5, learning_rate=1e-2,
                              lr_schedule="cosine", batch_norm=True,
                              early_stopping_patience=None)),
    ("full", "small_cnn", "*", dict(image_size=28, width=2.0, epochs=20, learning_rate=1e-2,
                                    lr_schedule="cosine", batch_norm=True,
                                    early_stopping_patience=None)),
    # The related systems (utils.nets, utils.nets) on 28 px digits (VGG-7 at 32,
    # CIFAR-10's size), the quick recipe without augmentation. Widths and epochs keep one quick
    # run of 3,500 digits under about a minute on one core; measured with one thread while two
    # other trainings shared the 2 cores, seconds per epoch (55 batches of 64 + validation):
    # lenet5 at width 1.0 (32/64 filters, 512 units): fp32 4.0, binary 5.8 -> 5 epochs, ~30 s;
    # vgg7 at 0.25 (32..128 filters, 256 units): fp32 10.6, binary 16.2 -> 3 epochs, ~50 s
    # (at 0.125: fp32 6.4, binary 12.3, so binary gains little from the narrower net);
    # qnn at 1.0 (64 filters per block), int4 hardtanh: 3.7 -> 5 epochs, ~20 s.
    ("smoke", "lenet5", "*", dict(image_size=28, epochs=1, width=0.125, limit=128)),
    ("smoke", "vgg7", "*", dict(image_size=28, epochs=1, width=0.0625, limit=128)),
    ("smoke", "qnn", "*", dict(image_size=28, epochs=1, width=0.25, limit=128)),
    ("quick", "lenet5", "*", dict(image_size=28, width=1.0, epochs=5, augment=False)),
    ("quick", "vgg7", "*", dict(image_size=32, width=0.25, epochs=3, augment=False)),
    ("quick", "qnn", "*", dict(image_size=28, width=1.0, epochs=5, augment=False)),
    ("full", "lenet5", "*", dict(image_size=28, epochs=20, learning_rate=1e-2,
                                 lr_schedule="cosine", batch_norm=True,
                                 early_stopping_patience=None)),
    ("full", "vgg7", "*", dict(image_size=32, epochs=20, learning_rate=1e-2,
                               lr_schedule="cosine", batch_norm=True,
                               early_stopping_patience=None)),
    ("full", "qnn", "*", dict(image_size=28, epochs=20, learning_rate=1e-2,
                              lr_schedule="cosine", batch_norm=True,
                              early_stopping_patience=None)),
)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Everything that determines one training run (and so its record's name).

    Attributes:
        model, precision: network and precision, as for :func:`utils.models.build_model`.
        dataset: "mnist5k" (offline stand-in) or "cats_and_dogs".
        profile: "smoke", "quick", "full" or "report" (the reference report's recipe): a
            label in the record name.
        image_size: square input side in pixels (at least the model's minimum).
        width: channel multiplier (1.0 = the papers').
        epochs, batch_size: training length and batch size (global, across replicas).
        optimizer: "adam", or "bop" (larq's Bop on binary weights, Adam on the rest).
        learning_rate: Adam's (initial) learning rate.
        lr_schedule: "constant" or "cosine" (cosine decay over all training steps).
        warmup_epochs: linear warm-up before the cosine decay (cosine only).
        loss: "categorical_crossentropy" or "mse" (report §5.1).
        early_stopping_patience: epochs without a better val_accuracy before stopping and
            going back to the best weights; None turns early stopping off.
        seed: seeds the weights, the data split and the shuffling.
        augment: random training augmentation.
        limit: at most this many images per split (None = all).
        bop_threshold, bop_gamma: Bop's flip threshold and adaptivity rate.

    Model options (:data:`MODEL_OPTIONS`: the options of :func:`utils.models.build_model`,
    whose defaults are these fields' defaults):
        batch_norm: batch normalization after every conv/dense layer; None: on for reduced
            precision and "int8_qat", off for "fp32" (True gives a like-for-like float net).
        bn_momentum: momentum of batch normalization's moving statistics.
        dropout: rate after AlexNet's first dense layer (report §5.1; None: 0.5) or before
            the classifier of the others (None: GoogLeNet 0.4, the small nets 0); 0 disables.
        quantize_first, quantize_last: quantize the first/last layer like the hidden ones
            (report §5.1 experiment).
        pad_value: value of padded pixels in binary same-padded convolutions, in [-1, 1]
            (1.0, or 0.0 for the padding ablation, report §7.1).
        bn_after_pool: in quantized nets, normalize after the max-pool (larq zoo) or before.
        magnitude_aware_sign: binary only; scale sign-quantized kernels by their per-channel
            mean |w| (larq's ``MagnitudeAwareSign``, the gain term of report §3.2, §7.1).
        activation_range, weight_range: k-bit only; "fixed" (the report's [0, 1) and
            [-1, 1) grids), or "learned" activation ranges and "per_channel" weight ranges.
        activation: "relu", or "hardtanh" (Moons et al.'s symmetric k-bit activations;
            fp32 and k-bit networks).
        block_layers, block_filters: "qnn" only; convolutions and filters of its blocks A, B
            and C (three positive integers each; None = one layer of 64 filters per block).
    """

    model: str
    precision: str
    dataset: str = "mnist5k"
    profile: str = "quick"
    image_size: int
    width: float = 1.0
    epochs: int = 5
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    warmup_epochs: int = 0
    loss: str = "categorical_crossentropy"
    early_stopping_patience: int | None = None
    dropout: float | None = None
    seed: int = 0
    bn_momentum: float = 0.9
    batch_norm: bool | None = None
    quantize_first: bool = False
    quantize_last: bool = False
    pad_value: float = 1.0
    bn_after_pool: bool = True
    augment: bool = False
    limit: int | None = None
    bop_threshold: float = 1e-8
    bop_gamma: float = 1e-4
    magnitude_aware_sign: bool = False
    activation_range: str = "fixed"
    weight_range: str = "fixed"
    activation: str = "relu"
    block_layers: tuple[int, int, int] | None = None
    block_filters: tuple[int, int, int] | None = None

    def __post_init__(self):
        for name in _BLOCK_FIELDS:  # JSON and YAML give lists
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        _validate(self)
        for name in _FLOAT_FIELDS:  # 1 and 1.0 must give the same hash
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, float(value))

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain, JSON-serializable dict."""
        return dataclasses.asdict(self)

    def model_options(self) -> dict[str, Any]:
        """The fields that are options of :func:`utils.models.build_model`, by name."""
        return {name: getattr(self, name) for name in MODEL_OPTIONS}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ValueError naming them."""
        unknown = sorted(set(values) - set(field_names()))
        if unknown:
            raise ValueError(
                f"unknown TrainConfig field(s) {', '.join(unknown)}; "
                f"accepted: {', '.join(field_names())}"
            )
        return cls(**values)

    def config_hash(self) -> str:
        """First 10 hex digits of the SHA-256 of the fields' canonical JSON.

        Fields of :data:`_LATER_FIELDS` that hold their default are left out, so a config
        that does not use a later option hashes exactly as it did before the option existed.
        """
        fields = {name: value for name, value in self.to_dict().items()
                  if not (name in _LATER_FIELDS and value == _LATER_FIELDS[name])}
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:10]

    @property
    def run_name(self) -> str:
        """File stem of this run's record and model: model_precision_dataset_profile_hash."""
        return "_".join(
            (self.model, self.precision, self.dataset, self.profile, self.config_hash())
        )

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (validated like a new config)."""
        _check_names(changes, "TrainConfig.replace")
        return dataclasses.replace(self, **changes)


# Why the quick profile's recipe is what it is (shown by notebooks 03 and 04 next to the
# values; the evidence is in the records and in notebook 07).
RECIPE_REASONS = {
    "image_size": "the smallest input the network admits (AlexNet) or a quarter of the "
                  "report's side (GoogLeNet): a 2-core CPU trains it in minutes",
    "width": "a quarter (AlexNet) or half (GoogLeNet) of the papers' channels, for the same "
             "reason; 3,500 digits do not need more",
    "epochs": "long enough for the cosine schedule to settle every precision (validation "
              "accuracy flat over the last epochs)",
    "batch_size": "64 images: 55 steps per epoch on 3,500 training digits",
    "optimizer": "Adam on the latent float weights, as the report and larq's zoo",
    "learning_rate": "1e-2, as larq's zoo trains binary AlexNet; at the report's 1e-3 the "
                     "8-bit and binary GoogLeNet barely learned in a few epochs",
    "lr_schedule": "cosine decay to zero: large steps early, fine ones at the end",
    "batch_norm": "after every layer at every precision, float included, so that the "
                  "comparison is like for like (the report's float nets had none)",
    "augment": "random shifts of up to 10%: 3,500 digits are few, and quantized networks "
               "overfit them",
    "dropout": "None: the paper's rate (AlexNet 0.5 after fc6, GoogLeNet 0.4)",
    "seed": "one of the seeds of the main comparison (0, 1, 2)",
}


def recipe_table(config: TrainConfig) -> pd.DataFrame:
    """The training recipe of ``config``, field by field, with the reason for each choice
    that :data:`RECIPE_REASONS` explains."""
    values = config.to_dict()
    return pd.DataFrame({"value": {name: values[name] for name in RECIPE_REASONS},
                         "why": RECIPE_REASONS})


# The values a text field accepts (checked by the config, offered by the command line).
FIELD_CHOICES = {"model": MODEL_NAMES, "precision": ACCEPTED_PRECISIONS, "dataset": DATASETS,
                 "profile": PROFILES, "optimizer": OPTIMIZERS, "lr_schedule": LR_SCHEDULES,
                 "loss": LOSSES, "activation": ACTIVATIONS,
                 "activation_range": ACTIVATION_RANGES, "weight_range": WEIGHT_RANGES}


def model_option_defaults() -> dict[str, Any]:
    """Defaults of :func:`utils.models.build_model`'s options: the :class:`TrainConfig`
    defaults of the :data:`MODEL_OPTIONS` fields."""
    return {field.name: field.default for field in dataclasses.fields(TrainConfig)
            if field.name in MODEL_OPTIONS}


def check_model_options(options: dict[str, Any]) -> None:
    """ValueError naming every key of ``options`` that is not a model option."""
    unknown = sorted(set(options) - set(MODEL_OPTIONS))
    if unknown:
        raise ValueError(f"unknown model option(s) {', '.join(unknown)}; accepted: "
                         f"{', '.join(MODEL_OPTIONS)}")


def field_help() -> dict[str, str]:
    """One line of help per :class:`TrainConfig` field, read from the class docstring (the
    one place the fields are described), for the command line."""
    helps: dict[str, str] = {}
    entry = re.compile(r"^ {4}(?P<names>\w+(?:, \w+)*): (?P<text>.*)$")
    names: list[str] = []
    # cleandoc: Python 3.13 strips a docstring's indentation when it compiles it, 3.11 does not
    for line in inspect.cleandoc(TrainConfig.__doc__ or "").splitlines():
        match = entry.match(line)
        if match:
            names = match.group("names").split(", ")
            for name in names:
                helps[name] = match.group("text")
        elif line.startswith(" " * 8) and names:
            for name in names:
                helps[name] += " " + line.strip()
        else:
            names = []
    # Sphinx roles and literals read as plain names on a terminal.
    return {name: re.sub(r":\w+:`~?([^`]+)`|``([^`]+)``", lambda m: m.group(1) or m.group(2),
                         text) for name, text in helps.items()}


def field_names() -> tuple[str, ...]:
    """Names of the :class:`TrainConfig` fields, in declaration order."""
    return tuple(field.name for field in dataclasses.fields(TrainConfig))


def dry_run_overrides(limit: int | None = None, epochs: int | None = None) -> dict[str, int]:
    """The config overrides of a dry run (at most ``limit`` images per split, ``epochs``
    epochs); empty for a real run. Notebooks take ``limit`` and ``epochs`` as parameters
    and pass these to every run and record lookup, so a dry run's records never pass for
    the profile's own (their config hash differs).
    """
    overrides = {}
    for name, value in (("limit", limit), ("epochs", epochs)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive whole number or None, not {value!r}")
        overrides[name] = value
    if overrides:
        print("Dry run: " + ", ".join(f"{name} {value}" for name, value in overrides.items())
              + " (a check of the path, not results)")
    return overrides


def dry_run_of(config: TrainConfig) -> dict[str, int]:
    """The ``limit`` and ``epochs`` by which ``config`` departs from its profile's recipe
    (a dry run, labelled so in its record and the report); empty for a real run."""
    default = make_config(config.model, config.precision, dataset=config.dataset,
                          profile=config.profile)
    return {name: getattr(config, name) for name in ("limit", "epochs")
            if getattr(config, name) != getattr(default, name)}


def make_config(
    model: str, precision: str, dataset: str = "mnist5k", profile: str = "quick", **overrides
) -> TrainConfig:
    """The ``profile``'s defaults for ``model`` at ``precision``, with ``overrides`` applied.

    Example: ``make_config("alexnet", "binary", profile="smoke", epochs=3)``. When
    ``epochs`` is given and leaves no epoch after the profile's warm-up (a dry run of the
    full profile with ``epochs=1``), the warm-up is shortened to ``epochs - 1`` unless
    ``warmup_epochs`` is given too; the config records the value used.
    Raises ValueError for an unknown profile or an invalid value, TypeError for an unknown
    setting name.
    """
    check_choice("profile", profile, PROFILES)
    _check_names(overrides, "make_config")
    if profile == "report" and model not in MAIN_MODELS:
        raise ValueError(f"the report profile reproduces the reference report's AlexNet and "
                         f"GoogLeNet; accepted models: {', '.join(MAIN_MODELS)}, got {model!r}")
    settings: dict[str, Any] = {}
    for row_profile, row_model, row_precision, values in PROFILE_TABLE:
        if row_profile == profile and row_model in ("*", model) and row_precision in (
            "*",
            precision,
        ):
            settings.update(values)
    settings.update(overrides)
    if isinstance(overrides.get("epochs"), int) and "warmup_epochs" not in overrides:
        settings["warmup_epochs"] = min(settings.get("warmup_epochs", 0),
                                        max(settings["epochs"] - 1, 0))
    settings.setdefault("image_size", MIN_INPUT_SIZE.get(model, 0))
    return TrainConfig(model=model, precision=precision, dataset=dataset, profile=profile,
                       **settings)


class _RunFileLoader(yaml.SafeLoader):
    """PyYAML's safe loader, also reading 1e-3 as a number (YAML 1.2 does; PyYAML's YAML 1.1
    wants a dot, 1.0e-3, and would give the string "1e-3")."""


_RunFileLoader.add_implicit_resolver("tag:yaml.org,2002:float",
                                     re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$"),
                                     list("-+0123456789"))


def config_from_file(path: str | Path, **overrides) -> TrainConfig:
    """The config of a YAML run file: ``key: value`` lines of :class:`TrainConfig` fields.

    ``model`` and ``precision`` are required; ``dataset`` and ``profile`` default as in
    :func:`make_config`, whose profile defaults fill every field the file leaves out.
    ``overrides`` (for example the command line's flags) take precedence over the file.
    Example: ``config_from_file("configs/lenet5_binary.yml", epochs=1)``.

    Raises ValueError naming the file and the problem: unreadable, not YAML, not a mapping,
    an unknown key (listing the accepted ones) or an invalid value.
    """
    path = Path(path)
    try:
        values = yaml.load(path.read_text(), Loader=_RunFileLoader)
    except OSError as error:
        raise ValueError(f"cannot read the run file {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not valid YAML: {error}") from error
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold 'field: value' lines of TrainConfig fields, not a "
                         f"{type(values).__name__}")
    unknown = sorted(str(key) for key in values if key not in field_names())
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} in {path}; accepted: "
                         f"{', '.join(field_names())}")
    _check_names(overrides, "config_from_file")
    settings = {**values, **overrides}
    missing = [name for name in ("model", "precision") if settings.get(name) is None]
    if missing:
        raise ValueError(f"{path} must name the {' and '.join(missing)} (e.g. 'model: lenet5', "
                         f"'precision: binary')")
    try:
        return make_config(**settings)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


def _check_names(settings: dict[str, Any], caller: str) -> None:
    unknown = sorted(set(settings) - set(field_names()))
    if unknown:
        raise TypeError(
            f"{caller}() got unknown setting(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(field_names())}"
        )


def _check_int(name: str, value, minimum: int, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        allowed = f"an integer >= {minimum}" + (" or None" if optional else "")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _check_number(name: str, value, low: float, high: float, *, low_open=True,
                  high_open=False) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    inside = number and (low < value if low_open else low <= value) and (
        value < high if high_open else value <= high
    )
    if not inside:
        bounds = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {bounds}, got {value!r}")


def _check_bool(name: str, value, *, optional: bool = False) -> None:
    if not (isinstance(value, bool) or (optional and value is None)):
        raise ValueError(f"{name} must be True or False{' or None' if optional else ''}, "
                         f"got {value!r}")


def _validate(config: TrainConfig) -> None:
    """Raise ValueError naming the first invalid field and the values it accepts."""
    check_choice("model", config.model, MODEL_NAMES)
    check_precision(config.precision)
    check_choice("dataset", config.dataset, DATASETS)
    check_choice("profile", config.profile, PROFILES)
    check_choice("optimizer", config.optimizer, OPTIMIZERS)
    check_choice("lr_schedule", config.lr_schedule, LR_SCHEDULES)
    check_choice("loss", config.loss, LOSSES)
    _check_int("image_size", config.image_size, MIN_INPUT_SIZE[config.model])
    _check_number("width", config.width, 0.0, float("inf"))
    _check_int("epochs", config.epochs, 1)
    _check_int("batch_size", config.batch_size, 1)
    _check_number("learning_rate", config.learning_rate, 0.0, float("inf"))
    _check_int("warmup_epochs", config.warmup_epochs, 0)
    _check_int("early_stopping_patience", config.early_stopping_patience, 0, optional=True)
    if config.dropout is not None:
        _check_number("dropout", config.dropout, 0.0, 1.0, low_open=False, high_open=True)
    _check_int("seed", config.seed, 0)
    _check_number("bn_momentum", config.bn_momentum, 0.0, 1.0, low_open=False, high_open=True)
    _check_bool("batch_norm", config.batch_norm, optional=True)
    for name in ("quantize_first", "quantize_last", "bn_after_pool", "augment",
                 "magnitude_aware_sign"):
        _check_bool(name, getattr(config, name))
    _check_number("pad_value", config.pad_value, -1.0, 1.0, low_open=False)
    _check_int("limit", config.limit, 1, optional=True)
    _check_number("bop_threshold", config.bop_threshold, 0.0, float("inf"))
    _check_number("bop_gamma", config.bop_gamma, 0.0, 1.0)
    if config.optimizer == "bop" and config.precision != "binary":
        raise ValueError(
            f"optimizer 'bop' flips binary weights and needs precision 'binary', got "
            f"{config.precision!r}; use optimizer 'adam'"
        )
    check_precision_options(config.precision, quantize_first=config.quantize_first,
                            quantize_last=config.quantize_last,
                            magnitude_aware_sign=config.magnitude_aware_sign,
                            activation_range=config.activation_range,
                            weight_range=config.weight_range, activation=config.activation)
    for name in _BLOCK_FIELDS:
        if getattr(config, name) is not None:
            if config.model != "qnn":
                raise ValueError(f"{name} sizes the blocks of model 'qnn', not of "
                                 f"{config.model!r}; leave it unset (None)")
            check_block_sizes(name, getattr(config, name))
    if config.warmup_epochs and config.lr_schedule != "cosine":
        raise ValueError("warmup_epochs needs lr_schedule 'cosine'; accepted schedules: "
                         f"{', '.join(LR_SCHEDULES)}")
    if config.warmup_epochs >= config.epochs:
        raise ValueError(f"warmup_epochs ({config.warmup_epochs}) must be smaller than "
                         f"epochs ({config.epochs})")


# The assumption behind every T4 estimate of the course: a Colab T4 GPU (8.1 TFLOPS peak in
# float32) sustains about a quarter of its peak on these networks, with batches of 64, larq's
# quantizer ops and no mixed precision. Training costs 6 FLOPs per multiply-accumulate of the
# forward pass (2 forward, 4 backward), evaluation 2.
T4_EFFECTIVE_FLOPS = 2.0e12
# Kaggle Cats & Dogs: 8,005 training photos, a tenth kept for validation.
CATS_AND_DOGS_SPLIT = {"train": 7205, "validation": 800}


def t4_epoch_seconds(macs_per_image: float, train_images: int, validation_images: int,
                     flops_per_second: float = T4_EFFECTIVE_FLOPS) -> float:
    """Seconds of one training epoch on a Colab T4 if it were bound by arithmetic alone
    (:data:`T4_EFFECTIVE_FLOPS`): an estimate from stated assumptions, not a measurement.

    Small networks (the quick profile's) do not keep a GPU busy: for them this is a lower
    bound, and per-step overheads decide the time.
    """
    return (6 * train_images + 2 * validation_images) * macs_per_image / flops_per_second
