"""Where training runs: the tf.distribute strategy for this runtime and a description of it.

``choose_strategy()`` picks, in order: ``TPUStrategy`` on a Colab (or Cloud) TPU runtime,
``MirroredStrategy`` when there is more than one GPU, otherwise TensorFlow's default strategy
(one GPU or the CPU). Build and compile models inside ``strategy.scope()``; Keras' ``fit``
then splits every batch across the replicas (the batch size stays the global one).
"""

from __future__ import annotations

import os
import sys

import pandas as pd
import tensorflow as tf

from utils.environment import cpu_model, environment_info, lce_available

__all__ = ["choose_strategy", "describe_strategy", "device_name", "environment_table"]


def _tpu_resolver():
    """A connected TPUClusterResolver on a TPU runtime, else None (never raises)."""
    if os.environ.get("COLAB_TPU_ADDR"):  # the older Colab TPU node runtime
        address = f"grpc://{os.environ['COLAB_TPU_ADDR']}"
    elif tf.config.list_logical_devices("TPU_SYSTEM") or tf.config.list_physical_devices("TPU"):
        address = "local"  # TPU VM runtimes (Colab "TPU v2" and later)
    else:
        return None
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        print(f"TPU found but not usable ({error}); training without it", file=sys.stderr)
        return None
    return resolver


def choose_strategy() -> tuple[tf.distribute.Strategy, str]:
    """The best strategy for this runtime, and a short description of it."""
    resolver = _tpu_resolver()
    if resolver is not None:
        strategy = tf.distribute.TPUStrategy(resolver)
    elif len(tf.config.list_logical_devices("GPU")) > 1:
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    return strategy, describe_strategy(strategy)


def describe_strategy(strategy: tf.distribute.Strategy) -> str:
    """E.g. "MirroredStrategy, 2 replicas" or "default strategy (one device)"."""
    if strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy():
        return "default strategy (one device)"
    replicas = strategy.num_replicas_in_sync
    return f"{type(strategy).__name__}, {replicas} replica{'s' if replicas != 1 else ''}"


def device_name() -> str:
    """The accelerator training runs on: GPU model name(s), "TPU", or the CPU's model name."""
    if tf.config.list_logical_devices("TPU"):
        return f"TPU ({len(tf.config.list_logical_devices('TPU'))} cores)"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = [tf.config.experimental.get_device_details(gpu).get("device_name", "GPU")
                 for gpu in gpus]
        return ", ".join(names)
    return f"CPU: {cpu_model()} ({os.cpu_count()} cores)"


def environment_table() -> pd.DataFrame:
    """This runtime for notebook 00: versions, the Keras that ``tf.keras`` is, the device."""
    info = environment_info(device=device_name())
    # tf.keras.Model's home package: "tf_keras" in Keras 2 (legacy) mode, "keras" for Keras 3.
    keras = tf.keras.Model.__module__.split(".")[0]
    rows = {
        "python": f"{info['python']} ({sys.executable})",
        "platform": info["platform"],
        "tensorflow": info["tensorflow"],
        "tf.keras": f"{keras} ("
                    f"{'Keras 2 API, as larq needs' if keras == 'tf_keras' else 'NOT Keras 2'})",
        "TF_USE_LEGACY_KERAS": os.environ.get("TF_USE_LEGACY_KERAS", "unset"),
        "larq": info["larq"],
        "larq-compute-engine (LCE)": (info["larq_compute_engine"] if lce_available() else
                                      "not usable here (see utils.environment.LCE_MISSING)"),
        "tensorflow-model-optimization": info["tensorflow_model_optimization"],
        "numpy": info["numpy"],
        "device": info["device"],
        "on Colab": info["on_colab"],
    }
    return pd.DataFrame({"value": [str(value) for value in rows.values()]}, index=list(rows))
