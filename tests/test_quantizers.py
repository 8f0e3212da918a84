"""Tests for utils.quantizers: quantizer values, gradients, serialization and larq summary
precision (report §3-4), the precision map (§4.3, §5.1), ABC-Net's multi-base binarization,
affine quantization (scale, zero point, per-channel scales, calibration) and post-training
quantization of a trained float network."""

import subprocess
import sys

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from utils.data import load_dataset, to_arrays
from utils.models import build_model, load_model, save_model
from utils.quantizers import (
    ACCEPTED_PRECISIONS,
    KBitQuantizer,
    LearnedRangeReLU,
    MultiBaseActivation,
    MultiBaseWeights,
    PerChannelKBitQuantizer,
    QuantizedReLU,
    SymmetricQuantizer,
    activation_ranges,
    affine_from_range,
    asymmetric_levels,
    calibrate,
    calibration_table,
    get_precision,
    integer_range,
    kernels,
    ptq_table,
    quantize_after_training,
    quantize_to_integers,
    symmetric_levels,
    symmetric_scales,
    weight_error_table,
    weight_quantization_error,
    weight_shifts,
)

# Eq. 4.6 by hand: q = clip(round(2^(k-1) x) / 2^(k-1), -1, 1 - 2^-(k-1)); ties to even.
KBIT_TABLE = {
    2: [  # step 0.5, levels -1, -0.5, 0, 0.5
        (-3.0, -1.0), (-1.0, -1.0), (-0.75, -1.0), (-0.5, -0.5), (-0.25, 0.0),
        (0.0, 0.0), (0.2, 0.0), (0.25, 0.0), (0.3, 0.5), (0.5, 0.5), (0.75, 0.5),
        (1.0, 0.5), (2.0, 0.5),
    ],
    4: [  # step 1/8, top 7/8
        (-1.0, -1.0), (-1.2, -1.0), (-0.0625, 0.0), (0.0625, 0.0), (0.1875, 0.25),
        (0.3, 0.25), (0.8125, 0.75), (0.875, 0.875), (0.9375, 0.875), (1.0, 0.875),
    ],
    8: [  # step 1/128, top 127/128
        (-1.0, -1.0), (-1.0 - 1 / 256, -1.0), (1 / 256, 0.0), (3 / 256, 2 / 128),
        (0.5, 0.5), (0.33, 42 / 128), (127 / 128, 127 / 128), (1.0, 127 / 128),
        (5.0, 127 / 128),
    ],
}


@pytest.mark.parametrize("k", sorted(KBIT_TABLE))
def test_kbit_values_match_hand_table(k):
    inputs, expected = zip(*KBIT_TABLE[k], strict=True)
    got = KBitQuantizer(k)(tf.constant(inputs, tf.float32)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-7)


@pytest.mark.parametrize("k", [2, 4, 8])
def test_kbit_output_lies_on_the_grid(k):
    x = tf.linspace(-2.0, 2.0, 20001)
    q = KBitQuantizer(k)(x).numpy()
    step = 2.0 ** -(k - 1)
    assert q.min() == -1.0 and q.max() == 1.0 - step
    np.testing.assert_allclose(q / step, np.round(q / step), atol=1e-6)
    assert len(np.unique(q)) == 2**k


