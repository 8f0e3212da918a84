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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/reduced-precision/rpnn-course/blob/main/notebooks/02_binary_and_8bit_layers.ipynb)

# %% [markdown]
# # 02 · Binary and k-bit layers
#
# Notebook 01 quantized numbers; this one quantizes layers (report §4). It shows how
# larq builds a quantized layer and what larq's summary says a k-bit model costs, watches
# the latent weights of a live binary layer during training, trains the report's small
# binary network on MNIST digits (§5.5), and trains one small network at 1, 2, 4, 8 and
# 32 bits to see how accuracy changes with the bit width. It then quantizes the trained
# float network after training, and makes it quantization-aware with tfmot (`int8_qat`, the
# field's 8-bit network of notebooks 03–06).
#
# Three cells ask you to write the core yourself: the latent-weight update (section 3), the
# per-channel weight quantization of post-training quantization (section 6), and the tfmot
# lines of a quantization-aware model (section 7). Each is checked by a test that compares
# it with the course's own implementation; until you write it, a folded reference solution
# stands in so that the notebook runs on.
#
# In the `quick` profile the training sections train small networks on a CPU (the time
# statement below says how long, from the records); in `smoke` they run for a moment on a few hundred images, only to check that everything
# works (their accuracies mean nothing).

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
network = "cnn"  # the bit-width sweep's network: "cnn" or "mlp"
bits = [1, 2, 4, 8, 32]  # 1: binary, 2..16: k-bit, 32: float
seed = 0  # seeds weights, data split and shuffling

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
from utils.lessons import binary_and_8bit_layers
from utils.lessons.binary_and_8bit_layers import live_layer_demo, precision_table
from utils.models import build_model, load_model, summary_table
from utils.names import precision_for_bits
from utils.quantizers import KBitQuantizer, quantize_after_training
from utils.quantizers import kernels as network_kernels
from utils.tables import bits_table, notebook_time_text
from utils.train import run_configs

choice, folders = notebook_folders(profile, dataset, course_dir, results_dir=results_dir,
                                   figures_dir=figures_dir, report_dir=report_dir,
                                   data_dir=data_dir)
dataset = choice.name
dry_run = dry_run_overrides(limit, epochs)  # {} unless a dry run
data_dir = data_dir or folders.data

# %% [markdown]
# How long this notebook takes: measured in the last main job with its records present,
# and estimated from those records for a course folder without them.

# %%
display(Markdown(notebook_time_text("02_binary_and_8bit_layers", folders.results, profile)))

# %% [markdown]
# ## 1. A quantized layer (eq. 4.4)
#
# A larq layer such as `QuantDense` or `QuantConv2D` computes
#
# $$\mathbf{y} = \sigma\big(f(q_{\text{kernel}}(\mathbf{w}),\,
# q_{\text{input}}(\mathbf{x})) + b\big) \qquad (4.4)$$
#
# where $f$ is the usual matrix product or convolution. The only difference from a Keras
# layer is that kernel and input pass through quantizers first: with
# `kernel_quantizer="ste_sign"` and `input_quantizer="ste_sign"` both operands are ±1 (a
# binary layer, eqs. 4.1–4.2); with neither it is an ordinary float layer.
#
# One map turns a precision name into these arguments (`utils.quantizers`), shared by the
# small networks here and by AlexNet and GoogLeNet later:
#
# * the **first** layer keeps its float input, the image, and quantizes only its kernel:
#   with three input channels it is cheap anyway, and binarizing pixels costs accuracy
#   (§4.3);
# * **hidden** layers quantize input and kernel. The input quantizer is also the
#   activation function: the sign for binary layers, a quantized ReLU for k-bit ones
#   (after Moons et al., §4.4), so there is no separate ReLU;
# * the **last** layer is float and ends in a softmax: class scores are the most
#   sensitive to rounding (§4.3);
# * quantized kernels are constrained by `WeightClip(1)` and every quantized layer is
#   followed by batch normalization.

# %%
precision_table(("fp32", "int8", "int4", "binary"))

# %% [markdown]
# ## 2. What larq's summary says a k-bit model costs
#
# `KBitQuantizer(k)` implements eqs. 4.6/4.7 and carries `precision = k`, so
# `lq.models.summary` counts its weights as k-bit numbers. Below is this notebook's
# small multilayer perceptron at 4 bits, narrowed to 64 units for display. The summary
# splits each layer's parameters by bit width, computes memory with every weight at its
# own width, and splits the multiply-accumulates (MACs) by the precision of their
# operands; the first layer's MACs count as 32-bit because its input is the float
# image. Batch-normalization parameters and the float classifier stay at 32 bits.

