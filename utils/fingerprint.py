"""Fingerprints of the code that shapes a training result, so a record knows what made it.

A record stores :func:`code_fingerprint` of its network. When the quantizers, layers, the
network's architecture, the data pipeline or the training loop change, the fingerprint of
the current code differs from the record's, and the record is shown as *stale* until it is
retrained (``force=True``). Docstrings, comments and blank lines do not count: editing prose
leaves every record current. The fingerprint is computed from the source text (not from
``ast.dump``, whose output changes between Python versions), so Colab's Python 3.13 agrees
with the Python 3.11 that made the committed records.

No TensorFlow here: the sources are read as text.
"""

from __future__ import annotations

import ast
import hashlib
import io
import tokenize
from functools import cache
from pathlib import Path

__all__ = ["SHARED_MODULES", "code_fingerprint", "fingerprint_modules", "normalized_source"]

PACKAGE_DIR = Path(__file__).resolve().parent

# Modules that shape every training result: how values are quantized, how layers are
# built, what the data looks like, and how a network is fitted and evaluated.
SHARED_MODULES = ("quantizers", "precision", "layers", "blocks", "data", "training",
                  "callbacks")
# The module that holds each network's architecture, and modules only some precisions use.
ARCHITECTURE_MODULES = {"alexnet": "nets.alexnet", "googlenet": "nets.googlenet",
                        "mlp": "nets.small", "small_cnn": "nets.small",
                        "lenet5": "nets.reference", "vgg7": "nets.reference", "qnn": "nets.qnn"}
PRECISION_MODULES: dict[str, tuple[str, ...]] = {"int8_qat": ("qat",)}


def _precision_modules(precision: str) -> tuple[str, ...]:
    if precision.startswith("abc_"):
        return ("multibase",)
    return PRECISION_MODULES.get(precision, ())


def fingerprint_modules(model: str, precision: str) -> tuple[str, ...]:
    """Dotted module names under ``utils`` whose code shapes a ``model``/``precision`` run."""
    if model not in ARCHITECTURE_MODULES:
        raise ValueError(f"unknown model {model!r}; accepted: "
                         f"{', '.join(ARCHITECTURE_MODULES)}")
    return (*SHARED_MODULES, ARCHITECTURE_MODULES[model], *_precision_modules(precision))


def _docstring_spans(tree: ast.AST) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                spans.append(((first.lineno, first.col_offset),
                              (first.end_lineno, first.end_col_offset)))
    return spans


def normalized_source(text: str) -> str:
    """``text`` without docstrings, comments, trailing spaces and blank lines."""
    lines = text.splitlines()
    cuts = _docstring_spans(ast.parse(text))
    cuts += [(token.start, token.end)
             for token in tokenize.generate_tokens(io.StringIO(text).readline)
             if token.type == tokenize.COMMENT]
    for (start_line, start_col), (end_line, end_col) in sorted(cuts, reverse=True):
        head = lines[start_line - 1][:start_col]
        tail = lines[end_line - 1][end_col:]
        lines[start_line - 1:end_line] = [head + tail]
    return "\n".join(line.rstrip() for line in lines if line.strip())


@cache
def _module_digest(module: str) -> str:
    path = PACKAGE_DIR.joinpath(*module.split(".")).with_suffix(".py")
    return hashlib.sha256(normalized_source(path.read_text()).encode()).hexdigest()


def code_fingerprint(model: str, precision: str) -> str:
    """10 hex digits naming the current code of every module that shapes such a run."""
    digest = hashlib.sha256()
    for module in fingerprint_modules(model, precision):
        digest.update(f"{module}:{_module_digest(module)}\n".encode())
    return digest.hexdigest()[:10]
