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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/reduced-precision/rpnn-course/blob/main/notebooks/09_related_systems.ipynb)

# %% [markdown]
# # 09 · The related systems, on the course's data
#
# The reference folder holds three systems besides the report. Each makes one idea
# distinct, and each is rebuilt here with the course's layers, data and training path,
# so that the idea can be tried and measured like everything else:
#
# 1. **Multi-base binarization** (ABC-Net, Lin et al. 2017): a weight tensor as a sum of
#    several binary tensors with real coefficients, activations likewise. More bases
#    buy back accuracy at the price of more bits and more binary operations.
# 2. **Small binary networks** (RWTH's efficient binary networks): LeNet-5 and a
#    VGG-7-style network, float and binary, against the accuracies RWTH published.
# 3. **k-bit QNN blocks** (Moons et al., *Minimum Energy Quantized Neural Networks*):
#    bits as a parameter and width as a second knob, to ask at which bit width a
#    network of a given accuracy is smallest.
#
# The runs use the digits (`mnist5k`) whatever the `dataset` parameter says about the
# main networks, as the reference systems did with MNIST; every table says how many
# seeds stand behind each number.

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
dataset = "auto"  # the main networks' dataset; the systems here always train on mnist5k
course_dir = None  # None: $COURSE_DIR, else the repository (the course folder, utils.course)
figures_dir = None  # None: the course folder's, for this profile and dataset
results_dir = None  # None: the course folder's (training records and benchmarks)
report_dir = None  # None: the course folder's (not used here)
data_dir = None  # None: the course folder's data/ (downloads, prepared datasets)
limit = None  # dry run: at most this many images per split (None: all)
epochs = None  # dry run: this many epochs per run (None: the profile's)

# %%
import inspect

import pandas as pd
import tensorflow as tf
from IPython.display import Markdown, display

from utils import figures
from utils.config import dry_run_overrides
from utils.course import notebook_folders
from utils.exercises import check, exercise
from utils.lessons import related_systems
from utils.lessons.arithmetic_and_energy import accuracy_energy_table, plot_accuracy_vs_energy
from utils.lessons.related_systems import system_configs, system_table
from utils.quantizers import MultiBaseWeights
from utils.tables import notebook_time_text
from utils.train import run_configs

choice, folders = notebook_folders(profile, dataset, course_dir, data_dir=data_dir,
                                   results_dir=results_dir, figures_dir=figures_dir,
                                   report_dir=report_dir)
dataset = choice.name
dry_run = dry_run_overrides(limit, epochs)  # {} unless a dry run


def train(system: str) -> tuple[list, pd.DataFrame]:
    """Train (or read the records of) one system's runs on mnist5k; records and table."""
    configs = system_configs(system, profile, "mnist5k", **dry_run)
    records = run_configs(configs, results_dir=folders.results, data_dir=folders.data, verbose=0)
    return records, system_table(records, configs)

# %% [markdown]
# How long this notebook takes: measured in the last main job with its records present,
# and estimated from those records for a course folder without them.

# %%
display(Markdown(notebook_time_text("09_related_systems", folders.results, profile)))

# %% [markdown]
# ## 1 · Multi-base binarization (ABC-Net)
#
# A binary weight keeps one bit of a real number. ABC-Net keeps M bits, as M binary
# tensors that cut the weights at M thresholds spread over one standard deviation
# around their mean, and fits a real coefficient to each by least squares:
#
# $$W \approx \sum_{i=1}^{M} \alpha_i B_i, \qquad
#   B_i = \operatorname{sign}\big(W - \bar W + u_i\,\sigma_W\big), \qquad
#   u_i \in [-1, 1] \text{ evenly spaced}.$$
#
# The activations get N binary bases with learned shifts and coefficients. A layer then
# runs M·N binary convolutions and adds their outputs with the coefficients as weights.
# Here is the weight quantizer (`utils/quantizers.py`), a larq quantizer like `ste_sign`:

# %%
print(inspect.getsource(MultiBaseWeights.binary_bases))
print(inspect.getsource(MultiBaseWeights.coefficients))

# %% [markdown]
# How close M bases come to a kernel with normally distributed weights (the relative
# error ‖W − Σ αᵢBᵢ‖ / ‖W‖), next to 8-bit rounding of the same kernel:

# %%
kernel = tf.random.stateless_normal((3, 3, 64, 64), seed=(0, 1), stddev=0.05)
errors = {}
for bases in (1, 2, 3, 4, 5):
    approximation = MultiBaseWeights(bases)(kernel)
    errors[f"{bases} base{'s' if bases > 1 else ''}"] = float(
        tf.norm(kernel - approximation) / tf.norm(kernel))
step = float(tf.reduce_max(tf.abs(kernel))) / 127
errors["8-bit rounding"] = float(tf.norm(kernel - tf.round(kernel / step) * step)
                                 / tf.norm(kernel))
print(f"Error left: one base {errors['1 base']:.0%}, three {errors['3 bases']:.0%}, five "
      f"{errors['5 bases']:.0%}; 8-bit rounding {errors['8-bit rounding']:.1%}, "
      f"{errors['5 bases'] / errors['8-bit rounding']:.0f} times less than five bases.")
