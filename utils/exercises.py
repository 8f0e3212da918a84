"""Exercises with self-checks: a question in a notebook, an answer the student computes, and a
check that says whether it is right and, if not, what to look at.

In a notebook::

    answer = ...            # the student's computation
    check("01_code", answer)

:func:`check` raises :class:`WrongAnswer` with a hint when the answer is wrong and prints a
confirmation when it is right. Every exercise's expected value is computed here from first
principles (not read from a result file), so the check cannot drift from the question; each
notebook follows the exercise with a worked solution in a collapsed cell, which the main job
runs, so a wrong solution would stop it. No TensorFlow here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["EXERCISES", "Exercise", "WrongAnswer", "check", "exercise", "exercises_of"]


class WrongAnswer(AssertionError):
    """A wrong answer to an exercise; the message says what to look at."""


@dataclass(frozen=True)
class Exercise:
    """One question and how to check an answer to it.

    Attributes:
        key: "<notebook number>_<name>", e.g. "01_code".
        question: the question as the notebook asks it.
        expected: computes the right answer.
        hint: what to reconsider when the answer is wrong.
        tolerance: relative tolerance for numbers (0: exact).
    """

    key: str
    question: str
    expected: Callable[[], Any]
    hint: str
    tolerance: float = 0.0

    @property
    def notebook(self) -> str:
        return self.key.split("_", 1)[0]

    def is_right(self, answer: Any) -> bool:
        expected = self.expected()
        if isinstance(expected, tuple | list):
            return (isinstance(answer, tuple | list | np.ndarray) and len(answer) == len(expected)
                    and all(self._close(a, e) for a, e in zip(answer, expected, strict=True)))
        return self._close(answer, expected)

    def _close(self, answer: Any, expected: Any) -> bool:
        if isinstance(expected, str):
            return isinstance(answer, str) and answer.strip().lower() == expected
        try:
            return math.isclose(float(answer), float(expected), rel_tol=self.tolerance,
                                abs_tol=1e-9)
        except (TypeError, ValueError):
            return False


def _eq_3_1_code() -> int:
    # 4 bits, alpha = 1: s = (2^3 - 1) / 1 = 7; round(7 * 0.3) = round(2.1) = 2
    return int(np.round(7 * 0.3))


def _relu_range() -> tuple[float, int]:
    scale = 6.0 / 255
    return scale, int(round(-128 - 0.0 / scale))


EXERCISES: dict[str, Exercise] = {exercise.key: exercise for exercise in (
    # 00: data
    Exercise("00_scaling", "What does a pixel of 0, 128 and 255 become after the course's "
             "scaling to [-1, 1]? Give three numbers.",
             lambda: (-1.0, 128 / 127.5 - 1.0, 1.0),
             "the scaling is x / 127.5 - 1", tolerance=1e-6),
    Exercise("00_chance", "What accuracy does guessing give on mnist5k's balanced test set, "
             "and on Cats & Dogs? Give two fractions.", lambda: (0.1, 0.5),
             "a uniform guess is right once per number of classes", tolerance=1e-6),
    Exercise("00_split", "How many training images of each digit does mnist5k have?",
             lambda: 350, "3,500 training images, stratified over 10 classes"),
    # 01: quantization theory
    Exercise("01_code", "With eq. 3.1 at k = 4 bits and α = 1, which integer code does "
             "y = 0.3 get?", _eq_3_1_code,
             "s = (2^(k-1) - 1) / α, then round(s · clip(y, -α, α))"),
    Exercise("01_relu_range", "An activation lies in [0, 6]. What scale S and zero point Z "
             "does int8 ([-128, 127]) give it? Give (S, Z).", _relu_range,
             "S = (r_max - r_min) / (q_max - q_min), Z = round(q_min - r_min / S)",
             tolerance=1e-6),
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
             lambda: 11 * 11 * 3 * 96, "kernel height · width · input channels · filters"),
    Exercise("03_dense_share", "What fraction of the float AlexNet's 58,289,538 parameters "
             "sit in fc6 (9,216 → 4,096) and fc7 (4,096 → 4,096), biases included?",
             lambda: (9216 * 4096 + 4096 + 4096 * 4096 + 4096) / 58_289_538,
             "a dense layer has inputs · outputs weights and one bias per output",
             tolerance=1e-3),
    Exercise("03_conv1_macs", "How many multiply-accumulates does AlexNet's first "
             "convolution do on a 227x227 image (55x55 outputs per filter)?",
             lambda: 55 * 55 * 11 * 11 * 3 * 96,
             "one multiply-accumulate per weight per output position: 55 · 55 · 34,848"),
    Exercise("04_final_map", "GoogLeNet halves the side of its feature maps five times. "
             "What side does the global average pooling see at 224x224 inputs?",
             lambda: 224 // 2**5, "224 / 2^5"),
    Exercise("04_inception_channels", "How many channels leave inception block 3a "
             "(1x1: 64, 3x3: 128, 5x5: 32, pool projection: 32)?", lambda: 64 + 128 + 32 + 32,
             "the branches are concatenated along the channels"),
    Exercise("04_reduce_weights", "How many weights does a 1x1 convolution from 192 to 64 "
             "channels have, and a 3x3 one? Give two numbers.",
             lambda: (192 * 64, 3 * 3 * 192 * 64), "kernel area · input channels · filters"),
    # 05 and 07: reading seeds
    Exercise("05_standard_error", "Float AlexNet reached 98.0 ± 0.3% and binary 96.5 ± 0.4% "
             "(mean ± std over 3 seeds each). What is the standard error of the difference?",
             lambda: math.sqrt(0.3**2 / 3 + 0.4**2 / 3),
             "sqrt(s_a²/n_a + s_b²/n_b)", tolerance=1e-3),
    Exercise("05_beyond_spread", "Is the 1.5-point gap of the last exercise beyond the seed "
             "spread? Answer \"yes\" or \"no\".",
             lambda: "yes" if 1.5 > 2 * math.sqrt(0.3**2 / 3 + 0.4**2 / 3) else "no",
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
             "M = S_input · S_weight / S_output", tolerance=1e-6),
    Exercise("08_mac_energy_ratio", "By Horowitz's 45 nm figures (float32 multiply 3.7 pJ, "
             "add 0.9 pJ; 8-bit integer multiply 0.2 pJ, 32-bit integer add 0.1 pJ), how "
             "many times less energy does an int8 MAC with a 32-bit accumulator take than a "
             "float32 MAC?", lambda: (3.7 + 0.9) / (0.2 + 0.1),
             "a MAC is one multiply and one add; the accumulator add is 32 bits wide",
             tolerance=1e-3),
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
             "an int8 weight is a quarter of a float32 one"),
)}


def exercise(key: str):
    """Show the question of exercise ``key`` (as markdown in a notebook)."""
    from IPython.display import Markdown

    if key not in EXERCISES:
        raise KeyError(f"no exercise {key!r}; the exercises are {', '.join(EXERCISES)}")
    return Markdown(f"**Exercise {key}.** {EXERCISES[key].question} Compute it in the next "
                    f"cell and check it with `check(\"{key}\", answer)`; the worked solution "
                    "follows, folded.")


def exercises_of(notebook: str) -> list[Exercise]:
    """The exercises of notebook ``notebook`` ("01", "03"...), in order."""
    return [exercise for exercise in EXERCISES.values() if exercise.notebook == notebook]


def check(key: str, answer: Any) -> str:
    """Check ``answer`` to exercise ``key``: prints and returns a confirmation when it is
    right, raises :class:`WrongAnswer` with a hint when it is not."""
    if key not in EXERCISES:
        raise KeyError(f"no exercise {key!r}; the exercises are {', '.join(EXERCISES)}")
    exercise = EXERCISES[key]
    if not exercise.is_right(answer):
        raise WrongAnswer(f"Not yet: {answer!r} is not the answer to {key}. Hint: "
                          f"{exercise.hint}.")
    message = f"Right: {answer!r} answers {key}."
    print(message)
    return message
