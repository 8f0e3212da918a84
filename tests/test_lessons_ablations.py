"""Tests for utils.lessons.ablations (notebook 07): definitions, the magnitude-aware sign
option, hash stability, the summary and verdict math, figures, the report section, and the
notebook itself."""

import json
import math
from pathlib import Path

import larq as lq
import nbformat
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from matplotlib.figure import Figure

from utils import deploy
from utils.config import MAIN_SEEDS, TrainConfig, make_config
from utils.deploy import count_lce_ops
from utils.environment import lce_available
from utils.lessons import ablations
from utils.lessons.ablations import (
    ABLATION_PROFILES,
    ABLATIONS,
    condition_table,
    get_ablation,
    load_runs,
    measured,
    summary_table,
    verdict,
)
from utils.models import build_model
from utils.names import MAIN_MODELS, MAIN_PRECISIONS
from utils.quantizers import get_precision
from utils.records import write_json_atomic
from utils.report import build_report

ROOT = Path(__file__).resolve().parents[1]


# --- definitions -----------------------------------------------------------------------------


def test_the_issue_s_ablations_are_all_defined():
    assert [a.key for a in ABLATIONS] == ["loss", "dropout", "first_layer", "last_layer",
                                          "optimizer", "padding", "gain", "batch_norm",
                                          "recipe_binary", "recipe_float", "range", "bits"]
    for ablation in ABLATIONS:
        assert ablation.sections and all(s.startswith("§") for s in ablation.sections)
        assert ablation.claim and ablation.claim_short and ablation.note
        assert ablation.expected in (-1, 0, 1) and ablation.variants
    assert get_ablation("bits").sweep
    assert ablations.condition_bits(get_ablation("bits")) == {
        "1 bit (binary)": 1, "2 bits": 2, "4 bits": 4, "8 bits": 8, "16 bits": 16,
        "32 bits (float)": 32}
    with pytest.raises(ValueError, match="accepted: loss, dropout"):
        get_ablation("nope")


@pytest.mark.parametrize("profile", sorted(ABLATION_PROFILES))
def test_every_condition_is_a_valid_config_of_binary_alexnet(profile):
    planned = ablations.plan(profile, "mnist5k")
    assert all(isinstance(run.config, TrainConfig) for run in planned)
    assert {run.config.model for run in planned} == {"alexnet"}
    assert {run.config.profile for run in planned} == {profile}
    settings = ABLATION_PROFILES[profile]
    for ablation in ABLATIONS:
        runs = [run for run in planned if run.ablation == ablation.key]
        assert len(runs) == len(ablation.conditions) * len(settings.seeds_for(ablation))


@pytest.mark.parametrize("ablation", ABLATIONS, ids=lambda a: a.key)
def test_each_variant_differs_from_the_baseline_in_exactly_its_fields(ablation):
    shared = ablations.base_config("quick", "mnist5k", seed=1)
    (_, base), *variants = ablation.configs(shared)
    for (label, variant), overrides in zip(variants, ablation.variants.values(), strict=True):
        changed = {name for name, value in variant.to_dict().items()
                   if base.to_dict()[name] != value}
        # a field kept at the profile's value may equal the baseline's in this profile
        kept = {name for name, value in overrides.items() if value == ablations.FROM_PROFILE}
        assert set(overrides) - kept <= changed <= set(overrides), label
    assert ablation.fields == {name for o in ablation.variants.values() for name in o}


@pytest.mark.parametrize("profile", ["quick", "full"])
@pytest.mark.parametrize("key", ["recipe_binary", "recipe_float"])
def test_the_recipe_ablations_end_at_the_profile_s_own_recipe(profile, key):
    planned = ablations.plan(profile, "mnist5k", keys=[key, "bits"])
    recipe = [run for run in planned if run.ablation == key and run.seed == 0]
    report, *_, course = (run.config for run in recipe)
    assert (report.learning_rate, report.lr_schedule, report.warmup_epochs) == (
        1e-3, "constant", 0)
    assert not report.augment and report.dropout == 0.0
    precision = "binary" if key == "recipe_binary" else "fp32"
    expected = next(run.config for run in planned if run.ablation == "bits"
                    and run.seed == 0 and run.config.precision == precision)
    assert course.config_hash() == expected.config_hash()


