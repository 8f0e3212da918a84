"""Tables from records: the main comparison (report Table 6.1), the training benchmark, the
deployment tables, and Markdown rendering. No TensorFlow here.

Markdown pieces of the report: pipe tables and figure lines.
------------------------------------------------------------

:func:`markdown_table` renders a table as a pipe table; :func:`figure_lines` gives the image
lines, with captions, of the figures that exist, linked relative to the report's folder.

Tables that compare training runs, read only from results records (report §5.4, §6.4).
--------------------------------------------------------------------------------------

The report picks an "optimal epoch" by eye in TensorBoard: the epoch where training and
validation accuracy are close and high while the losses are low (§5.1). We make that rule
explicit and reproducible: the optimal epoch maximizes

    val_accuracy - |accuracy - val_accuracy|

(high validation accuracy, small gap to training accuracy), ties going to the lower
validation loss. Next to it we always show the best epoch (highest validation accuracy, the
one early stopping restores) and the final epoch, so that no choice hides another.

Runs of the main comparison are repeated over seeds: :func:`comparison_table` gives each
network and precision as mean ± std over its seeds, with the gap to float32 read against the
seed spread (:mod:`utils.records`); per-epoch tables show one seed and name it.

Tables read from a deployment record (``results/bench_deploy.json``).
---------------------------------------------------------------------

:mod:`utils.deploy_bench` measures real ``.tflite`` files and writes the record; the functions
here turn it into the tables of notebook 06 and the report: sizes and latencies
(:func:`size_table`), what the bytes of each file hold (:func:`composition_table`) and how far
a binary file is from the most its format allows (:func:`binary_ratio_ceiling`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from utils.config import t4_epoch_seconds
from utils.names import MAX_BITS, MIN_BITS, REFERENCE_ACCURACY, precision_bits
from utils.records import SUMMARY_COLUMNS, difference, is_stale, load_record, seed_summary

__all__ = ["BINARY_RATIO_GOAL", "INT8_RATIO_LIMIT", "NOTEBOOK_TIME_NOTE", "PRECISION_ORDER",
           "TIME_COLUMNS", "binary_ratio_ceiling", "bits_table", "comparison_table",
           "composition_table", "epoch_choices", "epoch_table", "figure_lines", "goal_for",
           "markdown_table", "notebook_time_table", "notebook_time_text", "reference_table",
           "runs_table", "runtime_summary", "size_table", "training_bench_table"]

def markdown_table(frame: pd.DataFrame, floatfmt: str = ".2f") -> str:
    """A pipe table; index levels become ordinary leading columns."""
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
        return frame.to_markdown(index=False, floatfmt=floatfmt)
    return frame.to_markdown(floatfmt=floatfmt)


def figure_lines(figures_dir: Path, report_dir: Path, names: Mapping[str, str]) -> list[str]:
    """Markdown image lines, with captions, for the figures of ``names`` (file stem ->
    caption) that exist in ``figures_dir``, linked relative to the report's folder."""
    lines = []
    for name, caption in names.items():
        path = figures_dir / f"{name}.png"
        if path.exists():
            relative = Path("..") / path.relative_to(report_dir.parent) \
                if path.is_relative_to(report_dir.parent) else path
            lines.append(f"![{caption}]({relative.as_posix()})\n\n*{caption}*\n")
    return lines


PRECISION_ORDER = ("binary", "ternary", *(f"int{k}" for k in range(MIN_BITS, MAX_BITS + 1)),
                   "fp32")


def _precision_rank(precision: str) -> int:
    return PRECISION_ORDER.index(precision) if precision in PRECISION_ORDER else len(
        PRECISION_ORDER)