# %%
# width 0.125: 64 of the MLP's 512 units per layer
model_int4 = build_model("mlp", "int4", (28, 28, 3), num_classes=10, width=0.125)
lq.models.summary(model_int4)

# %% [markdown]
# What the summary's memory figures measure (larq's `larq/models.py`): the per-layer memory
# column counts each weight at its own bit width, in units of 8 × 1,024 bits (its "kB" is a
# KiB); *Model size* is that total, *Float-32 Equivalent* the same weights at 32 bits each,
# and *Model size (8-bit FP weights)* the total with every 32- or 16-bit weight counted as 8
# bits. larq's *Compression Ratio of Memory* is Model size divided by Float-32 Equivalent:
# the fraction of the float memory that is left, so smaller is better. The course's tables
# (`compression_ratio`, "compression x") give the reciprocal, Float-32 Equivalent over Model
# size: how many times smaller than float the model is. One measurement, two ways up:

# %%
int4_figures = summary_table(model_int4)[model_int4.name]
print(f"larq's Compression Ratio of Memory: {1 / int4_figures['compression_ratio']:.2f} "
      f"(model size / float-32 equivalent); the course's compression: "
      f"{int4_figures['compression_ratio']:.2f}x (float-32 equivalent / model size)")

# %% [markdown]
# The same network at four precisions, side by side (memory in MiB):

# %%
pd.concat([summary_table(build_model("mlp", p, (28, 28, 3), 10, width=0.125))
           for p in ("fp32", "int8", "int4", "binary")], axis=1).round(4)

# %% [markdown]
# ## 3. Latent weights and weight clipping, live
#
# Quantized training keeps two versions of every weight (report §3.1): a float
# **latent** weight that the optimizer updates with the STE gradients, and its quantized
# value, which is what the forward pass multiplies with. Below a real `QuantDense` layer
# with a binary kernel (first-layer settings: float input, `ste_sign` kernel,
# `WeightClip(1)`) is trained for a few dozen steps on a small synthetic problem, with a
# deliberately large learning rate so that a lot happens quickly.

# %%
demo = live_layer_demo("binary", seed=seed)
display(demo.summary())
fig = binary_and_8bit_layers.plot_latent_weights(demo.latent_initial, demo.latent_final,
                                demo.quantized_final, demo.steps,
                                title="Binary QuantDense: latent vs quantized kernel")
save_fig(fig, "02_latent_weights", folders.figures)

# %% [markdown]
# * The forward pass only ever sees ±1 (middle panel: the quantized kernel against the
#   latent weight is the sign function).
# * Latent weights spread out as training pushes them; those pushed past ±1 are clipped
#   back to ±1 by the constraint after every update, so they pile up at the red lines
#   (left panel). They are not stuck there: a gradient that points inward moves them off
#   the bound again, and the share of weights at ±1 rises and falls during training.
# * A binary weight changes only when its latent weight crosses zero (right panel).
#   Such flips are common at first and grow rare as training settles: a latent weight
#   far from zero is one the optimizer is sure about, and it takes many updates the
#   other way to flip it.
#
# With `KBitQuantizer(4)` the kernel takes 16 values from −1 to 0.875, and a weight
# changes whenever its latent value crosses the midpoint between two levels, so changes
# are much more frequent:

# %%
demo4 = live_layer_demo("int4", seed=seed)
display(demo4.summary())
fig = binary_and_8bit_layers.plot_latent_weights(demo4.latent_initial, demo4.latent_final,
                                demo4.quantized_final, demo4.steps,
                                title="4-bit QuantDense: latent vs quantized kernel")
save_fig(fig, "02_latent_weights_int4", folders.figures)

# %% [markdown]
# ### Write it yourself: the latent-weight update
#
# Keras and larq made every update above; the update itself is one line, and writing it
# shows where the clip sits. The optimizer moves each latent weight $w$ against its
# gradient $g$ (the gradient the straight-through estimator passed from the binary weight
# to $w$, eq. 4.3), then the kernel's constraint, larq's `WeightClip(1)`, clips the result
# to $[-1, 1]$ (the float copy that accumulates the updates, §3.1, clipped to ±1, §3.2). With
# plain gradient descent (SGD) at learning rate $\eta$:
#
# $$w \leftarrow \operatorname{clip}(w - \eta\, g,\; -1,\; 1), \qquad
# w_b = \operatorname{sign}(w)$$
#
# Why the clip matters: `ste_sign` passes a gradient only where $|w| \le 1$ (eq. 4.3), so a
# latent weight allowed past ±1 would receive no gradient again and could never flip back;
# the clip keeps every latent weight where learning can still move it. (The demo above used
# Adam, which rescales $g$ per weight; the step and the clip after it are the same.)
#
# Write `latent_update` in the next cell. The test compares it with the course's own step:
# Keras' SGD on a variable that carries the binary kernel's constraint, on random weights and
# on the edges (weights at ±1 pushed outward or pulled inward, a zero gradient, weights
# crossing zero).

