# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,cellView,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/reduced-precision/rpnn-course/blob/main/notebooks/06_deployment.ipynb)

# %% [markdown]
# # 06 · Deployment: real files at every precision
#
# Notebooks 03 to 05 count bits the way larq's model summary does: one bit per binary
# weight, eight per 8-bit weight, 32 per float weight. A device does not run a
# summary, it runs a file. This notebook makes those files with the tools a deployment
# would use and measures them:
#
# - **float32**: TensorFlow's TFLite converter, no optimization: the baseline every
#   ratio below is taken against;
# - **int8 from the float model** (`int8_from_fp32`): TFLite's full-integer
#   post-training quantization, with int8 weights, activations, input and output,
#   calibrated on a few images, with one weight scale per output channel (TFLite's
#   default); beside it, the same conversion with one scale per tensor
#   (`int8_from_fp32_per_tensor`), the comparison of *And the int8 files*;
# - **int8 from the 8-bit-trained model** (`int8_from_int8`): the same converter
#   applied to the network trained with 8-bit quantizers, through a float twin built
#   from ops TFLite can run on integers (`deploy.float_twin`: its clipping matches the
#   8-bit network's, its grid is TFLite's, close to but not equal to the 8-bit grid);
# - **binary** (`binary`): Larq Compute Engine (LCE)'s converter, which turns binary
#   convolutions into `LceBconv2d` ops whose weights are bit-packed, 32 to an int32 word.
#   LCE has no binary op for dense layers (larq's `QuantDense`); the binary dense layers
#   of the course's networks convert all the same because they are built as 1x1
#   convolutions on a 1x1 map (`utils.nets.DenseAsConv2D`), which LCE treats like any
#   other binary convolution.
#
# Everything is measured in one run of `utils.deploy_bench.run_deployment_bench`,
# which writes `results/bench_deploy.json`: first both networks at full size (AlexNet
# at 227 px, GoogLeNet at 224 px, two classes, untrained weights, since size and
# speed do not depend on the weights' values), then the networks trained in notebooks
# 03 and 04, whose converted files must keep their Keras accuracy.
#
# One file needs a change to be made at all. Full-size AlexNet's fc6 holds 9,216 x 4,096
# weights, more than TFLite's converter folds from a QAT network's per-channel fake
# quantization into int8 weights (it leaves the op in TensorFlow, which no int8 runtime
# runs). `utils.deploy.convert_qat` therefore converts fc6 in two parts of 2,048 output
# channels, each with its batch normalization and ReLU, joined by a concatenation. Since
# every output channel has its own scale and both parts keep fc6's one output range, the
# file holds the same int8 weights and computes the same int8 outputs as one fc6 would
# (`tests/test_qat.py` checks this on a small AlexNet, whose fc7 it splits under a lowered
# limit, against the file of the unsplit network); the table's `conversion` column names
# the change. The smoke profile's networks are too small for any split.

# %% tags=["setup"]
# Setup: go to the repository root (cloning it on Colab), keep the course folder on Google
# Drive when on Colab, then import `utils` before TensorFlow: it switches TensorFlow to the
# Keras 2 API that larq needs.
import os
import sys
from pathlib import Path

ON_COLAB = "google.colab" in sys.modules
if ON_COLAB:
    REPO_DIR = Path("/content/rpnn-course")
    if not (REPO_DIR / "utils").is_dir():
        import subprocess

        url = os.environ.get("COURSE_REPO_URL", "https://github.com/reduced-precision/rpnn-course.git")
        subprocess.run(["git", "clone", "--depth", "1", url, str(REPO_DIR)], check=True)
    os.chdir(REPO_DIR)
elif not Path("utils").is_dir() and Path("../utils").is_dir():
    os.chdir("..")  # opened from notebooks/ in Jupyter
if str(Path.cwd()) not in sys.path:
    sys.path.insert(0, str(Path.cwd()))
if ON_COLAB:
    from utils.course import prepare_runtime, use_drive

    prepare_runtime()
    use_drive()  # asks to mount Google Drive: the course folder then outlives the runtime

import utils  # noqa: F401  (before TensorFlow: sets TF_USE_LEGACY_KERAS=1)
from utils.environment import quiet_start

quiet_start()  # hides TensorFlow's CUDA probing on CPU runtimes, and nothing you can act on
print("working directory:", Path.cwd())