def _sorted(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(records, key=lambda r: (r["config"]["model"],
                                          _precision_rank(r["config"]["precision"]),
                                          r["config"]["seed"]))


def epoch_choices(history: Mapping[str, list]) -> dict[str, int]:
    """Positions in ``history`` of the optimal, best and final epochs (see module docstring)."""
    train = np.asarray(history["accuracy"], dtype=float)
    val = np.asarray(history["val_accuracy"], dtype=float)
    val_loss = np.asarray(history["val_loss"], dtype=float)
    score = val - np.abs(train - val)
    candidates = np.flatnonzero(np.isclose(score, score.max()))
    optimal = int(candidates[np.argmin(val_loss[candidates])])
    return {"optimal": optimal, "best": int(np.argmax(val)), "final": len(val) - 1}


def epoch_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Tables 5.2 / 6.2: accuracy and loss at the optimal, best and final epochs, in percent.

    One row per (model, precision, seed, choice); columns epoch (0-based), train and
    validation accuracy and loss, and the test accuracy of the saved (restored) weights.
    Pass the records of one seed for the tables of the notebooks.
    """
    rows = []
    for record in _sorted(records):
        history, config = record["history"], record["config"]
        for choice, i in epoch_choices(history).items():
            rows.append({
                "model": config["model"],
                "precision": config["precision"],
                "seed": config["seed"],
                "epoch choice": choice,
                "epoch": history["epoch"][i],
                "train accuracy %": 100 * history["accuracy"][i],
                "val accuracy %": 100 * history["val_accuracy"][i],
                "train loss": history["loss"][i],
                "val loss": history["val_loss"][i],
                "test accuracy % (saved weights)": 100 * record["test_accuracy"],
            })
    return pd.DataFrame(rows).set_index(["model", "precision", "seed", "epoch choice"])


def runs_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per record: model, precision, seed, dataset, test accuracy (%) and loss, best
    validation accuracy (%), larq's size figures, training speed and whether it is stale."""
    rows = []
    for record in _sorted(records):
        config, summary = record["config"], record.get("summary", {})
        rows.append({
            "model": config["model"],
            "precision": config["precision"],
            "seed": config["seed"],
            "dataset": record["dataset"]["name"],
            "test accuracy %": 100 * record["test_accuracy"],
            "test loss": record["test_loss"],
            "best val accuracy %": 100 * record["best_val_accuracy"],
            "parameters": summary.get("params_total"),
            "memory MiB": summary.get("memory_mib"),
            "fp32-equivalent MiB": summary.get("memory_fp32_equivalent_mib"),
            "compression x": summary.get("compression_ratio"),
            "MACs (M)": summary.get("macs_total", np.nan) / 1e6,
            "binary MAC share": summary.get("macs_1bit", 0) / max(1, summary.get("macs_total", 1)),
            "train images/s": record.get("train_images_per_s"),
            "stale": is_stale(record),
        })
    return pd.DataFrame(rows)


def comparison_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Every network at every precision over its seeds: test accuracy as seeds, mean, std,
    min and max (in %), the gap of the mean to float32 of the same network with its standard
    error and whether it is beyond the seed spread (:mod:`utils.records`), then the mean test
    loss, larq's size figures, training speed and how many of the records are stale.

    Index (model, precision), precisions from fewest bits to float.
    """
    runs = runs_table(records)
    if runs.empty:
        return pd.DataFrame()
    summary = seed_summary(runs, ["model", "precision"], "test accuracy %")
    gaps = pd.DataFrame(
        [difference(row, summary.loc[(model, "fp32")] if (model, "fp32") in summary.index
                    else None) for (model, _), row in summary.iterrows()],
        index=summary.index,
        columns=["gap to fp32 (points)", "gap standard error", "gap beyond seed spread"])
    accuracy = summary.rename(columns={name: f"test accuracy % {name}"
                                       for name in SUMMARY_COLUMNS if name != "seeds"})
    grouped = runs.groupby(["model", "precision"], sort=False)
    means = grouped[["test loss", "best val accuracy %", "train images/s"]].mean()
    firsts = grouped[["dataset", "parameters", "memory MiB", "fp32-equivalent MiB",
                      "compression x", "MACs (M)", "binary MAC share"]].first()
    stale = grouped["stale"].sum().astype(int).rename("stale records")
    return pd.concat([accuracy, gaps, means, firsts, stale], axis=1)


def bits_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The runs of a bit-width sweep (one network, one seed per precision), by bit width.

    Columns ``bits``, ``precision``, ``test_accuracy``, ``best_val_accuracy``, ``test_loss``,
    ``params``, ``memory_kib`` (larq's estimate, each weight at its bit width),
    ``fp32_memory_kib``, ``compression`` and ``train_seconds``; ``attrs["histories"]`` maps
    each precision to its per-epoch history.
    """
    rows, histories = [], {}
    for record in records:
        precision, summary = record["config"]["precision"], record["summary"]
        histories[precision] = record["history"]
        rows.append({
            "bits": precision_bits(precision),
            "precision": precision,
            "test_accuracy": record["test_accuracy"],
            "best_val_accuracy": record["best_val_accuracy"],
            "test_loss": record["test_loss"],
            "params": int(summary["params_total"]),
            "memory_kib": summary["memory_mib"] * 1024,
            "fp32_memory_kib": summary["memory_fp32_equivalent_mib"] * 1024,
            "compression": summary["compression_ratio"],
            "train_seconds": record["train_time_s"],
        })
    table = pd.DataFrame(rows).sort_values("bits").reset_index(drop=True)
    table.attrs["histories"] = histories
    return table


def reference_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Our accuracies next to the reference report's Tables 5.2 / 6.2 (validation, optimal).

    Ours are means over the seeds in ``records``. The datasets differ whenever the offline
    stand-in was used; the "dataset" column says which one each of our numbers comes from.
    """
    rows = []
    for record in _sorted(records):
        config = record["config"]
        key = (config["model"], config["precision"])
        if key not in REFERENCE_ACCURACY:
            continue
        optimal = epoch_choices(record["history"])["optimal"]
        rows.append({
            "model": key[0],
            "precision": key[1],
            "report val accuracy % (Cats & Dogs)": REFERENCE_ACCURACY[key]["val_accuracy"],
            "our dataset": record["dataset"]["name"],
            "our val accuracy % (optimal epoch)":
                100 * record["history"]["val_accuracy"][optimal],
            "our test accuracy %": 100 * record["test_accuracy"],
            "chance %": 100 / record["dataset"]["num_classes"],
        })
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    seeds = frame.groupby(["model", "precision"], sort=False).size().rename("our seeds")
    table = frame.groupby(["model", "precision"], sort=False).agg({
        "report val accuracy % (Cats & Dogs)": "first", "our dataset": "first",
        "our val accuracy % (optimal epoch)": "mean", "our test accuracy %": "mean",
        "chance %": "first"})
    return pd.concat([table, seeds], axis=1)


def training_bench_table(bench: Mapping[str, Any]) -> pd.DataFrame:
    """The training benchmark (``results/bench_train.json``): per model and precision, the
    median images per second over the repeats with their minimum and maximum, the ratio of
    medians to float32 of the same model with its verdict ("beyond the noise" only when the
    two ranges of repeats do not overlap; "reference" on the fp32 row) and, where measured,
    the median without op determinism over the median with it.

    A record from before repeated measurements (no ``repeats`` in its settings: one run per
    figure) is still rendered: its single figure as the median, no min or max, and the
    verdict "not repeated". Values are not rounded here."""
    settings = bench.get("settings", {})
    cost = bench.get("determinism_cost", {})
    rows = []
    for model, result in bench["models"].items():
        for precision, figures in result["precisions"].items():
            verdict = figures.get("vs_fp32", "not repeated")
            if precision == "fp32" and figures.get("ratio_to_fp32") is not None:
                verdict = "reference"
            rows.append({
                "model": model, "precision": precision, "image size": result["image_size"],
                "width": result.get("width", settings.get("width", np.nan)),
                "median images/s": figures["images_per_s"],
                "min images/s": figures.get("images_per_s_min", np.nan),
                "max images/s": figures.get("images_per_s_max", np.nan),
                "ratio vs fp32": (np.nan if figures.get("ratio_to_fp32") is None
                                  else figures["ratio_to_fp32"]),
                "verdict vs fp32": verdict if verdict is not None else "no fp32 measured",
                "speed-up without determinism": cost.get(model, {}).get(precision, np.nan)})
    return pd.DataFrame(rows).set_index(["model", "precision"])


# The size goal of the binary files: float32 file size over the binary file size of the same
# architecture, for the full-size networks. Int8 has no goal of its own: its files stand
# against the physical limit, four bytes per weight in float32 against one, and the table of
# where their bytes go (utils.deploy.file_bytes) explains how far below it each one lands.
BINARY_RATIO_GOAL = 28.0
INT8_RATIO_LIMIT = 4.0


def goal_for(kind: str) -> float | None:
    """The size goal of a file kind: :data:`BINARY_RATIO_GOAL` for "binary", else None."""
    return BINARY_RATIO_GOAL if kind == "binary" else None


def size_table(record: dict[str, Any], part: str = "full_size") -> pd.DataFrame:
    """One row per file of ``record[part]``: size, ratio to float32, latency, the size goal
    (full size) or the accuracy (trained part, whose reduced networks have no goal), the
    runtime that ran it and its status (why a file was not made or not run), and, when some
    file has layers converted in parts, ``conversion`` (:func:`utils.deploy.kernel_splits`);
    indexed by architecture and file (and, for the trained part, the dataset between them).
    """
    files = pd.DataFrame(record[part]["files"])
    if files.empty:
        return files
    goals = ["goal_ratio", "meets_goal"] if part == "full_size" else []  # goals: full size
    if "conversion" in files:
        files["conversion"] = files["conversion"].fillna("")
        if not files["conversion"].astype(bool).any():  # no file converted in parts
            files = files.drop(columns="conversion")
    columns = ["architecture", "file", "weight_scales", "conversion", "size_mb", "ratio_vs_fp32",
               *goals,
               "latency_ms_1_threads", "latency_ms_2_threads", "keras_accuracy",
               "tflite_accuracy", "accuracy_change_points", "accuracy_change_images",
               "accuracy_preserved", "runtime", "status"]
    table = files[[column for column in columns + ["dataset"] if column in files]]
    keys = ["architecture", "dataset", "file"] if "dataset" in table else ["architecture", "file"]
    return table.set_index(keys)


def composition_table(record: dict[str, Any], part: str = "full_size", *,
                      percent: bool = False) -> pd.DataFrame:
    """Where the bytes of each file of ``record[part]`` go, in KB (10^3 bytes) or percent.

    Index (architecture, file); one column per kind of :func:`utils.deploy.file_bytes`
    (weights, biases, quantization parameters, names, graph...), largest first over all
    files, then the alignment padding (what is not measured directly) and ``accounted %``
    (everything but the padding); a file without some kind has 0 there. With ``percent``,
    each kind is a share of its file's size (kinds and padding sum to 100).
    """
    files = [entry for entry in record[part]["files"] if entry.get("bytes") is not None]
    index = pd.MultiIndex.from_tuples([(entry["architecture"], entry["file"]) for entry in files],
                                      names=["architecture", "file"])
    table = pd.DataFrame([entry["bytes"]["kinds"] for entry in files], index=index)
    if table.empty:
        return table
    table = table.fillna(0.0)
    table = table[table.sum().sort_values(ascending=False).index]
    table["alignment padding"] = [entry["bytes"]["padding"] for entry in files]
    table = (table.div([entry["size_bytes"] for entry in files], axis=0) * 100 if percent
             else table / 1e3)
    table["accounted %"] = [entry["bytes"]["accounted_percent"] for entry in files]
    return table


# Share of each kind of float content that would remain after every exact
# re-parameterization of a binary file (used by binary_ratio_ceiling), by the op that reads
# it: a batch-normalized channel whose output is only ever binarized needs one threshold
# instead of a multiplier and a bias, so half of the float per-channel vectors remain; the
# first layer's ±1 weights need one bit each instead of 32; the classifier stays; tensor
# names can be stripped.
_FOLDED_SHARE = {"LceBconv2d": 1 / 2, "MUL": 1 / 2, "ADD": 1 / 2, "CONV_2D": 1 / 32}


def binary_ratio_ceiling(record: dict[str, Any], part: str = "full_size") -> pd.DataFrame:
    """How far each binary file is from the most its format allows.

    Per architecture with a binary file, three ratios (float32 file / binary file):

    - ``ratio``: measured;
    - ``with every exact fold``: an optimistic estimate of what the same network could
      reach in LCE's format if every per-channel multiplier and bias pair were folded into
      one threshold, the first layer's ±1 weights stored as bits and tensor names stripped
      (``_FOLDED_SHARE``, by the op that reads the float tensors of
      :func:`utils.deploy.file_bytes`). LCE 0.16 already folds the channels of a binary
      convolution whose output feeds the next binary convolution directly (bit-packed
      output, one int32 threshold per channel); the estimate folds the rest, which it keeps
      as float multipliers and biases;
    - ``ceiling (weights and structure only)``: the file without any float constant and
      without tensor names: its bit-packed weights, thresholds, quantization parameters
      and graph.

    A goal above the middle ratio cannot be met by the same network in LCE's format without
    changing the network itself. Files that were not made (no LCE here) are left out.
    """
    sizes = {(entry["architecture"], entry["file"]): entry for entry in record[part]["files"]
             if entry.get("bytes") is not None}
    rows = {}
    for (architecture, kind), entry in sizes.items():
        if kind != "binary" or (architecture, "fp32") not in sizes:
            continue
        fp32 = sizes[(architecture, "fp32")]["size_bytes"]
        content = entry["bytes"]
        names = content["kinds"].get("tensor names", 0)
        floats = {tensors["op"]: tensors["bytes"] for tensors in content["float_tensors"]}
        essential = entry["size_bytes"] - names - sum(floats.values())
        folded = essential + sum(size * _FOLDED_SHARE.get(op, 1) for op, size in floats.items())
        rows[architecture] = {"ratio": fp32 / entry["size_bytes"],
                              "with every exact fold": fp32 / folded,
                              "ceiling (weights and structure only)": fp32 / essential,
                              "per-channel and float bytes (KB)":
                                  (entry["size_bytes"] - essential) / 1e3}
    return pd.DataFrame.from_dict(rows, orient="index")


def runtime_summary(record: dict[str, Any]) -> str:
    """In words, from what was measured: which runtime timed and scored which files, and
    which files were not made or not run, with the reason (never a silent gap)."""
    files = [entry for part in ("full_size", "trained") for entry in record[part]["files"]]
    by_runtime: dict[str, list[str]] = {}
    problems = []
    for entry in files:
        kind = entry["file"]
        if entry.get("status", "measured") == "measured" and entry.get("runtime"):
            kinds = by_runtime.setdefault(entry["runtime"], [])
            if kind not in kinds:
                kinds.append(kind)
        elif entry.get("status", "measured") != "measured":
            problems.append(f"{entry['architecture']} {kind}: {entry['status']}")
    parts = [f"{runtime} ran the {', '.join(kinds)} file{'s' if len(kinds) > 1 else ''}"
             for runtime, kinds in by_runtime.items()]
    text = ("Latency is the median single-image time after warm-up; " + "; ".join(parts) + "."
            if parts else "No file could be run here.")
    notes = [f"{entry['architecture']} {entry['file']}: {note}" for entry in files
             if entry.get("status", "measured") == "measured"
             for note in entry.get("runtime_notes") or []]
    if notes:
        text += " On the way: " + "; ".join(notes) + "."
    if problems:
        text += " Not made or not run: " + "; ".join(problems) + "."
    return text


# What the columns of notebook_time_table mean, for the report and the notebooks.
NOTEBOOK_TIME_NOTE = (
    "*Main job* is measured: the notebook's run in the last main job, on the machine named, "
    "with the committed training records present; it includes the runs that job trained "
    "(*trained in the job*: their saved models are not committed, and a notebook that needs "
    "a model trains its run again). The row *saved models, trained first* is the job's own "
    "first step: it trains, one run per core, the models that the notebooks loaded in the "
    "job before and that the course folder lacks, so that those notebooks find them. The "
    "other columns are estimates from the records' own "
    "training times, divided by the number of runs that train at once (one per core): "
    "*with models* leaves out the runs the job trained, *from scratch* adds those it did not "
    "train. *T4, compute-bound* is what the runs' multiply-accumulates would take on a Colab "
    "T4 at a quarter of its float32 peak (`utils.config.t4_epoch_seconds`): a lower bound, "
    "far below what the small networks of the quick profile take on a GPU, where per-step "
    "overheads decide the time."
)


def _run_time(record: Mapping[str, Any]) -> tuple[float, float]:
    """A record's training wall time here and its compute-bound T4 estimate, in seconds."""
    sizes = record["dataset"]["sizes"]
    epoch = t4_epoch_seconds(record["summary"]["macs_total"], sizes["train"],
                             sizes["validation"])
    return record["wall_time_s"], epoch * record["epochs_run"]


TIME_COLUMNS = ("main job (s)", "records used", "trained in the job",
                "with models (s, estimate)", "from scratch (s, estimate)",
                "T4, compute-bound (s, estimate)")


def notebook_time_table(results_dir: str | Path, profile: str = "quick") -> pd.DataFrame:
    """How long each notebook takes, from the main job's ``pipeline_<profile>.json`` and the
    training records it lists per notebook (:data:`TIME_COLUMNS`, explained by
    :data:`NOTEBOOK_TIME_NOTE`). A notebook whose runs the job did not list (a job before
    it kept them) has its measured time only.
    """
    results_dir = Path(results_dir)
    job = json.loads((results_dir / f"pipeline_{profile}.json").read_text())
    cores = (job.get("machine") or {}).get("cpu_count") or 1
    rows = {}
    for notebook, seconds in job["notebook_seconds"].items():
        row = dict.fromkeys(TIME_COLUMNS, np.nan)
        row["main job (s)"] = seconds
        runs = job.get("notebook_runs", {}).get(notebook)
        if runs is not None:
            times = {name: _run_time(load_record(results_dir / f"{name}.json"))
                     for name in runs["used"]}
            trained = sum(here for name, (here, _) in times.items() if name in runs["trained"])
            untrained = sum(here for name, (here, _) in times.items()
                            if name not in runs["trained"])
            row.update({"records used": len(runs["used"]),
                        "trained in the job": len(runs["trained"]),
                        "with models (s, estimate)": max(seconds - trained / cores, 0.0),
                        "from scratch (s, estimate)": seconds + untrained / cores,
                        "T4, compute-bound (s, estimate)": sum(t4 for _, t4 in times.values())})
        rows[notebook.removesuffix(".ipynb")] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def notebook_time_text(notebook: str, results_dir: str | Path, profile: str = "quick") -> str:
    """One paragraph for the top of ``notebook`` (e.g. ``"03_alexnet"``): how long it took
    in the last main job, and estimates with every model present, from scratch and on a
    Colab T4, from the job's record (:func:`notebook_time_table`)."""
    path = Path(results_dir) / f"pipeline_{profile}.json"
    if not path.exists():
        return (f"No main job of the {profile} profile has been timed in this course folder "
                "yet (`python -m utils.pipeline` writes its times).")
    machine = json.loads(path.read_text()).get("machine") or {}
    table = notebook_time_table(results_dir, profile)
    if notebook not in table.index:
        return f"The last main job of the {profile} profile did not run {notebook}."
    row = table.loc[notebook]
    where = (f"{machine['cpu']}, {machine['cpu_count']} cores" if machine
             else "a machine it did not name")
    text = (f"**How long this notebook takes** (profile {profile}; {where}): "
            f"{row['main job (s)']:.0f} s in the last main job, with the committed records "
            "present")
    if np.isnan(row["records used"]):
        return text + ". That job did not list the training runs it used."
    if row["records used"] == 0:
        return text + ". It trains no networks, so that is also its time from scratch."
    if row["trained in the job"]:
        text += (f", of which it trained {row['trained in the job']:.0f} run(s) again because "
                 f"their saved models are not committed (about "
                 f"{row['with models (s, estimate)']:.0f} s once they exist)")
    return text + (
        f". It reads {row['records used']:.0f} training record(s); without them it trains "
        f"those runs first: about {row['from scratch (s, estimate)'] / 60:.0f} min from "
        f"scratch here (an estimate from the records' own training times). On a Colab T4 "
        f"their arithmetic alone would take {row['T4, compute-bound (s, estimate)']:.0f} s "
        "(a compute-bound estimate: networks this small leave a GPU mostly idle, so expect "
        "far longer).")