# %%
def latent_update(latent, gradient, learning_rate):
    """One training step of a binary layer's latent (float) weights.

    Args:
        latent: the latent weights, a float array with values in [-1, 1].
        gradient: the gradient of the loss with respect to them, same shape.
        learning_rate: the step size (eta).

    Returns:
        The new latent weights, same shape: one gradient-descent step, then clipped to
        [-1, 1] as larq's WeightClip(1) does.
    """
    # Your code here: one line with np.clip.
    raise NotWritten


# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
def latent_update_solution(latent, gradient, learning_rate):
    return np.clip(latent - learning_rate * gradient, -1.0, 1.0)  # SGD step, then WeightClip(1)


latent_update = use_reference_until_written(
    latent_update, latent_update_solution,
    lambda f: f(np.zeros(2, np.float32), np.ones(2, np.float32), 0.1))

# %%
exercises.test_latent_update(latent_update)

# %% [markdown]
# Your update on six latent weights, and the binary weights that follow (`ste_sign`, the
# binary kernel's quantizer: the sign, with +1 for 0). The first and last are pushed past ±1
# and clipped back; the third and fourth cross zero, so their binary weights flip; the
# second moves towards zero without flipping.

# %%
latent = np.array([-1.0, -0.4, -0.02, 0.03, 0.6, 1.0], np.float32)
gradient = np.array([0.5, -2.0, -1.0, 1.0, 0.2, -3.0], np.float32)
new_latent = np.asarray(latent_update(latent, gradient, 0.1), np.float32)
binarize = lq.quantizers.SteSign()
pd.DataFrame({"latent": latent, "gradient": gradient, "new latent": new_latent,
              "binary": binarize(latent).numpy(), "new binary": binarize(new_latent).numpy()})

# %% [markdown]
# ### Predict, run, explain: how far can a latent weight travel?
#
# **Predict.** The demo above trained its binary layer with Adam at a learning rate of
# 0.1 (`live_layer_demo`'s default, "deliberately large"), and its summary showed the
# share of latent weights that ended at the clip. Now train the same layer, on the same
# data and for the same steps, at 0.01, ten times smaller. (a) What fraction of the latent
# weights will end at ±1? (b) How many times fewer changes of binary weights (sign flips)
# do you expect: ten times fewer, more than ten, or fewer than ten? Write your guesses in
# the next cell before running the one after it.

# %%
my_prediction = None  # your guesses for (a) and (b), e.g. (0.05, 10.0)

# %% [markdown]
# **Run.** The cell trains the layer again at 0.01 (a few seconds) and prints, for both
# rates, the share of latent weights at ±1, the farthest any latent weight moved from its
# start next to the number of steps times the learning rate, the sign flips (in all, and
# in the last quarter of the steps) and the loss of the last step.

# %%
slow_demo = live_layer_demo("binary", seed=seed, learning_rate=0.01)
print(f"your prediction: {'no prediction written' if my_prediction is None else my_prediction}")
print(f"{len(demo.steps)} steps; the latent weights start within "
      f"±{np.abs(demo.latent_initial).max():.3f}")
for rate, run in ((0.1, demo), (0.01, slow_demo)):  # 0.1: live_layer_demo's default
    steps = run.steps
    print(f"learning rate {rate:<4}: {np.mean(np.abs(run.latent_final) >= 1.0):.3f} of the latent "
          f"weights at ±1, farthest move {np.abs(run.latent_final - run.latent_initial).max():.3f} "
          f"(steps × rate: {len(steps) * rate:.2f}), {int(steps['flips'].sum()):,} sign flips "
          f"({int(steps['flips'].tail(len(steps) // 4).sum()):,} in the last quarter of the "
          f"steps), last loss {steps['loss'].iloc[-1]:.3f}")
print(f"measured: {demo.steps['flips'].sum() / max(int(slow_demo.steps['flips'].sum()), 1):.1f} "
      "times fewer sign flips at 0.01 than at 0.1")