# %% tags=["parameters"]
# Parameters: papermill replaces these (see the README); edit them to explore.
profile = "quick"  # "smoke" (seconds, tests), "quick" (CPU, minutes), "full" (report, GPU)
dataset = "auto"  # "auto" (Cats & Dogs if available, else mnist5k), "cats_and_dogs", "mnist5k"
course_dir = None  # None: $COURSE_DIR, else the repository (the course folder, utils.course)
figures_dir = None  # None: the course folder's, for this profile and dataset
results_dir = None  # None: the course folder's (training records and benchmarks)
report_dir = None  # None: the course folder's
data_dir = None  # None: the course folder's data/ (downloads, prepared datasets)
limit = None  # dry run: at most this many images per split (None: all)
epochs = None  # dry run: this many epochs per run (None: the profile's)
files_dir = None  # keep the .tflite files in this folder (None: delete them)
force = False  # measure the full-size files again even when the record's key matches

# %%
import math

import pandas as pd
from IPython.display import Markdown, display

from utils import figures
from utils.config import dry_run_overrides, make_config
from utils.course import notebook_folders
from utils.deploy_bench import run_deployment_bench
from utils.environment import LCE_MISSING, lce_available
from utils.exercises import check, exercise
from utils.models import build_model, summary_figures
from utils.names import MAIN_MODELS, MAIN_PRECISIONS
from utils.tables import (
    INT8_RATIO_LIMIT,
    binary_ratio_ceiling,
    composition_table,
    notebook_time_text,
    size_table,
)
from utils.train import run_configs

choice, folders = notebook_folders(profile, dataset, course_dir, data_dir=data_dir,
                                   results_dir=results_dir, figures_dir=figures_dir,
                                   report_dir=report_dir)
dataset = choice.name
dry_run = dry_run_overrides(limit, epochs)  # {} unless a dry run

# %% [markdown]
# How long this notebook takes: measured in the last main job with its records present,
# and estimated from those records for a course folder without them.

# %%
display(Markdown(notebook_time_text("06_deployment", folders.results, profile)))

# %% [markdown]
# ## The trained models
#
# The second half of the benchmark converts the models trained in notebooks 03 and 04
# in this profile (their first seed). When their records and saved models exist, they
# are used as they are. When a model is missing (this notebook run on its own, or a fresh
# clone, which has the committed records but not the models, too large to commit), the
# network is trained again now, and the new result is compared with the record. Training
# is deterministic (notebook 03), and `import utils` pins TensorFlow's CPU numerics to
# settings every x86 CPU shares, so a record made under those settings is reproduced bit
# for bit. The verdict column says what happened: *identical*; *differs within the seed
# spread, on another CPU or other settings* (the record was made elsewhere: the new run is
# kept beside the record, which stays the source of every table); or *DIFFERS: a defect*.

# %%
configs = [make_config(model, precision, dataset=dataset, profile=profile, seed=0, **dry_run)
           for model in MAIN_MODELS for precision in MAIN_PRECISIONS]
records = run_configs(configs, results_dir=folders.results, data_dir=folders.data,
                      require_model=True)
reproduced = pd.DataFrame([
    {"model": record["config"]["model"], "precision": record["config"]["precision"],
     "test accuracy": record["test_accuracy"],
     "retrained now": "reproduction" in record,
     "verdict": record.get("reproduction", {}).get("verdict")}
    for record in records]).set_index(["model", "precision"])
reproduced.round(4)

# %% [markdown]
# ## Is Larq Compute Engine here?
#
# LCE 0.16 is built for Python 3.10 to 3.12 only. On a runtime without it
# (Colab's Python 3.13, for example) the binary files cannot be made: the benchmark
# skips them and still measures the float32 and int8 files.

# %%
print("Larq Compute Engine available:", lce_available())
if not lce_available():
    print(LCE_MISSING)

# %% [markdown]
# ## Measure every file
#
# For each network and precision: convert, write the file, read its size, time
# single-image inference at 1 and 2 threads (median of the profile's runs after a
# warm-up), and take the file apart to see what its bytes hold. Sizes are in MB
# (10^6 bytes); the ratio is the float32 file's size over this file's size. In the
# smoke profile the networks are 1/16 of their width, where fixed costs dominate and
# the ratios say little; the quick and full profiles measure the real widths (the cell
# prints the size of AlexNet's float32 file, the largest).
#
# The full-size files are built from untrained weights: their sizes and latencies depend
# only on the code, the converter and runtime versions, the CPU and the settings. Their
# measurement is kept in the record with that key and reused while the key matches (the
# cell says when and on which CPU it was measured); `force = True` measures again. The
# trained files are converted and checked every time.

