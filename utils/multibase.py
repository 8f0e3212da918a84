"""Multi-base binarization (ABC-Net, Lin, Zhao and Pan, NIPS 2017): several binary tensors per
weight and per activation, combined with real coefficients.

**Weights.** A kernel W is approximated by M binary bases,

    W ≈ Σᵢ αᵢ Bᵢ,   Bᵢ = sign(W − mean(W) + uᵢ · std(W)),   uᵢ = −1 + 2(i − 1)/(M − 1)

(u = 0 for M = 1), so that the bases cut W at M thresholds spread over ± one standard
deviation, and the coefficients α are the least-squares fit of W by the bases, recomputed at
every forward pass (``tf.linalg.lstsq``). Gradients pass straight through to W.

**Activations.** An input R is approximated by N binary bases with learned shifts vⱼ and
learned coefficients βⱼ,

    A ≈ Σⱼ βⱼ Hⱼ(R),   Hⱼ(R) = sign(clip(R + vⱼ, 0, 1) − 0.5),

with the gradient of clip(R + vⱼ, 0, 1) standing in for that of the sign (a straight-through
estimator on [−vⱼ, 1 − vⱼ]).

A layer with M weight bases and N activation bases computes M·N binary convolutions, each
an XNOR-popcount over bits, and a weighted sum of their outputs: M bits per stored weight
and M·N binary operations per multiply-accumulate. Both quantizers work in any larq layer
and carry ``precision`` (M for the weights, N for the activations) so that larq's summary
counts M bits per weight. LCE has no multi-base kernel, so such a layer deploys as float
arithmetic (see notebook 08).
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

__all__ = ["MultiBaseActivation", "MultiBaseWeights", "weight_shifts"]


def weight_shifts(bases: int) -> list[float]:
    """The shifts uᵢ of ABC-Net's weight bases: evenly spaced over [−1, 1] (0 for one base)."""
    if bases == 1:
        return [0.0]
    return [-1.0 + 2.0 * i / (bases - 1) for i in range(bases)]


def _sign(x: tf.Tensor) -> tf.Tensor:
    """sign with sign(0) = +1, as larq's binary quantizers."""
    return tf.where(x >= 0, 1.0, -1.0)


@tf.keras.utils.register_keras_serializable(package="utils")
class MultiBaseWeights(lq.quantizers.Quantizer):
    """A kernel as M least-squares-weighted binary bases (see the module docstring).

    Args:
        bases: M, the number of binary bases (1 to 5).
    """

    def __init__(self, bases: int = 3, **kwargs):
        if not isinstance(bases, int) or not 1 <= bases <= 5:
            raise ValueError(f"bases must be an integer from 1 to 5, got {bases!r}")
        self.bases = bases
        self.precision = bases
        super().__init__(**kwargs)

    def binary_bases(self, kernel: tf.Tensor) -> tf.Tensor:
        """The M binary tensors Bᵢ, stacked on a new last axis."""
        centred = kernel - tf.reduce_mean(kernel)
        spread = tf.math.reduce_std(kernel)
        return tf.stack([_sign(centred + shift * spread) for shift in weight_shifts(self.bases)],
                        axis=-1)

    def coefficients(self, kernel: tf.Tensor) -> tf.Tensor:
        """The least-squares αᵢ of ``kernel`` by its bases (a vector of M).

        Solved through the M x M normal equations (BᵀB) α = Bᵀw, whose pseudo-inverse also
        copes with bases that coincide; a dense kernel has millions of rows, which a direct
        least-squares solve would factor at every forward pass.
        """
        bases = tf.reshape(self.binary_bases(kernel), (-1, self.bases))
        target = tf.reshape(kernel, (-1, 1))
        gram = tf.matmul(bases, bases, transpose_a=True)
        return tf.reshape(tf.linalg.pinv(gram) @ tf.matmul(bases, target, transpose_a=True),
                          (self.bases,))

    def call(self, inputs):
        kernel = tf.stop_gradient(inputs)
        approximation = tf.reduce_sum(self.binary_bases(kernel) * self.coefficients(kernel),
                                      axis=-1)
        return inputs + tf.stop_gradient(approximation - inputs)

    def get_config(self):
        return {**super().get_config(), "bases": self.bases}


@tf.keras.utils.register_keras_serializable(package="utils")
class MultiBaseActivation(lq.quantizers.Quantizer):
    """Activations as N binary bases with learned shifts and coefficients (module docstring).

    Base j switches at x = 0.5 − vⱼ. The shifts start at 0.5 + 0.5·uⱼ (uⱼ as for the
    weights: 0.5 for one base), so that the switching points spread over [−0.5, 0.5] around
    zero, where batch-normalized inputs are, and the coefficients start at 1/N, so that the
    sum starts in [−1, 1]: one base starts as the sign itself.

    Args:
        bases: N, the number of binary bases (1 to 3).
    """

    def __init__(self, bases: int = 1, **kwargs):
        if not isinstance(bases, int) or not 1 <= bases <= 3:
            raise ValueError(f"bases must be an integer from 1 to 3, got {bases!r}")
        self.bases = bases
        self.precision = bases
        super().__init__(**kwargs)

    def build(self, input_shape):
        initial = [0.5 + 0.5 * shift for shift in weight_shifts(self.bases)]
        self.shifts = self.add_weight(name="shifts", shape=(self.bases,), trainable=True,
                                      initializer=tf.keras.initializers.Constant(initial))
        self.scales = self.add_weight(
            name="scales", shape=(self.bases,), trainable=True,
            initializer=tf.keras.initializers.Constant(1.0 / self.bases))
        super().build(input_shape)

    def call(self, inputs):
        total = 0.0
        for index in range(self.bases):
            soft = tf.clip_by_value(inputs + self.shifts[index], 0.0, 1.0)
            binary = soft + tf.stop_gradient(_sign(soft - 0.5) - soft)  # straight through
            total += self.scales[index] * binary
        return total

    def get_config(self):
        return {**super().get_config(), "bases": self.bases}
