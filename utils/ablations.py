"""Ablations: controlled measurements of what the reference report only told or proposed.

The report describes several experiments in a sentence each (loss, dropout, binary first and
last layers; §4.3, §5.1, §6.1) and lists ideas it never tried (Bop, padding, gain terms,
batch-norm placement; §3.2, §7, §7.1). Each entry of :data:`ABLATIONS` turns one of them into
a controlled comparison:

- one network, binary AlexNet with the profile's recipe (:func:`base_config`);
- one setting changed, as :class:`~utils.config.TrainConfig` overrides, everything else equal;
- the same data split and the same seeds for every condition, several seeds per condition
  so that the seed-to-seed spread is measured and a difference can be read against it.

Every (ablation, condition, seed) is one :func:`utils.train.run_experiment` record. Conditions
that are the same config (the shared baseline of every ablation) hash to the same record and
are trained once. :func:`summary_table` gives mean, spread and the difference to the
baseline; :func:`verdict` puts the report's claim next to the measurement;
:func:`report_section` writes both into ``report/README.md``.

A difference counts as *beyond the seed spread* when it exceeds twice its standard error,
``sqrt(s_b²/n_b + s_v²/n_v)`` (sample standard deviations s over n seeds of the baseline b and
the variant v): a rough 95% screen, not a significance test, with three seeds per condition.

Nothing here imports TensorFlow until a function trains or builds a config.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "ABLATIONS",
    "ABLATION_PROFILES",
    "BASE_OVERRIDES",
    "FIGURE_PREFIX",
    "OVERVIEW_FIGURE",
    "Ablation",
    "AblationSettings",
    "PlannedRun",
    "base_config",
    "condition_bits",
    "condition_table",
    "figure_name",
    "get_ablation",
    "load_runs",
    "measured",
    "plan",
    "plan_table",
    "plot_ablation",
    "plot_bit_sweep",
    "plot_differences",
    "report_section",
    "run_ablations",
    "runs_frame",
    "save_figures",
    "settings_table",
    "summary_table",
    "verdict",
]

MODEL = "alexnet"
BASE_PRECISION = "binary"
FIGURE_PREFIX = "07_ablation_"
OVERVIEW_FIGURE = "07_ablations_overview"
# How many standard errors a difference must exceed to count as beyond the seed spread.
SPREAD_FACTOR = 2.0
# A measured difference in the claimed direction "agrees" in size when it is within this
# factor of the claimed size (only where the report gives a size).
SIZE_FACTOR = 3.0


# ---------------------------------------------------------------------------------------------
# What is compared
# ---------------------------------------------------------------------------------------------


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

    @property
    def conditions(self) -> list[tuple[str, dict[str, Any]]]:
        """(label, overrides) of every condition, the baseline (no overrides) first."""
        return [(self.baseline, {}), *((label, dict(v)) for label, v in self.variants.items())]

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
        variants={"mean squared error": {"loss": "mse"}},
        note=(
            "Squared error on a softmax output and cross-entropy are on different scales, "
            "so their loss values say nothing about each other, nor about confidence; only "
            "the accuracies are compared."
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
            "learn at all; 8 and 16 bits keep Glorot's start."
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


# ---------------------------------------------------------------------------------------------
# How long: settings per profile
# ---------------------------------------------------------------------------------------------


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
# and float runs took 30-33 s on a busier machine. 14 distinct configs x 3 seeds = 42 runs,
# about 19 minutes on an idle machine, under the 30-minute budget of the notebook with room
# for a loaded one. After 6 epochs the baseline reaches 93.6-94.6% test accuracy (96.2% after
# the main recipe's 15), so the comparisons are of training that has nearly, not fully,
# converged. Three seeds everywhere, the sweep included, where the widths of 8 bits and more
# may differ by little. smoke: one tiny epoch per config, for tests. full: the full profile's
# recipe (227 px, full width, 30 epochs with early stopping), for a GPU.
ABLATION_PROFILES: dict[str, AblationSettings] = {
    "smoke": AblationSettings(seeds=(0,), sweep_seeds=(0,), overrides={"epochs": 1, "limit": 32}),
    "quick": AblationSettings(seeds=(0, 1, 2), sweep_seeds=(0, 1, 2), overrides={"epochs": 6}),
    "full": AblationSettings(seeds=(0, 1, 2), sweep_seeds=(0, 1, 2)),
}


def _settings(profile: str) -> AblationSettings:
    if profile not in ABLATION_PROFILES:
        raise ValueError(f"unknown profile {profile!r}; accepted: "
                         f"{', '.join(ABLATION_PROFILES)}")
    return ABLATION_PROFILES[profile]


def base_config(profile: str = "quick", dataset: str = "mnist5k", seed: int = 0):
    """The shared baseline: binary AlexNet with ``profile``'s recipe and the ablation settings."""
    from utils.config import make_config  # imports TensorFlow

    settings = _settings(profile)
    return make_config(MODEL, BASE_PRECISION, dataset=dataset, profile=profile,
                       **{**BASE_OVERRIDES, **settings.overrides, "seed": seed})