# %% [markdown]
# ### Predict, run, explain: how close to 4x does an int8 file get?
#
# **Predict.** An int8 weight takes one byte where a float32 weight takes four. How many
# times smaller than the float32 file do you expect the int8 file made from the float
# network (`int8_from_fp32`) to be, for AlexNet and for GoogLeNet? Which of the two comes
# closer to 4x? Write your guesses in the next cell, then run the measurement below it;
# the cell after the measurement compares.

# %%
my_prediction = None  # your guesses for AlexNet and GoogLeNet, e.g. (3.5, 3.5)

# %%
record = run_deployment_bench(profile, folders.results, data_dir=folders.data, files_dir=files_dir,
                              force=force, **dry_run)
environment = record["environment"]
# "kernels" is recorded only where LCE made and ran the binary files
lce = (f"LCE {environment['larq_compute_engine']}" if environment.get("kernels")
       else "no usable LCE, so no binary files")
print(f"{environment['cpu']} ({environment['cpu_count']} cores), TensorFlow "
      f"{environment['tensorflow']}, {lce}")
sizes = size_table(record)
if ("alexnet", "fp32") in sizes.index:
    print(f"AlexNet's float32 file: {sizes.loc[('alexnet', 'fp32'), 'size_mb']:,.1f} MB")
sizes.round(3)

# %% [markdown]
# Each network's files are built, converted and timed in a child process of its own, so
# that only one network's models, converters and interpreters are in memory at a time.
# What each step cost, from the record (`steps`: seconds and the peak resident memory of
# its process; the full-size steps as measured when their record was made):

# %%
steps = pd.DataFrame([*record["full_size"].get("steps", []), *record["trained"]["steps"]])
display(steps.set_index("step") if len(steps) else "no step costs in this record")

# %% [markdown]
# **Run.** The cell reads each int8 file's ratio from the measurement above and where
# its bytes go, read from the file itself (`utils.deploy.file_bytes`: every kind is
# measured from the file's layout, and only the alignment padding is what is left): the
# int8 weights, and everything that did not shrink fourfold.

# %%
file_kb = composition_table(record)  # KB, by kind of content
print(f"your prediction (AlexNet, GoogLeNet): "
      f"{'no prediction written' if my_prediction is None else my_prediction}")
int8_files = [key for key in file_kb.index if key[1].startswith("int8")]
if not int8_files:
    print("No int8 file was measured in this run (the status column above says why).")
for architecture, file in int8_files:
    parts = file_kb.loc[(architecture, file)].drop("accounted %")
    rest = parts.drop("int8 weights").sort_values(ascending=False)
    print(f"{architecture} {file} ({sizes.loc[(architecture, file), 'weight_scales']}): "
          f"{sizes.loc[(architecture, file), 'ratio_vs_fp32']:.3f}x smaller than float32; "
          f"{rest.sum():,.1f} KB ({rest.sum() / parts.sum():.2%} of the file) are not int8 "
          "weights, largest first: " + ", ".join(
              f"{kind} {size:,.1f} KB" for kind, size in rest.items() if size >= 0.05))

