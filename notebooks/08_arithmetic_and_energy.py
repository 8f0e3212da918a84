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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/reduced-precision/rpnn-course/blob/main/notebooks/08_arithmetic_and_energy.ipynb)

# %% [markdown]
# # 08 · What the hardware computes, and what it costs
#
# The earlier notebooks count bits and multiply-accumulates (MACs), and notebook 06
# measures real files. Two questions remain that the reference report raises and leaves
# open. What arithmetic does a device actually do with an 8-bit or a binary layer? The
# report describes the XNOR-and-popcount trick (§3.2) and the integer-only 8-bit layer
# only in words. And what does a precision save in energy? The report's motivation and
# conclusion (§1, §3.1, §8) speak of power, while §7 warns that a laptop running float
# code cannot say.
#
# This notebook answers both with numbers:
#
# 1. **An int8 convolution, by hand.** One layer of a real full-integer `.tflite` file,
#    recomputed in numpy from its stored integers: int32 sums, a fixed-point multiplier,
#    TFLite's rounding. It must give the interpreter's bytes.
# 2. **A binary convolution, by XNOR and popcount.** Bits packed eight to a byte, and
#    2·popcount(XNOR(a, w)) − n in place of the multiplications. It must give larq's
#    output.
# 3. **Energy per inference** of AlexNet and GoogLeNet at every precision, from a
#    45 nm cost table (Horowitz, ISSCC 2014), split into compute and memory.
# 4. **Accuracy against energy** for the networks trained in this profile: which
#    precision reaches a given accuracy for the least energy?

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
report_dir = None  # None: the course folder's (not used here)
data_dir = None  # None: the course folder's data/ (downloads, prepared datasets)
limit = None  # dry run: at most this many images per split (None: all)
epochs = None  # dry run: this many epochs per run (None: the profile's)
weight_memory = "dram"  # where weights are read from: "dram", "sram_1mb", "sram_32kb", "sram_8kb"
accumulator_bits = 32  # width of the integer MACs' accumulator
accuracy_margin_points = 1.0  # the accuracy bar: this many points below the best network

# %%
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from IPython.display import Markdown, display
from tensorflow.lite.python.convert_phase import ConverterError

from utils import exercises, figures
from utils.config import dry_run_overrides
from utils.course import notebook_folders
from utils.data import load_dataset, to_arrays
from utils.deploy import convert_int8, convert_qat, operator_tensors
from utils.exercises import NotWritten, check, exercise, use_reference_until_written
from utils.lessons import arithmetic_and_energy
from utils.lessons.ablations import ABLATION_PROFILES, load_runs
from utils.lessons.arithmetic_and_energy import (
    accuracy_energy_table,
    binary_layer_table,
    cheapest_at_accuracy,
    cost_table,
    count_activation_values,
    energy_record,
    energy_table,
    int8_conv_table,
    int8_output_steps,
    layer_inputs,
    mac_energy_pj,
    mac_table,
    plot_accuracy_vs_energy,
    plot_energy_breakdown,
    plot_mac_energy,
    wider_configs,
)
from utils.models import build_model, load_model, summary_figures
from utils.names import QAT_PRECISION
from utils.records import load_record, main_records, write_json_atomic
from utils.tables import notebook_time_text
from utils.train import run_configs, train_precisions

choice, folders = notebook_folders(profile, dataset, course_dir, data_dir=data_dir,
                                   results_dir=results_dir, figures_dir=figures_dir,
                                   report_dir=report_dir)
dataset = choice.name
dry_run = dry_run_overrides(limit, epochs)  # {} unless a dry run
assumptions = {"weight_memory": weight_memory, "accumulator_bits": accumulator_bits}

# %% [markdown]
# How long this notebook takes: measured in the last main job with its records present,
# and estimated from those records for a course folder without them.

# %%
display(Markdown(notebook_time_text("08_arithmetic_and_energy", folders.results, profile)))

# %% [markdown]
# ## The trained AlexNet
#
# The layers below come from AlexNet as trained in notebook 03 in this profile (its
# first seed). When the saved models exist they are loaded; otherwise they are trained
# now, which takes as long as notebook 03 does. A few test images feed the layers.

# %%
records = {record["config"]["precision"]: record for record in train_precisions(
    "alexnet", dataset, profile, results_dir=folders.results, data_dir=folders.data, seeds=(0,),
    require_model=True, verbose=0, **dry_run)}
config = records["fp32"]["config"]
splits = load_dataset(dataset, config["image_size"], 64, data_dir=folders.data,
                      seed=config["seed"], limit=config.get("limit"))
test_images, _ = to_arrays(splits.test, 4)
print({precision: round(record["test_accuracy"], 4) for precision, record in records.items()})

# %% [markdown]
# ## 1 · An int8 convolution, by hand
#
# Every tensor of a full-integer file stores integers q with a scale S and a zero
# point Z, r = S·(q − Z) (notebook 01). The weights have Z = 0, so one output of a
# convolution is
#
# $$q_{out} = Z_{out} + M \cdot \Big(\sum (q_{in} - Z_{in})\, q_w + q_{bias}\Big), \qquad
#   M = \frac{S_{in} S_w}{S_{out}},$$
#
# an int32 sum of int8 products plus an int32 bias, then one real multiplier per
# output channel. A device has no float unit to spare for M, so TFLite stores it as
# M = M0 · 2^shift with M0 in [0.5, 1) kept as a 31-bit integer, and applies it with an
# integer multiply, keeping the high half, and a rounding shift. The result gets the
# output zero point and is clamped to int8 (and to the range of a fused ReLU).
#
# The file is the field's int8 network (`int8_qat`, trained with quantization-aware
# training and converted by TFLite without calibration). Should TFLite's converter fail on
# it (another TensorFlow version, say; full-size AlexNet's fc6 is converted in parts for
# this reason, see notebook 06), the file is instead the post-training int8 file of the
# float network, calibrated on 200 training images, as notebook 06 makes it, and the cell
# says so. The interpreter runs one test image with every intermediate
# tensor kept, so each convolution's real int8 input is read back and the layer
# recomputed from it. Two kinds of TFLite kernels are compared: its *reference*
# kernels, whose rounding `utils.lessons.arithmetic_and_energy` mirrors, and the *optimized* kernels a
# device runs. The hidden dense layers of the `int8_qat` network are 1x1 convolutions
# (so that TFLite folds their batch normalization), so they appear here too.

