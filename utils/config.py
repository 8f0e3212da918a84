"""One training run's settings: the :class:`TrainConfig` dataclass and per-profile defaults.

``make_config(model, precision, dataset, profile, **overrides)`` fills a config from
:data:`PROFILE_TABLE`, the one place where the smoke / quick / full recipes live:

- ``smoke``: seconds per run, for tests and CI (the model's smallest input, tiny width).
- ``quick``: the offline default on a 2-core CPU and MNIST-5k (reduced input and width).
- ``full``: the report's setup (227/224 px, full width, Adam, cross-entropy, 30 epochs for
  AlexNet and 150 for GoogLeNet, early stopping on validation accuracy), for GPUs.

A config is frozen and hashable; :meth:`TrainConfig.config_hash` names its results record, so
two runs with the same settings share one record and a changed setting starts a new one.
Fields added after records were first written are listed in :data:`_LATER_FIELDS` with their
defaults; the hash leaves such a field out while it holds its default, so every existing
record keeps its name and stays reusable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from utils.names import (
    ACTIVATION_RANGES,
    ACTIVATIONS,
    DATASETS,
    MIN_INPUT_SIZE,
    MODEL_NAMES,
    PROFILES,
    QAT_PRECISION,
    WEIGHT_RANGES,
    check_choice,
    check_precision,
)

__all__ = [
    "LOSSES",
    "MAIN_SEEDS",
    "LR_SCHEDULES",
    "MODEL_OPTIONS",
    "OPTIMIZERS",
    "PROFILES",
    "PROFILE_TABLE",
    "TrainConfig",
    "field_names",
    "make_config",
]

OPTIMIZERS = ("adam", "bop")
LR_SCHEDULES = ("constant", "cosine")
LOSSES = ("categorical_crossentropy", "mse")
_FLOAT_FIELDS = ("width", "learning_rate", "dropout", "bn_momentum", "pad_value",
                 "bop_threshold", "bop_gamma")
# Fields added after the first records were written, with their defaults. config_hash() leaves
# a field out while it holds this default, so the configs of older records hash as before.
# A new field goes here (and at the end of TrainConfig), with the default that reproduces
# the behaviour from before it existed.
# The fields that build_model takes as options (the rest shape data, training or the name).
MODEL_OPTIONS = ("batch_norm", "bn_momentum", "dropout", "quantize_first", "quantize_last",
                 "pad_value", "bn_after_pool", "magnitude_aware_sign", "activation_range",
                 "weight_range", "activation")
_LATER_FIELDS: dict[str, Any] = {"magnitude_aware_sign": False, "activation_range": "fixed",
                                 "weight_range": "fixed", "activation": "relu"}

# Seeds of the main comparison (notebooks 03-05 and the report) per profile: three in the
# quick profile, so that every difference between precisions is read against the seed
# spread; one in smoke (tests) and full (a GPU's hours per run).
MAIN_SEEDS: dict[str, tuple[int, ...]] = {"smoke": (0,), "quick": (0, 1, 2), "full": (0,)}

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
    ("full", "*", "*", dict(width=1.0, batch_size=64, early_stopping_patience=10)),
    ("full", "alexnet", "*", dict(image_size=227, epochs=30)),
    ("full", "googlenet", "*", dict(image_size=224, epochs=150)),
    # The small networks of notebook 02 (utils.nets.small): 28 px digits, no augmentation,
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
)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Everything that determines one training run (and so its record's name).

    Attributes:
        model, precision: network and precision, as for :func:`utils.models.build_model`.
        dataset: "mnist5k" (offline stand-in) or "cats_and_dogs".
        profile: "smoke", "quick" or "full": a label in the record name.
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
        dropout, batch_norm: None keeps the model's default.
        seed: seeds the weights, the data split and the shuffling.
        bn_momentum, quantize_first, quantize_last, pad_value, bn_after_pool: model options.
        augment: random training augmentation.
        limit: at most this many images per split (None = all).
        bop_threshold, bop_gamma: Bop's flip threshold and adaptivity rate.
        magnitude_aware_sign: binary only; scale sign-quantized kernels by their per-channel
            mean |w| (the gain term of report §3.2, §7.1).
        activation_range, weight_range: k-bit only; "fixed" (the report's [0, 1) and
            [-1, 1) grids), or "learned" activation ranges and "per_channel" weight ranges.
        activation: "relu", or "hardtanh" (Moons et al.'s symmetric k-bit activations;
            float and k-bit networks).
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

    def __post_init__(self):
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


def field_names() -> tuple[str, ...]:
    """Names of the :class:`TrainConfig` fields, in declaration order."""
    return tuple(field.name for field in dataclasses.fields(TrainConfig))


def make_config(
    model: str, precision: str, dataset: str = "mnist5k", profile: str = "quick", **overrides
) -> TrainConfig:
    """The ``profile``'s defaults for ``model`` at ``precision``, with ``overrides`` applied.

    Example: ``make_config("alexnet", "binary", profile="smoke", epochs=3)``.
    Raises ValueError for an unknown profile or an invalid value, TypeError for an unknown
    setting name.
    """
    check_choice("profile", profile, PROFILES)
    _check_names(overrides, "make_config")
    settings: dict[str, Any] = {}
    for row_profile, row_model, row_precision, values in PROFILE_TABLE:
        if row_profile == profile and row_model in ("*", model) and row_precision in (
            "*",
            precision,
        ):
            settings.update(values)
    settings.update(overrides)
    settings.setdefault("image_size", MIN_INPUT_SIZE.get(model, 0))
    return TrainConfig(model=model, precision=precision, dataset=dataset, profile=profile,
                       **settings)


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
    if config.magnitude_aware_sign and config.precision != "binary":
        raise ValueError(
            f"magnitude_aware_sign scales sign-quantized kernels and needs precision 'binary', "
            f"got {config.precision!r}"
        )
    if (config.quantize_first or config.quantize_last) and config.precision in (
            "fp32", QAT_PRECISION):
        raise ValueError(f"quantize_first and quantize_last apply to larq's precisions, not "
                         f"{config.precision!r}")
    check_choice("activation", config.activation, ACTIVATIONS)
    if config.activation != "relu" and not (
            config.precision == "fp32" or config.precision.startswith("int")
            and config.precision != QAT_PRECISION):
        raise ValueError(f"activation 'hardtanh' applies to fp32 and the k-bit precisions "
                         f"int2..int16, not {config.precision!r}")
    check_choice("activation_range", config.activation_range, ACTIVATION_RANGES)
    check_choice("weight_range", config.weight_range, WEIGHT_RANGES)
    if (config.activation_range, config.weight_range) != ("fixed", "fixed") and not (
            config.precision.startswith("int") and config.precision != QAT_PRECISION):
        raise ValueError(f"activation_range and weight_range apply to the k-bit precisions "
                         f"int2..int16, not {config.precision!r}")
    if config.warmup_epochs and config.lr_schedule != "cosine":
        raise ValueError("warmup_epochs needs lr_schedule 'cosine'; accepted schedules: "
                         f"{', '.join(LR_SCHEDULES)}")
    if config.warmup_epochs >= config.epochs:
        raise ValueError(f"warmup_epochs ({config.warmup_epochs}) must be smaller than "
                         f"epochs ({config.epochs})")
