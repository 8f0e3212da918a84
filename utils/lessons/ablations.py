"""Notebook 07's own code: the catalogue of ablations (the report's experiments, one variable
at a time), running them, their statistics and their figures.

Ablations: controlled measurements of what the reference report only told or proposed.
--------------------------------------------------------------------------------------

The report describes several experiments in a sentence each (loss, dropout, binary first and
last layers; §4.3, §5.1, §6.1) and lists ideas it never tried (Bop, padding, gain terms,
batch-norm placement; §3.2, §7, §7.1). Each entry of :data:`ABLATIONS` turns one of them into
a controlled comparison:

- one network, binary AlexNet with the profile's recipe (:func:`base_config`);
- one setting changed, as :class:`~utils.config.TrainConfig` overrides, everything else equal;
- the same data split and the same seeds for every condition, several seeds per condition
  so that the seed-to-seed spread is measured and a difference can be read against it.

The catalogue says what is compared and which runs that takes (:func:`plan`); the runs are
trained, collected and judged (with the seed-spread rule of :mod:`utils.records`) as the
sections below describe, drawn by :func:`plot_differences` and :func:`plot_ablation`, and
written up by :mod:`utils.report`. Nothing here imports TensorFlow until
:func:`run_ablations` trains.

Training and collecting the ablation runs.
------------------------------------------

Every distinct config of the plan is trained once through the one experiment runner
(:func:`utils.train.run_configs`), or read from its record when that exists; the shared
baseline of every ablation is one config per seed and so one record. :func:`runs_frame` puts
the records next to the plan: one row per (ablation, condition, seed).

Judging the ablations: seed statistics per condition and a verdict on the report's claim.
-----------------------------------------------------------------------------------------

:func:`summary_table` gives, per ablation and condition, the mean and spread of test accuracy
over seeds and the difference to the baseline, read against the seed spread with the rule of
:mod:`utils.records`. :func:`verdict` sets the report's claim beside that measurement.

A condition most of whose seeds stayed within :data:`CHANCE_MARGIN` points of chance did not
train: its difference to the baseline is the size of a failure, not of an effect of the
setting, and the verdict says so instead of scoring it.

"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from utils.config import TrainConfig, make_config
from utils.figures import finish_axes
from utils.names import precision_bits
from utils.records import (
    SPREAD_FACTOR,
    difference,
    load_record,
    record_path,
    seed_summary,
    standard_error,
)

__all__ = ["ABLATIONS", "ABLATION_PROFILES", "Ablation", "AblationSettings", "BASE_OVERRIDES",
           "CHANCE_MARGIN", "FIGURE_PREFIX", "NOT_TRAINED_FIGURE", "OVERVIEW_FIGURE", "PlannedRun",
           "RUN_COLUMNS", "SIZE_FACTOR", "ablation_settings", "base_config", "condition_bits",
           "condition_table", "figure_name", "get_ablation", "load_runs", "measured", "plan",
           "plan_table", "plot_ablation", "plot_bit_sweep", "plot_differences", "run_ablations",
           "runs_frame", "settings_table", "summary_table", "unique_configs", "verdict"]

MODEL = "alexnet"
BASE_PRECISION = "binary"
FIGURE_PREFIX = "07_ablation_"
OVERVIEW_FIGURE = "07_ablations_overview"
# The loss curves of the conditions that did not train (only when some did not).
NOT_TRAINED_FIGURE = f"{FIGURE_PREFIX}not_trained"


@dataclass(frozen=True)
class Ablation:
    """One controlled comparison against the shared baseline.

    Attributes:
        key: identifier, used in figure names and tables ("loss", "bits", ...).
        name: short label for overviews ("Loss", "Bit width", ...).
        title: heading.
        sections: the reference report's sections that make the claim, e.g. ("§5.1",).
        claim: what the report said, in our words.
        claim_short: the claim in one clause, for the verdict.
        expected: +1 the report expects the variant to be better, -1 worse, 0 no accuracy
            claim; ignored for a sweep, where more bits are expected to be better.
        baseline: label of the baseline condition (the shared baseline config).
        variants: label -> TrainConfig overrides of each variant, in display order.
        note: what to keep in mind when reading the measurement.
        sweep: a bit-width sweep (plotted against bits, may use fewer seeds).
        claimed_points: the size of the claimed difference (variant minus baseline, in
            points) when the report gives one, e.g. -1.0 for "costs about 1 point".
        baseline_overrides: changes to the shared baseline that this ablation's own
            baseline makes (e.g. another precision), applied to every condition.
        claim_variants: the variants whose difference to the baseline tests the report's
            claim; empty: every variant. The others are measured and shown, but their
            verdict does not score them against the claim.
    """

    key: str
    name: str
    title: str
    sections: tuple[str, ...]
    claim: str
    claim_short: str
    expected: int
    baseline: str
    variants: Mapping[str, Mapping[str, Any]]
    note: str = ""
    sweep: bool = False
    claimed_points: float | None = None
    baseline_overrides: Mapping[str, Any] = field(default_factory=dict)
    claim_variants: tuple[str, ...] = ()

    def tests_claim(self, label: str) -> bool:
        """Whether variant ``label`` is a test of the report's claim."""
        return not self.claim_variants or label in self.claim_variants

    @property
    def conditions(self) -> list[tuple[str, dict[str, Any]]]:
        """(label, overrides of the shared baseline) of every condition, the baseline first."""
        base = dict(self.baseline_overrides)
        return [(self.baseline, base),
                *((label, {**base, **v}) for label, v in self.variants.items())]

    def configs(self, base: TrainConfig) -> list[tuple[str, TrainConfig]]:
        """(label, config) of every condition built on ``base``, the baseline first; an
        override of :data:`FROM_PROFILE` keeps ``base``'s value of that field."""
        return [(label, base.replace(**{name: getattr(base, name) if value == FROM_PROFILE
                                         else value for name, value in overrides.items()}))
                for label, overrides in self.conditions]

    @property
    def fields(self) -> set[str]:
        """The TrainConfig fields that the variants change."""
        return {name for overrides in self.variants.values() for name in overrides}

    @property
    def section_text(self) -> str:
        return ", ".join(self.sections)


