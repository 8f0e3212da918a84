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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/reduced-precision/rpnn-course/blob/main/notebooks/01_quantization_theory.ipynb)

# %% [markdown]
# # 01 · Quantization theory, in numbers
#
# Quantizing a network means replacing its 32-bit floating-point weights and
# activations by values from a small set, typically k-bit integers times a scale.
# This notebook goes through the report's §3 and the estimators of §4.2–4.4 with the
# project's real quantizers (`utils.quantizers`, and larq's): what the equations
# compute, how the clipping threshold and the choice of integer range shape the error,
# why coarse weights still work, and how a network can learn through a function whose
# derivative is zero almost everywhere.
#
# Sections 1 to 7 follow the report; sections 8 to 10 add what every toolkit builds on
# (scale and zero point, per-channel scales, calibration), measured on the trained float
# AlexNet and GoogLeNet. Those two are trained by notebooks 03 and 04; if they have not
# run, section 9 trains the float networks first (a few minutes). Everything else runs in
# seconds.

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
    from utils.colab import prepare_runtime, use_drive

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
seed = 0  # seeds the sampled weights

# %%
import larq as lq
import numpy as np
import pandas as pd
import tensorflow as tf
from IPython.display import display

from utils import plots, theory
from utils.affine import affine_from_range, calibration_table, symmetric_scales, weight_error_table
from utils.batches import to_arrays
from utils.config import dry_run_overrides, make_config
from utils.course import notebook_folders
from utils.data import load_dataset
from utils.exercises import check, exercise
from utils.experiments import run_configs
from utils.models import load_model
from utils.names import MAIN_MODELS
from utils.plots import save_fig
from utils.ptq import kernels, relu_outputs
from utils.quantizers import asymmetric_levels, quantize_to_integers, symmetric_levels

choice, folders = notebook_folders(profile, dataset, course_dir, data_dir=data_dir,
                                   results_dir=results_dir, figures_dir=figures_dir,
                                   report_dir=report_dir)
dataset, figures_dir, results_dir, report_dir = (choice.name, folders.figures, folders.results,
                                                 folders.report)
dry_run = dry_run_overrides(limit, epochs)  # {} unless a dry run
n = 5_000 if profile == "smoke" else 200_000  # sampled weights per experiment

# %% [markdown]
# ## 1. What fewer bits buy (report Fig. 3.1)
#
# Fewer bits per number mean fewer bytes to store and move, and cheaper arithmetic.
# The report's Fig. 3.1 (after Wu, 2019, for NVIDIA's Turing tensor cores) lists the
# gains over FP32. The bandwidth column is simply 32 / k: an 8-bit weight takes a
# quarter of the memory of a float. Math throughput grows faster than that, because a
# narrow multiplier is much smaller than a wide one and more of them fit on a chip; at
# one bit a product becomes an XNOR and a sum of products a population count, hence
# 128×. (The 32× saving in memory comes from storing one bit per weight, not from the
# XNOR.) The products are accumulated in 32-bit integers so that long sums of small
# products cannot overflow.

# %%
table = theory.relative_throughput_table()
display(table)
fig = plots.plot_throughput_table(table)
save_fig(fig, "01_throughput", figures_dir)

# %% [markdown]
# ## 2. Eq. 3.1: clip, scale, round
#
# $$y_q = \mathrm{round}\big(s \cdot \mathrm{clip}(y, -\alpha, \alpha)\big) \qquad (3.1)$$
#
# Three steps: values beyond the clipping threshold $\alpha$ are set to $\pm\alpha$;
# the scale $s$ stretches $[-\alpha, \alpha]$ over the integer range; rounding picks the
# nearest integer. The integer $y_q$ is what gets stored, and $y_q / s$ is the value it
# stands for. For a symmetric k-bit code (eq. 3.4) the scale is
# $s = (2^{k-1} - 1)/\alpha$, so $\pm\alpha$ land on $\pm(2^{k-1} - 1)$.
#
# (The report prints the lower end of the range in eq. 3.4 as $-2^{k-1} - 1$; the range
# that agrees with eq. 3.3 for $k = 8$, $[-127, 127]$, is $-(2^{k-1} - 1)$, which is
# what `symmetric_levels` returns.)
#
# A worked example at $k = 4$, $\alpha = 1$, so $s = 7$:

