"""Writing result files atomically, and turning numpy values into plain JSON.

Every record, benchmark and report of the course is written through :func:`write_bytes_atomic`
so that an interrupted run leaves the old file or the new one, never half of one. No
TensorFlow here: reports and tables use these without loading it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["read_json", "to_jsonable", "write_bytes_atomic", "write_json_atomic"]


def to_jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays, tuples and paths turned into plain JSON types."""
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same folder, are flushed to disk, and replace
    ``path`` with ``os.replace`` (atomic on POSIX and Windows). The file is readable by
    everyone, like one written with ``open`` (mode 644, not the temporary file's 600).
    Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically (see :func:`write_bytes_atomic`)."""
    return write_bytes_atomic(path, (json.dumps(to_jsonable(data), indent=2) + "\n").encode())


def read_json(path: str | Path) -> Any:
    """The JSON content of ``path``."""
    return json.loads(Path(path).read_text())