def test_the_range_ablation_has_its_own_8_bit_baseline():
    planned = ablations.plan("quick", "mnist5k", keys=["range"])
    baselines = [run for run in planned if run.is_baseline]
    assert len(baselines) == 3
    assert all(run.condition == "fixed ranges (report)" for run in baselines)
    assert {run.config.precision for run in baselines} == {"int8"}
    # the fixed-range baseline and the float reference are the bit sweep's 8 and 32 bits
    sweep = {run.config.config_hash() for run in ablations.plan("quick", "mnist5k",
                                                                 keys=["bits"])}
    shared = {run.config.config_hash() for run in planned} & sweep
    assert len(shared) == 6  # 2 configs x 3 seeds, trained once for both ablations
    learned = next(run for run in planned if run.condition == "learned activation range")
    assert (learned.config.activation_range, learned.config.weight_range) == ("learned", "fixed")


def test_baseline_is_shared_and_trained_once_per_seed():
    planned = ablations.plan("quick", "mnist5k")
    own_baseline = {a.key for a in ABLATIONS if a.baseline_overrides}
    assert own_baseline == {"range", "recipe_binary", "recipe_float"}
    baselines = {run.seed: set() for run in planned}
    for run in planned:
        if run.is_baseline and run.ablation not in own_baseline:
            baselines[run.seed].add(run.config.config_hash())
    assert all(len(hashes) == 1 for hashes in baselines.values())
    # 1 baseline + 9 variants of the shared baseline + 5 extra bit widths + 4 range variants
    # (its baseline and float reference are the sweep's 8 and 32 bits) + 3 new conditions
    # in each recipe ablation (their last step is the baseline, resp. the sweep's float end),
    # for each quick seed
    seeds = ABLATION_PROFILES["quick"].seeds
    assert ABLATION_PROFILES["quick"].sweep_seeds == seeds
    assert len(ablations.plan_table("quick", "mnist5k")) == 25 * len(seeds)
    recipe = {run.condition: run.config.config_hash() for run in planned
              if run.ablation == "recipe_binary" and run.seed == seeds[0]}
    shared = next(run.config.config_hash() for run in planned
                  if run.ablation == "loss" and run.is_baseline and run.seed == seeds[0])
    assert recipe["course's recipe (+ augmentation, dropout 0.5)"] == shared
    base = ablations.base_config("quick", "mnist5k")
    assert base.precision == "binary" and base.batch_norm and base.dropout == 0.5
    assert base.image_size == 67 and base.width == 0.25 and base.epochs == 6


def test_settings_table_lists_the_baseline_recipe():
    table = ablations.settings_table("quick", "mnist5k")
    assert table.loc["precision", "baseline"] == "binary"
    assert table.loc["seeds", "baseline"] == "0, 1, 2"
    with pytest.raises(ValueError, match="accepted: smoke, quick, full"):
        ablations.settings_table("huge")


# --- magnitude-aware sign ----------------------------------------------------------------


def _magnitude_aware_quantizer():
    quantizer = get_precision("binary", magnitude_aware=True).hidden.layer_kwargs()[
        "kernel_quantizer"]
    assert isinstance(quantizer, lq.quantizers.MagnitudeAwareSign)
    return quantizer


def test_magnitude_aware_sign_scales_signs_by_the_channel_mean_magnitude():
    weights = np.random.default_rng(0).uniform(-1, 1, (3, 3, 4, 5)).astype("float32")
    weights[0, 0, 0, 0] = 0.0  # sign(0) = +1
    quantized = _magnitude_aware_quantizer()(tf.constant(weights)).numpy()
    scale = np.abs(weights).mean(axis=(0, 1, 2))  # one gain per output channel
    expected = np.where(weights >= 0, 1.0, -1.0) * scale
    np.testing.assert_allclose(quantized, expected, rtol=1e-6)
    assert len(np.unique(np.abs(quantized[..., 2]).round(6))) == 1


def test_magnitude_aware_sign_passes_a_scaled_straight_through_gradient():
    weights = tf.Variable([[0.5, -2.0], [-0.25, 0.75]])  # (inputs, channels)
    upstream = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(_magnitude_aware_quantizer()(weights) * upstream)
    gradient = tape.gradient(loss, weights).numpy()
    scale = np.abs(weights.numpy()).mean(axis=0)  # treated as a constant (no gradient)
    inside = np.abs(weights.numpy()) <= 1.0  # STE: cut where |w| > 1
    np.testing.assert_allclose(gradient, upstream.numpy() * scale * inside, rtol=1e-6)
    assert gradient[0, 1] == 0.0