# %% [markdown]
# **Explain.** Why does the smaller rate leave the clip untouched? What limits how far a
# latent weight can move under Adam, whatever its gradient? And why do the sign flips not
# fall by the same factor as the learning rate?

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title One explanation (open to read it)
# Adam divides each weight's running mean gradient by its running root-mean-square, so
# one step moves a weight by about the learning rate, however large or small its
# gradient: over N steps a latent weight travels at most about N times the rate (the
# "steps × rate" printed above, which the farthest move stays below). The latent weights
# start inside Glorot's range, |w| <= sqrt(6 / (32 + 64)) for this layer of 32 inputs and
# 64 units. At 0.01 the whole budget of movement is shorter than the way from there to ±1,
# so no weight can reach the clip; at 0.1 the budget is several times that way, and every
# weight that gets a steady push reaches ±1 within a few dozen steps. So WeightClip(1)
# (report §3.2) acts only when updates are large or training is long, and that is when
# it matters: it keeps each latent weight where `ste_sign` still passes a gradient
# (|w| <= 1, eq. 4.3), so that the weight can still flip back.
# A binary weight flips when its latent weight crosses zero, which depends on where the
# weight is as much as on the step: the weights that start near zero cross it at either
# rate, so the flips fall by much less than the rate does. At 0.1 many flips are the same
# weights jumping back and forth across zero, and flips go on into the last steps; such
# late flips are noise in the forward pass rather than learning. The last loss is that of
# one batch, so compare it with care: a larger rate does not by itself train better. The
# demo's rate was chosen to make the clip and the flips visible; notebook 07's recipe
# ablation compares the report's constant rate with the course's schedule.

# %% [markdown]
# ## 4. Report §5.5: a small binary network on MNIST
#
# Besides AlexNet, the report trained a binary network with only three hidden layers on
# MNIST for five epochs and reached about 97% validation accuracy, close to float
# networks. The same recipe here trains on **mnist5k**: 3,500 training digits instead of
# 60,000, so expect a lower figure (with a seventeenth of the data it overfits sooner).
#
# Layers: flatten → three binary `QuantDense` blocks (the first with float input), each
# followed by batch normalization → float dense layer with softmax. Training: Adam,
# learning rate 0.01 decaying to zero along a cosine, batches of 64, five epochs (one in
# the smoke profile).

# %%
config = make_config("mlp", "binary", dataset="mnist5k", profile=profile, seed=seed,
                     **dry_run)
(mlp,) = run_configs([config], results_dir=folders.results, data_dir=data_dir)
print(f"test accuracy {mlp['test_accuracy']:.2%} on {mlp['dataset']['name']} "
      f"(offline stand-in: {mlp['dataset']['is_offline_standin']}); "
      f"memory {mlp['summary']['memory_mib'] * 1024:,.0f} KiB, "
      f"{mlp['summary']['compression_ratio']:.1f}x smaller than float")
fig = binary_and_8bit_layers.plot_training_curves(mlp["history"], label="binary MLP",
                                 title="Binary MLP (report §5.5) on mnist5k")
save_fig(fig, "02_binary_mlp_curves", folders.figures)

# %% [markdown]
# Training accuracy climbs above validation accuracy within a few epochs: with 3,500
# images even a binary network can memorize. The gap to the report's 97% is mostly the
# data; more digits, not more epochs, would close it.
#
# ## 5. Accuracy against bit width
#
# Finally, one network trained once per precision with identical settings: binary
# (1 bit, `ste_sign`), 2, 4 and 8 bits (`KBitQuantizer` kernels, `QuantizedReLU`
# activations) and float (32). The default network is a small CNN: two 3×3 convolutions,
# each followed by 2×2 max-pooling, one hidden dense layer and the float softmax
# classifier, quantized by the map of section 1. All precisions share the recipe of
# section 4. One detail matters for the coarse k-bit grids: Keras' Glorot initialization
# draws weights below about 0.1 here, and on a grid of step 0.5 (2 bits) or 0.125
# (4 bits) every weight below half a step rounds to zero, which is most of them. Where
# Glorot's range is narrower than one step, the kernel starts uniform in
# [−step, step] instead, so about half the weights start on a non-zero level. It is the
# rule every network of the course uses (`LayerFactory.quantized_arguments` in
# `utils/nets.py`); 8 bits and more keep Glorot's start.
#
# The sweep uses the dataset chosen by the `dataset` parameter.

