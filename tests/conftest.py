"""Shared test set-up: `utils` must be imported before TensorFlow (Keras 2 mode)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import utils  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
