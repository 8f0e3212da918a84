"""What this runtime is: software versions, CPU, and whether Larq Compute Engine can be used.

One source for the "environment" of every record and benchmark and for notebook 00's table.
Versions come from package metadata, so nothing here imports TensorFlow, larq or LCE; the
accelerator's name (which needs TensorFlow) is passed in by the code that trains.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

__all__ = [
    "LCE_MISSING",
    "PACKAGES",
    "cpu_model",
    "environment_info",
    "lce_available",
    "package_version",
    "quiet_start",
]

# Distributions whose versions every record keeps, by the key they get in the record.
PACKAGES = {
    "tensorflow": "tensorflow",
    "tf_keras": "tf-keras",
    "larq": "larq",
    "larq_compute_engine": "larq-compute-engine",
    "tensorflow_model_optimization": "tensorflow-model-optimization",
    "numpy": "numpy",
}

LCE_MISSING = (
    "larq-compute-engine (LCE) is not usable here: LCE 0.16 has wheels for Python 3.11 and "
    "3.12 only, and its interpreter fails under numpy 2 (Colab's default runtime has Python "
    "3.13 and numpy 2). Binary .tflite files are therefore not made, and their rows say so; "
    "binary networks still train, and float32 and int8 files are made with TensorFlow's own "
    "converter. For the LCE parts, use Python 3.11 or 3.12 with requirements.txt."
)


def package_version(name: str) -> str | None:
    """Installed version of distribution ``name``, or None when it is not installed."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def lce_available() -> bool:
    """Whether Larq Compute Engine (converter and interpreter) can be used here.

    Installed, and numpy older than 2: LCE 0.16's compiled modules are built against numpy
    1.x and its interpreter fails under numpy 2. Checked without importing LCE.
    """
    if find_spec("larq_compute_engine") is None:
        return False
    numpy = package_version("numpy")
    return numpy is not None and int(numpy.split(".")[0]) < 2


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_info(**extra: str | None) -> dict[str, str | int | bool | None]:
    """Python, platform, CPU and package versions; ``extra`` adds keys (device, strategy...)."""
    info: dict[str, str | int | bool | None] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "on_colab": "google.colab" in sys.modules,
    }
    info.update({key: package_version(name) for key, name in PACKAGES.items()})
    info.update(extra)
    return info


def _has_nvidia_device() -> bool:
    return any(Path("/dev").glob("nvidia[0-9]*"))


def quiet_start() -> None:
    """Hide what TensorFlow prints that a student cannot act on, and nothing else.

    Call before TensorFlow is imported. On a machine without an NVIDIA GPU (a CPU runtime),
    TensorFlow's C++ start-up logs errors about CUDA libraries it looks for and cannot use
    ("Unable to register cuDNN factory", "failed call to cuInit"): those logs are switched
    off (``TF_CPP_MIN_LOG_LEVEL=3``); with a GPU only its informational logs are. Python's
    ``tensorflow`` logger keeps errors and drops warnings such as "N retracings of a
    tf.function", which are about TensorFlow's internals, not the course's code.
    """
    level = "2" if _has_nvidia_device() else "3"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", level)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
