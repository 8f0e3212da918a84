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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/reduced-precision/rpnn-course/blob/main/notebooks/07_ablations.ipynb)

# %% [markdown]
# # 07 · Ablations: measuring what the report only told
#
# The report mentions several experiments in a sentence each (the loss, dropout, binary
# first and last layers) and lists ideas it never tried (Bop, padding, gain terms,
# where to put batch normalization). Here each becomes a controlled comparison: one
# network, binary AlexNet with the profile's recipe, one setting changed at a time,
# the same data split and the same seeds for every condition, and several seeds per
# condition so that the seed-to-seed spread is measured rather than guessed.
#
# A difference is called *beyond the seed spread* when it exceeds twice its standard
# error, sqrt(s_b²/n_b + s_v²/n_v) over the seeds of the baseline b and the variant v.
# With three seeds that is a rough screen, not a significance test. Accuracies are test
# accuracies in percent; differences are in points.
#
# Every run writes one results record, and runs that are the same config (the baseline
# shared by all ablations) are trained once. A run whose record exists is read, not
# retrained; set `force = True` to train again.

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
force = False  # retrain even if a record exists

# %%
import math

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from utils import figures
from utils.course import notebook_folders
from utils.exercises import check, exercise
from utils.lessons import ablations
from utils.lessons.ablations import condition_table, measured, run_ablations, summary_table, verdict
from utils.records import load_record
from utils.report import build_report
from utils.tables import notebook_time_text

choice, folders = notebook_folders(profile, dataset, course_dir, results_dir=results_dir,
                                   figures_dir=figures_dir, report_dir=report_dir)
dataset = choice.name

# %% [markdown]
# How long this notebook takes: measured in the last main job with its records present,
# and estimated from those records for a course folder without them.

# %%
display(Markdown(notebook_time_text("07_ablations", folders.results, profile)))

# %% [markdown]
# ## The baseline and the runs
#
# The baseline's settings (the profile's recipe, with batch normalization and dropout
# 0.5 fixed for every condition), then one row per distinct training run.

# %%
ablations.settings_table(profile, dataset)

# %%
ablations.plan_table(profile, dataset)

# %% [markdown]
# ### Predict, run, explain: which settings matter beyond the seed spread?
#
# **Predict.** Eight of the ablations above change one setting of the binary baseline:
# the loss (`loss`), dropout (`dropout`), the first layer's input (`first_layer`), the
# last layer (`last_layer`), the optimizer (`optimizer`), the padding value (`padding`),
# the gain term (`gain`) and where batch normalization sits (`batch_norm`). Which of them
# do you expect to move test accuracy beyond the seed spread, that is by more than twice
# the standard error of the difference? Write their keys in the next cell before running
# the training cell below; the measurement follows the runs that did not train.

# %%
my_prediction = None  # the keys you expect beyond the spread, e.g. {"dropout", "gain"}

# %% [markdown]
# ## Training
#
# The quick profile trains every config for a few epochs on a 2-core CPU (see
# `ABLATION_PROFILES` in `utils/lessons/ablations.py` for how the length was chosen); the full
# profile uses the report's setup and is meant for a GPU.

# %%
runs = run_ablations(profile, dataset, results_dir=folders.results, data_dir=folders.data,
                     force=force)
summary = summary_table(runs)
summary.round(2)

# %% [markdown]
# ## Runs that did not train
#
# A run whose test accuracy stays within 5 points of chance (10% on the digits) did not
# learn. A condition most of whose seeds did not learn is reported by the verdicts below
# as "did not train": its difference to the baseline measures a failure, not an effect
# of the setting, and it is left out of the scores (one lucky seed does not make it one
# that trains).
# The evidence is in its loss curve: a network that trains brings its training loss
# down within an epoch or two, one that does not keeps it near ln(10) ≈ 2.3 for ten
# classes. Each ablation's note says what the likely cause is.

# %%
dead = summary[summary["trained"] < summary["seeds"]]
if dead.empty:
    print("Every seed of every condition trained (test accuracy beyond chance + 5 points).")
else:
    display(dead[["seeds", "trained", "mean", "chance"]].round(2))
    histories = {}
    for key, condition in dead.index:
        names = runs.query("ablation == @key and condition == @condition")["run_name"]
        histories[f"{key}: {condition}"] = [
            load_record(Path(folders.results) / f"{name}.json")["history"] for name in names]
    baseline = runs.query("ablation == 'loss' and is_baseline")["run_name"]
    histories["baseline"] = [load_record(Path(folders.results) / f"{name}.json")["history"]
                             for name in baseline]
    figure = figures.plot_seed_histories(histories, "loss", "Loss of the runs that did not train")
    figures.save_fig(figure, ablations.NOT_TRAINED_FIGURE, folders.figures)

# %% [markdown]
# **Run.** The cell reads every variant of the eight ablations from the summary table:
# its difference to the baseline, twice the standard error of that difference, and
# whether it is beyond the spread or most of its seeds did not train; then it sets your
# list against what was measured.

# %%
one_setting = ("loss", "dropout", "first_layer", "last_layer", "optimizer", "padding", "gain",
               "batch_norm")