@pytest.mark.parametrize(
    "quantizer, low, high",
    [(KBitQuantizer(2), -1.0, 1.0), (KBitQuantizer(8), -1.0, 1.0), (QuantizedReLU(4), 0.0, 1.0),
     (SymmetricQuantizer(4, alpha=0.5), -0.5, 0.5)],
)
def test_straight_through_gradient(quantizer, low, high):
    x = tf.constant([-2.0, -1.0, -0.6, -0.3, 0.0, 0.3, 0.6, 1.0, 1.5, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = quantizer(x)
    grad = tape.gradient(y, x).numpy()
    expected = ((x.numpy() >= low) & (x.numpy() <= high)).astype(np.float32)
    np.testing.assert_array_equal(grad, expected)


def test_kbit_gradient_is_eq_4_7_for_upstream_gradients():
    x = tf.constant([-1.5, -0.5, 0.5, 1.5])
    upstream = tf.constant([2.0, 3.0, -4.0, 5.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = KBitQuantizer(8)(x)
    np.testing.assert_array_equal(tape.gradient(y, x, output_gradients=upstream).numpy(),
                                  [0.0, 3.0, -4.0, 0.0])


def test_larq_sign_of_zero_is_plus_one_as_eq_4_2():
    x = tf.constant([-1e-6, 0.0, 1e-6])
    np.testing.assert_array_equal(lq.quantizers.SteSign()(x).numpy(), [-1.0, 1.0, 1.0])


def test_quantized_relu_levels():
    x = tf.constant([-1.0, 0.0, 0.1, 0.125, 0.2, 0.5, 0.9, 1.0, 2.0])
    # k = 3: step 1/8, top 7/8
    np.testing.assert_allclose(
        QuantizedReLU(3)(x).numpy(), [0, 0, 0.125, 0.125, 0.25, 0.5, 0.875, 0.875, 0.875]
    )


def test_symmetric_and_asymmetric_ranges():
    assert symmetric_levels(8) == (-127, 127)
    assert asymmetric_levels(8) == (-128, 127)
    assert symmetric_levels(4) == (-7, 7)
    codes = quantize_to_integers([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], k=8, alpha=1.0)
    np.testing.assert_array_equal(codes, [-127, -127, -64, 0, 64, 127, 127])
    asym = quantize_to_integers([-1.0, -0.5, 0.5, 1.0], k=8, alpha=1.0, symmetric=False)
    np.testing.assert_array_equal(asym, [-128, -64, 64, 127])


def test_symmetric_quantizer_clips_at_alpha():
    q = SymmetricQuantizer(k=3, alpha=2.0)  # s = 3/2, levels multiples of 2/3 up to 2
    np.testing.assert_allclose(q(tf.constant([-5.0, -1.0, 0.2, 0.4, 5.0])).numpy(),
                               [-2.0, -4 / 3, 0.0, 2 / 3, 2.0], atol=1e-6)  # -1.5 ties to -2


@pytest.mark.parametrize("bad", [0, 1, 17, 2.5, "8", True])
def test_bad_bit_width_is_rejected(bad):
    with pytest.raises(ValueError, match="bit width"):
        KBitQuantizer(bad)


def test_bad_alpha_is_rejected():
    with pytest.raises(ValueError, match="alpha"):
        SymmetricQuantizer(4, alpha=0.0)


def _tiny_model(input_quantizer, kernel_quantizer):
    inputs = tf.keras.Input((6, 6, 2))
    x = lq.layers.QuantConv2D(4, 3, input_quantizer=input_quantizer,
                              kernel_quantizer=kernel_quantizer, use_bias=False)(inputs)
    x = tf.keras.layers.Flatten()(x)
    outputs = lq.layers.QuantDense(3, kernel_quantizer=kernel_quantizer)(x)
    return tf.keras.Model(inputs, outputs)


@pytest.mark.parametrize(
    "make_quantizer",
    [lambda: KBitQuantizer(4), lambda: QuantizedReLU(8), lambda: SymmetricQuantizer(4, 0.5)],
)
def test_saved_model_with_quantizer_reloads_and_predicts_the_same(tmp_path, make_quantizer):
    model = _tiny_model(make_quantizer(), make_quantizer())
    x = np.random.default_rng(0).uniform(-1, 1, (5, 6, 6, 2)).astype("float32")
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = tf.keras.models.load_model(path)
    assert type(reloaded.layers[1].kernel_quantizer) is type(model.layers[1].kernel_quantizer)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("k", [2, 4, 8])
def test_larq_summary_counts_k_bit_parameters_and_macs(k):
    model = _tiny_model(KBitQuantizer(k), KBitQuantizer(k))
    profile = lq.models.ModelProfile(model)
    assert k in profile.unique_param_bidtwidths
    assert profile.weight_count(bitwidth=k) == 3 * 3 * 2 * 4 + 4 * 4 * 4 * 3
    assert profile.op_count("mac", k) == 3 * 3 * 2 * 4 * 16
    lines = []
    lq.models.summary(model, print_fn=lines.append)
    assert f"{k}-bit" in "\n".join(lines)


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3",
                                            "PYTHONPATH": "."})


def test_import_utils_first_gives_keras_2():
    result = _run_python(
        "import utils, tensorflow as tf; print(utils.keras_major_version(), tf.keras.__name__)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("2 tf_keras")


def test_import_after_keras_3_tensorflow_raises_clear_error():
    result = _run_python("import tensorflow as tf; tf.keras.Sequential; import utils")
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "Import `utils` before TensorFlow" in result.stderr
    assert "restart" in result.stderr


# --- the field's ranges: a learned activation clip and per-channel weight grids --------------


def test_learned_range_relu_quantizes_on_its_own_range_and_learns_it():

    quantizer = LearnedRangeReLU(2, initial_range=3.0)  # levels 0, 1, 2, 3
    x = tf.constant([-1.0, 0.4, 1.6, 2.9, 5.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = quantizer(x)
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 2.0, 3.0, 3.0])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0, 1, 1, 1, 0])  # inside [0, α]
    assert float(tape.gradient(y, quantizer.alpha)) == 1.0  # the one input above α
    assert quantizer.precision == 2 and quantizer.alpha.trainable
    clone = LearnedRangeReLU.from_config(quantizer.get_config())
    assert (clone.k, clone.initial_range) == (2, 3.0)
    with pytest.raises(ValueError, match="initial_range"):
        LearnedRangeReLU(8, initial_range=0.0)


def test_per_channel_kbit_weights_use_each_channels_own_grid():

    kernel = tf.constant([[0.3, -0.012], [-1.0, 0.02]])  # two output channels (columns)
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        quantized = PerChannelKBitQuantizer(8)(kernel)
    # steps 1/127 and 0.02/127: 0.3 -> 38.1 -> 38 steps, -0.012 -> -76.2 -> -76 steps
    expected = np.array([[38 / 127, -76 * 0.02 / 127], [-1.0, 0.02]])
    np.testing.assert_allclose(quantized.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(tape.gradient(quantized, kernel).numpy(), np.ones((2, 2)))
    coarse = KBitQuantizer(8)(kernel).numpy()  # the report's single grid over [-1, 1)
    # the small channel's -0.012 and 0.02 land on steps of 1/128: errors of 35% and 17%
    assert coarse[0, 1] == pytest.approx(-2 / 128) and coarse[1, 1] == pytest.approx(3 / 128)


# --- the precision map: names to per-role layer settings (report §4.3, §5.1) ------------------


def test_accepted_names():
    assert {"fp32", "binary", "ternary", "int2", "int8", "int16"} <= set(ACCEPTED_PRECISIONS)
    assert "int1" not in ACCEPTED_PRECISIONS and "int17" not in ACCEPTED_PRECISIONS


@pytest.mark.parametrize("bad", ["int1", "int17", "float", "INT8", "", None, 8])
def test_unknown_precision_lists_accepted_names(bad):
    with pytest.raises(ValueError, match="accepted: fp32, binary, ternary, int2..int16"):
        get_precision(bad)


def test_fp32_has_no_quantizers():
    spec = get_precision("fp32")
    assert spec.is_float and spec.bits == 32
    for role in (spec.first, spec.hidden, spec.last):
        assert role.layer_kwargs() == {"input_quantizer": None, "kernel_quantizer": None,
                                       "kernel_constraint": None}


def test_binary_roles():
    spec = get_precision("binary")
    hidden = spec.hidden.layer_kwargs()
    assert isinstance(hidden["input_quantizer"], lq.quantizers.SteSign)
    assert isinstance(hidden["kernel_quantizer"], lq.quantizers.SteSign)
    assert isinstance(hidden["kernel_constraint"], lq.constraints.WeightClip)
    first = spec.first.layer_kwargs()
    assert first["input_quantizer"] is None  # float image in
    assert isinstance(first["kernel_quantizer"], lq.quantizers.SteSign)
    assert not spec.last.is_quantized  # float softmax layer
    assert spec.is_binary and spec.bits == 1


def test_each_call_makes_fresh_quantizer_objects():
    spec = get_precision("int4")
    a, b = spec.hidden.layer_kwargs(), spec.hidden.layer_kwargs()
    assert a["kernel_quantizer"] is not b["kernel_quantizer"]


@pytest.mark.parametrize("k", [2, 8, 16])
def test_k_bit_roles(k):
    spec = get_precision(f"int{k}")
    hidden = spec.hidden.layer_kwargs()
    kernel, inputs = hidden["kernel_quantizer"], hidden["input_quantizer"]
    assert isinstance(kernel, KBitQuantizer) and kernel.k == k
    assert isinstance(inputs, QuantizedReLU) and inputs.k == k
    assert spec.bits == k and not spec.is_binary


def test_ternary_uses_larq_ste_tern():
    hidden = get_precision("ternary").hidden.layer_kwargs()
    assert isinstance(hidden["kernel_quantizer"], lq.quantizers.SteTern)


def test_quantize_first_and_last_options():
    spec = get_precision("binary", quantize_first=True, quantize_last=True)
    assert isinstance(spec.first.layer_kwargs()["input_quantizer"], lq.quantizers.SteSign)
    assert isinstance(spec.last.layer_kwargs()["kernel_quantizer"], lq.quantizers.SteSign)


# --- ABC-Net's multi-base binarization --------------------------------------------------------


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


# --- affine quantization: scale, zero point, per-channel scales, calibration ------------------


def test_integer_ranges():
    assert integer_range(8) == (-128, 127)
    assert integer_range(8, narrow=True) == (-127, 127)
    assert integer_range(8, signed=False) == (0, 255)
    assert integer_range(4) == (-8, 7)
    with pytest.raises(ValueError, match="bits"):
        integer_range(1)


def test_scale_and_zero_point_by_hand():
    # [-1, 3] on int8: S = 4 / 255, Z = round(-128 + 1 / S) = round(-64.25) = -64
    q = affine_from_range(-1.0, 3.0, 8)
    assert float(q.scale) == pytest.approx(4 / 255) and int(q.zero_point) == -64
    assert int(q.quantize(0.0)) == -64 and float(q.dequantize(-64)) == 0.0  # zero is exact
    assert q.quantize([-1.0, 3.0, 10.0]).tolist() == [-128, 127, 127]  # ends, then clamped
    # a range that does not contain zero is widened to it: [2, 6] -> [0, 6], Z at q_min
    widened = affine_from_range(2.0, 6.0, 8)
    assert float(widened.scale) == pytest.approx(6 / 255) and int(widened.zero_point) == -128
    # a constant tensor: [3, 3] -> [0, 3]; all zeros: scale 1, every value on Z
    constant = affine_from_range(3.0, 3.0, 8, signed=False)
    assert float(constant.scale) == pytest.approx(3 / 255) and int(constant.zero_point) == 0
    assert float(constant.fake_quantize(3.0)) == pytest.approx(3.0)
    zeros = affine_from_range(0.0, 0.0, 8)
    assert float(zeros.scale) == 1.0 and zeros.quantize([0.0]).tolist() == [int(zeros.zero_point)]
    with pytest.raises(ValueError, match="must not exceed"):
        affine_from_range([1.0, 2.0], [0.5, -1.0])


@pytest.mark.parametrize("r_min, r_max, bits", [(-1.0, 3.0, 8), (0.0, 6.0, 8), (-0.7, 0.2, 4)])
def test_fake_quantization_matches_tensorflows_op(r_min, r_max, bits):
    values = np.random.default_rng(0).uniform(r_min - 0.5, r_max + 0.5, 1000).astype(np.float32)
    ours = affine_from_range(r_min, r_max, bits, signed=False).fake_quantize(values)
    theirs = tf.quantization.fake_quant_with_min_max_vars(values, r_min, r_max,
                                                          num_bits=bits).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_symmetric_weights_have_zero_point_zero_and_narrow_range():
    weights = np.array([[0.5, -0.01], [-1.0, 0.02]])  # two output channels (last axis)
    tensor = symmetric_scales(weights, per_channel=False)
    channel = symmetric_scales(weights, per_channel=True)
    assert float(tensor.scale) == pytest.approx(1 / 127) and tensor.q_min == -127
    assert channel.scale.tolist() == pytest.approx([1 / 127, 0.02 / 127])
    assert channel.quantize(weights).tolist() == [[64, -64], [-127, 127]]
    assert tensor.quantize(weights)[:, 1].tolist() == [-1, 3]  # the small channel's 3 levels


def test_weight_clip_by_method_by_hand():
    # 1,000 Gaussian weights and one outlier at 12; at 2 bits the grid is {-T, 0, T}
    normal = np.random.default_rng(0).normal(0.0, 1.0, 1000)
    weights = np.append(normal, 12.0)
    minmax = symmetric_scales(weights, 2, per_channel=False)
    assert float(minmax.scale) == 12.0  # T = max|w|, and q_max = 1 at 2 bits

    def error(grid):
        return np.mean((grid.fake_quantize(weights) - weights) ** 2)

    # with T = 12 every Gaussian weight (all below 6 in size) rounds to 0: the error is
    # their power; the outlier itself lands on the grid
    assert np.abs(normal).max() < 6
    assert error(minmax) == pytest.approx(np.sum(normal**2) / weights.size)
    mse = symmetric_scales(weights, 2, per_channel=False, method="mse")
    assert 0.5 < float(mse.scale) < 2.0 and error(mse) < error(minmax) / 2
    # no clip of the 100 candidates (multiples of 0.12) does better than the chosen one
    for candidate in np.linspace(0.12, 12, 100):
        codes = np.clip(np.round(weights / candidate), -1, 1)
        assert np.mean((codes * candidate - weights) ** 2) >= error(mse) - 1e-12
    percentile = symmetric_scales(weights, 2, per_channel=False, method="percentile")
    assert float(percentile.scale) < 12.0
    with pytest.raises(ValueError, match="accepted: minmax"):
        symmetric_scales(weights, 2, method="median")


def test_per_channel_beats_per_tensor_on_unequal_channels():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 16, 8)) * np.geomspace(0.001, 1.0, 8)  # channel ranges
    tensor = weight_quantization_error(kernel, 8, per_channel=False)
    channel = weight_quantization_error(kernel, 8, per_channel=True)
    assert channel["mse"] < tensor["mse"] and channel["sqnr_db"] > tensor["sqnr_db"]
    assert channel["worst_channel_relative_error"] < 0.05 < tensor[
        "worst_channel_relative_error"]
    table = weight_error_table({"conv": kernel}, bits=(4, 8))
    assert table.loc[("conv", 8), "MSE ratio (tensor / channel)"] == pytest.approx(
        tensor["mse"] / channel["mse"])
    assert table.loc[("conv", 8), "largest / median channel range"] > 10
    equal = rng.normal(size=(3, 3, 16, 8))  # equal channels: per-channel gains little
    ratio = (weight_quantization_error(equal, 8, per_channel=False)["mse"]
             / weight_quantization_error(equal, 8, per_channel=True)["mse"])
    assert 1.0 <= ratio < 1.5


