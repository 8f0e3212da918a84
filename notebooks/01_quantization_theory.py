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
# run, section 9 trains the float networks first (how long: the time statement below).
# Everything else runs in seconds.
#
# Four times the notebook asks you to write the core lines yourself (**Write it**): the
# quantizer of eq. 3.1, the straight-through estimator of eq. 4.7, scale and zero point
# with quantize and dequantize, and per-channel weight scales. Each has a cell to
# complete, a folded solution, and a test that compares your function with the one the
# course's networks use and names the first value where they differ. Until you write a
# function, its solution stands in (the notebook says so), so everything runs top to bottom.

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
seed = 0  # seeds the sampled weights

# %%
import larq as lq
import numpy as np
import pandas as pd
import tensorflow as tf
from IPython.display import Markdown, display

from utils import exercises
from utils.config import dry_run_overrides, make_config
from utils.course import notebook_folders
from utils.data import load_dataset, to_arrays
from utils.exercises import NotWritten, check, exercise, use_reference_until_written
from utils.figures import save_fig
from utils.lessons import quantization_theory
from utils.models import load_model
from utils.names import MAIN_MODELS
from utils.quantizers import (
    affine_from_range,
    asymmetric_levels,
    calibration_table,
    kernels,
    relu_outputs,
    symmetric_levels,
    symmetric_scales,
    weight_error_table,
)
from utils.tables import notebook_time_text
from utils.train import run_configs

choice, folders = notebook_folders(profile, dataset, course_dir, data_dir=data_dir,
                                   results_dir=results_dir, figures_dir=figures_dir,
                                   report_dir=report_dir)
dataset = choice.name
dry_run = dry_run_overrides(limit, epochs)  # {} unless a dry run
n = 5_000 if profile == "smoke" else 200_000  # sampled weights per experiment

# %% [markdown]
# How long this notebook takes: measured in the last main job with its records present,
# and estimated from those records for a course folder without them.

# %%
display(Markdown(notebook_time_text("01_quantization_theory", folders.results, profile)))

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
table = quantization_theory.relative_throughput_table()
display(table)
fig = quantization_theory.plot_throughput_table(table)
save_fig(fig, "01_throughput", folders.figures)

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
# **Write it: the quantizer.** The three steps are three lines of NumPy, and every integer
# scheme in the course (the report's 8-bit networks, TFLite's int8 files) is a variation on
# them. Complete `quantize` below. It returns the integer codes $y_q$, not $y_q / s$: the
# codes are what a chip stores and multiplies. Round with `np.round`, which sends exact
# halves to the even neighbour, as TensorFlow does (more on that after the example). The
# test compares your function with the course's `quantize_to_integers` on random values,
# exact ties, values at and beyond ±α, odd and even k and constant tensors.

# %%
def quantize(x, k, alpha):
    """Integer codes of eqs. 3.1/3.4: y_q = round(s * clip(x, -alpha, alpha)).

    The scale is s = (2^(k-1) - 1) / alpha, so that ±alpha land on the largest codes
    ±(2^(k-1) - 1) of the symmetric k-bit range.

    Args:
        x: array of real values (any shape).
        k: bit width, 2 to 16.
        alpha: clipping threshold, > 0.

    Returns:
        An integer array of x's shape, rounded half to even.
    """
    # Your code here: clip, scale, round.
    raise NotWritten


# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
def quantize_solution(x, k, alpha):
    scale = (2 ** (k - 1) - 1) / alpha  # eq. 3.4: ±alpha land on ±(2^(k-1) - 1)
    clipped = np.clip(np.asarray(x, np.float64), -alpha, alpha)  # eq. 3.1, step 1
    return np.round(scale * clipped).astype(np.int64)  # steps 2 and 3 (halves to even)


quantize = use_reference_until_written(quantize, quantize_solution,
                                       lambda f: f(np.array([0.3]), 4, 1.0))

# %%
exercises.test_quantize(quantize)

# %% [markdown]
# A worked example with your `quantize` at $k = 4$, $\alpha = 1$, so $s = 7$:

# %%
y = np.array([-1.3, -0.6, -0.07, 0.0, 0.3, 0.5, 0.93, 2.0])
codes = quantize(y, 4, 1.0)
pd.DataFrame({"y": y, "code y_q": codes, "y_q / s": codes / 7, "error": codes / 7 - y})

