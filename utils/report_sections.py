"""The report's sections on the systems beyond the main comparison: what the hardware
computes and costs (notebook 08, ``results/energy.json``) and the related systems of the
reference folder (notebook 09, their training records). No TensorFlow here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from utils.markdown import figure_lines, markdown_table
from utils.records import load_record, record_path
from utils.related import SYSTEMS, system_configs, system_table
from utils.stats import difference

__all__ = ["energy_section", "related_section"]


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