def test_magnitude_aware_option_is_for_binary_only():
    assert isinstance(get_precision("binary", magnitude_aware=True).first.layer_kwargs()[
        "kernel_quantizer"], lq.quantizers.MagnitudeAwareSign)
    assert isinstance(get_precision("binary").hidden.layer_kwargs()["kernel_quantizer"],
                      lq.quantizers.SteSign)
    with pytest.raises(ValueError, match="needs precision 'binary', got 'int8'"):
        get_precision("int8", magnitude_aware=True)
    with pytest.raises(ValueError, match="magnitude_aware_sign .* needs precision 'binary'"):
        make_config("alexnet", "fp32", profile="smoke", magnitude_aware_sign=True)
    with pytest.raises(ValueError, match="magnitude_aware_sign must be True or False"):
        make_config("alexnet", "binary", profile="smoke", magnitude_aware_sign=1)


@pytest.mark.slow
def test_magnitude_aware_model_saves_and_reloads(tmp_path):
    model = build_model("alexnet", "binary", (67, 67, 1), 3, width=0.0625,
                        magnitude_aware_sign=True)
    kinds = {type(layer.kernel_quantizer).__name__ for layer in model.layers
             if getattr(layer, "kernel_quantizer", None) is not None}
    assert kinds == {"MagnitudeAwareSign"}
    images = np.random.default_rng(1).uniform(-1, 1, (2, 67, 67, 1)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = tf.keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(images, verbose=0),
                               model.predict(images, verbose=0), atol=1e-6)
    assert isinstance(loaded.get_layer("conv2").kernel_quantizer,
                      lq.quantizers.MagnitudeAwareSign)


def _two_binary_convolutions(kernel_quantizer):
    inputs = tf.keras.Input((8, 8, 16))
    x = inputs
    for index in range(2):
        x = lq.layers.QuantConv2D(8, 3, padding="same", pad_values=1.0, use_bias=False,
                                  input_quantizer="ste_sign", kernel_quantizer=kernel_quantizer,
                                  kernel_constraint="weight_clip", name=f"conv{index}")(x)
        x = tf.keras.layers.BatchNormalization(scale=False, name=f"bn{index}")(x)
    model = tf.keras.Model(inputs, x)
    rng = np.random.default_rng(2)
    for weight in model.weights:  # trained-looking batch-norm statistics (non-zero shift)
        low, high = (0.5, 2.0) if "variance" in weight.name else (-1.0, 1.0)
        weight.assign(rng.uniform(low, high, weight.shape).astype("float32"))
    return model


@pytest.mark.slow
@pytest.mark.skipif(not lce_available(), reason="larq-compute-engine not importable")
def test_lce_bit_packs_magnitude_aware_kernels():
    """LCE 0.16 turns magnitude-aware binary convolutions into LceBconv2d ops (the per-channel
    gain joins the output multiplier) and matches Keras when a batch norm with a non-zero
    shift follows, as in every trained network here. (Measured aside: between two such
    convolutions with no shift at all, e.g. an untrained batch norm, its output differs.)"""
    model = _two_binary_convolutions("magnitude_aware_sign")
    flatbuffer = deploy.convert_binary(model)
    assert count_lce_ops(flatbuffer).get("LceBconv2d") == 2
    images = np.random.default_rng(3).uniform(-1, 1, (4, 8, 8, 16)).astype("float32")
    np.testing.assert_allclose(deploy.TFLiteModel(flatbuffer).predict(images),
                               model.predict(images, verbose=0), atol=1e-4)
    alexnet = build_model("alexnet", "binary", (67, 67, 3), 10, width=0.125,
                          magnitude_aware_sign=True)
    assert count_lce_ops(deploy.convert_binary(alexnet)).get("LceBconv2d") == 6


# --- hash stability --------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(path for path in ROOT.glob("results/*_quick_*.json")
                                         if not path.name.startswith("ptq_")),
                         ids=lambda p: p.name)
def test_committed_records_keep_their_hash(path):
    record = json.loads(path.read_text())  # training records (02's PTQ record has no config)
    config = TrainConfig.from_dict(record["config"])
    assert config.config_hash() == path.stem.rsplit("_", 1)[1] == record["config_hash"]


