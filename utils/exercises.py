"""Checking the student's work: exercise answers (``check``) and the graded tests of the
implement-it cells, each comparing the student's function with the course's own.

Exercises with self-checks.
---------------------------

A question in a notebook, an answer the student computes, and a check that says whether it is
right and, if not, what to look at.

In a notebook::

    answer = ...            # the student's computation
    check("01_code", answer)

:func:`check` prints one confirmation when the answer is right (without repeating the answer,
so that a folded solution's output does not give it away) and raises :class:`WrongAnswer`
with a hint, never the answer, when it is not.

How answers are judged:

- measured numbers (a float answer) agree within a relative tolerance suited to float32
  arithmetic (:data:`FLOAT32_RTOL`, or the exercise's own, looser where the question allows
  rounding) plus a small absolute one (:data:`ABS_TOL`), so that a value computed in float32
  (``128 / 127.5 - 1`` gives 0.003921628) is right;
- counts and codes (an int answer) must be that integer: ``105415200.0`` or a float32 that
  rounds to it is right, ``105415201`` is not;
- words ignore case, punctuation and contractions and accept the usual spellings of the
  answer (:data:`SPELLINGS`: "didn't train" for "did not train", "QAT" for "qat"); a yes/no
  question also takes ``True``/``False``.

Every exercise's expected value is computed here, from first principles or from the layer
sizes of the network it asks about; the two questions on seed statistics (05) quote the
course's committed reference records, read when the question is asked, so the check always
uses the numbers the question shows. Each notebook follows the exercise with a worked
solution in a collapsed cell, which the main job runs, so a wrong solution would stop it.
Checking an answer needs no TensorFlow.

Graded implement-it cells: the few lines a student writes, checked against the course's own.
--------------------------------------------------------------------------------------------

In notebooks 01, 02 and 08 the functions that carry an idea (the k-bit quantizer of eqs. 3.1
and 4.6, the straight-through estimator of eq. 4.7, scale and zero point, the latent-weight
update, XNOR-popcount, TFLite's fixed-point requantization, batch-norm folding) sit in
editable cells: a signature and a docstring for the student to complete, a folded reference
solution, and a call of the matching ``test_*`` function here. Each test compares the
student's function with the implementation the course's networks use, on random inputs and
on the edge cases where mistakes hide (a constant tensor, a range without zero, ties in
rounding, an odd bit count), and raises :class:`GradingError` with a message that names the
first difference, as the test functions of MIT 6.5940's quantization lab do. A passing test
prints one line.

:func:`use_reference_until_written` lets a notebook run on when a student has not written a
function yet: the reference solution stands in, and the notebook says so.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ABS_TOL", "EXERCISES", "Exercise", "FLOAT32_RTOL", "GradingError", "NotWritten",
           "SPELLINGS", "SeedComparison", "WrongAnswer", "check", "course_latent_update",
           "course_quantize_layer_weights", "exercise", "passed", "seed_comparison",
           "test_apply_multiplier", "test_dequantize_affine", "test_fold_batch_norm",
           "test_latent_update", "test_per_channel_scales", "test_qat_model", "test_quantize",
           "test_quantize_affine", "test_quantize_layer_weights", "test_quantize_multiplier",
           "test_quantize_ste", "test_scale_and_zero_point", "test_xnor_popcount_dot",
           "use_reference_until_written"]

# float32 carries 24 bits (eps = 1.2e-7): a few operations in float32 stay well within 1e-5 of
# the exact value, and an absolute 4 eps covers the cancellation of a difference near zero
# (128 / 127.5 - 1 in float32 is 5.9e-8 off).
FLOAT32_RTOL = 1e-5
ABS_TOL = 4 * float(np.finfo(np.float32).eps)

# The accepted spellings of each word answer, before normalization (see _words).
SPELLINGS: dict[str, tuple[str, ...]] = {
    "yes": ("yes", "y", "true", "yep"),
    "no": ("no", "n", "false", "nope"),
    "qat": ("qat", "quantization-aware training", "quantisation-aware training",
            "quantization aware", "quantized training", "quantised training",
            "train quantized", "train quantised", "trained quantized", "training quantized",
            "train it quantized", "train quantized (qat)"),
    "did not train": ("did not train", "didn't train", "not trained", "was not trained",
                      "never trained", "did not learn", "failed to train", "untrained",
                      "no training", "a run that did not train", "it did not train",
                      "dead run", "dead"),
}
_YES_NO = {"yes": True, "no": False}
_CONTRACTIONS = {"didnt": "did not", "doesnt": "does not", "wasnt": "was not",
                 "isnt": "is not", "hasnt": "has not", "dont": "do not", "cant": "can not",
                 "cannot": "can not", "havent": "have not", "wont": "will not"}
_FILLER = frozenset({"a", "an", "the", "it", "its", "this", "that", "run", "is", "was",
                     "network", "answer"})


class WrongAnswer(AssertionError):
    """A wrong answer to an exercise; the message says what to look at."""


def _words(text: str) -> str:
    """``text`` as lowercase words, without punctuation, contractions or filler words:
    "Didn't train." and "It did not train" both give "did not train"."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"\bcan't\b", "can not", text)
    text = re.sub(r"n't\b", " not", text)
    text = re.sub(r"[^a-z0-9]+", " ", text.replace("'", ""))
    words = " ".join(_CONTRACTIONS.get(word, word) for word in text.split()).split()
    return " ".join(word for word in words if word not in _FILLER)


def _plain(value: Any) -> str:
    """``value`` as a reader writes it: numpy and TensorFlow numbers as plain numbers
    (``105415200``, not ``np.int64(105415200)``), sequences in parentheses."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray | np.generic):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        value = value.item() if value.ndim == 0 else [*value]
    if isinstance(value, np.bool_):
        return str(bool(value))
    if isinstance(value, np.integer):
        return str(int(value))
    if isinstance(value, np.floating):
        return str(value)  # shortest form that identifies the float32 or float64 value
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_plain(item) for item in value) + ")"
    return repr(value)


def _as_number(value: Any) -> tuple[float, np.dtype] | None:
    """``value`` as (float, its dtype), or None when it is not one real number."""
    if value is None or isinstance(value, str | bytes | bool | np.bool_):
        return None
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray | np.generic):
        value = value.numpy()
    try:
        array = np.asarray(value)
        if array.ndim != 0:
            return None
        if array.dtype.kind in "iuf":
            return float(array), array.dtype
        return float(value), np.dtype(np.float64)  # e.g. fractions.Fraction, decimal
    except (TypeError, ValueError, OverflowError):
        return None


def _as_sequence(value: Any) -> list | None:
    if isinstance(value, tuple | list):
        return list(value)
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray | np.generic):
        value = value.numpy()
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return list(value)
    return None


@dataclass(frozen=True)
class Exercise:
    """One question and how to check an answer to it.

    Attributes:
        key: "<notebook number>_<name>", e.g. "01_code".
        question: the question as the notebook asks it, or a function that writes it (when
            it quotes records).
        expected: computes the right answer. Its type says how an answer is judged: an int
            is a count or code and must match exactly, a float is a measure and matches
            within ``tolerance``, a str is a word (see :data:`SPELLINGS`), a tuple is one
            answer per element.
        hint: what to reconsider when the answer is wrong; it never gives the answer.
        tolerance: relative tolerance for float answers: :data:`FLOAT32_RTOL` unless the
            question allows rounding (looser) or a known wrong answer lies close (tighter).
    """

    key: str
    question: str | Callable[[], str]
    expected: Callable[[], Any]
    hint: str
    tolerance: float = FLOAT32_RTOL

    @property
    def notebook(self) -> str:
        return self.key.split("_", 1)[0]

    def ask(self) -> str:
        """The question's text."""
        return self.question() if callable(self.question) else self.question

    def is_right(self, answer: Any) -> bool:
        expected = self.expected()
        if isinstance(expected, tuple | list):
            answers = _as_sequence(answer)
            return (answers is not None and len(answers) == len(expected)
                    and all(self._close(a, e) for a, e in zip(answers, expected, strict=True)))
        return self._close(answer, expected)

    def _close(self, answer: Any, expected: Any) -> bool:
        if isinstance(expected, str):
            return _word_matches(answer, expected)
        number = _as_number(answer)
        if number is None or not math.isfinite(number[0]):
            return False
        value, dtype = number
        if isinstance(expected, int | np.integer):
            return _count_matches(value, dtype, int(expected))
        return math.isclose(value, float(expected), rel_tol=self.tolerance, abs_tol=ABS_TOL)


def _word_matches(answer: Any, expected: str) -> bool:
    if isinstance(answer, bool | np.bool_) and expected in _YES_NO:
        return bool(answer) is _YES_NO[expected]
    if not isinstance(answer, str):
        return False
    given = _words(answer)
    if given in {_words(spelling) for spelling in SPELLINGS.get(expected, (expected,))}:
        return True
    # "Yes, it is beyond" and "no: 1.0 < 1.15" answer a yes/no question by their first word.
    return expected in _YES_NO and given.split(" ", 1)[0] == expected


