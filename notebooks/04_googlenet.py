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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/reduced-precision/rpnn-course/blob/main/notebooks/04_googlenet.ipynb)

# %% [markdown]
# # 04 · GoogLeNet at three precisions, in four networks
#
# GoogLeNet (Inception v1, Szegedy et al. 2014) is the report's sparsely connected
# network (§6): a stem, nine inception blocks whose 1x1, 3x3, 5x5 and pooling branches
# are concatenated, global average pooling, dropout 0.4 and one softmax output (no
# auxiliary heads). It has ten times fewer parameters than AlexNet yet more
# multiply-accumulates, and it is 22 layers deep. Depth need not make the binary version
# harder to train than binary AlexNet: on our digits task the two binary networks have so far
# fallen by similar amounts below their float versions. Notebook 05 sets the two gaps side by
# side, with their seed spread, from the current records.
#
# This notebook trains GoogLeNet four times, at the report's three precisions: binary,
# 32-bit float, and 8 bits twice, once as the report builds it (`int8`: fixed ranges,
# larq) and once as the field does (`int8_qat`: tfmot's quantization-aware training with
# TFLite's integer scheme, introduced in notebook 02). Each runs with every seed of the
# profile (report §6), all through `utils.train`, so every run writes
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
from utils.nets import build_googlenet, inception_block
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
display(Markdown(notebook_time_text("04_googlenet", folders.results, profile)))

# %% [markdown]
# ## Size and operations at full size (Table 6.1)
#
# larq's summary counts parameters and multiply-accumulates (MACs) by bit width. By the
# precision map of notebook 02 (section 1), the first layer reads the float image and the
# last layer is float, so the binary network is not quite 32 times smaller; batch
# normalization adds a few float parameters.

# %%
full_size = (224, 224, 3)
pd.concat([summary_table(build_model("googlenet", precision, full_size, 2))
           for precision in MAIN_PRECISIONS], axis=1).round(2)

# %% [markdown]
# The float network (without batch normalization) has 5,975,602 parameters, exactly the
# report's Table 4.1.
#
# ## The network in code
#
# GoogLeNet's unit is the inception block: four branches that look at the same input
# through a 1x1 convolution, a 1x1 then a 3x3, a 1x1 then a 5x5, and a 3x3 max-pool then a
# 1x1, concatenated along the channels. This is the code `build_model` runs, at every
# precision: each `layers.conv` is the convolution block of `utils.nets.LayerFactory`
# (notebook 03 shows it), and `layers.pool` adds the batch normalization that quantized
# networks need after a max-pool (a max over normalized values is mostly positive, so the
# next sign would see an almost constant +1).

# %%
display(Markdown(f"```python\n{inspect.getsource(inception_block)}```"))

# %% [markdown]
# And the whole network: a stem, nine inception blocks in three stages, global average
# pooling, dropout and the classifier:

# %%
display(Markdown(f"```python\n{inspect.getsource(build_googlenet)}```"))

# %% [markdown]
# Layer by layer, the binary GoogLeNet at full size (the first rows; 57 convolutions in
# all). Its parameters are spread over many small layers, so the per-channel float
# parameters that every binary layer keeps (batch normalization) weigh more than in
# AlexNet (notebook 06 measures what that does to the file size).

# %%
layers = layer_table(build_model("googlenet", "binary", full_size, 2))
print(f"{len(layers)} layers with weights or arithmetic, "
      f"{layers['parameters'].sum():,} parameters, {layers['MACs'].sum():,} MACs")
layers.head(16)

# %% [markdown]
# ### Predict, run, explain: does GoogLeNet lose more to binarization than AlexNet?
#
# **Predict.** GoogLeNet is deeper than AlexNet and narrower in places: many of its
# convolutions are 1x1 reductions to a few channels, and at full size it has about a
# tenth of AlexNet's parameters. Binarized the same way (binary weights and
# activations, a float first-layer input and a float classifier), whose test accuracy
# falls further below its float32 version in your records: GoogLeNet's or AlexNet's? And
# will the difference between the two gaps be beyond the seed spread? Write your guess in
# the next cell; the training cell below makes the records, and the cell after it
# compares.