# %% [markdown]
# **Explain.** What are the bytes that did not shrink, and why do they weigh more in one
# network's file than in the other's? Why does the file trained with tfmot (`int8_qat`)
# carry more of them than the post-training files?

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title One explanation (open to read it)
# Only the weights shrink fourfold. What does not: the biases, one per output channel,
# which are int32 in the int8 file, as large as the float32 biases they replace; the
# quantization parameters, a scale and a zero point for every tensor and, with
# per-channel weights, for every output channel of every kernel and of its bias; the
# graph itself (tensors, ops, op options); and the name of every tensor. With W bytes of int8 weights and F and I bytes of everything else in the
# float32 and int8 files, the ratio is (4W + F) / (W + I): it nears 4 only when W
# dominates. Those other bytes grow with the number of layers, channels and tensors, not
# with the number of weights. AlexNet packs tens of millions of weights into eight
# layers, so they are a sliver of its file; GoogLeNet has about a tenth of the weights
# spread over 57 convolutions with thousands of output channels, so the same kinds of
# bytes are a larger share and its file falls further below 4x. Per-channel scales are
# the largest of them: a float32 scale and an int64 zero point, 12 bytes, per output
# channel for each kernel, and as many again for its bias, whose scale follows the
# kernel's. With GoogLeNet's thousands of channels, that is the gap between the
# per-channel file and its per-tensor twin. The `int8_qat` file holds per-channel scales
# for its dense layers as well (the post-training converter keeps one scale per tensor
# for those), tfmot's longer tensor names, and biases in every layer, since its network
# has batch normalization everywhere and each one folds into a bias. It holds no float
# tensor, like its post-training twins (the byte tables list none). In the smoke profile
# the networks are 1/16 as wide, so the weights shrink and the fixed bytes weigh more in
# every file.

# %% [markdown]
# ## Size against the goal and the limit
#
# The project sets one size goal (`BINARY_RATIO_GOAL` in `utils/tables.py`):
# a binary file at least 28 times smaller than the float32 file of the same network.
# The int8 files have no goal of their own: one byte per weight against four makes 4x
# their physical limit (`INT8_RATIO_LIMIT`), and the byte tables above say what keeps
# each one below it. The verdicts below are read from this run's record, so they say whether
# this run met the goal, whatever the outcome.

# %%
judged = sizes.dropna(subset=["goal_ratio"])
if judged.empty:
    print(f"The goals are defined for the full-size networks (width 1.0); this profile "
          f"measured width {record['full_size']['width']}, so they are not judged here.")
for (architecture, file), row in judged.iterrows():
    verdict = "met" if row["meets_goal"] else "MISSED"
    print(f"{architecture:>9} {file:<15} {row['ratio_vs_fp32']:5.1f}x smaller than "
          f"float32, goal {row['goal_ratio']:.1f}x: {verdict}")
for (architecture, file), row in sizes.query("file.str.startswith('int8')").iterrows():
    print(f"{architecture:>9} {file:<26} {row['ratio_vs_fp32']:5.2f}x smaller than "
          f"float32, {100 * row['ratio_vs_fp32'] / INT8_RATIO_LIMIT:.1f}% of the "
          f"{INT8_RATIO_LIMIT:g}x limit")
figure = figures.plot_deployment(sizes)
figures.save_fig(figure, "06_deployment", folders.figures)

# %% [markdown]
# ## Theory against measurement
#
# The reference report reads larq's summary of AlexNet (its Table 5.1) as float
# AlexNet being 32 times the size of binary AlexNet. larq's estimate is an accounting
# of parameters: 1 bit for each binary weight, 8 for each 8-bit weight, 32 for
# everything else. The table puts it next to the files: `larq_mb` is larq's memory
# estimate in MB, `larq_ratio` its float-equivalent memory over that estimate. Two
# things differ: larq compares a model with its own float equivalent (batch-norm
# parameters included), while the file ratio compares with the float32 file of the
# float network (which has no batch norm); and larq counts no bytes for the file
# itself. larq has no estimate for `int8_from_fp32`, a float model quantized after
# training.

# %%
full = record["full_size"]
larq = pd.DataFrame([
    {"architecture": name, "file": {"int8": "int8_from_int8"}.get(precision, precision),
     **summary_figures(build_model(name, precision, tuple(shape), 2, width=full["width"]))}
    for name, shape in full["input_shapes"].items()
    for precision in ("fp32", "int8", "binary")
]).set_index(["architecture", "file"])
larq["larq_mb"] = larq["memory_mib"] * 2**20 / 1e6
larq["larq_ratio"] = larq["compression_ratio"]
sizes[["size_mb", "ratio_vs_fp32"]].join(larq[["larq_mb", "larq_ratio"]]).round(2)