# %%
model_name = {"cnn": "small_cnn", "mlp": "mlp"}[network]
size = {} if choice.name == "mnist5k" else {"image_size": 64}  # photos: 64 px
configs = [make_config(model_name, precision_for_bits(b), dataset=choice.name, profile=profile,
                       seed=seed, **size, **dry_run) for b in bits]
float_config = make_config(model_name, "fp32", dataset=choice.name, profile=profile, seed=seed,
                           **size, **dry_run)  # section 6 quantizes its trained model
records = run_configs([*configs, float_config], results_dir=folders.results, data_dir=data_dir,
                      require_model=[float_config])
sweep = bits_table(records[:len(configs)])
sweep.round(4)

# %%
fig = binary_and_8bit_layers.plot_accuracy_vs_bits(
    sweep, title=f"Test accuracy vs bit width ({network} on {choice.name})")
save_fig(fig, "02_accuracy_vs_bits", folders.figures)
fig = binary_and_8bit_layers.plot_histories(sweep.attrs["histories"], metric="accuracy",
                           title="Accuracy per epoch (train dashed, validation solid)")
save_fig(fig, "02_bitwidth_curves", folders.figures)

# %%
accuracy = sweep.set_index("bits")["test_accuracy"] * 100
print("Test accuracy: " + ", ".join(f"{b}-bit {a:.1f}%" for b, a in accuracy.items()) + ".")
if 8 in accuracy.index and 32 in accuracy.index:
    print(f"8 bits against float: {accuracy[8] - accuracy[32]:+.1f} points; against 8 bits: "
          + ", ".join(f"{b}-bit {accuracy[b] - accuracy[8]:+.1f}"
                      for b in accuracy.index if b < 8) + " points.")
test_count = records[0]["dataset"]["sizes"]["test"]
p = accuracy.get(32, accuracy.max()) / 100
print(f"Standard error of one accuracy near {p:.1%} on {test_count:,} test images: "
      f"{100 * np.sqrt(p * (1 - p) / test_count):.1f} points.")

# %% [markdown]
# What to look for: how far 8 bits falls below float, and whether accuracy keeps falling
# step by step as the bits go down (the lines above give each difference in points). In
# the committed quick run on mnist5k it did not: on digits even a network with binary
# weights and activations keeps nearly all of the float accuracy, and the low bit widths
# are too close to rank reliably (see below). One structural difference among them: the
# 2-bit grid of eq. 4.6 is the asymmetric kind of notebook 01, {−1, −0.5, 0, 0.5}, with a
# single positive level, whereas binary weights are a symmetric ±1.
#
# Memory falls almost in proportion to the bit width, but not quite: the
# batch-normalization parameters and the float classifier stay at 32 bits, which is why
# the binary network is less than 32× smaller than the float one.
#
# How much to trust a difference: an accuracy p measured on n test images carries a
# standard error of √(p(1 − p)/n) (printed above for this run), and each precision was
# trained once, with one seed. Differences below about twice that are not evidence.
#
# ## 6. Quantize after training, or train quantized?
#
# Every network of the sweep was trained with its quantizers in the loop:
# **quantization-aware training** (QAT). The other option, and a practitioner's first
# try, is **post-training quantization** (PTQ): train in float, then round the trained
# weights to k bits and calibrate each activation's range on a few hundred training
# images (notebook 01, sections 9 and 10), with no further training. PTQ is what
# TFLite's converter does for 8 bits; here it is simulated at 2, 4 and 8 bits
# (`utils.quantizers`), with one weight scale per kernel or one per output channel, and
# with three ways of setting the ranges: min/max (the largest |weight| and the largest
# activation seen, TFLite's way), a clip at the 99.99th percentile, and the clip of least
# squared error (notebook 01, section 10), for weights and activations alike, on the
# float network of the sweep.
# The results are kept as a record (`results/ptq_<float run>.json`), which names the
# float network it quantized. Like the k-bit networks, the PTQ networks keep the image
# input and the classifier in float.
#
# ### Write it yourself: quantizing one layer's weights
#
# The weight half of PTQ is a few lines of numpy. `utils.quantizers` rounds every kernel the way
# TFLite's converter does: to a symmetric grid (zero point 0) on the narrow range
# $[-(2^{k-1}-1),\ 2^{k-1}-1]$ (the report's eqs. 3.3–3.4, with the clipping threshold
# $\alpha$ set to the largest $|w|$), with one scale per output channel $c$, the last axis of
# a Keras kernel:
#
# $$S_c = \frac{\max |w_c|}{2^{k-1}-1}, \qquad
# q = \operatorname{clip}\big(\operatorname{round}(w / S_c),\ -(2^{k-1}-1),\ 2^{k-1}-1\big),
# \qquad \hat w = S_c\, q$$
#
# Write `quantize_layer_weights(kernel, bits)`: it returns $\hat w$, the kernel the quantized
# network computes with (dequantized, in float). Round halves to even (`np.round` does), and
# give a channel of zeros the scale 1, so that it comes back as zeros rather than 0/0. Why
# it matters: this is everything PTQ does to the weights, and one scale per channel is what
# keeps a filter with small weights from rounding to zero next to one with large weights. The
# test compares your function with the course's (`utils.quantizers.symmetric_scales`, as
# `utils.quantizers` calls it) on random kernels and on the edges: a constant kernel, ties, a
# channel of zeros, channels without zero in their range, an odd bit count.

