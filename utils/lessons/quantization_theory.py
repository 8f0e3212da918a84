"""Notebook 01's own code: the theory tables and figures of quantization (report section 3).

Numbers behind the quantization theory of notebook 01 (report §3 and the STE of §4.2-§4.4).
-------------------------------------------------------------------------------------------

Everything here is computed with the project's real quantizers (:mod:`utils.quantizers`) and
larq's, never with a re-implementation, so what the notebook plots is what the networks use:

- :func:`quantizer_curves`: the staircases of eq. 3.1/3.4 (symmetric, threshold alpha), of
  eq. 4.6 (k-bit fixed point) and of the sign (eq. 4.2) over a range of inputs.
- :func:`quantization_error`: mean squared error and SQNR (dB) against the bit width for a
  weight distribution: about 6 dB more per extra bit, the classic rule for uniform data.
- :func:`clipping_tradeoff`: error of a k-bit quantizer against its clipping threshold alpha,
  split into the rounding error (inside [-alpha, alpha]) and the clipping error (outside).
- :func:`symmetric_vs_asymmetric`: the mean bias that the asymmetric range of eq. 3.2 adds
  when it quantizes a symmetric distribution, against none for the symmetric eq. 3.3/3.4.
- :func:`relative_throughput_table`: the report's Fig. 3.1 (after Wu 2019).
- :func:`ste_samples`: forward values and gradients (through ``tf.GradientTape``) of the
  straight-through estimators of eqs. 4.3, 4.5 and 4.7.

"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import larq as lq
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib.figure import Figure

from utils.figures import FLOAT_COLOR, QUANT_COLOR, finish_axes, new_figure
from utils.names import MAX_BITS, MIN_BITS
from utils.quantizers import (
    KBitQuantizer,
    SymmetricQuantizer,
    asymmetric_levels,
    quantize_to_integers,
    symmetric_levels,
)

__all__ = ["DISTRIBUTIONS", "FIG_3_1_SOURCE", "clipping_tradeoff", "hardtanh", "plot_affine_grid",
           "plot_calibration", "plot_clipping", "plot_clipping_tradeoff",
           "plot_quantization_error", "plot_quantizer_staircase", "plot_ste",
           "plot_symmetric_vs_asymmetric", "plot_throughput_table", "plot_weight_histograms",
           "plot_weight_scales", "quantization_error", "quantize_symmetric", "quantizer_curves",
           "relative_throughput_table", "sample_weights", "sign_with_mean_scale", "sqnr_db",
           "ste_samples", "symmetric_vs_asymmetric"]

DISTRIBUTIONS = ("gaussian", "laplace", "uniform")
FIG_3_1_SOURCE = "Wu 2019, via the report's Fig. 3.1"


def sample_weights(
    n: int = 100_000, distribution: str = "gaussian", scale: float = 0.05, seed: int = 0
) -> np.ndarray:
    """``n`` float32 values that look like a trained layer's weights (report Fig. 3.2).

    Trained weights are concentrated around zero with a few larger ones, so "gaussian" and the
    heavier-tailed "laplace" are the realistic choices; "uniform" on [-scale, scale] is the
    textbook case for the 6 dB-per-bit rule. ``scale`` is the standard deviation for gaussian,
    the diversity b for laplace (standard deviation b·√2) and the half-width for uniform.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"unknown distribution {distribution!r}; accepted: {', '.join(DISTRIBUTIONS)}"
        )
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    rng = np.random.default_rng(seed)
    if distribution == "gaussian":
        values = rng.normal(0.0, scale, n)
    elif distribution == "laplace":
        values = rng.laplace(0.0, scale, n)
    else:
        values = rng.uniform(-scale, scale, n)
    return values.astype(np.float32)


def quantize_symmetric(values, k: int, alpha: float) -> np.ndarray:
    """``values`` through :class:`utils.quantizers.SymmetricQuantizer` (eqs. 3.1, 3.4)."""
    return SymmetricQuantizer(k, alpha)(tf.constant(values, tf.float32)).numpy()