# %% [markdown]
# Rounding is to the nearest integer, with exact halves going to the even neighbour
# (TensorFlow's and NumPy's default), so 0.5·7 = 3.5 becomes 4. Values beyond ±1 are
# clipped, with a large error each.
#
# The staircases below are the symmetric quantizer (eqs. 3.1/3.4, $\alpha = 1$) for
# 1 to 4 bits, drawn with your `quantize` (its codes divided by $s$) for 2 to 4 bits;
# 1 bit is larq's sign function, which has no zero level. Each extra bit almost doubles
# the number of levels ($2^k - 1$: 3, 7, 15) and halves the step.

# %%
x = np.linspace(-1.5, 1.5, 1201)
curves = quantization_theory.quantizer_curves(bits=(1,), kind="symmetric")  # 1 bit: larq's sign
curves.update({k: (x, quantize(x, k, 1.0) / (2 ** (k - 1) - 1)) for k in (2, 3, 4)})
fig = quantization_theory.plot_quantizer_staircase(curves, title="Symmetric quantizer, eqs. 3.1/3.4")
save_fig(fig, "01_quantizer_staircase", folders.figures)

# %% [markdown]
# The report's 8-bit networks use a fixed-point variant (eq. 4.6, section 6 below) with
# $\alpha = 1$ and all $2^k$ codes: levels $-1, -1 + 2^{-(k-1)}, \dots,
# 1 - 2^{-(k-1)}$. It is asymmetric, the topic of section 4.

# %%
curves = quantization_theory.quantizer_curves(bits=(1, 2, 3, 4), kind="kbit")
fig = quantization_theory.plot_quantizer_staircase(curves, title="Fixed-point k-bit quantizer, eq. 4.6")
save_fig(fig, "01_kbit_staircase", folders.figures)

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
weights = quantization_theory.sample_weights(n, "gaussian", scale=0.05, seed=seed)
tradeoff = quantization_theory.clipping_tradeoff(weights, k=4)
best = tradeoff.loc[tradeoff["mse"].idxmin()]
display(best.to_frame("best alpha at 4 bits").T)
print(f"The best α at 4 bits is {best['alpha_over_std']:.2f} standard deviations and clips "
      f"{best['clipped_fraction']:.1%} of the weights; the largest weight lies at "
      f"{np.max(np.abs(weights)) / np.std(weights):.1f} standard deviations.")
fig = quantization_theory.plot_clipping_tradeoff(tradeoff, k=4)
save_fig(fig, "01_clipping_tradeoff", folders.figures)

# %% [markdown]
# The best threshold (printed above, in standard deviations) clips only a small share of
# the weights and sits far below the largest weight. With more bits the grid is finer,
# rounding matters less, and the best α moves outwards. Here is what that α does to the
# distribution and the quantizer:

# %%
alpha = float(best["alpha"])
quantized = quantization_theory.quantize_symmetric(weights, 4, alpha)
fig = quantization_theory.plot_clipping(weights, quantized, alpha, k=4)
save_fig(fig, "01_clipping", folders.figures)

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
bias = quantization_theory.symmetric_vs_asymmetric(n=n, seed=seed)
display(bias.round(6))
in_steps = bias[bias["scheme"] == "asymmetric"].set_index("bits")["mean_error_in_steps"]
print("Mean error of the asymmetric code, in steps: "
      + ", ".join(f"{value:+.3f} at {bits} bits" for bits, value in in_steps.items()))
curves = {
    "asymmetric (eq. 3.2)": quantization_theory.quantizer_curves((3,), kind="asymmetric")[3],
    "symmetric (eq. 3.4)": quantization_theory.quantizer_curves((3,), kind="symmetric")[3],
}
fig = quantization_theory.plot_symmetric_vs_asymmetric(curves, bias, k=3)
save_fig(fig, "01_symmetric_vs_asymmetric", folders.figures)

# %% [markdown]
# The asymmetric code has the smaller squared error at 2 bits (it has four levels to the
# symmetric code's three), but its error has a systematic negative mean (printed above).
# For values uniform on [−α, α] it is −1/(4s) of a step, with s = 2^(k−1): an eighth of
# a step at 2 bits, halving with each extra bit. (The values within half a step of +α, a
# share 1/(4s) of them, are pulled down by three quarters of a step on average; as many
# lie within half a step of −α, round to the bottom code and lose a quarter of a step.) The
# symmetric code's mean error is zero up to sampling noise. One consequence for later:
# the fixed-point quantizer of eq. 4.6, which the report uses for its 8-bit networks, is
# of the asymmetric kind; at 8 bits its bias is negligible, at 2 bits it is not.
#
# ## 5. Why coarse weights still work (report Fig. 3.2)
#
# The report's Fig. 3.2 sets a float weight distribution beside its 4-bit version. A
# 4-bit symmetric code offers only 15 values, yet the histogram keeps its shape: each
# weight moves by at most half a step unless it was clipped. Networks have far more
# parameters than they strictly need, and when quantization is part of training
# (notebook 02) the other weights learn to make up for each one's rounding.

