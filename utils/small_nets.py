"""Small networks for notebooks 00-02, and the few helpers those notebooks share.

- :func:`build_mlp` / :func:`train_binary_mlp`: the small binary multilayer perceptron of the
  report's §5.5 (three hidden layers, five epochs on MNIST, about 97% there on the full
  60,000 digits). Here it trains on the offline ``mnist5k`` digits (3,500 training images).
- :func:`build_small_cnn` / :func:`bitwidth_sweep`: one small network trained at 1, 2, 4, 8
  and 32 bits ("binary", "int2", "int4", "int8", "fp32" of :mod:`utils.precision`), with
  test accuracy, parameters and larq's memory estimate per bit width.
- :func:`live_layer_demo`: a larq ``QuantDense`` trained for a few steps, to look at its
  latent weights, their clipping to [-1, 1] and the quantized kernel the forward pass uses.
- :func:`resolve_dataset`, :func:`raw_image_sizes`, :func:`environment_summary`: the
  ``dataset="auto"`` choice (Cats & Dogs if it can be had, else mnist5k, said loudly), the
  stored image sizes and the software versions, for notebook 00 and the ones after it.

Layers follow the same precision map as AlexNet and GoogLeNet (:mod:`utils.precision`):
the first layer gets a float input and a quantized kernel, hidden layers quantize input and
kernel (the input quantizer is the activation: sign for binary, a quantized ReLU for k
bits), the last layer is float with a softmax. Every quantized layer is followed by batch
normalization, without a learned scale for binary layers (larq's practice: a scale before a
sign changes nothing).

Sizes and epochs come from a profile (:data:`SMALL_NET_PROFILES`): "smoke" runs in seconds
for tests, "quick" gives real accuracies in a few minutes on a 2-core CPU, "full" uses wider
networks and more epochs for a GPU.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import larq as lq
import numpy as np
import pandas as pd
import tensorflow as tf

from utils.config import PROFILES
from utils.data import (
    load_dataset,
)
from utils.dataset_choice import DATASET_CHOICES
from utils.models import summary_figures
from utils.precision import get_precision
from utils.records import to_jsonable, write_json_atomic

__all__ = [
    "BITS_TO_PRECISION",
    "DEFAULT_IMAGE_SIZE",
    "PROFILES",
    "SMALL_NET_PROFILES",
    "LiveLayerDemo",
    "SmallNetResult",
    "SmallNetSettings",
    "bitwidth_sweep",
    "build_mlp",
    "build_small_cnn",
    "check_parameters",
    "environment_summary",
    "live_layer_demo",
    "precision_for_bits",
    "precision_table",
    "save_json",
    "settings_for",
    "sweep_record",
    "train_binary_mlp",
    "train_small_net",
]

TASKS = ("mlp", "sweep")
NETWORKS = ("mlp", "cnn")
BITS_TO_PRECISION = {1: "binary", 2: "int2", 4: "int4", 8: "int8", 32: "fp32"}
DEFAULT_IMAGE_SIZE = {"mnist5k": 28, "cats_and_dogs": 64}


# ---------------------------------------------------------------------------------------------
# Settings per profile
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmallNetSettings:
    """Sizes and training settings of a small network.

    Attributes:
        epochs, batch_size: training length and batch size.
        limit: cap on the number of images per split (None = all), for smoke runs.
        hidden_units, hidden_layers: width and depth of the MLP.
        filters, dense_units: the CNN's two convolutions and its hidden dense layer.
        learning_rate: Adam's learning rate (constant).
        bn_momentum: momentum of batch normalization's moving statistics; 0.9 rather than
            Keras' 0.99 because a few hundred steps are too few for 0.99 to settle.
        image_size: square input side; None = the dataset's :data:`DEFAULT_IMAGE_SIZE`.
        augment: random shifts of the training images (:func:`utils.data.load_dataset`).
    """

    epochs: int
    batch_size: int = 64
    limit: int | None = None
    hidden_units: int = 256
    hidden_layers: int = 3
    filters: tuple[int, int] = (32, 64)
    dense_units: int = 128
    learning_rate: float = 1e-2
    cosine_decay: bool = True
    bn_momentum: float = 0.9
    image_size: int | None = None
    augment: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# (profile, task) -> settings. "mlp": the §5.5 binary MLP; "sweep": the bit-width sweep.
SMALL_NET_PROFILES: dict[tuple[str, str], SmallNetSettings] = {
    ("smoke", "mlp"): SmallNetSettings(epochs=1, limit=128, hidden_units=64),
    ("smoke", "sweep"): SmallNetSettings(epochs=1, limit=128, filters=(8, 16), dense_units=32),
    ("quick", "mlp"): SmallNetSettings(epochs=5, hidden_units=512),
    ("quick", "sweep"): SmallNetSettings(epochs=5, filters=(32, 64), dense_units=128),
    ("full", "mlp"): SmallNetSettings(epochs=5, hidden_units=1024),
    ("full", "sweep"): SmallNetSettings(epochs=20, filters=(64, 128), dense_units=256),
}


def settings_for(profile: str, task: str = "sweep", **overrides) -> SmallNetSettings:
    """The settings of ``task`` ("mlp" or "sweep") in ``profile``, with ``overrides`` applied."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; accepted: {', '.join(PROFILES)}")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; accepted: {', '.join(TASKS)}")
    names = {f.name for f in dataclasses.fields(SmallNetSettings)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}; accepted: {', '.join(sorted(names))}")
    settings = dataclasses.replace(SMALL_NET_PROFILES[(profile, task)], **overrides)
    if settings.epochs < 1 or settings.batch_size < 1:
        raise ValueError(f"epochs and batch_size must be at least 1, got {settings}")
    return settings