# Bop (Helwegen et al. 2019) flips a binary weight when the exponential moving average of its
# gradient (rate gamma) exceeds the threshold tau and agrees in sign with the weight.
# Larq's defaults (gamma 1e-4, tau 1e-8) are meant for runs of hundreds of epochs. At the quick
# profile's length (6 epochs, seed 0) they reached 85.4% test accuracy with a jumpy validation
# curve, against 94.0% for gamma 1e-3 and tau 1e-6 (Adam: 93.6%); those were the only two
# settings tried, and the second is used in every profile.
BOP_SETTINGS = {"optimizer": "bop", "bop_threshold": 1e-6, "bop_gamma": 1e-3}

# The fields of the learning-rate schedule, which differ between profiles (quick: Adam 1e-2
# with cosine decay; full: 2e-3 with two warm-up epochs).
SCHEDULE_FIELDS = ("learning_rate", "lr_schedule", "warmup_epochs")

# In a condition's overrides: "keep the profile's value of this field", for steps that end at
# the profile's own recipe whatever the profile (a recipe ablation's last step).
FROM_PROFILE = "the profile's value"

ABLATIONS: tuple[Ablation, ...] = (
    Ablation(
        key="loss",
        name="Loss",
        title="Loss: cross-entropy against mean squared error",
        sections=("§5.1", "§5.2", "§6.1"),
        claim=(
            "With mean squared error instead of categorical cross-entropy, binary AlexNet "
            "kept about the same training accuracy but lost about 1 point of validation "
            "accuracy, while its loss values fell about tenfold in training and two- to "
            "threefold in validation, which the report read as a more confident model "
            "(§5.1). 8-bit AlexNet lost 1 to 1.5 points the same way (§5.2); binary "
            "GoogLeNet's accuracy stayed comparable (§6.1)."
        ),
        claim_short="mean squared error costs about 1 point of accuracy",
        expected=-1,
        claimed_points=-1.0,
        baseline="cross-entropy",
        variants={"mean squared error": {"loss": "mse"},
                  "mean squared error, Adam 1e-3": {"loss": "mse", "learning_rate": 1e-3}},
        note=(
            "Squared error on a softmax output and cross-entropy are on different scales, "
            "so their loss values say nothing about each other, nor about confidence; only "
            "the accuracies are compared. Squared error's gradient through a softmax is "
            "much smaller than cross-entropy's, so the recipe's learning rate, tuned for "
            "cross-entropy, is not the one that suits it: the second variant starts from the "
            "report's 1e-3 instead of the recipe's rate. It keeps the recipe's cosine decay "
            "over the epochs, where the report held 1e-3 constant, so it has the report's "
            "learning rate but not its schedule."
        ),
    ),
    Ablation(
        key="dropout",
        name="Dropout",
        title="Dropout 0.5 after the first dense layer, against none",
        sections=("§5.1",),
        claim=(
            "Binary AlexNet's main result used no dropout. With dropout 0.5 after the first "
            "fully connected layer, the best validation accuracy dropped by about 2 points "
            "(50.3% to 48.1%) and the loss fell (§5.1)."
        ),
        claim_short="no dropout is about 2 points better than dropout 0.5",
        expected=+1,
        claimed_points=2.0,
        baseline="dropout 0.5",
        variants={"no dropout": {"dropout": 0.0}},
        note=(
            "The baseline keeps the AlexNet paper's dropout 0.5 (the recipe of notebook 03), "
            "so the variant is the report's setting without dropout."
        ),
    ),
    Ablation(
        key="first_layer",
        name="First layer",
        title="First layer: float input against binarized input",
        sections=("§4.3", "§5.1"),
        claim=(
            "The first layer should see the image in full precision (its kernel is still "
            "binary): binarizing its input lowers accuracy and confidence (§4.3). Binarizing "
            "the input together with the last layer gave about 45% validation accuracy, "
            "5 points below the float-input network, with eight times the validation loss "
            "(§5.1); §4.3 puts the cost of binary first and last layers at 1 to 1.5 points."
        ),
        claim_short="a binarized input layer costs accuracy",
        expected=-1,
        baseline="float input",
        variants={"binarized input": {"quantize_first": True}},
        note=(
            "On the mnist5k digits the sign of a pixel keeps most of the picture, since "
            "digits are nearly black and white; on photos it throws away far more."
        ),
    ),
    Ablation(
        key="last_layer",
        name="Last layer",
        title="Last layer: float against binarized",
        sections=("§4.3", "§5.1"),
        claim=(
            "The last layer should stay in full precision with a softmax, because the output "
            "is very sensitive to quantization (§4.3); the §5.1 run with binary first and "
            "last layers lost about 5 points (see the first-layer ablation)."
        ),
        claim_short="a binarized last layer costs accuracy",
        expected=-1,
        baseline="float last layer",
        variants={"binarized last layer": {"quantize_last": True}},
        note=(
            "The binarized classifier takes sign inputs and sign weights; batch "
            "normalization (without a learned scale) and the softmax follow it."
        ),
    ),
    Ablation(
        key="optimizer",
        name="Optimizer",
        title="Optimizer: Adam on latent weights against Bop",
        sections=("§7.1",),
        claim=(
            "The report trained every network with Adam on latent float weights and proposed "
            "Bop, an optimizer made for binary weights (Helwegen et al. 2019), as future "
            "work, without a measurement (§7.1)."
        ),
        claim_short="Bop is worth trying (no accuracy claim)",
        expected=0,
        baseline="Adam",
        variants={"Bop": BOP_SETTINGS},
        note=(
            "Bop flips a binary weight when the moving average of its gradient (rate γ) "
            "exceeds a threshold τ and has the weight's sign; the float variables (batch "
            "normalization, the first layer's float parts, the last layer) keep Adam with "
            "the baseline's schedule. Here γ = 1e-3 and τ = 1e-6: larq's defaults (1e-4, "
            "1e-8) are meant for hundreds of epochs."
        ),
    ),
    Ablation(
        key="padding",
        name="Padding",
        title="Padding of binary convolutions: +1 against zero",
        sections=("§7.1",),
        claim=(
            "Zero padding adds a third value next to ±1, which XNOR and popcount hardware "
            "cannot encode; the report proposed padding with +1 or -1 instead (§7.1), a "
            "hardware argument without an accuracy measurement."
        ),
        claim_short="pad with ±1 rather than zero, for the hardware (no accuracy claim)",
        expected=0,
        baseline="pad with +1",
        variants={"pad with 0": {"pad_value": 0.0}},
        note=(
            "With +1 padding LCE runs the layer as one bit-packed convolution; the question "
            "here is only whether the choice costs accuracy."
        ),
    ),
    Ablation(
        key="gain",
        name="Gain term",
        title="Gain term: plain sign against magnitude-aware sign",
        sections=("§3.2", "§7.1"),
        claim=(
            "XNOR-Net's gain term, a real scale that puts back part of the magnitude the "
            "sign throws away, raises accuracy but is costly to compute (§3.2); a cheaper "
            "gain term could be 'a big addition' to binary accuracy (§7.1)."
        ),
        claim_short="a gain term improves binary accuracy",
        expected=+1,
        baseline="sign",
        variants={"magnitude-aware sign": {"magnitude_aware_sign": True}},
        note=(
            "The variant scales each output channel's sign(w) by that channel's mean |w| "
            "(larq's MagnitudeAwareSign, XNOR-Net's weight gain). Batch normalization "
            "directly follows every binary layer here, and a positive per-channel scale "
            "passes through max-pooling and is divided out by the normalization (up to its "
            "ε), so the two networks should train almost alike; XNOR-Net's input gain, "
            "which varies over positions, is not tested."
        ),
    ),
    Ablation(
        key="batch_norm",
        name="Batch norm",
        title="Batch normalization after or before max-pooling",
        sections=("§4.3", "§7"),
        claim=(
            "Where and how to use batch normalization in reduced-precision networks "
            "'proved crucial' (§7); the report tried batch normalization after layers "
            "(§4.3) but compared no placements."
        ),
        claim_short="batch-norm placement matters (no measurement given)",
        expected=0,
        baseline="after the pool",
        variants={"before the pool": {"bn_after_pool": False}},
        note=(
            "The max over a window of normalized values is mostly positive, so a sign after "
            "it sees a biased input; normalizing after the pool (larq's zoo) recentres it."
        ),
    ),
    Ablation(
        key="recipe_binary",
        name="Recipe (binary)",
        title="The report's recipe against the course's, binary AlexNet",
        sections=("§5.1", "§5.4", "§7"),
        claim=(
            "The report's binary AlexNet reached 50.3% validation accuracy on two classes "
            "(Table 5.2), barely above chance, with Adam at a constant 1e-3, batch "
            "normalization directly after each layer and no augmentation; it put the gap "
            "down to the small dataset and the difficulty of training binary networks."
        ),
        claim_short="the report's recipe trains binary AlexNet (no measurement of changes)",
        expected=0,
        baseline="report's recipe",
        baseline_overrides={"learning_rate": 1e-3, "lr_schedule": "constant",
                            "warmup_epochs": 0, "bn_after_pool": False, "augment": False,
                            "dropout": 0.0},
        variants={
            "+ batch norm after the pool": {"bn_after_pool": True},
            "+ the course's learning-rate schedule": {
                "bn_after_pool": True, **dict.fromkeys(SCHEDULE_FIELDS, FROM_PROFILE)},
            "course's recipe (+ augmentation, dropout 0.5)": {
                "bn_after_pool": True, **dict.fromkeys(SCHEDULE_FIELDS, FROM_PROFILE),
                "augment": FROM_PROFILE, "dropout": 0.5},
        },
        note=(
            "The changes are added one after the other, each condition keeping the ones "
            "before it, so the differences to the report's recipe show how far each step "
            "brings the network. The last condition is the baseline of the other "
            "ablations. On digits, not photos: the steps that matter may differ there."
        ),
    ),
    Ablation(
        key="recipe_float",
        name="Recipe (float)",
        title="The report's recipe against the course's, float AlexNet",
        sections=("§5.3", "§5.4"),
        claim=(
            "The report's float AlexNet reached 57.5% validation accuracy on two classes "
            "(Table 5.2) with Adam at a constant 1e-3, no batch normalization, no dropout "
            "and no augmentation."
        ),
        claim_short="the report's recipe trains float AlexNet (no measurement of changes)",
        expected=0,
        baseline="report's recipe",
        baseline_overrides={"precision": "fp32", "batch_norm": False, "learning_rate": 1e-3,
                            "lr_schedule": "constant", "warmup_epochs": 0, "augment": False,
                            "dropout": 0.0},
        variants={
            "+ batch norm": {"batch_norm": True},
            "+ the course's learning-rate schedule": {
                "batch_norm": True, **dict.fromkeys(SCHEDULE_FIELDS, FROM_PROFILE)},
            "course's recipe (+ augmentation, dropout 0.5)": {
                "batch_norm": True, **dict.fromkeys(SCHEDULE_FIELDS, FROM_PROFILE),
                "augment": FROM_PROFILE, "dropout": 0.5},
        },
        note=(
            "As for the binary network, the changes accumulate; the last condition is the "
            "float end of the bit-width sweep."
        ),
    ),
    Ablation(
        key="range",
        name="8-bit ranges",
        title="8 bits: the report's fixed ranges against learned and per-channel ones",
        sections=("§4.4", "§5.2", "§6.2"),
        claim=(
            "8-bit networks lose accuracy to float: 53.2% against 57.5% validation accuracy "
            "for AlexNet and 53.4% against 54.9% for GoogLeNet (Tables 5.2, 6.2). The "
            "report's 8-bit layers put activations on a fixed grid over [0, 1) and weights "
            "on a fixed grid over [-1, 1) (§4.4, eq. 4.6)."
        ),
        claim_short="8 bits cost accuracy against float",
        expected=+1,
        baseline="fixed ranges (report)",
        baseline_overrides={"precision": "int8"},
        claim_variants=("float",),
        variants={
            "learned activation range": {"activation_range": "learned"},
            "per-channel weight range": {"weight_range": "per_channel"},
            "both": {"activation_range": "learned", "weight_range": "per_channel"},
            "int8_qat (tfmot)": {"precision": "int8_qat"},
            "float": {"precision": "fp32"},
        },
        note=(
            "Every condition is AlexNet at 8 bits with the same recipe, except the float "
            "reference. A learned activation range is PACT's clip [0, α] with α trained "
            "(utils.quantizers.LearnedRangeReLU); a per-channel weight range scales each "
            "output channel's grid to its largest weight (PerChannelKBitQuantizer); "
            "int8_qat is the field's complete scheme (tfmot: affine activations with "
            "ranges from moving min/max, per-channel int8 weights, batch norm folded). "
            "Only the float condition tests the report's claim (8 bits against float); the "
            "other variants are 8-bit networks too, and their difference to the baseline is "
            "what the report's fixed ranges cost at 8 bits, not what 8 bits cost."
        ),
    ),
    Ablation(
        key="bits",
        name="Bit width",
        title="Bit width: 1, 2, 4, 8, 16 and 32 bits",
        sections=("§4.4", "§5.2", "§5.4"),
        claim=(
            "More bits, more accuracy: float AlexNet reached 57.5%, 8-bit 53.2% and binary "
            "50.3% validation accuracy (Table 5.2); the report tried only 1, 8 and 32 bits."
        ),
        claim_short="float > 8-bit > binary",
        expected=+1,
        baseline="1 bit (binary)",
        variants={
            "2 bits": {"precision": "int2"},
            "4 bits": {"precision": "int4"},
            "8 bits": {"precision": "int8"},
            "16 bits": {"precision": "int16"},
            "32 bits (float)": {"precision": "fp32"},
        },
        note=(
            "Binary layers use the sign; k-bit layers the k-bit quantizer of eq. 4.6 with a "
            "quantized ReLU (§4.4); the float network ReLU. Every precision keeps batch "
            "normalization and the same recipe. 2 bits is the k-bit grid {-1, -0.5, 0, 0.5}, "
            "not ternary. Where Glorot's initial weights would all round to zero on the "
            "coarse 2- and 4-bit grids (steps of 0.5 and 0.125), the k-bit kernels start "
            "uniform in [-step, step] instead (utils.models), so that those networks can "
            "learn at all; 8 and 16 bits keep Glorot's start. Every k-bit width, 16 bits "
            "included, keeps the report's fixed ranges: the quantized ReLU "
            "(utils.quantizers.QuantizedReLU) clips every activation to [0, 1), and more "
            "bits make that grid finer, not wider. A gap between 16 bits and float "
            "therefore measures that clipping, not a lack of bits (a 16-bit grid is 256 "
            "times finer than the 8-bit one); the range ablation shows, at 8 bits, how much "
            "of such a gap a learned activation range recovers."
        ),
        sweep=True,
    ),
)