# %%
fig = quantization_theory.plot_weight_histograms(weights, quantized, bits=4,
                                   title="Float vs 4-bit weights (report Fig. 3.2)")
save_fig(fig, "01_weight_histograms", folders.figures)
print(f"SQNR of these 4-bit weights: {quantization_theory.sqnr_db(weights, quantized):.1f} dB")

# %% [markdown]
# ### Predict, run, explain: what is one more bit worth?
#
# **Predict.** Going from 4 to 8 bits, each extra bit doubles the number of levels
# and halves the step. By how many decibels do you expect the SQNR of these Gaussian
# weights to rise *per extra bit*? Make two guesses: (a) with α at the largest |weight|
# (nothing is clipped), (b) with α kept at the 4-bit optimum found above (`alpha`).
# Write them in the next cell before running the one after it.

# %%
my_prediction = None  # your guesses in dB per bit, e.g. (3.0, 3.0) for (a) and (b)

# %% [markdown]
# **Run.** The cell quantizes the same `weights` at 4 to 8 bits with both thresholds
# and prints the SQNR and the average gain per bit.

# %%
alphas = {"(a) alpha = max |w|": float(np.max(np.abs(weights))),
          "(b) alpha = 4-bit optimum": alpha}
bit_range = range(4, 9)
sqnr_per_bit = pd.DataFrame(
    {name: [quantization_theory.sqnr_db(weights, quantization_theory.quantize_symmetric(weights, k, a))
            for k in bit_range] for name, a in alphas.items()},
    index=pd.Index(bit_range, name="bits"))
display(sqnr_per_bit.round(1))
gains = (sqnr_per_bit.iloc[-1] - sqnr_per_bit.iloc[0]) / (len(bit_range) - 1)
print(f"your prediction (dB per bit): "
      f"{'no prediction written' if my_prediction is None else my_prediction}")
for name, gain in gains.items():
    print(f"measured, {name}: {gain:.2f} dB per bit from 4 to 8 bits")

# %% [markdown]
# **Explain.** Why does (a) gain close to a fixed amount per bit, and what is that amount
# in terms of the step size? Why does (b) gain less and less as bits are added?

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title One explanation (open to read it)
# (a) Without clipping, all the error is rounding error. Once the step Δ is small next to
# the spread of the weights, the rounding error is close to uniform over [-Δ/2, Δ/2], with
# variance Δ²/12. One more bit halves Δ and so divides the noise by 4, while the signal
# power E[x²] stays put: 10·log10(4) ≈ 6.02 dB per bit. The measured gain sits close to
# that (section 6 derives it for any distribution).
# (b) With α fixed at the 4-bit optimum, the weights beyond ±α are clipped, and their error
# does not depend on k. Each bit still quarters the rounding error, but the clipping
# error stays, so the total falls less and less and the SQNR levels off at the value set
# by clipping. The α that is best at 4 bits is too tight at 8: the best threshold grows
# with the bit width, which is why quantizers calibrate α for the bit width they use.

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
errors = quantization_theory.quantization_error(distributions=("uniform", "gaussian", "laplace"),
                                   n=n, seed=seed)
clipped = quantization_theory.quantization_error(distributions=("gaussian", "laplace"), clip="3std",
                                    n=n, seed=seed)
clipped["distribution"] += ", alpha = 3 std"
errors = pd.concat([errors, clipped], ignore_index=True)
display(errors.pivot(index="bits", columns="distribution", values="sqnr_db").round(1))
fig = quantization_theory.plot_quantization_error(errors)
save_fig(fig, "01_quantization_error", folders.figures)

