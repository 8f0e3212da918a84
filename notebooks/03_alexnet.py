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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/reduced-precision/rpnn-course/blob/main/notebooks/03_alexnet.ipynb)

# %% [markdown]
# # 03 · AlexNet at three precisions, in four networks
#
# AlexNet (Krizhevsky et al. 2012) is the sequential network of the report's §5: five
# convolutions (96@11x11 stride 4, 256@5x5, 384, 384 and 256@3x3), three 3x3 stride-2
# max-pools and three dense layers (4096, 4096, classes). The three dense layers hold
# about 94% of its parameters and the first of them alone about two thirds (37.75 of
# 58.29 million at 227x227 with 2 classes), so its memory is dominated by weights that
# binarization stores in one bit each, while most of its multiply-accumulates are in the
# convolutions.
#
# This notebook trains AlexNet four times, at the report's three precisions: binary,
# 32-bit float, and 8 bits twice, once as the report builds it (`int8`: fixed ranges,
# larq) and once as the field does (`int8_qat`: tfmot's quantization-aware training with
# TFLite's integer scheme, introduced in notebook 02). Each runs with every seed of the
# profile (report §5), all through `utils.train`, so every run writes
# one results record and a saved model. A run whose record already exists is loaded,
# not retrained; set `force = True` to train again.

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
force = False  # retrain even if a record exists

# %% [markdown]
# **The real task** (Cats & Dogs photos at full size) needs a GPU runtime: on Colab choose
# a T4 GPU, add your Kaggle credentials as the Colab secrets `KAGGLE_USERNAME` and
# `KAGGLE_KEY`, set `profile = "full"` and `dataset = "cats_and_dogs"` above, and run
# every cell. The course folder on Drive keeps the records, the checkpoint of every epoch
# and the models, so a recycled runtime resumes where it stopped; the time estimate is
# printed before training starts. The README's *Running the real task on a Colab GPU*
# has the details.

# %%
import inspect

import pandas as pd
from IPython.display import Markdown, display

from utils import figures
from utils.bench import run_time_table
from utils.config import dry_run_overrides, make_config, recipe_table
from utils.course import notebook_folders
from utils.exercises import check, exercise
from utils.models import build_model, layer_table, summary_table
from utils.names import MAIN_PRECISIONS
from utils.nets import LayerFactory, build_alexnet
from utils.recipe_check import check_summary, recorded_check
from utils.tables import comparison_table, epoch_table, notebook_time_text, reference_table
from utils.train import train_precisions

choice, folders = notebook_folders(profile, dataset, course_dir, data_dir=data_dir,
                                   results_dir=results_dir, figures_dir=figures_dir,
                                   report_dir=report_dir)
dataset = choice.name
dry_run = dry_run_overrides(limit, epochs)  # {} unless a dry run

# %% [markdown]
# How long this notebook takes: measured in the last main job with its records present,
# and estimated from those records for a course folder without them.

# %%
display(Markdown(notebook_time_text("03_alexnet", folders.results, profile)))

# %% [markdown]
# ## Size and operations at full size (Table 5.1)
#
# larq's summary counts parameters and multiply-accumulates (MACs) by bit width. By the
# precision map of notebook 02 (section 1), the first layer reads the float image and the
# last layer is float, so the binary network is not quite 32 times smaller; batch
# normalization adds a few float parameters.

# %%
full_size = (227, 227, 3)
pd.concat([summary_table(build_model("alexnet", precision, full_size, 2))
           for precision in MAIN_PRECISIONS], axis=1).round(2)

# %% [markdown]
# ### 58 million parameters, not the report's 143 million
#
# The report's Table 4.1 gives AlexNet 143,233,410 parameters. The canonical network
# (five convolutions of 96, 256, 384, 384 and 256 filters, three dense layers of 4,096,
# 4,096 and 2 units, 227x227 inputs) has 58,289,538, and the layers the report lists
# cannot give more. Its Table 5.1 agrees with this network exactly in the first
# convolution's multiply-accumulates (105,415,200 = 55·55·11·11·3·96), and its count of
# 1-bit multiply-accumulates exceeds the canonical one by 84,942,848 = 20,738·4,096: that
# is what a first dense layer fed about 29,954 features instead of 6·6·256 = 9,216 would
# add. No simple variant of the network gives that number: 29,954 is not a square map of
# 256 channels, and without the last pooling the first dense layer would see
# 13·13·256 = 43,264 features and add 139,460,608 multiply-accumulates instead. The report
# does not list its layers, so the course builds the canonical AlexNet.
#
# ## The network in code
#
# Every network of the course, at every precision, is built from one layer factory,
# `utils.nets.LayerFactory`. This is its convolution block, the code `build_model`
# runs: a float block is convolution, batch normalization and ReLU; a quantized block is
# a larq `QuantConv2D` (whose input quantizer is the previous layer's activation),
# optional max-pooling, then batch normalization.