def get_ablation(key: str) -> Ablation:
    """The ablation named ``key``; ValueError listing the keys otherwise."""
    for ablation in ABLATIONS:
        if ablation.key == key:
            return ablation
    raise ValueError(f"unknown ablation {key!r}; accepted: "
                     f"{', '.join(a.key for a in ABLATIONS)}")


@dataclass(frozen=True)
class AblationSettings:
    """Seeds and recipe changes of one profile.

    ``overrides`` go on top of ``make_config("alexnet", "binary", dataset, profile)`` and
    :data:`BASE_OVERRIDES`; ``seeds`` are used for every ablation, ``sweep_seeds`` for the
    bit-width sweep.
    """

    seeds: tuple[int, ...]
    sweep_seeds: tuple[int, ...]
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def seeds_for(self, ablation: Ablation) -> tuple[int, ...]:
        return self.sweep_seeds if ablation.sweep else self.seeds


# Explicit in every profile so that all conditions (the float sweep end included) share them:
# batch normalization after every layer, and AlexNet's dropout 0.5.
BASE_OVERRIDES: dict[str, Any] = {"batch_norm": True, "dropout": 0.5}

# quick: chosen by measurement on a 2-core CPU (mnist5k, 3,500 training images). A 6-epoch run
# of binary AlexNet (67 px, width 0.25) took 28 s: 5.0 s for the first epoch (with tracing),
# 2.7 s for each later one, and about 9 s for loading, building, evaluating and saving; 8-bit
# and float runs took 30-33 s on a busier machine. The plan then had 14 distinct configs x 3
# seeds = 42 runs, about 19 minutes on an idle machine, under the 30-minute budget of the
# notebook with room for a loaded one; it has grown since (plan_table: 25 distinct configs per
# seed); a course folder that holds the committed records trains none of them. After 6
# epochs the baseline reaches 93.6-94.6% test accuracy (96.2% after
# the main recipe's 15), so the comparisons are of training that has nearly, not fully,
# converged. Three seeds everywhere, the sweep included, where the widths of 8 bits and more
# may differ by little. smoke: one tiny epoch per config, for tests. full: the full profile's
# recipe (227 px, full width, 30 epochs with early stopping), for a GPU.
ABLATION_PROFILES: dict[str, AblationSettings] = {
    "smoke": AblationSettings(seeds=(0,), sweep_seeds=(0,), overrides={"epochs": 1, "limit": 32}),
    "quick": AblationSettings(seeds=(0, 1, 2), sweep_seeds=(0, 1, 2), overrides={"epochs": 6}),
    "full": AblationSettings(seeds=(0, 1, 2), sweep_seeds=(0, 1, 2)),
}