# %% [markdown]
# ### Where the bytes of a binary file go
#
# Each column is a kind of content (`utils.deploy.file_bytes`):
#
# - `bit-packed binary weights`: the binary convolutions' weights, 32 to an int32 word
#   (k·k·⌈C_in/32⌉·4 bytes per output channel). They are the only part that is 32 times
#   smaller than its float version, and not even exactly: LCE packs the input channels of
#   each kernel position into 32-bit words, so a layer whose input channel count is not a
#   multiple of 32 wastes the rest of the last word. Several of GoogLeNet's 5x5
#   convolutions read 16 or 24 channels, stored in a full 32-bit word: 2x and 1.33x the
#   bits they need. At full width, the binary layers of AlexNet read 96, 256, 384 or
#   9,216 (flattened) inputs, all multiples of 32, and waste nothing.
# - `float32 weights and biases`: every constant that stayed float; the table after this
#   one names them by the op that reads them and says why:
#   - `LceBconv2d`: per output channel, a float multiplier and bias into which LCE folds
#     the batch normalization of each binary layer whose output it does not bit-pack.
#     Small, but 32-bit.
#   - `CONV_2D`: the first layer. Its weights are binary (±1), as in the report, but its
#     input is the image, not a sign, so LCE cannot run it as a binary convolution: it
#     stays an ordinary float convolution that stores each ±1 as a 32-bit float.
#     AlexNet's first layer holds 34,848 weights; at 32 bits each they weigh as much as
#     1.1 million bit-packed ones.
#   - `FULLY_CONNECTED`: the classifier, float with its softmax (report §4.3).
#   - `MUL` and `ADD`: batch normalizations that follow a max-pool cannot be folded into
#     a convolution and stay as float multiply and add.
# - `other constants`: the int32 thresholds of binary layers whose output LCE writes
#   bit-packed (see *How close can a binary file get?* below; 4 bytes per output
#   channel), and shapes and axes.
# - `tensor names`: the name of every tensor, kept for debugging (TFLite's
#   `flatbuffer_utils.strip_strings` can remove them from a finished file).
# - `graph: ...` and `quantization parameters`: the tensors, ops and op options, and
#   the scale of the int8 tensors LCE uses around its ops. They grow with the number of
#   ops and tensors, not of weights, so they weigh most in small files with many ops,
#   such as GoogLeNet's.
#
# The first table is in KB (10^3 bytes), the second in percent of each file.

# %%
kilobytes = composition_table(record)
percent = composition_table(record, percent=True)
both = pd.concat({"KB": kilobytes, "% of file": percent}, axis=1)
binary = both.query("file == 'binary'")
if binary.empty:  # no binary file was made (the reason is in the status column above)
    print("No binary file in this run: " + "; ".join(
        f"{name}: {row['status']}" for (name, kind), row in sizes.iterrows()
        if kind == "binary"))
else:
    display(binary.loc[:, (binary > 0).any()].round(1))
    floats = pd.DataFrame([
        {"architecture": entry["architecture"], "op": tensors["op"],
         "KB": tensors["bytes"] / 1e3, "tensors": tensors["count"],
         "first names": ", ".join(tensors["tensors"][:2]), "why float32": tensors["why"]}
        for entry in record["full_size"]["files"] if entry["file"] == "binary"
        and entry.get("bytes") for tensors in entry["bytes"]["float_tensors"]])
    display(floats.set_index(["architecture", "op"]).round(1))

# %% [markdown]
# ### How close can a binary file get?
#
# If a binary file held nothing but its bit-packed weights (packing waste included), its
# few int32 thresholds and its graph, with no float constant and no tensor names, its
# ratio would be the ceiling in the last column. The difference between the ceiling and the measured ratio
# is what the float first layer, the classifier and every per-channel batch-norm
# parameter cost.
#
# Some of those costs could go without changing what the network computes. A
# batch-normalized channel whose output is only ever binarized needs one number, its
# threshold, not a multiplier and a bias: a positive scale does not change a sign, and
# it passes through max-pools. LCE 0.16 already makes this fold where the next layer
# reads the output directly: such a binary convolution writes its output bit-packed,
# comparing each channel's sum with an int32 threshold (in `other constants`),
# and stores no multiplier or bias. In the full-size binary GoogLeNet that covers only the
# channels of the convolutions that feed the next binary convolution directly, a
# minority; the others feed a max-pool or a concatenation, so LCE keeps their float
# multiplier and bias and a separate `LceQuantize` op takes the sign again before the
# next binary layer. What LCE does not do: fold those channels or the normalizations
# after max-pools, store the first layer's ±1 weights as one bit each instead of 32, or
# strip tensor names. The middle column is an optimistic estimate of a file with all of
# that done too.
#
# AlexNet keeps almost all of its bytes in binary weights. GoogLeNet has ten times fewer
# weights, thousands of binary-layer output channels stored with a float multiplier and
# bias, and thousands more normalized after max-pools, so the same per-channel costs
# weigh much more. The cell below says, for each network, whether even the optimistic
# estimate reaches the binary goal in LCE's format. Where it does not, getting there
# would take both a different network (channel counts in multiples of 32, which end the
# packing waste but add weights to both files, or fewer normalized channels) and a
# converter that makes these folds.