# %%
my_prediction = None  # your guess: "googlenet", "alexnet", or "same" (within the spread)

# %% [markdown]
# ## Training
#
# The recipe of this profile, and why (the same for every precision; the values live in
# `utils/config.py`):

# %%
recipe_table(make_config("googlenet", "binary", dataset=dataset, profile=profile, **dry_run))

# %% [markdown]
# Each precision is trained with several seeds (three in the quick profile) to measure
# the seed-to-seed spread; training is deterministic (notebook 03). The records say which
# dataset was used, and whether the offline digits stood in for Cats & Dogs.

# %% [markdown]
# Before a long run (the full and report profiles: full size, tens of epochs), the time it
# will take: on a Colab T4, estimated from the network's multiply-accumulates at a quarter
# of the T4's float32 peak (`utils.bench.t4_estimate`), and on this machine, from a few
# timed training steps. The full profile's 40 epochs were chosen so that the four
# precisions of one network finish within about two hours on a T4 by this estimate;
# early stopping may end a run sooner.

# %%
if profile in ("full", "report"):
    display(run_time_table("googlenet", dataset, profile, **dry_run).round(2))
else:
    print(f"The {profile} profile trains reduced networks: minutes, no estimate needed.")

# %%
records = train_precisions("googlenet", dataset, profile, results_dir=folders.results,
                           data_dir=folders.data, force=force, **dry_run)
first_seed = min(record["config"]["seed"] for record in records)
one_seed = [record for record in records if record["config"]["seed"] == first_seed]
comparison_table(records).round(2)

# %% [markdown]
# **Run.** The cell takes the gap of each binary network to its float32 version from the
# comparison table (GoogLeNet's records above, AlexNet's from notebook 03 in the same
# course folder) and compares the difference of the two gaps with its standard error, by
# the rule of `utils.records` (beyond the spread when larger than twice it).

# %%
from utils.records import main_records

alexnet_records = [record for record in main_records(folders.results, profile,
                                                     models=("alexnet",), **dry_run)
                   if record["config"]["dataset"] == dataset]
both = comparison_table([*records, *alexnet_records])
print(f"your prediction: {'no prediction written' if my_prediction is None else my_prediction}")
gaps = {}
for model, notebook in (("alexnet", "03_alexnet"), ("googlenet", "04_googlenet")):
    if (model, "binary") not in both.index or (model, "fp32") not in both.index:
        print(f"{model}: no binary and float32 records of the {profile} profile on {dataset} "
              f"in {folders.results}; {notebook} makes them.")
        continue
    row = both.loc[(model, "binary")]
    gaps[model] = (row["gap to fp32 (points)"], row["gap standard error"])
    gap = (f"{gaps[model][0]:+.2f} ± {gaps[model][1]:.2f} points" if pd.notna(gaps[model][1])
           else f"{gaps[model][0]:+.2f} points (one seed: no spread)")
    print(f"{model}: binary {row['test accuracy % mean']:.2f}% over {row['seeds']} seed(s), "
          f"gap to float32 {gap}; {row['parameters']:,} parameters at this profile's size")
if len(gaps) == 2:
    gap_difference = gaps["googlenet"][0] - gaps["alexnet"][0]
    gap_error = (gaps["googlenet"][1] ** 2 + gaps["alexnet"][1] ** 2) ** 0.5
    if pd.isna(gap_error):
        print(f"GoogLeNet's gap minus AlexNet's: {gap_difference:+.2f} points, with one seed "
              "per run: no spread to compare it with.")
    else:
        print(f"measured: GoogLeNet's gap minus AlexNet's: {gap_difference:+.2f} ± "
              f"{gap_error:.2f} points (negative: GoogLeNet falls further), "
              f"{'beyond' if abs(gap_difference) > 2 * gap_error else 'within'} the seed spread "
              "(beyond: more than twice the standard error)")