# %% [markdown]
# * The uniform curve follows the 6 dB-per-bit rule closely.
# * Bell-shaped weights lose several dB at every bit width when α is the largest weight,
#   and at 2 bits nearly every weight rounds to zero: an SQNR near 0 dB, no better than
#   setting them all to zero.
# * Clipping at 3 standard deviations recovers much of that at low bit widths. At high
#   bit widths it costs instead: the error of the clipped weights no longer shrinks
#   and outweighs the by then tiny rounding error, so the curve flattens, sooner for the
#   heavier-tailed Laplace weights than for Gaussian ones (the table shows from which bit
#   width). The best α depends on the bit width and the distribution, which is why
#   integer schemes calibrate it per layer.
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
# **Write it: the straight-through estimator.** Complete `quantize_ste(x, k)`: eq. 4.6
# forwards, eq. 4.7 backwards. TensorFlow's `tf.custom_gradient` lets a function return
# its value together with its own gradient function: compute the quantized value with
# `tf.round` and `tf.clip_by_value`, and return it with a `grad(dy)` that multiplies the
# incoming gradient `dy` by 1 where −1 ≤ x ≤ 1 (the edges included, as in the course)
# and by 0 elsewhere. These few lines are what make a quantized network trainable: the
# course's `KBitQuantizer`, which its 8-bit networks use, is exactly this. The test
# measures your function's values and gradients with `tf.GradientTape` and compares them
# with `KBitQuantizer(k)`, at ties of the rounding, at the edges ±1 and the nearest
# float32 numbers beyond them, for even and odd k.

# %%
def quantize_ste(x, k):
    """The k-bit quantizer of eq. 4.6 with the straight-through gradient of eq. 4.7.

    Forward:  q = clip(round(2^(k-1) x) / 2^(k-1), -1, 1 - 2^-(k-1)), halves to even.
    Backward: dq/dx = 1 where -1 <= x <= 1 (the edges included), 0 elsewhere; the
    gradient function returns dy times that.

    Args:
        x: float32 tensor (any shape).
        k: bit width, 2 to 16.

    Returns:
        A float32 tensor of x's shape.
    """
    # Your code here. A shape to start from:
    #     @tf.custom_gradient
    #     def _quantize(x):
    #         q = ...                  # eq. 4.6
    #         def grad(dy):
    #             return ...           # eq. 4.7
    #         return q, grad
    #     return _quantize(x)
    raise NotWritten


# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
def quantize_ste_solution(x, k):
    levels = 2.0 ** (k - 1)  # the grid's step is 1 / levels = 2^-(k-1)

    @tf.custom_gradient
    def _quantize(x):
        q = tf.clip_by_value(tf.round(x * levels) / levels, -1.0, 1.0 - 1.0 / levels)  # 4.6

        def grad(dy):  # eq. 4.7: pass where |x| <= 1, block elsewhere
            inside = tf.logical_and(x >= -1.0, x <= 1.0)
            return dy * tf.cast(inside, dy.dtype)

        return q, grad

    return _quantize(tf.convert_to_tensor(x, tf.float32))


quantize_ste = use_reference_until_written(quantize_ste, quantize_ste_solution,
                                           lambda f: f(tf.constant([0.3]), 4))

# %%
exercises.test_quantize_ste(quantize_ste)

# %% [markdown]
# The gradients below are not drawn from these formulas: they are measured with
# `tf.GradientTape` through larq's `ste_sign`, hardtanh, and your `quantize_ste` at 2 and
# 4 bits.

# %%
samples = quantization_theory.ste_samples(kbits=())  # larq's sign and hardtanh
x = tf.constant(np.linspace(-2.0, 2.0, 801), tf.float32)
for k in (2, 4):
    with tf.GradientTape() as tape:
        tape.watch(x)
        q = quantize_ste(x, k)
    samples = pd.concat([samples, pd.DataFrame({
        "quantizer": f"{k}-bit (quantize_ste, eqs. 4.6/4.7)", "x": x.numpy(),
        "forward": q.numpy(), "gradient": tape.gradient(q, x).numpy()})], ignore_index=True)
fig = quantization_theory.plot_ste(samples, title="Forward values and STE gradients (eqs. 4.2-4.7)")
save_fig(fig, "01_ste_gradients", folders.figures)
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
#
# **Write it: scale, zero point, quantize, dequantize.** Three short functions hold the
# whole scheme. `scale_and_zero_point` turns a range into $S$ and $Z$ (widening the range
# to contain 0 first); `quantize_affine` maps real values to codes,
# $q = \mathrm{clamp}(\mathrm{round}(r/S) + Z,\ q_\min,\ q_\max)$; `dequantize_affine` maps
# codes back, $r = S(q - Z)$. Use the signed full range $[-2^{b-1}, 2^{b-1} - 1]$ for $b$
# bits and round half to even. The tests compare your functions with the course's
# `utils.quantizers` (behind sections 8 to 10 and notebook 02's int8 layers) on one-sided
# ranges, a constant range, the all-zero range, narrow and wide ranges, ties, and values
# beyond the range.