# %%
ceiling = binary_ratio_ceiling(record)
if ceiling.empty:
    print("No binary file in this run, so no ceiling to compute (see the status column).")
goal = record["goal_ratios"]["binary"]
for architecture, row in ceiling.iterrows():
    folded = row["with every exact fold"]
    print(f"{architecture}: {row['ratio']:.1f}x measured, {folded:.1f}x with every exact "
          f"fold: {'above' if folded >= goal else 'below'} the {goal:g}x goal")
ceiling.round(2)

# %% [markdown]
# ### And the int8 files
#
# An int8 weight is a quarter of a float32 weight, so 4x is the limit, and the files
# fall short of it for reasons of the same kind: every bias stays 32-bit (`int32
# biases`), every tensor carries its scale and zero point (`quantization parameters`),
# and the graph does not shrink. The file from the 8-bit-trained model also has batch
# normalization, which the float network has not (those after max-pools stay as
# separate multiply and add ops), and `MINIMUM` ops that reproduce its activation
# clipping.
#
# The post-training files store **one weight scale per output channel**, TFLite's
# default and the scheme notebook 01 (section 9) measured to round trained kernels with
# less error: a channel whose weights are small gets a fine grid of its own instead of
# the grid of the layer's largest weight. It costs bytes: a float32 scale and an int64
# zero point, 12 bytes, per output channel of each kernel, and as many again for the
# int32 bias. The float network's `int8_from_fp32_per_tensor` file is the same
# conversion with one scale per tensor, kept as the comparison: the table below gives
# both files' sizes and where their bytes go, and the trained files further down give
# both files' accuracy. The `int8_qat` files carry per-channel scales too: tfmot
# trained them that way, and the converter keeps them.

# %%
int8 = percent.query("file.str.startswith('int8')")
int8.loc[:, (int8 > 0).any()].round(2)

# %% [markdown]
# ## Latency
#
# Median time for one image, in ms, and the speed-up over the float32 file of the
# same network. Read the binary rows, where there are any, with care: LCE's fast binary
# kernels are written for 64-bit ARM (NEON); on an x86 machine its binary convolutions run
# portable C++ code, so they say nothing about a phone or a Raspberry Pi, where LCE is
# meant to run. The float32 and int8 rows run in TFLite's interpreter with its default
# delegate, XNNPACK, whose kernels are written for x86 as well as ARM.
#
# Every file takes one image: its input shape is fixed to (1, h, w, c), as a device
# classifying one photo at a time uses it. This is not a detail. XNNPACK handles only
# tensors whose shapes are known when the file is loaded; with the batch size left free,
# the reshape to a (1, 1, C) tensor before the dense layers of AlexNet's quantized
# networks (they run those layers as 1x1 convolutions) would read the batch size at run
# time (SHAPE, STRIDED_SLICE and PACK ops), and the interpreter would leave the whole
# file to its slower builtin kernels. A file's speed depends on how it was converted, not
# only on its precision.

# %%
print(record["environment"].get("kernels") or "No binary file was made or timed here (LCE "
      "is not usable on this runtime): the rows below are TFLite's float32 and int8 files.")
latency = sizes[["latency_ms_1_threads", "latency_ms_2_threads"]]
speedup = latency.rdiv(latency.xs("fp32", level="file"), level="architecture")
pd.concat({"ms": latency, "speed-up over float32": speedup}, axis=1).round(2)