# %%
display(Markdown(f"```python\n{inspect.getsource(LayerFactory.conv)}```"))

# %% [markdown]
# AlexNet is five such blocks and three dense ones:

# %%
display(Markdown(f"```python\n{inspect.getsource(build_alexnet)}```"))

# %% [markdown]
# Layer by layer, the binary AlexNet at full size: the first convolution reads the float
# image ("float" input bits) with binary weights, every hidden layer multiplies 1-bit
# inputs by 1-bit weights, and the dense layers, which hold 94% of the weights, are 1x1
# convolutions on a 1x1x9216 tensor so that LCE stores them as bits.

# %%
layer_table(build_model("alexnet", "binary", full_size, 2))

# %% [markdown]
# ### Predict, run, explain: where does AlexNet do its arithmetic?
#
# **Predict.** The three dense layers (fc6, fc7 and the classifier, the report's fc8) hold
# most of AlexNet's parameters, as the sentence above says. What share of its
# multiply-accumulates (MACs) per image do you expect them to do: about the same share,
# a smaller one, or a tiny one? Write your guess, a fraction between 0 and 1, in the next
# cell before running the one after it.

# %%
my_prediction = None  # your guess: the dense layers' share of AlexNet's MACs, e.g. 0.5

# %% [markdown]
# **Run.** The cell builds the float AlexNet at full size, adds up `layer_table`'s
# parameters and MACs for the dense layers and for all layers, and prints how many MACs
# each layer does per parameter it stores: how often each weight is used per image.

# %%
alexnet_layers = layer_table(build_model("alexnet", "fp32", full_size, 2))
is_dense = alexnet_layers.index.isin(["fc6", "fc7", "classifier"])
totals = alexnet_layers[["parameters", "MACs"]].sum()
dense = alexnet_layers.loc[is_dense, ["parameters", "MACs"]].sum()
print(f"your prediction: {'no prediction written' if my_prediction is None else my_prediction}")
print(f"measured: the dense layers hold {dense['parameters'] / totals['parameters']:.1%} of "
      f"the parameters and do {dense['MACs'] / totals['MACs']:.1%} of the MACs")
uses = alexnet_layers["MACs"] / alexnet_layers["parameters"]
print("MACs per parameter (how often each weight is used per image): "
      + ", ".join(f"{name} {value:,.0f}" for name, value in uses.items()))

# %% [markdown]
# **Explain.** Why do the shares of parameters and of MACs differ so much? What decides
# how many times a layer uses each of its weights? And what does that mean for a binary
# AlexNet's memory and for the energy of running it (notebook 08)?

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title One explanation (open to read it)
# A dense layer uses each weight once per image: one multiply-accumulate per input-output
# pair, so its MACs equal its weights. A convolution slides the same small kernel over
# every position of its output map, so each weight is used once per output position:
# 55·55 times in conv1, 27·27 in conv2 and 13·13 in conv3 to conv5 (the MACs per
# parameter printed above, a little lower for conv1 where the biases count as
# parameters but do no MACs). AlexNet's convolutions have few weights and reuse them
# thousands of times; its dense layers have most of the weights and use each once. So
# parameters and MACs measure different things: the dense layers decide the size of the
# file and the weight traffic, the convolutions decide the arithmetic. Binarizing the
# dense layers is what shrinks the model (notebooks 05 and 06), while the MACs that stay
# float, conv1's on the float image (report §4.3), are a share of the arithmetic that the
# weights' share does not show. Notebook 08 prices both: reading a weight from DRAM costs
# far more than a MAC, so AlexNet's energy goes mostly to its dense layers' weights, and
# GoogLeNet, which reuses each of its fewer weights many more times, spends more on
# arithmetic.