def sign_with_mean_scale(values) -> np.ndarray:
    """1-bit quantization: larq's ``ste_sign`` (eq. 4.2) times mean(|values|).

    mean(|x|) is the scale that minimizes the squared error of alpha·sign(x) (the XNOR-Net
    gain); without a scale, ±1 would be far from weights of size 0.05 and the comparison with
    the k-bit quantizers, whose threshold follows the data, would be unfair.
    """
    values = tf.constant(values, tf.float32)
    return (lq.quantizers.ste_sign(values) * tf.reduce_mean(tf.abs(values))).numpy()


def sqnr_db(values, quantized) -> float:
    """Signal-to-quantization-noise ratio 10·log10(E[x²] / E[(x - q)²]) in dB (inf if exact)."""
    values = np.asarray(values, np.float64)
    noise = np.mean((values - np.asarray(quantized, np.float64)) ** 2)
    if noise == 0:
        return float("inf")
    return float(10.0 * np.log10(np.mean(values**2) / noise))


def _alpha_for(values: np.ndarray, clip: str | float) -> float:
    """Clipping threshold: "max" = max |x| (nothing clipped), "Nstd" = N standard deviations."""
    if isinstance(clip, (int, float)) and not isinstance(clip, bool):
        if clip <= 0:
            raise ValueError(f"clipping threshold must be positive, got {clip!r}")
        return float(clip)
    if clip == "max":
        return float(np.max(np.abs(values)))
    if isinstance(clip, str) and clip.endswith("std"):
        try:
            factor = float(clip[:-3])
        except ValueError:
            factor = 0.0
        if factor > 0:
            return factor * float(np.std(values))
    raise ValueError(
        f"clip must be a positive number, 'max' or '<N>std' (e.g. '3std'), got {clip!r}"
    )


def quantization_error(
    values=None,
    bits: Iterable[int] = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16),
    clip: str | float = "max",
    distributions: Sequence[str] = (),
    n: int = 100_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Quantization error against bit width (the "error vs bits" plot of notebook 01).

    Either pass ``values`` (one array, labelled "data") or name ``distributions`` to sample
    (see :func:`sample_weights`). ``k >= 2`` uses the symmetric quantizer of eqs. 3.1/3.4 with
    threshold ``clip`` ("max": the largest |value|, so nothing is clipped; "3std": three
    standard deviations; or a number); ``k = 1`` uses sign times mean(|x|).

    Returns a DataFrame with one row per (distribution, bits): ``mse``, ``sqnr_db``, ``alpha``
    and ``levels`` (number of distinct values the quantizer can output).
    """
    if values is None and not distributions:
        distributions = ("gaussian",)
    data = {name: sample_weights(n, name, seed=seed) for name in distributions}
    if values is not None:
        data["data"] = np.asarray(values, np.float32).ravel()
    rows = []
    for name, sample in data.items():
        alpha = _alpha_for(sample, clip)
        for k in bits:
            if k == 1:
                quantized, levels = sign_with_mean_scale(sample), 2
            else:
                quantized, levels = quantize_symmetric(sample, k, alpha), 2**k - 1
            rows.append(
                {
                    "distribution": name,
                    "bits": int(k),
                    "alpha": alpha,
                    "levels": levels,
                    "mse": float(np.mean((sample.astype(np.float64) - quantized) ** 2)),
                    "sqnr_db": sqnr_db(sample, quantized),
                }
            )
    return pd.DataFrame(rows)


def clipping_tradeoff(
    values, k: int = 4, alphas: Iterable[float] | None = None, num: int = 40
) -> pd.DataFrame:
    """Error of the k-bit symmetric quantizer against its clipping threshold alpha (eq. 3.1).

    A small alpha gives a fine grid (small rounding error) but clips many values; a large
    alpha clips nothing but spreads the 2^k - 1 levels thin. Returns one row per alpha:
    ``alpha``, ``alpha_over_std``, ``clipped_fraction``, ``mse`` (total) and its two parts,
    ``clipping_mse`` (from values outside [-alpha, alpha]) and ``rounding_mse`` (inside).
    Default alphas: ``num`` values from 0.5 to 5 standard deviations (capped at max |x|).
    """
    values = np.asarray(values, np.float32).ravel()
    std = float(np.std(values))
    if alphas is None:
        top = min(5.0 * std, float(np.max(np.abs(values))))
        alphas = np.linspace(0.5 * std, top, num)
    rows = []
    for alpha in alphas:
        quantized = quantize_symmetric(values, k, float(alpha))
        squared = (values.astype(np.float64) - quantized) ** 2
        outside = np.abs(values) > alpha
        rows.append(
            {
                "alpha": float(alpha),
                "alpha_over_std": float(alpha) / std,
                "clipped_fraction": float(np.mean(outside)),
                "mse": float(np.mean(squared)),
                "clipping_mse": float(np.sum(squared[outside]) / len(values)),
                "rounding_mse": float(np.sum(squared[~outside]) / len(values)),
            }
        )
    return pd.DataFrame(rows)


def quantizer_curves(
    bits: Iterable[int] = (1, 2, 3, 4),
    kind: str = "kbit",
    alpha: float = 1.0,
    x_range: tuple[float, float] = (-1.5, 1.5),
    num: int = 1201,
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Staircases ``{k: (x, q(x))}`` of the quantizers, for plotting.

    ``kind``: "kbit" (eq. 4.6, :class:`~utils.quantizers.KBitQuantizer`), "symmetric"
    (eqs. 3.1/3.4 with threshold ``alpha``, :class:`~utils.quantizers.SymmetricQuantizer`) or
    "asymmetric" (eq. 3.2: codes of :func:`~utils.quantizers.quantize_to_integers` divided by
    s = 2^(k-1)/alpha). ``k = 1`` is always larq's sign (eq. 4.2), which has no threshold.
    """
    if kind not in ("kbit", "symmetric", "asymmetric"):
        raise ValueError(f"unknown kind {kind!r}; accepted: kbit, symmetric, asymmetric")
    x = np.linspace(*x_range, num).astype(np.float32)
    curves = {}
    for k in bits:
        if k == 1:
            q = lq.quantizers.ste_sign(tf.constant(x)).numpy()
        elif kind == "kbit":
            q = KBitQuantizer(k)(tf.constant(x)).numpy()
        elif kind == "symmetric":
            q = quantize_symmetric(x, k, alpha)
        else:
            codes = quantize_to_integers(x, k, alpha, symmetric=False)
            q = (codes / (2 ** (k - 1) / alpha)).astype(np.float32)
        curves[int(k)] = (x, q)
    return curves