def _count_matches(value: float, dtype: np.dtype, expected: int) -> bool:
    """An integer answer: the count itself, up to a float's rounding of it (float64 noise,
    or the float32 nearest to it), never a neighbouring integer."""
    if dtype.kind == "f" and dtype.itemsize < 8:
        with np.errstate(over="ignore"):
            if value == float(dtype.type(expected)):
                return True  # a float32 holds only every 8th integer near 1e8: the nearest
    eps = float(np.finfo(dtype).eps) if dtype.kind == "f" else float(np.finfo(float).eps)
    return abs(value - expected) <= min(0.25, 16 * eps * abs(expected))


def _eq_3_1_code() -> int:
    # 4 bits, alpha = 1: s = (2^3 - 1) / 1 = 7; round(7 * 0.3) = round(2.1) = 2
    return int(np.round(7 * 0.3))


def _relu_range() -> tuple[float, int]:
    scale = 6.0 / 255
    return scale, int(round(-128 - 0.0 / scale))


# AlexNet as utils.nets builds it at 227x227x3 with 2 classes, layer by layer:
# (weights, biases). Five convolutions, then 6x6x256 = 9,216 features into three dense layers.
ALEXNET_LAYERS: dict[str, tuple[int, int]] = {
    "conv1": (11 * 11 * 3 * 96, 96),
    "conv2": (5 * 5 * 96 * 256, 256),
    "conv3": (3 * 3 * 256 * 384, 384),
    "conv4": (3 * 3 * 384 * 384, 384),
    "conv5": (3 * 3 * 384 * 256, 256),
    "fc6": (6 * 6 * 256 * 4096, 4096),
    "fc7": (4096 * 4096, 4096),
    "fc8": (4096 * 2, 2),
}


def _alexnet_parameters() -> int:
    return sum(weights + biases for weights, biases in ALEXNET_LAYERS.values())


def _dense_share() -> float:
    dense = sum(sum(ALEXNET_LAYERS[name]) for name in ("fc6", "fc7"))
    return dense / _alexnet_parameters()


@dataclass(frozen=True)
class SeedComparison:
    """Float and binary AlexNet's test accuracy (%) over seeds, as the questions of notebook
    05 quote them (three decimals, as the notebook's comparison table prints them)."""

    float_mean: float
    float_std: float
    float_seeds: int
    binary_mean: float
    binary_std: float
    binary_seeds: int
    source: str

    @property
    def gap(self) -> float:
        return round(self.float_mean - self.binary_mean, 3)

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.float_std**2 / self.float_seeds
                         + self.binary_std**2 / self.binary_seeds)


def _reference_comparison():
    """The comparison table (:func:`utils.tables.comparison_table`) of the course's
    reference run: the committed quick-profile records on mnist5k."""
    from utils.course import REFERENCE_RUN, REPOSITORY_ROOT, course_folders
    from utils.records import main_records
    from utils.tables import comparison_table

    profile, dataset = REFERENCE_RUN
    results = course_folders(profile, dataset, REPOSITORY_ROOT).results
    return comparison_table([record for record in main_records(results, profile)
                             if record["config"]["dataset"] == dataset])


def seed_comparison() -> SeedComparison:
    """Float and binary AlexNet in the course's reference records, as notebook 05's
    exercises quote them; raises LookupError when those records are missing."""
    table = _reference_comparison()
    rows = {}
    for precision in ("fp32", "binary"):
        if ("alexnet", precision) not in getattr(table, "index", ()):
            raise LookupError(f"no reference record of alexnet {precision}: run 03_alexnet "
                              "in the quick profile on mnist5k in the repository first")
        row = table.loc[("alexnet", precision)]
        seeds, std = int(row["seeds"]), float(row["test accuracy % std"])
        if seeds < 2 or not math.isfinite(std):
            raise LookupError(f"alexnet {precision} has {seeds} reference seed(s); the "
                              "exercise needs two or more")
        rows[precision] = (round(float(row["test accuracy % mean"]), 3), round(std, 3), seeds)
    return SeedComparison(*rows["fp32"], *rows["binary"],
                          source="the course's reference run (the committed quick-profile "
                          "records on mnist5k, which this notebook prints)")


def _standard_error_question() -> str:
    c = seed_comparison()
    return (f"In {c.source}, float AlexNet reached {c.float_mean:.3f} ± {c.float_std:.3f}% "
            f"test accuracy over {c.float_seeds} seeds and binary AlexNet "
            f"{c.binary_mean:.3f} ± {c.binary_std:.3f}% over {c.binary_seeds} (mean ± sample "
            "std, as the comparison table prints them). What is the standard error of the "
            "difference of the two means?")


def _beyond_spread_question() -> str:
    c = seed_comparison()
    return (f"Is the {c.gap:.3f}-point gap between those two means (last exercise) beyond "
            "the seed spread? Answer \"yes\" or \"no\".")


def _beyond_spread() -> str:
    c = seed_comparison()
    return "yes" if abs(c.gap) > 2 * c.standard_error else "no"


def _latency_question() -> str:
    """06_latency_here, as it applies here: "this x86 machine" only where LCE can make and
    run a binary file on an x86 machine; otherwise about an x86 machine in general."""
    import platform

    from utils.environment import lce_available

    x86 = platform.machine().lower() in {"x86_64", "amd64", "i386", "i686"}
    if x86 and lce_available():
        setting = ("A binary .tflite file runs on this x86 machine in LCE's reference kernels "
                   "(notebook 06 times it).")
    else:
        why = "LCE is not usable on this runtime" if x86 else "this machine is not x86"
        setting = ("On an x86 machine, a binary .tflite file runs in LCE's reference kernels "
                   f"(no such file was timed here: {why}).")
    return (setting + " Does its latency on x86 tell its speed on a phone? Answer \"yes\" "
            "or \"no\".")