# %%
def scale_and_zero_point(r_min, r_max, bits):
    """Scale S and zero point Z that map [r_min, r_max], widened to contain 0, onto the
    signed integers [q_min, q_max] = [-2^(bits-1), 2^(bits-1) - 1]:

        S = (r_max - r_min) / (q_max - q_min),    Z = round(q_min - r_min / S).

    A range of width 0 (all zeros) gets S = 1. Returns (S, Z): a float and an int.
    """
    raise NotWritten


def quantize_affine(r, scale, zero_point, bits):
    """Codes q = clamp(round(r / S) + Z, q_min, q_max), rounded half to even, on the signed
    full range of ``bits`` bits. Returns an integer array of r's shape."""
    raise NotWritten


def dequantize_affine(q, scale, zero_point):
    """The real values the codes stand for, r = S (q - Z). Returns a float array."""
    raise NotWritten


# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
def scale_and_zero_point_solution(r_min, r_max, bits):
    q_min, q_max = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    r_min, r_max = min(r_min, 0.0), max(r_max, 0.0)  # zero must be exactly representable
    scale = (r_max - r_min) / (q_max - q_min) if r_max > r_min else 1.0
    return scale, int(np.round(q_min - r_min / scale))  # in [q_min, q_max], as 0 is in range


def quantize_affine_solution(r, scale, zero_point, bits):
    q_min, q_max = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    codes = np.round(np.asarray(r, np.float64) / scale) + zero_point
    return np.clip(codes, q_min, q_max).astype(np.int64)


def dequantize_affine_solution(q, scale, zero_point):
    return scale * (np.asarray(q, np.float64) - zero_point)


scale_and_zero_point = use_reference_until_written(
    scale_and_zero_point, scale_and_zero_point_solution, lambda f: f(-1.0, 3.0, 8))
quantize_affine = use_reference_until_written(
    quantize_affine, quantize_affine_solution, lambda f: f(np.zeros(2), 0.1, 0, 8))
dequantize_affine = use_reference_until_written(
    dequantize_affine, dequantize_affine_solution, lambda f: f(np.zeros(2, np.int64), 0.1, 0))

# %%
exercises.test_scale_and_zero_point(scale_and_zero_point)
exercises.test_quantize_affine(quantize_affine)
exercises.test_dequantize_affine(dequantize_affine)

# %% [markdown]
# Your functions on a signed range, [−1, 3], and on a ReLU's, [0, 6]:

# %%
examples = np.array([-1.0, -0.3, 0.0, 0.01, 1.5, 3.0, 7.0])
s_signed, z_signed = scale_and_zero_point(-1.0, 3.0, 8)
s_relu, z_relu = scale_and_zero_point(0.0, 6.0, 8)
codes = quantize_affine(examples, s_signed, z_signed, 8)
pd.DataFrame({
    "r": examples,
    "q on [-1, 3]": codes,
    "S (q - Z) on [-1, 3]": dequantize_affine(codes, s_signed, z_signed),
    "q on [0, 6]": quantize_affine(examples, s_relu, z_relu, 8),
}).set_index("r")

# %% [markdown]
# On [−1, 3], $S = 4/255$ and $Z = \mathrm{round}(-128 + 1/S) = -64$; 0 is stored as −64
# and comes back as exactly 0; 7 is beyond the range and is clamped to 127, i.e. 3.0.
#
# **Check.** Recompute $S$ and $Z$ for the range [−1, 3] by hand from the two formulas and
# compare with what `affine_from_range` returned (the cell raises if they differ).

# %%
signed = affine_from_range(-1.0, 3.0, bits=8)  # the course's
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
# The staircases at 3 bits, where the steps are visible (the affine one through your
# functions):