def check_parameters(profile: str, dataset: str | None = None) -> None:
    """Raise a clear ValueError when a notebook's ``profile`` or ``dataset`` is not accepted."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    if dataset is not None and dataset not in DATASET_CHOICES:
        raise ValueError(
            f"dataset must be one of {', '.join(DATASET_CHOICES)}; got {dataset!r}"
        )


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


def precision_for_bits(bits: int) -> str:
    """Precision name of a bit width: 1 -> "binary", 32 -> "fp32", k in 2..16 -> "int<k>"."""
    if bits in BITS_TO_PRECISION:
        return BITS_TO_PRECISION[bits]
    if isinstance(bits, (int, np.integer)) and 2 <= bits <= 16:
        return f"int{bits}"
    raise ValueError(f"bit width must be 1, 2..16 or 32, got {bits!r}")


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


def _quantized_kwargs(precision: str, role: str) -> dict[str, Any] | None:
    """larq layer arguments for ``role`` ("first", "hidden", "last"), or None if float.

    k-bit kernels start uniform over the quantizer's range [-1, 1): with Glorot's initial
    weights (|w| < 0.05 for a few hundred inputs) every 2- or 4-bit weight would round to 0
    (eq. 4.6, steps of 0.5 and 0.125). Binary kernels keep Glorot's start; only the sign
    matters, and small latent weights flip easily.
    """
    spec = get_precision(precision)
    settings = getattr(spec, role)
    if not settings.is_quantized:
        return None
    kwargs = settings.layer_kwargs()
    if not spec.is_binary and precision != "ternary":
        kwargs["kernel_initializer"] = tf.keras.initializers.RandomUniform(-1.0, 1.0)
    return kwargs


def _normalize(x, precision: str, momentum: float, name: str):
    binary = get_precision(precision).is_binary
    return tf.keras.layers.BatchNormalization(momentum=momentum, scale=not binary,
                                              name=f"{name}_bn")(x)


def _dense_block(x, units: int, precision: str, role: str, momentum: float, name: str):
    """Dense layer + batch norm (+ ReLU when float; a quantized net's activation is the next
    layer's input quantizer)."""
    kwargs = _quantized_kwargs(precision, role)
    if kwargs is None:
        x = tf.keras.layers.Dense(units, use_bias=False, name=name)(x)
        x = _normalize(x, precision, momentum, name)
        return tf.keras.layers.ReLU(name=f"{name}_relu")(x)
    x = lq.layers.QuantDense(units, use_bias=False, name=name, **kwargs)(x)
    return _normalize(x, precision, momentum, name)


def _classifier(x, num_classes: int):
    """Last layer: float input and kernel (report §4.3), softmax output."""
    return tf.keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)