def test_later_fields_enter_the_hash_only_when_used():
    config = make_config("alexnet", "binary", profile="quick")
    assert "magnitude_aware_sign" in config.to_dict()
    used = config.replace(magnitude_aware_sign=True)
    assert used.config_hash() != config.config_hash()
    assert used.replace(magnitude_aware_sign=False).config_hash() == config.config_hash()
    assert TrainConfig.from_dict(used.to_dict()).config_hash() == used.config_hash()


def test_committed_quick_records_hold_the_main_comparison_under_their_configs_names():
    """The notebooks find a record by the hash of the config they build: each network of the
    main comparison, at each quick seed, has a committed record named
    model_precision_dataset_profile_hash that holds that config and a finished run of it."""
    for model in MAIN_MODELS:
        for precision in MAIN_PRECISIONS:
            for seed in MAIN_SEEDS["quick"]:
                config = make_config(model, precision, profile="quick", seed=seed)
                name = f"{model}_{precision}_mnist5k_quick_{config.config_hash()}.json"
                path = ROOT / "results" / name
                assert path.exists(), f"no record {name} for {model} {precision} seed {seed}"
                record = json.loads(path.read_text())
                assert record["config"] == config.to_dict(), name
                assert record["config_hash"] == config.config_hash(), name
                assert len(record["history"]["loss"]) == record["epochs_run"] <= config.epochs
                assert 0.0 <= record["test_accuracy"] <= 1.0


# --- summary and verdicts ----------------------------------------------------------------


def _runs(values: dict[tuple[str, str], list[float]], bits: dict[str, int] | None = None):
    rows = []
    for (key, label), accuracies in values.items():
        baseline = label == get_ablation(key).baseline
        for seed, accuracy in enumerate(accuracies):
            rows.append({"ablation": key, "condition": label, "is_baseline": baseline,
                         "seed": seed, "bits": (bits or {}).get(label, 1),
                         "test_accuracy": accuracy})
    return pd.DataFrame(rows)


HAND_MADE = {
    ("loss", "cross-entropy"): [0.90, 0.92, 0.94],
    ("loss", "mean squared error"): [0.85, 0.86, 0.87],
    ("gain", "sign"): [0.93, 0.94, 0.95],
    ("gain", "magnitude-aware sign"): [0.94, 0.93, 0.96],
    ("padding", "pad with +1"): [0.93, 0.94, 0.95],
    ("padding", "pad with 0"): [0.90, 0.905, 0.91],
    ("dropout", "dropout 0.5"): [0.93, 0.94, 0.95],
    ("dropout", "no dropout"): [0.90, 0.905, 0.91],
    ("optimizer", "Adam"): [0.9],
    ("optimizer", "Bop"): [0.8],
}


def test_summary_table_math_on_hand_made_runs():
    summary = summary_table(_runs(HAND_MADE))
    base, variant = summary.loc[("loss", "cross-entropy")], summary.loc[("loss",
                                                                           "mean squared error")]
    assert (base["seeds"], base["mean"], base["std"], base["min"], base["max"]) == pytest.approx(
        (3, 92.0, 2.0, 90.0, 94.0))
    assert (variant["mean"], variant["std"], variant["diff"]) == pytest.approx((86.0, 1.0, -6.0))
    assert variant["se_diff"] == pytest.approx(math.sqrt(4 / 3 + 1 / 3))
    assert variant["beyond_spread"] and not base["beyond_spread"] and base["diff"] == 0.0
    gain = summary.loc[("gain", "magnitude-aware sign")]
    assert gain["diff"] == pytest.approx(1.0 / 3) and not gain["beyond_spread"]
    single = summary.loc[("optimizer", "Bop")]
    assert single["seeds"] == 1 and math.isnan(single["std"]) and math.isnan(single["se_diff"])
    assert single["diff"] == pytest.approx(-10.0) and not single["beyond_spread"]
    assert list(condition_table(summary, "loss").index) == [
        "cross-entropy", "mean squared error"]