print(f"your prediction: {'no prediction written' if my_prediction is None else my_prediction}")
beyond = set()
for key in one_setting:
    if key not in summary.index.get_level_values("ablation"):
        print(f"{key:<12} not measured in this run")
        continue
    base = ablations.get_ablation(key).baseline
    for condition, row in summary.loc[key].iterrows():
        if condition == base:
            continue
        if row["beyond_spread"]:
            beyond.add(key)
        outcome = ("one seed, so no spread to compare with" if row["seeds"] < 2 else
                   f"twice the standard error {2 * row['se_diff']:.2f}: "
                   + ("beyond the seed spread" if row["beyond_spread"] else "within it"))
        failed = " (most seeds did not train)" if 2 * row["trained"] < row["seeds"] else ""
        print(f"{key:<12} {condition}: {row['diff']:+.2f} points against {base}, "
              f"{outcome}{failed}")
print(f"measured beyond the spread: {', '.join(sorted(beyond)) or 'none'}")
if my_prediction is not None:
    named = {my_prediction} if isinstance(my_prediction, str) else set(my_prediction)
    print(f"named and beyond: {', '.join(sorted(named & beyond)) or 'none'}; named but "
          f"within: {', '.join(sorted(named - beyond)) or 'none'}; beyond but not named: "
          f"{', '.join(sorted(beyond - named)) or 'none'}")

# %% [markdown]
# **Explain.** For the ablations beyond the spread: is each one an effect of the setting
# or a failure to train, and what in the setting causes it? For those within: is there a
# reason to expect no difference at all, or is the difference just smaller than what three
# seeds can resolve?

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title One explanation (open to read it)
# Two settings break the network rather than tune it. Batch normalization before the
# max-pool: the max over a window of normalized values is mostly positive, so the sign
# that follows sees nearly constant +1 and the next layer gets almost no information
# (the ablation's note; the report's §7 calls batch-norm placement crucial). Its runs
# tend to stay near chance, so its large difference measures a failure to train, not an
# effect. Mean squared error on a softmax: its gradient carries the softmax's derivative,
# which vanishes when an output saturates, whereas cross-entropy's gradient is the error
# itself; the recipe's learning rate was tuned for cross-entropy, and the variant at the
# report's 1e-3 shows how much of that cost is the rate (report §5.1 saw a small one).
# One setting has a reason to do nothing: the gain term. A positive per-channel scale on
# the kernel passes through max-pooling and is divided out by the batch normalization
# that follows every binary layer, so both networks compute almost the same function.
# The rest are small effects: a binarized first-layer input keeps most of a digit, which
# is nearly black and white (§4.3); dropout and a binarized classifier change little on an
# easy task in a few epochs; Bop, which the report proposed without a measurement (§7.1),
# runs here with thresholds set for these short runs (the ablation's note), so there is
# no claim to meet and no reason for a large difference; and the padding value matters
# more than one might think, because the quick profile's 67-pixel inputs leave feature
# maps of a few pixels in the last convolutions, where most outputs read some padding.
# Whether such an effect clears the bar depends on the spread: with three seeds, twice
# the standard error of a difference (printed for each variant) is somewhat larger than
# one seed-to-seed standard deviation, so effects of that size land on either side of
# the bar by chance. Beyond the spread means "not noise", not "important"; within it
# means "not shown", not "no effect".

# %% [markdown]
# ## Overview
#
# Each variant's mean test accuracy minus its baseline's, with twice the standard error
# of the difference; orange points are beyond the seed spread. The bit-width sweep has
# its own figure below.

# %%
figure = ablations.plot_differences(summary)
figures.save_fig(figure, ablations.OVERVIEW_FIGURE, folders.figures)

# %% [markdown]
# ## Each ablation: the claim, the measurement, the verdict
#
# For every ablation in turn: what the report said (in our words), what to keep in mind
# when reading the measurement, the table of conditions (seeds, mean, spread and the
# difference to the baseline), the figure (every seed as a point, mean ± std), and the
# verdict. The claims and notes are kept with the ablation's definition in
# `utils/lessons/ablations.py`.

# %%
for key in measured(runs):
    ablation = ablations.get_ablation(key)
    display(Markdown(f"### {ablation.title}\n\n**The report ({ablation.section_text}).** "
                     f"{ablation.claim}\n\n**Keep in mind.** {ablation.note}"))
    display(condition_table(summary, key))
    figure = ablations.plot_ablation(runs, key)
    figures.save_fig(figure, ablations.figure_name(key), folders.figures)
    display(figure)
    plt.close(figure)  # shown here, next to its table, not again at the end of the cell
    print(verdict(key, summary))

# %% [markdown]
# ## Exercises
#
# Each question below is checked by `check`: a wrong answer raises with a hint, a
# right one says so. Work it out in the empty cell; the worked solution follows, folded
# (click to open it).

# %%
exercise("07_small_difference")

# %%
# Your answer:
# answer = ...
# check("07_small_difference", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
error = math.sqrt(0.8**2 / 3 + 0.6**2 / 3)
answer = "yes" if 1.0 > 2 * error else "no"
check("07_small_difference", answer)

# %%
exercise("07_seeds_needed")

# %%
# Your answer:
# answer = ...
# check("07_seeds_needed", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = next(n for n in range(2, 100) if 1.0 > 2 * math.sqrt(2 * 0.5**2 / n))
check("07_seeds_needed", answer)

# %%
exercise("07_dead_run")

# %%
# Your answer:
# answer = ...
# check("07_dead_run", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = "did not train"  # 10% is chance on ten balanced classes
check("07_dead_run", answer)

# %% [markdown]
# ## Regenerate the report
#
# The report gains an ablations section with the claims, tables, figures and verdicts
# above, rebuilt from the results records.

# %%
print(build_report(folders.results, folders.figures, folders.report, profile=profile,
                   written_by="notebook 07_ablations"))
