"""Deployment: converting trained networks to ``.tflite`` files (TFLite's int8, LCE's binary
ops), running them with the interpreter, and reading what a file holds.

Reading a ``.tflite`` file: its ops, what its bytes hold, and its tensors.
--------------------------------------------------------------------------

Read with TensorFlow's own flatbuffer schema (``tensorflow.lite.python``), so reading a file
needs no interpreter and no LCE: :func:`count_lce_ops` counts ops by name (TFLite's builtins and
LCE's custom ops), :func:`file_bytes` says where every byte goes (weights, biases,
quantization parameters, float tensors and why they stayed float, the graph),
and :func:`operator_tensors` gives the input and output tensors of every op of one kind,
with their types, shapes, quantization scales and zero points, and their constant data
(the weights) where the file stores any.

Deployment: real ``.tflite`` files at each precision, with their sizes, latency and accuracy.
---------------------------------------------------------------------------------------------

Four kinds of file, each made by the field's own converter:

- float32: TensorFlow's TFLite converter, unoptimized (:func:`convert_float`);
- int8 by post-training quantization: the same converter's full-integer quantization, with
  int8 weights, activations, input and output (:func:`convert_int8`), calibrated on training
  images, made from the float network or from the report's 8-bit network (through its
  :func:`float_twin`);
- int8 from quantization-aware training (:func:`convert_qat`): the "int8_qat" network
  (:mod:`utils.qat`) carries its own ranges, so the converter needs no calibration;
- binary: Larq Compute Engine's converter (:func:`convert_binary`), which stores binary
  convolutions as ``LceBconv2d`` ops with bit-packed weights (32 per int32 word) and
  binarizes their inputs with ``LceQuantize``.

Every file takes one image, its input shape fixed to (1, h, w, c), so that every tensor's
shape is known when the file is loaded (:func:`_one_image_converter` says why that matters).
Each file runs where it would on a device (:class:`TFLiteModel`): float32 and int8 files in
TensorFlow's own TFLite interpreter with its default delegate (XNNPACK, TFLite's optimized
CPU kernels, as a phone would run them), binary files in LCE's interpreter, the only one
that has LCE's ops. A file the default delegate cannot prepare is run again without it
before it is declared unusable (:func:`runtime_failure`). On x86 LCE runs reference kernels,
not its optimized ARM kernels, so binary latency measured here is no guide to a phone or a
Raspberry Pi; the file size is.

:mod:`utils.deploy_bench` (``python -m utils.deploy_bench``) uses these to measure both
networks at full size and the trained ones, and writes ``results/bench_deploy.json``.
"""

from __future__ import annotations

import copy
import statistics
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np
import pandas as pd
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as tflite_schema
from tensorflow.lite.python.schema_util import get_builtin_code_from_operator_code

from utils.environment import LCE_MISSING, lce_available
from utils.names import QAT_PRECISION
from utils.quantizers import QuantizedReLU
from utils.records import write_bytes_atomic

__all__ = ["ACCURACY_TOLERANCE_POINTS", "CONVERTER_FOLD_LIMIT", "FLOAT_CONSTANTS",
           "FLOAT_REASONS", "GRAPH_KINDS", "INT8_PER_CHANNEL", "KernelSplit",
           "PER_TENSOR_SUFFIX", "TFLiteModel", "convert_binary", "convert_float", "convert_int8",
           "convert_qat", "count_lce_ops", "deploy_and_measure", "file_bytes", "float_twin",
           "kernel_splits", "latency_ms", "operator_tensors", "runtime_failure", "runtime_for",
           "save_tflite", "split_for_converter", "weight_scales"]

_NUMPY_TYPES = {"FLOAT32": np.float32, "INT8": np.int8, "INT32": np.int32, "UINT8": np.uint8,
                "INT64": np.int64, "INT16": np.int16}


def _read_flatbuffer(flatbuffer: bytes) -> tflite_schema.ModelT:
    return tflite_schema.ModelT.InitFromObj(tflite_schema.Model.GetRootAs(flatbuffer, 0))


def _names(enum_class) -> dict[int, str]:
    return {value: name for name, value in vars(enum_class).items() if not name.startswith("_")}


def _read_flatbuffer_codes(model: tflite_schema.Model) -> tflite_schema.ModelT:
    """The object form of ``model`` with its op codes only (no copy of its buffers)."""
    codes = tflite_schema.ModelT()
    codes.operatorCodes = [tflite_schema.OperatorCodeT.InitFromObj(model.OperatorCodes(i))
                           for i in range(model.OperatorCodesLength())]
    return codes


def _op_names(model: tflite_schema.ModelT) -> list[str]:
    """Name of each operator code: TFLite's enum name, or the custom code (LCE's ops)."""
    builtin = _names(tflite_schema.BuiltinOperator)
    return [code.customCode.decode() if code.customCode
            else builtin[get_builtin_code_from_operator_code(code)]
            for code in model.operatorCodes]


def count_lce_ops(flatbuffer: bytes) -> dict[str, int]:
    """How many times each op occurs in a TFLite file, e.g. {"LceBconv2d": 56, "CONV_2D": 1}.

    Builtin ops carry TFLite's enum names, custom ops (LCE's) their custom code. Read with
    TensorFlow's flatbuffer schema, so it needs neither LCE nor an interpreter.
    """
    model = _read_flatbuffer(flatbuffer)
    names = _op_names(model)
    return dict(Counter(names[op.opcodeIndex]
                        for subgraph in model.subgraphs for op in subgraph.operators))


# Why a constant stays float32 in a file whose weights are otherwise integer or binary, by
# the op that reads it (a float32 file is float throughout and needs no reason).
FLOAT_REASONS = {
    "LceBconv2d": "a binary convolution's per-channel output multiplier and bias (its batch "
                  "normalization, folded): LCE applies them in float32",
    "CONV_2D": "the first layer, kept real-valued (its input is the image; report section 4)",
    "FULLY_CONNECTED": "the last layer, kept real-valued (report section 4)",
    "MUL": "a batch normalization the converter could not fold into a binary convolution",
    "ADD": "a batch normalization the converter could not fold into a binary convolution",
}
# Ops whose second and third inputs are a weight tensor and a bias.
_WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "LceBconv2d")
FLOAT_CONSTANTS = "float32 weights and biases"
GRAPH_KINDS = ("graph: tensors", "graph: operators", "graph: buffer list",
               "graph: model, subgraphs, op codes")


