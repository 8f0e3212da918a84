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
report_dir = "report"  # where the regenerated report goes

# %%
from utils import plots
from utils.compare import comparison_table, reference_table
from utils.records import main_records
from utils.report import build_report

records = main_records(results_dir, profile)
if not records:
    raise RuntimeError(f"no {profile}-profile records in {results_dir}: "
                       "run 03_alexnet and 04_googlenet first")
table = comparison_table(records)
table.round(3)

# %% [markdown]
# ## Accuracy against model size
#
# Memory is larq's estimate: 1 bit per binary weight, k bits per k-bit weight, 32 per
# float weight. Moving left costs accuracy; how much is the gap to float.

# %%
figure = plots.plot_accuracy_vs_size(table)
plots.save_fig(figure, "05_accuracy_vs_size", figures_dir)

# %% [markdown]
# ## Against the reference report (Tables 5.2 and 6.2)

# %%
reference_table(records).round(2)

# %% [markdown]
# ## Regenerate the report

# %%
print(build_report(results_dir, figures_dir, report_dir, profile=profile))