def test_verdicts_put_claim_against_measurement():
    summary = summary_table(_runs(HAND_MADE))
    loss = verdict("loss", summary)
    assert loss.startswith("Report (§5.1, §5.2, §6.1): mean squared error costs about 1 point")
    assert "cross-entropy 92.0 ± 2.0% against mean squared error 86.0 ± 1.0%" in loss
    assert "-6.0 points (beyond the seed spread)" in loss and loss.endswith(
        "The direction agrees with the report, the size does not: -6.0 points measured "
        "against about -1.0 claimed.")
    close = {**HAND_MADE, ("loss", "cross-entropy"): [0.919, 0.92, 0.921],
             ("loss", "mean squared error"): [0.904, 0.905, 0.906]}  # -1.5 points
    close_summary = summary_table(_runs(close))
    assert close_summary.loc[("loss", "mean squared error"), "beyond_spread"]
    assert verdict("loss", close_summary).endswith("Agrees with the report.")
    assert "Not confirmed: the difference is within" in verdict("gain", summary)
    assert "no accuracy claim; the variant is worse" in verdict("padding", summary)
    assert "Contradicts the report: the variant is worse" in verdict("dropout",
                                                                                 summary)
    assert "Undecided: one seed" in verdict("optimizer", summary)
    assert verdict("bits", summary).endswith("Not measured yet.")


def test_a_condition_at_chance_is_reported_as_not_trained_not_as_an_effect():
    values = {**HAND_MADE, ("loss", "mean squared error"): [0.101, 0.098, 0.113],
              ("loss", "mean squared error, Adam 1e-3"): [0.90, 0.91, 0.92]}
    summary = summary_table(_runs(values))
    dead, alive = (summary.loc[("loss", label)] for label in (
        "mean squared error", "mean squared error, Adam 1e-3"))
    assert (dead["chance"], dead["trained"], alive["trained"]) == (10.0, 0, 3)
    assert dead["beyond_spread"]  # the statistics alone would call it a large effect
    text = verdict("loss", summary)
    assert "mean squared error did not train: every seed stayed at chance (10.4% against " \
           "10% chance), so its -81.6 points are the size of a failure to train" in text
    assert "Agrees with the report" not in text.split("did not train")[0]
    assert "cross-entropy 92.0 ± 2.0% against mean squared error, Adam 1e-3 91.0 ± 1.0%" in text
    one_alive = {**values, ("loss", "mean squared error"): [0.101, 0.098, 0.40]}
    assert summary_table(_runs(one_alive)).loc[("loss", "mean squared error"), "trained"] == 1
    assert "mean squared error did not train: 2 of 3 seeds stayed at chance (20.0% against " \
           "10% chance)" in verdict("loss", summary_table(_runs(one_alive)))
    two_alive = {**values, ("loss", "mean squared error"): [0.101, 0.38, 0.40]}
    assert "did not train" not in verdict("loss", summary_table(_runs(two_alive))).split(
        "Adam 1e-3")[0]
    dead_base = {**HAND_MADE, ("dropout", "dropout 0.5"): [0.1, 0.1, 0.1]}
    assert "The baseline (dropout 0.5) did not train" in verdict(
        "dropout", summary_table(_runs(dead_base)))


def test_chance_follows_the_number_of_classes():
    runs = _runs({("padding", "pad with +1"): [0.52, 0.53, 0.51],
                  ("padding", "pad with 0"): [0.80, 0.82, 0.81]}).assign(chance_accuracy=0.5)
    summary = summary_table(runs)
    assert list(summary["chance"]) == [50.0, 50.0]
    assert list(summary["trained"]) == [0, 3]
    assert "The baseline (pad with +1) did not train" in verdict("padding", summary)


def test_bit_sweep_verdict_and_figure():
    sweep = get_ablation("bits")
    bits = ablations.condition_bits(sweep)
    means = {1: 0.91, 2: 0.10, 4: 0.95, 8: 0.96, 16: 0.962, 32: 0.963}
    values = {("bits", label): [means[b] - 0.005, means[b], means[b] + 0.005]
              for label, b in bits.items()}
    runs = _runs(values, bits)
    summary = summary_table(runs)
    text = verdict("bits", summary)
    assert "1 bit 91.0%, 2 bits 10.0%, 4 bits 95.0%" in text
    assert "Did not train (most seeds at chance): 2 bits." in text
    assert "Within the seed spread of 32 bits: 8, 16 bits." in text
    assert text.endswith("(float > 8-bit > binary) holds in the means.")
    figure = ablations.plot_ablation(runs, "bits")
    assert isinstance(figure, Figure) and figure.axes[0].get_xscale() == "log"


def test_a_figure_for_every_measured_ablation_and_the_overview():
    runs = _runs(HAND_MADE)
    summary = summary_table(runs)
    assert set(measured(runs)) == {"loss", "gain", "padding", "dropout", "optimizer"}
    overview = ablations.plot_differences(summary)
    assert isinstance(overview, Figure) and overview.axes
    for key in measured(runs):
        assert isinstance(ablations.plot_ablation(runs, key), Figure)
    with pytest.raises(ValueError, match="no runs of ablation 'bits'"):
        ablations.plot_ablation(runs, "bits")