def _constant_kind(op: str, position: int, type_name: str) -> str:
    """What a stored constant is, from the op that reads it, its input position and type."""
    if type_name == "FLOAT32":
        return FLOAT_CONSTANTS
    if op == "LceBconv2d" and position == 1:
        return "bit-packed binary weights"
    if op in _WEIGHTED_OPS and position == 2 and type_name == "INT32":
        return "int32 biases"
    if op in _WEIGHTED_OPS and position == 1:
        return f"{type_name.lower()} weights"
    return "other constants (shapes, axes, clip values, thresholds)"


class _Tables:
    """Bytes of flatbuffer tables, each table and vtable counted once (tables share equal
    vtables).

    Written by hand: TensorFlow's generated schema reads a file's fields but not the bytes
    its tables take, which ``flatbuffers`` lays out as an offset to a vtable (two 16-bit
    sizes, then one 16-bit offset per field) followed by the table's inline fields.
    """

    def __init__(self):
        self.vtables: set[int] = set()
        self.tables: set[int] = set()

    def size(self, table) -> int:
        """Bytes of ``table`` not counted before: converters store one empty buffer table
        and point every empty buffer at it, so a table met twice counts once."""
        tab = table if isinstance(table, flatbuffers.table.Table) else table._tab
        if tab.Pos in self.tables:
            return 0
        self.tables.add(tab.Pos)
        vtable = tab.Pos - tab.Get(flatbuffers.number_types.SOffsetTFlags, tab.Pos)
        size = tab.Get(flatbuffers.number_types.VOffsetTFlags, vtable + 2)
        if vtable not in self.vtables:
            self.vtables.add(vtable)
            size += tab.Get(flatbuffers.number_types.VOffsetTFlags, vtable)
        return size


def _vector(length: int, width: int = 4) -> int:
    """Bytes of a flatbuffer vector of ``length`` elements: a 4-byte length, then the data."""
    return 4 + length * width


def _string(text: bytes | None) -> int:
    return 0 if text is None else 4 + len(text) + 1  # a length, the bytes, a closing NUL


def file_bytes(flatbuffer: bytes) -> dict[str, Any]:
    """Where every byte of a TFLite file goes (the size ratios of report section 6, explained).

    Returns ``{"size": bytes, "kinds": {kind: bytes}, "padding": bytes, "float_tensors":
    [...], "accounted_percent": ...}``. The kinds, each measured from the file's layout:

    - the constants, by what the op that reads them makes of them: "int8 weights", "int32
      biases", "bit-packed binary weights" (LCE: 32 weights per int32 word), "float32
      weights and biases", "other constants" (shapes and axes of reshapes and means, the
      clip values of the report's quantizers);
    - "quantization parameters, per channel" and "..., per tensor": each quantized tensor's
      float32 scales and int64 zero points (and float32 min/max where kept), one per output
      channel or one per tensor, with the table that holds them;
    - "tensor names" (kept for debugging; ``flatbuffer_utils.strip_strings`` drops them) and
      "metadata" (the converter's notes: minimum runtime version, conversion settings);
    - the graph (:data:`GRAPH_KINDS`): each tensor's table and shape, each op's table,
      input and output lists and options, the list of buffers, and the model's own tables;
    ``padding`` is what is left: the zero bytes that align vectors and large buffers, and
    anything this function does not know of, so ``accounted_percent`` (100 minus its share)
    says how completely the file is explained.

    ``float_tensors``: in a file whose weights are integer or binary, one entry per op that
    reads float32 constants: its bytes, how many tensors and their names, and why they stay
    float (:data:`FLOAT_REASONS`). A buffer read by several ops counts once, for the first.
    """
    tensors_kind, operators_kind, buffer_list_kind, model_kind = GRAPH_KINDS
    model = tflite_schema.Model.GetRootAs(flatbuffer, 0)
    names, types = _op_names(_read_flatbuffer_codes(model)), _names(tflite_schema.TensorType)
    kinds, tables, seen, floats = Counter(), _Tables(), set(), {}
    kinds[model_kind] += 8 + tables.size(model)  # root offset, id
    kinds[model_kind] += _vector(model.OperatorCodesLength()) + sum(
        tables.size(model.OperatorCodes(i)) + _string(model.OperatorCodes(i).CustomCode())
        for i in range(model.OperatorCodesLength()))
    kinds[model_kind] += _string(model.Description())
    kinds[buffer_list_kind] += _vector(model.BuffersLength()) + sum(
        tables.size(model.Buffers(i)) for i in range(model.BuffersLength()))
    for index in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(index)
        kinds[model_kind] += (
            tables.size(subgraph) + _vector(subgraph.InputsLength())
            + _vector(subgraph.OutputsLength()) + _string(subgraph.Name()) + 4)
        kinds[tensors_kind] += _vector(subgraph.TensorsLength())
        for t in range(subgraph.TensorsLength()):
            tensor = subgraph.Tensors(t)
            kinds[tensors_kind] += tables.size(tensor) + sum(
                _vector(length) for length, present in (
                    (tensor.ShapeLength(), not tensor.ShapeIsNone()),
                    (tensor.ShapeSignatureLength(), not tensor.ShapeSignatureIsNone()))
                if present)
            kinds["tensor names"] += _string(tensor.Name())
            quantization = tensor.Quantization()
            if quantization is not None:
                stored = tables.size(quantization) + sum(
                    _vector(length, width) for length, width, present in (
                        (quantization.ScaleLength(), 4, not quantization.ScaleIsNone()),
                        (quantization.ZeroPointLength(), 8, not quantization.ZeroPointIsNone()),
                        (quantization.MinLength(), 4, not quantization.MinIsNone()),
                        (quantization.MaxLength(), 4, not quantization.MaxIsNone()))
                    if present)
                per = "per channel" if quantization.ScaleLength() > 1 else "per tensor"
                kinds[f"quantization parameters, {per}"] += stored
        kinds[operators_kind] += _vector(subgraph.OperatorsLength())
        for o in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(o)
            op_name = names[op.OpcodeIndex()]
            options = op.BuiltinOptions()
            kinds[operators_kind] += (
                tables.size(op) + _vector(op.InputsLength()) + _vector(op.OutputsLength())
                + (0 if options is None else tables.size(options))
                + (0 if op.CustomOptionsIsNone() else _vector(op.CustomOptionsLength(), 1))
                + (0 if op.IntermediatesIsNone() else _vector(op.IntermediatesLength()))
                + (0 if op.MutatingVariableInputsIsNone()
                   else _vector(op.MutatingVariableInputsLength(), 1)))
            for position in range(op.InputsLength()):
                index_of = op.Inputs(position)
                if index_of < 0:
                    continue
                tensor = subgraph.Tensors(index_of)
                length = model.Buffers(tensor.Buffer()).DataLength()
                if not length or tensor.Buffer() in seen:
                    continue
                seen.add(tensor.Buffer())
                kind = _constant_kind(op_name, position, types[tensor.Type()])
                kinds[kind] += _vector(length, 1)
                if kind == FLOAT_CONSTANTS:
                    entry = floats.setdefault(op_name, {"op": op_name, "bytes": 0,
                                                        "tensors": []})
                    entry["bytes"] += _vector(length, 1)
                    entry["tensors"].append((tensor.Name() or b"").decode())
    for m in range(model.MetadataLength()):
        metadata = model.Metadata(m)
        length = model.Buffers(metadata.Buffer()).DataLength()
        kinds["metadata"] += (tables.size(metadata) + _string(metadata.Name())
                              + (_vector(length, 1) if length and metadata.Buffer() not in seen
                                 else 0))
        seen.add(metadata.Buffer())
    kinds["metadata"] += 0 if model.MetadataIsNone() else _vector(model.MetadataLength())
    kinds[model_kind] += (
        0 if model.MetadataBufferIsNone() else _vector(model.MetadataBufferLength()))
    for s in range(model.SignatureDefsLength()):
        kinds[model_kind] += _signature_bytes(
            model.SignatureDefs(s), tables)
    kinds[model_kind] += (
        0 if model.SignatureDefsIsNone() else _vector(model.SignatureDefsLength()))
    kinds = {kind: size for kind, size in kinds.items() if size}
    padding = len(flatbuffer) - sum(kinds.values())
    integer_or_binary = any(kind in kinds for kind in (
        "int8 weights", "bit-packed binary weights"))
    float_tensors = [
        {**entry, "count": len(entry["tensors"]),
         "why": FLOAT_REASONS.get(op, "no reason known: an op that stayed float")}
        for op, entry in floats.items()] if integer_or_binary else []
    return {"size": len(flatbuffer), "kinds": kinds, "padding": padding,
            "float_tensors": float_tensors,
            "accounted_percent": 100 * (1 - padding / len(flatbuffer))}


