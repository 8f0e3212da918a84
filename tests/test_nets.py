"""Tests for utils.nets, the networks built through utils.models.build_model:

- DenseAsConv2D: same outputs and gradients as larq's QuantConv2D, saves, and converts;
- the small networks of notebook 02 (mlp, small_cnn), built by the same layer factory as
  AlexNet and GoogLeNet;
- the related systems' networks: RWTH's LeNet5, VGG-7 and Moons et al.'s k-bit QNN:
  parameter counts, shapes, block sizes and every kind of precision.

AlexNet and GoogLeNet themselves are tested in tests/test_models.py."""

import json

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import utils  # noqa: F401  (selects tf-keras)
from utils.config import TrainConfig, make_config
from utils.deploy import convert_binary, count_lce_ops
from utils.environment import lce_available
from utils.models import MIN_INPUT_SIZE, build_model
from utils.nets import DenseAsConv2D, pointwise_conv
from utils.quantizers import KBitQuantizer, QuantizedReLU
from utils.records import code_fingerprint, fingerprint_modules


def _pair(**kwargs):
    """A DenseAsConv2D and a QuantConv2D(1x1) holding the same weights."""
    fast = DenseAsConv2D(6, **kwargs)
    plain = lq.layers.QuantConv2D(6, 1, **kwargs)
    inputs = tf.random.stateless_normal((4, 1, 1, 10), seed=(1, 2))
    fast(inputs), plain(inputs)
    plain.set_weights(fast.get_weights())
    return fast, plain, inputs


def _gradients(layer, inputs):
    inputs = tf.Variable(inputs)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.sin(layer(inputs)))
    return tape.gradient(loss, [inputs, *layer.trainable_variables])


@pytest.mark.parametrize("quantizers", [
    {},
    {"input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign",
     "kernel_constraint": "weight_clip"},
])
def test_outputs_and_gradients_match_quant_conv2d(quantizers):
    fast, plain, inputs = _pair(**quantizers)
    np.testing.assert_allclose(fast(inputs), plain(inputs), rtol=1e-5, atol=1e-5)
    for mine, reference in zip(_gradients(fast, inputs), _gradients(plain, inputs), strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=1e-5)


def test_pointwise_conv_gradient_on_larger_maps():
    inputs = tf.Variable(tf.random.stateless_normal((2, 3, 5, 4), seed=(3, 4)))
    kernel = tf.Variable(tf.random.stateless_normal((1, 1, 4, 7), seed=(5, 6)))
    results = []
    for convolve in (pointwise_conv,
                     lambda x, k: tf.nn.conv2d(x, k, strides=1, padding="VALID")):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(convolve(inputs, kernel)))
        results.append(tape.gradient(loss, [inputs, kernel]))
    for mine, reference in zip(*results, strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-5)


def test_fixed_arguments_and_serialization(tmp_path):
    inputs = tf.keras.Input((1, 1, 8))
    outputs = DenseAsConv2D(3, kernel_quantizer="ste_sign", input_quantizer="ste_sign")(inputs)
    model = tf.keras.Model(inputs, outputs)
    layer = model.layers[-1]
    assert layer.kernel_size == (1, 1) and layer.strides == (1, 1) and layer.padding == "valid"
    model.save(tmp_path / "m.keras")
    loaded = tf.keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[-1]) is DenseAsConv2D
    batch = np.random.default_rng(0).normal(size=(2, 1, 1, 8)).astype(np.float32)
    np.testing.assert_allclose(loaded(batch), model(batch))


@pytest.mark.skipif(not lce_available(), reason="larq-compute-engine not importable")
def test_binary_dense_as_conv_becomes_lce_binary_convolution():
    inputs = tf.keras.Input((1, 1, 64))
    outputs = DenseAsConv2D(32, input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                            use_bias=False)(inputs)
    outputs = tf.keras.layers.BatchNormalization()(outputs)
    ops = count_lce_ops(convert_binary(tf.keras.Model(inputs, outputs)))
    assert ops.get("LceBconv2d") == 1, ops


