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
# Nothing is trained here; every cell runs in seconds.

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
seed = 0  # seeds the sampled weights

# %%
import numpy as np
import pandas as pd
from IPython.display import display

from utils import plots, theory
from utils.names import check_notebook_parameters
from utils.plots import save_fig
from utils.quantizers import asymmetric_levels, quantize_to_integers, symmetric_levels

check_notebook_parameters(profile, dataset)
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
# 128×. The products are accumulated in 32-bit integers so that long sums of small
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
# (larq's `weight_clip`, the clip in Courbariaux et al.'s update rule): outside that
# range the STE gives them no gradient, and they could drift off for good. Notebook 02
# watches this happen in a real layer.
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
#
# Figures (prefix `01_`): throughput, quantizer_staircase, kbit_staircase,
# clipping_tradeoff, clipping, symmetric_vs_asymmetric, weight_histograms,
# quantization_error, ste_gradients.