def build_mlp(
    precision: str = "binary",
    input_shape=(28, 28, 3),
    num_classes: int = 10,
    hidden_units: int = 256,
    hidden_layers: int = 3,
    bn_momentum: float = 0.9,
) -> tf.keras.Model:
    """Multilayer perceptron of report §5.5: flatten, ``hidden_layers`` dense blocks, softmax.

    Binary (the default): the first hidden layer sees the float pixels with a binary kernel,
    the other hidden layers binarize input and kernel (``ste_sign``, latent weights clipped
    to [-1, 1] by ``weight_clip``), each is followed by batch normalization, and the last
    layer is a float dense layer with softmax. Other precisions follow the same map.
    """
    get_precision(precision)  # validates the name
    if hidden_layers < 1 or hidden_units < 1:
        raise ValueError("hidden_layers and hidden_units must be at least 1")
    inputs = tf.keras.Input(shape=tuple(input_shape), name="image")
    x = tf.keras.layers.Flatten(name="flatten")(inputs)
    for index in range(hidden_layers):
        role = "first" if index == 0 else "hidden"
        x = _dense_block(x, hidden_units, precision, role, bn_momentum, f"dense{index + 1}")
    outputs = _classifier(x, num_classes)
    return tf.keras.Model(inputs, outputs, name=f"mlp_{precision}")


def build_small_cnn(
    precision: str = "fp32",
    input_shape=(28, 28, 3),
    num_classes: int = 10,
    filters: tuple[int, int] = (32, 64),
    dense_units: int = 128,
    bn_momentum: float = 0.9,
) -> tf.keras.Model:
    """A LeNet-sized network for the bit-width sweep: two 3x3 convolutions, each followed by a
    2x2 max-pool, one hidden dense layer and a float softmax classifier.

    Quantized layers come from :func:`utils.precision.get_precision` (first convolution: float
    input, quantized kernel; the rest: quantized input and kernel) and are followed by batch
    normalization after the pool, as in larq's model zoo. Convolutions are "valid" (unpadded),
    so binary layers never see zero padding.
    """
    get_precision(precision)
    inputs = tf.keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for index, (count, role) in enumerate(zip(filters, ("first", "hidden"), strict=True)):
        name = f"conv{index + 1}"
        kwargs = _quantized_kwargs(precision, role)
        if kwargs is None:
            x = tf.keras.layers.Conv2D(count, 3, use_bias=False, name=name)(x)
            x = _normalize(x, precision, bn_momentum, name)
            x = tf.keras.layers.ReLU(name=f"{name}_relu")(x)
            x = tf.keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)
        else:
            x = lq.layers.QuantConv2D(count, 3, use_bias=False, name=name, **kwargs)(x)
            x = tf.keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)
            x = _normalize(x, precision, bn_momentum, name)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    x = _dense_block(x, dense_units, precision, "hidden", bn_momentum, "dense1")
    outputs = _classifier(x, num_classes)
    return tf.keras.Model(inputs, outputs, name=f"cnn_{precision}")


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


@dataclass
class SmallNetResult:
    """One trained small network: its history, test accuracy, larq summary and data."""

    model_name: str
    precision: str
    bits: int
    dataset: str
    is_offline_standin: bool
    history: dict[str, list[float]]
    test_accuracy: float
    test_loss: float
    summary: dict[str, float]
    settings: dict[str, Any]
    train_seconds: float
    profile: str | None = None
    model: tf.keras.Model | None = field(default=None, repr=False)

    def to_record(self) -> dict[str, Any]:
        """The result as plain JSON types (without the model)."""
        record = dataclasses.asdict(dataclasses.replace(self, model=None))
        record.pop("model")
        return to_jsonable(record)