def _signature_bytes(signature, tables: _Tables) -> int:
    """A signature definition's tables and strings (the names the interpreter's runner uses)."""
    size = tables.size(signature) + _string(signature.SignatureKey())
    for count, item in ((signature.InputsLength(), signature.Inputs),
                        (signature.OutputsLength(), signature.Outputs)):
        size += _vector(count) + sum(tables.size(item(i)) + _string(item(i).Name())
                                     for i in range(count))
    return size


def _tensor(model: tflite_schema.ModelT, subgraph, index: int) -> dict[str, Any]:
    tensor = subgraph.tensors[index]
    type_name = _names(tflite_schema.TensorType)[tensor.type]
    quantization = tensor.quantization
    data = model.buffers[tensor.buffer].data
    values = None
    if data is not None and type_name in _NUMPY_TYPES:
        values = np.frombuffer(bytes(data), dtype=_NUMPY_TYPES[type_name]).reshape(
            tuple(tensor.shape))
    return {
        "index": index,
        "name": (tensor.name or b"").decode(),
        "type": type_name,
        "shape": tuple(int(size) for size in tensor.shape),
        "scale": [] if quantization is None or quantization.scale is None
        else [float(value) for value in quantization.scale],
        "zero_point": [] if quantization is None or quantization.zeroPoint is None
        else [int(value) for value in quantization.zeroPoint],
        "values": values,
    }


def operator_tensors(flatbuffer: bytes, op_name: str) -> list[dict[str, Any]]:
    """Every op named ``op_name`` (e.g. "CONV_2D", "LceBconv2d"), in graph order.

    Each entry has the op's ``options`` (a dict of its builtin options: strides, padding,
    fused activation...) and ``inputs`` and ``outputs``: per tensor its ``index`` in the
    subgraph, ``name``, ``type`` ("INT8", "FLOAT32"...), ``shape``, per-tensor or
    per-channel ``scale`` and ``zero_point`` (empty lists when not quantized) and ``values``
    (the stored constant as a numpy array, None for activations).
    """
    model = _read_flatbuffer(flatbuffer)
    names = _op_names(model)
    found = []
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if names[op.opcodeIndex] != op_name:
                continue
            options = op.builtinOptions
            found.append({
                "options": {} if options is None else {
                    key: value for key, value in vars(options).items()},
                "inputs": [_tensor(model, subgraph, i) for i in op.inputs if i >= 0],
                "outputs": [_tensor(model, subgraph, i) for i in op.outputs],
            })
    return found


# A converted file preserves accuracy when it loses at most this many percentage points
# against its Keras model, or at most one test image, whichever is more (a gain never fails).
ACCURACY_TOLERANCE_POINTS = 0.5
# Calibration images used by full-integer quantization (TFLite suggests about 100 to 500).
MAX_CALIBRATION_IMAGES = 200
# Int8 weight scales: per output channel by default, as TFLite's converter does (see
# convert_int8); deploy_and_measure adds a per-tensor file of the float network beside it.
INT8_PER_CHANNEL = True
PER_TENSOR_SUFFIX = "_per_tensor"