# %%
y = np.array([-1.3, -0.6, -0.07, 0.0, 0.3, 0.5, 0.93, 2.0])
codes = quantize_to_integers(y, k=4, alpha=1.0)
pd.DataFrame({"y": y, "code y_q": codes, "y_q / s": codes / 7, "error": codes / 7 - y})

# %% [markdown]
# Rounding is to the nearest integer, with exact halves going to the even neighbour
# (TensorFlow's and NumPy's default), so 0.5·7 = 3.5 becomes 4. Values beyond ±1 are
# clipped, with a large error each.
#
# The staircases below are the symmetric quantizer (eqs. 3.1/3.4, $\alpha = 1$) for
# 1 to 4 bits; 1 bit is the sign function, which has no zero level. Each extra bit
# almost doubles the number of levels ($2^k - 1$: 3, 7, 15) and halves the step.

# %%
curves = theory.quantizer_curves(bits=(1, 2, 3, 4), kind="symmetric", alpha=1.0)
fig = plots.plot_quantizer_staircase(curves, title="Symmetric quantizer, eqs. 3.1/3.4")
save_fig(fig, "01_quantizer_staircase", figures_dir)

# %% [markdown]
# The report's 8-bit networks use a fixed-point variant (eq. 4.6, section 6 below) with
# $\alpha = 1$ and all $2^k$ codes: levels $-1, -1 + 2^{-(k-1)}, \dots,
# 1 - 2^{-(k-1)}$. It is asymmetric, the topic of section 4.

# %%
curves = theory.quantizer_curves(bits=(1, 2, 3, 4), kind="kbit")
fig = plots.plot_quantizer_staircase(curves, title="Fixed-point k-bit quantizer, eq. 4.6")
save_fig(fig, "01_kbit_staircase", figures_dir)

# %% [markdown]
# ## 3. Choosing the clipping threshold α
#
# Trained weights are bell-shaped: most are small, a few are large. Setting α to the
# largest |weight| clips nothing, but then a handful of outliers set the step, and most
# weights share the few levels near zero. A smaller α sacrifices the outliers (each
# clipped with a large error) for a finer grid everywhere else. The experiment below
# quantizes Gaussian "weights" (standard deviation 0.05) to 4 bits over a range of α and
# splits the mean squared error into its two sources: rounding inside $[-α, α]$ and
# clipping outside.

# %%
weights = theory.sample_weights(n, "gaussian", scale=0.05, seed=seed)
tradeoff = theory.clipping_tradeoff(weights, k=4)
best = tradeoff.loc[tradeoff["mse"].idxmin()]
display(best.to_frame("best alpha at 4 bits").T)
fig = plots.plot_clipping_tradeoff(tradeoff, k=4)
save_fig(fig, "01_clipping_tradeoff", figures_dir)

# %% [markdown]
# The best threshold sits near 2.5 standard deviations, where 1 to 2% of the weights
# are clipped: far below the largest weight (over 4 standard deviations with this many
# samples). With more bits the grid is finer, rounding matters less, and the best α
# moves outwards. Here is what that α does to the distribution and the quantizer:

# %%
alpha = float(best["alpha"])
quantized = theory.quantize_symmetric(weights, 4, alpha)
fig = plots.plot_clipping(weights, quantized, alpha, k=4)
save_fig(fig, "01_clipping", figures_dir)