# %%
try:
    int8_file = convert_qat(load_model(records[QAT_PRECISION]["model_path"]))
    int8_source = f"alexnet {QAT_PRECISION}"
except ConverterError as error:
    print(f"TFLite could not convert the {QAT_PRECISION} network ({str(error)[:200]}...)")
    calibration, _ = to_arrays(splits.train, 200)
    int8_file = convert_int8(load_model(records["fp32"]["model_path"]), calibration)
    int8_source = "alexnet fp32, post-training int8"
print("int8 file:", int8_source)
int8_checks = int8_conv_table(int8_file, test_images[0])
print(f"{len(int8_checks)} CONV_2D ops, {int8_checks['outputs'].sum():,} int8 outputs; largest "
      f"difference: {int8_checks['max_difference_reference'].max()} steps against the "
      f"reference kernels, {int8_checks['max_difference_optimized'].max()} against the "
      f"optimized ones ({int8_checks['differing_optimized'].sum()} outputs differ)")
display(int8_checks)

# %% [markdown]
# The same arithmetic for one output of the first layer, step by step: the exact
# product of the sum and M, next to what the integer pipeline makes of it.

# %%
first = int8_checks.loc[0]
position = (first["output"][0] // 2, first["output"][1] // 2, 0)
steps = pd.Series(int8_output_steps(int8_file, test_images[0], 0, position), dtype=object)
display(steps)

# %% [markdown]
# Against the reference kernels the by-hand layer is exact. The optimized kernels can
# differ by one step, on negative outputs whose value after the high multiply sits
# exactly on a half of the final step: they round such a tie up, the reference rounds
# it away from zero. The arithmetic is the same; only the tie rule differs, and such
# ties are rare (the count is printed above).

# %% [markdown]
# ### Write it: the requantization, in integers only
#
# The one real number left in an int8 layer is M = S_in·S_w / S_out, and the devices that
# int8 is for (microcontrollers, DSPs, NPUs) have no float unit to spare for it. Here you
# write what TFLite does instead, in two functions.
#
# 1. `quantize_multiplier(real)` turns M into integers, once, when the file is loaded:
#    M = m · 2^shift with m in [0.5, 1) (`np.frexp` splits a float this way), and m is
#    kept as the 31-bit integer M0 = round(m · 2^31), a tie rounded away from zero, so
#    that M ≈ M0 · 2^(shift − 31). Two edges: an m so close to 1 that M0 rounds up to
#    2^31, which does not fit in an int32, becomes 2^30 with the shift one higher; a
#    multiplier below 2^-32 (shift < −31) is stored as M0 = 0, shift = 0.
# 2. `apply_multiplier(acc, multiplier, shift)` applies it to each int32 sum, in integer
#    operations only, rounding twice as TFLite's reference kernels do: first a *rounding
#    high multiply*, (x · M0 + nudge) / 2^31 truncated toward zero, with x = acc · 2^shift
#    when the shift is positive and a nudge of 2^30 (or 1 − 2^30 when x · M0 < 0); then,
#    for a negative shift, a division by 2^(−shift) that rounds to nearest, ties away from
#    zero.
#
# Why it matters: these few integer operations are the whole difference between an int8
# layer and a float one, and every output byte of the table above depends on them. A
# rounding rule that is off by one on ties changes some outputs by one step, as the
# optimized kernels' tie rule shows. The tests compare your functions with
# `utils.lessons.arithmetic_and_energy`, which gives the reference kernels' bytes, on the cases where such
# slips show: multipliers just below a power of two, tiny ones, negative accumulators and
# exact ties.

# %%
def quantize_multiplier(real):
    """M = S_in·S_w / S_out as TFLite stores it: (M0, shift), with M ≈ M0 · 2^(shift − 31).

    Write M = m · 2^shift with m in [0.5, 1); then M0 = round(m · 2^31), a tie rounded away
    from zero (floor(m · 2^31 + 0.5)). If M0 comes out as 2^31 (m just below 1), store 2^30
    and shift + 1; if shift < −31, store (0, 0).

    Args:
        real: a positive float, or an array of them (one per output channel).

    Returns:
        (M0, shift): two integers, or two integer arrays of real's shape.
    """
    raise NotWritten  # your code here, in place of this line


# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
def quantize_multiplier_solution(real):
    mantissa, shift = np.frexp(np.asarray(real, np.float64))  # real = m · 2^shift
    fixed = np.floor(mantissa * 2.0**31 + 0.5).astype(np.int64)  # a tie away from zero
    carry = fixed == 2**31  # m rounded up to 1: 2^31 does not fit in an int32
    fixed, shift = np.where(carry, 2**30, fixed), shift + carry
    negligible = shift < -31  # below 2^-32: the multiplier is 0
    return np.where(negligible, 0, fixed), np.where(negligible, 0, shift)


# The function the notebook goes on with: yours once it is written, this one until then.
to_fixed_point = use_reference_until_written(quantize_multiplier, quantize_multiplier_solution,
                                              lambda f: f(0.001))

# %%
exercises.test_quantize_multiplier(to_fixed_point)

# %% [markdown]
# And the multiplication itself. numpy's `//` and `>>` round toward −∞; C's `/`, which
# the high multiply uses, truncates toward zero, so divide the absolute value and put
# the sign back. int64 holds every intermediate product.

# %%
def apply_multiplier(acc, multiplier, shift):
    """acc · M0 · 2^(shift − 31), rounded as TFLite's MultiplyByQuantizedMultiplier does.

    In integers only:
      1. x = acc · 2^shift when shift > 0 (acc itself otherwise);
      2. the rounding high multiply: (x · M0 + nudge) / 2^31, truncated toward zero, with
         nudge = 2^30 when x · M0 >= 0 and 1 − 2^30 when x · M0 < 0 (a tie goes up when
         positive, toward zero when negative);
      3. when shift < 0, divide by 2^(−shift), rounding to nearest, a tie away from zero.

    Args:
        acc: int32 accumulators, an int or an array.
        multiplier, shift: M0 and shift from quantize_multiplier; scalars, or per-channel
            arrays that broadcast with acc.

    Returns:
        The rounded products, integers of the broadcast shape.
    """
    raise NotWritten  # your code here, in place of this line


# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
def apply_multiplier_solution(acc, multiplier, shift):
    shift = np.asarray(shift, np.int64)
    x = np.asarray(acc, np.int64) << np.maximum(shift, 0)  # 1. a positive shift multiplies
    product = x * np.asarray(multiplier, np.int64)
    nudged = product + np.where(product >= 0, 2**30, 1 - 2**30)
    high = np.sign(nudged) * (np.abs(nudged) // 2**31)  # 2. C's "/" truncates toward zero
    exponent = np.maximum(-shift, 0)
    mask = (np.int64(1) << exponent) - 1
    # 3. round to nearest: one more when the remainder passes half (a negative tie is
    # rounded away from zero, i.e. down, so half itself counts there)
    threshold = (mask >> 1) + (high < 0)
    return (high >> exponent) + ((high & mask) > threshold)


requantize = use_reference_until_written(apply_multiplier, apply_multiplier_solution,
                                         lambda f: f(1000, 2**30, -3))

# %%
exercises.test_apply_multiplier(requantize)

# %% [markdown]
# With your functions, the first convolution's multipliers, one per output channel (the
# file's weights have a scale per channel), next to what they stand for; then the output
# shown step by step above, requantized again.

# %%
first_conv = operator_tensors(int8_file, "CONV_2D")[0]
conv_input, conv_weights = first_conv["inputs"][:2]
conv_output = first_conv["outputs"][0]
real_multipliers = (conv_input["scale"][0] * np.asarray(conv_weights["scale"], np.float64)
                    / conv_output["scale"][0])
fixed, shift = (np.asarray(part) for part in to_fixed_point(real_multipliers))
course_fixed, course_shift = arithmetic_and_energy.quantize_multiplier(real_multipliers)
multipliers = pd.DataFrame({
    "M = S_in·S_w / S_out": real_multipliers, "M0": fixed, "shift": shift,
    "M0 · 2^(shift − 31)": fixed * 2.0 ** (shift - 31.0),
    "relative error": np.abs(fixed * 2.0 ** (shift - 31.0) / real_multipliers - 1),
    "same as utils.lessons.arithmetic_and_energy": (fixed == course_fixed) & (shift == course_shift)})
multipliers.index.name = "output channel"
display(multipliers.head(8))
total = steps["int32 sum Σ (q_in − Z_in)·q_w + bias"]
course = steps["sum · M, integer arithmetic"]
mine = int(requantize(total, *to_fixed_point(steps["M = S_in·S_w / S_out"])))
print(f"output {position}: the int32 sum {total} times M is {mine} with your functions "
      f"({'equal to' if mine == course else 'NOT equal to'} the {course} of utils.lessons.arithmetic_and_energy, "
      f"which plus Z_out = {steps['Z_out']} and clamped gives the interpreter's byte, "
      f"{steps['interpreter']})")

# %% [markdown]
# Every M0 is a 31-bit number, so M is kept to about 9 significant digits: the error
# column is far below anything that could move an int8 output, except at an exact tie.

# %% [markdown]
# ### Write it: batch normalization, folded into the convolution
#
# The float AlexNet normalizes after every convolution (conv → batch norm → ReLU), yet
# the int8 file's table lists convolutions only: the converter folded each normalization
# into the convolution before it (and tfmot's quantization-aware training, `int8_qat`,
# treats convolution, normalization and ReLU as one unit for that reason). At
# inference a batch normalization is a fixed affine map per output channel c, with its
# moving mean μ and variance σ²,
#
# $$y_c = \gamma_c\,\frac{z_c - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c,
#   \qquad z_c = (W * x)_c + b_c ,$$
#
# and z is linear in the kernel W and the bias b. So with s_c = γ_c / √(σ_c² + ε), one
# convolution with kernel W_c · s_c and bias (b_c − μ_c) · s_c + β_c computes both, at
# no cost at inference. Write `fold_batch_norm`. Mind the channels where it is easy to
# slip: one whose variance is 0 (a channel that was constant on the training data: only
# ε keeps it finite) and one with a negative γ (the normalization flips its sign). The
# test builds a Keras `Conv2D` followed by `BatchNormalization` (in inference mode), and
# a `Conv2D` with your folded weights, and compares their outputs on random images.

# %%
def fold_batch_norm(kernel, bias, gamma, beta, mean, variance, epsilon):
    """A convolution followed by batch normalization (inference mode) as one convolution.

    Args:
        kernel: the convolution's kernel, (k_h, k_w, C_in, C_out) (Keras' layout).
        bias: its bias, (C_out,) (zeros when it has none).
        gamma, beta, mean, variance: the normalization's scale, offset, moving mean and
            moving variance, each (C_out,).
        epsilon: the normalization's epsilon.

    Returns:
        (folded kernel of kernel's shape, folded bias (C_out,)).
    """
    raise NotWritten  # your code here, in place of this line


# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
def fold_batch_norm_solution(kernel, bias, gamma, beta, mean, variance, epsilon):
    scale = np.asarray(gamma) / np.sqrt(np.asarray(variance) + epsilon)  # s_c per channel
    # The kernel's last axis is the output channel, so scale broadcasts along it.
    return np.asarray(kernel) * scale, (np.asarray(bias) - mean) * scale + beta


fold = use_reference_until_written(
    fold_batch_norm, fold_batch_norm_solution,
    lambda f: f(np.ones((1, 1, 1, 2)), np.zeros(2), np.ones(2), np.zeros(2), np.zeros(2),
                np.ones(2), 1e-3))

# %%
exercises.test_fold_batch_norm(fold)

# %% [markdown]
# Your folding, on the trained float AlexNet's first convolution and its batch
# normalization: the folded convolution alone against the two layers, on the test
# images; then, per output channel, the scale s_c and how it changes the range of the
# channel's weights. (A recipe without batch normalization in the float network, such as
# the smoke profile's, leaves nothing to fold: an untrained AlexNet with it stands in,
# its moving statistics set on training images.)

# %%
float_model = load_model(records["fp32"]["model_path"])
if "conv1_bn" not in [layer.name for layer in float_model.layers]:
    print("This float AlexNet has no batch normalization (its recipe leaves it out): an "
          "untrained one with it stands in, its statistics set on 64 training images.")
    float_model = build_model("alexnet", "fp32", float_model.input_shape[1:],
                              float_model.output_shape[-1], width=config["width"],
                              batch_norm=True)
    calibration, _ = to_arrays(splits.train, 64)
    for _ in range(40):  # training mode updates the moving mean and variance
        float_model(calibration, training=True)
conv, norm = float_model.get_layer("conv1"), float_model.get_layer("conv1_bn")
channels = conv.filters
kernel = conv.kernel.numpy()
gamma = norm.gamma.numpy() if norm.scale else np.ones(channels, np.float32)
beta = norm.beta.numpy() if norm.center else np.zeros(channels, np.float32)
folded_kernel, folded_bias = fold(
    kernel, conv.bias.numpy() if conv.use_bias else np.zeros(channels, np.float32),
    gamma, beta, norm.moving_mean.numpy(), norm.moving_variance.numpy(), norm.epsilon)
images = layer_inputs(float_model, "conv1", test_images)
two_layers = norm(conv(images), training=False).numpy()
one_layer = tf.nn.conv2d(images, np.asarray(folded_kernel, np.float32), conv.strides,
                         conv.padding.upper()).numpy() + np.asarray(folded_bias, np.float32)
print(f"conv1 + conv1_bn against the folded conv1 on {len(images)} images: largest "
      f"difference {np.abs(one_layer - two_layers).max():.2e} (outputs up to "
      f"{np.abs(two_layers).max():.2f})")
ranges = pd.DataFrame({
    "s = γ / √(σ² + ε)": gamma / np.sqrt(norm.moving_variance.numpy() + norm.epsilon),
    "max |W|": np.abs(kernel).reshape(-1, channels).max(axis=0),
    "max |W · s|": np.abs(np.asarray(folded_kernel)).reshape(-1, channels).max(axis=0)})
ranges.index.name = "output channel"
display(ranges.head(8).round(4))
spread = ranges["max |W · s|"].max() / ranges["max |W · s|"].min()
print(f"after folding, the channels' weight ranges differ by up to {spread:.1f}x: with one "
      f"int8 scale for the whole kernel the narrowest channel would use about "
      f"{127 / spread:.0f} of its 127 levels; a scale per output channel (TFLite's default) "
      "gives each channel all of them.")

# %% [markdown]
# ## 2 · A binary convolution, by XNOR and popcount
#
# Store +1 as bit 1 and −1 as bit 0. The product of two ±1 values is +1 exactly when
# their bits agree, which is what XNOR computes, so a dot product of n such values is
#
# $$\sum_i a_i w_i = (\text{agreements}) - (\text{disagreements})
#   = 2\,\mathrm{popcount}(\mathrm{XNOR}(a, w)) - n .$$
#
# `utils.lessons.arithmetic_and_energy.binary_layer_by_hand` packs the inputs' and the kernel's signs
# along the input channels with `numpy.packbits`, XNORs them a byte at a time, counts
# the ones with a lookup table, and applies the formula. The padded border of a
# same-padded layer is +1 (`pad_values=1.0`, report §7.1), so every window holds its
# full n bits. Each binary layer of the trained binary AlexNet runs on the inputs a test
# image gives it. With plain ±1 kernels, the course's default, the two results are equal
# bit for bit: every output is a small integer, exact in float32. A network trained with
# a per-channel gain on its kernel (the `magnitude_aware_sign` setting, larq's
# `MagnitudeAwareSign`, report §7.1) multiplies each popcount by one float per output
# channel, which the layer sums in another order, so such layers agree to float
# rounding. The `kernel_scale` column says which kind each layer is.

# %%
binary_model = load_model(records["binary"]["model_path"])
binary_checks = binary_layer_table(binary_model, test_images[:1])
print(f"{len(binary_checks)} binary layers; equal to larq's output: "
      f"{int(binary_checks['equal'].sum())}; largest relative difference: "
      f"{binary_checks['relative_difference'].max():.1e}")
display(binary_checks)

# %% [markdown]
# What packing buys: the packed kernel against the same kernel in float32, and one
# byte-wide XNOR-popcount for every eight multiply-accumulates. A 64-bit processor
# does 64 at once, and a channel count that is not a multiple of 8 wastes the rest of
# its last byte.

# %%
packed, floats = binary_checks[["packed_weight_bytes", "float_weight_bytes"]].sum()
xnors, macs = binary_checks[["xnor_popcounts", "macs"]].sum()
print(f"binary weights: {packed:,} bytes packed against {floats:,} in float32 "
      f"({floats / packed:.1f}x smaller); {xnors:,} byte-wide XNOR-popcounts in place of "
      f"{macs:,} MACs ({macs / xnors:.1f} MACs each)")

# %% [markdown]
# ### Write it: the dot product on packed bits
#
# The heart of a binary layer is one function: the dot product of two ±1 vectors, read
# straight from their packed bits. Write `xnor_popcount_dot(a_bits, w_bits, n)`. The bits
# come as `numpy.packbits` (and `utils.lessons.arithmetic_and_energy`) packs them: along the last axis, eight
# to a byte, the first value in the highest bit, bit 1 for +1 and 0 for −1. Count the
# disagreements with XOR (or the agreements with XNOR) and a popcount, and use the
# identity above:
#
# $$\sum_i a_i w_i = n - 2\,\mathrm{popcount}(a \oplus w)
#   = 2\,\mathrm{popcount}(\mathrm{XNOR}(a, w)) - n .$$
#
# The trap is the last byte. When n is not a multiple of 8 (27 channels fill three bytes
# and three bits of a fourth), the last byte's low bits are not values. `packbits` leaves
# them 0, so their XNOR is 1 and counts as agreements; and a word read from a device's
# memory may hold anything there. Mask them off (keep only the n real bits), as
# `utils.lessons.arithmetic_and_energy` does with `_valid_bit_mask`. Why it matters: this one function, run
# once per output and kernel position, is all the arithmetic a binary layer does; a
# padding bit counted by mistake shifts every output of a layer whose channel count is not
# a multiple of the word size. The test compares your function with `utils.lessons.arithmetic_and_energy`'s
# binary convolution and the plain ±1 dot product: whole bytes, odd channel counts with
# padding bits 0 or 1, one channel, all-equal and all-opposite vectors, and many inputs
# against many kernels at once.

# %%
def xnor_popcount_dot(a_bits, w_bits, n):
    """The dot product Σ a_i·w_i of ±1 vectors of n values, from their packed bits.

    Report §3.2: Σ a_i·w_i = agreements − disagreements = n − 2·popcount(a XOR w), counted
    over the n real bits only: the last byte's low 8·ceil(n / 8) − n bits are padding,
    whatever they hold. Operators that work bit by bit on uint8 arrays: ^ (XOR), ~ (NOT),
    & (AND); np.unpackbits(x, axis=-1).sum(axis=-1) counts the ones.

    Args:
        a_bits, w_bits: uint8 arrays (..., ceil(n / 8)), packed by np.packbits along the
            last axis (bit 1 = +1, the first value in the highest bit); they broadcast
            against each other.
        n: how many ±1 values each vector holds.

    Returns:
        The integer dot products, of the broadcast shape without the last axis.
    """
    raise NotWritten  # your code here, in place of this line


# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
def xnor_popcount_dot_solution(a_bits, w_bits, n):
    a_bits, w_bits = np.asarray(a_bits, np.uint8), np.asarray(w_bits, np.uint8)
    mask = np.full(a_bits.shape[-1], 0xFF, np.uint8)  # which bits of each byte are values
    if n % 8:
        mask[-1] = (0xFF << (8 - n % 8)) & 0xFF  # packbits fills a byte from its high bit
    agree = ~(a_bits ^ w_bits) & mask  # XNOR: 1 where the signs agree, padding cleared
    agreements = np.unpackbits(agree, axis=-1).sum(axis=-1, dtype=np.int64)  # popcount
    return 2 * agreements - n  # agreements − disagreements


xnor_dot = use_reference_until_written(
    xnor_popcount_dot, xnor_popcount_dot_solution,
    lambda f: f(np.packbits([1, 0, 1]), np.packbits([1, 1, 0]), 3))

# %%
exercises.test_xnor_popcount_dot(xnor_dot)

# %% [markdown]
# Your dot product at work: one output position of the trained binary AlexNet's first
# binary layer, every output channel, computed from bits. The window of inputs under
# the kernel is packed pixel by pixel along its channels, each kernel the same way; your
# function gives one dot product per kernel position and channel, and their sum over
# the window is the output (times the kernel's per-channel gain, when it has one).

# %%
layer = binary_model.get_layer(binary_checks.index[0])
inputs = layer_inputs(binary_model, layer.name, test_images[:1])  # real values, (1, H, W, C_in)
larq_output = layer(inputs).numpy()[0]  # (H_out, W_out, C_out)
kernel = np.asarray(layer.kernel_quantizer(layer.kernel.latent_variable))  # ±1 (× a gain)
(k_h, k_w), (s_h, s_w), channels = layer.kernel_size, layer.strides, inputs.shape[-1]
if layer.padding == "same":  # pad as the layer does, with +1 (pad_values=1.0): bit 1
    before = [max((out - 1) * s + k - size, 0) // 2 for out, s, k, size in (
        (larq_output.shape[0], s_h, k_h, inputs.shape[1]),
        (larq_output.shape[1], s_w, k_w, inputs.shape[2]))]
    inputs = np.pad(inputs, [(0, 0), (before[0], k_h), (before[1], k_w), (0, 0)],
                    constant_values=1.0)
y, x = larq_output.shape[0] // 2, larq_output.shape[1] // 2  # an output in the middle
window = inputs[0, y * s_h:y * s_h + k_h, x * s_w:x * s_w + k_w]  # (k_h, k_w, C_in)
a_bits = np.packbits(window >= 0, axis=-1)  # (k_h, k_w, bytes)
w_bits = np.moveaxis(np.packbits(kernel >= 0, axis=2), -1, 0)  # (C_out, k_h, k_w, bytes)
dots = np.asarray(xnor_dot(a_bits, w_bits, channels)).sum(axis=(1, 2))  # (C_out,)
gain = np.abs(kernel).max(axis=(0, 1, 2))  # 1 for ±1 kernels
by_bits = dots * gain + (layer.bias.numpy() if layer.use_bias else 0.0)
print(f"{layer.name}, output ({y}, {x}): {k_h}x{k_w} window, {channels} input channels "
      f"packed in {a_bits.shape[-1]} byte(s) per pixel ({8 * a_bits.shape[-1] - channels} "
      f"padding bits in the last); equal to larq's output in all {len(by_bits)} channels: "
      f"{np.allclose(by_bits, larq_output[y, x], rtol=1e-6, atol=1e-6)}")
pd.DataFrame({"your XNOR-popcount": by_bits, "larq": larq_output[y, x]}).head(8)

# %% [markdown]
# ## 3 · Energy per inference
#
# A processor's energy goes into two things: arithmetic and moving data. Horowitz's
# table for 45 nm CMOS (ISSCC 2014) gives both; the 32-bit DRAM figure is the one Han
# et al. (NeurIPS 2015) quote from it.

# %%
cost_table()

# %% [markdown]
# Widths the table does not list are scaled from it: an adder's energy grows about
# linearly with its width, a multiplier's with the square of it. One MAC is a multiply
# and an add: a float multiply and add for float32; for k-bit integers a k-bit
# multiply and an add in the accumulator (32 bits, as TFLite's int8 kernels sum); for
# binary, an XNOR and a share of a popcount, counted here as one 1-bit add. That last
# figure is an assumption, and a low one: an adder tree that counts n bits does about
# (log₂ n)/2 one-bit additions per input bit. Below 8 bits the accumulator costs more
# than the multiplier, so int4 and int2 save much less per MAC than their width
# suggests; binary escapes that because the popcount replaces the wide adds.

# %%
macs_table = mac_table(accumulator_bits=accumulator_bits)
figures.save_fig(plot_mac_energy(macs_table), "08_mac_energy", folders.figures)
macs_table.round(4)

# %% [markdown]
# ### Predict, run, explain: how much energy does binarization save?
#
# **Predict.** Binary weights take 32 times fewer bits than float32 ones, and a binary MAC
# costs a small fraction of a float32 MAC (the table above). At full size, how many times
# less energy per inference do you expect binary AlexNet and binary GoogLeNet to need than
# their float32 versions, with the weights read from DRAM (the default `weight_memory`)?
# Which of the two gains more? Write your guesses in the next cell; the cells below
# estimate the energy, and the cell at the end of this part compares.

# %%
my_prediction = None  # your guesses for AlexNet and GoogLeNet, e.g. (32.0, 32.0)

# %% [markdown]
# ### AlexNet and GoogLeNet at full size
#
# The estimate for one inference (one image), from larq's summary of each network and a
# count of the values its layers pass on:
#
# - **compute**: each MAC at its precision. larq gives a MAC the wider of its two
#   operands' widths, so the float first layer of a binary or k-bit network (report
#   §4.3) counts as float32 MACs, and the classifier too;
# - **weights**: every stored parameter read once per image at its stored width, packed
#   densely, from `weight_memory` (DRAM by default: AlexNet's 58 million weights, with
#   two classes, do not fit on a small chip);
# - **activations**: every value a convolution or dense layer outputs (and the image)
#   written once and read once in a 32 KB on-chip SRAM, at the precision's activation
#   width (batch normalization, ReLU and pooling taken as fused into the layer).
#
# Left out: control, clocks, moving data between SRAM and the arithmetic units, the
# batch-norm and pooling arithmetic, and batching, which would read each weight once for
# many images. Read the figures as orders of magnitude and ratios, not as what a chip
# draws. (The smoke profile builds the networks at 1/16 of their width, to stay quick.)

# %%
full_width = 1 / 16 if profile == "smoke" else 1.0
full_shapes = {"alexnet": (227, 227, 3), "googlenet": (224, 224, 3)}
precisions = ("fp32", "int16", "int8", QAT_PRECISION, "int4", "int2", "ternary", "binary")
per_network = {}
for name, shape in full_shapes.items():
    for precision in precisions:
        network = build_model(name, precision, shape, 2, width=full_width)
        per_network[name, precision] = {**summary_figures(network),
                                    "activation_values": count_activation_values(network)}
        tf.keras.backend.clear_session()
full_size = energy_table(per_network, **assumptions)
full_size[["macs_total", "memory_mib", "compute_uj", "weights_uj", "activations_uj",
           "total_uj", "compute_share", "fp32_over_this"]].round(3)

# %%
figures.save_fig(plot_energy_breakdown(full_size), "08_energy_breakdown", folders.figures)

# %% [markdown]
# How to read it:
#
# - A 32-bit word from DRAM costs as much as hundreds to thousands of MACs (640 pJ,
#   against 4.6 pJ for a float32 MAC and 0.3 pJ for an int8 one). A network with many
#   weights per MAC spends most of its energy fetching weights: AlexNet, whose dense
#   layers hold most of its weights and do few of its MACs. GoogLeNet has about a tenth
#   of AlexNet's weights and more MACs, so its compute weighs more.
# - Fewer bits per weight cut the weight part in proportion, 32 times from float32 to
#   binary.
# - The compute of larq's k-bit and binary networks has a floor: their first layer
#   reads the image in float and their classifier is float (report §4.3), so those
#   MACs are float32 MACs. The `int8_qat` network, integer from end to end, has no such
#   floor. The share of float MACs in each network's MACs and in its compute energy:

# %%
float_macs = pd.DataFrame({
    key: {"% of MACs": 100 * values.get("macs_32bit", 0) / values["macs_total"],
          "% of compute energy": 100 * values.get("macs_32bit", 0) * mac_energy_pj("fp32")
          / 1e6 / full_size.loc[key, "compute_uj"]}
    for key, values in per_network.items() if key[1] != "fp32"}).T
float_macs.round(1)

# %% [markdown]
# If the weights fit on the chip, the picture changes: the same networks with every
# weight read from a 1 MB SRAM instead (only the networks whose weights fit in 1 MB
# could do that for real; the last column says which).

# %%
on_chip = energy_table(per_network, **{**assumptions, "weight_memory": "sram_1mb"})
pd.DataFrame({"total µJ, weights in DRAM": energy_table(per_network, **{
                  **assumptions, "weight_memory": "dram"})["total_uj"],
              "total µJ, weights in 1 MB SRAM": on_chip["total_uj"],
              "compute share on chip": on_chip["compute_share"],
              "weights fit in 1 MB": full_size["memory_mib"] * 2**20 <= 1e6}).round(3)

# %% [markdown]
# **Run.** The cell reads the full-size table above: for each network, float32's energy
# over binary's, in total and for each part (compute, weights, activations), and where
# float32's energy goes.

# %%
print(f"your prediction (AlexNet, GoogLeNet): "
      f"{'no prediction written' if my_prediction is None else my_prediction}")
energy_parts = {"compute": "compute_uj", "weights": "weights_uj",
                "activations": "activations_uj", "total": "total_uj"}
for name in full_shapes:
    if (name, "fp32") not in full_size.index or (name, "binary") not in full_size.index:
        print(f"{name}: no float32 and binary rows in the table above")
        continue
    fp32_row, binary_row = full_size.loc[(name, "fp32")], full_size.loc[(name, "binary")]
    saved = ", ".join(f"{part} {fp32_row[column] / binary_row[column]:.1f}x"
                      for part, column in energy_parts.items() if binary_row[column] > 0)
    shares = ", ".join(f"{part} {fp32_row[column] / fp32_row['total_uj']:.1%}"
                       for part, column in energy_parts.items() if part != "total")
    print(f"{name} (width {full_width:g}): float32 over binary: {saved}; where float32's "
          f"energy goes: {shares}")

# %% [markdown]
# **Explain.** Why is the total saving smaller than the saving on weights, and why does one
# network gain more than the other? What sets the floor of a binary network's energy, and
# what would it take to come closer to 32x?

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title One explanation (open to read it)
# The total saving is the float32 total over the binary total, so each part counts by its
# weight in the float32 energy (Amdahl's law): a part that shrinks 32 times helps only as
# far as it dominated. The weights shrink almost 32 times (a little less: the classifier
# and the batch-norm values stay 32-bit), but the compute shrinks far less, because the
# first layer reads the float image and the classifier is float (report §4.3): those MACs
# stay float32 MACs. They are a small share of the MACs and, at Horowitz's costs, nearly
# all of the binary network's compute energy (the table of float MACs above).
# AlexNet's float32 energy goes mostly to fetching its weights from DRAM: its dense
# layers hold most of the weights and use each once per image (notebook 03), so its total
# follows the weights' saving, held back by the float conv1. GoogLeNet's float32 energy
# goes mostly to compute: a tenth of AlexNet's weights, each reused at many positions, so
# its total follows the compute saving, and that is capped by its float first convolution.
# So GoogLeNet gains less. To come closer to 32x, the float MACs must go: a binarized (or
# 8-bit) first layer and classifier, at some cost in accuracy (notebook 07's first- and
# last-layer ablations); with the weights on chip (the SRAM table above) the weights cost
# less and the compute floor weighs more. In the smoke profile, at 1/16 of the width,
# the float parameters and the float first layer weigh more still, so every saving is
# smaller, for the same reasons.

# %% [markdown]
# ## 4 · Accuracy against energy
#
# Energy alone says nothing about a network that no longer classifies. Moons et al.'s
# *Minimum Energy Quantized Neural Networks*, which the report's 8-bit network follows
# (§4.4), ask the question that matters: at a required accuracy, which precision (and
# how wide a network) costs least? Here are the networks trained in this profile,
# each at its trained size (the quick profile's reduced inputs and widths, not the
# full size above): the main comparison of notebooks 03 and 04, and notebook 07's
# bit-width sweep of AlexNet where its records exist. Each point is the mean over
# seeds with one standard deviation; energy counts compute and weights only, since the
# records hold larq's summary and not the activation counts (at full size, above, the
# activations were the smallest of the three parts). Moons et al.'s second knob is the
# width: binary and 4-bit AlexNet trained at twice the sweep's width, with the sweep's
# recipe and seeds (`utils.lessons.arithmetic_and_energy.wider_configs`), join the figure as their own series,
# labelled by width. In the committed quick run their records exist; elsewhere they are
# trained here (six short runs).

# %%
main = [record for record in main_records(folders.results, profile, **dry_run)
        if record["config"]["dataset"] == dataset]
sweep = []  # the profiles that have ablations (notebook 07) have a bit-width sweep
if profile in ABLATION_PROFILES:
    sweep_runs = load_runs(profile, dataset, folders.results, keys=["bits"])
    sweep = [load_record(Path(folders.results) / f"{name}.json")
             for name in sweep_runs["run_name"].dropna().unique()]
wider = []  # binary and 4-bit AlexNet at twice the sweep's width (records committed in quick)
if profile == "full":  # six full-size AlexNets at double width: a GPU job of its own
    print("Full profile: the wider networks are not trained here; run "
          "run_configs(wider_configs('full', dataset)) on a GPU to add them.")
elif profile in ABLATION_PROFILES:
    wider = run_configs(wider_configs(profile, dataset, **dry_run), results_dir=folders.results,
                        data_dir=folders.data, verbose=0)
trained = accuracy_energy_table({"main comparison": main, "bit-width sweep": sweep},
                                **assumptions)
print(f"{len(main)} main records, {len(sweep)} sweep records, {len(wider)} wider networks")
trained.round(4)

# %%
best = trained["accuracy_mean"].max()
bar = best - accuracy_margin_points / 100
figure = plot_accuracy_vs_energy(trained, wider, min_accuracy=bar, **assumptions)
figures.save_fig(figure, "08_accuracy_vs_energy", folders.figures)

# %% [markdown]
# The cheapest network within a few points of the most accurate one, for several
# margins:

# %%
everything = pd.concat([trained, accuracy_energy_table({"wider networks": wider},
                                                       **assumptions)], ignore_index=True)
for margin in (0.5, 1.0, 2.0, 5.0):
    row = cheapest_at_accuracy(everything, max(0.0, best - margin / 100))
    print(f"within {margin:3.1f} points of {100 * best:.1f}%: {row['model']} "
          f"{row['precision']} (width {row['width']:g}), {100 * row['accuracy_mean']:.1f}% "
          f"at {row['total_uj']:.3g} µJ")

# %% [markdown]
# The record of this notebook, `energy.json` in the results folder, keeps these
# tables, the assumptions and the by-hand checks for the report.

# %%
checks = {
    "int8": {"file": int8_source, "ops": len(int8_checks),
             "outputs": int(int8_checks["outputs"].sum()),
             "max_difference_reference": int(int8_checks["max_difference_reference"].max()),
             "max_difference_optimized": int(int8_checks["max_difference_optimized"].max()),
             "differing_optimized": int(int8_checks["differing_optimized"].sum())},
    "binary": {"layers": len(binary_checks), "equal": int(binary_checks["equal"].sum()),
               "max_relative_difference": float(binary_checks["relative_difference"].max()),
               "packed_bytes": int(packed), "float_bytes": int(floats),
               "xnor_popcounts": int(xnors), "macs": int(macs)},
}
path = write_json_atomic(Path(folders.results) / "energy.json", energy_record(
    full_size, everything, profile=profile, dataset=dataset, checks=checks,
    assumptions={**assumptions, "full_size_width": full_width}))
print("wrote", path)

# %% [markdown]
# ## Exercises
#
# Each question below is checked by `check`: a wrong answer raises with a hint, a
# right one says so. Work it out in the empty cell; the worked solution follows, folded
# (click to open it).

# %%
exercise("08_xnor_dot")

# %%
# Your answer:
# answer = ...
# check("08_xnor_dot", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
n, agree = 64, 40
answer = agree - (n - agree)  # = 2 * popcount - n
check("08_xnor_dot", answer)

# %%
exercise("08_requant_multiplier")

# %%
# Your answer:
# answer = ...
# check("08_requant_multiplier", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = 0.02 * 0.005 / 0.1  # TFLite stores it as a 31-bit fixed-point multiplier and a shift
check("08_requant_multiplier", answer)

# %%
exercise("08_mac_energy_ratio")

# %%
# Your answer:
# answer = ...
# check("08_mac_energy_ratio", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = (3.7 + 0.9) / (0.2 + 0.1)
check("08_mac_energy_ratio", answer)

# %% [markdown]
# ## What to take away
#
# - An int8 layer is integer arithmetic from end to end: int8 products summed in int32,
#   one fixed-point multiply and shift per output channel, a zero point and a clamp.
#   Recomputed by hand from the file, it gives the interpreter's bytes.
# - A binary layer needs no multiplier: an XNOR and a popcount per 8 (or 64) weights,
#   and the result is the same integer a float convolution of ±1 values gives.
# - In energy, the weights' trip from memory outweighs the arithmetic for AlexNet, and
#   fewer bits per weight cut that trip in proportion. Below 8 bits, the 32-bit
#   accumulator and the float first and last layers set the floor, not the multipliers.
# - The estimates rest on a 45 nm table and stated assumptions (change the parameters
#   `weight_memory` and `accumulator_bits` above to see how much they move); they rank
#   precisions, they do not predict a device's battery life.
