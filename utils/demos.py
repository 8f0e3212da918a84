"""Small demonstrations for notebooks 01-02 that train nothing worth recording.

- :func:`precision_table`: how each layer role is quantized at each precision, read from
  :mod:`utils.precision`, the map every network is built with;
- :func:`live_layer_demo`: a larq ``QuantDense`` trained for a few steps on a synthetic
  problem, to watch its latent weights, their clipping to [-1, 1] and the quantized kernel
  the forward pass uses. Its kernel is set up by the same rule as every network's
  (:meth:`utils.blocks.LayerFactory.quantized_arguments`).

Networks worth recording, the small ones of notebook 02 included, are trained through
:func:`utils.train.run_experiment`.
"""

from __future__ import annotations

from dataclasses import dataclass

import larq as lq
import numpy as np
import pandas as pd
import tensorflow as tf

from utils.blocks import LayerFactory
from utils.precision import get_precision

__all__ = ["LiveLayerDemo", "live_layer_demo", "precision_table"]


def precision_table(names=("fp32", "int8", "int4", "binary")) -> pd.DataFrame:
    """How each layer role is quantized at each precision (from :mod:`utils.precision`).

    One row per (precision, role) with the class names of the input quantizer, kernel
    quantizer and kernel constraint ("-" when none: a float input or kernel).
    """

    def describe(factory) -> str:
        if factory is None:
            return "-"
        made = factory()
        k = getattr(made, "k", None)
        return type(made).__name__ + (f"({k})" if k is not None else "")

    rows = []
    for name in names:
        spec = get_precision(name)
        for role in ("first", "hidden", "last"):
            settings = getattr(spec, role)
            rows.append({
                "precision": name,
                "role": role,
                "input_quantizer": describe(settings.input_quantizer),
                "kernel_quantizer": describe(settings.kernel_quantizer),
                "kernel_constraint": describe(settings.kernel_constraint),
            })
    return pd.DataFrame(rows).set_index(["precision", "role"])


@dataclass
class LiveLayerDemo:
    """What :func:`live_layer_demo` observed on one larq ``QuantDense`` layer.

    ``latent_initial`` / ``latent_final``: the float (latent) kernel before and after
    training; ``quantized_final``: the kernel as the forward pass sees it (read inside
    ``lq.context.quantized_scope(True)``); ``steps``: per training step the ``loss``, the
    ``clipped_fraction`` of latent weights at ±1, ``flips`` (quantized weights that
    changed in that step) and ``mean_abs_latent``.
    """

    precision: str
    latent_initial: np.ndarray
    latent_final: np.ndarray
    quantized_final: np.ndarray
    steps: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """A few numbers on the latent and quantized kernels, for display."""
        unique = np.unique(self.quantized_final)
        return pd.DataFrame({
            "value": [
                self.latent_final.size,
                float(np.min(self.latent_final)),
                float(np.max(self.latent_final)),
                float(np.mean(np.abs(self.latent_final) >= 1.0)),
                len(unique),
                ", ".join(f"{v:g}" for v in unique[:8]) + (" ..." if len(unique) > 8 else ""),
                int(self.steps["flips"].sum()),
            ]
        }, index=[
            "weights", "min latent", "max latent", "fraction of latent weights at ±1",
            "distinct quantized values", "quantized values", "changes of quantized weights",
        ])


def _quantized_kernel(layer) -> np.ndarray:
    with lq.context.quantized_scope(True):
        return np.array(layer.get_weights()[0])


def live_layer_demo(
    precision: str = "binary",
    *,
    input_dim: int = 32,
    units: int = 64,
    num_classes: int = 4,
    samples: int = 512,
    batch_size: int = 32,
    epochs: int = 4,
    learning_rate: float = 0.1,
    seed: int = 0,
) -> LiveLayerDemo:
    """Train a real larq ``QuantDense`` for a few steps and watch its latent weights.

    The model is ``QuantDense(units)`` with the first-layer settings of ``precision`` (float
    input, quantized kernel, ``weight_clip`` to [-1, 1]), batch normalization and a float
    softmax layer, trained with Adam on a small synthetic task (Gaussian inputs labelled by a
    random linear teacher). The learning rate is deliberately large so that within a few
    dozen steps latent weights reach the clip bounds and quantized weights change.
    """
    spec = get_precision(precision)
    if not spec.first.is_quantized:
        raise ValueError(f"precision {precision!r} has no quantized kernel to look at")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, input_dim)).astype(np.float32)
    teacher = rng.normal(size=(input_dim, num_classes))
    y = tf.keras.utils.to_categorical(np.argmax(x @ teacher, axis=1), num_classes)
    tf.keras.utils.set_random_seed(seed)
    layer = lq.layers.QuantDense(
        units, use_bias=False, name="quant_dense",
        **LayerFactory.quantized_arguments(spec.first, 1, input_dim, units))
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(input_dim,)),
        layer,
        tf.keras.layers.BatchNormalization(momentum=0.9, scale=not spec.is_binary),
        tf.keras.layers.Dense(num_classes, activation="softmax"),
    ], name=f"live_{precision}")
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    latent_initial = layer.kernel.numpy().copy()
    previous, rows = _quantized_kernel(layer), []
    for _ in range(epochs):  # train_on_batch per batch: Keras' own step, constraint included
        order = rng.permutation(samples)
        for start in range(0, samples, batch_size):
            batch = order[start:start + batch_size]
            loss = model.train_on_batch(x[batch], y[batch], return_dict=True)["loss"]
            latent, quantized = layer.kernel.numpy(), _quantized_kernel(layer)
            rows.append({
                "step": len(rows) + 1,
                "loss": float(loss),
                "clipped_fraction": float(np.mean(np.abs(latent) >= 1.0)),
                "flips": int(np.sum(quantized != previous)),
                "mean_abs_latent": float(np.mean(np.abs(latent))),
            })
            previous = quantized
    return LiveLayerDemo(
        precision=precision,
        latent_initial=latent_initial,
        latent_final=layer.kernel.numpy().copy(),
        quantized_final=_quantized_kernel(layer),
        steps=pd.DataFrame(rows),
    )
