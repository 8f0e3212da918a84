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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/reduced-precision/rpnn-course/blob/main/notebooks/05_comparison.ipynb)

# %% [markdown]
# # 05 · Every network at every precision
#
# This notebook reads only the results records written by `03_alexnet` and
# `04_googlenet` (run those first, or the main job) and puts them side by side:
# accuracy, loss, parameters, memory, MACs, and the gap to the float network. It then
# regenerates `report/README.md`.

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

# %%
import math

from IPython.display import Markdown, display

from utils import figures
from utils.config import dry_run_overrides
from utils.course import REPOSITORY_ROOT, course_folders, notebook_folders
from utils.exercises import check, exercise
from utils.records import main_records, missing_main_runs
from utils.report import build_report, conclusions, main_table
from utils.tables import comparison_table, reference_table

choice, folders = notebook_folders(profile, dataset, course_dir, data_dir=data_dir,
                                   results_dir=results_dir, figures_dir=figures_dir,
                                   report_dir=report_dir)
dataset = choice.name
dry_run = dry_run_overrides(limit, epochs)  # {} unless a dry run

# %% [markdown]
# ## Your records
#
# The records of this profile and dataset in your course folder: those notebooks 03 and
# 04 wrote (in this runtime or another that shares the folder), or, in the repository's
# quick profile on the digits, the committed ones. Each network and precision is trained
# with several seeds; the table gives the mean and the spread, and says whether each gap
# to float32 is beyond that spread.

# %%
records = main_records(folders.results, profile, **dry_run)
missing = missing_main_runs(records)
if missing:
    print(f"No {profile}-profile record in {folders.results} for: {', '.join(missing)}. Run "
          "03_alexnet and 04_googlenet with this profile, dataset and course folder to make "
          "them; the tables below show what there is.")
main_table(records) if records else None

# %% [markdown]
# The same numbers in full (min, max, test loss, parameters, MACs, training speed):

# %%
table = comparison_table(records)
table.round(3)

# %% [markdown]
# ## Accuracy against model size
#
# Memory is larq's estimate: 1 bit per binary weight, k bits per k-bit weight, 32 per
# float weight. Moving left costs accuracy; how much is the gap to float. The error bars
# are the spread over seeds.

# %%
if records:
    figure = figures.plot_accuracy_vs_size(table)
    figures.save_fig(figure, "05_accuracy_vs_size", folders.figures)

# %% [markdown]
# ## What the comparison says

# %%
display(Markdown(conclusions(records) if records else "No records yet."))

# %% [markdown]
# ## Your run next to the course's reference run
#
# When your course folder is not the repository's reference run (another course folder,
# such as Google Drive on Colab, or another profile), the committed quick-profile records
# on the digits are shown here for comparison, labelled as such.

# %%
reference = course_folders("quick", "mnist5k", REPOSITORY_ROOT)
if folders.results != reference.results:
    committed = main_records(reference.results, "quick")
    print(f"Reference: the committed quick-profile records on mnist5k ({len(committed)} "
          "records), not your run")
    display(main_table(committed))

# %% [markdown]
# ## Against the reference report (Tables 5.2 and 6.2)

# %%
reference_table(records).round(2) if records else None

# %% [markdown]
# ## Exercises
#
# Each question below is checked by `check`: a wrong answer raises with a hint, a
# right one says so. Work it out in the empty cell; the worked solution follows, folded
# (click to open it).

# %%
exercise("05_standard_error")

# %%
# Your answer:
# answer = ...
# check("05_standard_error", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
committed_table = comparison_table(main_records(reference.results, "quick"))
float_run = committed_table.loc[("alexnet", "fp32")]
binary_run = committed_table.loc[("alexnet", "binary")]
error = math.sqrt(float_run["test accuracy % std"] ** 2 / float_run["seeds"]
                  + binary_run["test accuracy % std"] ** 2 / binary_run["seeds"])
answer = error
check("05_standard_error", answer)

# %%
exercise("05_beyond_spread")

# %%
# Your answer:
# answer = ...
# check("05_beyond_spread", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
gap = float_run["test accuracy % mean"] - binary_run["test accuracy % mean"]
answer = "yes" if abs(gap) > 2 * error else "no"  # the rule of utils.records
check("05_beyond_spread", answer)

# %%
exercise("05_compression")

# %%
# Your answer:
# answer = ...
# check("05_compression", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = (1_010_000 * 32) / (1_000_000 * 1 + 10_000 * 32)
check("05_compression", answer)

# %% [markdown]
# ## Regenerate the report

# %%
print(build_report(folders.results, folders.figures, folders.report, profile=profile,
                   written_by="notebook 05_comparison", **dry_run))