def ablation_settings(profile: str) -> AblationSettings:
    """The seeds and recipe changes of ``profile``; ValueError for an unknown profile."""
    if profile not in ABLATION_PROFILES:
        raise ValueError(f"unknown profile {profile!r}; accepted: "
                         f"{', '.join(ABLATION_PROFILES)}")
    return ABLATION_PROFILES[profile]


def base_config(profile: str = "quick", dataset: str = "mnist5k", seed: int = 0):
    """The shared baseline: binary AlexNet with ``profile``'s recipe and the ablation settings."""
    settings = ablation_settings(profile)
    return make_config(MODEL, BASE_PRECISION, dataset=dataset, profile=profile,
                       **{**BASE_OVERRIDES, **settings.overrides, "seed": seed})


def settings_table(profile: str = "quick", dataset: str = "mnist5k") -> pd.DataFrame:
    """The baseline's settings and the seeds of ``profile``, one row per setting."""
    settings = ablation_settings(profile)
    config = base_config(profile, dataset).to_dict()
    config.pop("seed")
    rows = {**config, "seeds": ", ".join(map(str, settings.seeds)),
            "seeds of the bit-width sweep": ", ".join(map(str, settings.sweep_seeds))}
    return pd.DataFrame({"baseline": {name: str(value) for name, value in rows.items()}})