def _fake_record(config: TrainConfig, accuracy: float) -> dict:
    return {"run_name": config.run_name, "config": config.to_dict(),
            "config_hash": config.config_hash(),
            "history": {"epoch": [0], "accuracy": [accuracy]},
            "dataset": {"name": config.dataset, "num_classes": 10,
                        "is_offline_standin": True},
            "test_accuracy": accuracy, "test_loss": 1.0, "best_val_accuracy": accuracy,
            "epochs_run": 1, "train_time_s": 1.0}


def test_runs_are_read_from_records_and_the_report_section_is_written(tmp_path):
    results = tmp_path / "results"
    planned = ablations.plan("smoke", "mnist5k", keys=["loss", "bits"])
    for index, run in enumerate(planned):
        write_json_atomic(results / f"{run.config.run_name}.json",
                          _fake_record(run.config, 0.5 + 0.01 * index))
    runs = load_runs("smoke", "mnist5k", results)
    # the sweep's 8- and 32-bit records are also the range ablation's baseline and float
    assert measured(runs) == ["loss", "range", "bits"]
    every_plan = ablations.plan("smoke", "mnist5k")
    # the shared baseline record counts for the 7 other ablations that share it and as the
    # binary recipe's last step; the sweep's 32 bits as the float recipe's last step and the
    # range ablation's float reference, its 8 bits as the range ablation's baseline
    assert len(runs) == len(planned) + 7 + 4
    assert set(runs["ablation"]) == {a.key for a in ABLATIONS}
    assert runs.loc[runs["condition"] == "32 bits (float)", "bits"].tolist() == [32]
    # the recipe ablations' own baselines (the report's recipe) were not written
    assert runs["is_baseline"].sum() == len(ABLATIONS) - 2 == len(
        {run.ablation for run in every_plan if run.is_baseline}) - 2
    assert not {"recipe_binary", "recipe_float"} & set(measured(runs))
    assert load_runs("smoke", "mnist5k", results, keys=["loss"]).shape[0] == 3
    assert load_runs("smoke", "cats_and_dogs", results).empty
    report = build_report(results, tmp_path / "figures", tmp_path / "report",
                          profile="smoke").read_text()
    section = report[report.index("## Ablations"):]
    assert "### Loss: cross-entropy against mean squared error (report §5.1" in section
    assert "**Claim.**" in section and "**Verdict.** Report (§5.1" in section
    assert "### Dropout" not in section  # not measured
    empty = build_report(tmp_path / "none", tmp_path / "figures", tmp_path / "report2",
                         profile="smoke").read_text()
    assert "## Ablations" not in empty


# --- notebook --------------------------------------------------------------------------------


@pytest.mark.slow
def test_notebook_runs_in_smoke_profile_and_writes_figures_records_and_report(tmp_path):
    from utils.pipeline import run_pipeline

    dirs = {name: str(tmp_path / name) for name in ("figures", "results", "report", "executed")}
    run_pipeline("smoke", "mnist5k", root=ROOT, notebooks=["07_ablations.ipynb"],
                 figures_dir=dirs["figures"], results_dir=dirs["results"],
                 report_dir=dirs["report"], executed_dir=dirs["executed"])
    figures = {path.stem for path in (tmp_path / "figures").glob("*.png")}
    summary = summary_table(load_runs("smoke", "mnist5k", tmp_path / "results"))
    dead = bool((summary["trained"] < summary["seeds"]).any())  # one tiny epoch: likely
    assert figures == {ablations.OVERVIEW_FIGURE} | {ablations.figure_name(a.key)
                                                     for a in ABLATIONS} | (
        {ablations.NOT_TRAINED_FIGURE} if dead else set())
    records = list((tmp_path / "results").glob("alexnet_*_smoke_*.json"))
    assert len(records) == len(ablations.plan_table("smoke", "mnist5k"))
    report = (tmp_path / "report" / "README.md").read_text()
    assert "## Ablations" in report and report.count("**Verdict.**") == len(ABLATIONS)
    executed = nbformat.read(tmp_path / "executed" / "07_ablations.ipynb", as_version=4)
    assert any(cell.get("outputs") for cell in executed.cells)