# %% [markdown]
# ## 4. Symmetric or asymmetric range (eqs. 3.2–3.4)
#
# A k-bit two's-complement integer covers $[-2^{k-1}, 2^{k-1} - 1]$, one more negative
# value than positive ones: $[-128, 127]$ for 8 bits (eq. 3.2). With the scale
# $s = 128/\alpha$ the value $-\alpha$ is representable but $+\alpha$ is not: it rounds
# to 128, one past the top code, and is clipped to 127. Values near the top are always
# pulled down, so on a symmetric distribution the average error is negative, a
# **bias** that every layer adds to its outputs. The symmetric range (eq. 3.3,
# $[-127, 127]$, $s = 127/\alpha$) gives up the code $-128$ and in return is an exact
# mirror image around zero, without bias. Eq. 3.4 generalises it to k bits.

# %%
pd.DataFrame({
    f"{k} bits": {"asymmetric, eq. 3.2": asymmetric_levels(k),
                  "symmetric, eqs. 3.3/3.4": symmetric_levels(k)}
    for k in (2, 4, 8)
})

# %% [markdown]
# Quantizing values spread uniformly over [-1, 1] (α = 1) both ways; `mean_error` is the
# bias E[q(x) − x], `mean_error_in_steps` the same in units of the step 1/s:

# %%
bias = theory.symmetric_vs_asymmetric(n=n, seed=seed)
display(bias.round(6))
curves = {
    "asymmetric (eq. 3.2)": theory.quantizer_curves((3,), kind="asymmetric")[3],
    "symmetric (eq. 3.4)": theory.quantizer_curves((3,), kind="symmetric")[3],
}
fig = plots.plot_symmetric_vs_asymmetric(curves, bias, k=3)
save_fig(fig, "01_symmetric_vs_asymmetric", figures_dir)

# %% [markdown]
# The asymmetric code has the smaller squared error at 2 bits (it has four levels to the
# symmetric code's three), but its error has a systematic negative mean, about an
# eighth of a step at 2 bits, halving with each extra bit. The symmetric code's mean
# error is zero up to sampling noise. One consequence for later: the fixed-point
# quantizer of eq. 4.6, which the report uses for its 8-bit networks, is of the
# asymmetric kind; at 8 bits its bias is negligible, at 2 bits it is not.
#
# ## 5. Why coarse weights still work (report Fig. 3.2)
#
# The report's Fig. 3.2 sets a float weight distribution beside its 4-bit version. A
# 4-bit symmetric code offers only 15 values, yet the histogram keeps its shape: each
# weight moves by at most half a step unless it was clipped. Networks have far more
# parameters than they strictly need, and when quantization is part of training
# (notebook 02) the other weights learn to make up for each one's rounding.

# %%
fig = plots.plot_weight_histograms(weights, quantized, bits=4,
                                   title="Float vs 4-bit weights (report Fig. 3.2)")
save_fig(fig, "01_weight_histograms", figures_dir)
print(f"SQNR of these 4-bit weights: {theory.sqnr_db(weights, quantized):.1f} dB")

# %% [markdown]
# ## 6. Error against bit width
#
# How fast does the error fall as k grows? For values spread uniformly over
# $[-\alpha, \alpha]$, a step $\Delta$ gives an error variance of $\Delta^2/12$. Each
# extra bit halves the step and quarters that error, which adds
# $10 \log_{10} 4 \approx 6.02$ dB to the signal-to-quantization-noise ratio
# $\mathrm{SQNR} = 10 \log_{10}(\mathbb{E}[x^2] / \mathbb{E}[(x - q)^2])$.
#
# The sweep measures uniform, Gaussian and Laplace (heavier-tailed) weights, first with
# α at the largest |weight| (nothing clipped), then with α at 3 standard deviations.
# The 1-bit point is the sign times the mean |weight|, the scale that minimizes the
# squared error of a ±constant approximation.

# %%
errors = theory.quantization_error(distributions=("uniform", "gaussian", "laplace"),
                                   n=n, seed=seed)
clipped = theory.quantization_error(distributions=("gaussian", "laplace"), clip="3std",
                                    n=n, seed=seed)
clipped["distribution"] += ", alpha = 3 std"
errors = pd.concat([errors, clipped], ignore_index=True)
display(errors.pivot(index="bits", columns="distribution", values="sqnr_db").round(1))
fig = plots.plot_quantization_error(errors)
save_fig(fig, "01_quantization_error", figures_dir)

