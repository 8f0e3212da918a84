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
from utils.tables import comparison_table, notebook_time_text, reference_table

choice, folders = notebook_folders(profile, dataset, course_dir, data_dir=data_dir,
                                   results_dir=results_dir, figures_dir=figures_dir,
                                   report_dir=report_dir)
dataset = choice.name
dry_run = dry_run_overrides(limit, epochs)  # {} unless a dry run

# %% [markdown]
# How long this notebook takes: measured in the last main job with its records present,
# and estimated from those records for a course folder without them.

# %%
display(Markdown(notebook_time_text("05_comparison", folders.results, profile)))

# %% [markdown]
# ## Your records
#
# The records of this profile and dataset in your course folder: those notebooks 03 and
# 04 wrote (in this runtime or another that shares the folder), or, in the repository's
# quick profile on the digits, the committed ones. Each network and precision is trained
# with several seeds; the table gives the mean and the spread, and says whether each gap
# to float32 is beyond that spread.

# %% [markdown]
# ### Predict, run, explain: how much smaller is a binary network?
#
# **Predict.** A binary weight takes 1 bit where a float32 weight takes 32, but every
# binary network here keeps some parameters in float: the classifier and the
# batch-normalization values, a small share of all its parameters. (a) How many times
# smaller than its float32 version (larq's memory estimate, `compression x` in the tables
# below) do you expect binary AlexNet to be? (b) What share of the binary network's memory
# do you expect those float parameters to take? Write your guesses in the next cell
# before running the cells below; the measurement follows the figure of accuracy against
# size.

# %%
my_prediction = None  # your guesses for (a) and (b), e.g. (30.0, 0.05)

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
# **Run.** The cell reads larq's counts from the binary records: how many parameters stay
# 32-bit, what share of the memory they take, and how many times smaller than float32
# the binary network is.

# %%
print(f"your prediction: {'no prediction written' if my_prediction is None else my_prediction}")
binary_counts = {(record["config"]["model"], record["config"]["dataset"]): record["summary"]
                 for record in records
                 if record["config"]["precision"] == "binary"}  # the same for every seed
if not binary_counts:
    print(f"No binary record of the {profile} profile in {folders.results}: run 03_alexnet "
          "and 04_googlenet with this profile to make them.")
for (model, data), counts in binary_counts.items():
    float_bits = 32 * counts["params_32bit"]
    all_bits = counts["memory_mib"] * 2**20 * 8  # larq's memory, each weight at its width
    print(f"{model} on {data}: {counts['params_32bit']:,} of {counts['params_total']:,} "
          f"parameters stay 32-bit ({counts['params_32bit'] / counts['params_total']:.2%}) "
          f"and take {float_bits / all_bits:.1%} of the memory; the binary network is "
          f"{counts['compression_ratio']:.1f}x smaller than float32 (32x if every parameter "
          "took 1 bit)")

# %% [markdown]
# **Explain.** Why does so small a share of parameters take so large a share of the
# memory? Write the compression as a function of that share. Which parameters are they,
# and why would the full-size networks come closer to 32x than the reduced ones here?

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title One explanation (open to read it)
# Each float parameter weighs as much as 32 binary ones. With a share f of the P
# parameters kept at 32 bits, the memory is P·(1 − f) + 32·P·f = P·(1 + 31f) bits
# against 32·P for float32, so the compression is 32 / (1 + 31f), and the float
# parameters take 32f / (1 + 31f) of the memory. The 31 is what makes a small f count:
# once 31f nears 1/3, the float parameters already take a quarter of the memory
# (exercise 05_compression below works one case through).
# Which parameters: the float classifier (its kernel and biases, report §4.3) and, per
# channel of every quantized layer, the batch normalization, which larq counts as two
# numbers (at inference it is a scale and an offset per channel: beta is merged into the
# moving mean, and the binary networks learn no gamma, since a positive scale never
# changes a sign). The first layer's weights are binary: only its input is float, which
# costs MACs (notebook 08), not memory.
# The reduced networks of the quick profile are a quarter (AlexNet) or half (GoogLeNet)
# as wide and classify ten digits, so their few binary weights per channel leave the
# classifier and the normalization a larger share. At full size, with two classes,
# AlexNet's dense layers add tens of millions of binary weights and f becomes tiny, so
# its compression comes close to 32x; GoogLeNet, with a tenth of the weights spread over
# thousands of channels, stays further below (the tables of notebooks 03 and 04 give
# both). The files of notebook 06 add their own costs on top of larq's count.

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