# %% [markdown]
# The int8 files of one network run the same convolutions, yet the one made from the
# report's 8-bit network (`int8_from_int8`) runs slower, the more so the more clips it
# holds (the lines above the table give the times). The table counts, in each int8 file,
# the ops that sit between the convolutions. The report's activation quantizer clips to
# [0, 1 − 2⁻⁸] (§4.4), and TFLite fuses only three clipping activations into a
# convolution (ReLU, ReLU6, and a clip to [−1, 1]); any other clip stays in the file as
# separate `MINIMUM` and `RELU` ops. XNNPACK does not run an int8 `MINIMUM`, so the
# interpreter cuts the graph at every clip and runs the pieces in turns, XNNPACK's and
# its own builtin kernels'. (The `MUL` and `ADD` ops, the batch normalizations after
# max-pools, which no convolution can absorb, XNNPACK does run.) The field's int8
# schemes clip with a plain ReLU and leave the top of the range to the activation's
# scale (calibrated in `int8_from_fp32`, learned in `int8_qat`), so their clips vanish
# into the convolutions. How a network quantizes its activations decides what a runtime
# can do with it, not only how many bits it has.

# %%
between_convolutions = ("MINIMUM", "RELU", "MUL", "ADD")
int8_files = [row for row in record["full_size"]["files"]
              if row["file"].startswith("int8") and row.get("ops")]
between = pd.DataFrame(
    [{"architecture": row["architecture"], "file": row["file"],
      **{op: row["ops"].get(op, 0) for op in between_convolutions},
      "ms, 1 thread": row["latency_ms_1_threads"]} for row in int8_files],
    columns=["architecture", "file", *between_convolutions, "ms, 1 thread"],
).set_index(["architecture", "file"])
for architecture, files in between["ms, 1 thread"].dropna().groupby(level="architecture"):
    files = files.droplevel("architecture")
    if "int8_from_int8" in files and len(files) > 1:
        others = files.drop("int8_from_int8")
        print(f"{architecture}: int8_from_int8 {files['int8_from_int8']:.1f} ms, the other "
              f"int8 files {others.min():.1f} to {others.max():.1f} ms (one thread)")
between.round(2)

# %% [markdown]
# ### What the theory promises, and what LCE reports on ARM
#
# The report's Fig. 3.1 (notebook 01, section 1) promises up to 16x the math throughput
# of FP32 at INT8 and 128x at INT1. Those are peak rates of GPU hardware with native
# low-bit instructions (NVIDIA's Turing tensor cores). They hold
# for a kernel that uses such instructions, not for a whole network on any processor:
# the report itself warns that a laptop CPU gains nothing from a precision it has no
# instructions for, and that 32 times fewer bits need not mean 32 times faster. The
# binary rows above measure LCE's portable code on x86, not that promise.
#
# Where LCE runs on the hardware it was written for, its authors publish these
# single-image latencies of their binary ImageNet networks, with the networks' ImageNet
# top-1 accuracy (not measured here; benchmark of 20 March 2020 with randomized
# weights, [LCE's README at that date](https://github.com/larq/compute-engine/blob/04ce741aeec20a228b6b724a931f842dd045d006/README.md)):
#
# | device, threads | QuickNet (58.6 %) | QuickNet-Large (62.7 %) | QuickNet-XL (67.0 %) |
# |---|---|---|---|
# | Raspberry Pi 4 B, 1 thread | 45.6 ms | 66.5 ms | 121.2 ms |
# | Pixel 1, 1 thread | 21.2 ms | 32.0 ms | 55.8 ms |
# | Raspberry Pi 4 B, 4 threads | 21.7 ms | 31.8 ms | 52.4 ms |
# | Pixel 1, 4 threads | 11.6 ms | 16.9 ms | 29.7 ms |
#
# The same page gives 47.7 ms for Bi-RealNet (56.4 %) on a Pixel 1, against 61.3 ms
# reported by dabnn, another binary inference library. Later versions of the README
# rename these models and report newer numbers ([discussion](https://github.com/larq/compute-engine/discussions/662)); the
# figures above are the dated ones. The LCE paper ([Bannink et al., MLSys
# 2021](https://proceedings.mlsys.org/paper_files/paper/2021/hash/a0a81eed87dd44d6504fed5f81f6de5a-Abstract.html)) measures its binary convolutions at 8.5 to 18.5 times the speed
# of their full-precision counterparts on a Pixel 1: a real gain, though well under
# the 128x of Figure 3.1, a peak math rate of different hardware. LCE's
# [optimization guide](https://docs.larq.dev/compute-engine/model_optimization_guide/) also asks for input channels in multiples of 32
# and output channels in multiples of 8, the same packing seen in the file sizes.