# %% [markdown]
# * The uniform curve follows the 6 dB-per-bit rule closely.
# * Bell-shaped weights lose several dB at every bit width when α is the largest weight,
#   and at 2 bits nearly every weight rounds to zero: an SQNR near 0 dB, no better than
#   setting them all to zero.
# * Clipping at 3 standard deviations recovers much of that at low bit widths. At high
#   bit widths it costs instead: the error of the clipped weights no longer shrinks
#   and outweighs the by then tiny rounding error, so the curve flattens (from about
#   6 bits for the heavier-tailed Laplace weights, 8 for Gaussian ones). The best α
#   depends on the bit width and the distribution, which is why integer schemes
#   calibrate it per layer.
# * The 1-bit sign with a scale does better than 2 bits without clipping: it has no zero
#   level to which everything collapses.
#
# ## 7. Learning through a staircase: the straight-through estimator
#
# A staircase is flat almost everywhere and jumps at the steps, so its derivative is
# zero or undefined; backpropagation through a quantizer would hand zero gradients to
# every weight below it. The straight-through estimator (STE) uses the quantized value
# in the forward pass but, in the backward pass, treats the quantizer as if it were the
# identity on a limited range.
#
# For the sign quantizer of binary networks (eqs. 4.1–4.2: q(x) = +1 for x ≥ 0, −1
# otherwise) the STE (eq. 4.3) passes the incoming gradient unchanged where |x| ≤ 1 and
# blocks it elsewhere. That is the derivative of hardtanh(x) = clip(x, −1, 1) (eq. 4.5):
# the sign forwards, hardtanh's slope backwards. Blocking the gradient at large |x|
# stops pushing values that are already far into saturation. The k-bit quantizer
#
# $$q = \mathrm{clip}\Big(\frac{\mathrm{round}(2^{k-1} x)}{2^{k-1}},\; -1,\;
# 1 - 2^{-(k-1)}\Big) \qquad (4.6)$$
#
# uses the same rule (eq. 4.7): the gradient reaching the latent weight is the gradient
# of the quantized weight wherever |x| ≤ 1, and zero beyond.
#
# (The report prints eq. 4.7 as $g_w / g_q = \mathrm{hardtanh}(w)$, which would scale each
# gradient by the weight itself. What the rule it cites means, and what the course
# computes, is $g_w = g_q \cdot 1_{|w| \le 1}$: the *derivative* of hardtanh, as in eq. 4.5.)
#
# Eq. 4.5 writes hardtanh as $2\,\mathrm{hard\_sigmoid}(x) - 1$; that is clip(x, −1, 1)
# with the hard sigmoid of Courbariaux et al., $\mathrm{clip}((x + 1)/2, 0, 1)$. Keras'
# own `hard_sigmoid` has slope 0.2 instead of 0.5 and would give clip(0.4x, −1, 1).
#
# The gradients below are not drawn from these formulas: they are measured with
# `tf.GradientTape` through larq's `ste_sign` and the project's `KBitQuantizer`.

# %%
samples = theory.ste_samples(kbits=(2, 4))
fig = plots.plot_ste(samples, title="Forward values and STE gradients (eqs. 4.2-4.7)")
save_fig(fig, "01_ste_gradients", figures_dir)
at = samples[samples["x"].round(3).isin([-1.5, -1.0, -0.25, 0.0, 0.5, 1.0, 1.5])]
at.pivot(index="x", columns="quantizer", values="gradient")