pd.Series(errors, name="relative error").round(4)

# %% [markdown]
# One base is the sign with its best gain and leaves a large part of the kernel's norm as
# error; each further base removes less of it (the line above gives the shares). The
# returns shrink because the thresholds are fixed at the mean ± one standard deviation,
# and even five bases stay far further from the kernel than 8-bit rounding. Whether the
# network notices is the next question.
# Binary AlexNet on the digits, with M = 1, 3, 5 weight bases and N = 1, 3 activation
# bases, against plain binary, ternary and the
# report's 8-bit network, all with the recipe and seeds of notebook 07's bit-width sweep
# (so the binary and 8-bit runs are the sweep's own).
#
# ### Predict, run, explain: how much of the gap do the bases close?
#
# **Predict.** Place the best multi-base network (M = 5, N = 3) on a scale where 0 is
# plain binary's test accuracy and 1 is the 8-bit network's. Does it land near 0, near 1,
# or beyond either end? Write your guess in the next cell before running the training
# cell and the measurement after it.

# %%
my_prediction = None  # your guess: 0 = binary's accuracy, 1 = 8-bit's, e.g. 0.5

# %%
abc_records, abc = train("abc")
display(abc.round(2))
figure = related_systems.plot_system_memory(abc, "ABC-Net: AlexNet on mnist5k")
figures.save_fig(figure, "09_abc_accuracy_vs_memory", folders.figures)

# %% [markdown]
# **Run.** The cell places every multi-base network on that scale, from the mean test
# accuracies of the table above, next to the spread over seeds of binary and 8-bit.

# %%
abc_means = abc["mean"].droplevel(["model", "width"])
abc_gap = abc_means.get("int8", float("nan")) - abc_means.get("binary", float("nan"))
print(f"your prediction for abc_w5a3: "
      f"{'no prediction written' if my_prediction is None else my_prediction}")
print(f"gap from binary to 8-bit: {abc_gap:.2f} points (seed std: binary "
      f"{abc['std'].droplevel(['model', 'width']).get('binary', float('nan')):.2f}, "
      f"8-bit {abc['std'].droplevel(['model', 'width']).get('int8', float('nan')):.2f})")
for precision, mean in abc_means.items():
    if precision.startswith("abc_"):
        position = ((mean - abc_means["binary"]) / abc_gap if pd.notna(abc_gap) and abc_gap != 0
                    else float("nan"))
        print(f"measured, {precision}: {mean:.2f}% -> {position:+.2f} on the 0-to-1 scale")

# %% [markdown]
# **Explain.** Why does the position come out where it does? Is the gap between binary
# and 8-bit large enough, next to the seed spread, for the position to mean much? And
# why might five weight bases, which approximate the kernel far better than one (the
# table of relative errors above), still not buy much accuracy here?

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title One explanation (open to read it)
# A position is only as good as the gap it divides by. On the digits binary AlexNet
# already comes close to 8-bit, so the gap (printed above) is small, not much more than
# the spread over seeds; a multi-base network can then land anywhere from below 0 to
# above 1 by chance, and no single number means much (when the gap is zero or negative,
# as it can be on digits and in the smoke profile, the scale is undefined or reversed).
# What the bases improve is the approximation of each kernel, but the network is trained with
# the quantizer in the loop: the float latent weights adapt to whatever the quantizer
# does, so a closer approximation of a fixed kernel is not what limits accuracy; the
# activations, binarized with N bases, lose information too. On a harder task (ImageNet,
# as in the ABC-Net paper) the gap is wide, and there the bases close a large part of it.

# %% [markdown]
# **What a multi-base layer costs when deployed.** larq counts M bits per weight (its
# summary above), so M = 5 stores five times a binary network's weights. The arithmetic
# grows faster: M·N binary convolutions per layer, each an XNOR-popcount over the same
# window, plus a weighted sum in float. Larq Compute Engine has no multi-base kernel: its
# converter recognizes a binary convolution only when both the input and the kernel are
# plain signs, so an ABC-Net layer would be converted as float arithmetic on ±1 values,
# with none of the packing (notebook 06). Deploying it bit-packed would take M·N
# `LceBconv2d` ops per layer and their sum, which LCE does not build.

# %%
bases = abc.reset_index()
bases = bases[bases["precision"].str.startswith("abc_")]
binary_ops = [int(p[5]) * int(p[7]) for p in bases["precision"]]  # "abc_w<M>a<N>"
pd.DataFrame({"precision": bases["precision"], "weight bits": [int(p[5]) for p in
              bases["precision"]], "binary convolutions per layer": binary_ops,
              "memory (KiB)": bases["memory_kib"].round(1),
              "accuracy % (mean)": bases["mean"].round(2)}).set_index("precision")

