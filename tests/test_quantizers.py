"""Quantizer values, gradients, serialization and larq summary precision (report §3-4)."""

import subprocess
import sys

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from utils.quantizers import (
    KBitQuantizer,
    QuantizedReLU,
    SymmetricQuantizer,
    asymmetric_levels,
    quantize_to_integers,
    symmetric_levels,
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
    from utils.quantizers import LearnedRangeReLU

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
    from utils.quantizers import PerChannelKBitQuantizer

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
