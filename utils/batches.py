"""Numpy arrays from the batched ``tf.data`` pipelines of :mod:`utils.data`.

For what needs whole arrays rather than a pipeline: calibration images of post-training
quantization, the activations a notebook inspects, the test images a converted file is
scored on.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["to_arrays"]


def to_arrays(dataset: tf.data.Dataset, limit: int | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of the first ``limit`` examples of a batched dataset (all: None)."""
    images, labels = [], []
    for batch_images, batch_labels in dataset:
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
        if limit is not None and sum(map(len, images)) >= limit:
            break
    if not images:
        raise ValueError("the dataset has no examples")
    return np.concatenate(images)[:limit], np.concatenate(labels)[:limit]