def _load(dataset: str, settings: SmallNetSettings, seed: int, data_dir):
    size = settings.image_size or DEFAULT_IMAGE_SIZE.get(dataset, 64)
    return load_dataset(dataset, size, settings.batch_size, data_dir=data_dir, seed=seed,
                        limit=settings.limit, augment=settings.augment)


def train_small_net(model: tf.keras.Model, splits, settings: SmallNetSettings, *,
                    precision: str, seed: int = 0, verbose: int = 0) -> SmallNetResult:
    """Compile (Adam, cross-entropy), fit on ``splits.train`` with validation, evaluate on
    ``splits.test`` and return a :class:`SmallNetResult`."""
    steps = settings.epochs * math.ceil(splits.num_train / settings.batch_size)
    learning_rate = settings.learning_rate
    if settings.cosine_decay:
        learning_rate = tf.keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    started = time.perf_counter()
    fit = model.fit(splits.train, validation_data=splits.validation, epochs=settings.epochs,
                    verbose=verbose)
    seconds = time.perf_counter() - started
    test_loss, test_accuracy = model.evaluate(splits.test, verbose=0)
    history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    return SmallNetResult(
        model_name=model.name,
        precision=precision,
        bits=get_precision(precision).bits,
        dataset=splits.name,
        is_offline_standin=bool(splits.is_offline_standin),
        history=history,
        test_accuracy=float(test_accuracy),
        test_loss=float(test_loss),
        summary=summary_figures(model),
        settings={**settings.to_dict(), "seed": seed, "image_shape": list(splits.image_shape)},
        train_seconds=seconds,
        model=model,
    )


def train_binary_mlp(
    profile: str = "quick",
    dataset: str = "mnist5k",
    *,
    precision: str = "binary",
    seed: int = 0,
    data_dir: str | os.PathLike = "data",
    verbose: int = 0,
    **overrides,
) -> SmallNetResult:
    """Train the §5.5 binary MLP (three hidden layers) for the profile's epochs.

    Returns the :class:`SmallNetResult` (``history`` per epoch and ``test_accuracy`` among
    others). ``overrides`` replace profile settings, e.g. ``epochs=1, limit=128``.
    """
    settings = settings_for(profile, "mlp", **overrides)
    splits = _load(dataset, settings, seed, data_dir)
    tf.keras.utils.set_random_seed(seed)
    model = build_mlp(precision, splits.image_shape, splits.num_classes,
                      hidden_units=settings.hidden_units, hidden_layers=settings.hidden_layers,
                      bn_momentum=settings.bn_momentum)
    result = train_small_net(model, splits, settings, precision=precision, seed=seed,
                             verbose=verbose)
    result.profile = profile
    return result


def bitwidth_sweep(
    profile: str = "quick",
    dataset: str = "mnist5k",
    bits=(1, 2, 4, 8, 32),
    *,
    network: str = "cnn",
    seed: int = 0,
    data_dir: str | os.PathLike = "data",
    verbose: int = 0,
    **overrides,
) -> pd.DataFrame:
    """Train the same small network once per bit width and tabulate the results.

    ``bits``: 1 (binary), 2..16 (k-bit, eqs. 4.6/4.7 with a quantized ReLU) and 32 (float).
    ``network``: "cnn" (:func:`build_small_cnn`) or "mlp" (:func:`build_mlp`).

    Returns a DataFrame, one row per bit width: ``bits``, ``precision``, ``test_accuracy``,
    ``best_val_accuracy``, ``test_loss``, ``params`` (all weights), ``memory_kib`` (larq's
    estimate, each weight stored at its bit width), ``fp32_memory_kib``, ``compression``,
    ``train_seconds``. ``table.attrs`` holds ``histories`` ({precision: history}),
    ``dataset``, ``is_offline_standin``, ``network``, ``profile`` and ``settings``.
    """
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; accepted: {', '.join(NETWORKS)}")
    precisions = [precision_for_bits(b) for b in bits]
    settings = settings_for(profile, "sweep", **overrides)
    splits = _load(dataset, settings, seed, data_dir)
    rows, histories = [], {}
    for precision in precisions:
        tf.keras.utils.set_random_seed(seed)
        if network == "cnn":
            model = build_small_cnn(precision, splits.image_shape, splits.num_classes,
                                    filters=settings.filters, dense_units=settings.dense_units,
                                    bn_momentum=settings.bn_momentum)
        else:
            model = build_mlp(precision, splits.image_shape, splits.num_classes,
                              hidden_units=settings.hidden_units,
                              hidden_layers=settings.hidden_layers,
                              bn_momentum=settings.bn_momentum)
        result = train_small_net(model, splits, settings, precision=precision, seed=seed,
                                 verbose=verbose)
        histories[precision] = result.history
        summary = result.summary
        rows.append({
            "bits": result.bits,
            "precision": precision,
            "test_accuracy": result.test_accuracy,
            "best_val_accuracy": max(result.history.get("val_accuracy", [float("nan")])),
            "test_loss": result.test_loss,
            "params": int(summary["params_total"]),
            "memory_kib": summary["memory_mib"] * 1024,
            "fp32_memory_kib": summary["memory_fp32_equivalent_mib"] * 1024,
            "compression": summary["compression_ratio"],
            "train_seconds": result.train_seconds,
        })
        tf.keras.backend.clear_session()
    table = pd.DataFrame(rows)
    table.attrs.update(
        histories=histories,
        dataset=splits.name,
        is_offline_standin=bool(splits.is_offline_standin),
        network=network,
        profile=profile,
        settings={**settings.to_dict(), "seed": seed, "image_shape": list(splits.image_shape)},
    )
    return table