def _one_image_converter(model: tf.keras.Model) -> tf.lite.TFLiteConverter:
    """TFLite's converter for ``model`` with its input fixed to one image, (1, h, w, c).

    Every file runs one image at a time (:class:`TFLiteModel`), and LCE's converter fixes
    the binary files' batch to 1 as well. Left free, the batch size is read at run time
    wherever a Keras ``Reshape`` needs it (the (1, 1, C) tensor before the dense layers
    that are 1x1 convolutions: SHAPE, STRIDED_SLICE and PACK ops), and the interpreter's
    default delegate, XNNPACK, which takes static shapes only, leaves the whole graph to
    the builtin kernels: full-size AlexNet's ``int8_qat`` file ran about ten times slower
    (``results/bench_deploy.json`` of commit fee69f5 against the next measurement). Fixed,
    the converter folds those ops into one static RESHAPE; the builtin kernels compute the
    same int8 outputs from either file (tested). The model is traced as a concrete function
    with a batch of one, the way TFLite's guide fixes a batch size; input and output keep
    the Keras model's names.
    """
    spec = tf.TensorSpec((1, *model.input_shape[1:]), model.inputs[0].dtype,
                         name=model.input_names[0])
    output_name = model.output_names[0]
    run = tf.function(lambda image: {output_name: model(image, training=False)})
    return tf.lite.TFLiteConverter.from_concrete_functions(
        [run.get_concrete_function(spec)], model)


def convert_float(model: tf.keras.Model) -> bytes:
    """Float32 TFLite flatbuffer of ``model`` (TensorFlow's converter, no optimization), its
    input one image (:func:`_one_image_converter`)."""
    return _one_image_converter(model).convert()


def _is_quantized_layer(layer) -> bool:
    return (getattr(layer, "kernel_quantizer", None) is not None
            or getattr(layer, "input_quantizer", None) is not None)


def _plain_activation(layer):
    """The integer-friendly stand-in for ``layer``'s input quantizer (None if it has none)."""
    quantizer = layer.input_quantizer
    if quantizer is None:
        return None
    if isinstance(quantizer, QuantizedReLU):
        return tf.keras.layers.ReLU(max_value=1.0 - 2.0**-quantizer.k)
    raise ValueError(
        f"layer {layer.name!r} quantizes its input with {type(quantizer).__name__}, which has "
        "no int8 TFLite equivalent; binary networks convert with convert_binary"
    )


def float_twin(model: tf.keras.Model) -> tf.keras.Model:
    """Copy of a k-bit-trained ``model`` made of ops that TFLite can run on integers.

    The 8-bit network's quantizers are TensorFlow ops (multiply, round, clip). Converted as
    they are, the "int8" file keeps float islands: TFLite has no integer ROUND kernel, so it
    dequantizes before and quantizes after every hidden layer's input quantizer. The twin
    computes the same function with plain ops, in the same larq layers:

    - the kernel quantizer is applied once, and its output (on the 2^-(k-1) grid of report
      eq. 4.6) is stored as the float kernel; the converter then maps it to int8 per output
      channel with scale max|w|/127, a grid close to, not equal to, the trained one;
    - the ``QuantizedReLU(k)`` input quantizer becomes its clip, ``ReLU(max_value=1 - 2^-k)``;
      the rounding is left to the converter's int8 activation quantization, whose grid for
      a tensor spanning [0, 1 - 2^-8] is the same 1/256 steps;
    - weight constraints (training only) are dropped.

    Layers without quantizers (float networks, first and last layers, batch norm) are copied
    unchanged, so the twin of a float network is a plain copy. Input quantizers other than
    ``QuantizedReLU`` (e.g. binary ``ste_sign``) raise ValueError.
    """

    def clone(layer):
        if not _is_quantized_layer(layer):
            return layer.__class__.from_config(layer.get_config())
        config = {**layer.get_config(), "input_quantizer": _plain_activation(layer),
                  "kernel_quantizer": None, "kernel_constraint": None}
        return type(layer)(**config)

    twin = tf.keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        quantize = getattr(layer, "kernel_quantizer", None)
        weights = [
            quantize(weight).numpy() if quantize is not None and weight is layer.kernel
            else weight.numpy()
            for weight in layer.weights
        ]
        twin.get_layer(layer.name).set_weights(weights)
    return twin