def settings_table(profile: str = "quick", dataset: str = "mnist5k") -> pd.DataFrame:
    """The baseline's settings and the seeds of ``profile``, one row per setting."""
    settings = _settings(profile)
    config = base_config(profile, dataset).to_dict()
    config.pop("seed")
    rows = {**config, "seeds": ", ".join(map(str, settings.seeds)),
            "seeds of the bit-width sweep": ", ".join(map(str, settings.sweep_seeds))}
    return pd.DataFrame({"baseline": {name: str(value) for name, value in rows.items()}})


# ---------------------------------------------------------------------------------------------
# Which runs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRun:
    """One (ablation, condition, seed) and the config that trains it."""

    ablation: str
    condition: str
    is_baseline: bool
    seed: int
    config: Any  # utils.config.TrainConfig


def _selected(keys: Iterable[str] | None) -> list[Ablation]:
    return list(ABLATIONS) if keys is None else [get_ablation(key) for key in keys]


def plan(profile: str = "quick", dataset: str = "mnist5k",
         keys: Iterable[str] | None = None) -> list[PlannedRun]:
    """Every (ablation, condition, seed) of ``profile`` with its config, in display order."""
    settings = _settings(profile)
    runs = []
    for ablation in _selected(keys):
        for seed in settings.seeds_for(ablation):
            base = base_config(profile, dataset, seed)
            for label, overrides in ablation.conditions:
                runs.append(PlannedRun(ablation.key, label, not overrides, seed,
                                       base.replace(**overrides)))
    return runs


def _unique(planned: Sequence[PlannedRun]) -> dict[str, list[PlannedRun]]:
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
    for config_hash, group in _unique(plan(profile, dataset, keys)).items():
        rows.append({"run": _describe(group), "seed": group[0].seed,
                     "used by": ", ".join(sorted({run.ablation for run in group})),
                     "record": group[0].config.run_name, "config_hash": config_hash})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Running and collecting
# ---------------------------------------------------------------------------------------------


def _bits(precision: str) -> int:
    if precision == "binary":
        return 1
    if precision == "ternary":
        return 2
    if precision == "fp32":
        return 32
    return int(precision.removeprefix("int"))


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
            "bits": _bits(run.config.precision),
            "test_accuracy": record["test_accuracy"], "test_loss": record.get("test_loss"),
            "best_val_accuracy": record.get("best_val_accuracy"),
            "epochs_run": record.get("epochs_run"), "train_time_s": record.get("train_time_s"),
            "run_name": record.get("run_name"),
        })
    columns = ["ablation", "condition", "is_baseline", "seed", "bits", "test_accuracy",
               "test_loss", "best_val_accuracy", "epochs_run", "train_time_s", "run_name"]
    return pd.DataFrame(rows, columns=columns)


def measured(runs: pd.DataFrame) -> list[str]:
    """Keys of the ablations with at least one variant run (a baseline alone is not a
    comparison), in the order of :data:`ABLATIONS`."""
    keys = set(runs.loc[~runs["is_baseline"].astype(bool), "ablation"])
    return [ablation.key for ablation in ABLATIONS if ablation.key in keys]


def _record_path(results_dir: str | Path, config) -> Path:
    return Path(results_dir) / f"{config.run_name}.json"


def load_runs(profile: str = "quick", dataset: str = "mnist5k", results_dir="results",
              keys: Iterable[str] | None = None) -> pd.DataFrame:
    """The runs of ``profile`` whose records exist in ``results_dir`` (nothing is trained)."""
    from utils.records import load_record

    planned = plan(profile, dataset, keys)
    records = {}
    for config_hash, group in _unique(planned).items():
        path = _record_path(results_dir, group[0].config)
        if path.exists():
            records[config_hash] = load_record(path)
    return runs_frame(planned, records)


