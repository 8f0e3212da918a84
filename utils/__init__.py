"""Reduced-precision neural networks: the package the course notebooks import.

Import this package before TensorFlow. larq 0.14 is written against the Keras 2 API
(``tf.keras``); TensorFlow 2.16 serves Keras 3 under that name unless
``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow is first imported, in which case
``tf.keras`` is the ``tf_keras`` package (Keras 2.16). This module sets the variable,
and refuses to continue when TensorFlow was already loaded in Keras 3 mode, because
larq layers would then fail later with far less helpful errors.

It also hides TensorFlow's start-up logs that nobody can act on
(:func:`utils.environment.quiet_start`), and pins TensorFlow's CPU numerics to settings
meant to give the same result on any x86 CPU (:func:`utils.environment.pin_cpu_numerics`;
``COURSE_NUMERICS=native`` opts out).
"""

import os
import sys

__all__ = ["LEGACY_KERAS_VARIABLE", "keras_major_version"]

LEGACY_KERAS_VARIABLE = "TF_USE_LEGACY_KERAS"

os.environ[LEGACY_KERAS_VARIABLE] = "1"

# After the variable, before TensorFlow: every command line and notebook starts the same way,
# with the portable numerics and without TensorFlow's CUDA probing on a CPU machine.
from utils.environment import pin_cpu_numerics, quiet_start  # noqa: E402

pin_cpu_numerics()
quiet_start()


def keras_major_version() -> int:
    """Major version of the Keras that ``tf.keras`` resolves to (2 in legacy mode)."""
    import tensorflow as tf

    # tf.keras is a lazy alias whose module name varies; its Layer class tells the truth.
    if tf.keras.layers.Layer.__module__.startswith("tf_keras"):
        return 2
    import keras

    return int(keras.__version__.split(".")[0])


if "tensorflow" in sys.modules and keras_major_version() >= 3:
    raise ImportError(
        "TensorFlow was imported before `utils` and is running Keras 3, which larq "
        "cannot use. Import `utils` before TensorFlow (or set "
        f"{LEGACY_KERAS_VARIABLE}=1 in the environment); in a notebook, restart the "
        "kernel and run the setup cell first."
    )