@dataclass(frozen=True)
class PlannedRun:
    """One (ablation, condition, seed) and the config that trains it."""

    ablation: str
    condition: str
    is_baseline: bool
    seed: int
    config: TrainConfig


def _selected(keys: Iterable[str] | None) -> list[Ablation]:
    return list(ABLATIONS) if keys is None else [get_ablation(key) for key in keys]


def plan(profile: str = "quick", dataset: str = "mnist5k",
         keys: Iterable[str] | None = None) -> list[PlannedRun]:
    """Every (ablation, condition, seed) of ``profile`` with its config, in display order."""
    settings = ablation_settings(profile)
    runs = []
    for ablation in _selected(keys):
        for seed in settings.seeds_for(ablation):
            base = base_config(profile, dataset, seed)
            for label, config in ablation.configs(base):
                runs.append(PlannedRun(ablation.key, label, label == ablation.baseline, seed,
                                       config))
    return runs


def unique_configs(planned: Sequence[PlannedRun]) -> dict[str, list[PlannedRun]]:
    """Planned runs grouped by config hash (identical configs train once), in plan order."""
    groups: dict[str, list[PlannedRun]] = {}
    for run in planned:
        groups.setdefault(run.config.config_hash(), []).append(run)
    return groups


def _describe(group: Sequence[PlannedRun]) -> str:
    first = group[0]
    if first.is_baseline and len(group) > 1:
        return f"baseline, seed {first.seed}"
    return f"{first.ablation}: {first.condition}, seed {first.seed}"