def run_ablations(profile: str = "quick", dataset: str = "mnist5k", *,
                  results_dir: str | Path = "results", keys: Iterable[str] | None = None,
                  force: bool = False, verbose: int = 0) -> pd.DataFrame:
    """Train every distinct config of the ablations once (or read its record); the runs frame.

    Identical configs (the baseline that every ablation shares) are trained once. A config
    whose record exists in ``results_dir`` is read, not retrained, unless ``force``. Models,
    checkpoints and logs go next to ``results_dir`` (its parent's models/, checkpoints/,
    logs/), as in :func:`utils.experiments.train_precisions`.
    """
    from utils.records import load_record
    from utils.train import run_experiment  # imports TensorFlow: only when training

    root = Path(results_dir).parent
    planned = plan(profile, dataset, keys)
    groups = _unique(planned)
    records = {}
    for number, (config_hash, group) in enumerate(groups.items(), start=1):
        config = group[0].config
        path = _record_path(results_dir, config)
        started = time.perf_counter()
        if path.exists() and not force:
            records[config_hash], status = load_record(path), "recorded"
        else:
            _, records[config_hash] = run_experiment(
                config, results_dir=results_dir, checkpoint_dir=root / "checkpoints",
                models_dir=root / "models", logs_dir=root / "logs", force=force,
                verbose=verbose)
            status = f"trained in {time.perf_counter() - started:.0f} s"
        print(f"[{number}/{len(groups)}] {_describe(group)}: test accuracy "
              f"{records[config_hash]['test_accuracy']:.4f} ({status})", flush=True)
    return runs_frame(planned, records)