# %%
def quantize_layer_weights(kernel, bits):
    """Post-training quantization of one kernel, returned dequantized (eqs. 3.3-3.4).

    Args:
        kernel: a trained float kernel, output channels on the last axis (a convolution's
            (height, width, in, out) or a dense layer's (in, out)).
        bits: the bit width k, from 2 to 16.

    Returns:
        An array of the kernel's shape: S_c * q, with one scale
        S_c = max|w_c| / (2**(k-1) - 1) per output channel (1 for a channel of zeros) and
        integers q = round(w / S_c), halves to even, in [-(2**(k-1) - 1), 2**(k-1) - 1].
    """
    # Your code here: about five lines of numpy.
    raise NotWritten


# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
def quantize_layer_weights_solution(kernel, bits):
    kernel = np.asarray(kernel, np.float64)
    q_max = 2 ** (bits - 1) - 1  # narrow range: 127 at 8 bits
    max_abs = np.max(np.abs(kernel), axis=tuple(range(kernel.ndim - 1)))  # per out channel
    scale = np.where(max_abs > 0, max_abs / q_max, 1.0)
    codes = np.clip(np.round(kernel / scale), -q_max, q_max)  # np.round: halves to even
    return (scale * codes).astype(np.float32)


quantize_layer_weights = use_reference_until_written(
    quantize_layer_weights, quantize_layer_weights_solution,
    lambda f: f(np.ones((2, 2), np.float32), 8))

# %%
exercises.test_quantize_layer_weights(quantize_layer_weights)

# %% [markdown]
# Now the whole PTQ network, weights and activations, at each width of the sweep (per tensor
# and per channel), against the networks trained at that width:

# %%
ptq_run = binary_and_8bit_layers.ptq_record(records[-1], results_dir=folders.results,
                                            data_dir=data_dir,
                                            bits=[b for b in bits if 1 < b < 32])
ptq = pd.DataFrame(ptq_run["rows"])
print(f"PTQ record: {ptq_run['float_parent']['run']} quantized after training, calibrated on "
      f"{ptq_run['settings']['calibration_images']} training images "
      f"({ptq_run['environment']['cpu']}, {ptq_run['created'][:10]})")
display(ptq[ptq["bits"] < 32].pivot_table(
    index="bits", columns=["calibration", "weight scales"], values="test_accuracy").round(4))
fig = binary_and_8bit_layers.plot_ptq_against_qat(ptq, sweep, title=f"PTQ against QAT ({network} on "
                                                   f"{choice.name})")
save_fig(fig, "02_ptq_against_qat", folders.figures)

# %% [markdown]
# Your `quantize_layer_weights` on the trained float network: every kernel that PTQ
# quantizes (all but the classifier's) at each width. "Levels per channel" counts the
# distinct values in a channel (at most $2^k - 1$; the most any channel uses); the relative
# error is the root-mean-square difference from the float kernel over the kernel's own RMS;
# "at zero" is the share of weights that round to 0; the last column compares your kernels
# with those of the per-channel PTQ network that `utils.quantizers` built for the table above.

# %%
float_net = load_model(records[-1]["model_path"])
splits = load_dataset(choice.name, float_config.image_size, 64, data_dir=data_dir, seed=seed,
                      limit=float_config.limit)
