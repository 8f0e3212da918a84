"""Exercises with self-checks: a question in a notebook, an answer the student computes, and a
check that says whether it is right and, if not, what to look at.

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
solution in a collapsed cell, which the main job runs, so a wrong solution would stop it. No
TensorFlow here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ABS_TOL",
    "EXERCISES",
    "FLOAT32_RTOL",
    "SPELLINGS",
    "Exercise",
    "SeedComparison",
    "WrongAnswer",
    "check",
    "exercise",
    "exercises_of",
    "seed_comparison",
]

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


# AlexNet as utils.nets.alexnet builds it at 227x227x3 with 2 classes, layer by layer:
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


# 05: the seed statistics of float and binary AlexNet in the course's reference run.

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
    """The comparison table (:func:`utils.compare.comparison_table`) of the course's
    reference run: the committed quick-profile records on mnist5k."""
    from utils.compare import comparison_table
    from utils.course import REFERENCE_RUN, REPOSITORY_ROOT, course_folders
    from utils.records import main_records

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
    Exercise("06_latency_here", "A binary .tflite file runs on this x86 machine in LCE's "
             "reference kernels. Does its latency here tell its speed on a phone? Answer "
             "\"yes\" or \"no\".", lambda: "no",
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


def exercises_of(notebook: str) -> list[Exercise]:
    """The exercises of notebook ``notebook`` ("01", "03"...), in order."""
    return [exercise for exercise in EXERCISES.values() if exercise.notebook == notebook]


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