# %%
values = np.linspace(-1.5, 3.5, 2001)
s3, z3 = scale_and_zero_point(-1.0, 3.0, 3)
symmetric = symmetric_scales(np.array([-3.0, 3.0]), bits=3, per_channel=False)
grids = {
    f"affine on [-1, 3], full range (Z = {z3})":
        (values, dequantize_affine(quantize_affine(values, s3, z3, 3), s3, z3)),
    "symmetric, narrow range, α = 3": (values, symmetric.fake_quantize(values)),
}
fig = quantization_theory.plot_affine_grid(grids, title="3-bit grids: affine against symmetric")
save_fig(fig, "01_affine_grids", folders.figures)

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
# fresh clone, it trains both float networks: see the time statement at the top).

# %%
configs = [make_config(name, "fp32", dataset=choice.name, profile=profile, seed=0, **dry_run)
           for name in MAIN_MODELS]
float_nets = {record["config"]["model"]: load_model(record["model_path"]) for record in
              run_configs(configs, results_dir=folders.results, data_dir=folders.data,
                          require_model=True)}
scales = {name: weight_error_table(kernels(model), bits=(4, 8))
          for name, model in float_nets.items()}
display(scales["alexnet"].round(2))

# %% [markdown]
# **Write it: per-channel scales.** TFLite's weight scheme gives each output channel $c$
# the scale $S_c = \max|w_c| / (2^{b-1} - 1)$, zero point 0 and the narrow range
# $[-(2^{b-1} - 1), 2^{b-1} - 1]$: the largest magnitude over everything but the last axis,
# since a Keras kernel stores its output channels last ((height, width, in, out) for a
# convolution, (in, out) for a dense layer). One trap: a channel whose weights are all
# zero (a pruned or dead filter) has $\max|w_c| = 0$, and its scale must still be a
# positive number, or quantizing it divides 0 by 0. The test compares your function with
# the course's `symmetric_scales`, which computed the table above, on channels whose
# magnitudes differ by $10^4$, a channel of negative weights only, and a kernel with an
# all-zero channel.

# %%
def per_channel_scales(kernel, bits=8):
    """One scale per output channel (the last axis): S_c = max|w_c| / (2^(bits-1) - 1).

    Args:
        kernel: array of weights, output channels on the last axis.
        bits: bit width, 2 to 16.

    Returns:
        A float array of kernel.shape[-1] positive scales; an all-zero channel gets 1.0,
        as in the course (any positive scale stores its zeros exactly).
    """
    raise NotWritten


# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
def per_channel_scales_solution(kernel, bits=8):
    kernel = np.asarray(kernel, np.float64)
    largest = np.abs(kernel).reshape(-1, kernel.shape[-1]).max(axis=0)  # max|w_c|
    return np.where(largest > 0, largest / (2 ** (bits - 1) - 1), 1.0)


per_channel_scales = use_reference_until_written(per_channel_scales, per_channel_scales_solution,
                                                 lambda f: f(np.ones((3, 2)), 8))

# %%
exercises.test_per_channel_scales(per_channel_scales)

# %% [markdown]
# Your scales on AlexNet's first convolution, and what they buy at 8 bits over one scale
# for the whole kernel (the table's `MSE ratio` for that layer, computed by the course):

# %%
layer, kernel = next(iter(kernels(float_nets["alexnet"]).items()))
channel_scales = per_channel_scales(kernel, 8)
tensor_scale = np.max(np.abs(kernel)) / 127
errors_8bit = {name: np.mean((s * np.clip(np.round(kernel / s), -127, 127) - kernel) ** 2)
               for name, s in (("per tensor", tensor_scale), ("per channel", channel_scales))}
print(f"{layer}: {kernel.shape[-1]} channel scales from {channel_scales.min():.2e} to "
      f"{channel_scales.max():.2e} (one scale per tensor: {tensor_scale:.2e}); squared error "
      f"per tensor / per channel = {errors_8bit['per tensor'] / errors_8bit['per channel']:.1f}x "
      f"(the table: {scales['alexnet'].loc[(layer, 8), 'MSE ratio (tensor / channel)']:.1f}x)")

# %%
for name, table in scales.items():
    fig = quantization_theory.plot_weight_scales(table, bits=8, title=f"{name}: weight scales at 8 bits")
    save_fig(fig, f"01_weight_scales_{name}", folders.figures)
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
fig = quantization_theory.plot_calibration(shown, calibration[4],
                             title="AlexNet's ReLU outputs: 4-bit ranges by calibration rule")
save_fig(fig, "01_calibration", folders.figures)

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
#   clipping error against rounding error; for 4-bit Gaussian weights the best α
#   (section 3 prints it in standard deviations) lies far inside the largest weight.
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