def symmetric_vs_asymmetric(
    values=None,
    bits: Iterable[int] = (2, 3, 4, 6, 8),
    alpha: float | None = None,
    n: int = 200_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Bias and error of the asymmetric (eq. 3.2) and symmetric (eqs. 3.3/3.4) ranges.

    Quantizes a symmetric distribution with both integer ranges: by default uniform values
    on [-1, 1] with ``alpha`` = 1; for given ``values`` the default ``alpha`` is max |values|.
    The asymmetric code has one more negative level than positive ones and uses
    s = 2^(k-1)/alpha, so values near +alpha round to 2^(k-1), one past the top code,
    and are pulled down to 2^(k-1) - 1: the mean error is negative (a bias) and shrinks as
    the grid gets finer. The symmetric code mirrors around zero, so its mean error is zero
    up to sampling noise.

    Returns one row per (bits, scheme): ``low``/``high`` integer codes, ``scale`` s,
    ``mean_error`` E[q - x] (the bias), ``mean_error_in_steps`` (the bias in units of the
    step 1/s), ``mse``, and ``top_value`` (the largest value the scheme can output).
    """
    if values is None:
        values = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
        alpha = 1.0 if alpha is None else alpha
    values = np.asarray(values, np.float64).ravel()
    if alpha is None:
        alpha = float(np.max(np.abs(values)))
    rows = []
    for k in bits:
        for scheme, symmetric in (("asymmetric", False), ("symmetric", True)):
            low, high = symmetric_levels(k) if symmetric else asymmetric_levels(k)
            scale = (high if symmetric else -low) / alpha
            dequantized = quantize_to_integers(values, k, alpha, symmetric=symmetric) / scale
            error = dequantized - values
            rows.append(
                {
                    "bits": int(k),
                    "scheme": scheme,
                    "low": low,
                    "high": high,
                    "scale": scale,
                    "top_value": high / scale,
                    "mean_error": float(np.mean(error)),
                    "mean_error_in_steps": float(np.mean(error) * scale),
                    "mse": float(np.mean(error**2)),
                }
            )
    return pd.DataFrame(rows)


def relative_throughput_table() -> pd.DataFrame:
    """The report's Fig. 3.1: math throughput and bandwidth savings relative to FP32.

    Figures for NVIDIA Turing tensor cores as given by Wu (2019) and reproduced in the report.
    The bandwidth saving is simply 32 / bits (a k-bit number moves 32/k times fewer bytes);
    the throughput gain is larger because narrower multipliers are also smaller and faster.
    """
    rows = [
        ("FP16", "FP16", 16, 8.0, 2.0),
        ("INT8", "INT32", 8, 16.0, 4.0),
        ("INT4", "INT32", 4, 32.0, 8.0),
        ("INT1", "INT32", 1, 128.0, 32.0),
    ]
    table = pd.DataFrame(
        rows,
        columns=[
            "input_type",
            "accumulation_type",
            "bits",
            "relative_math_throughput",
            "bandwidth_savings",
        ],
    )
    table["source"] = FIG_3_1_SOURCE
    return table


def hardtanh(x: tf.Tensor) -> tf.Tensor:
    """hardtanh(x) = 2·hard_sigmoid(x) - 1 = clip(x, -1, 1) (eq. 4.5).

    With the hard sigmoid of Courbariaux et al., clip((x + 1)/2, 0, 1). Keras' own
    ``hard_sigmoid`` has slope 0.2 instead of 0.5, which would give clip(0.4·x, -1, 1).
    """
    return tf.clip_by_value(x, -1.0, 1.0)


def _ste_functions(kbits: Sequence[int]) -> dict[str, object]:
    functions = {
        "sign (ste_sign, eqs. 4.2/4.3)": lq.quantizers.ste_sign,
        "hardtanh (eq. 4.5)": hardtanh,
    }
    for k in kbits:
        functions[f"{k}-bit (KBitQuantizer, eqs. 4.6/4.7)"] = KBitQuantizer(k)
    return functions


def ste_samples(
    x_range: tuple[float, float] = (-2.0, 2.0), num: int = 801, kbits: Sequence[int] = (2, 4)
) -> pd.DataFrame:
    """Forward values and gradients of the quantizers, through ``tf.GradientTape``.

    Rows (long format): ``quantizer``, ``x``, ``forward`` (q(x)) and ``gradient`` (dq/dx as
    the STE defines it). The sign's true derivative is zero almost everywhere; its STE
    (eq. 4.3) passes the gradient where |x| <= 1. hardtanh (eq. 4.5) is the function whose
    derivative that STE borrows. The k-bit quantizer (eq. 4.6) uses the same rule (eq. 4.7).
    """
    for k in kbits:
        if not MIN_BITS <= k <= MAX_BITS:
            raise ValueError(f"kbits must be from {MIN_BITS} to {MAX_BITS}, got {k!r}")
    x = tf.constant(np.linspace(*x_range, num), tf.float32)
    frames = []
    for name, function in _ste_functions(kbits).items():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
        gradient = tape.gradient(y, x)
        frames.append(
            pd.DataFrame(
                {
                    "quantizer": name,
                    "x": x.numpy(),
                    "forward": y.numpy(),
                    "gradient": gradient.numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def plot_quantizer_staircase(curves: Mapping[int, tuple[np.ndarray, np.ndarray]],
                             title: str = "Quantizers for several bit widths",
                             identity: bool = True) -> Figure:
    """One staircase line per bit width: ``curves`` is ``{k: (x, q(x))}``.

    (As :func:`quantizer_curves` returns.) The dashed identity shows the float
    value each level approximates.
    """
    fig, (ax,) = new_figure(size=(5.5, 4.2))
    for k, (x, q) in sorted(curves.items()):
        levels = len(np.unique(q))
        label = "1 bit (sign)" if k == 1 else f"{k} bits ({levels} levels shown)"
        ax.step(x, q, where="mid", label=label, linewidth=1.5)
    if identity and curves:
        x = next(iter(curves.values()))[0]
        ax.plot(x, x, "k--", linewidth=0.8, label="identity")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.axvline(0, color="grey", linewidth=0.5)
    return finish_axes(ax, xlabel="input x", ylabel="quantized q(x)", title=title, legend=True)


def plot_clipping(values: np.ndarray, quantized: np.ndarray, alpha: float, k: int,
                  title: str | None = None) -> Figure:
    """Clipping in eq. 3.1: where the threshold alpha falls on a weight distribution.

    Left: histogram of ``values`` with the clipped tails (|x| > alpha) shaded. Right: the
    quantizer's transfer curve on those values (``quantized`` = q(values)), flat beyond
    ±alpha, with its levels marked.
    """
    values = np.asarray(values, dtype=float).ravel()
    quantized = np.asarray(quantized, dtype=float).ravel()
    fig, axes = new_figure(2, size=(5.0, 3.8))
    clipped = np.mean(np.abs(values) > alpha)
    ax = axes[0]
    ax.hist(values, bins=120, color=FLOAT_COLOR, alpha=0.8)
    limit = np.max(np.abs(values))
    for side in (-1, 1):
        ax.axvline(side * alpha, color="tab:red", linestyle="--")
        ax.axvspan(side * alpha, side * limit, color="tab:red", alpha=0.12)
    finish_axes(ax, xlabel="weight value", ylabel="count",
                title=f"alpha = {alpha:.3g}: {clipped:.2%} of values clipped", title_size=9,
                layout=False)
    ax = axes[1]
    order = np.argsort(values)
    ax.plot(values[order], quantized[order], color=QUANT_COLOR, label=f"{k}-bit q(x)")
    ax.plot(values[order], values[order], "k--", linewidth=0.8, label="identity")
    for level in np.unique(quantized):
        ax.axhline(level, color="grey", linewidth=0.3)
    for side in (-1, 1):
        ax.axvline(side * alpha, color="tab:red", linestyle="--")
    finish_axes(ax, xlabel="weight value x", ylabel="q(x)",
                title=f"{len(np.unique(quantized))} levels used", title_size=9, legend=True,
                layout=False)
    fig.suptitle(title or f"Clipping before {k}-bit quantization (eq. 3.1)")
    fig.tight_layout()
    return fig


def plot_clipping_tradeoff(table: pd.DataFrame, k: int | None = None,
                           title: str | None = None) -> Figure:
    """Quantization error against the clipping threshold (a table from
    :func:`clipping_tradeoff`): total, rounding and clipping parts, best alpha."""
    fig, (ax,) = new_figure(size=(6.0, 4.0))
    x = table["alpha_over_std"]
    ax.plot(x, table["mse"], color="black", label="total")
    ax.plot(x, table["rounding_mse"], "--", color=FLOAT_COLOR, label="rounding (inside ±alpha)")
    ax.plot(x, table["clipping_mse"], "--", color="tab:red", label="clipping (outside ±alpha)")
    best = table.loc[table["mse"].idxmin()]
    ax.axvline(best["alpha_over_std"], color="grey", linestyle=":")
    ax.annotate(f"best alpha = {best['alpha_over_std']:.2f} std",
                (best["alpha_over_std"], best["mse"]), textcoords="offset points",
                xytext=(8, 20), fontsize=8)
    return finish_axes(ax, xlabel="clipping threshold alpha / standard deviation",
                       ylabel="mean squared error", ylog=True, legend=True,
                       title=title or f"Clipping trade-off{f' at {k} bits' if k else ''}")


def plot_symmetric_vs_asymmetric(curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
                                 bias: pd.DataFrame, k: int,
                                 title: str = "Symmetric vs asymmetric ranges") -> Figure:
    """Left: the two k-bit transfer curves (``{scheme: (x, q)}``). Right: the mean error
    (bias) of each scheme against the bit width, in quantization steps (a table from
    :func:`symmetric_vs_asymmetric`)."""
    fig, axes = new_figure(2, size=(5.0, 3.8))
    # one colour per scheme in both panels, whatever order each lists them in; a curve's
    # label may add to the scheme's name ("asymmetric (eq. 3.2)")
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colors = dict(zip(dict.fromkeys(bias["scheme"]), palette, strict=False))
    ax = axes[0]
    for scheme, (x, q) in curves.items():
        ax.step(x, q, where="mid", label=scheme, color=colors.get(scheme.split(" (")[0]))
    x = next(iter(curves.values()))[0]
    ax.plot(x, x, "k--", linewidth=0.8, label="identity")
    finish_axes(ax, xlabel="input x", ylabel="q(x)", title=f"{k}-bit codes (eqs. 3.2, 3.4)",
                title_size=9, legend=True, layout=False)
    ax = axes[1]
    for scheme, group in bias.groupby("scheme"):
        ax.plot(group["bits"], group["mean_error_in_steps"], "o-", label=scheme,
                color=colors[scheme])
    ax.axhline(0, color="grey", linewidth=0.5)
    finish_axes(ax, xlabel="bits k", ylabel="mean error E[q(x) - x] (steps)",
                title="bias on a symmetric distribution", title_size=9, legend=True,
                layout=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_weight_histograms(float_weights: np.ndarray, quantized_weights: np.ndarray,
                           bits: int = 4, title: str | None = None) -> Figure:
    """Float weights next to their k-bit counterparts (the report's Fig. 3.2), two axes."""
    float_weights = np.asarray(float_weights, dtype=float).ravel()
    quantized_weights = np.asarray(quantized_weights, dtype=float).ravel()
    fig, axes = new_figure(2, size=(4.8, 3.6), sharex=True)
    axes[0].hist(float_weights, bins=100, color=FLOAT_COLOR)
    levels, counts = np.unique(quantized_weights, return_counts=True)
    step = np.min(np.diff(levels)) if len(levels) > 1 else 1.0
    axes[1].bar(levels, counts, width=0.8 * step, color=QUANT_COLOR)
    for ax, panel in zip(axes, ("32-bit float weights",
                                f"{bits}-bit weights: {len(levels)} distinct values"), strict=True):
        finish_axes(ax, xlabel="weight value", ylabel="count", title=panel, title_size=10,
                    layout=False)
    fig.suptitle(title or f"Float vs {bits}-bit weights")
    fig.tight_layout()
    return fig


def plot_quantization_error(table: pd.DataFrame,
                            title: str = "Quantization error vs bit width") -> Figure:
    """SQNR (dB, left) and mean squared error (log scale, right) against the bit width, one
    line per distribution (a table from :func:`quantization_error`), with the
    6.02 dB-per-bit rule of thumb as a dotted reference."""
    fig, axes = new_figure(2, size=(5.0, 3.8))
    for name, group in table.groupby("distribution", sort=False):
        axes[0].plot(group["bits"], group["sqnr_db"], "o-", label=name)
        axes[1].plot(group["bits"], group["mse"], "o-", label=name)
    bits = np.array(sorted(table["bits"].unique()))
    axes[0].plot(bits, 6.02 * bits, "k:", label="6.02 dB × bits")
    finish_axes(axes[0], xlabel="bits k", ylabel="SQNR (dB)", legend=True, layout=False)
    finish_axes(axes[1], xlabel="bits k", ylabel="mean squared error", ylog=True, legend=True,
                layout=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_ste(samples: pd.DataFrame, title: str = "Straight-through estimators") -> Figure:
    """Forward values (top) and STE gradients (bottom) per quantizer, one column each (a
    long table from :func:`ste_samples`)."""
    names = list(dict.fromkeys(samples["quantizer"]))
    fig, axes = plt.subplots(2, len(names), figsize=(3.4 * len(names), 5.4), sharex=True,
                             squeeze=False)
    for column, name in enumerate(names):
        group = samples[samples["quantizer"] == name]
        top, bottom = axes[0, column], axes[1, column]
        top.plot(group["x"], group["forward"], color=QUANT_COLOR)
        top.set_title(name, fontsize=9)
        bottom.plot(group["x"], group["gradient"], color=FLOAT_COLOR)
        bottom.set_ylim(-0.1, 1.2)
        bottom.set_xlabel("x")
        for ax in (top, bottom):
            ax.axvspan(-1, 1, color="grey", alpha=0.08)
            ax.axhline(0, color="grey", linewidth=0.5)
    axes[0, 0].set_ylabel("forward q(x)")
    axes[1, 0].set_ylabel("backward dq/dx (STE)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_throughput_table(table: pd.DataFrame,
                          title: str = "Speed-up relative to FP32 (report Fig. 3.1)") -> Figure:
    """Bars of relative math throughput and bandwidth savings per number type (log scale),
    from :func:`relative_throughput_table`."""
    fig, (ax,) = new_figure(size=(6.0, 3.8))
    data = table.set_index("input_type")[["relative_math_throughput", "bandwidth_savings"]]
    data.plot.bar(ax=ax, rot=0, logy=True)
    for container in ax.containers:
        ax.bar_label(container, fmt="%gx", fontsize=8)
    return finish_axes(ax, xlabel="input type", ylabel="factor relative to FP32", title=title)


def plot_affine_grid(grids: Mapping[str, tuple[np.ndarray, np.ndarray]],
                     title: str = "Real values and the integer codes they map to") -> Figure:
    """Staircases of affine quantizers: ``grids`` maps a label to (real inputs, dequantized
    outputs); zero is marked, since an affine grid must represent it exactly."""
    fig, (ax,) = new_figure(size=(6.0, 4.0))
    for label, (values, quantized) in grids.items():
        ax.plot(values, quantized, label=label, linewidth=1.2)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.axvline(0, color="grey", linewidth=0.5)
    return finish_axes(ax, xlabel="real value r", ylabel="S (q − Z), the value stored",
                       title=title, grid=True, legend=True)


def plot_weight_scales(table: pd.DataFrame, bits: int = 8,
                       title: str | None = None) -> Figure:
    """SQNR of every layer's kernel with per-tensor and per-channel scales at ``bits`` bits
    (a table from :func:`utils.quantizers.weight_error_table`, index (layer, bits))."""
    rows = table.xs(bits, level="bits")
    fig, (ax,) = new_figure(size=(max(6.0, 0.55 * len(rows)), 4.0))
    positions = np.arange(len(rows))
    ax.bar(positions - 0.2, rows["SQNR per tensor (dB)"], 0.4, label="one scale per kernel",
           color="tab:gray")
    ax.bar(positions + 0.2, rows["SQNR per channel (dB)"], 0.4,
           label="one scale per output channel", color=QUANT_COLOR)
    ax.set_xticks(positions, rows.index, rotation=60, ha="right", fontsize=7)
    return finish_axes(ax, ylabel=f"SQNR at {bits} bits (dB)", grid="y", legend=True,
                       title=title or f"Per-tensor against per-channel weight scales, {bits} bits")


def plot_calibration(activations: Mapping[str, np.ndarray], table: pd.DataFrame,
                     title: str = "Calibrating activation ranges") -> Figure:
    """Histogram of each layer's activations (log counts) with the upper end of the range
    that each calibration method chose (a table from :func:`utils.quantizers.calibration_table`)."""
    names = list(activations)
    fig, axes = new_figure(len(names), size=(4.2, 3.4))
    styles = {"minmax": ("black", "-"), "percentile": ("tab:blue", "--"),
              "mse": ("tab:red", ":")}
    for ax, name in zip(axes, names, strict=True):
        values = np.asarray(activations[name]).ravel()
        ax.hist(values, bins=80, color="lightgrey", log=True)
        for method, (color, style) in styles.items():
            high = table.loc[(name, method), "r_max"]
            sqnr = table.loc[(name, method), "SQNR (dB)"]
            ax.axvline(high, color=color, linestyle=style,
                       label=f"{method}: {high:.2f} ({sqnr:.1f} dB)")
        finish_axes(ax, xlabel="activation value", ylabel="count (log)" if ax is axes[0] else None,
                    title=name, title_size=9, legend={"fontsize": 7}, layout=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
