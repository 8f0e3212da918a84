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
from utils.tables import comparison_table, epoch_table, reference_table
from utils.train import train_precisions

choice, folders = notebook_folders(profile, dataset, course_dir, data_dir=data_dir,
                                   results_dir=results_dir, figures_dir=figures_dir,
                                   report_dir=report_dir)
dataset = choice.name
dry_run = dry_run_overrides(limit, epochs)  # {} unless a dry run

# %% [markdown]
# ## Size and operations at full size (Table 6.1)
#
# larq's summary counts parameters and multiply-accumulates (MACs) by bit width. The
# first layer keeps float inputs and the last layer is float, so the binary network is
# not quite 32 times smaller; batch normalization adds a few float parameters.

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