# ---------------------------------------------------------------------------------------------
# Tables and verdicts
# ---------------------------------------------------------------------------------------------


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per ablation and condition: seeds, mean, std, min, max test accuracy, difference to
    the baseline, its standard error, and whether it is beyond the seed spread.

    Accuracies and differences are in percentage points; std is the sample standard
    deviation over seeds (NaN for one seed); ``se_diff`` is ``sqrt(s_b²/n_b + s_v²/n_v)``
    and ``beyond_spread`` is ``|diff| > 2 se_diff`` (False with fewer than two seeds).
    Index: (ablation, condition), conditions in the order of the runs frame.
    """
    columns = ["seeds", "mean", "std", "min", "max", "diff", "se_diff", "beyond_spread"]
    if runs.empty:
        return pd.DataFrame(columns=columns,
                            index=pd.MultiIndex.from_tuples([], names=["ablation", "condition"]))
    accuracy = runs.assign(accuracy=100.0 * runs["test_accuracy"])
    grouped = accuracy.groupby(["ablation", "condition"], sort=False)["accuracy"]
    table = grouped.agg(seeds="count", mean="mean", std="std", min="min", max="max")
    baseline_of = accuracy[accuracy["is_baseline"]].groupby("ablation", sort=False)["condition"]
    rows = []
    for (ablation, _condition), row in table.iterrows():
        base_condition = baseline_of.first().get(ablation)
        base = table.loc[(ablation, base_condition)] if base_condition is not None else None
        rows.append(_difference(row, base))
    table[["diff", "se_diff", "beyond_spread"]] = pd.DataFrame(rows, index=table.index)
    table["seeds"] = table["seeds"].astype(int)
    table["beyond_spread"] = table["beyond_spread"].astype(bool)
    return table[columns]


def _difference(row: pd.Series, base: pd.Series | None) -> tuple[float, float, bool]:
    """(diff, its standard error, beyond the spread) of one condition against the baseline."""
    if base is None:
        return math.nan, math.nan, False
    diff = row["mean"] - base["mean"]
    se = _standard_error(row, base)
    if math.isnan(se):
        return diff, se, False
    return diff, se, bool(abs(diff) > SPREAD_FACTOR * se)


def _standard_error(row: pd.Series, base: pd.Series) -> float:
    """sqrt(s²/n + s_b²/n_b) of a difference of means; NaN with fewer than two seeds."""
    if row["seeds"] < 2 or base["seeds"] < 2:
        return math.nan
    return math.sqrt(row["std"] ** 2 / row["seeds"] + base["std"] ** 2 / base["seeds"])


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


def _pair_verdict(ablation: Ablation, summary: pd.DataFrame) -> str:
    parts = []
    for label in ablation.variants:
        if (ablation.key, label) not in summary.index:
            continue
        row = summary.loc[(ablation.key, label)]
        spread = ("beyond the seed spread" if row["beyond_spread"] else "within the seed spread")
        if row["seeds"] < 2:
            spread = "one seed, so no spread"
        parts.append(
            f"{_stats(summary, ablation.key, ablation.baseline)} against "
            f"{_stats(summary, ablation.key, label)}: {row['diff']:+.1f} points "
            f"({spread}). {_assessment(ablation, row['diff'], row['beyond_spread'], row['seeds'])}"
        )
    return " ".join(parts)


def condition_bits(ablation: Ablation) -> dict[str, int]:
    """Bit width of each condition of a sweep (the baseline is binary: 1 bit)."""
    return {label: _bits(overrides.get("precision", BASE_PRECISION))
            for label, overrides in ablation.conditions}


def _sweep_verdict(ablation: Ablation, summary: pd.DataFrame) -> str:
    rows = summary.xs(ablation.key, level="ablation")
    bits = condition_bits(ablation)
    rows = rows.assign(bits=[bits[label] for label in rows.index]).sort_values("bits")
    means = ", ".join(f"{row.bits} bit{'s' if row.bits > 1 else ''} {row.mean:.1f}%"
                      for row in rows.itertuples())
    text = f"Mean test accuracy: {means}."
    widest = rows.iloc[-1]
    errors = [_standard_error(row, widest) for _, row in rows.iloc[:-1].iterrows()]
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


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def figure_name(key: str) -> str:
    """File name (without .png) of ablation ``key``'s figure, e.g. "07_ablation_loss"."""
    return f"{FIGURE_PREFIX}{key}"


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
        ax.scatter(position + rng.uniform(-0.08, 0.08, len(values)), values, color=color,
                   alpha=0.8, zorder=3, label="one seed" if position == 0 else None)
        spread = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.errorbar(position + 0.25, values.mean(), yerr=spread, fmt="D", color="black",
                    capsize=4, zorder=4, label="mean ± std" if position == 0 else None)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlim(-0.5, len(labels) - 0.5)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{ablation.title}\n(report {ablation.section_text})", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


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
    ax.set_xlabel("bits of weights and activations (32 = float)")
    ax.set_ylabel("test accuracy (%)")
    ablation = get_ablation(key)
    ax.set_title(f"{ablation.title}\n(report {ablation.section_text})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


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
    ax.set_xlabel("test accuracy difference to the baseline (points, ± 2 standard errors)")
    ax.set_title("Ablations: variant minus baseline (orange: beyond the seed spread)",
                 fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def save_figures(runs: pd.DataFrame, summary: pd.DataFrame,
                 figures_dir: str | Path = "figures") -> dict[str, Path]:
    """Save the overview and one figure per measured ablation; paths by figure name."""
    from utils.plots import save_fig

    figures = {OVERVIEW_FIGURE: plot_differences(summary)}
    for key in measured(runs):
        figures[figure_name(key)] = plot_ablation(runs, key)
    paths = {}
    for name, fig in figures.items():
        paths[name] = save_fig(fig, name, figures_dir)
        plt.close(fig)
    return paths


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _report_runs(results_dir: Path, profile: str) -> tuple[str, pd.DataFrame] | None:
    for dataset in ("cats_and_dogs", "mnist5k"):
        runs = load_runs(profile, dataset, results_dir)
        if measured(runs):
            return dataset, runs
    return None


def report_section(results_dir: str | Path = "results", figures_dir: str | Path = "figures",
                   report_dir: str | Path = "report", *, profile: str = "quick") -> str:
    """The report's ablations section (markdown), or "" when no ablation record exists.

    Per ablation: the report's claim, the table of conditions, the figure and the verdict.
    """
    from utils.report import _figure_lines, _markdown

    found = _report_runs(Path(results_dir), profile) if profile in ABLATION_PROFILES else None
    if found is None:
        return ""
    dataset, runs = found
    if not measured(runs):
        return ""
    summary = summary_table(runs)
    settings = _settings(profile)
    epochs = base_config(profile, dataset).epochs
    parts = [
        "## Ablations: the report's anecdotes, measured (notebook 07)\n",
        f"Binary AlexNet with the {profile} recipe trained for {_count(epochs, 'epoch')} on "
        f"{dataset}, {_count(len(settings.seeds), 'seed')} per condition "
        f"({len(settings.sweep_seeds)} in the bit-width sweep); one setting changes per "
        "ablation, the data and seeds stay the "
        "same. Accuracies are test accuracies in percent, `diff` is the variant's mean minus "
        "the baseline's in points, and a difference is *beyond the seed spread* when it "
        "exceeds twice its standard error.\n",
    ]
    parts += _figure_lines(Path(figures_dir), Path(report_dir), {
        OVERVIEW_FIGURE: "Every ablation: variant minus baseline, ± 2 standard errors"})
    keys = measured(runs)
    for ablation in map(get_ablation, keys):
        table = condition_table(summary, ablation.key).drop(columns=["se_diff"])
        parts.append(f"### {ablation.title} (report {ablation.section_text})\n\n"
                     f"**Claim.** {ablation.claim}\n\n*Note.* {ablation.note}\n\n"
                     + _markdown(table) + "\n")
        parts += _figure_lines(Path(figures_dir), Path(report_dir),
                               {figure_name(ablation.key): ablation.title})
        parts.append(f"**Verdict.** {verdict(ablation.key, summary)}\n")
    return "\n".join(parts)