def plan_table(profile: str = "quick", dataset: str = "mnist5k",
               keys: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per distinct config: what it is, its seed, and which ablations use it."""
    rows = []
    for config_hash, group in unique_configs(plan(profile, dataset, keys)).items():
        rows.append({"run": _describe(group), "seed": group[0].seed,
                     "used by": ", ".join(sorted({run.ablation for run in group})),
                     "record": group[0].config.run_name, "config_hash": config_hash})
    return pd.DataFrame(rows)




def condition_bits(ablation: Ablation) -> dict[str, int]:
    """Bit width of each condition of a sweep (the baseline is binary: 1 bit)."""
    return {label: precision_bits(overrides.get("precision", BASE_PRECISION))
            for label, overrides in ablation.conditions}


def figure_name(key: str) -> str:
    """File name (without .png) of ablation ``key``'s figure, e.g. "07_ablation_loss"."""
    return f"{FIGURE_PREFIX}{key}"


RUN_COLUMNS = ["ablation", "condition", "is_baseline", "seed", "bits", "test_accuracy",
               "test_loss", "best_val_accuracy", "epochs_run", "train_time_s", "run_name",
               "chance_accuracy", "final_train_accuracy"]


def runs_frame(planned: Sequence[PlannedRun], records: Mapping[str, Mapping[str, Any]]
               ) -> pd.DataFrame:
    """One row per planned run whose record is in ``records`` (config hash -> record).

    Columns: ablation, condition, is_baseline, seed, bits, test_accuracy, test_loss,
    best_val_accuracy, epochs_run, train_time_s, run_name.
    """
    rows = []
    for run in planned:
        record = records.get(run.config.config_hash())
        if record is None:
            continue
        rows.append({
            "ablation": run.ablation, "condition": run.condition,
            "is_baseline": run.is_baseline, "seed": run.seed,
            "bits": precision_bits(run.config.precision),
            "test_accuracy": record["test_accuracy"], "test_loss": record.get("test_loss"),
            "best_val_accuracy": record.get("best_val_accuracy"),
            "epochs_run": record.get("epochs_run"), "train_time_s": record.get("train_time_s"),
            "run_name": record.get("run_name"),
            "chance_accuracy": 1.0 / record["dataset"]["num_classes"],
            "final_train_accuracy": record["history"]["accuracy"][-1],
        })
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def measured(runs: pd.DataFrame) -> list[str]:
    """Keys of the ablations with a baseline run and at least one variant run (either alone
    is not a comparison), in the order of :data:`ABLATIONS`."""
    baseline = runs["is_baseline"].astype(bool)
    keys = set(runs.loc[baseline, "ablation"]) & set(runs.loc[~baseline, "ablation"])
    return [ablation.key for ablation in ABLATIONS if ablation.key in keys]


def load_runs(profile: str = "quick", dataset: str = "mnist5k", results_dir="results",
              keys: Iterable[str] | None = None) -> pd.DataFrame:
    """The runs of ``profile`` whose records exist in ``results_dir`` (nothing is trained)."""
    planned = plan(profile, dataset, keys)
    records = {}
    for config_hash, group in unique_configs(planned).items():
        path = record_path(results_dir, group[0].config)
        if path.exists():
            records[config_hash] = load_record(path)
    return runs_frame(planned, records)


def run_ablations(profile: str = "quick", dataset: str = "mnist5k", *,
                  results_dir: str | Path = "results", data_dir: str | Path = "data",
                  keys: Iterable[str] | None = None, force: bool = False,
                  verbose: int = 0) -> pd.DataFrame:
    """Train every distinct config of the ablations once (or read its record); the runs frame.

    A config whose record exists in ``results_dir`` is read, not retrained, unless
    ``force``. Models, checkpoints and logs go next to ``results_dir``, as for every run
    (:func:`utils.train.run_configs`).
    """
    from utils.train import run_configs

    planned = plan(profile, dataset, keys)
    configs = [group[0].config for group in unique_configs(planned).values()]
    records = run_configs(configs, results_dir=results_dir, data_dir=data_dir, force=force,
                          verbose=verbose)
    return runs_frame(planned, {record["config_hash"]: record for record in records})


# A measured difference in the claimed direction "agrees" in size when it is within this
# factor of the claimed size (only where the report gives a size).
SIZE_FACTOR = 3.0
# A run "did not train" when its test accuracy is within this many points of chance.
CHANCE_MARGIN = 5.0


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per ablation and condition: seeds, mean, std, min, max test accuracy, difference to
    the baseline, its standard error, and whether it is beyond the seed spread.

    Accuracies and differences are in percentage points; std is the sample standard
    deviation over seeds (NaN for one seed); ``se_diff`` is ``sqrt(s_b²/n_b + s_v²/n_v)``
    and ``beyond_spread`` is ``|diff| > 2 se_diff`` (False with fewer than two seeds);
    ``chance`` is chance accuracy and ``trained`` how many seeds got beyond
    :data:`CHANCE_MARGIN` points above it. Index: (ablation, condition), conditions in the
    order of the runs frame.
    """
    columns = ["seeds", "mean", "std", "min", "max", "diff", "se_diff", "beyond_spread",
               "chance", "trained"]
    if runs.empty:
        return pd.DataFrame(columns=columns,
                            index=pd.MultiIndex.from_tuples([], names=["ablation", "condition"]))
    accuracy = runs.assign(accuracy=100.0 * runs["test_accuracy"])
    table = seed_summary(accuracy, ["ablation", "condition"], "accuracy")
    baseline_of = accuracy[accuracy["is_baseline"]].groupby("ablation", sort=False)["condition"]
    rows = []
    for (ablation, _condition), row in table.iterrows():
        base_condition = baseline_of.first().get(ablation)
        base = table.loc[(ablation, base_condition)] if base_condition is not None else None
        rows.append(difference(row, base))
    table[["diff", "se_diff", "beyond_spread"]] = pd.DataFrame(rows, index=table.index)
    table["beyond_spread"] = table["beyond_spread"].astype(bool)
    chance = 100.0 * accuracy.get("chance_accuracy", pd.Series(0.1, index=accuracy.index))
    grouped = accuracy.assign(chance=chance, trained=accuracy["accuracy"] > chance
                              + CHANCE_MARGIN).groupby(["ablation", "condition"], sort=False)
    table["chance"] = grouped["chance"].first()
    table["trained"] = grouped["trained"].sum().astype(int)
    return table[columns]


def condition_table(summary: pd.DataFrame, key: str) -> pd.DataFrame:
    """The rows of one ablation, indexed by condition, rounded for display."""
    return summary.xs(key, level="ablation").round(2)


def _stats(summary: pd.DataFrame, key: str, condition: str) -> str:
    row = summary.loc[(key, condition)]
    spread = f" ± {row['std']:.1f}" if row["seeds"] > 1 else ""
    return f"{condition} {row['mean']:.1f}{spread}%"


def _assessment(ablation: Ablation, diff: float, beyond: bool, seeds: int) -> str:
    if seeds < 2:
        return "Undecided: one seed per condition gives no spread to judge the difference by."
    direction = "better" if diff > 0 else "worse"
    if ablation.expected == 0:
        if beyond:
            return (f"The report made no accuracy claim; the variant is {direction}, by more "
                    "than the seed spread.")
        return "The report made no accuracy claim; the difference is within the seed spread."
    if not beyond:
        return "Not confirmed: the difference is within the seed-to-seed spread."
    if (diff > 0) == (ablation.expected > 0):
        claimed = ablation.claimed_points
        if claimed and not 1 / SIZE_FACTOR <= diff / claimed <= SIZE_FACTOR:
            return (f"The direction agrees with the report, the size does not: {diff:+.1f} "
                    f"points measured against about {claimed:+.1f} claimed.")
        return "Agrees with the report."
    return f"Contradicts the report: the variant is {direction}, by more than the seed spread."


def _side_assessment(diff: float, beyond: bool, seeds: int) -> str:
    """The verdict on a variant that does not test the report's claim (see
    :attr:`Ablation.claim_variants`): what it measured, unscored."""
    if seeds < 2:
        return "Not a test of the report's claim; one seed gives no spread to judge by."
    if not beyond:
        return "Not a test of the report's claim; the difference is within the seed spread."
    direction = "better" if diff > 0 else "worse"
    return (f"Not a test of the report's claim; the variant is {direction}, by more than the "
            "seed spread.")


def _did_not_train(row: pd.Series) -> bool:
    """Most seeds stayed at chance: one lucky seed does not make a condition that trains."""
    return 2 * row["trained"] < row["seeds"]


def _at_chance(row: pd.Series) -> str:
    """"every seed" or "2 of 3 seeds", the seeds of ``row`` that stayed at chance."""
    stuck = int(row["seeds"] - row["trained"])
    return "every seed" if stuck == row["seeds"] else f"{stuck} of {int(row['seeds'])} seeds"


def _failure(ablation: Ablation, summary: pd.DataFrame, label: str) -> str:
    row = summary.loc[(ablation.key, label)]
    return (f"{label} did not train: {_at_chance(row)} stayed at chance ({row['mean']:.1f}% "
            f"against {row['chance']:.0f}% chance), so its {row['diff']:+.1f} points are the "
            "size of a failure to train, not an effect of the setting.")


def _pair_verdict(ablation: Ablation, summary: pd.DataFrame) -> str:
    baseline = summary.loc[(ablation.key, ablation.baseline)]
    if _did_not_train(baseline):
        return (f"The baseline ({ablation.baseline}) did not train: {_at_chance(baseline)} "
                "stayed at chance, so no difference here measures the setting.")
    parts = []
    for label in ablation.variants:
        if (ablation.key, label) not in summary.index:
            continue
        row = summary.loc[(ablation.key, label)]
        if _did_not_train(row):
            parts.append(_failure(ablation, summary, label))
            continue
        spread = ("beyond the seed spread" if row["beyond_spread"] else "within the seed spread")
        if row["seeds"] < 2:
            spread = "one seed, so no spread"
        assessment = (_assessment(ablation, row["diff"], row["beyond_spread"], row["seeds"])
                      if ablation.tests_claim(label)
                      else _side_assessment(row["diff"], row["beyond_spread"], row["seeds"]))
        parts.append(
            f"{_stats(summary, ablation.key, ablation.baseline)} against "
            f"{_stats(summary, ablation.key, label)}: {row['diff']:+.1f} points "
            f"({spread}). {assessment}"
        )
    return " ".join(parts)


def _sweep_verdict(ablation: Ablation, summary: pd.DataFrame) -> str:
    rows = summary.xs(ablation.key, level="ablation")
    bits = condition_bits(ablation)
    rows = rows.assign(bits=[bits[label] for label in rows.index]).sort_values("bits")
    means = ", ".join(f"{row.bits} bit{'s' if row.bits > 1 else ''} {row.mean:.1f}%"
                      for row in rows.itertuples())
    text = f"Mean test accuracy: {means}."
    dead = [f"{row.bits}" for row in rows.itertuples() if 2 * row.trained < row.seeds]
    if dead:
        text += (f" Did not train (most seeds at chance): {', '.join(dead)} "
                 f"bit{'s' if dead != ['1'] else ''}.")
    widest = rows.iloc[-1]
    errors = [standard_error(row, widest) for _, row in rows.iloc[:-1].iterrows()]
    if not errors or any(math.isnan(error) for error in errors):
        return text + " Undecided: one seed per width gives no spread to judge by."
    close = [f"{int(row['bits'])}" for (_, row), error in zip(rows.iloc[:-1].iterrows(), errors,
                                                               strict=True)
             if abs(row["mean"] - widest["mean"]) <= SPREAD_FACTOR * error]
    text += (f" Within the seed spread of {int(widest['bits'])} bits: "
             f"{', '.join(close) + ' bits' if close else 'no narrower width'}.")
    by_bits = rows.set_index("bits")["mean"]
    order = [by_bits[b] for b in (1, 8, 32) if b in by_bits.index]
    if len(order) == 3 and order[0] < order[1] < order[2]:
        return text + " The report's order (float > 8-bit > binary) holds in the means."
    return text + " The report's order (float > 8-bit > binary) does not hold in the means."


def verdict(key: str, summary: pd.DataFrame) -> str:
    """The report's claim against the measurement of ablation ``key``, in two sentences or so.

    "Agrees" needs a difference beyond the seed spread in the claimed direction; a difference
    within the spread leaves the claim not confirmed (see the module docstring for the rule).
    """
    ablation = get_ablation(key)
    present = set(summary.index)
    if not any((key, label) in present for label in ablation.variants) or (
            (key, ablation.baseline) not in present):
        return f"Report ({ablation.section_text}): {ablation.claim_short}. Not measured yet."
    head = f"Report ({ablation.section_text}): {ablation.claim_short}. Measured: "
    if ablation.sweep:
        return head + _sweep_verdict(ablation, summary)
    return head + _pair_verdict(ablation, summary)


def _rows(runs: pd.DataFrame, key: str) -> pd.DataFrame:
    rows = runs[runs["ablation"] == key]
    if rows.empty:
        raise ValueError(f"no runs of ablation {key!r} in the runs frame")
    return rows.assign(accuracy=100.0 * rows["test_accuracy"])


def plot_ablation(runs: pd.DataFrame, key: str) -> Figure:
    """Test accuracy of every seed (points) and the mean ± std (bar) per condition."""
    ablation = get_ablation(key)
    if ablation.sweep:
        return plot_bit_sweep(runs, key)
    rows = _rows(runs, key)
    labels = list(dict.fromkeys(rows["condition"]))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(labels), 3.6))
    rng = np.random.default_rng(0)
    for position, label in enumerate(labels):
        values = rows.loc[rows["condition"] == label, "accuracy"].to_numpy()
        color = "tab:gray" if position == 0 else "tab:orange"
        seed_label = {0: "one seed, baseline", 1: "one seed, variant"}.get(position)
        ax.scatter(position + rng.uniform(-0.08, 0.08, len(values)), values, color=color,
                   alpha=0.8, zorder=3, label=seed_label)
        spread = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.errorbar(position + 0.25, values.mean(), yerr=spread, fmt="D", color="black",
                    capsize=4, zorder=4, label="mean ± std" if position == 0 else None)
    # wrapped to the 1.6 inches each condition gets, so long names do not run together
    ax.set_xticks(range(len(labels)), [textwrap.fill(label, 18) for label in labels])
    ax.set_xlim(-0.5, len(labels) - 0.5)
    return finish_axes(ax, ylabel="test accuracy (%)",
                       title=f"{ablation.title}\n(report {ablation.section_text})", title_size=10,
                       grid="y", legend={"loc": "best"})


def plot_bit_sweep(runs: pd.DataFrame, key: str = "bits") -> Figure:
    """Test accuracy against bit width (log2 axis): every seed as a point, the mean as a line."""
    rows = _rows(runs, key)
    means = rows.groupby("bits")["accuracy"].agg(["mean", "std"]).sort_index()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.scatter(rows["bits"], rows["accuracy"], color="tab:orange", alpha=0.7, zorder=3,
               label="one seed")
    ax.errorbar(means.index, means["mean"], yerr=means["std"].fillna(0.0), color="black",
                marker="D", capsize=4, zorder=4, label="mean ± std")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(means.index), [str(bits) for bits in means.index])
    ablation = get_ablation(key)
    return finish_axes(ax, xlabel="bits of weights and activations (32 = float)",
                       ylabel="test accuracy (%)",
                       title=f"{ablation.title}\n(report {ablation.section_text})", title_size=10,
                       grid=True, legend={"loc": "lower right"})


def plot_differences(summary: pd.DataFrame) -> Figure:
    """Every variant's difference to its baseline, ± twice its standard error (one panel)."""
    wanted = [(ablation.key, label) for ablation in ABLATIONS if not ablation.sweep
              for label in ablation.variants if (ablation.key, label) in summary.index]
    if not wanted:
        raise ValueError("no ablation variant in the summary to plot")
    rows = summary.loc[wanted]
    fig, ax = plt.subplots(figsize=(6.5, 0.5 * max(len(rows), 2) + 1.2))
    labels = [f"{get_ablation(key).name}: {condition}" for key, condition in rows.index]
    positions = np.arange(len(rows))[::-1]
    colors = ["tab:orange" if beyond else "tab:gray" for beyond in rows["beyond_spread"]]
    ax.errorbar(rows["diff"], positions, xerr=SPREAD_FACTOR * rows["se_diff"].fillna(0.0),
                fmt="none", ecolor="black", capsize=3, zorder=2)
    ax.scatter(rows["diff"], positions, c=colors, zorder=3, s=40)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(positions, labels)
    return finish_axes(
        ax, xlabel="test accuracy difference to the baseline (points, ± 2 standard errors)",
        title="Ablations: variant minus baseline (orange: beyond the seed spread)",
        title_size=10, grid="x")
