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
#   calibrated on a few images, and one weight scale per tensor (see *And the int8
#   files* for why);
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
from utils.tables import binary_ratio_ceiling, composition_table, notebook_time_text, size_table
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
# **Run.** The cell reads each int8 file's ratio from the measurement above and splits
# the file's bytes into int8 tensors (the weights, with a few int8 constants) and the
# rest: int32 tensors, tensor names and the file's structure.

# %%
file_bytes = composition_table(record)  # KB, by kind of content
print(f"your prediction (AlexNet, GoogLeNet): "
      f"{'no prediction written' if my_prediction is None else my_prediction}")
int8_files = [key for key in file_bytes.index if key[1].startswith("int8")]
if not int8_files:
    print("No int8 file was measured in this run (the status column above says why).")
for architecture, file in int8_files:
    parts = file_bytes.loc[(architecture, file)]
    int8_kb = parts[[kind for kind in parts.index if kind.endswith("/INT8")]].sum()
    int32_kb = parts[[kind for kind in parts.index if kind.endswith("/INT32")]].sum()
    rest_kb = parts.sum() - int8_kb
    print(f"{architecture} {file}: {sizes.loc[(architecture, file), 'ratio_vs_fp32']:.3f}x "
          f"smaller than float32; {rest_kb:,.1f} KB ({rest_kb / parts.sum():.2%} of the file) "
          f"are not int8 tensors: {int32_kb:,.1f} KB int32, "
          f"{parts.get('tensor names', 0.0):,.1f} KB tensor names, "
          f"{parts.get('structure', 0.0):,.1f} KB structure")

# %% [markdown]
# **Explain.** What are the bytes that did not shrink, and why do they weigh more in one
# network's file than in the other's? Why does the file trained with tfmot (`int8_qat`,
# where it was made) carry more of them than the post-training files?

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title One explanation (open to read it)
# Only the weights shrink fourfold. What does not: the biases, one per output channel,
# which are int32 in the int8 file (`CONV_2D/INT32`, `FULLY_CONNECTED/INT32`), as large
# as the float32 biases they replace; the scale and zero point of every tensor, kept in
# the structure; the graph itself (ops, tensor shapes, op options); and the name of every
# tensor. With W bytes of int8 weights and F and I bytes of everything else in the
# float32 and int8 files, the ratio is (4W + F) / (W + I): it nears 4 only when W
# dominates. Those other bytes grow with the number of layers, channels and tensors, not
# with the number of weights. AlexNet packs tens of millions of weights into eight
# layers, so they are a sliver of its file; GoogLeNet has about a tenth of the weights
# spread over 57 convolutions with thousands of output channels, so the same kinds of
# bytes are a larger share and its file falls further below 4x (its margin to the 3.9x
# goal is small, which is why the post-training files keep one weight scale per tensor;
# see "And the int8 files" below). The `int8_qat` file keeps the per-channel weight
# scales that tfmot trained: a float32 scale and an int64 zero point, 12 bytes, per
# output channel for each kernel, and as many again for its bias, whose scale follows
# the kernel's. With GoogLeNet's thousands of channels, that is what its structure column
# holds beyond the post-training files'. In the smoke profile the networks are 1/16 as
# wide, so the weights shrink and the fixed bytes weigh more in every file.

# %% [markdown]
# ## Size against the goals
#
# The project sets two size goals (`BINARY_RATIO_GOAL` and `INT8_RATIO_GOAL` in
# `utils/tables.py`): a binary file at least 28 times smaller than the float32
# file of the same network, an int8 file at least 3.9 times smaller.
# The verdicts below are read from this run's record, so they say whether this run
# met each goal, whatever the outcome.

# %%
judged = sizes.dropna(subset=["goal_ratio"])
if judged.empty:
    print(f"The goals are defined for the full-size networks (width 1.0); this profile "
          f"measured width {record['full_size']['width']}, so they are not judged here.")
for (architecture, file), row in judged.iterrows():
    verdict = "met" if row["meets_goal"] else "MISSED"
    print(f"{architecture:>9} {file:<15} {row['ratio_vs_fp32']:5.1f}x smaller than "
          f"float32, goal {row['goal_ratio']:.1f}x: {verdict}")
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
# Each column is a kind of content, named after the op that reads it and its type:
#
# - `LceBconv2d/INT32`: mostly the binary weights, bit-packed, plus one int32 threshold
#   per output channel of each binary layer whose output LCE writes bit-packed (see
#   *How close can a binary file get?* below); a threshold takes 4 bytes per output
#   channel, next to k·k·⌈C_in/32⌉·4 bytes of packed weights. The packed weights are the
#   only part that is 32 times smaller than its float version, and not even exactly: LCE
#   packs the input channels of each kernel position into 32-bit words, so a layer whose
#   input channel count is not a multiple of 32 wastes the rest of the last word. Several
#   of GoogLeNet's 5x5 convolutions read 16 or 24 channels, stored in a full 32-bit
#   word: 2x and 1.33x the bits they need. At full width, the binary layers of
#   AlexNet read 96, 256, 384 or 9,216 (flattened) inputs, all multiples of 32, and
#   waste nothing.
# - `LceBconv2d/FLOAT32`: per output channel, a float multiplier and bias into which
#   LCE folds the batch normalization of each binary layer whose output it does not
#   bit-pack. Small, but 32-bit.
# - `CONV_2D/FLOAT32`: the first layer. Its weights are binary (±1), as in the report,
#   but its input is the image, not a sign, so LCE cannot run it as a binary
#   convolution: it stays an ordinary float convolution that stores each ±1 as a
#   32-bit float. AlexNet's first layer holds 34,848 weights; at 32 bits each they
#   weigh as much as 1.1 million bit-packed ones.
# - `FULLY_CONNECTED/FLOAT32`: the classifier, float with its softmax (report §4.3).
# - `MUL/FLOAT32` and `ADD/FLOAT32`: batch normalizations that follow a max-pool
#   cannot be folded into a convolution and stay as float multiply and add.
# - `tensor names`: the name of every tensor, kept for debugging (TFLite's
#   `flatbuffer_utils.strip_strings` can remove them from a finished file).
# - `structure`: everything else: the graph, tensor shapes, op options, quantization
#   parameters. It grows with the number of ops and tensors, not of weights, so it
#   weighs most in small files with many ops, such as GoogLeNet's.
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