def convert_int8(
    model: tf.keras.Model,
    representative_images,
    max_images: int = MAX_CALIBRATION_IMAGES,
    *,
    per_channel: bool = INT8_PER_CHANNEL,
) -> bytes:
    """Full-integer (int8) TFLite flatbuffer by post-training quantization.

    Weights are int8 with one scale per output channel (``per_channel=True``, the default
    and TFLite's: a float32 scale and an int64 zero point per channel, for the weights and
    again for the int32 bias, which :func:`file_bytes` counts) or one per tensor (smaller
    by those bytes, with a coarser grid for every channel whose weights span less than the
    largest; notebook 01 measures the error of both on trained kernels). Activations are
    int8 per tensor with ranges calibrated on ``representative_images`` (training images,
    the first ``max_images`` of them), with TFLite's int8 builtins. Input and output are
    int8 too: the file is integer from end to end, an image x enters as
    round(x / scale) + zero_point with the scale and zero point stored in the file
    (:class:`TFLiteModel` applies them, and the reverse to the output).

    ``model`` may be a float network or a k-bit-trained one; every model is converted
    through its :func:`float_twin` (a plain copy for a float network).

    Raises:
        ValueError: images of the wrong shape, or a model with binary layers.
        RuntimeError: the converter left float ops in (it runs an op that has no int8
            kernel in float, between DEQUANTIZE and QUANTIZE ops, instead of failing).
    """
    images = np.asarray(representative_images[:max_images], dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != tuple(model.input_shape[1:]) or not len(images):
        raise ValueError(
            f"representative_images must be a non-empty batch of shape (n, "
            f"{', '.join(map(str, model.input_shape[1:]))}), got {images.shape}"
        )
    converter = _integer_converter(float_twin(model))
    converter.representative_dataset = lambda: ([image[None]] for image in images)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # TFLite's switch for per-tensor weight scales (an experimental converter attribute).
    converter._experimental_disable_per_channel = not per_channel
    return _refuse_float_islands(_convert(converter), model.name)


def _convert(converter: tf.lite.TFLiteConverter) -> bytes:
    with warnings.catch_warnings():  # int8 input ranges come from calibration or QAT ranges
        warnings.filterwarnings("ignore", "Statistics for quantized inputs were expected")
        return converter.convert()


def _integer_converter(model: tf.keras.Model) -> tf.lite.TFLiteConverter:
    """TFLite's converter set for int8 weights, activations, input and output, one image at
    a time (:func:`_one_image_converter`)."""
    converter = _one_image_converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter


def _refuse_float_islands(flatbuffer: bytes, name: str) -> bytes:
    if "DEQUANTIZE" in count_lce_ops(flatbuffer):
        raise RuntimeError(
            f"the int8 file of {name!r} still computes in float somewhere (it has "
            "DEQUANTIZE ops): some op of the model has no int8 kernel in TFLite"
        )
    return flatbuffer


# TFLite's converter (TensorFlow 2.16) turns a QAT convolution's per-channel fake quantization
# into int8 weights by folding it as a constant, which it does only up to a kernel size. On
# AlexNet's fc6 with 4,096 output channels, a kernel of 6,144 inputs (25.2 million weights)
# converted and one of 8,192 inputs (33.6 million) was left as a TensorFlow op
# (FakeQuantWithMinMaxVarsPerChannel, a TF Select op no int8 runtime has), as was the full
# 9,216 inputs; the limit lies between the two. The largest kernel measured to convert is the
# most one part may hold.
CONVERTER_FOLD_LIMIT = 6144 * 4096


@dataclass(frozen=True)
class KernelSplit:
    """A QAT convolution too large for the converter, and the parts it is converted in."""

    layer: str
    weights: int
    filters: int
    parts: int

    def describe(self) -> str:
        """The split in one line, for the file's row (``conversion``)."""
        return (f"{self.layer} ({self.weights:,} weights) converted as {self.parts} parts of "
                f"{self.filters // self.parts:,} output channels")


def _inner(layer):
    """The layer a tfmot quantization wrapper wraps (None for any other layer)."""
    return getattr(layer, "layer", None) if hasattr(layer, "quantize_config") else None


def kernel_splits(model: tf.keras.Model, limit: int = CONVERTER_FOLD_LIMIT
                  ) -> list[KernelSplit]:
    """The QAT convolutions of ``model`` whose kernels exceed ``limit`` weights, each with the
    fewest parts (a divisor of its output channels) of at most ``limit`` weights each."""
    splits = []
    for layer in model.layers:
        conv = _inner(layer)
        if not isinstance(conv, tf.keras.layers.Conv2D):
            continue
        weights, filters = int(np.prod(conv.kernel.shape)), conv.filters
        if weights <= limit:
            continue
        parts = next((parts for parts in range(2, filters + 1)
                      if filters % parts == 0 and weights // parts <= limit), None)
        if parts is None:
            raise ValueError(f"{conv.name}: {weights:,} weights cannot be split into parts of "
                             f"at most {limit:,} along its {filters} output channels")
        splits.append(KernelSplit(conv.name, weights, filters, parts))
    return splits


def _split_group(layers: list, start: int) -> list:
    """The wrapped convolution at ``start`` and the per-channel layers that follow it
    (batch normalization, ReLU): what each part repeats."""
    group = [layers[start]]
    for layer in layers[start + 1:]:
        if not isinstance(_inner(layer), tf.keras.layers.BatchNormalization | tf.keras.layers.ReLU):
            break
        group.append(layer)
    return group


def _part_layer(member, part: int, filters: int):
    """A fresh wrapper of ``member``'s layer for output channels of part ``part``."""
    inner = _inner(member)
    config = {**inner.get_config(), "name": f"{inner.name}_part{part + 1}"}
    if "filters" in config:
        config["filters"] = filters
    if "activation" in config:  # tfmot's own (no-op) activation is set back below
        config["activation"] = "linear"
    layer = type(inner).from_config(config)
    if "activation" in config:
        layer.activation = inner.activation.activation
    return type(member)(layer, copy.deepcopy(member.quantize_config))


def _copy_weights(source, target, channels: slice | None) -> None:
    """Give ``target`` the weights of ``source``: those the part holds fewer of (one value per
    output channel: kernel, per-channel ranges, batch-norm values) sliced to ``channels``
    along their last axis, the rest (the output range) whole."""
    values = []
    for old, new in zip(source.weights, target.weights, strict=True):
        if old.name.rsplit("/", 1)[-1] != new.name.rsplit("/", 1)[-1]:
            raise RuntimeError(f"weights out of order: {old.name} against {new.name}")
        value = old.numpy()
        if value.shape != tuple(new.shape):
            value = value[..., channels]
        values.append(value)
    target.set_weights(values)  # checks every shape


def split_for_converter(model: tf.keras.Model, limit: int = CONVERTER_FOLD_LIMIT
                        ) -> tf.keras.Model:
    """``model`` with each QAT convolution too large for the converter split into parts.

    A part is the convolution's wrapper for a slice of its output channels, followed by its
    batch normalization and ReLU for the same channels; a concatenation joins the parts
    (:func:`kernel_splits` says which and how many). Nothing is approximated: int8 weight
    scales are per output channel and batch normalization and ReLU act per channel, so each
    part holds the very values of its channels, and every part, like the concatenation,
    quantizes its output on the original layer's one range, so the concatenation joins int8
    tensors of one scale and rounds nothing again. The result shares ``model``'s other layers
    and their weights, which it leaves as they are; without an oversized kernel ``model`` is
    returned itself. Only a chain of layers (each layer reads the one before it, as AlexNet
    is) whose oversized convolution has a batch normalization or ReLU after it can be split:
    another raises ValueError.
    """
    splits = {split.layer: split for split in kernel_splits(model, limit)}
    if not splits:
        return model
    layers = model.layers
    inbound = [[[node[0] for node in call] for call in layer["inbound_nodes"]]
               for layer in model.get_config()["layers"]]
    chained = all(nodes == [[layers[index].name]] for index, nodes in enumerate(inbound[1:]))
    if not chained:
        raise ValueError(f"{model.name}: {', '.join(splits)} must be split for the converter, "
                         "which is done for a chain of layers only")
    x = inputs = tf.keras.Input(model.input_shape[1:], name=layers[0].name)
    copies, skip = [], set()
    for index, layer in enumerate(layers[1:], start=1):
        if layer.name in skip:
            continue
        split = splits.get(getattr(_inner(layer), "name", None))
        if split is None:
            x = layer(x)
            continue
        group = _split_group(layers, index)
        if len(group) == 1:
            raise ValueError(f"{model.name}: {split.layer} has no batch normalization or ReLU "
                             "after it, whose output range the parts would share")
        skip.update(member.name for member in group)
        filters = split.filters // split.parts
        branches = []
        for part in range(split.parts):
            channels = slice(part * filters, (part + 1) * filters)
            y = x
            for member in group:
                wrapper = _part_layer(member, part, filters)
                y = wrapper(y)
                copies.append((member, wrapper, channels))
            branches.append(y)
        join = type(group[-1])(tf.keras.layers.Concatenate(name=f"{split.layer}_concat"),
                               copy.deepcopy(group[-1].quantize_config))
        x = join(branches)
        copies.append((group[-1], join, None))
    converted = tf.keras.Model(inputs, x, name=model.name)
    for source, target, channels in copies:
        _copy_weights(source, target, channels)
    return converted


def convert_qat(model: tf.keras.Model, fold_limit: int = CONVERTER_FOLD_LIMIT) -> bytes:
    """Full-integer (int8) TFLite flatbuffer of a quantization-aware-trained network.

    The "int8_qat" network (:mod:`utils.qat`) holds the ranges of its activations and the
    per-channel scales of its weights, so the converter needs no calibration images: it folds
    each batch normalization into the convolution before it and writes int8 weights (per
    output channel), int8 activations, and int8 input and output (an image x enters as
    round(x / scale) + zero_point). A convolution of more than ``fold_limit`` weights is
    converted in parts (:func:`split_for_converter`; full-size AlexNet's fc6). Raises
    RuntimeError when an op stays float.
    """
    convertible = split_for_converter(model, fold_limit)
    return _refuse_float_islands(_convert(_integer_converter(convertible)), model.name)


def convert_binary(model: tf.keras.Model) -> bytes:
    """Bit-packed binary TFLite flatbuffer made by LCE's converter.

    Binary convolutions (sign-quantized input and kernel) become ``LceBconv2d`` ops with
    their weights packed 32 to an int32 word; other layers stay float32.

    Raises:
        RuntimeError: larq-compute-engine is not importable.
    """
    if not lce_available():
        raise RuntimeError(LCE_MISSING)
    import larq_compute_engine as lce  # only where LCE is usable (see lce_available)

    return lce.convert_keras_model(model)


def save_tflite(flatbuffer: bytes, path) -> Path:
    """Write a ``.tflite`` flatbuffer to ``path`` atomically; returns the path."""
    return write_bytes_atomic(path, flatbuffer)


@dataclass(frozen=True)
class _TensorSpec:
    """One input or output tensor of a file: shape, type and, for int8, how floats map to it."""

    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float | None = None
    zero_point: int = 0

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Floats to what the tensor stores (q = round(x / scale) + zero_point for int8)."""
        if not np.issubdtype(self.dtype, np.integer):
            return values.astype(self.dtype)
        limits = np.iinfo(self.dtype)
        codes = np.round(values / self.scale) + self.zero_point
        return np.clip(codes, limits.min, limits.max).astype(self.dtype)

    def decode(self, values: np.ndarray) -> np.ndarray:
        """What the tensor stores back to floats."""
        if not np.issubdtype(self.dtype, np.integer):
            return values.astype(np.float32)
        return ((values.astype(np.float32) - self.zero_point) * self.scale).astype(np.float32)


RUNTIMES = {
    "tflite": "TensorFlow's TFLite interpreter, default delegate (XNNPACK)",
    "tflite_builtin": "TensorFlow's TFLite interpreter, builtin kernels without delegate",
    "lce": "LCE's interpreter (reference kernels on x86, optimized ones on 64-bit ARM)",
}


def runtime_for(flatbuffer: bytes) -> str:
    """Where a file runs by default: "lce" when it has LCE's ops, else "tflite"."""
    return "lce" if any(op.startswith("Lce") for op in count_lce_ops(flatbuffer)) else "tflite"


def _lce_runner(flatbuffer: bytes, num_threads: int):
    if not lce_available():
        raise RuntimeError(LCE_MISSING)
    import larq_compute_engine as lce

    interpreter = lce.testing.Interpreter(flatbuffer, num_threads=num_threads)
    specs = [
        _TensorSpec(tuple(shapes[0]), np.dtype(types[0]), scales[0], zero_points[0] or 0)
        for shapes, types, scales, zero_points in (
            (interpreter.input_shapes, interpreter.input_types, interpreter.input_scales,
             interpreter.input_zero_points),
            (interpreter.output_shapes, interpreter.output_types, interpreter.output_scales,
             interpreter.output_zero_points),
        )
    ]
    return interpreter.predict, *specs


def _tf_runner(flatbuffer: bytes, num_threads: int, default_delegate: bool):
    resolver = (tf.lite.experimental.OpResolverType.AUTO if default_delegate else
                tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    with warnings.catch_warnings():
        # TensorFlow 2.20 announces tf.lite.Interpreter's move to the separate LiteRT
        # package at every construction; it still runs the files, and the course keeps it
        # so that one interpreter serves every TensorFlow version it supports.
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=num_threads,
                                          experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    (source,), (target,) = interpreter.get_input_details(), interpreter.get_output_details()

    def run(image: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(source["index"], image)
        interpreter.invoke()
        return interpreter.get_tensor(target["index"])

    specs = [_TensorSpec(tuple(d["shape"]), np.dtype(d["dtype"]), *d["quantization"])
             for d in (source, target)]
    return run, *specs


class TFLiteModel:
    """A TFLite flatbuffer ready to run one image at a time: float images in, floats out.

    ``runtime`` (a key of :data:`RUNTIMES`) defaults to :func:`runtime_for` the file:
    TensorFlow's interpreter with its default delegate for float32 and int8 files, LCE's
    interpreter for binary files. Int8 inputs and outputs are quantized and dequantized with
    the scale and zero point stored in the file (``input_spec``, ``output_spec``).
    """

    def __init__(self, flatbuffer: bytes, num_threads: int = 1, runtime: str | None = None):
        self.runtime = runtime or runtime_for(flatbuffer)
        if self.runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {self.runtime!r}; accepted: "
                             f"{', '.join(RUNTIMES)}")
        if self.runtime == "lce":
            runner = _lce_runner(flatbuffer, num_threads)
        else:
            runner = _tf_runner(flatbuffer, num_threads, self.runtime == "tflite")
        self._run, self.input_spec, self.output_spec = runner

    def run_encoded(self, image: np.ndarray) -> np.ndarray:
        """Run one image already in the file's input type and shape, (1, h, w, c)."""
        return self._run(image)

    def predict(self, images) -> np.ndarray:
        """Float outputs (softmax probabilities) for a batch of float images."""
        images = np.asarray(images, dtype=np.float32)
        outputs = [self._run(self.input_spec.encode(image[None])) for image in images]
        return self.output_spec.decode(np.concatenate(outputs))


def latency_ms(flatbuffer: bytes, num_threads: int = 1, runs: int = 20,
               warmup: int = 3, runtime: str | None = None) -> float:
    """Median wall-clock time of one single-image inference, in milliseconds.

    ``warmup`` runs first (allocation, caches), then the median of ``runs`` timed runs on a
    random image, in ``runtime`` (see :class:`TFLiteModel`).
    """
    model = TFLiteModel(flatbuffer, num_threads=num_threads, runtime=runtime)
    image = model.input_spec.encode(np.random.default_rng(0).random(model.input_spec.shape))
    for _ in range(warmup):
        model.run_encoded(image)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.run_encoded(image)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def _child_failure(path, runtime: str) -> str | None:
    check = ("import sys, numpy as np, utils\n"
             "from utils.deploy import TFLiteModel\n"
             "model = TFLiteModel(open(sys.argv[1], 'rb').read(), runtime=sys.argv[2])\n"
             "model.predict(np.zeros((1, *model.input_spec.shape[1:]), np.float32))\n")
    result = subprocess.run([sys.executable, "-c", check, str(path), runtime],
                            capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1], check=False)
    if result.returncode == 0:
        return None
    if result.returncode < 0:
        return f"the runtime aborted the process (signal {-result.returncode})"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {result.returncode}"


def runtime_failure(path) -> tuple[str | None, str | None, list[str]]:
    """Find where the ``.tflite`` file at ``path`` runs; each try is a child process.

    Returns ``(runtime, error, notes)``: the runtime that ran the file (a key of
    :data:`RUNTIMES`) or None, why none could, and what happened on the way. A float32 or
    int8 file is tried in TensorFlow's interpreter with its default delegate, then, if the
    delegate fails to prepare it, without the delegate. Some converted files make the runtime
    abort the whole process instead of raising (seen with int8 files of tiny, barely trained
    networks), which in a notebook kills the kernel; the child process takes that hit
    instead. Costs a few seconds per try (the child imports TensorFlow).
    """
    try:
        first = runtime_for(Path(path).read_bytes())
    except Exception as error:  # a damaged flatbuffer fails in the schema reader, any way
        return None, f"not a readable TFLite file ({type(error).__name__}: {error})", []
    tries = [first] if first == "lce" else [first, "tflite_builtin"]
    notes = []
    for runtime in tries:
        error = _child_failure(path, runtime)
        if error is None:
            return runtime, None, notes
        notes.append(f"{RUNTIMES[runtime]} could not run it: {error}")
    return None, notes[-1], notes


def _correct(predictions: np.ndarray, labels) -> tuple[int, int]:
    labels = np.asarray(labels)
    classes = labels.argmax(-1) if labels.ndim == 2 else labels
    return int((predictions.argmax(-1) == classes).sum()), len(classes)


def _hits(predict: Callable[[np.ndarray], np.ndarray], batches: Iterable) -> tuple[int, int]:
    """(correct predictions, images) over (images, labels) batches."""
    correct = total = 0
    for images, labels in batches:
        hits, count = _correct(predict(np.asarray(images, dtype=np.float32)), labels)
        correct, total = correct + hits, total + count
    if not total:
        raise ValueError("the dataset has no images")
    return correct, total


def _files_to_make(models: dict, representative_images,
                   per_channel: bool) -> list[tuple[str, str, Callable | None]]:
    """(file kind, training precision, converter or None when it cannot be made here)."""

    def to_int8(model, per_channel=per_channel):
        return convert_int8(model, representative_images, per_channel=per_channel)

    files = []
    for precision in models:
        if precision == "fp32":
            files.append(("fp32", precision, convert_float))
            files.append(("int8_from_fp32", precision, to_int8))
            if per_channel:  # the comparison: the same file with one scale per tensor
                files.append((f"int8_from_fp32{PER_TENSOR_SUFFIX}", precision,
                              lambda model: to_int8(model, per_channel=False)))
        elif precision == QAT_PRECISION:
            files.append((QAT_PRECISION, precision, convert_qat))
        elif precision.startswith("int"):
            files.append((f"int8_from_{precision}", precision, to_int8))
        elif precision == "binary":
            files.append(("binary", precision, convert_binary if lce_available() else None))
        else:
            raise ValueError(
                f"no deployment file for precision {precision!r}; accepted: fp32, int<k> "
                f"(converted to an int8 file), {QAT_PRECISION}, binary"
            )
    return files


def weight_scales(kind: str, per_channel: bool = INT8_PER_CHANNEL) -> str | None:
    """How a file of ``kind`` scales its int8 weights ("per channel" or "per tensor"); None
    for float32 and binary files. QAT files are per channel (tfmot's default scheme)."""
    if not kind.startswith("int8"):
        return None
    if kind.endswith(PER_TENSOR_SUFFIX):
        return "per tensor"
    return "per channel" if per_channel or kind == QAT_PRECISION else "per tensor"


def _batches(images, labels, size: int = 64):
    for start in range(0, len(images), size):
        yield images[start:start + size], labels[start:start + size]


def _test_batches(test_set) -> Callable[[], Iterable]:
    """A function that starts a fresh pass over ``test_set``: an (images, labels) pair of
    arrays, or a re-iterable of batches such as a batched ``tf.data.Dataset``, which reads
    from disk batch by batch so the test set is never held in memory (§18: full size)."""
    if isinstance(test_set, tuple):
        images, labels = test_set
        return lambda: _batches(images, labels)
    return lambda: iter(test_set)


def _accuracy_columns(model, flatbuffer: bytes, test_set, num_threads: int,
                      runtime: str) -> dict:
    batches = _test_batches(test_set)
    keras_hits, count = _hits(lambda images: model.predict(images, verbose=0), batches())
    converted_hits, _ = _hits(TFLiteModel(flatbuffer, num_threads=num_threads,
                                          runtime=runtime).predict, batches())
    keras, converted = keras_hits / count, converted_hits / count
    change = 100 * (converted - keras)
    allowed = max(ACCURACY_TOLERANCE_POINTS, 100 / count)  # at least one image
    return {"keras_accuracy": keras, "tflite_accuracy": converted,
            "accuracy_change_points": change, "accuracy_change_images":
                converted_hits - keras_hits, "test_images": count,
            "accuracy_preserved": change >= -allowed - 1e-9}


def _converter_failure(error: Exception) -> str:
    """The line of a TFLite ``ConverterError`` that names the op it could not convert.

    The error's class lives in a private TensorFlow module (``convert_phase``), so callers
    recognize it by name. A known case, now avoided (:data:`CONVERTER_FOLD_LIMIT`): the
    fake quantization of full-size AlexNet's 9216x4096 fc6 kernel (151 MB) converted whole
    is left as a TensorFlow op.
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if line.startswith("tf.") or "TF Select ops" in line]
    return (named or lines or [type(error).__name__])[0][:300]


def deploy_and_measure(
    models: dict[str, tf.keras.Model],
    test_set,
    representative_images,
    out_dir,
    *,
    threads: Sequence[int] = (1, 2),
    runs: int = 20,
    warmup: int = 3,
    int8_per_channel: bool = INT8_PER_CHANNEL,
) -> pd.DataFrame:
    """Convert one architecture's models to files, then measure size, latency and accuracy.

    Args:
        models: Keras models of one architecture by training precision: "fp32" gives the
            float32 file and an int8 file, "int8" (any "int<k>") an int8 file through its
            float twin, "int8_qat" its own int8 file, "binary" the LCE file.
        test_set: for Keras and converted accuracy, an (images, labels) pair of arrays
            (float images, one-hot labels) or a re-iterable of such batches, e.g. a batched
            ``tf.data.Dataset``, streamed so that a full-size test set is never held in
            memory; None skips accuracy (e.g. untrained models).
        representative_images: training images that calibrate post-training int8 files.
        out_dir: where the ``{architecture}_{file}.tflite`` files are written.
        threads: interpreter thread counts to time; runs, warmup: see :func:`latency_ms`.
        int8_per_channel: int8 weight scales of the post-training files per output channel
            (the default; then the float network also gets an ``int8_from_fp32_per_tensor``
            file, the comparison) or per tensor (QAT files are always per channel).

    Returns:
        One row per file: architecture, file (fp32, int8_from_fp32,
        int8_from_fp32_per_tensor, int8_from_int8, int8_qat, binary), precision (of the Keras
        model), weight_scales (:func:`weight_scales`), conversion (for the QAT file: the
        layers converted in parts, :func:`kernel_splits`; empty when none), status ("measured",
        or why the file was not made or not run), path, size_bytes, size_mb (10^6 bytes), runtime
        (which interpreter timed and scored it, :data:`RUNTIMES`), runtime_notes,
        latency_ms_{n}_threads, ratio_vs_fp32 (float32 file size / this size) and, with a
        test set, keras_accuracy, tflite_accuracy, accuracy_change_points (converted minus
        Keras, in percentage points), accuracy_change_images, test_images and
        accuracy_preserved (a loss of at most ``ACCURACY_TOLERANCE_POINTS`` or one test
        image).
    """
    rows = []
    for kind, precision, convert in _files_to_make(models, representative_images,
                                                   int8_per_channel):
        model = models[precision]
        architecture = model.name.removesuffix(f"_{precision}")
        row = {"architecture": architecture, "file": kind, "precision": precision,
               "weight_scales": weight_scales(kind, int8_per_channel),
               "conversion": "; ".join(split.describe() for split in kernel_splits(model))
               if kind == QAT_PRECISION else None}
        if convert is None:
            rows.append({**row, "status": f"not made: {LCE_MISSING}"})
            continue
        try:
            flatbuffer = convert(model)
        except Exception as error:
            if type(error).__name__ != "ConverterError":
                raise
            reason = _converter_failure(error)
            warnings.warn(f"{architecture} {kind}: the TFLite converter failed, so the file "
                          f"is listed but not made: {reason}", stacklevel=2)
            rows.append({**row, "status": f"not made: the TFLite converter failed: {reason}"})
            continue
        path = save_tflite(flatbuffer, Path(out_dir) / f"{architecture}_{kind}.tflite")
        row.update({"path": str(path), "size_bytes": len(flatbuffer),
                    "size_mb": len(flatbuffer) / 1e6})
        runtime, error, notes = runtime_failure(path)
        row.update({"runtime": runtime and RUNTIMES[runtime], "runtime_notes": notes})
        if runtime is None:
            row["status"] = f"written, but no runtime here could run it: {error}"
            warnings.warn(f"{path.name} was written but cannot be run here, so it is not "
                          f"timed or scored: {error}", stacklevel=2)
            rows.append(row)
            continue
        row["status"] = "measured"
        for count in threads:
            row[f"latency_ms_{count}_threads"] = latency_ms(flatbuffer, count, runs, warmup,
                                                            runtime)
        if test_set is not None:
            row.update(_accuracy_columns(model, flatbuffer, test_set, max(threads), runtime))
        rows.append(row)
    fp32_size = next((row.get("size_bytes", np.nan) for row in rows if row["file"] == "fp32"),
                     np.nan)
    for row in rows:
        row["ratio_vs_fp32"] = fp32_size / row.get("size_bytes", np.nan)
    return pd.DataFrame(rows)
