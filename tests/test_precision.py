"""The precision map: names to per-role layer settings (report §4.3, §5.1)."""

import larq as lq
import pytest

from utils.quantizers import ACCEPTED_PRECISIONS, KBitQuantizer, QuantizedReLU, get_precision


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