# %% [markdown]
# ## Training
#
# The recipe of this profile, and why (the same for every precision, so that the
# comparison is like for like; the values live in `utils/config.py`):

# %%
recipe_table(make_config("alexnet", "binary", dataset=dataset, profile=profile, **dry_run))

# %% [markdown]
# Each precision is trained with several seeds (three in the quick profile) to measure
# the seed-to-seed spread. Training is deterministic: the same config and seed give the
# same record, bit for bit, on the same machine. The records say which dataset was used,
# and whether the offline digits stood in for Cats & Dogs.

# %% [markdown]
# Before a long run (the full and report profiles: full size, tens of epochs), the time it
# will take: on a Colab T4, estimated from the network's multiply-accumulates at a quarter
# of the T4's float32 peak (`utils.bench.t4_estimate`), and on this machine, from a few
# timed training steps. The full profile's 40 epochs were chosen so that the four
# precisions of one network finish within about two hours on a T4 by this estimate;
# early stopping may end a run sooner.

# %%
if profile in ("full", "report"):
    display(run_time_table("alexnet", dataset, profile, **dry_run).round(2))
else:
    print(f"The {profile} profile trains reduced networks: minutes, no estimate needed.")

# %%
records = train_precisions("alexnet", dataset, profile, results_dir=folders.results,
                           data_dir=folders.data, force=force, **dry_run)
first_seed = min(record["config"]["seed"] for record in records)
one_seed = [record for record in records if record["config"]["seed"] == first_seed]
comparison_table(records).round(2)

# %% [markdown]
# ## Accuracy and loss per epoch (Figs. 5.1 and 5.2), and what each network confuses
#
# The mean over the seeds as a line, ± one standard deviation as a band; training dashed,
# validation solid. Then the confusion matrix on the test split of the first seed of each
# precision.

# %%
paths = figures.save_network_figures(records, f"AlexNet ({dataset})", "03_alexnet",
                                     folders.figures)

# %% [markdown]
# ## Optimal, best and final epochs (Table 5.2)
#
# The report chose an "optimal" epoch by eye. `utils.tables` makes the rule explicit
# (highest validation accuracy minus its gap to training accuracy) and shows the best
# and final epochs next to it. The test accuracy is that of the saved weights. One seed
# (the first) per precision, as the report showed one run.

# %%
epoch_table(one_seed).round(3)

# %% [markdown]
# ## Against the reference report
#
# The report's AlexNet reached barely above chance on Cats & Dogs. When the offline
# digits stand in, the numbers are not directly comparable (ten classes, an easier
# task): the table shows the chance level of each dataset.

# %%
reference_table(records).round(2)

# %% [markdown]
# ## Does the full recipe train AlexNet at full size?
#
# The `full` profile is meant for a GPU and the Kaggle photos, which this course's
# records could not use. What a CPU can show is whether the recipe makes the full-size
# network learn at all: `python -m utils.recipe_check` trains it at 227/224 px and full
# width on a few hundred real images (the digits, upscaled) for a few epochs, with the
# course's recipe and with the reference report's, at binary, 8-bit and float32
# precision. The committed records of that check, for AlexNet:

# %%
full_size_check = recorded_check()
display(Markdown(check_summary(full_size_check, "alexnet")))
(full_size_check.xs("alexnet", level="model", drop_level=False).round(1)
 if not full_size_check.empty else "no records")

# %% [markdown]
# ## Exercises
#
# Each question below is checked by `check`: a wrong answer raises with a hint, a
# right one says so. Work it out in the empty cell; the worked solution follows, folded
# (click to open it).

# %%
exercise("03_conv1_weights")

# %%
# Your answer:
# answer = ...
# check("03_conv1_weights", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
float_alexnet = build_model("alexnet", "fp32", full_size, 2)
answer = float_alexnet.get_layer("conv1").kernel.shape.num_elements()
check("03_conv1_weights", answer)

# %%
exercise("03_dense_share")

# %%
# Your answer:
# answer = ...
# check("03_dense_share", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
dense = sum(float_alexnet.get_layer(name).count_params() for name in ("fc6", "fc7"))
answer = dense / float_alexnet.count_params()
check("03_dense_share", answer)

# %%
exercise("03_conv1_macs")

# %%
# Your answer:
# answer = ...
# check("03_conv1_macs", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = layer_table(float_alexnet).loc["conv1", "MACs"]
check("03_conv1_macs", answer)
