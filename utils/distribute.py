"""Where training runs: the tf.distribute strategy for this runtime and a description of it.

``choose_strategy()`` picks, in order: ``TPUStrategy`` on a Colab (or Cloud) TPU runtime,
``MirroredStrategy`` when there is more than one GPU, otherwise TensorFlow's default strategy
(one GPU or the CPU). Build and compile models inside ``strategy.scope()``; Keras' ``fit``
then splits every batch across the replicas (the batch size stays the global one).
"""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

import larq as lq
import numpy as np
import tensorflow as tf

__all__ = ["choose_strategy", "describe_strategy", "device_name", "environment_info"]


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
    return f"CPU: {_cpu_model()} ({os.cpu_count()} cores)"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def environment_info(strategy_description: str) -> dict[str, str | None]:
    """Versions, platform, device and strategy: the "environment" of records and benchmarks."""
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tf_keras": _package_version("tf-keras"),
        "larq": lq.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": device_name(),
        "strategy": strategy_description,
    }