def test_calibration_clips_a_heavy_tail_when_the_grid_is_coarse():
    values = np.maximum(np.random.default_rng(0).standard_t(3, 100_000), 0.0)  # ReLU'd tail
    low, high = calibrate(values, "minmax")
    assert (low, high) == (0.0, values.max())
    assert calibrate(values, "percentile", percentile=99.9)[1] == pytest.approx(
        np.percentile(values, 99.9))
    coarse = calibration_table({"relu": values}, bits=4).xs("relu")
    fine = calibration_table({"relu": values}, bits=8).xs("relu")
    # At 4 bits a clipped range beats the full one; at 8 bits the grid is fine enough that
    # clipping the tail costs more than it saves. The MSE search includes min/max.
    assert coarse.loc["mse", "SQNR (dB)"] >= coarse.loc["percentile", "SQNR (dB)"] > (
        coarse.loc["minmax", "SQNR (dB)"] + 3)
    assert fine.loc["mse", "SQNR (dB)"] >= fine.loc["minmax", "SQNR (dB)"] > fine.loc[
        "percentile", "SQNR (dB)"]
    assert coarse.loc["mse", "r_max"] < high / 2 and coarse.loc["mse", "clipped %"] > 0
    assert fine.loc["minmax", "clipped %"] == 0.0
    assert fine.loc["minmax", "zero point"] == -128  # ReLU: zero at the bottom of int8
    with pytest.raises(ValueError, match="accepted: minmax, percentile, mse"):
        calibrate(values, "entropy")


# --- post-training quantization of a trained float network ------------------------------------


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
    table = ptq_table(model, calibration, test_images, test_labels, bits=(2, 8),
                      methods=("minmax", "mse"))
    assert set(table["calibration"]) == {"none", "minmax", "mse"} and len(table) == 1 + 2 * 2 * 2
    accuracy = table[table["calibration"] != "mse"].set_index(
        ["bits", "weight scales"])["test_accuracy"]
    assert accuracy[(32, "float")] > 0.8  # it did train
    # 8 bits: within one point of float on 1,000 test digits (10 images)
    for scales in ("per tensor", "per channel"):
        assert abs(accuracy[(8, scales)] - accuracy[(32, "float")]) <= 0.01
    assert accuracy[(2, "per tensor")] < accuracy[(8, "per tensor")]
