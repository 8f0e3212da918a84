"""Post-training quantization: the trained float network's weights and activations on k bits."""

import numpy as np
import pytest
import tensorflow as tf

from utils.data import load_dataset, to_arrays
from utils.models import build_model
from utils.quantizers import (
    activation_ranges,
    kernels,
    ptq_table,
    quantize_after_training,
    symmetric_scales,
)


@pytest.fixture(scope="module")
def trained():
    """The small CNN, float, trained for two epochs on 1,000 digits (about 10 s)."""
    tf.keras.utils.set_random_seed(0)
    splits = load_dataset("mnist5k", 28, 64, seed=0, limit=1000)
    model = build_model("small_cnn", "fp32", (28, 28, 3), 10, width=0.5, batch_norm=True)
    model.compile(tf.keras.optimizers.Adam(3e-3), "categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(splits.train, epochs=2, verbose=0)
    calibration, _ = to_arrays(splits.train, 256)
    test_images, test_labels = to_arrays(splits.test)
    return model, calibration, test_images, test_labels


@pytest.mark.slow
def test_weights_land_on_their_grid_and_the_float_model_is_untouched(trained):
    model, calibration, _, _ = trained
    before = [weight.copy() for weight in model.get_weights()]
    quantized = quantize_after_training(model, 4, calibration, per_channel=True)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    original, rounded = kernels(model), kernels(quantized)
    for name in list(original)[:-1]:  # every kernel but the float classifier
        grid = symmetric_scales(original[name], 4, per_channel=True)
        np.testing.assert_allclose(rounded[name], grid.fake_quantize(original[name]), atol=1e-6)
        steps = rounded[name] / grid.scale
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)
        assert np.abs(steps).max() <= 7 + 1e-3  # the narrow 4-bit range [-7, 7]
    classifier = list(original)[-1]
    np.testing.assert_array_equal(rounded[classifier], original[classifier])


@pytest.mark.slow
def test_activations_are_rounded_on_their_calibrated_range(trained):
    model, calibration, _, _ = trained
    ranges = activation_ranges(model, calibration, bits=4)
    assert list(ranges) == ["conv1_relu", "conv2_relu"]  # the last ReLU feeds the classifier
    assert all(low == 0.0 < high for low, high in ranges.values())
    quantized = quantize_after_training(model, 4, calibration)
    probe = tf.keras.Model(quantized.inputs, quantized.get_layer("conv1_relu").output)
    values = np.unique(probe.predict(calibration[:8], verbose=0))
    assert len(values) <= 16  # 4 bits
    low, high = ranges["conv1_relu"]
    assert values.min() >= low and values.max() <= high * (1 + 1e-6)


@pytest.mark.slow
def test_ptq_at_8_bits_keeps_the_float_accuracy(trained):
    model, calibration, test_images, test_labels = trained
    table = ptq_table(model, calibration, test_images, test_labels, bits=(2, 8))
    accuracy = table.set_index(["bits", "weight scales"])["test_accuracy"]
    assert accuracy[(32, "float")] > 0.8  # it did train
    # 8 bits: within one point of float on 1,000 test digits (10 images)
    for scales in ("per tensor", "per channel"):
        assert abs(accuracy[(8, scales)] - accuracy[(32, "float")]) <= 0.01
    assert accuracy[(2, "per tensor")] < accuracy[(8, "per tensor")]
