"""ABC-Net's multi-base binarization (utils.quantizers): the least-squares weight bases, their
straight-through gradient, the shifted activation bases and their gradients, and saving."""

import numpy as np
import pytest
import tensorflow as tf

from utils.models import build_model, load_model, save_model
from utils.quantizers import MultiBaseActivation, MultiBaseWeights, weight_shifts


def _numpy_fit(kernel: np.ndarray, bases: int) -> np.ndarray:
    """The module docstring's W ≈ Σ αᵢ Bᵢ, with numpy: Bᵢ = sign(W − mean + uᵢ·std) (sign(0)
    = +1), α by least squares."""
    centred, spread = kernel - kernel.mean(), kernel.std()
    columns = np.stack([np.where(centred + shift * spread >= 0, 1.0, -1.0).ravel()
                        for shift in weight_shifts(bases)], axis=1)
    alphas = np.linalg.lstsq(columns, kernel.ravel(), rcond=None)[0]
    return (columns @ alphas).reshape(kernel.shape)


def test_multibase_weight_shifts_spread_over_one_standard_deviation():
    assert weight_shifts(1) == [0.0]
    assert weight_shifts(2) == [-1.0, 1.0]
    np.testing.assert_allclose(weight_shifts(3), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(weight_shifts(5), [-1.0, -0.5, 0.0, 0.5, 1.0])


def test_multibase_one_weight_base_by_hand():
    # W = (0.1, 0.3, -0.2, -0.6): mean -0.1, so B = sign(0.2, 0.4, -0.1, -0.5) = (+, +, -, -)
    # and the least-squares α = B·W / 4 = (0.1 + 0.3 + 0.2 + 0.6) / 4 = 0.3.
    kernel = tf.constant([0.1, 0.3, -0.2, -0.6])
    quantizer = MultiBaseWeights(1)
    np.testing.assert_allclose(quantizer.coefficients(kernel).numpy(), [0.3], rtol=1e-6)
    np.testing.assert_allclose(quantizer(kernel).numpy(), [0.3, 0.3, -0.3, -0.3], rtol=1e-6)


@pytest.mark.parametrize("bases", [1, 3])
def test_multibase_weights_are_the_least_squares_fit_of_their_bases(bases):
    kernel = np.random.default_rng(bases).normal(0.0, 0.1, (3, 3, 2, 4)).astype("float32")
    fitted = MultiBaseWeights(bases)(tf.constant(kernel)).numpy()
    np.testing.assert_allclose(fitted, _numpy_fit(kernel.astype("float64"), bases), atol=1e-6)
    # the M thresholds are nested, so a weight takes one of M + 1 levels
    assert len(np.unique(np.round(fitted, 6))) <= bases + 1


def test_multibase_more_weight_bases_fit_better():
    kernel = np.random.default_rng(7).normal(0.0, 0.1, (3, 3, 8, 8)).astype("float32")
    errors = [np.linalg.norm(MultiBaseWeights(m)(tf.constant(kernel)).numpy() - kernel)
              for m in (1, 3, 5)]
    assert errors[0] > errors[1] > errors[2]


@pytest.mark.parametrize("bases", [1, 3])
def test_multibase_weight_gradient_passes_straight_through(bases):
    rng = np.random.default_rng(0)
    kernel = tf.Variable(rng.normal(0.0, 0.1, (3, 3, 2, 4)).astype("float32"))
    upstream = rng.normal(size=(3, 3, 2, 4)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(MultiBaseWeights(bases)(kernel) * upstream)
    np.testing.assert_allclose(tape.gradient(loss, kernel).numpy(), upstream, rtol=1e-6)


def test_multibase_refuses_bad_numbers_of_bases():
    for bad in (0, 6, 2.0):
        with pytest.raises(ValueError, match="bases must be an integer from 1 to 5"):
            MultiBaseWeights(bad)
    with pytest.raises(ValueError, match="bases must be an integer from 1 to 3"):
        MultiBaseActivation(4)
    assert (MultiBaseWeights(3).precision, MultiBaseActivation(2).precision) == (3, 2)


def test_multibase_activation_starts_as_a_staircase_centred_on_zero():
    # Shifts 0, 0.5, 1 and scales 1/3: base j is +1 where x ≥ 0.5 − vⱼ, i.e. at x ≥ 0.5,
    # 0 and -0.5, so the sum steps from -1 to -1/3, 1/3 and 1 at those points.
    activation = MultiBaseActivation(3)
    values = activation(tf.constant([-1.0, -0.25, 0.25, 0.75, 1.25])).numpy()
    np.testing.assert_allclose(values, [-1.0, -1 / 3, 1 / 3, 1.0, 1.0], rtol=1e-6)
    single = MultiBaseActivation(1)  # one base: the sign, with sign(0) = +1
    np.testing.assert_array_equal(single(tf.constant([-0.3, 0.0, 0.4])).numpy(), [-1, 1, 1])


@pytest.fixture
def shifted_activation():
    """Two bases with shifts (0.2, -0.3) and scales (0.5, 1.5), on five inputs."""
    activation = MultiBaseActivation(2)
    activation.build((5,))
    activation.shifts.assign([0.2, -0.3])
    activation.scales.assign([0.5, 1.5])
    return activation, tf.Variable([-0.9, -0.1, 0.4, 0.6, 1.1])


def test_multibase_activation_values_by_hand(shifted_activation):
    # base 1: clip(x + 0.2, 0, 1) = (0, 0.1, 0.6, 0.8, 1) -> signs about 0.5: (-, -, +, +, +)
    # base 2: clip(x - 0.3, 0, 1) = (0, 0, 0.1, 0.3, 0.8) -> (-, -, -, -, +)
    # 0.5·base 1 + 1.5·base 2 = (-2, -2, -1, -1, 2)
    activation, inputs = shifted_activation
    np.testing.assert_allclose(activation(inputs).numpy(), [-2.0, -2.0, -1.0, -1.0, 2.0],
                               rtol=1e-6)


def test_multibase_activation_gradients_by_hand(shifted_activation):
    # Straight through the clip: base j passes its scale where 0 < x + vⱼ < 1, that is at
    # inputs 2, 3, 4 for base 1 (x + 0.2 = 0.1, 0.6, 0.8) and 3, 4, 5 for base 2 (0.1, 0.3,
    # 0.8). With an upstream gradient of 1:
    # d/dx = 0.5·(0, 1, 1, 1, 0) + 1.5·(0, 0, 1, 1, 1) = (0, 0.5, 2, 2, 1.5);
    # d/dshift = scale times the inputs inside the window: (0.5·3, 1.5·3) = (1.5, 4.5);
    # d/dscale = the sum of each base's signs: (-1 - 1 + 1 + 1 + 1, -1 - 1 - 1 - 1 + 1).
    activation, inputs = shifted_activation
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(activation(inputs))
    gradients = tape.gradient(total, [inputs, activation.shifts, activation.scales])
    np.testing.assert_allclose(gradients[0].numpy(), [0.0, 0.5, 2.0, 2.0, 1.5], rtol=1e-6)
    np.testing.assert_allclose(gradients[1].numpy(), [1.5, 4.5], rtol=1e-6)
    np.testing.assert_allclose(gradients[2].numpy(), [1.0, -3.0], rtol=1e-6)


@pytest.mark.slow
def test_multibase_model_saves_and_reloads_with_identical_predictions(tmp_path):
    model = build_model("small_cnn", "abc_w3a1", (12, 12, 3), 4, width=0.125)
    activations = [layer.input_quantizer for layer in model.layers
                   if isinstance(getattr(layer, "input_quantizer", None), MultiBaseActivation)]
    assert activations  # the hidden layers' inputs
    for activation in activations:  # learned values, so that a reload cannot re-initialize
        activation.shifts.assign([0.3])
        activation.scales.assign([0.7])
    images = np.random.default_rng(1).uniform(-1, 1, (3, 12, 12, 3)).astype("float32")
    path = save_model(model, tmp_path / "abc.keras")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(images, verbose=0),
                                  model.predict(images, verbose=0))
    quantizer = loaded.get_layer("conv2").kernel_quantizer
    assert isinstance(quantizer, MultiBaseWeights) and quantizer.bases == 3
    reloaded = loaded.get_layer("conv2").input_quantizer
    np.testing.assert_allclose(reloaded.shifts.numpy(), [0.3])
    np.testing.assert_allclose(reloaded.scales.numpy(), [0.7])