# --- the small networks of notebook 02: mlp and small_cnn -------------------------------------


def _quant_layers(model):
    return [layer for layer in model.layers if isinstance(layer, lq.layers.QuantizerBase)]


def test_binary_mlp_layers_follow_report_5_5():
    model = build_model("mlp", "binary", (28, 28, 3), 10, width=0.0625)
    assert model.output_shape == (None, 10)
    dense = [layer for layer in model.layers if isinstance(layer, DenseAsConv2D)]
    assert len(dense) == 3  # three hidden layers, 1x1 convolutions that LCE bit-packs
    assert [layer.filters for layer in dense] == [32, 32, 32]
    first, *hidden = dense
    assert first.input_quantizer is None  # float input
    assert isinstance(first.kernel_quantizer, lq.quantizers.SteSign)
    for layer in hidden:
        assert isinstance(layer.input_quantizer, lq.quantizers.SteSign)
        assert isinstance(layer.kernel_quantizer, lq.quantizers.SteSign)
        assert isinstance(layer.kernel_constraint, lq.constraints.WeightClip)
    norms = [layer for layer in model.layers
             if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert len(norms) == 3 and not any(bn.scale for bn in norms)
    last = model.layers[-1]
    assert type(last) is tf.keras.layers.Dense and last.activation.__name__ == "softmax"


def test_kbit_small_nets_use_kbit_quantizers_and_the_grid_aware_start():
    model = build_model("mlp", "int4", (28, 28, 3), 10, width=0.125)
    first, second, _ = [layer for layer in model.layers if isinstance(layer, DenseAsConv2D)]
    assert isinstance(first.kernel_quantizer, KBitQuantizer) and first.kernel_quantizer.k == 4
    assert isinstance(second.input_quantizer, QuantizedReLU)
    # 64 units after 2,352 inputs: Glorot's limit 0.05 is under the 4-bit step 0.125, so the
    # kernel starts uniform in [-step, step], as in AlexNet and GoogLeNet (utils.nets).
    kernel = first.kernel.numpy()
    assert -0.125 <= kernel.min() < -0.1 and 0.1 < kernel.max() <= 0.125
    cnn = build_model("small_cnn", "int2", (28, 28, 3), 10, width=0.125)
    convs = [layer for layer in cnn.layers if isinstance(layer, lq.layers.QuantConv2D)
             and not isinstance(layer, DenseAsConv2D)]
    assert [layer.filters for layer in convs] == [4, 8]
    assert convs[0].input_quantizer is None
    assert isinstance(convs[1].input_quantizer, QuantizedReLU)


@pytest.mark.parametrize("precision", ["fp32", "binary", "int8"])
def test_small_cnn_builds_and_runs(precision):
    model = build_model("small_cnn", precision, (28, 28, 3), 10, width=0.125)
    out = model(np.zeros((2, 28, 28, 3), np.float32))
    assert out.shape == (2, 10)
    np.testing.assert_allclose(out.numpy().sum(axis=1), 1.0, rtol=1e-5)
    assert bool(_quant_layers(model)) == (precision != "fp32")


# --- the related systems' networks: RWTH's LeNet5, VGG-7 and Moons et al.'s k-bit QNN ---------


# Hand-computed parameter counts of the float networks without batch norm (so every
# convolution and dense layer has a bias), on 3-channel images and 10 classes.
PARAMETER_COUNTS = [
    # lenet5 at width 1.0, 28 px: conv1 5·5·3·32 + 32 = 2,432; conv2 5·5·32·64 + 64 = 51,264;
    # maps 28 -> 14 -> 10 -> 5, so fc1 5·5·64·512 + 512 = 819,712; classifier 512·10 + 10
    # = 5,130.
    (("lenet5", 28, 1.0, {}), 2_432 + 51_264 + 819_712 + 5_130),
    # lenet5 at width 0.5: 16 and 32 filters, 256 units: 1,216 + 12,832 + (800·256 + 256)
    # + 2,570.
    (("lenet5", 28, 0.5, {}), 1_216 + 12_832 + 205_056 + 2_570),
    # vgg7 at width 1.0, 32 px: 3x3 convolutions 3->128->128->256->256->512->512 (each
    # 9·in·out + out), maps 32 -> 16 -> 8 -> 4, fc1 4·4·512·1024 + 1024, classifier 10,250.
    (("vgg7", 32, 1.0, {}), 3_584 + 147_584 + 295_168 + 590_080 + 1_180_160 + 2_359_808
     + 8_389_632 + 10_250),
    # vgg7 at width 0.125: 16, 16, 32, 32, 64, 64 filters and 128 units.
    (("vgg7", 32, 0.125, {}), 448 + 2_320 + 4_640 + 9_248 + 18_496 + 36_928
     + (1_024 * 128 + 128) + 1_290),
    # qnn, default blocks (one 3x3 convolution of 64 filters each), 28 px: 9·3·64 + 64,
    # twice 9·64·64 + 64, maps 28 -> 14 -> 7 -> 3, classifier 3·3·64·10 + 10.
    (("qnn", 28, 1.0, {}), 1_792 + 36_928 + 36_928 + 5_770),
    # qnn with blocks of 2, 1, 3 layers and 8, 16, 32 filters at 16 px: block A 224 + 584,
    # block B 1,168, block C 4,640 + 9,248 + 9,248, maps 16 -> 8 -> 4 -> 2, classifier
    # 2·2·32·10 + 10.
    (("qnn", 16, 1.0, {"block_layers": (2, 1, 3), "block_filters": (8, 16, 32)}),
     224 + 584 + 1_168 + 4_640 + 9_248 + 9_248 + 1_290),
]


@pytest.mark.parametrize(("arguments", "expected"), PARAMETER_COUNTS,
                         ids=lambda value: str(value) if isinstance(value, int) else None)
def test_reference_parameter_counts_match_the_hand_computed_ones(arguments, expected):
    name, size, width, options = arguments
    model = build_model(name, "fp32", (size, size, 3), 10, width, **options)
    assert model.count_params() == expected


def test_reference_lenet5_follows_rwth_s_layers():
    model = build_model("lenet5", "fp32", (28, 28, 3), 10)
    shapes = {layer.name: layer.output_shape[1:] for layer in model.layers}
    assert shapes["conv1_relu"] == (28, 28, 32)  # same-padded 5x5
    assert shapes["conv1_pool"] == (14, 14, 32)
    assert shapes["conv2_relu"] == (10, 10, 64)  # unpadded 5x5
    assert shapes["conv2_pool"] == (5, 5, 64)
    assert shapes["fc1_relu"] == (512,)


def test_reference_vgg7_stages_end_in_pools():
    model = build_model("vgg7", "binary", (32, 32, 3), 10, width=0.125)
    pools = [layer.output_shape[1:] for layer in model.layers if layer.name.endswith("_pool")]
    assert pools == [(16, 16, 16), (8, 8, 32), (4, 4, 64)]
    convolutions = [layer for layer in model.layers if layer.name.startswith("conv")
                    and not layer.name.endswith(("_bn", "_pool"))]
    assert len(convolutions) == 6
    assert all(layer.padding == "same" for layer in convolutions)
    # binary same-padded layers pad with +1, except the first (float image, no sign)
    assert [getattr(layer, "pad_values", 0.0) for layer in convolutions] == [0.0] + [1.0] * 5


def test_reference_qnn_block_sizes():
    model = build_model("qnn", "int4", (28, 28, 3), 10, width=0.5, block_layers=(2, 1, 3),
                        block_filters=(16, 32, 64))
    convolutions = {layer.name: layer.filters for layer in model.layers
                    if "_conv" in layer.name and not layer.name.endswith("_bn")}
    assert convolutions == {"blockA_conv1": 8, "blockA_conv2": 8, "blockB_conv1": 16,
                            "blockC_conv1": 32, "blockC_conv2": 32, "blockC_conv3": 32}
    pools = [layer.output_shape[1:3] for layer in model.layers if layer.name.endswith("_pool")]
    assert pools == [(14, 14), (7, 7), (3, 3)]
    default = build_model("qnn", "fp32", (28, 28, 3), 10)
    assert [layer.filters for layer in default.layers if "_conv" in layer.name
            and hasattr(layer, "filters")] == [64, 64, 64]


@pytest.mark.parametrize("precision", ["fp32", "binary", "int4", "abc_w3a1"])
@pytest.mark.parametrize("name", ["lenet5", "vgg7", "qnn"])
def test_reference_nets_build_and_run_at_every_kind_of_precision(name, precision):
    size = MIN_INPUT_SIZE[name] + 8
    model = build_model(name, precision, (size, size, 3), 10, width=0.125)
    assert model.name == f"{name}_{precision}"
    images = np.random.default_rng(0).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    probabilities = model.predict(images, verbose=0)
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", ["lenet5", "vgg7", "qnn"])
def test_reference_nets_admit_their_minimum_input_and_refuse_less(name):
    minimum = MIN_INPUT_SIZE[name]
    model = build_model(name, "binary", (minimum, minimum, 3), 10, width=0.0625)
    assert model.output_shape == (None, 10)
    with pytest.raises(ValueError, match=f"at least {minimum}x{minimum}"):
        build_model(name, "binary", (minimum - 1, minimum - 1, 3), 10)


def test_reference_qnn_hardtanh_k_bit_layers():
    model = build_model("qnn", "int4", (28, 28, 3), 10, width=0.25, activation="hardtanh")
    quantizers = {type(layer.input_quantizer).__name__ for layer in model.layers
                  if getattr(layer, "input_quantizer", None) is not None}
    assert quantizers == {"KBitQuantizer"}  # the symmetric grid on [-1, 1), not ReLU's


@pytest.mark.parametrize(("options", "message"), [
    ({"block_layers": (1, 1)}, "block_layers must be three integers >= 1"),
    ({"block_filters": (64, 0, 64)}, "block_filters must be three integers >= 1"),
    ({"block_layers": "111"}, "block_layers must be three integers"),
    ({"block_layers": (1, 1.5, 1)}, "block_layers must be three integers"),
])
def test_reference_qnn_refuses_bad_block_sizes(options, message):
    with pytest.raises(ValueError, match=message):
        build_model("qnn", "fp32", (28, 28, 3), 10, **options)
    with pytest.raises(ValueError, match=message):
        make_config("qnn", "fp32", profile="smoke", **options)


def test_reference_block_sizes_only_apply_to_qnn():
    with pytest.raises(ValueError, match="block_layers only apply to 'qnn', not to 'lenet5'"):
        build_model("lenet5", "fp32", (28, 28, 3), 10, block_layers=(1, 1, 1))
    with pytest.raises(ValueError, match="block_filters sizes the blocks of model 'qnn'"):
        make_config("alexnet", "fp32", profile="smoke", block_filters=(8, 8, 8))


def test_reference_qnn_config_round_trips_its_block_sizes_and_builds_them():
    config = make_config("qnn", "int4", profile="smoke", activation="hardtanh",
                         block_layers=[2, 1, 1], block_filters=[32, 64, 128])
    assert config.block_layers == (2, 1, 1) and config.block_filters == (32, 64, 128)
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.config_hash() == config.config_hash()
    assert config.model_options()["block_layers"] == (2, 1, 1)
    model = build_model("qnn", "int4", (28, 28, 3), 10, config.width, **config.model_options())
    assert model.get_layer("blockA_conv2").filters == 8  # 32 at the smoke width 0.25


def _removed():
    assert fingerprint_modules("lenet5", "binary")[-1] == "nets.reference"
    assert fingerprint_modules("vgg7", "fp32")[-1] == "nets.reference"
    assert fingerprint_modules("qnn", "int4")[-1] == "nets.qnn"
    assert fingerprint_modules("qnn", "abc_w3a1")[-2:] == ("nets.qnn", "multibase")
    assert code_fingerprint("lenet5", "binary") == code_fingerprint("vgg7", "binary")
    assert code_fingerprint("qnn", "binary") != code_fingerprint("lenet5", "binary")