# %% [markdown]
# **Explain.** What in GoogLeNet's architecture would make you expect it to lose more
# to binarization (or less)? Do the parameter counts printed above support the "tenth of
# the parameters" argument at this profile's size? And why can the measurement, on this
# data and with these seeds, separate the two networks or fail to?

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title One explanation (open to read it)
# The architecture argument: a binary layer keeps only signs, and a binary output is the
# sum of as many ±1 products as the layer has inputs per output, so a narrow layer has a
# coarse sum. GoogLeNet's 1x1 reductions squeeze its features into a few channels before
# the 3x3 and 5x5 branches, and after binarization those few signs are all the branches
# see; with fewer parameters overall, it also has less redundancy to spare for what the
# signs throw away. On hard tasks compact networks do tend to lose more: XNOR-Net
# (Rastegari et al. 2016) lost more ImageNet accuracy with a binary ResNet-18 than with a
# binary AlexNet. (There is an argument the other way: GoogLeNet's parallel branches,
# concatenated, give its features several paths through the signs.)
# In the quick profile the two reduced networks have about the same number of parameters
# (AlexNet at a quarter of its width, GoogLeNet at half; the counts are printed above),
# so "a tenth of the parameters" holds at full size only. And on the digits both networks
# keep most of their float accuracy, so both gaps are small, and the difference of two
# gaps carries the noise of four sets of seeds (its standard error adds four variances
# of means). A difference within the spread does not say that the architectures
# binarize equally well; it says that three seeds on an easy task cannot tell. "Same,
# within the spread" is then the answer the records support, and Cats & Dogs at full
# size (the full profile) is where the architecture could show; the report's own runs
# there (its Tables 5.2 and 6.2) were single runs barely above chance, too few and too
# close to rank the two gaps.

# %% [markdown]
# ## Accuracy and loss per epoch (Figs. 6.2 and 6.3), and what each network confuses
#
# The mean over the seeds as a line, ± one standard deviation as a band; training dashed,
# validation solid. Then the confusion matrix on the test split of the first seed of each
# precision.

# %%
paths = figures.save_network_figures(records, f"GoogLeNet ({dataset})", "04_googlenet",
                                     folders.figures)

# %% [markdown]
# ## Optimal, best and final epochs (Table 6.2)
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
# The report's GoogLeNet reached barely above chance on Cats & Dogs. When the offline
# digits stand in, the numbers are not directly comparable (ten classes, an easier
# task): the table shows the chance level of each dataset.

# %%
reference_table(records).round(2)

# %% [markdown]
# ## Does the full recipe train GoogLeNet at full size?
#
# The `full` profile is meant for a GPU and the Kaggle photos, which this course's
# records could not use. What a CPU can show is whether the recipe makes the full-size
# network learn at all: `python -m utils.recipe_check` trains it at 227/224 px and full
# width on a few hundred real images (the digits, upscaled) for a few epochs, with the
# course's recipe and with the reference report's, at binary, 8-bit and float32
# precision. The committed records of that check, for GoogLeNet:

# %%
full_size_check = recorded_check()
display(Markdown(check_summary(full_size_check, "googlenet")))
(full_size_check.xs("googlenet", level="model", drop_level=False).round(1)
 if not full_size_check.empty else "no records")

# %% [markdown]
# ## Exercises
#
# Each question below is checked by `check`: a wrong answer raises with a hint, a
# right one says so. Work it out in the empty cell; the worked solution follows, folded
# (click to open it).

# %%
exercise("04_final_map")

# %%
# Your answer:
# answer = ...
# check("04_final_map", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
float_googlenet = build_model("googlenet", "fp32", full_size, 2)
answer = float_googlenet.get_layer("inception5b_concat").output_shape[1]
check("04_final_map", answer)

# %%
exercise("04_inception_channels")

# %%
# Your answer:
# answer = ...
# check("04_inception_channels", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = float_googlenet.get_layer("inception3a_concat").output_shape[-1]
check("04_inception_channels", answer)

# %%
exercise("04_reduce_weights")

# %%
# Your answer:
# answer = ...
# check("04_reduce_weights", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = (1 * 1 * 192 * 64, 3 * 3 * 192 * 64)
check("04_reduce_weights", answer)