calibration_images, _ = to_arrays(splits.train, binary_and_8bit_layers.PTQ_CALIBRATION_IMAGES)
test_images, test_labels = to_arrays(splits.test)
trained = dict(list(network_kernels(float_net).items())[:-1])  # the classifier stays float
rows = []
for b in [b for b in bits if 1 < b < 32]:
    course_kernels = network_kernels(quantize_after_training(float_net, b, calibration_images))
    for name, kernel in trained.items():
        yours = np.asarray(quantize_layer_weights(kernel, b), np.float32)
        levels = max(len(np.unique(yours[..., c])) for c in range(yours.shape[-1]))
        rows.append({"bits": b, "layer": name, "levels per channel": levels,
                     "relative RMS error": float(np.sqrt(np.mean((yours - kernel) ** 2)
                                                         / np.mean(kernel**2))),
                     "at zero": float(np.mean(yours == 0)),
                     "same as utils.quantizers": bool(np.allclose(yours, course_kernels[name],
                                                           atol=1e-6))})
pd.DataFrame(rows).round(4)

# %% [markdown]
# ## Exercises
#
# Each question below is checked by `check`: a wrong answer raises with a hint, a
# right one says so. Work it out in the empty cell; the worked solution follows, folded
# (click to open it).

# %%
exercise("02_levels")

# %%
# Your answer:
# answer = ...
# check("02_levels", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
grid = KBitQuantizer(3)(tf.constant(np.linspace(-2, 2, 1001), tf.float32))
answer = len(np.unique(grid.numpy()))
check("02_levels", answer)

# %%
exercise("02_binary_bytes")