def sweep_record(table: pd.DataFrame) -> dict[str, Any]:
    """A :func:`bitwidth_sweep` table and its ``attrs`` as one JSON-ready dict."""
    attrs = dict(table.attrs)
    return to_jsonable({
        "dataset": attrs.get("dataset"),
        "is_offline_standin": attrs.get("is_offline_standin"),
        "network": attrs.get("network"),
        "profile": attrs.get("profile"),
        "settings": attrs.get("settings"),
        "rows": table.to_dict(orient="records"),
        "histories": attrs.get("histories", {}),
    })


def save_json(path: str | os.PathLike, record: dict[str, Any]) -> Path:
    """Write ``record`` as JSON to ``path`` atomically (``utils.records.write_json_atomic``)."""
    return write_json_atomic(path, record)


# ---------------------------------------------------------------------------------------------
# A live quantized layer
# ---------------------------------------------------------------------------------------------


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
    layer = lq.layers.QuantDense(units, use_bias=False, name="quant_dense",
                                 **_quantized_kwargs(precision, "first"))
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


# ---------------------------------------------------------------------------------------------
# Notebook helpers: environment
# ---------------------------------------------------------------------------------------------


def environment_summary() -> pd.DataFrame:
    """Python, TensorFlow, Keras, larq, LCE and numpy versions, devices and CPU cores."""

    def version(module: str) -> str:
        if importlib.util.find_spec(module) is None:
            return "not installed"
        try:
            return getattr(__import__(module), "__version__", "installed")
        except Exception as error:  # an installed package that fails to import
            return f"installed, import failed: {error!r}"

    # tf.keras.Model's home package: "tf_keras" in Keras 2 (legacy) mode, "keras" for Keras 3.
    keras_package = tf.keras.Model.__module__.split(".")[0]
    gpus = tf.config.list_physical_devices("GPU")
    rows = {
        "python": platform.python_version(),
        "python executable": sys.executable,
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "tf.keras": f"{keras_package} {version(keras_package)} "
        f"({'Keras 2 API, as larq needs' if keras_package == 'tf_keras' else 'NOT Keras 2'})",
        "TF_USE_LEGACY_KERAS": os.environ.get("TF_USE_LEGACY_KERAS", "unset"),
        "larq": lq.__version__ if hasattr(lq, "__version__") else version("larq"),
        "larq-compute-engine (LCE)": version("larq_compute_engine"),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "GPUs": ", ".join(gpu.name for gpu in gpus) or "none (CPU only)",
        "CPU cores": str(os.cpu_count()),
    }
    return pd.DataFrame({"value": list(rows.values())}, index=list(rows.keys()))