# %% [markdown]
# ## The trained models
#
# Sizes and speed do not depend on the weights, accuracy does. The networks trained in
# notebooks 03 and 04 are converted the same way (int8 calibrated on training images)
# and run on the test split in the TFLite interpreter; a file preserves accuracy when
# it is within 0.5 percentage points of its Keras model. The first lines say which
# dataset the models were trained on: when the offline digits stood in for Cats &
# Dogs, the accuracies are about digits.

# %%
for name, standin in sorted({(file["dataset"], file["offline_standin"])
                             for file in record["trained"]["files"]}):
    print(f"trained on {name}" + (" (offline stand-in for Cats & Dogs)" if standin else ""))
verdict = {True: "yes", False: "NO", None: "no trained file was measured"}
print(f"every file within {record['accuracy_tolerance_points']} points of its Keras model:",
      verdict[record["trained"]["all_preserved"]])
trained = size_table(record, "trained")
display(trained.round(4))

# %% [markdown]
# Per channel against per tensor, on the trained float networks: the same conversion
# with one weight scale per output channel (the default) and one per tensor. Which is
# more accurate, by how many test images, and what do the per-channel scales cost in
# size?

# %%
pair = ["int8_from_fp32", "int8_from_fp32_per_tensor"]
for (architecture, dataset), rows in trained.groupby(level=["architecture", "dataset"]):
    rows = rows.droplevel(["architecture", "dataset"])
    if not set(pair) <= set(rows.index) or rows.loc[pair, "tflite_accuracy"].isna().any():
        print(f"{architecture} on {dataset}: both scalings were not measured (see the status)")
        continue
    channel, tensor = (rows.loc[kind] for kind in pair)
    print(f"{architecture} on {dataset}: per channel {100 * channel['tflite_accuracy']:.2f}% "
          f"({channel['accuracy_change_images']:+.0f} images against Keras), per tensor "
          f"{100 * tensor['tflite_accuracy']:.2f}% ({tensor['accuracy_change_images']:+.0f}); "
          f"the per-channel file is {1e3 * (channel['size_mb'] - tensor['size_mb']):,.1f} KB "
          f"larger ({channel['ratio_vs_fp32']:.3f}x against {tensor['ratio_vs_fp32']:.3f}x)")

# %% [markdown]
# ## Exercises
#
# Each question below is checked by `check`: a wrong answer raises with a hint, a
# right one says so. Work it out in the empty cell; the worked solution follows, folded
# (click to open it).

# %%
exercise("06_packed_bytes")

# %%
# Your answer:
# answer = ...
# check("06_packed_bytes", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
words = math.ceil(24 / 32)  # 32-bit words per kernel position and filter
answer = (5 * 5 * 64 * words * 4, 5 * 5 * 64 * 24 // 8)
check("06_packed_bytes", answer)

# %%
exercise("06_latency_here")

# %%
# Your answer:
# answer = ...
# check("06_latency_here", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = "no"  # x86 runs LCE's reference kernels, not its ARM ones
check("06_latency_here", answer)

# %%
exercise("06_int8_ceiling")

# %%
# Your answer:
# answer = ...
# check("06_int8_ceiling", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = 32 / 8
check("06_int8_ceiling", answer)

# %% [markdown]
# ## What an engineer gets
#
# For each network, up to six `.tflite` files (kept in `files_dir` when it is set):
# a float32 file, four int8 files (three post-training, one per-tensor among them, and
# the `int8_qat` file) and, where LCE is installed, a binary file, with the
# sizes, ratios and latencies tabled above and in `results/bench_deploy.json`. The
# caveats travel with them:
#
# - The binary file needs LCE's interpreter or a TFLite build with LCE's ops
#   registered; stock TFLite cannot run `LceBconv2d`. LCE's optimized kernels target
#   64-bit ARM (Android, Raspberry Pi); latencies measured on x86 are no guide.
# - The binary files are not 32 times smaller: the first layer (binary weights
#   stored as floats) and the float classifier,
#   batch-norm parameters, padding of input channels to 32-bit words and the file's
#   graph all cost bytes, and the tables above say how many; the goal verdict says
#   whether they cost a file its goal.
# - The int8 files are integer from end to end: the caller quantizes the input image
#   with the scale and zero point stored in the file, and dequantizes the output.
# - A converted file is only as accurate as its Keras model: compare the precisions'
#   accuracy in notebook 05 before choosing one.
