"""Reading a ``.tflite`` file: its ops, what its bytes hold, and its tensors.

Read with TensorFlow's own flatbuffer schema (``tensorflow.lite.python``), so nothing here
needs an interpreter or LCE: :func:`count_lce_ops` counts ops by name (TFLite's builtins and
LCE's custom ops), :func:`file_composition` says how many bytes each kind of content takes,
and :func:`operator_tensors` gives the input and output tensors of every op of one kind,
with their types, shapes, quantization scales and zero points, and their constant data
(the weights) where the file stores any.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from tensorflow.lite.python import schema_py_generated as tflite_schema
from tensorflow.lite.python.schema_util import get_builtin_code_from_operator_code

__all__ = ["count_lce_ops", "file_composition", "operator_tensors"]

_NUMPY_TYPES = {"FLOAT32": np.float32, "INT8": np.int8, "INT32": np.int32, "UINT8": np.uint8,
                "INT64": np.int64, "INT16": np.int16}


def _read_flatbuffer(flatbuffer: bytes) -> tflite_schema.ModelT:
    return tflite_schema.ModelT.InitFromObj(tflite_schema.Model.GetRootAs(flatbuffer, 0))


def _names(enum_class) -> dict[int, str]:
    return {value: name for name, value in vars(enum_class).items() if not name.startswith("_")}


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


def file_composition(flatbuffer: bytes) -> dict[str, int]:
    """Bytes of a TFLite file by what they hold.

    Constants are keyed by the op that reads them and their type, e.g. "LceBconv2d/INT32"
    (bit-packed binary weights, 32 per word), "LceBconv2d/FLOAT32" (per-channel output
    multipliers and biases), "CONV_2D/INT8"; "tensor names" are the tensors' name strings
    (which TFLite keeps for debugging; ``flatbuffer_utils.strip_strings`` would drop them);
    "structure" is the rest (graph, shapes, op options, quantization parameters). A buffer
    read by several ops counts once, for the first.
    """
    model = _read_flatbuffer(flatbuffer)
    names, types = _op_names(model), _names(tflite_schema.TensorType)
    sizes, seen = Counter(), set()
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            for tensor in (subgraph.tensors[index] for index in op.inputs if index >= 0):
                data = model.buffers[tensor.buffer].data
                if data is not None and tensor.buffer not in seen:
                    seen.add(tensor.buffer)
                    sizes[f"{names[op.opcodeIndex]}/{types[tensor.type]}"] += len(data)
    sizes["tensor names"] = sum(len(tensor.name or b"")
                                for subgraph in model.subgraphs for tensor in subgraph.tensors)
    sizes["structure"] = len(flatbuffer) - sum(sizes.values())
    return dict(sizes)


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
