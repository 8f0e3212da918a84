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
# # 04 · GoogLeNet at three precisions
#
# GoogLeNet (Inception v1, Szegedy et al. 2014) is the report's sparsely connected
# network (§6): a stem, nine inception blocks whose 1x1, 3x3, 5x5 and pooling branches
# are concatenated, global average pooling, dropout 0.4 and one softmax output (no
# auxiliary heads). It has ten times fewer parameters than AlexNet yet more
# multiply-accumulates, and it is 22 layers deep, which makes the binary version much
# harder to train than binary AlexNet.
#
# This notebook trains GoogLeNet with binary, 8-bit and 32-bit float weights and
# activations (report §6), all through `utils.train`, so every run writes
# one results record and a saved model. A run whose record already exists is loaded,
# not retrained; set `force = True` to train again.

# %% tags=["setup"]
# Setup: go to the repository root (cloning it on Colab), then import `utils` before
# TensorFlow: it switches TensorFlow to the Keras 2 API that larq needs.
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's start-up chatter
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
    from utils.colab import prepare_runtime

    prepare_runtime()

import utils  # noqa: F401  (before TensorFlow: sets TF_USE_LEGACY_KERAS=1)

print("working directory:", Path.cwd())

# %% tags=["parameters"]
# Parameters: papermill replaces these (see the README); edit them to explore.
profile = "quick"  # "smoke" (seconds, tests), "quick" (CPU, minutes), "full" (report, GPU)
dataset = "auto"  # "auto" (Cats & Dogs if available, else mnist5k), "cats_and_dogs", "mnist5k"
figures_dir = "figures"  # where save_fig writes the PNGs
results_dir = "results"  # where results records (JSON) go
force = False  # retrain even if a record exists

# %%
import pandas as pd

from utils import plots
from utils.compare import comparison_table, epoch_table, reference_table
from utils.dataset_choice import resolve_dataset
from utils.experiments import MAIN_PRECISIONS, train_precisions
from utils.models import build_model, summary_table

choice = resolve_dataset(dataset)
print(choice)
dataset = choice.name

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
# ## Training
#
# The profile sets input size, width, epochs and the optimizer recipe (see
# `utils/config.py`); the records say which dataset was used, and whether the offline
# digits stood in for Cats & Dogs.

# %%
records = train_precisions("googlenet", dataset, profile, results_dir=results_dir,
                           force=force)
first_seed = min(record["config"]["seed"] for record in records)
one_seed = [record for record in records if record["config"]["seed"] == first_seed]
comparison_table(records).round(2)

# %% [markdown]
# ## Accuracy and loss per epoch (Figs. 6.2 and 6.3)
#
# The mean over the seeds as a line, ± one standard deviation as a band; training dashed,
# validation solid.

# %%
histories = {}
for record in records:
    histories.setdefault(record["config"]["precision"], []).append(record["history"])
for metric in ("accuracy", "loss"):
    figure = plots.plot_seed_histories(histories, metric, f"GoogLeNet {metric} ({dataset})")
    plots.save_fig(figure, f"04_googlenet_{metric}", figures_dir)

# %% [markdown]
# ## Optimal, best and final epochs (Table 6.2)
#
# The report chose an "optimal" epoch by eye. `utils.compare` makes the rule explicit
# (highest validation accuracy minus its gap to training accuracy) and shows the best
# and final epochs next to it. The test accuracy is that of the saved weights. One seed
# (the first) per precision, as the report showed one run.

# %%
epoch_table(one_seed).round(3)

# %% [markdown]
# ## Confusion matrices on the test split (first seed)

# %%
for record in one_seed:
    precision = record["config"]["precision"]
    figure = plots.plot_confusion_matrix(
        record["confusion_matrix"], record["dataset"]["class_names"],
        title=f"GoogLeNet {precision} ({dataset})")
    plots.save_fig(figure, f"04_googlenet_confusion_{precision}", figures_dir)

# %% [markdown]
# ## Against the reference report
#
# The report's GoogLeNet reached barely above chance on Cats & Dogs. When the offline
# digits stand in, the numbers are not directly comparable (ten classes, an easier
# task): the table shows the chance level of each dataset.

# %%
reference_table(records).round(2)