# %%
# Your answer:
# answer = ...
# check("02_binary_bytes", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
weights = 1024 * 1024
answer = (weights // 8, weights * 4)
check("02_binary_bytes", answer)

# %%
exercise("02_ptq_or_qat")

# %%
# Your answer:
# answer = ...
# check("02_ptq_or_qat", answer)

# %% tags=["solution"] cellView="form" jupyter={"source_hidden": true}
#@title Solution (open to read it)
answer = "qat"  # section 6: at 2 bits PTQ falls to chance, training at 2 bits does not
check("02_ptq_or_qat", answer)

# %%
ptq_float = 100 * ptq.loc[ptq["bits"] == 32, "test_accuracy"].iloc[0]
for b, rows in ptq[ptq["bits"] < 32].groupby("bits"):
    ranges = rows["calibration"].map({"minmax": "min/max", "percentile": "percentile clip",
                                      "mse": "MSE clip"})
    after = ", ".join(f"{scales} {method} {100 * value:.1f}%" for scales, method, value in
                      zip(rows["weight scales"], ranges, rows["test_accuracy"], strict=True))
    print(f"{b} bits: quantized after training {after}; trained at {b} bits "
          f"{accuracy[b]:.1f}%")
print(f"float {ptq_float:.1f}%; chance {100 / records[0]['dataset']['num_classes']:.0f}%")

# %% [markdown]
# Read the curves at each width (the lines above print them). At 8 bits PTQ loses
# nothing a single test set can show: the rounding is far finer than what the network is
# sensitive to, which is why TFLite's int8 conversion of a float network is the default
# deployment path (notebook 06). At 2 bits the symmetric weight grid has only the levels
# −1, 0 and +1 times the scale. With min/max ranges the scale comes from the largest
# |weight|, so nearly every weight rounds to zero: the setting notebook 01 (section 6)
# shows failing at 2 bits. Clipping the range where the squared error is least (notebook
# 01, section 10) keeps more weights off zero. The cell below compares the two at the
# lowest width with the network trained at that width, from the record. A network trained
# at 2 bits learned weights and activations that suit its grid; PTQ can only round the
# float network's. Where PTQ gives way depends on the network, the data and the ranges
# (on larger networks and photos, plain 4-bit PTQ usually loses accuracy), so the rule is:
# at 8 bits quantize after training, check PTQ at lower widths with calibrated ranges,
# and train quantized where it falls off.

# %%
lowest = min(b for b in ptq["bits"] if b < 32)
at_lowest = ptq[ptq["bits"] == lowest].set_index(["calibration", "weight scales"])
chance = 100 / records[0]["dataset"]["num_classes"]
for method, label in (("minmax", "min/max ranges"), ("percentile", "99.99th-percentile clips"),
                      ("mse", "MSE-clipped ranges")):
    best = 100 * at_lowest.loc[method, "test_accuracy"].max()
    print(f"{lowest}-bit PTQ with {label}: at best {best:.1f}% "
          f"({best - chance:+.1f} points from chance, {best - ptq_float:+.1f} from float)")
print(f"trained at {lowest} bits: {accuracy[lowest]:.1f}%; float {ptq_float:.1f}%; "
      f"chance {chance:.0f}%")
#
# ## 7. The field's 8-bit QAT: tfmot and `int8_qat`
#
# In this course **QAT** means training with the quantization in the loop: the forward pass
# computes with quantized values and the straight-through estimator carries the gradients
# back to float weights. The course trains two kinds of it:
#
# * **the report's k-bit networks** (`binary`, `int2` to `int16`: the sweep of section 5),
#   larq layers whose `ste_sign` or `KBitQuantizer` (eq. 4.6) puts weights and activations
#   on fixed grids (±1, or k-bit steps in $[-1, 1)$ and $[0, 1)$), trained from scratch;
# * **`int8_qat`**, the field's 8-bit network: a float Keras model wrapped by
#   tensorflow-model-optimization (tfmot) in the fake quantization of TFLite's int8 scheme
#   (symmetric 8-bit weights, one scale per output channel in convolutions, as you wrote
#   in section 6, and one per tensor in dense layers; affine activations whose ranges
#   follow moving averages of each batch's minimum and maximum),
#   which converts to a full-integer `.tflite` file without calibration data (notebook 06).
#
# `int8_qat` is one of the four precisions at which notebooks 03 and 04 train AlexNet and
# GoogLeNet (and notebook 05 compares them), next to `binary`, `int8` (the report's kind)
# and `fp32`; there
# `build_model(name, "int8_qat", ...)` does what the three lines below do (`utils.qat`).
# Here they make the trained float CNN of section 6 quantization-aware and fine-tune it for
# one epoch at a small learning rate, the usual way to start QAT from a float network. Run
# the cell and read the three lines: this one is shown, not for you to write.

# %%
import tensorflow_model_optimization as tfmot

qat_model = tfmot.quantization.keras.quantize_model(float_net)  # 1. wrap every layer
qat_model.compile(optimizer=tf.keras.optimizers.Adam(1e-4), loss="categorical_crossentropy",
                  metrics=["accuracy"])  # 2. compile as for any Keras model
qat_model.fit(splits.train, epochs=1, verbose=0)  # 3. train with quantization in the loop

print("layers:", ", ".join(layer.name for layer in qat_model.layers))
float_accuracy = float(ptq.loc[ptq["bits"] == 32, "test_accuracy"].iloc[0])
qat_accuracy = qat_model.evaluate(test_images, test_labels, verbose=0)[1]
print(f"test accuracy: float {float_accuracy:.2%}, int8_qat after one epoch {qat_accuracy:.2%}")

# %% [markdown]
# `quantize_model` put a `QuantizeLayer` after the input (it quantizes the image) and wrapped
# every layer in a `QuantizeWrapperV2` (`quant_...`), which holds the layer's own weights and
# the fake quantizers of its kernel and output. The ranges of those quantizers are set by
# training batches: until the first one, tfmot's input range is [0, 0] (every image
# quantizes to zeros) and most others are [−6, 6], so a freshly wrapped model predicts
# nonsense. Evaluate it only after training (or after a calibration pass in training mode).
# The check below compares your model with the course's own wrapping of the same float
# network (`utils.qat.quantize_network`): the same layers wrapped, with the same 8-bit
# configurations, and the input quantized.

# %%
exercises.test_qat_model(qat_model, float_net)

# %% [markdown]
# ## Summary
#
# * larq layers quantize kernel and input (eq. 4.4); the course's precision map keeps
#   the first layer's input and the last layer float.
# * `lq.models.summary` counts k-bit weights and MACs via each quantizer's `precision`.
# * Latent float weights carry the learning; `weight_clip` holds them in [−1, 1], and the
#   quantized weights change only when a latent weight crosses a rounding boundary.
# * The §5.5 binary MLP and every network of the sweep were trained through the same
#   runner as AlexNet and GoogLeNet: each wrote one record to `results_dir` (named
#   `mlp_...` and `small_cnn_...`), naming its dataset, and is reused when run again.
# * Post-training quantization (PTQ) rounds a trained float network; its record
#   (`ptq_<float run>.json`) holds every width, scale choice and range rule. At 8 bits
#   it costs nothing measurable; at the lowest widths min/max ranges fail, a clipped
#   range recovers part, and training at the width (QAT) is what keeps the accuracy.
# * QAT means training with the quantization in the loop. The course has two kinds: the
#   report's k-bit networks (larq, fixed grids) and `int8_qat`, tfmot's 8-bit scheme, made
#   by `quantize_model`, trained in notebooks 03 and 04 and deployed in notebook 06.
#
# Next: the full networks, AlexNet (notebook 03) and GoogLeNet (notebook 04).