EXERCISES: dict[str, Exercise] = {exercise.key: exercise for exercise in (
    # 00: data
    Exercise("00_scaling", "What does a pixel of 0, 128 and 255 become after the course's "
             "scaling to [-1, 1]? Give three numbers.",
             lambda: (-1.0, 128 / 127.5 - 1.0, 1.0),
             "the scaling is x / 127.5 - 1"),
    Exercise("00_chance", "What accuracy does guessing give on mnist5k's balanced test set, "
             "and on Cats & Dogs? Give two fractions.", lambda: (0.1, 0.5),
             "a uniform guess is right once per number of classes"),
    Exercise("00_split", "How many training images of each digit does mnist5k have?",
             lambda: 350, "3,500 training images, stratified over 10 classes"),
    # 01: quantization theory
    Exercise("01_code", "With eq. 3.1 at k = 4 bits and α = 1, which integer code does "
             "y = 0.3 get?", _eq_3_1_code,
             "s = (2^(k-1) - 1) / α, then round(s · clip(y, -α, α))"),
    Exercise("01_relu_range", "An activation lies in [0, 6]. What scale S and zero point Z "
             "does int8 ([-128, 127]) give it? Give (S, Z).", _relu_range,
             "S = (r_max - r_min) / (q_max - q_min), Z = round(q_min - r_min / S)"),
    Exercise("01_ste", "What gradient does the sign's straight-through estimator pass back "
             "at x = 0.5 and at x = 1.5, for an incoming gradient of 1? Give two numbers.",
             lambda: (1.0, 0.0), "eq. 4.3: the gradient passes where |x| ≤ 1"),
    Exercise("01_sqnr", "By about how many dB does the SQNR of uniformly spread values grow "
             "from 4 to 8 bits?", lambda: 4 * 20 * math.log10(2),
             "each bit halves the step and adds 10·log10(4) dB", tolerance=0.05),
    # 02: layers
    Exercise("02_levels", "How many distinct values can KBitQuantizer(3) output?",
             lambda: 2**3, "eq. 4.6's grid has every code of a k-bit two's-complement number"),
    Exercise("02_binary_bytes", "A binary dense layer has 1,024 inputs and 1,024 outputs. "
             "How many bytes do its weights take as bits, and as float32? Give two numbers.",
             lambda: (1024 * 1024 // 8, 1024 * 1024 * 4),
             "one bit per binary weight, four bytes per float32 weight"),
    Exercise("02_ptq_or_qat", "For a 2-bit network, quantize after training (\"ptq\") or "
             "train quantized (\"qat\")? Answer with the word.", lambda: "qat",
             "compare the two curves of section 6 at 2 bits"),
    # 03 and 04: the networks
    Exercise("03_conv1_weights", "How many weights does AlexNet's first convolution have "
             "(96 filters of 11x11 over 3 channels, without biases)?",
             lambda: ALEXNET_LAYERS["conv1"][0],
             "kernel height · width · input channels · filters"),
    # Tolerance 5e-6: leaving the biases out (of fc6 and fc7, or of every layer) or counting
    # fc8 too moves the share by 1.4e-5 to 1.5e-4 of it.
    Exercise("03_dense_share", f"What fraction of the float AlexNet's "
             f"{_alexnet_parameters():,} parameters sit in fc6 (9,216 → 4,096) and fc7 "
             "(4,096 → 4,096), biases included? Give six significant digits or more.",
             _dense_share,
             "a dense layer has inputs · outputs weights and one bias per output; count fc6 "
             "and fc7 only, and divide by all of the network's parameters",
             tolerance=5e-6),
    Exercise("03_conv1_macs", "How many multiply-accumulates does AlexNet's first "
             "convolution do on a 227x227 image (55x55 outputs per filter)?",
             lambda: 55 * 55 * ALEXNET_LAYERS["conv1"][0],
             "one multiply-accumulate per weight (biases are added, not multiplied) per "
             "output position"),
    Exercise("04_final_map", "GoogLeNet halves the side of its feature maps five times. "
             "What side does the global average pooling see at 224x224 inputs?",
             lambda: 224 // 2**5, "each halving divides the side by two"),
    Exercise("04_inception_channels", "How many channels leave inception block 3a "
             "(1x1: 64, 3x3: 128, 5x5: 32, pool projection: 32)?", lambda: 64 + 128 + 32 + 32,
             "the branches are concatenated along the channels"),
    Exercise("04_reduce_weights", "How many weights does a 1x1 convolution from 192 to 64 "
             "channels have, and a 3x3 one? Give two numbers.",
             lambda: (192 * 64, 3 * 3 * 192 * 64), "kernel area · input channels · filters"),
    # 05 and 07: reading seeds. The numbers of 05 come from the records, when asked.
    Exercise("05_standard_error", _standard_error_question,
             lambda: seed_comparison().standard_error,
             "sqrt(s_a²/n_a + s_b²/n_b), with each network's std and number of seeds",
             tolerance=2e-3),  # the table's full digits or the quoted three decimals
    Exercise("05_beyond_spread", _beyond_spread_question, _beyond_spread,
             "beyond the spread means larger than two standard errors"),
    Exercise("05_compression", "A network holds 1,000,000 binary weights and 10,000 float "
             "parameters (batch normalization, first and last layers). How many times "
             "smaller than its float32 version is it, by larq's count?",
             lambda: (1_010_000 * 32) / (1_000_000 + 10_000 * 32),
             "memory = 1 bit per binary weight + 32 bits per float parameter", tolerance=1e-3),
    Exercise("07_small_difference", "A variant reached 95.0 ± 0.8% and its baseline "
             "96.0 ± 0.6% over three seeds each. Is the 1-point difference beyond the seed "
             "spread? Answer \"yes\" or \"no\".",
             lambda: "yes" if 1.0 > 2 * math.sqrt(0.8**2 / 3 + 0.6**2 / 3) else "no",
             "compare it with twice sqrt(s_a²/n_a + s_b²/n_b)"),
    Exercise("07_seeds_needed", "With a seed-to-seed standard deviation of 0.5 points in "
             "both conditions, how many seeds per condition make a 1-point difference "
             "beyond the spread (two standard errors), at the least?",
             lambda: next(n for n in range(2, 100) if 1.0 > 2 * math.sqrt(2 * 0.25 / n)),
             "2 · sqrt(2 · 0.5² / n) must fall below 1"),
    Exercise("07_dead_run", "A binary network's test accuracy stays at 10.0% for every seed "
             "on ten balanced classes. Is its 84-point gap to the baseline an effect of the "
             "ablated setting (\"effect\") or a run that did not train (\"did not train\")?",
             lambda: "did not train", "10% is chance on ten balanced classes"),
    # 08: arithmetic and energy
    Exercise("08_xnor_dot", "Two ±1 vectors of 64 elements agree in 40 positions. What is "
             "their dot product, computed as 2·popcount(XNOR(a, w)) − n?",
             lambda: 2 * 40 - 64, "XNOR is 1 where the signs agree; each agreement adds +1 "
             "and each disagreement −1"),
    Exercise("08_requant_multiplier", "An int8 convolution has input scale 0.02, weight "
             "scale 0.005 and output scale 0.1. By which real multiplier M does it rescale "
             "its int32 accumulator into output codes?", lambda: 0.02 * 0.005 / 0.1,
             "M = S_input · S_weight / S_output"),
    Exercise("08_mac_energy_ratio", "By Horowitz's 45 nm figures (float32 multiply 3.7 pJ, "
             "add 0.9 pJ; 8-bit integer multiply 0.2 pJ, 32-bit integer add 0.1 pJ), how "
             "many times less energy does an int8 MAC with a 32-bit accumulator take than a "
             "float32 MAC?", lambda: (3.7 + 0.9) / (0.2 + 0.1),
             "a MAC is one multiply and one add; the accumulator add is 32 bits wide",
             tolerance=5e-3),  # 15.3 is right; 23 and 18.5 (a term left out) are not
    # 09: related systems
    Exercise("09_abc_convolutions", "An ABC-Net layer has M = 3 weight bases and N = 3 "
             "activation bases. How many binary convolutions does it compute per input?",
             lambda: 3 * 3, "every weight base meets every activation base"),
    Exercise("09_abc_bytes", "How many bytes do the weights of a 1,000,000-weight layer take "
             "with M = 5 binary bases (ignoring the five scales α), and how many as int8? "
             "Give two numbers.", lambda: (5 * 1_000_000 // 8, 1_000_000),
             "each base stores one bit per weight"),
    Exercise("09_training_share", "mnist5k trains on 3,500 digits, MNIST on 60,000. What "
             "fraction of MNIST's training set does a network here see?",
             lambda: 3_500 / 60_000, "divide the two counts", tolerance=1e-3),
    # 06: files
    Exercise("06_packed_bytes", "LCE packs the input channels of each kernel position into "
             "32-bit words. How many bytes does a binary 5x5 convolution from 24 to 64 "
             "channels take, and how many would 24 bits per position need? Give two numbers.",
             lambda: (5 * 5 * 64 * 4, 5 * 5 * 64 * 24 // 8),
             "24 channels fill one 32-bit word per kernel position and filter"),
    Exercise("06_latency_here", _latency_question, lambda: "no",
             "LCE's fast binary kernels are written for 64-bit ARM"),
    Exercise("06_int8_ceiling", "What is the largest size ratio an int8 file can reach "
             "against the float32 file of the same network?", lambda: 4.0,
             "compare the bits of an int8 weight with those of a float32 weight"),
)}


def _exercise(key: str) -> Exercise:
    if key not in EXERCISES:
        raise KeyError(f"no exercise {key!r}; the exercises are {', '.join(EXERCISES)}")
    return EXERCISES[key]


def exercise(key: str):
    """Show the question of exercise ``key`` (as markdown in a notebook)."""
    from IPython.display import Markdown

    question = _exercise(key).ask()
    return Markdown(f"**Exercise {key}.** {question} Compute it in the next cell and check "
                    f"it with `check(\"{key}\", answer)`; the worked solution follows, "
                    "folded.")


def check(key: str, answer: Any) -> None:
    """Check ``answer`` to exercise ``key``: prints one confirmation, which does not repeat
    the answer, when it is right; raises :class:`WrongAnswer` with a hint when it is not.

    Returns None, so that a notebook shows the confirmation once."""
    exercise = _exercise(key)
    if not exercise.is_right(answer):
        expected, answers = exercise.expected(), _as_sequence(answer)
        shape = ""
        if isinstance(expected, tuple | list) and (answers is None
                                                   or len(answers) != len(expected)):
            shape = f" Give {len(expected)} values, in the order the question asks."
        raise WrongAnswer(f"Not yet: {_plain(answer)} is not the answer to {key}.{shape} "
                          f"Hint: {exercise.hint}.")
    print(f"Right: that is the answer to {key}.")


class GradingError(AssertionError):
    """A graded function disagrees with the course's implementation; the message says where."""


class NotWritten(NotImplementedError):
    """Raised by an implement-it stub that the student has not completed yet."""


def passed(name: str, cases: int, graded: Callable | None = None) -> None:
    """The one line a passing graded test prints; it says so when the function graded is
    the reference solution standing in for an unwritten one (see
    :func:`use_reference_until_written`)."""
    if getattr(graded, "stands_in_for", None):
        print(f"{name}: not written yet; the reference solution standing in for it passed "
              f"all {cases} checks. Write yours in its cell, run that cell and the one "
              "after it, then this test again.")
        return
    print(f"{name}: all {cases} checks passed.")


def use_reference_until_written(student: Callable, reference: Callable,
                                probe: Callable[[Callable], Any]) -> Callable:
    """``student`` when it is written, else ``reference`` (said aloud), marked as standing in
    for ``student`` so that a graded test says whose function passed.

    ``probe`` calls the function once on a small input; a stub that raises
    :class:`NotWritten` (or returns None) counts as not written yet. Every implement-it cell
    of notebooks 01, 02 and 08 grades the function this returns, the one the notebook goes
    on with.
    """
    try:
        written = probe(student) is not None
    except NotWritten:
        written = False
    if written:
        return student
    print(f"`{student.__name__}` is not written yet: the reference solution stands in, so the "
          "notebook runs on. Write it in the cell above and run the test again.")

    @functools.wraps(reference)
    def stand_in(*args, **kwargs):
        return reference(*args, **kwargs)

    stand_in.stands_in_for = student.__name__  # what the graded tests say they graded
    return stand_in


def _first_difference(got: np.ndarray, want: np.ndarray, inputs: dict[str, Any],
                      atol: float = 0.0) -> str | None:
    """None when ``got`` equals ``want`` (within ``atol``), else where and how they differ."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"shape {got.shape}, expected {want.shape}"
    bad = np.argwhere(~np.isclose(got, want, rtol=0.0, atol=atol, equal_nan=True))
    if not len(bad):
        return None
    index = tuple(bad[0])
    shown = ", ".join(f"{name}={_at(value, index)}" for name, value in inputs.items())
    return (f"{len(bad)} of {want.size} values differ; first at index {index}: got "
            f"{_plain(got[index])}, expected {_plain(want[index])} ({shown})")


def _at(value: Any, index: tuple) -> Any:
    array = np.asarray(value)
    if array.ndim == len(index):
        return array[index].item()
    return value


# --- notebook 01: quantizer, straight-through estimator, scale and zero point ---------------
def _graded_01(name: str, case: str, call: Callable[[], Any], hint: str = "") -> Any:
    """``call()``, the student's function on one case; what it raises becomes a GradingError."""
    try:
        got = call()
    except NotWritten as error:
        raise GradingError(f"{name} is not written yet (it raises NotWritten): complete it in "
                           "its cell and run that cell again.") from error
    except Exception as error:
        raise GradingError(f"{name} failed on {case}: {type(error).__name__}: {error}"
                           + (f". Hint: {hint}" if hint else "")) from error
    if got is None:
        raise GradingError(f"{name} returned None on {case}: return the result.")
    return got


def _difference_01(got: Any, want: np.ndarray, inputs: dict[str, Any], *, rtol: float = 0.0,
                   atol: float = 0.0) -> str | None:
    """:func:`_first_difference` with a relative tolerance too (scales span many decades)."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape == want.shape:
        got = np.where(np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True), want, got)
    return _first_difference(got, want, inputs)


def _fail_01(name: str, case: str, difference: str | None, hint: str) -> None:
    if difference is not None:
        raise GradingError(f"{name} on {case}: {difference}. Hint: {hint}")


def test_quantize(quantize: Callable) -> None:
    """Grade ``quantize(x, k, alpha)``, the integer codes of eqs. 3.1/3.4.

    Compared with :func:`utils.quantizers.quantize_to_integers` (symmetric range) on random
    values for even and odd k, a small threshold alpha, exact ties (scaled values m + 0.5),
    values at and beyond ±alpha, and constant tensors.
    """
    from utils.quantizers import quantize_to_integers

    rng = np.random.default_rng(1)
    cases = [(f"random values, k={k}, alpha=1", rng.normal(0.0, 0.7, 300), k, 1.0,
              "codes = round(s * clip(x, -alpha, alpha)) with s = (2^(k-1) - 1) / alpha")
             for k in (2, 3, 4, 5, 8)]
    cases.append(("small weights, k=4, alpha=0.1", rng.normal(0.0, 0.05, 300), 4, 0.1,
                  "the scale s = (2^(k-1) - 1) / alpha depends on alpha"))
    for k in (3, 4):
        top = 2 ** (k - 1) - 1
        alpha = top / 4  # s = 4 exactly, so x = (m + 0.5) / 4 scales to m + 0.5 exactly
        ties = (np.arange(-top, top) + 0.5) / 4
        cases.append((f"ties (s*x = m + 0.5 exactly), k={k}, alpha={alpha}", ties, k, alpha,
                      "round exact halves to the even neighbour (np.round, tf.round), "
                      "not half up (floor(v + 0.5)) nor away from zero (Python 2's round)"))
    for k in (4, 5):
        edges = np.array([-1e6, -3.0, -1.0001, -1.0, 1.0, 1.0001, 3.0, 1e6]) * 0.5
        cases.append((f"values at and beyond ±alpha, k={k}, alpha=0.5", edges, k, 0.5,
                      "clip x to [-alpha, alpha] first: ±alpha map to ±(2^(k-1) - 1), the "
                      "largest codes of the symmetric range (eq. 3.4)"))
    cases += [("a constant tensor of shape (4, 3), k=4, alpha=1", np.full((4, 3), 0.3), 4, 1.0,
               "keep the input's shape"),
              ("a constant zero tensor, k=3, alpha=1", np.zeros(5), 3, 1.0, "zero is code 0")]
    for case, x, k, alpha, hint in cases:
        want = quantize_to_integers(x, k, alpha)
        got = _graded_01("quantize", case,
                         lambda x=x, k=k, alpha=alpha: quantize(x.copy(), k, alpha))
        _fail_01("quantize", case, _difference_01(got, want, {"x": x}), hint)
    passed("quantize", len(cases), quantize)


def _forward_and_gradient_01(function: Callable, x: np.ndarray, upstream: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray]:
    """q(x) and d(sum(upstream * q(x)))/dx = upstream * dq/dx, measured by GradientTape."""
    import tensorflow as tf

    x = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        q = tf.cast(tf.convert_to_tensor(function(x)), tf.float32)
        loss = tf.reduce_sum(q * tf.constant(upstream, tf.float32))
    gradient = tape.gradient(loss, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return q.numpy(), gradient.numpy()


def test_quantize_ste(quantize_ste: Callable) -> None:
    """Grade ``quantize_ste(x, k)``: the k-bit quantizer of eq. 4.6 forward, the
    straight-through estimator of eq. 4.7 backward.

    Compared with :class:`utils.quantizers.KBitQuantizer` through ``tf.GradientTape``, forward
    values and gradients (with a random upstream gradient, not all ones), for even and odd k:
    a sweep over [-2, 2], exact ties of eq. 4.6, the clip edges (x = ±1 exactly, where the
    course passes the gradient, and the float32 numbers just beyond them, where it does not)
    and a 2-D tensor.
    """
    from utils.quantizers import KBitQuantizer

    rng = np.random.default_rng(2)
    one_up = np.nextafter(np.float32(1), np.float32(2))  # the first float32 beyond 1
    cases = []
    for k in (2, 3, 4, 8):
        step = 2.0 ** -(k - 1)
        cases += [
            (f"a sweep over [-2, 2], k={k}", k, np.linspace(-2.0, 2.0, 401)),
            (f"ties of eq. 4.6 (2^(k-1) x = m + 0.5), k={k}", k,
             (np.arange(-(2 ** (k - 1)), 2 ** (k - 1)) + 0.5) * step),
            (f"the clip edges, k={k}", k, np.array([-2.0, -float(one_up), -1.0, -1.0 + step,
                                                    1.0 - step, 1.0 - step / 2, 1.0,
                                                    float(one_up), 2.0])),
        ]
    cases.append(("a 2-D tensor, k=4", 4, rng.normal(0.0, 0.8, (6, 5))))
    for case, k, x in cases:
        x = np.asarray(x, np.float32)
        upstream = rng.uniform(0.5, 2.0, x.shape).astype(np.float32)
        want_q, want_g = _forward_and_gradient_01(KBitQuantizer(k), x, upstream)
        got_q, got_g = _graded_01("quantize_ste", case, lambda x=x, k=k, u=upstream:
                                  _forward_and_gradient_01(lambda t: quantize_ste(t, k), x, u))
        inputs = {"x": x}
        _fail_01("quantize_ste", f"{case}, forward", _difference_01(got_q, want_q, inputs,
                                                                    atol=1e-6),
                 "q = clip(round(2^(k-1) x) / 2^(k-1), -1, 1 - 2^-(k-1)) (eq. 4.6), rounding "
                 "halves to even (tf.round)")
        _fail_01("quantize_ste", f"{case}, gradient",
                 _difference_01(got_g, want_g, {**inputs, "upstream gradient": upstream},
                                atol=1e-6),
                 "the gradient is the incoming one (dy) where -1 <= x <= 1, the edges "
                 "included, and 0 elsewhere (eq. 4.7): return dy * mask, not the mask alone")
    passed("quantize_ste", 2 * len(cases), quantize_ste)


def test_scale_and_zero_point(scale_and_zero_point: Callable) -> None:
    """Grade ``scale_and_zero_point(r_min, r_max, bits)``: S and Z of r = S (q - Z) on the
    signed full range [-2^(bits-1), 2^(bits-1) - 1].

    Compared with :func:`utils.quantizers.affine_from_range` on ranges around zero, one-sided
    ranges (which the course widens to contain 0), a constant range, the all-zero range, a
    narrow and a wide range, odd and even bit counts, and a zero point that is an exact tie.
    """
    from utils.quantizers import affine_from_range

    widen = "widen the range to contain 0 first: r_min = min(r_min, 0), r_max = max(r_max, 0)"
    cases = [("a range around zero", -1.0, 3.0, 8, "S = (r_max - r_min) / (q_max - q_min), "
              "Z = round(q_min - r_min / S), with [q_min, q_max] = [-2^(bits-1), 2^(bits-1) - 1]"),
             ("a ReLU's range", 0.0, 6.0, 8, "Z = q_min when r_min = 0"),
             ("an all-positive range", 0.5, 6.0, 8, widen),
             ("an all-negative range", -4.0, -1.0, 8, widen),
             ("a constant range (a constant tensor)", 2.5, 2.5, 8, widen),
             ("a constant negative range", -0.7, -0.7, 4, widen),
             ("the all-zero range", 0.0, 0.0, 8, "a range of width 0 gets S = 1 (any S would "
              "store the zeros exactly; the course uses 1), never 0 / 0"),
             ("a narrow range", -1e-3, 2e-3, 8, "S = (r_max - r_min) / (q_max - q_min)"),
             ("a wide range", -1e4, 5e3, 8, "S = (r_max - r_min) / (q_max - q_min)"),
             ("an odd bit count", -1.0, 3.0, 3, "q_min = -2^(bits-1), q_max = 2^(bits-1) - 1"),
             ("4 bits", -0.3, 1.2, 4, "q_min = -2^(bits-1), q_max = 2^(bits-1) - 1"),
             ("a zero point that is a tie (q_min - r_min / S = 0.5)", -9.0, 5.0, 3,
              "round the zero point half to even (np.round, Python's round)"),
             ("16 bits", -2.0, 2.0, 16, "q_min = -2^(bits-1), q_max = 2^(bits-1) - 1")]
    for case, r_min, r_max, bits, hint in cases:
        want = affine_from_range(r_min, r_max, bits)
        got = _graded_01("scale_and_zero_point", case,
                         lambda a=r_min, b=r_max, n=bits: scale_and_zero_point(a, b, n), hint)
        if np.ndim(got) != 1 or len(got) != 2:
            raise GradingError(f"scale_and_zero_point must return a pair (scale, zero_point), "
                               f"got {_plain(got)}")
        inputs = {"r_min": r_min, "r_max": r_max, "bits": bits}
        _fail_01("scale_and_zero_point", f"{case}, scale",
                 _difference_01(got[0], want.scale, inputs, rtol=1e-6), hint)
        _fail_01("scale_and_zero_point", f"{case}, zero point",
                 _difference_01(got[1], want.zero_point, inputs), hint)
    passed("scale_and_zero_point", 2 * len(cases), scale_and_zero_point)


def _affine_cases_01() -> list[tuple[str, float, float, int, np.ndarray]]:
    """Ranges and values for the quantize/dequantize tests: (case, r_min, r_max, bits, r)."""
    rng = np.random.default_rng(3)
    # [-1, 255/64 - 1] at 8 bits: S = 1/64 exactly and Z = -64, so r = (m + 0.5) / 64 is a tie.
    return [("random values in [-1, 3]", -1.0, 3.0, 8, rng.uniform(-1.0, 3.0, 300)),
            ("values beyond [-1, 3]", -1.0, 3.0, 8, np.array([-50.0, -1.2, -1.0, 3.0, 3.1, 1e6])),
            ("ties (r / S = m + 0.5 exactly)", -1.0, 255 / 64 - 1, 8,
             (np.arange(-64, 191) + 0.5) / 64),
            ("a ReLU's range [0, 6] with negative inputs", 0.0, 6.0, 8,
             np.array([-3.0, -0.01, 0.0, 0.02, 2.9, 6.0, 6.5])),
            ("an all-negative range [-4, -1] (widened to [-4, 0])", -4.0, -1.0, 8,
             rng.uniform(-4.5, 0.5, 50)),
            ("3 bits on [-1, 3]", -1.0, 3.0, 3, np.linspace(-1.5, 3.5, 41)),
            ("a constant tensor of shape (2, 3)", -1.0, 3.0, 8, np.full((2, 3), 1.5))]


def test_quantize_affine(quantize_affine: Callable) -> None:
    """Grade ``quantize_affine(r, scale, zero_point, bits)``: q = clamp(round(r / S) + Z,
    q_min, q_max) on the signed full range, rounding half to even.

    Compared with :meth:`utils.quantizers.AffineQuantization.quantize` (the S and Z given are the
    course's, from :func:`utils.quantizers.affine_from_range`) on random values, values beyond the
    range, exact ties, a ReLU range, an all-negative range, 3 bits and a constant tensor.
    """
    from utils.quantizers import affine_from_range

    cases = _affine_cases_01()
    for case, r_min, r_max, bits, r in cases:
        grid = affine_from_range(r_min, r_max, bits)
        scale, zero_point = float(grid.scale), int(grid.zero_point)
        got = _graded_01("quantize_affine", case, lambda r=r, s=scale, z=zero_point, n=bits:
                         quantize_affine(r.copy(), s, z, n))
        _fail_01("quantize_affine", f"{case} (S={scale:.6g}, Z={zero_point}, bits={bits})",
                 _difference_01(got, grid.quantize(r), {"r": r}),
                 "q = round(r / S) + Z, rounded half to even, then clamped to "
                 "[-2^(bits-1), 2^(bits-1) - 1]")
    passed("quantize_affine", len(cases), quantize_affine)


def test_dequantize_affine(dequantize_affine: Callable) -> None:
    """Grade ``dequantize_affine(q, scale, zero_point)``: r = S (q - Z).

    Compared with :meth:`utils.quantizers.AffineQuantization.dequantize` on every code of several
    grids (zero points of -128, -64, -2, 0 and 127, narrow and wide scales) and on a constant
    array of codes.
    """
    from utils.quantizers import affine_from_range

    ranges = [(-1.0, 3.0, 8), (0.0, 6.0, 8), (-4.0, -1.0, 8), (-1.0, 3.0, 3), (-2.0, 2.0, 8),
              (-1e-3, 2e-3, 8), (-1e4, 5e3, 8)]
    cases = [(f"every code of the {bits}-bit grid on [{r_min:g}, {r_max:g}]", r_min, r_max, bits,
              None) for r_min, r_max, bits in ranges]
    cases.append(("a constant array of codes, shape (2, 3)", -1.0, 3.0, 8, np.full((2, 3), 17)))
    for case, r_min, r_max, bits, constant in cases:
        grid = affine_from_range(r_min, r_max, bits)
        scale, zero_point = float(grid.scale), int(grid.zero_point)
        codes = np.arange(grid.q_min, grid.q_max + 1) if constant is None else constant
        want = grid.dequantize(codes)
        got = _graded_01("dequantize_affine", case, lambda q=codes, s=scale, z=zero_point:
                         dequantize_affine(q.copy(), s, z))
        _fail_01("dequantize_affine", f"{case} (S={scale:.6g}, Z={zero_point})",
                 _difference_01(got, want, {"q": codes}, rtol=1e-6, atol=1e-6 * scale),
                 "r = S (q - Z): the zero point is subtracted, so that q = Z gives exactly 0")
    passed("dequantize_affine", len(cases), dequantize_affine)


def test_per_channel_scales(per_channel_scales: Callable) -> None:
    """Grade ``per_channel_scales(kernel, bits)``: one scale S_c = max|w_c| / (2^(bits-1) - 1)
    per output channel (the last axis), TFLite's symmetric weight scheme.

    Compared with :func:`utils.quantizers.symmetric_scales` (``per_channel=True``) on a conv and a
    dense kernel, channels whose magnitudes differ by 10^4, a channel of negative weights only,
    3 bits, and a kernel with an all-zero channel (whose scale must be positive and finite:
    the course uses 1.0; any positive scale stores its zeros exactly).
    """
    from utils.quantizers import symmetric_scales

    rng = np.random.default_rng(4)
    magnitudes = rng.normal(0.0, 1.0, (3, 3, 2, 4)) * np.array([1e-3, 1.0, 10.0, 0.05])
    negative = rng.normal(0.0, 0.05, (3, 3, 4, 3))
    negative[..., 1] = -np.abs(negative[..., 1]) - 0.01
    zero = rng.normal(0.0, 0.05, (3, 3, 4, 5))
    zero[..., 2] = 0.0
    cases = [("a random conv kernel (3, 3, 4, 8)", rng.normal(0.0, 0.05, (3, 3, 4, 8)), 8),
             ("channels of very different magnitude (1e-3 to 10)", magnitudes, 8),
             ("a channel of negative weights only", negative, 8),
             ("a dense kernel (16, 5) at 4 bits", rng.normal(0.0, 0.1, (16, 5)), 4),
             ("3 bits", rng.normal(0.0, 0.1, (3, 3, 2, 6)), 3),
             ("a kernel with an all-zero channel (channel 2)", zero, 8)]
    hint = ("S_c = max over everything but the last axis of |w|, divided by 2^(bits-1) - 1 "
            "(the narrow range [-127, 127] at 8 bits); one scale per output channel")
    for case, kernel, bits in cases:
        want = symmetric_scales(kernel, bits, per_channel=True).scale
        got = np.asarray(_graded_01("per_channel_scales", case,
                                    lambda w=kernel, n=bits: per_channel_scales(w.copy(), n)),
                         np.float64)
        largest = np.max(np.abs(kernel.reshape(-1, kernel.shape[-1])), axis=0)
        if got.shape == want.shape:
            empty = (largest == 0) & ~(np.isfinite(got) & (got > 0))
            if empty.any():
                channel = int(np.argmax(empty))
                raise GradingError(
                    f"per_channel_scales on {case}: output channel {channel} is all zeros, so "
                    f"max|w| = 0, and its scale came out {_plain(got[channel])}. Hint: give such a "
                    "channel a positive scale (the course uses 1.0; its weights are then all "
                    "stored as code 0), never 0 or 0 / 0")
            got = np.where(largest == 0, want, got)
        _fail_01("per_channel_scales", f"{case}, bits={bits}",
                 _difference_01(got, want, {"max|w| of the channel": largest}, rtol=1e-6),
                 hint)
    passed("per_channel_scales", len(cases), per_channel_scales)


# --- notebook 02: latent weights, post-training quantization, tfmot ------------------------
def _call_02(name: str, case: str, function: Callable, *args: Any) -> Any:
    """``function(*args)``, the student's function on one case; a stub that raises
    :class:`NotWritten`, or any other error, becomes a GradingError that says so."""
    try:
        return function(*args)
    except NotWritten as error:
        raise GradingError(f"{name} is not written yet (it raises NotWritten): complete it in "
                           "its cell and run that cell again.") from error
    except Exception as error:
        raise GradingError(f"{name}, case {case!r}: raised {type(error).__name__}: "
                           f"{error}") from error


def _check(name: str, case: str, got: Any, want: np.ndarray, inputs: dict[str, Any],
           hint: str, atol: float) -> None:
    """Raise :class:`GradingError` naming ``case``, the first difference and a hint."""
    if got is None:
        raise GradingError(f"{name} returned None for the case {case!r}: return the result.")
    shown = {key: np.round(np.asarray(value, np.float64), 7) if np.ndim(value) else value
             for key, value in inputs.items()}
    difference = _first_difference(np.asarray(got, np.float32), want, shown, atol=atol)
    if difference is not None:
        raise GradingError(f"{name}, case {case!r}: {difference}. Hint: {hint}")


def course_latent_update(latent, gradient, learning_rate: float) -> np.ndarray:
    """The course's latent-weight update, done the way the course's layers do it.

    In :func:`utils.lessons.binary_and_8bit_layers.live_layer_demo` (and every training run)
    Keras updates a larq kernel: the optimizer takes its step on the latent float weights, then
    applies the variable's constraint, the ``WeightClip(1)`` that the precision map gives every
    quantized kernel (report §4.3). This is that step with plain SGD in place of the demo's Adam: a
    ``tf.Variable`` holding ``latent``, with the binary kernel's own constraint, updated by
    ``tf.keras.optimizers.SGD(learning_rate)``. So w <- clip(w - eta * g, -1, 1).
    """
    import tensorflow as tf

    from utils.quantizers import get_precision

    constraint = get_precision("binary").first.layer_kwargs()["kernel_constraint"]
    variable = tf.Variable(np.asarray(latent, np.float32), constraint=constraint)
    optimizer = tf.keras.optimizers.SGD(learning_rate)
    optimizer.apply_gradients([(tf.constant(np.asarray(gradient, np.float32)), variable)])
    return variable.numpy()


def _latent_update_cases() -> list[tuple[str, np.ndarray, np.ndarray, float, str]]:
    """(case, latent, gradient, learning rate, hint): the step, then the edges of the clip."""
    rng = np.random.default_rng(2)
    step = "the step is w - learning_rate * gradient (a weight moves against its gradient)"
    clip = ("after the step, clip to [-1, 1] (np.clip or tf.clip_by_value), as larq's "
            "WeightClip(1), the kernel's constraint, does after every update")
    cases = [
        ("random latent weights and gradients", rng.uniform(-0.9, 0.9, (8, 16)),
         rng.normal(0.0, 1.0, (8, 16)), 0.01, step),
        ("a zero gradient", [-1.0, -0.3, 0.0, 0.7, 1.0], np.zeros(5), 0.1,
         "with no gradient no weight moves, not even those at ±1"),
        ("weights crossing zero (their binary value flips)", [0.05, -0.05, 0.01, -0.2],
         [1.0, -1.0, 0.5, -3.0], 0.1, step),
        ("weights at ±1 pushed outward", [1.0, -1.0, 1.0, -1.0, 0.95],
         [-0.5, 0.5, -3.0, 2.0, -1.0], 0.1, clip),
        ("weights at ±1 pulled inward", [1.0, -1.0], [0.5, -0.5], 0.1,
         "a weight at the bound leaves it when its gradient points inward: clip after the "
         "step, not before"),
        ("a step from one bound past the other", [-0.9, 0.9], [-30.0, 30.0], 0.1, clip),
        ("a large learning rate (many weights reach ±1)", rng.uniform(-1.0, 1.0, 64),
         rng.normal(0.0, 1.0, 64), 0.5, clip),
    ]
    return [(case, np.asarray(latent, np.float32), np.asarray(gradient, np.float32), rate, hint)
            for case, latent, gradient, rate, hint in cases]


def test_latent_update(latent_update: Callable) -> None:
    """Grade ``latent_update(latent, gradient, learning_rate)`` against
    :func:`course_latent_update`: one SGD step on the latent weights, then the clip to
    [-1, 1] (report §3.1 and §4.3)."""
    cases = _latent_update_cases()
    for case, latent, gradient, rate, hint in cases:
        want = course_latent_update(latent, gradient, rate)
        got = _call_02("latent_update", case, latent_update, latent.copy(), gradient.copy(),
                       rate)
        _check("latent_update", case, got, want,
               {"latent": latent, "gradient": gradient, "learning_rate": rate}, hint,
               atol=1e-6)
    passed("latent_update", len(cases), latent_update)


def course_quantize_layer_weights(kernel, bits: int) -> np.ndarray:
    """What :func:`utils.quantizers.quantize_after_training` does to one kernel: TFLite's weight
    scheme, symmetric with one scale per output channel (the last axis), zero point 0 and the
    narrow range [-(2^(k-1) - 1), 2^(k-1) - 1] (:func:`utils.quantizers.symmetric_scales`),
    rounded half to even and dequantized
    (:meth:`utils.quantizers.AffineQuantization.fake_quantize`)."""
    from utils.quantizers import symmetric_scales

    return symmetric_scales(kernel, bits, per_channel=True).fake_quantize(kernel)


def _quantize_layer_weights_cases() -> list[tuple[str, np.ndarray, int, str]]:
    """(case, kernel, bits, hint): the edges first, then random kernels."""
    rng = np.random.default_rng(3)
    scheme = ("per output channel c (the last axis): S_c = max|w_c| / (2^(k-1) - 1), "
              "q = clip(round(w / S_c), -(2^(k-1) - 1), 2^(k-1) - 1), return S_c * q")
    ties = [[127.0, 127.0], [0.5, -0.5], [1.5, -1.5], [2.5, -2.5], [-126.5, 3.5]]
    spread = rng.normal(0.0, 0.05, (16, 4))
    spread[:, 0] *= 100.0
    dead = rng.normal(0.0, 0.1, (3, 3, 2, 4))
    dead[..., 1] = 0.0
    negative = rng.uniform(-0.5, -0.1, (8, 3))
    negative[0] = -0.5  # every channel has the same largest |w|
    cases = [
        ("a constant kernel (every weight 0.3)", np.full((4, 3), 0.3), 8,
         "the largest |w| of a channel comes back exactly: it maps to q_max = 2^(k-1) - 1 "
         "(127 at 8 bits, the narrow range), and the result is S * q, not the integer q"),
        ("channels without zero in their range (all weights negative)", negative, 8,
         "the grid is symmetric: zero point 0 and S from the largest |w|, even when every "
         "weight has the same sign"),
        ("ties: values halfway between two levels (S = 1)", ties, 8,
         "round halves to even, as np.round and tf.round do (0.5 -> 0, 1.5 -> 2, 2.5 -> 2)"),
        ("channels whose ranges differ 100-fold", spread, 4,
         "one scale per output channel (the last axis), not one for the whole kernel"),
        ("a channel of zeros (a dead filter)", dead, 8,
         "a channel whose max|w| is 0 comes back as zeros, not NaN (the course takes S = 1 "
         "there)"),
        ("an odd bit count (3 bits: q in [-3, 3])", rng.normal(0.0, 0.1, (5, 5, 3, 6)), 3,
         scheme),
        ("2 bits (q in [-1, 1])", rng.normal(0.0, 0.1, (20, 6)), 2, scheme),
        ("a random 3x3 convolution kernel at 8 bits", rng.normal(0.0, 0.1, (3, 3, 8, 16)), 8,
         scheme),
        ("a random dense kernel at 4 bits", rng.normal(0.0, 0.1, (64, 10)), 4, scheme),
    ]
    return [(case, np.asarray(kernel, np.float32), bits, hint)
            for case, kernel, bits, hint in cases]


def test_quantize_layer_weights(quantize_layer_weights: Callable) -> None:
    """Grade ``quantize_layer_weights(kernel, bits)`` against
    :func:`course_quantize_layer_weights`, the weight step of the course's post-training
    quantization, on edge cases (a constant kernel, ties, a dead channel, an odd bit count)
    and random kernels."""
    cases = _quantize_layer_weights_cases()
    for case, kernel, bits, hint in cases:
        want = course_quantize_layer_weights(kernel, bits)
        got = _call_02("quantize_layer_weights", case, quantize_layer_weights, kernel.copy(),
                       bits)
        # float32 arithmetic is fine: allow its rounding, far below one grid step
        atol = 1e-6 * max(1.0, float(np.max(np.abs(kernel))))
        _check("quantize_layer_weights", case, got, want, {"kernel": kernel, "bits": bits},
               hint, atol=atol)
    passed("quantize_layer_weights", len(cases), quantize_layer_weights)


def test_qat_model(qat_model, float_model) -> None:
    """Check that ``qat_model`` is ``float_model`` made quantization-aware by tfmot: an input
    ``QuantizeLayer`` and the same layers in ``QuantizeWrapperV2`` (with the same quantize
    configs) as the course's own wrapping, :func:`utils.qat.quantize_network`."""
    import tensorflow_model_optimization as tfmot

    from utils.qat import quantize_network

    keras_quantization = tfmot.quantization.keras
    if qat_model is None:
        raise GradingError("qat_model is None: make it with "
                           "tfmot.quantization.keras.quantize_model(float_model).")

    def wrapped(model) -> dict[str, str]:
        return {layer.layer.name: type(layer.quantize_config).__name__
                for layer in model.layers
                if isinstance(layer, keras_quantization.QuantizeWrapperV2)}

    got, want = wrapped(qat_model), wrapped(quantize_network(float_model))
    if not got:
        raise GradingError(
            f"qat_model has no QuantizeWrapperV2 layers; the course's wrapping of the same "
            f"float model has {len(want)} ({', '.join(want)}). Is it still the float model? "
            "Pass it through tfmot.quantization.keras.quantize_model.")
    missing = [name for name in want if name not in got]
    if missing:
        raise GradingError(f"qat_model wraps {len(got)} layers, the course's wrapping "
                           f"{len(want)}: not wrapped: {', '.join(missing)}. quantize_model "
                           "wraps every layer (or annotate them all before quantize_apply).")
    extra = [name for name in got if name not in want]
    if extra:
        raise GradingError(f"qat_model wraps layers the float model does not have: "
                           f"{', '.join(extra)}. Quantize the float model itself.")
    configs = [name for name in want if got[name] != want[name]]
    if configs:
        name = configs[0]
        raise GradingError(f"layer {name!r} is quantized with {got[name]}, the course's "
                           f"default 8-bit scheme uses {want[name]}.")
    if not any(type(layer).__name__ == "QuantizeLayer" for layer in qat_model.layers):
        raise GradingError("qat_model has no QuantizeLayer: its input is not quantized "
                           "(quantize_model adds one after the input).")
    passed("qat_model", 4)


def _graded_08(name: str, grade: Callable[[Callable], int], student: Callable) -> None:
    """Run ``grade(student)`` (which returns how many cases it checked) and say it passed;
    a stub that raises :class:`NotWritten` fails as in notebooks 01 and 02."""
    try:
        cases = grade(student)
    except NotWritten as error:
        raise GradingError(f"{name} is not written yet (it raises NotWritten): complete it in "
                           "its cell and run that cell again.") from error
    passed(name, cases, student)


def _call_08(name: str, case: str, function: Callable, *args: Any) -> Any:
    """``function(*args)``; an error (other than NotWritten) becomes a GradingError that
    names the case, with the original error chained."""
    try:
        return function(*args)
    except NotWritten:
        raise
    except Exception as error:
        raise GradingError(f"{name}, case '{case}': raised {type(error).__name__}: "
                           f"{error}") from error


def _xnor_cases(rng: np.random.Generator):
    """(description, a (..., n) ±1, w (..., n) ±1, padding bits to set: "", "a" or "a, w")."""

    def signs(*shape: int) -> np.ndarray:
        return rng.choice(np.array([-1, 1]), size=shape)

    yield "64 channels (whole bytes), random signs", signs(64), signs(64), ""
    yield "13 channels: the last byte holds 3 channels and 5 padding bits", signs(13), \
        signs(13), ""
    yield "1 channel", signs(1), signs(1), ""
    same = signs(27)
    yield "27 channels, all equal (the dot product is +n)", same, same.copy(), ""
    yield "27 channels, all opposite (the dot product is -n)", same, -same, ""
    yield ("61 channels, the padding bits of a set to 1 (a word read from memory may hold "
           "anything there)", signs(61), signs(61), "a")
    yield "61 channels, the padding bits of a and w both set to 1", signs(61), signs(61), "a, w"
    yield ("8 inputs (8, 1, bytes) against 5 kernels (5, bytes), 75 channels: a (8, 5) result",
           signs(8, 1, 75), signs(5, 75), "")


def _xnor_expected(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Σ a_i·w_i as utils.lessons.arithmetic_and_energy.binary_conv2d computes it (a 1x1 binary
    convolution of each input row with each kernel row), checked against the plain ±1 dot
    product."""
    from utils.lessons.arithmetic_and_energy import binary_conv2d

    n = a.shape[-1]
    rows, kernels = a.reshape(-1, n), w.reshape(-1, n)
    convolution = binary_conv2d(rows[:, None, None, :], kernels.T[None, None]).output
    shape = np.broadcast_shapes(a.shape[:-1], w.shape[:-1])
    expected = convolution.reshape(shape).astype(np.int64)
    if not np.array_equal(expected, np.sum(a * w, axis=-1)):
        raise RuntimeError("utils.lessons.arithmetic_and_energy.binary_conv2d disagrees with "
                           "the ±1 dot product")
    return expected


def _set_padding_bits(bits: np.ndarray, n: int) -> np.ndarray:
    """``bits`` with the unused low bits of the last byte set to 1."""
    bits = bits.copy()
    if n % 8:
        bits[..., -1] |= np.uint8((1 << (8 - n % 8)) - 1)
    return bits


def _grade_xnor_popcount_dot(student: Callable) -> int:
    rng = np.random.default_rng(8)
    count = 0
    for case, a, w, padding in _xnor_cases(rng):
        n = a.shape[-1]
        a_bits, w_bits = np.packbits(a > 0, axis=-1), np.packbits(w > 0, axis=-1)
        if "a" in padding.split(", "):
            a_bits = _set_padding_bits(a_bits, n)
        if "w" in padding.split(", "):
            w_bits = _set_padding_bits(w_bits, n)
        got = _call_08("xnor_popcount_dot", case, student, a_bits, w_bits, n)
        difference = _first_difference(np.asarray(got), _xnor_expected(a, w), {"n": n})
        if difference:
            raise GradingError(f"xnor_popcount_dot, case '{case}': {difference}. The expected "
                               f"value is the ±1 dot product Σ a_i·w_i over the n = {n} "
                               f"channels, n − 2·popcount(a XOR w) (report §3.2); bits past "
                               f"n in the last byte are not channels.")
        count += 1
    return count


def test_xnor_popcount_dot(xnor_popcount_dot: Callable) -> None:
    """Grade ``xnor_popcount_dot(a_bits, w_bits, n)``, the ±1 dot product of two vectors
    packed by ``numpy.packbits`` along their last axis (bit 1 = +1), against
    ``utils.lessons.arithmetic_and_energy.binary_conv2d`` and the plain ±1 dot product: whole
    bytes, a channel count that is not a multiple of 8 (padding bits in the last byte, zero or
    set), one channel, all-equal and all-opposite vectors, and a broadcast (inputs x kernels)
    shape."""
    _graded_08("xnor_popcount_dot", _grade_xnor_popcount_dot, xnor_popcount_dot)


def _quantize_multiplier_cases(rng: np.random.Generator):
    """(description, real multiplier: a float or an array)."""
    yield "M = 0.5 (M0 = 2^30, shift 0)", 0.5
    yield "M = 0.001 (= 0.02 · 0.005 / 0.1, a typical layer)", 0.02 * 0.005 / 0.1
    yield "M = 1.0, a power of two", 1.0
    yield "M = 3.0, above 1 (a positive shift)", 3.0
    yield ("M = 1 − 2^-40, just below a power of two (M0 rounds up to 2^31, which does not "
           "fit: it becomes 2^30 and the shift one higher)", 1.0 - 2.0**-40)
    yield "M just below 0.25", float(np.nextafter(0.25, 0.0))
    yield ("M = 0.5 + 2^-32: M0 = 2^30 + 0.5 exactly, a tie (rounded away from zero)",
           0.5 + 2.0**-32)
    yield "M = (2^30 + 2.5) / 2^31: a tie whose even neighbour is below", \
        (2.0**30 + 2.5) / 2.0**31
    yield "M = 0.75 · 2^-31, the smallest shift kept (−31)", 0.75 * 2.0**-31
    yield "M = 2^-33, below 2^-32: too small, M0 = 0 and shift = 0", 2.0**-33
    yield "M = 1e-10: too small, M0 = 0 and shift = 0", 1e-10
    yield ("one multiplier per output channel: an array of 200 between 1e-9 and 10",
           10.0 ** rng.uniform(-9, 1, 200))


def _grade_quantize_multiplier(student: Callable) -> int:
    from utils.lessons.arithmetic_and_energy import quantize_multiplier

    rng = np.random.default_rng(8)
    count = 0
    for case, real in _quantize_multiplier_cases(rng):
        result = _call_08("quantize_multiplier", case, student, real)
        try:
            fixed, shift = result
        except (TypeError, ValueError):
            raise GradingError(f"quantize_multiplier, case '{case}': returned {result!r}; "
                               "expected a pair (M0, shift)") from None
        want_fixed, want_shift = quantize_multiplier(real)
        for what, got, want in (("M0", fixed, want_fixed), ("shift", shift, want_shift)):
            difference = _first_difference(np.asarray(got), want, {"M": real})
            if difference:
                raise GradingError(
                    f"quantize_multiplier, case '{case}': {what} differs: {difference}. "
                    "Expected M ≈ M0 · 2^(shift − 31) with M0 = round(m · 2^31) (half away "
                    "from zero) for M = m · 2^shift, m in [0.5, 1), as TFLite's "
                    "QuantizeMultiplier.")
        count += 1
    return count


def test_quantize_multiplier(quantize_multiplier: Callable) -> None:
    """Grade ``quantize_multiplier(real)`` -> (M0, shift) against
    ``utils.lessons.arithmetic_and_energy.quantize_multiplier`` (TFLite's ``QuantizeMultiplier``,
    bit for bit): powers of two, multipliers just below one (the carry), ties in rounding M0,
    multipliers above 1 and below 2^-31, and an array of per-channel multipliers."""
    _graded_08("quantize_multiplier", _grade_quantize_multiplier, quantize_multiplier)


def _apply_multiplier_cases(rng: np.random.Generator):
    """(description, int32 accumulators, real multipliers broadcasting with them)."""
    yield ("ties in the high multiply: acc · M = ±2.5, ±1.5, ±0.5 (M = 0.5)",
           np.array([5, -5, 3, -3, 1, -1]), 0.5)
    yield ("ties in the final shift: acc · M = ±1.5, ±0.5, ±2.5 (M = 0.25)",
           np.array([6, -6, 2, -2, 10, -10]), 0.25)
    yield ("negative accumulators at M = 0.3 (no exact tie)", np.arange(-40, 0), 0.3)
    yield ("every accumulator in [-64, 64] against M = 2^-1 ... 2^-5 (acc (129, 1) with "
           "per-channel (5,) multipliers)", np.arange(-64, 65)[:, None], 2.0 ** -np.arange(1, 6))
    yield ("M above 1 (a positive shift): 3 · 3.0, -1000 · 1.5, 7 · 2.0",
           np.array([3, -1000, 7]), np.array([3.0, 1.5, 2.0]))
    yield ("tiny multipliers (shift down to -31, and a negligible one)",
           np.array([2**30, -2**30, 2**31 - 1, -2**31, 3 * 2**29, 12345]),
           np.array([2.0**-25, 2.0**-25, 2.0**-31, 2.0**-31, 2.0**-30, 1e-10]))
    yield ("the int32 extremes, with M just below 1", np.array([2**31 - 1, -2**31]),
           np.array([1.0 - 2.0**-30, 1.0 - 2.0**-30]))
    yield ("M = 0.001, a typical layer, on 1000 random accumulators",
           rng.integers(-2**20, 2**20, 1000), 0.02 * 0.005 / 0.1)
    yield ("random accumulators (500, 8) with 8 per-channel multipliers between 1e-6 and 3",
           rng.integers(-2**24, 2**24, (500, 8)), 10.0 ** rng.uniform(-6, 0.5, 8))


def _grade_apply_multiplier(student: Callable) -> int:
    from utils.lessons.arithmetic_and_energy import (
        multiply_by_quantized_multiplier,
        quantize_multiplier,
    )

    rng = np.random.default_rng(8)
    count = 0
    for case, accumulators, real in _apply_multiplier_cases(rng):
        fixed, shift = quantize_multiplier(real)
        got = _call_08("apply_multiplier", case, student, accumulators.copy(), fixed.copy(),
                       shift.copy())
        want = multiply_by_quantized_multiplier(accumulators, fixed, shift)
        exact = accumulators * fixed.astype(np.float64) * 2.0 ** (shift.astype(np.float64) - 31)
        inputs = {"acc": np.broadcast_to(accumulators, want.shape),
                  "multiplier": np.broadcast_to(fixed, want.shape),
                  "shift": np.broadcast_to(shift, want.shape),
                  "exact acc·M0·2^(shift−31)": np.broadcast_to(exact, want.shape)}
        difference = _first_difference(np.asarray(got), want, inputs)
        if difference:
            raise GradingError(
                f"apply_multiplier, case '{case}': {difference}. TFLite rounds twice: the "
                "high multiply (acc · 2^max(shift, 0) · M0 / 2^31, a tie rounded up when "
                "positive and toward zero when negative), then the division by "
                "2^max(−shift, 0) (ties away from zero).")
        count += 1
    return count


def test_apply_multiplier(apply_multiplier: Callable) -> None:
    """Grade ``apply_multiplier(acc, multiplier, shift)`` against
    ``utils.lessons.arithmetic_and_energy.multiply_by_quantized_multiplier`` (TFLite's
    ``MultiplyByQuantizedMultiplier``, bit for bit): ties in either rounding on both signs,
    positive shifts, tiny multipliers, the int32 extremes and random per-channel cases."""
    _graded_08("apply_multiplier", _grade_apply_multiplier, apply_multiplier)


def _fold_cases():
    """(description, settings) of a Conv2D + BatchNormalization pair."""
    yield "3x3 kernel, 3 -> 5 channels, with a convolution bias", {}
    yield "no convolution bias (bias zeros, as the course's float networks)", {"bias": False}
    yield ("a zero-variance channel (constant during training): only epsilon keeps it finite",
           {"zero_variance": 2})
    yield "negative gammas (channels 0 and 3)", {"negative_gamma": [0, 3]}
    yield "4 -> 4 channels (as many inputs as outputs), epsilon 1e-5", {"channels": (4, 4),
                                                                         "epsilon": 1e-5}
    yield "1x1 kernel, 6 -> 2 channels, large moving means", {"kernel": 1, "channels": (6, 2),
                                                               "mean_scale": 5.0}


def _fold_parameters(rng: np.random.Generator, settings: dict[str, Any]) -> dict[str, Any]:
    size = settings.get("kernel", 3)
    inputs, outputs = settings.get("channels", (3, 5))
    p = {"kernel": rng.normal(0, 0.5, (size, size, inputs, outputs)),
         "bias": (rng.normal(0, 0.5, outputs) if settings.get("bias", True)
                  else np.zeros(outputs)),
         "gamma": rng.uniform(0.5, 2.0, outputs), "beta": rng.normal(0, 0.5, outputs),
         "mean": rng.normal(0, settings.get("mean_scale", 0.5), outputs),
         "variance": rng.uniform(0.2, 3.0, outputs),
         "epsilon": settings.get("epsilon", 1e-3)}
    if "zero_variance" in settings:
        p["variance"][settings["zero_variance"]] = 0.0
    for channel in settings.get("negative_gamma", []):
        p["gamma"][channel] = -p["gamma"][channel]
    return {key: np.asarray(value, np.float32) if key != "epsilon" else value
            for key, value in p.items()}


def _keras_conv(kernel: np.ndarray, bias: np.ndarray, images: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    conv = tf.keras.layers.Conv2D(kernel.shape[-1], kernel.shape[:2])
    conv.build(images.shape)
    conv.set_weights([np.asarray(kernel, np.float32), np.asarray(bias, np.float32)])
    return conv(images).numpy()


def _conv_then_batch_norm(p: dict[str, Any], images: np.ndarray) -> np.ndarray:
    """A Keras Conv2D followed by a BatchNormalization in inference mode."""
    import tensorflow as tf

    convolved = _keras_conv(p["kernel"], p["bias"], images)
    norm = tf.keras.layers.BatchNormalization(epsilon=p["epsilon"])
    norm.build(convolved.shape)
    norm.set_weights([p["gamma"], p["beta"], p["mean"], p["variance"]])
    return norm(convolved, training=False).numpy()


def _grade_fold_batch_norm(student: Callable) -> int:
    rng = np.random.default_rng(8)
    count = 0
    for case, settings in _fold_cases():
        p = _fold_parameters(rng, settings)
        images = rng.normal(0, 1, (4, 7, 7, p["kernel"].shape[2])).astype(np.float32)
        result = _call_08("fold_batch_norm", case, student,
                          *(np.copy(p[key]) for key in ("kernel", "bias", "gamma", "beta",
                                                        "mean", "variance")), p["epsilon"])
        try:
            kernel, bias = (np.asarray(part, np.float64) for part in result)
        except (TypeError, ValueError):
            raise GradingError(f"fold_batch_norm, case '{case}': returned {result!r}; "
                               "expected a pair (folded kernel, folded bias)") from None
        for what, got, want in (("kernel", kernel, p["kernel"].shape),
                                ("bias", bias, p["bias"].shape)):
            if got.shape != want:
                raise GradingError(f"fold_batch_norm, case '{case}': the folded {what} has "
                                   f"shape {got.shape}, expected {want}")
        want = _conv_then_batch_norm(p, images)
        got = _keras_conv(kernel, bias, images)
        atol = 1e-4 * float(np.abs(want).max())
        difference = _first_difference(got, want, {"epsilon": p["epsilon"]}, atol=atol)
        if difference:
            channel = int(np.argwhere(~np.isclose(got, want, rtol=0.0, atol=atol))[0][-1])
            stats = ", ".join(f"{key}={float(p[key][channel]):.4g}"
                              for key in ("gamma", "beta", "mean", "variance", "bias"))
            raise GradingError(
                f"fold_batch_norm, case '{case}': the folded convolution's output differs "
                f"from Conv2D + BatchNormalization (inference mode): {difference}. First bad "
                f"output channel {channel} ({stats}). Expected "
                "kernel · γ/√(σ² + ε) per output channel and bias (b − μ) · γ/√(σ² + ε) + β.")
        count += 1
    return count


def test_fold_batch_norm(fold_batch_norm: Callable) -> None:
    """Grade ``fold_batch_norm(kernel, bias, gamma, beta, mean, variance, epsilon)`` ->
    (kernel, bias): a Keras Conv2D with the folded weights must give what the Conv2D
    followed by BatchNormalization gives in inference mode, on random images; with and
    without a convolution bias, a zero-variance channel, negative gammas, as many input
    as output channels, another epsilon and a 1x1 kernel."""
    _graded_08("fold_batch_norm", _grade_fold_batch_norm, fold_batch_norm)