# %% [markdown]
# Every quantizer passes the gradient exactly where |x| ≤ 1 (the boundaries included)
# and blocks it outside, whatever its forward staircase looks like.
#
# During training, the optimizer applies these gradients to a float **latent** copy of
# each weight, and the quantized weight is recomputed from it at every forward pass
# (report §3.1: reduced precision for the forward and backward computation, floats to
# accumulate the updates). Latent weights are clipped to [−1, 1] after every update
# (larq's `weight_clip`, the clip in Courbariaux et al.'s update rule). Without the clip, a
# latent weight that an update pushed beyond ±1 would receive no gradient from then on (the
# STE is zero there) and stay frozen where it landed; the clip keeps every latent weight
# inside the range where the STE still reaches it. Notebook 02 watches this in a real layer.
#
# ## 8. The field's scheme: a scale and a zero point
#
# The report quantizes every tensor to a grid that is symmetric around zero and fixed in
# advance. TFLite, PyTorch and every other toolkit store a tensor as integers $q$ with
#
# $$r = S\,(q - Z)$$
#
# where the **scale** $S > 0$ is the step between neighbouring values and the **zero
# point** $Z$ is the integer that stands for $r = 0$. Given a range $[r_\min, r_\max]$
# and the integer range $[q_\min, q_\max]$ ([−128, 127] for int8):
#
# $$S = \frac{r_\max - r_\min}{q_\max - q_\min}, \qquad
# Z = \mathrm{round}\Big(q_\min - \frac{r_\min}{S}\Big).$$
#
# The range is first widened to contain 0: zero must be **exact**, because every
# padded pixel, every ReLU'd negative and every dropped connection is a zero, and an
# error at zero would add a bias everywhere. A ReLU's output, [0, 6] say, gets
# $Z = q_\min = -128$: all 256 codes go to the values the tensor can take, where a grid
# symmetric around zero would waste the negative half.

# %%
relu_like = affine_from_range(0.0, 6.0, bits=8)
signed = affine_from_range(-1.0, 3.0, bits=8)
examples = np.array([-1.0, -0.3, 0.0, 0.01, 1.5, 3.0, 7.0])
pd.DataFrame({
    "r": examples,
    "q on [-1, 3]": signed.quantize(examples),
    "S (q - Z) on [-1, 3]": signed.dequantize(signed.quantize(examples)),
    "q on [0, 6]": relu_like.quantize(examples),
}).set_index("r")

# %% [markdown]
# On [−1, 3], $S = 4/255$ and $Z = \mathrm{round}(-128 + 1/S) = -64$; 0 is stored as −64
# and comes back as exactly 0; 7 is beyond the range and is clamped to 127, i.e. 3.0.
#
# **Check.** Recompute $S$ and $Z$ for the range [−1, 3] by hand from the two formulas and
# compare with what `affine_from_range` returned (the cell raises if they differ).

# %%
scale = (3.0 - (-1.0)) / (127 - (-128))
zero_point = round(-128 - (-1.0) / scale)
assert np.isclose(float(signed.scale), scale) and int(signed.zero_point) == zero_point
assert float(signed.dequantize(signed.quantize(0.0))) == 0.0  # zero is exact
print(f"S = {scale:.6f}, Z = {zero_point}: both match")

# %% [markdown]
# ### Restricted or full integer range, and the report's words
#
# For weights, toolkits use $Z = 0$ ("symmetric" quantization in the field's terms) with a
# scale $S = \max|w| / 127$ and the **narrow** (restricted) range [−127, 127], which keeps
# the grid a mirror image around zero; activations use any $Z$ ("asymmetric") and the full
# range [−128, 127]. The report's two schemes are both $Z = 0$ schemes:
#
# | the report | integer range | zero point | scale | the field's name |
# |---|---|---|---|---|
# | symmetric, eqs. 3.3/3.4 | [−127, 127] (narrow) | 0 | α / 127 | symmetric, narrow range (TFLite's weights) |
# | asymmetric, eq. 3.2 | [−128, 127] (full) | 0 | α / 128 | symmetric, full range |
# | — | [−128, 127] (full) | any | $(r_\max - r_\min)/255$ | asymmetric (affine): TFLite's activations |
#
# So what the report calls asymmetric is not what the field calls asymmetric: its eq. 3.2
# keeps $Z = 0$ and only gains one negative code (and the bias of section 4). The field's
# asymmetric scheme moves the zero point, and is the one that fits one-sided tensors.
# The staircases at 3 bits, where the steps are visible:

# %%
values = np.linspace(-1.5, 3.5, 2001)
grids = {
    "affine on [-1, 3], full range (Z = -2)": affine_from_range(-1.0, 3.0, bits=3),
    "symmetric, narrow range, α = 3": symmetric_scales(np.array([-3.0, 3.0]), bits=3,
                                                       per_channel=False),
}
fig = plots.plot_affine_grid({label: (values, grid.fake_quantize(values))
                              for label, grid in grids.items()},
                             title="3-bit grids: affine against symmetric")
save_fig(fig, "01_affine_grids", figures_dir)

# %% [markdown]
# The affine grid spends its 8 levels on [−1, 3]; the symmetric one spends 3 of its 7 on
# [−3, −1], where no value lies.
#
# ## 9. One scale per tensor, or one per output channel
#
# A convolution's output channels are independent filters, and their weights need not
# share a range: one channel's largest weight may be ten times another's. With a single
# scale per kernel, the small channel uses only a few of the 255 levels. TFLite gives
# every output channel its own scale (the zero point stays 0), at the cost of one float
# per channel in the file. How much that buys is a property of trained weights, so here
# it is measured on the trained float AlexNet and GoogLeNet of this profile (trained by
# notebooks 03 and 04, or now if they have not run: the first time this cell runs in a
# fresh clone, it trains both float networks, a few minutes on a laptop CPU).

# %%
configs = [make_config(name, "fp32", dataset=choice.name, profile=profile, seed=0, **dry_run)
           for name in MAIN_MODELS]
float_nets = {record["config"]["model"]: load_model(record["model_path"]) for record in
              run_configs(configs, results_dir=results_dir, data_dir=folders.data,
                          require_model=True)}
scales = {name: weight_error_table(kernels(model), bits=(4, 8))
          for name, model in float_nets.items()}
display(scales["alexnet"].round(2))

# %%
for name, table in scales.items():
    fig = plots.plot_weight_scales(table, bits=8, title=f"{name}: weight scales at 8 bits")
    save_fig(fig, f"01_weight_scales_{name}", figures_dir)
summary = pd.DataFrame({name: table.groupby("bits")["MSE ratio (tensor / channel)"].median()
                        for name, table in scales.items()})
summary.index = [f"{bits} bits" for bits in summary.index]
summary.round(1)

# %% [markdown]
# The median layer's squared error is several times larger with one scale per kernel,
# and the worst channel's relative error far larger: the channels whose weights are small
# are the ones one shared scale serves badly. Per-channel scales make that error about
# the same for every channel.
#
# **Check.** Which layer of AlexNet gains most from per-channel scales at 8 bits, and is
# it one whose channels' ranges differ most? (`largest / median channel range`.)

# %%
gain = scales["alexnet"].xs(8, level="bits")["MSE ratio (tensor / channel)"]
spread = scales["alexnet"].xs(8, level="bits")["largest / median channel range"]
print(f"largest gain: {gain.idxmax()} ({gain.max():.1f}x); widest spread of channel ranges: "
      f"{spread.idxmax()} ({spread.max():.1f}x)")
assert (gain >= 1 - 1e-9).all(), "per-channel scales are never worse than one scale"

# %% [markdown]
# ## 10. Calibrating the range of an activation
#
# Weights are known after training; activations depend on the input. Post-training
# quantization therefore runs a few hundred training images through the float network
# (calibration) and picks each activation's range from what it sees. Three common rules:
#
# * **min/max**: the smallest and largest value seen. Nothing is clipped, but a single
#   outlier stretches the grid for everything else;
# * **percentile**: the 99.99th percentile (and its mirror at the bottom), which clips the
#   rarest values;
# * **MSE**: the clip that minimizes the mean squared error of the quantized values, found
#   here by a search over the min/max range.
#
# Below, the outputs of AlexNet's hidden ReLUs on 256 training images, quantized to 8 and
# to 4 bits with each rule; SQNR is over all values, outliers included.

# %%
splits = load_dataset(choice.name, float_nets["alexnet"].input_shape[1], 64,
                      data_dir=folders.data, seed=0)
