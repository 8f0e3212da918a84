"""Tables read from a deployment record (``results/bench_deploy.json``), without TensorFlow.

:mod:`utils.deploy_bench` measures real ``.tflite`` files and writes the record; the functions
here turn it into the tables of notebook 06 and the report: sizes and latencies
(:func:`size_table`), what the bytes of each file hold (:func:`composition_table`) and how far
a binary file is from the most its format allows (:func:`binary_ratio_ceiling`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = [
    "BINARY_RATIO_GOAL",
    "INT8_RATIO_GOAL",
    "binary_ratio_ceiling",
    "composition_table",
    "goal_for",
    "runtime_summary",
    "size_table",
]

# Size goals: float32 file size over the binary / int8 file size of the same architecture,
# for the full-size networks.
BINARY_RATIO_GOAL = 28.0
INT8_RATIO_GOAL = 3.9


def goal_for(kind: str) -> float | None:
    """The size goal of a file kind ("binary", "int8_from_fp32"...), None for float32."""
    if kind == "binary":
        return BINARY_RATIO_GOAL
    return INT8_RATIO_GOAL if kind.startswith("int8") else None


def size_table(record: dict[str, Any], part: str = "full_size") -> pd.DataFrame:
    """One row per file of ``record[part]``: size, ratio to float32, latency, the size goal
    (full size) or the accuracy (trained part, whose reduced networks have no goal), the
    runtime that ran it and its status (why a file was not made or not run), indexed by
    architecture and file (and, for the trained part, the dataset between them).
    """
    files = pd.DataFrame(record[part]["files"])
    if files.empty:
        return files
    goals = ["goal_ratio", "meets_goal"] if part == "full_size" else []  # goals: full size
    columns = ["architecture", "file", "size_mb", "ratio_vs_fp32", *goals,
               "latency_ms_1_threads", "latency_ms_2_threads", "keras_accuracy",
               "tflite_accuracy", "accuracy_change_points", "accuracy_change_images",
               "accuracy_preserved", "runtime", "status"]
    table = files[[column for column in columns + ["dataset"] if column in files]]
    keys = ["architecture", "dataset", "file"] if "dataset" in table else ["architecture", "file"]
    return table.set_index(keys)


def composition_table(record: dict[str, Any], part: str = "full_size", *,
                      percent: bool = False) -> pd.DataFrame:
    """What the bytes of each file of ``record[part]`` hold, in KB (10^3 bytes) or percent.

    Index (architecture, file); one column per key of :func:`utils.tflite_files.file_composition`
    (constants by reading op and type, e.g. "LceBconv2d/INT32" for bit-packed binary
    weights), largest first over all files, "tensor names" and "structure" last; a file
    without some kind of content has 0 there. With ``percent``, each row is a share of its
    file's size (sums to 100).
    """
    files = [entry for entry in record[part]["files"] if entry.get("composition_bytes") is not None]
    index = pd.MultiIndex.from_tuples([(entry["architecture"], entry["file"]) for entry in files],
                                      names=["architecture", "file"])
    table = pd.DataFrame([entry["composition_bytes"] for entry in files], index=index)
    if table.empty:
        return table
    table = table.fillna(0.0)
    rest = [key for key in ("tensor names", "structure") if key in table]
    constants = table.drop(columns=rest).sum().sort_values(ascending=False).index
    table = table[[*constants, *rest]]
    if percent:
        return table.div([entry["size_bytes"] for entry in files], axis=0) * 100
    return table / 1e3


# Share of each kind of content that would remain after every exact re-parameterization of
# a binary file (used by binary_ratio_ceiling): a batch-normalized channel whose output is
# only ever binarized needs one threshold instead of a multiplier and a bias, so half of
# the float per-channel vectors remain; the first layer's ±1 weights need one bit each
# instead of 32; tensor names can be stripped. Everything else stays.
_FOLDED_SHARE = {"LceBconv2d/FLOAT32": 1 / 2, "MUL/FLOAT32": 1 / 2, "ADD/FLOAT32": 1 / 2,
                 "CONV_2D/FLOAT32": 1 / 32, "tensor names": 0}


def binary_ratio_ceiling(record: dict[str, Any], part: str = "full_size") -> pd.DataFrame:
    """How far each binary file is from the most its format allows.

    Per architecture with a binary file, three ratios (float32 file / binary file):

    - ``ratio``: measured;
    - ``with every exact fold``: an optimistic estimate of what the same network could
      reach in LCE's format if every per-channel multiplier and bias pair were folded into
      one threshold, the first layer's ±1 weights stored as bits and tensor names stripped
      (``_FOLDED_SHARE``). LCE 0.16 already folds the channels of a binary convolution
      whose output feeds the next binary convolution directly (bit-packed output, one
      int32 threshold per channel in "LceBconv2d/INT32"); the estimate folds the rest,
      which it keeps as float multipliers and biases ("LceBconv2d/FLOAT32", "MUL", "ADD");
    - ``ceiling (weights and structure only)``: the file reduced to its bit-packed binary
      weights ("LceBconv2d/INT32", packing waste and those thresholds included) and
      structure, with no float first layer, classifier or batch-norm parameter at all.

    A goal above the middle ratio cannot be met by the same network in LCE's format without
    changing the network itself. Files that were not made (no LCE here) are left out.
    """
    sizes = {(entry["architecture"], entry["file"]): entry for entry in record[part]["files"]
             if entry.get("composition_bytes") is not None}
    rows = {}
    for (architecture, kind), entry in sizes.items():
        if kind != "binary" or (architecture, "fp32") not in sizes:
            continue
        fp32 = sizes[(architecture, "fp32")]["size_bytes"]
        content = entry["composition_bytes"]
        essential = sum(content.get(key, 0)
                        for key in ("LceBconv2d/INT32", "tensor names", "structure"))
        folded = sum(size * _FOLDED_SHARE.get(key, 1) for key, size in content.items())
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