# %% [markdown]
# ### How close can a binary file get?
#
# If a binary file held nothing but its bit-packed weights (packing waste included, and
# the few int32 thresholds counted with them) and its structure, its ratio would be the
# ceiling in the last column. The difference between the ceiling and the measured ratio
# is what the float first layer, the classifier and every per-channel batch-norm
# parameter cost.
#
# Some of those costs could go without changing what the network computes. A
# batch-normalized channel whose output is only ever binarized needs one number, its
# threshold, not a multiplier and a bias: a positive scale does not change a sign, and
# it passes through max-pools. LCE 0.16 already makes this fold where the next layer
# reads the output directly: such a binary convolution writes its output bit-packed,
# comparing each channel's sum with an int32 threshold (counted in `LceBconv2d/INT32`),
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
# An int8 weight is a quarter of a float32 weight, so 4x is the ceiling, and the
# files fall short of it for reasons of the same kind: every bias stays 32-bit
# (int32, `CONV_2D/INT32` and `FULLY_CONNECTED/INT32`), every tensor carries its
# scale and zero point (in `structure`), and the graph does not shrink. The file
# from the 8-bit-trained model also has batch normalization, which the float network
# has not (those after max-pools stay as separate multiply and add ops), and
# `MINIMUM` ops that reproduce its activation clipping.
#
# Both post-training files (`int8_from_fp32` and `int8_from_int8`) store **one weight
# scale per tensor**, not the per-output-channel scales that notebook 01 (section 9)
# presents as TFLite's usual choice: `utils.deploy` turns per-channel scales off
# (`INT8_PER_CHANNEL = False`, passed to the converter's per-channel switch). The reason
# is size. Per-channel quantization stores a float32 scale and an int64 zero point, 12
# bytes, for every output channel, and in GoogLeNet, with thousands of narrow channels,
# those bytes eat into the small margin between the 3.9x goal and the 4x ceiling. The price
# is precision: one scale must cover the largest weight of every channel of a layer,
# which notebook 01 showed to add rounding error. Whether that costs accuracy is checked
# on the trained networks below, whose files must stay within the tolerance of their
# Keras models. The `int8_qat` files are the exception: tfmot trained them with
# per-channel weight scales, and the converter keeps those.

# %%
int8 = percent.query("file.str.startswith('int8')")
int8.loc[:, (int8 > 0).any()].round(1)

# %% [markdown]
# ## Latency
#
# Median time for one image, in ms, and the speed-up over the float32 file of the
# same network. Read the binary rows, where there are any, with care: LCE's fast binary
# kernels are written for 64-bit ARM (NEON); on an x86 machine its binary convolutions run
# portable C++ code, so they say nothing about a phone or a Raspberry Pi, where LCE is
# meant to run. The float32 and int8 rows use TFLite's builtin kernels, which have x86
# implementations.

# %%
print(record["environment"].get("kernels") or "No binary file was made or timed here (LCE "
      "is not usable on this runtime): the rows below are TFLite's float32 and int8 files.")
latency = sizes[["latency_ms_1_threads", "latency_ms_2_threads"]]
speedup = latency.rdiv(latency.xs("fp32", level="file"), level="architecture")
pd.concat({"ms": latency, "speed-up over float32": speedup}, axis=1).round(2)

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
size_table(record, "trained").round(4)

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
# For each network, up to four `.tflite` files (kept in `files_dir` when it is set):
# a float32 file, two int8 files and, where LCE is installed, a binary file, with the
# sizes, ratios and latencies tabled above and in `results/bench_deploy.json`. The
# caveats travel with them:
#
# - The binary file needs LCE's interpreter or a TFLite build with LCE's ops
#   registered; stock TFLite cannot run `LceBconv2d`. LCE's optimized kernels target
#   64-bit ARM (Android, Raspberry Pi); latencies measured on x86 are no guide.
# - The binary files are not 32 times smaller: the first layer (binary weights
#   stored as floats) and the float classifier,
#   batch-norm parameters, padding of input channels to 32-bit words and the file's
#   structure all cost bytes, and the tables above say how many; the goal verdicts say
#   whether they cost a file its goal.
# - The int8 files are integer from end to end: the caller quantizes the input image
#   with the scale and zero point stored in the file, and dequantizes the output.
# - A converted file is only as accurate as its Keras model: compare the precisions'
#   accuracy in notebook 05 before choosing one.