images, _ = to_arrays(splits.train, 256)
activations = relu_outputs(float_nets["alexnet"], images)
calibration = {bits: calibration_table(activations, bits=bits) for bits in (8, 4)}
display(pd.concat(calibration, names=["bits"]).round(3))

# %%
shown = {name: activations[name] for name in ("conv2_relu", "conv5_relu", "fc6_relu")}
fig = plots.plot_calibration(shown, calibration[4],
                             title="AlexNet's ReLU outputs: 4-bit ranges by calibration rule")
save_fig(fig, "01_calibration", figures_dir)

# %% [markdown]
# ## Exercises
#
# Each question below is checked by `check`: a wrong answer raises with a hint, a
# right one says so. Work it out in the empty cell; the worked solution follows, folded
# (click to open it).

# %%
exercise("01_code")

# %%
# Your answer:
# answer = ...
# check("01_code", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
scale = (2 ** (4 - 1) - 1) / 1.0  # s = (2^(k-1) - 1) / alpha
answer = int(np.round(scale * np.clip(0.3, -1.0, 1.0)))
check("01_code", answer)

# %%
exercise("01_relu_range")

# %%
# Your answer:
# answer = ...
# check("01_relu_range", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
scale = (6.0 - 0.0) / (127 - (-128))
answer = (scale, round(-128 - 0.0 / scale))
check("01_relu_range", answer)

# %%
exercise("01_ste")

# %%
# Your answer:
# answer = ...
# check("01_ste", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
x = tf.constant([0.5, 1.5])
with tf.GradientTape() as tape:
    tape.watch(x)
    y = lq.quantizers.ste_sign(x)
answer = tuple(tape.gradient(y, x).numpy())
check("01_ste", answer)

# %%
exercise("01_sqnr")

# %%
# Your answer:
# answer = ...
# check("01_sqnr", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = (8 - 4) * 10 * np.log10(4)  # about 6.02 dB per bit
check("01_sqnr", answer)

# %% [markdown]
# At 8 bits the grid is fine enough that min/max costs little, and clipping can even hurt
# (the rare large activations carry much of the signal's power). At 4 bits the step is 16
# times coarser, and a clipped range usually wins: the few values beyond it lose more
# than the many inside gain. The best range depends on the bit width and on the layer,
# which is why toolkits calibrate per tensor. Quantization-aware training can go one step
# further and learn the ranges with the weights (PACT's trained clip, for example).
# Notebook 07's range ablation tries that at 8 bits only, against the report's fixed
# ranges; whether learned ranges help more at low bit widths, where the choice of range
# matters most, the course does not measure.
#
# ## Summary
#
# * Eq. 3.1 quantizes with three steps: clip to ±α, scale, round. The threshold α trades
#   clipping error against rounding error; for 4-bit Gaussian weights the best α is
#   about 2.5 standard deviations, far inside the largest weight.
# * The asymmetric range (eq. 3.2) has one more level but a bias on symmetric data;
#   the symmetric range (eqs. 3.3/3.4) has none.
# * Each bit adds about 6 dB of SQNR; coarse weights keep the shape of the distribution
#   (Fig. 3.2).
# * The STE (eqs. 4.3, 4.5, 4.7) makes quantizers trainable by passing gradients where
#   |x| ≤ 1; latent float weights accumulate the updates.
# * Toolkits store r = S (q − Z): zero exact, a zero point for one-sided tensors
#   (activations), Z = 0 and the narrow range for weights. The report's "asymmetric"
#   eq. 3.2 is, in the field's terms, symmetric with the full range.
# * One scale per output channel cuts the weight error of trained layers several times
#   over one scale per kernel; activation ranges are calibrated, and at 4 bits a clipped
#   range beats min/max.
#
# Figures (prefix `01_`): throughput, quantizer_staircase, kbit_staircase,
# clipping_tradeoff, clipping, symmetric_vs_asymmetric, weight_histograms,
# quantization_error, ste_gradients, affine_grids, weight_scales_alexnet,
# weight_scales_googlenet, calibration.
