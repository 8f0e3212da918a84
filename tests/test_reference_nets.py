"""The related systems' networks: RWTH's LeNet5, VGG-7 (utils.nets) and Moons et al.'s
k-bit QNN (utils.nets): parameter counts, shapes, block sizes, every kind of precision,
and their place in names, configs, profiles and fingerprints."""

import json

import numpy as np
import pytest

from utils.config import TrainConfig, make_config
from utils.models import MIN_INPUT_SIZE, build_model
from utils.records import code_fingerprint, fingerprint_modules

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


def test_reference_block_fields_leave_existing_hashes_alone():
    # hashes of these configs before block_layers and block_filters existed (commit 241f66d)
    assert TrainConfig(model="alexnet", precision="binary",
                       image_size=67).config_hash() == "b789dcd711"
    assert TrainConfig(model="googlenet", precision="int8", image_size=48,
                       activation="hardtanh").config_hash() == "356fbb9928"
    default = make_config("qnn", "int4", profile="quick")
    sized = default.replace(block_layers=(1, 1, 1))
    assert sized.config_hash() != default.config_hash()
    assert sized.replace(block_layers=None).config_hash() == default.config_hash()


def test_reference_profiles():
    for name in ("lenet5", "vgg7", "qnn"):
        smoke = make_config(name, "binary", profile="smoke")
        assert (smoke.image_size, smoke.epochs, smoke.limit) == (28, 1, 128)
        assert smoke.width <= 0.25
        quick = make_config(name, "binary", profile="quick")
        assert quick.batch_norm and not quick.augment
        assert (quick.learning_rate, quick.lr_schedule) == (1e-2, "cosine")
        assert make_config(name, "fp32", profile="full").image_size >= 28
    assert make_config("lenet5", "fp32").image_size == 28
    assert make_config("vgg7", "fp32").image_size == 32
    assert make_config("qnn", "int4").image_size == 28


def _removed():
    assert fingerprint_modules("lenet5", "binary")[-1] == "nets.reference"
    assert fingerprint_modules("vgg7", "fp32")[-1] == "nets.reference"
    assert fingerprint_modules("qnn", "int4")[-1] == "nets.qnn"
    assert fingerprint_modules("qnn", "abc_w3a1")[-2:] == ("nets.qnn", "multibase")
    assert code_fingerprint("lenet5", "binary") == code_fingerprint("vgg7", "binary")
    assert code_fingerprint("qnn", "binary") != code_fingerprint("lenet5", "binary")
