"""What this runtime is: software versions, CPU, numeric settings, and whether Larq Compute
Engine can be used.

One source for the "environment" of every record and benchmark and for notebook 00's table.
Versions come from package metadata, so nothing here imports TensorFlow, larq or LCE; the
accelerator's name (which needs TensorFlow) is passed in by the code that trains.

**Portable numerics.** TensorFlow's CPU kernels (its oneDNN primitives, and the oneDNN
matrix product under Eigen's convolutions) pick their machine code by the instruction set
found at run time: the same seed trained on a CPU with AVX-512 and on one without adds in
another order and ends in another record. Op determinism only promises the same result on
the same hardware. :func:`pin_cpu_numerics`, called by ``import utils`` before TensorFlow
loads, caps oneDNN at AVX2 (which every x86 CPU of the last ten years has) and turns off
TensorFlow's oneDNN graph rewrites, on CPU runtimes only; every record keeps the settings
in force (:func:`numeric_settings`) and the CPU's instruction-set flags, so a reproduction
can say whether two records were made under the same conditions. Set
``COURSE_NUMERICS=native`` before ``import utils`` to train with the CPU's own best kernels.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

__all__ = ["CPU_FLAGS", "LCE_MISSING", "NUMERICS_MODES", "NUMERICS_VARIABLE", "PACKAGES",
           "PORTABLE_NUMERICS", "cpu_flags", "cpu_model", "cpu_vendor", "environment_info",
           "lce_available", "numeric_settings", "package_version", "peak_resident_mb",
           "pin_cpu_numerics", "quiet_start", "same_machine_and_settings"]

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
    "larq-compute-engine (LCE) is not usable here: LCE 0.16 has wheels for Python 3.10 to "
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
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


# The instruction-set flags (as /proc/cpuinfo names them) that decide which kernels oneDNN
# and Eigen run: vector width (AVX2, AVX-512), fused multiply-add, and the dot-product and
# matrix extensions (VNNI, BF16, AMX) that oneDNN's int8/bf16 paths use.
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile",
             "amx_bf16", "amx_int8")

# The settings that make CPU training portable across x86 CPUs (see the module docstring).
PORTABLE_NUMERICS = {"ONEDNN_MAX_CPU_ISA": "AVX2", "TF_ENABLE_ONEDNN_OPTS": "0"}
NUMERICS_VARIABLE = "COURSE_NUMERICS"
NUMERICS_MODES = ("portable", "native")

# What pin_cpu_numerics found and set when `import utils` ran (before TensorFlow loaded).
_numerics_at_start: dict[str, str | bool | None] = {}


def _cpuinfo_field(name: str) -> str | None:
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.split(":", 1)[0].strip() == name:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_vendor() -> str:
    """The CPU's vendor (``GenuineIntel``, ``AuthenticAMD``), or the machine type."""
    return _cpuinfo_field("vendor_id") or platform.machine()


def cpu_flags() -> list[str]:
    """Which of :data:`CPU_FLAGS` this CPU has (empty where /proc/cpuinfo is missing)."""
    present = set((_cpuinfo_field("flags") or "").split())
    return [flag for flag in CPU_FLAGS if flag in present]


def pin_cpu_numerics() -> dict[str, str | bool | None]:
    """Set :data:`PORTABLE_NUMERICS` before TensorFlow loads, on CPU runtimes; what is in force.

    ``COURSE_NUMERICS`` chooses: ``portable`` (the default) or ``native`` (TensorFlow's own
    choice of kernels for this CPU). A variable the user set already is kept (and recorded).
    On a runtime with an NVIDIA GPU nothing is pinned: the GPU's kernels decide the result.
    When TensorFlow was imported before ``utils``, the settings can no longer take effect,
    and the record says so.
    """
    mode = os.environ.get(NUMERICS_VARIABLE, "portable")
    if mode not in NUMERICS_MODES:
        raise ValueError(f"{NUMERICS_VARIABLE}={mode!r} is not a numerics mode; accepted: "
                         f"{', '.join(NUMERICS_MODES)}")
    tensorflow_first = "tensorflow" in sys.modules
    gpu = _has_nvidia_device()
    if mode == "portable" and not gpu and not tensorflow_first:
        for name, value in PORTABLE_NUMERICS.items():
            os.environ.setdefault(name, value)
    _numerics_at_start.clear()
    _numerics_at_start.update({
        "mode": "native (GPU runtime)" if gpu and mode == "portable" else mode,
        **{name: os.environ.get(name) for name in PORTABLE_NUMERICS},
        "tensorflow_loaded_first": tensorflow_first,
    })
    return dict(_numerics_at_start)


def numeric_settings() -> dict[str, str | bool | None]:
    """The numeric settings TensorFlow started with in this process (see the module doc)."""
    return dict(_numerics_at_start) or pin_cpu_numerics()


def same_machine_and_settings(first: dict, second: dict) -> bool | None:
    """Whether two records' environments name the same CPU, flags, numeric settings and
    training threads.

    None when either record does not say (records made before CPU flags were kept): then
    nothing can be concluded from a difference beyond "other or unknown conditions".
    """
    keys = ("cpu", "cpu_vendor", "cpu_flags", "numerics")
    if any(key not in environment for environment in (first, second) for key in keys):
        return None
    # The number of threads a kernel splits its sums over is a setting too.
    threads = "intra_op_threads"
    return (all(first[key] == second[key] for key in keys)
            and first.get(threads) == second.get(threads))


def environment_info(**extra: str | None) -> dict[str, str | int | bool | None]:
    """Python, platform, CPU (model, vendor, instruction-set flags), the numeric settings in
    force and package versions; ``extra`` adds keys (device, strategy...)."""
    info: dict[str, str | int | bool | None] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_vendor": cpu_vendor(),
        "cpu_flags": cpu_flags(),
        "numerics": numeric_settings(),
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
    tf.function", which are about TensorFlow's internals, not the course's code; so does
    ``absl``, which the TFLite converter and SavedModel export log to ("Found untraced
    functions", converter settings). Warnings about the course's own code are kept.
    """
    level = "2" if _has_nvidia_device() else "3"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", level)
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


def peak_resident_mb() -> dict[str, float | str]:
    """Peak resident memory of this process and of its finished child processes, in MB.

    Read with ``resource.getrusage`` (the kernel's high-water mark, so a process's peak
    includes whatever it ran earlier). ``None`` where the platform has no ``resource``
    module (Windows).
    """
    try:
        import resource
    except ImportError:
        return {"self_mb": None, "children_mb": None}
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return {"self_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 1e6, 1),
            "children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * unit
                                 / 1e6, 1)}