# %% [markdown]
# ## 2 · Small binary networks (RWTH)
#
# RWTH's LeNet-5 (two 5x5 convolutions and a dense layer) and VGG-7 (six 3x3
# convolutions in three blocks, two dense layers), built by the same layer factory as
# AlexNet, at float32 and binary. RWTH trained LeNet-5 on MNIST's 60,000 digits and VGG-7
# on CIFAR-10's photos, while `mnist5k` has 3,500 training digits. For LeNet-5 the
# difference to their numbers is therefore in part the amount of data; for VGG-7 the two
# columns are different tasks (photos of ten kinds of object against digits), so they
# cannot say which training did better. The VGG-7 here runs on the digits at a quarter of
# its width.

# %%
reference_records, reference = train("reference")
reference.round(2)

# %% [markdown]
# ## 3 · k-bit QNN blocks (Moons et al.)
#
# Moons et al. build their networks from three blocks (A, B, C) of 3x3 convolutions with
# a pool after each, at any bit width, and widen a network when fewer bits cost
# accuracy. Here the same network at 1, 2, 4 and 8 bits, and at one and two times its
# width:

# %%
qnn_records, qnn = train("qnn")
display(qnn.round(2))
figure = related_systems.plot_system_memory(qnn, "k-bit QNN on mnist5k: bits and width")
figures.save_fig(figure, "09_qnn_accuracy_vs_memory", folders.figures)

# %% [markdown]
# The same networks against the energy of one inference (notebook 08's 45 nm estimate,
# compute and weights): their paper's question is which bit width reaches an accuracy
# for the least energy, and whether a wider low-precision network gets there first.

# %%
by_width = {}
for record in qnn_records:
    by_width.setdefault(f"width {record['config']['width']:g}", []).append(record)
energy = accuracy_energy_table(by_width)
figure = plot_accuracy_vs_energy(energy)
figures.save_fig(figure, "09_qnn_accuracy_vs_energy", folders.figures)
energy.round(4)

# %% [markdown]
# ## Exercises
#
# Each question below is checked by `check`: a wrong answer raises with a hint, a
# right one says so. Work it out in the empty cell; the worked solution follows, folded
# (click to open it).

# %%
exercise("09_abc_convolutions")

# %%
# Your answer:
# answer = ...
# check("09_abc_convolutions", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = 3 * 3
check("09_abc_convolutions", answer)

# %%
exercise("09_abc_bytes")

# %%
# Your answer:
# answer = ...
# check("09_abc_bytes", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = (5 * 1_000_000 // 8, 1_000_000)
check("09_abc_bytes", answer)

# %%
exercise("09_training_share")

# %%
# Your answer:
# answer = ...
# check("09_training_share", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = 3_500 / 60_000
check("09_training_share", answer)

# %% [markdown]
# ## What to take away
#
# The measurements behind the first two points, from the records of sections 1 and 2:

# %%
from utils.records import difference


def against(row, base):
    """The difference of two rows' mean accuracies, read against their seed spread."""
    diff, error, beyond = difference(row, base)
    spread = ("too few seeds to judge" if pd.isna(error)
              else "beyond the seed spread" if beyond else "within the seed spread")
    return f"{row['mean']:.1f}% against {base['mean']:.1f}%, {diff:+.1f} points ({spread})"


plain = abc.xs("binary", level="precision").iloc[0]
for (_, precision, _), row in abc.iterrows():
    if precision.startswith("abc_") and row["seeds"] > 0:
        print(f"{precision} against plain binary AlexNet: {against(row, plain)}")
for model, rows in reference.groupby(level="model", sort=False):
    by_precision = rows.droplevel(["model", "width"])
    if {"fp32", "binary"} <= set(by_precision.index):
        binary_row, float_row = by_precision.loc["binary"], by_precision.loc["fp32"]
        print(f"{model}, binary against float: {against(binary_row, float_row)}; RWTH "
              f"published {binary_row.get('RWTH accuracy', float('nan')):.2f}% and "
              f"{float_row.get('RWTH accuracy', float('nan')):.2f}% on "
              f"{float_row.get('RWTH dataset', 'their data')}")

# %% [markdown]
# - Multi-base binarization adds weight bits one base at a time, and its deployed cost
#   is M·N binary convolutions per layer with no support in today's binary runtime.
#   Whether the bases buy accuracy is in the table of section 1 and the lines above. In
#   the committed quick run they did not: with one activation base every ABC network
#   stayed far below plain binary AlexNet, three activation bases brought them back close
#   to it, not beyond it, and more weight bases made no difference beyond the seed spread.
#   ABC-Net's gains were reported for ResNets trained long on ImageNet; the sweep's few
#   epochs on digits are a much shorter budget.
# - Small binary networks on digits come close to their float twins (the lines above give
#   the gaps). RWTH's LeNet-5 numbers are higher than ours, trained on 60,000 MNIST digits
#   rather than 3,500; their VGG-7 numbers are lower, but they are for CIFAR-10's photos,
#   a harder task than digits. Neither is a like-for-like target: they are a reference.
# - Width is a second knob next to bits. On these digits the QNN's accuracy barely moves
#   with either (the tables of section 3), so the fewest bits give the least memory and
#   energy; Moons et al. found the wider low-bit networks worth it on harder tasks, where
#   the narrow ones lose accuracy.
