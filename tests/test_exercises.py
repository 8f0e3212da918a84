"""Tests for utils.exercises.

The questions: every answer key agrees with a hand computation written here (not with the
exercise's own code), right answers in other forms pass, known wrong answers are refused with
a hint that does not give the answer, a confirmation prints once without the answer, and every
notebook asks 3 to 5 questions, each followed by a folded, worked solution.

The graded tests of the implement-it cells: each accepts the course's own implementation
and rejects planted wrong ones (an off-by-one range, the other rounding of ties, a missing
zero point or clip...) with a message that names the difference."""

import math
import statistics

import numpy as np
import pandas as pd
import pytest

import utils.exercises as exercises
from utils.exercises import (
    EXERCISES,
    GradingError,
    NotWritten,
    WrongAnswer,
    check,
    exercise,
    use_reference_until_written,
)
from utils.notebook_sources import notebook_sources, read_source

# Each answer key, worked out by hand (the comment says how).
HAND = {
    # x / 127.5 - 1: 0 -> -1, 128 -> 0.5 / 127.5 = 1/255, 255 -> 1
    "00_scaling": (-1.0, 1 / 255, 1.0),
    # one class in 10 digits, one in 2 animals
    "00_chance": (0.1, 0.5),
    # 3,500 training images over 10 digits, stratified
    "00_split": 350,
    # s = (2^3 - 1) / 1 = 7; 7 * 0.3 = 2.1 rounds to 2
    "01_code": 2,
    # S = (6 - 0) / (127 - -128) = 6/255; Z = round(-128 - 0 / S) = -128
    "01_relu_range": (0.023529411764705882, -128),
    # |0.5| <= 1 passes the gradient, |1.5| > 1 stops it
    "01_ste": (1.0, 0.0),
    # 20 log10(2) = 6.0206 dB per bit, times 4 bits
    "01_sqnr": 24.0824,
    # 3 bits: codes -4..3
    "02_levels": 8,
    # 1,048,576 weights: / 8 bits per byte; * 4 bytes
    "02_binary_bytes": (131_072, 4_194_304),
    # PTQ falls to chance at 2 bits
    "02_ptq_or_qat": "qat",
    # 11 * 11 = 121; * 3 = 363; * 96 = 34,848
    "03_conv1_weights": 34_848,
    # fc6 = 9,216 * 4,096 + 4,096 = 37,752,832; fc7 = 4,096 * 4,096 + 4,096 = 16,781,312;
    # sum 54,534,144 over 58,289,538 (all eight layers with biases; test_models checks the
    # built network has that many)
    "03_dense_share": 54_534_144 / 58_289_538,
    # 55 * 55 = 3,025 positions * 34,848 weights
    "03_conv1_macs": 105_415_200,
    # 224 / 32
    "04_final_map": 7,
    # 64 + 128 + 32 + 32
    "04_inception_channels": 256,
    # 192 * 64 = 12,288; 9 * 12,288 = 110,592
    "04_reduce_weights": (12_288, 110_592),
    # 1,010,000 * 32 bits = 32,320,000 against 1,000,000 + 320,000 = 1,320,000 bits
    "05_compression": 24.4848485,
    # 25 positions * 64 filters * one 4-byte word = 6,400; 25 * 64 * 24 bits / 8 = 4,800
    "06_packed_bytes": (6_400, 4_800),
    # x86 runs LCE's reference kernels, not the ARM ones
    "06_latency_here": "no",
    # 32 bits / 8 bits
    "06_int8_ceiling": 4.0,
    # se = sqrt((0.64 + 0.36) / 3) = 0.577; 2 se = 1.155 > 1
    "07_small_difference": "no",
    # 2 sqrt(2 * 0.25 / n) < 1 <=> n > 2
    "07_seeds_needed": 3,
    # 10% is chance on ten classes
    "07_dead_run": "did not train",
    # 40 agreements - 24 disagreements
    "08_xnor_dot": 16,
    # 0.02 * 0.005 = 1e-4; / 0.1
    "08_requant_multiplier": 0.001,
    # 4.6 pJ / 0.3 pJ
    "08_mac_energy_ratio": 15.333333,
    # 3 weight bases * 3 activation bases
    "09_abc_convolutions": 9,
    # 5 bits per weight = 5,000,000 bits / 8; one byte per weight
    "09_abc_bytes": (625_000, 1_000_000),
    # 3,500 / 60,000 = 7 / 120
    "09_training_share": 0.0583333,
}
# The two seed questions of 05 quote the reference records; tested below.
FROM_RECORDS = {"05_standard_error", "05_beyond_spread"}

# Known wrong answers, each refused.
WRONG = {
    "03_dense_share": [
        (37_748_736 + 16_777_216) / 58_289_538,  # biases of fc6 and fc7 left out
        (54_534_144 + 4_096 * 2 + 2) / 58_289_538,  # fc8 counted too
        (37_748_736 + 16_777_216) / (58_289_538 - 9_570),  # every bias left out
        37_752_832 / 58_289_538,  # fc6 only
        0.9355,  # rounded too far down
    ],
    "00_scaling": [(-1.0, 0.0, 0.9921875),  # (x - 128) / 128
                   (0.0, 0.50196, 1.0),  # x / 255
                   (-1.0, 1.0)],  # one number missing
    "03_conv1_macs": [105_415_201, 105_415_199.0, np.int64(105_415_201), 34_848, 1.0542e8],
    "00_split": [349, 351, 350.5, 3_500],
    "01_code": [3, 2.1],
    "01_relu_range": [(6 / 255, -127), (6 / 256, -128), (-128, 6 / 255)],
    "01_ste": [(0.0, 0.0), (1.0, 1.0)],
    "01_sqnr": [4 * 10 * math.log10(2), 8 * 20 * math.log10(2)],
    "02_levels": [7, 9],
    "02_ptq_or_qat": ["ptq", "PTQ", "post-training quantization", "quantize after training"],
    "03_conv1_weights": [34_848 + 96],  # biases counted
    "05_compression": [32.0, 24.0],
    "06_packed_bytes": [(4_800, 4_800), (4_800, 6_400)],
    "06_latency_here": ["yes", True],
    "06_int8_ceiling": [8.0, 3.0],
    "07_dead_run": ["effect", "an effect", "did train", "trained", "it trained", "yes", True],
    "07_seeds_needed": [2, 4],
    "07_small_difference": ["yes", "Yes.", True],
    "08_requant_multiplier": [0.02 * 0.005 * 0.1, 0.1 / (0.02 * 0.005), 0.0011],
    "08_mac_energy_ratio": [4.6 / 0.2, 3.7 / 0.2],
    "09_abc_bytes": [(5_000_000, 1_000_000), (625_000, 125_000)],
}
# Right answers in other forms than the answer key, each accepted.
OTHER_FORMS = {
    "00_scaling": [(-1, 0.003921628, 1),  # 128 / 127.5 - 1 in float32
                   tuple(np.array([0, 128, 255], np.float32) / np.float32(127.5) - 1),
                   np.array([0, 128, 255]) / 127.5 - 1, [-1, 1 / 255, 1]],
    "03_conv1_macs": [105_415_200.0, np.int64(105_415_200), np.float32(105_415_200),
                      np.array(105_415_200)],
    "03_dense_share": [np.float32(54_534_144) / np.float32(58_289_538), 0.935573],
    "00_split": [350.0, np.int64(350), np.float32(3_500) / np.float32(10)],
    "01_relu_range": [(np.float32(6) / np.float32(255), -128.0), [6 / 255, np.int8(-128)]],
    "01_ste": [(1, 0), (np.float32(1), np.float32(0))],
    "01_sqnr": [24, 24.08],
    "06_int8_ceiling": [4, 32 // 8],
    "07_dead_run": ["didn't train", "Didn’t train.", "did not train", "DID NOT TRAIN",
                    "not trained", "It did not train", "didnt train", "a run that did not train",
                    "did-not-train"],
    "07_small_difference": ["No", "no.", " NO ", "No, it is not.", False, np.bool_(False)],
    "06_latency_here": ["No.", False],
    "02_ptq_or_qat": ["QAT", "quantization-aware training", "Train quantized"],
    "08_mac_energy_ratio": [15.3, 46 / 3],
    "08_requant_multiplier": [np.float32(0.02) * np.float32(0.005) / np.float32(0.1)],
    "09_training_share": [0.0583],
}


def _same(value, hand):
    """The answer key ``value`` equals the hand value ``hand``: same kind, same number."""
    if isinstance(hand, tuple):
        return len(value) == len(hand) and all(map(_same, value, hand))
    if isinstance(hand, str):
        return value == hand
    if isinstance(hand, int):
        return isinstance(value, int) and value == hand  # a count stays an integer
    return math.isclose(value, hand, rel_tol=1e-6)


def test_every_exercise_has_a_hand_computed_answer():
    assert set(HAND) | FROM_RECORDS == set(EXERCISES)


@pytest.mark.parametrize("key", sorted(HAND))
def test_the_answer_key_agrees_with_the_hand_computation(key):
    assert _same(EXERCISES[key].expected(), HAND[key]), EXERCISES[key].expected()
    check(key, HAND[key])


@pytest.mark.parametrize("key, answer", [(key, answer) for key, answers in WRONG.items()
                                         for answer in answers])
def test_a_known_wrong_answer_is_refused_with_a_hint(key, answer):
    with pytest.raises(WrongAnswer, match=f"is not the answer to {key}.* Hint: "):
        check(key, answer)


@pytest.mark.parametrize("key, answer", [(key, answer) for key, answers in OTHER_FORMS.items()
                                         for answer in answers])
def test_a_right_answer_in_another_form_is_accepted(key, answer, capsys):
    assert check(key, answer) is None
    assert capsys.readouterr().out == f"Right: that is the answer to {key}.\n"


def test_the_dense_share_tolerance_is_well_below_its_wrong_variants():
    share = HAND["03_dense_share"]
    tolerance = EXERCISES["03_dense_share"].tolerance
    for wrong in WRONG["03_dense_share"]:
        assert abs(wrong - share) / share > 2 * tolerance, wrong


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_anything_but_an_answer_is_refused(key):
    for junk in (None, "", "something else", math.nan, (), object()):
        with pytest.raises(WrongAnswer):
            check(key, junk)


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_the_confirmation_prints_once_and_the_messages_never_give_the_answer(key, capsys):
    right = EXERCISES[key].expected()
    assert check(key, right) is None  # a notebook shows no second copy as the cell's value
    assert capsys.readouterr().out == f"Right: that is the answer to {key}.\n"
    with pytest.raises(WrongAnswer) as caught:
        check(key, None)
    message = str(caught.value)  # the hint, and the wrong answer (the question quotes data)
    assert EXERCISES[key].hint in message
    parts = right if isinstance(right, tuple) else (right,)
    for part in parts:
        if isinstance(part, str):
            continue  # word answers are named in their questions
        for text in {str(part), f"{part:,}" if isinstance(part, int) else f"{part:.4g}"}:
            if len(text.strip("-")) >= 3 and text not in {"1.0", "0.0", "-1.0"}:
                assert text not in message, (key, text)


def test_a_wrong_answer_is_echoed_as_plain_numbers():
    with pytest.raises(WrongAnswer) as caught:
        check("03_conv1_macs", np.int64(105_415_201))
    assert str(caught.value).startswith("Not yet: 105415201 is not the answer to 03_conv1_macs.")
    assert "np." not in str(caught.value)
    with pytest.raises(WrongAnswer) as caught:
        check("03_conv1_macs", np.array(105_415_199))  # repr: array(105415199)
    assert str(caught.value).startswith("Not yet: 105415199 is not")
    for wrong in (tuple(np.array([0, 0, 1], np.float32)), np.array([0, 0, 1], np.float32)):
        with pytest.raises(WrongAnswer) as caught:
            check("00_scaling", wrong)
        assert str(caught.value).startswith("Not yet: (0.0, 0.0, 1.0) is not"), caught.value


def test_a_few_answers_by_hand():
    check("05_beyond_spread", f" {EXERCISES['05_beyond_spread'].expected().upper()} ")
    with pytest.raises(WrongAnswer, match="round"):
        check("01_code", 3)
    with pytest.raises(WrongAnswer, match="Give 2 values"):
        check("02_binary_bytes", 131_072)
    with pytest.raises(KeyError, match="no exercise"):
        check("99_nothing", 1)
    with pytest.raises(KeyError, match="no exercise"):
        exercise("99_nothing")


# 05: seed statistics from the records.

def _table(rows):
    """A comparison table with only what the 05 questions read."""
    index = pd.MultiIndex.from_tuples([key for key, _ in rows], names=["model", "precision"])
    return pd.DataFrame([dict(zip(["seeds", "test accuracy % mean", "test accuracy % std"],
                                  row, strict=True)) for _, row in rows], index=index)


@pytest.mark.parametrize("fp32, binary, error, beyond, forgot_n", [
    # sqrt(0.3² / 3 + 0.4² / 3) = sqrt(0.25 / 3) = 0.288675; gap 1.5 > 0.577: beyond.
    # Leaving out the / n gives sqrt(0.25) = 0.5.
    ((3, 98.0, 0.3), (3, 96.5, 0.4), 0.288675, "yes", 0.5),
    # sqrt(1.0² / 3 + 1.2² / 4) = sqrt(0.333333 + 0.36) = 0.832666; gap 0.5 < 1.665: not.
    # Leaving out the / n gives sqrt(2.44) = 1.562050.
    ((3, 97.0, 1.0), (4, 96.5, 1.2), 0.832666, "no", 1.562050),
])
def test_the_seed_questions_quote_the_records_and_check_against_them(
        monkeypatch, fp32, binary, error, beyond, forgot_n):
    table = _table([(("alexnet", "binary"), binary), (("alexnet", "fp32"), fp32),
                    (("googlenet", "fp32"), (3, 10.0, 9.0))])
    monkeypatch.setattr(exercises, "_reference_comparison", lambda: table)
    question = exercise("05_standard_error").data
    assert f"{fp32[1]:.3f} ± {fp32[2]:.3f}% test accuracy over {fp32[0]} seeds" in question
    assert f"{binary[1]:.3f} ± {binary[2]:.3f}% over {binary[0]}" in question
    check("05_standard_error", error)
    with pytest.raises(WrongAnswer):
        check("05_standard_error", forgot_n)
    assert f"{fp32[1] - binary[1]:.3f}-point gap" in exercise("05_beyond_spread").data
    check("05_beyond_spread", beyond)
    with pytest.raises(WrongAnswer):
        check("05_beyond_spread", {"yes": "no", "no": "yes"}[beyond])


def test_the_seed_questions_say_so_when_the_records_are_missing(monkeypatch):
    monkeypatch.setattr(exercises, "_reference_comparison", pd.DataFrame)
    with pytest.raises(LookupError, match="no reference record of alexnet"):
        exercise("05_standard_error")
    one_seed = _table([(("alexnet", "fp32"), (1, 98.0, math.nan)),
                       (("alexnet", "binary"), (3, 96.0, 0.5))])
    monkeypatch.setattr(exercises, "_reference_comparison", lambda: one_seed)
    with pytest.raises(LookupError, match="two or more"):
        check("05_standard_error", 0.3)


def test_the_seed_questions_quote_the_committed_reference_records():
    # Independently of utils.tables: the mean and sample std of the test accuracy of the
    # committed quick-profile AlexNet records, seed by seed.
    from utils.course import REPOSITORY_ROOT, course_folders
    from utils.records import main_records

    results = course_folders("quick", "mnist5k", REPOSITORY_ROOT).results
    accuracies = {}
    for record in main_records(results, "quick", models=("alexnet",)):
        if record["config"]["dataset"] == "mnist5k":
            accuracies.setdefault(record["config"]["precision"], []).append(
                100 * record["test_accuracy"])
    fp32, binary = accuracies["fp32"], accuracies["binary"]
    quoted = [(round(statistics.mean(runs), 3), round(statistics.stdev(runs), 3), len(runs))
              for runs in (fp32, binary)]
    question = exercise("05_standard_error").data
    (fm, fs, fn), (bm, bs, bn) = quoted
    assert f"{fm:.3f} ± {fs:.3f}% test accuracy over {fn} seeds" in question
    assert f"{bm:.3f} ± {bs:.3f}% over {bn}" in question
    error = math.sqrt(fs**2 / fn + bs**2 / bn)
    check("05_standard_error", error)
    check("05_beyond_spread", "yes" if abs(fm - bm) > 2 * error else "no")


@pytest.mark.parametrize("source", notebook_sources(),
                         ids=lambda path: path.stem)
def test_every_notebook_asks_three_to_five_questions_with_folded_solutions(source):
    cells = read_source(source).cells
    keys = [key for key, item in EXERCISES.items() if item.notebook == source.name[:2]]
    assert 3 <= len(keys) <= 5
    for key in keys:
        asked = [i for i, cell in enumerate(cells) if f'exercise("{key}")' in cell.source]
        assert len(asked) == 1, key
        solution = cells[asked[0] + 2]
        assert "solution" in solution.metadata.get("tags", [])
        assert solution.metadata.get("jupyter", {}).get("source_hidden") is True
        assert solution.metadata.get("cellView") == "form"  # Colab folds it
        assert f'check("{key}", answer)' in solution.source
        # The solution prints the confirmation once: check is its last line, not displayed.
        assert solution.source.rstrip().endswith(f'check("{key}", answer)')
    assert f"**Exercise {keys[0]}.**" in exercise(keys[0]).data


# --- the graded implement-it cells: the course's code passes, planted faults fail -------------


def test_a_stub_that_is_not_written_gives_way_to_the_reference(capsys):
    def stub(x):
        raise NotWritten

    def reference(x):
        return x

    chosen = use_reference_until_written(stub, reference, lambda f: f(np.zeros(2)))
    assert "not written yet" in capsys.readouterr().out
    assert chosen.stands_in_for == "stub" and chosen.__name__ == "reference"
    np.testing.assert_array_equal(chosen(np.arange(3.0)), reference(np.arange(3.0)))
    assert use_reference_until_written(reference, stub, lambda f: f(np.zeros(2))) is reference
    # a graded test says whose function passed: the stand-in's pass is not the student's
    exercises.passed("stub", 3, chosen)
    assert "not written yet; the reference solution standing in" in capsys.readouterr().out
    exercises.passed("reference", 3, reference)
    assert capsys.readouterr().out == "reference: all 3 checks passed.\n"


def test_first_difference_names_the_index_and_both_values():
    message = exercises._first_difference(np.array([1.0, 2.0]), np.array([1.0, 3.0]),
                                        {"x": np.array([0.1, 0.2])})
    assert "1 of 2" in message and "(1,)" in message and "x=0.2" in message
    assert exercises._first_difference(np.ones(3), np.ones(3), {}) is None
    assert "shape" in exercises._first_difference(np.ones(2), np.ones(3), {})


# --- notebook 01 ---------------------------------------------------------------------------
def _notebook_01_cells():
    """Notebook 01's implement-it cells, executed as the notebook runs them: the namespace
    after the stub cells alone, and the namespace after stubs and folded solutions."""
    import tensorflow as tf

    from utils.notebook_sources import NOTEBOOK_DIR, read_source

    cells = [cell.source for cell in read_source(NOTEBOOK_DIR / "01_quantization_theory.py").cells
             if cell.cell_type == "code"]
    stubs = [source for source in cells if "raise NotWritten" in source]
    solutions = [source for source in cells if "use_reference_until_written(" in source]
    assert len(stubs) == len(solutions) == 4
    names = {"np": np, "tf": tf, "NotWritten": NotWritten,
             "use_reference_until_written": use_reference_until_written}
    stub_namespace, namespace = dict(names), dict(names)
    for stub, solution in zip(stubs, solutions, strict=True):
        exec(stub, stub_namespace)
        exec(stub, namespace)
        exec(solution, namespace)
    return stub_namespace, namespace


@pytest.fixture(scope="module")
def notebook_01():
    return _notebook_01_cells()


@pytest.mark.parametrize("name", ["quantize", "quantize_ste", "scale_and_zero_point",
                                  "quantize_affine", "dequantize_affine", "per_channel_scales"])
def test_01_notebook_solutions_pass_and_stubs_say_not_written(name, notebook_01, capsys):
    stubs, namespace = notebook_01
    graded = getattr(exercises, f"test_{name}")
    graded(namespace[f"{name}_solution"])
    graded(namespace[name])  # what the notebook goes on with while the stub is unwritten
    assert namespace[name].stands_in_for == name
    out = capsys.readouterr().out
    assert out.count(f"{name}: all") == 1  # the solution itself
    assert f"{name}: not written yet; the reference solution standing in" in out
    with pytest.raises(GradingError, match=f"{name} is not written yet"):
        graded(stubs[name])


def _course_quantize_01(x, k, alpha):
    from utils.quantizers import quantize_to_integers

    return quantize_to_integers(x, k, alpha)


def _course_quantize_ste_01(x, k):
    from utils.quantizers import KBitQuantizer

    return KBitQuantizer(k)(x)


def _course_scale_and_zero_point_01(r_min, r_max, bits):
    from utils.quantizers import affine_from_range

    grid = affine_from_range(r_min, r_max, bits)
    return float(grid.scale), int(grid.zero_point)


def _course_quantize_affine_01(r, scale, zero_point, bits):
    from utils.quantizers import AffineQuantization, integer_range

    return AffineQuantization(np.asarray(scale), np.asarray(zero_point),
                              *integer_range(bits)).quantize(r)


def _course_dequantize_affine_01(q, scale, zero_point):
    from utils.quantizers import AffineQuantization

    return AffineQuantization(np.asarray(scale), np.asarray(zero_point), -128, 127).dequantize(q)


def _course_per_channel_scales_01(kernel, bits):
    from utils.quantizers import symmetric_scales

    return symmetric_scales(kernel, bits, per_channel=True).scale


@pytest.mark.parametrize("name, course", [
    ("quantize", _course_quantize_01), ("quantize_ste", _course_quantize_ste_01),
    ("scale_and_zero_point", _course_scale_and_zero_point_01),
    ("quantize_affine", _course_quantize_affine_01),
    ("dequantize_affine", _course_dequantize_affine_01),
    ("per_channel_scales", _course_per_channel_scales_01),
])
def test_01_the_course_implementation_passes(name, course, capsys):
    getattr(exercises, f"test_{name}")(course)
    assert f"{name}: all" in capsys.readouterr().out


def test_01_equivalent_spellings_pass(capsys):
    """Right answers written differently: float32 arithmetic, rounding after adding Z, the
    tiny-floor guard of PerChannelKBitQuantizer for an all-zero channel."""
    exercises.test_quantize_affine(lambda r, s, z, n: np.clip(np.round(np.asarray(r) / s + z),
                                                            -(2 ** (n - 1)), 2 ** (n - 1) - 1))
    exercises.test_dequantize_affine(
        lambda q, s, z: np.float32(s) * (np.asarray(q, np.float32) - np.float32(z)))
    exercises.test_per_channel_scales(
        lambda w, n: np.maximum(np.abs(w).reshape(-1, w.shape[-1]).max(0), 1e-12)
        / (2 ** (n - 1) - 1))
    assert capsys.readouterr().out.count("checks passed") == 3


# Planted faults: each is rejected with a message that names the case and the difference.
def _quantize_01(x, k, alpha, *, top=None, rounding=np.round, clip=True, divide=False):
    top = 2 ** (k - 1) - 1 if top is None else top
    values = np.clip(x, -alpha, alpha) if clip else np.asarray(x)
    codes = rounding(values * top / alpha)
    return codes / (top / alpha) if divide else codes


def _asymmetric_scale_01(x, k, alpha):  # eq. 3.2's s = 2^(k-1) / alpha: off by one level
    return np.clip(_quantize_01(x, k, alpha, top=2 ** (k - 1)), -(2 ** (k - 1)), 2 ** (k - 1) - 1)


@pytest.mark.parametrize("wrong, message", [
    (lambda x, k, a: _quantize_01(x, k, a, rounding=lambda v: np.floor(v + 0.5)),
     r"on ties .* got -1\.0, expected -2\.0 \(x=-0\.375\)\. Hint: round exact halves to the even"),
    (lambda x, k, a: _quantize_01(x, k, a, rounding=lambda v: np.sign(v) * np.floor(abs(v) + .5)),
     r"on ties .* got -3\.0, expected -2\.0"),
    (lambda x, k, a: _quantize_01(x, k, a, clip=False), r"random values, k=2.*got -2\.0, expected "
     r"-1\.0 \(x=-1\.89"),
    (_asymmetric_scale_01, r"random values, k=2, alpha=1: .* got -2\.0, expected -1\.0"),
    (lambda x, k, a: _quantize_01(x, k, 1.0), r"alpha=0\.1: .*depends on alpha"),
    (lambda x, k, a: _quantize_01(x, k, a, divide=True), r"got -0\.333.*, expected -1\.0"),
    (lambda x, k, a: _quantize_01(x, k, a, rounding=np.trunc), r"got 0\.0, expected 1\.0"),
], ids=["round half up", "round half away from zero", "no clip", "asymmetric scale",
        "alpha ignored", "dequantized values instead of codes", "truncation"])
def test_01_quantize_rejects_planted_faults(wrong, message):
    with pytest.raises(GradingError, match=message):
        exercises.test_quantize(wrong)


def _ste_01(x, k, *, edges=True, top=None, half_up=False, times_dy=True, gradient="ste"):
    import tensorflow as tf

    levels = 2.0 ** (k - 1)
    high = 1.0 - 1.0 / levels if top is None else top
    rounding = (lambda v: tf.floor(v + 0.5)) if half_up else tf.round
    forward = tf.clip_by_value(rounding(x * levels) / levels, -1.0, high)
    if gradient == "none":  # round has no gradient: the staircase without an estimator
        return forward
    if gradient == "identity":  # straight through everywhere, clip range forgotten
        return x + tf.stop_gradient(forward - x)

    @tf.custom_gradient
    def _quantize(x):
        def grad(dy):
            inside = (tf.abs(x) <= 1.0) if edges else (tf.abs(x) < 1.0)
            mask = tf.cast(inside, dy.dtype)
            return dy * mask if times_dy else mask

        return forward, grad

    return _quantize(x)


@pytest.mark.parametrize("wrong, message", [
    (lambda x, k: _ste_01(x, k, edges=False),
     r"k=2, gradient: .*got 0\.0, expected 1\.96.* \(x=-1\.0, .*the edges included"),
    (lambda x, k: _ste_01(x, k, gradient="identity"),
     r"k=2, gradient: .*got 0\.80.*, expected 0\.0 \(x=-2\.0"),
    (lambda x, k: _ste_01(x, k, gradient="none"), r"gradient: .*got 0\.0, expected 1\.96"),
    (lambda x, k: _ste_01(x, k, top=1.0), r"k=2, forward: .*got 1\.0, expected 0\.5 \(x=0\.75\)"),
    (lambda x, k: _ste_01(x, k, times_dy=False),
     r"gradient: .*got 1\.0, expected 1\.96.*upstream gradient=1\.96.*return dy \* mask"),
    (lambda x, k: _ste_01(x, k, half_up=True),
     r"forward: .*got -0\.5, expected -1\.0 \(x=-0\.75\).*halves to even"),
    (lambda x, k: _ste_01(x, k).numpy(), r"gradient: .*got 0\.0"),
], ids=["edges excluded", "gradient everywhere", "no estimator", "no top clip",
        "mask without dy", "round half up", "numpy result"])
def test_01_quantize_ste_rejects_planted_faults(wrong, message):
    with pytest.raises(GradingError, match=message):
        exercises.test_quantize_ste(wrong)


def _scale_and_zero_point_01(r_min, r_max, bits, *, widen=True, steps=None, half_up=False,
                             sign=-1.0, guard=True):
    q_min, q_max = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if widen:
        r_min, r_max = min(r_min, 0.0), max(r_max, 0.0)
    scale = (r_max - r_min) / (q_max - q_min if steps is None else steps(bits))
    if guard and scale == 0:
        scale = 1.0
    zero = q_min + sign * r_min / scale
    return scale, int(np.floor(zero + 0.5) if half_up else np.round(zero))


@pytest.mark.parametrize("wrong, message", [
    (lambda a, b, n: _scale_and_zero_point_01(a, b, n, widen=False),
     r"all-positive range, scale: .*got 0\.02156.*, expected 0\.02352.*r_min=0\.5.*widen"),
    (lambda a, b, n: _scale_and_zero_point_01(a, b, n, steps=lambda n: 2 ** n),
     r"range around zero, scale: .*got 0\.015625, expected 0\.01568"),
    (lambda a, b, n: _scale_and_zero_point_01(a, b, n, steps=lambda n: 2 ** n - 2),
     r"range around zero, scale: .*got 0\.01574.*, expected 0\.01568"),
    (lambda a, b, n: _scale_and_zero_point_01(a, b, n, guard=False),
     r"failed on the all-zero range: ZeroDivisionError.*S = 1"),
    (lambda a, b, n: _scale_and_zero_point_01(a, b, n, half_up=True),
     r"tie .*zero point: .*got 1\.0, expected 0\.0.*half to even"),
    (lambda a, b, n: _scale_and_zero_point_01(a, b, n, sign=1.0),
     r"range around zero, zero point: .*got -192\.0, expected -64\.0"),
    (lambda a, b, n: _scale_and_zero_point_01(a, b, n)[0], r"must return a pair"),
], ids=["range not widened to 0", "2^bits steps", "narrow range", "0 / 0 for the zero range",
        "zero point rounded half up", "zero point sign", "scale only"])
def test_01_scale_and_zero_point_rejects_planted_faults(wrong, message):
    with pytest.raises(GradingError, match=message):
        exercises.test_scale_and_zero_point(wrong)


def _quantize_affine_01(r, scale, zero_point, bits, *, zero=1, clamp=True, half_up=False,
                        unsigned=False):
    q_min, q_max = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    scaled = np.asarray(r) / scale
    codes = (np.floor(scaled + 0.5) if half_up else np.round(scaled)) + zero * zero_point
    return np.clip(codes, q_min, q_max) if clamp else codes


@pytest.mark.parametrize("wrong, message", [
    (lambda r, s, z, n: _quantize_affine_01(r, s, z, n, zero=0),
     r"random values in \[-1, 3\] \(S=0\.0156863, Z=-64, bits=8\): .*got -42\.0, expected -106\.0"),
    (lambda r, s, z, n: _quantize_affine_01(r, s, z, n, zero=-1), r"got 22\.0, expected -106\.0"),
    (lambda r, s, z, n: _quantize_affine_01(r, s, z, n, clamp=False),
     r"values beyond \[-1, 3\] .*got -3252\.0, expected -128\.0 \(r=-50\.0\).*clamped"),
    (lambda r, s, z, n: _quantize_affine_01(r, s, z, n, half_up=True),
     r"ties .*got -127\.0, expected -128\.0 \(r=-0\.9921875\).*half to even"),
    (lambda r, s, z, n: _quantize_affine_01(r, s, z, n, unsigned=True),
     r"got 0\.0, expected -106\.0"),
], ids=["no zero point", "zero point subtracted", "no clamp", "round half up",
        "unsigned range"])
def test_01_quantize_affine_rejects_planted_faults(wrong, message):
    with pytest.raises(GradingError, match=message):
        exercises.test_quantize_affine(wrong)


@pytest.mark.parametrize("wrong, message", [
    (lambda q, s, z: s * np.asarray(q), r"got -2\.0078.*, expected -1\.0039.* \(q=-128\)"),
    (lambda q, s, z: s * (np.asarray(q) + z), r"got -3\.0117.*, expected -1\.0039"),
    (lambda q, s, z: (np.asarray(q) - z) / s, r"got -4080\.0, expected -1\.0039"),
    (lambda q, s, z: np.round(s * (np.asarray(q) - z)), r"got -1\.0, expected -1\.0039"),
], ids=["no zero point", "zero point added", "divided by the scale", "rounded"])
def test_01_dequantize_affine_rejects_planted_faults(wrong, message):
    with pytest.raises(GradingError, match=message):
        exercises.test_dequantize_affine(wrong)


def _per_channel_scales_01(kernel, bits, *, absolute=True, per_tensor=False, top=None,
                           guard=True, axis=-1):
    kernel = np.asarray(kernel)
    magnitude = np.abs(kernel) if absolute else kernel
    if per_tensor:
        largest = np.full(kernel.shape[-1], magnitude.max())
    else:
        largest = magnitude.max(axis=tuple(i for i in range(kernel.ndim)
                                           if i != axis % kernel.ndim))
    scales = largest / (2 ** (bits - 1) - 1 if top is None else top)
    return np.where(scales > 0, scales, 1.0) if guard else scales


@pytest.mark.parametrize("wrong, message", [
    (lambda w, n: _per_channel_scales_01(w, n, absolute=False),
     r"random conv kernel .*got 0\.00090.*, expected 0\.00098.*max\|w\| of the channel"),
    (lambda w, n: _per_channel_scales_01(w, n, per_tensor=True),
     r"random conv kernel .*7 of 8 values differ"),
    (lambda w, n: _per_channel_scales_01(w, n).max(), r"shape \(\), expected \(8,\)"),
    (lambda w, n: _per_channel_scales_01(w, n, top=2 ** (n - 1)),
     r"8 of 8 values differ.*got 0\.000975.*, expected 0\.000983"),
    (lambda w, n: _per_channel_scales_01(w, n, guard=False),
     r"all-zero channel .*channel 2 is all zeros.*came out 0\.0"),
    (lambda w, n: _per_channel_scales_01(w, n, axis=0), r"shape \(3,\), expected \(8,\)"),
], ids=["max without abs", "one scale for all channels", "a single scale", "divided by 128",
        "zero channel gets 0", "scales along the first axis"])
def test_01_per_channel_scales_rejects_planted_faults(wrong, message):
    with pytest.raises(GradingError, match=message):
        exercises.test_per_channel_scales(wrong)


# (tests 01: end)

# --- notebook 02 ---------------------------------------------------------------------------
def _notebook_02_cells():
    """Notebook 02's two implement-it cells, executed as the notebook runs them: the namespace
    after the stub cells alone, and the namespace after stubs and folded solutions."""
    from utils.notebook_sources import NOTEBOOK_DIR, read_source

    cells = [cell.source for cell in
             read_source(NOTEBOOK_DIR / "02_binary_and_8bit_layers.py").cells
             if cell.cell_type == "code"]
    stubs = [source for source in cells if "raise NotWritten" in source]
    solutions = [source for source in cells if "use_reference_until_written(" in source]
    assert len(stubs) == len(solutions) == 2
    names = {"np": np, "NotWritten": NotWritten,
             "use_reference_until_written": use_reference_until_written}
    stub_namespace, namespace = dict(names), dict(names)
    for stub, solution in zip(stubs, solutions, strict=True):
        exec(stub, stub_namespace)
        exec(stub, namespace)
        exec(solution, namespace)
    return stub_namespace, namespace


@pytest.mark.parametrize("name", ["latent_update", "quantize_layer_weights"])
def test_latent_update_and_quantize_layer_weights_notebook_solutions_pass(name, capsys):
    stubs, namespace = _notebook_02_cells()
    graded = getattr(exercises, f"test_{name}")
    graded(namespace[f"{name}_solution"])
    graded(namespace[name])  # what the notebook goes on with while the stub is unwritten
    assert namespace[name].stands_in_for == name
    out = capsys.readouterr().out
    assert out.count(f"{name}: all") == 1  # the solution itself
    assert f"{name}: not written yet; the reference solution standing in" in out
    with pytest.raises(GradingError, match=f"{name} is not written yet"):
        graded(stubs[name])


def _sgd_clip(latent, gradient, learning_rate):
    """The folded solution's logic: one SGD step, then the clip to [-1, 1]."""
    return np.clip(latent - learning_rate * gradient, -1.0, 1.0)


def _sgd_clip_tf(latent, gradient, learning_rate):
    import tensorflow as tf

    return tf.clip_by_value(latent - learning_rate * gradient, -1.0, 1.0)


@pytest.mark.parametrize("implementation", [exercises.course_latent_update, _sgd_clip,
                                            _sgd_clip_tf])
def test_latent_update_accepts_the_course_step(implementation, capsys):
    exercises.test_latent_update(implementation)
    assert "latent_update: all" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (lambda w, g, lr: w - lr * g, r"weights at ±1 pushed outward.*got 1\.05.*expected 1\.0.*"
                                  r"clip to \[-1, 1\]"),
    (lambda w, g, lr: np.clip(w + lr * g, -1, 1),
     r"random latent weights and gradients.*against its gradient"),
    (lambda w, g, lr: np.clip(np.clip(w, -1, 1) - lr * g, -1.5, 1.5),
     r"weights at ±1 pushed outward.*got 1\.05"),
    (lambda w, g, lr: np.where(np.clip(w - lr * g, -1, 1) >= 0, 1.0, -1.0),
     r"random latent weights and gradients.*got -?1\.0,"),
    (lambda w, g, lr: np.clip(w - g, -1, 1), r"random latent weights and gradients"),
    (lambda w, g, lr: None, r"returned None"),
    (lambda w, g, lr: w.reshape(-1)[5], r"random latent weights.*shape \(\), expected \(8, 16\)"),
    (lambda w, g, lr: w @ g, r"random latent weights.*raised ValueError"),
], ids=["no clip", "gradient ascent", "clip before the step", "binary instead of latent",
        "learning rate ignored", "returns nothing", "wrong shape", "raises"])
def test_latent_update_rejects_planted_faults(wrong, message):
    with pytest.raises(GradingError, match=message):
        exercises.test_latent_update(wrong)


def _symmetric_per_channel(kernel, bits, dtype=np.float64):
    """The folded solution's logic, in float64 or float32."""
    kernel = np.asarray(kernel, dtype)
    q_max = 2 ** (bits - 1) - 1
    max_abs = np.max(np.abs(kernel), axis=tuple(range(kernel.ndim - 1)))
    scale = np.where(max_abs > 0, max_abs / q_max, 1.0).astype(dtype)
    return scale * np.clip(np.round(kernel / scale), -q_max, q_max)


def _symmetric_per_channel_tf(kernel, bits):
    import tensorflow as tf

    q_max = 2.0 ** (bits - 1) - 1
    max_abs = tf.reduce_max(tf.abs(kernel), axis=list(range(kernel.ndim - 1)))
    scale = tf.where(max_abs > 0, max_abs / q_max, 1.0)
    return scale * tf.clip_by_value(tf.round(kernel / scale), -q_max, q_max)


@pytest.mark.parametrize("implementation", [
    exercises.course_quantize_layer_weights, _symmetric_per_channel,
    lambda kernel, bits: _symmetric_per_channel(kernel, bits, np.float32),
    _symmetric_per_channel_tf], ids=["course", "float64", "float32", "tensorflow"])
def test_quantize_layer_weights_accepts_the_course_scheme(implementation, capsys):
    exercises.test_quantize_layer_weights(implementation)
    assert "quantize_layer_weights: all" in capsys.readouterr().out


def test_quantize_layer_weights_grades_against_the_ptq_of_the_course():
    import tensorflow as tf

    from utils.quantizers import quantize_after_training

    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(6),
                                 tf.keras.layers.ReLU(), tf.keras.layers.Dense(5),
                                 tf.keras.layers.ReLU(), tf.keras.layers.Dense(3)])
    images = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    quantized = quantize_after_training(model, 4, images)
    np.testing.assert_allclose(
        quantized.layers[0].kernel.numpy(),
        exercises.course_quantize_layer_weights(model.layers[0].kernel.numpy(), 4), atol=1e-7)


def _per_tensor(kernel, bits):
    scale = np.max(np.abs(kernel)) / (2 ** (bits - 1) - 1)
    return scale * np.round(kernel / scale)


def _full_range(kernel, bits):  # q_max off by one: 2^(k-1) instead of 2^(k-1) - 1
    max_abs = np.max(np.abs(kernel), axis=tuple(range(kernel.ndim - 1)))
    scale = np.where(max_abs > 0, max_abs / 2 ** (bits - 1), 1.0)
    return scale * np.clip(np.round(kernel / scale), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _half_away_from_zero(kernel, bits):
    q_max = 2 ** (bits - 1) - 1
    max_abs = np.max(np.abs(kernel), axis=tuple(range(kernel.ndim - 1)))
    scale = np.where(max_abs > 0, max_abs / q_max, 1.0)
    ratio = kernel / scale
    return scale * np.clip(np.sign(ratio) * np.floor(np.abs(ratio) + 0.5), -q_max, q_max)


def _codes(kernel, bits):
    q_max = 2 ** (bits - 1) - 1
    max_abs = np.max(np.abs(kernel), axis=tuple(range(kernel.ndim - 1)))
    scale = np.where(max_abs > 0, max_abs / q_max, 1.0)
    return np.clip(np.round(kernel / scale), -q_max, q_max)


def _no_zero_guard(kernel, bits):
    q_max = 2 ** (bits - 1) - 1
    scale = np.max(np.abs(kernel), axis=tuple(range(kernel.ndim - 1))) / q_max
    with np.errstate(divide="ignore", invalid="ignore"):
        return scale * np.clip(np.round(kernel / scale), -q_max, q_max)


def _min_max_affine(kernel, bits):  # asymmetric, as for activations
    low = np.minimum(kernel.min(axis=0), 0.0)
    high = np.maximum(kernel.max(axis=0), 0.0)
    scale = np.where(high > low, (high - low) / (2**bits - 1), 1.0)
    zero = np.round(-low / scale)
    return scale * (np.clip(np.round(kernel / scale) + zero, 0, 2**bits - 1) - zero)


@pytest.mark.parametrize("wrong, message", [
    (_per_tensor, r"channels whose ranges differ 100-fold.*one scale per output channel"),
    (_full_range, r"constant kernel.*got 0\.29.*expected 0\.3.*q_max = 2\^\(k-1\) - 1"),
    (_half_away_from_zero, r"ties.*got 1\.0, expected 0\.0.*kernel=0\.5.*round halves to even"),
    (_codes, r"constant kernel.*got 127\.0, expected 0\.3"),
    (_no_zero_guard, r"a channel of zeros.*got nan, expected 0\.0.*not NaN"),
    (_min_max_affine, r"channels without zero in their range.*the grid is symmetric"),
], ids=["per tensor", "q_max off by one", "round half away from zero", "integer codes",
        "NaN on a dead channel", "affine min/max"])
def test_quantize_layer_weights_rejects_planted_faults(wrong, message):
    with pytest.raises(GradingError, match=message):
        exercises.test_quantize_layer_weights(wrong)


def _tiny_float_model():
    import tensorflow as tf

    inputs = tf.keras.Input((8, 8, 1))
    x = tf.keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = tf.keras.layers.ReLU(name="relu")(x)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    outputs = tf.keras.layers.Dense(2, activation="softmax", name="classifier")(x)
    return tf.keras.Model(inputs, outputs, name="tiny_fp32")


def test_qat_model_accepts_tfmot_quantize_model(capsys):
    import tensorflow_model_optimization as tfmot

    float_model = _tiny_float_model()
    exercises.test_qat_model(tfmot.quantization.keras.quantize_model(float_model), float_model)
    assert "qat_model: all" in capsys.readouterr().out


def test_qat_model_rejects_a_float_or_partly_wrapped_model():
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot

    keras_quantization = tfmot.quantization.keras
    float_model = _tiny_float_model()
    with pytest.raises(GradingError, match=r"no QuantizeWrapperV2 layers.*has 4 \(conv, relu"):
        exercises.test_qat_model(float_model, float_model)
    with pytest.raises(GradingError, match="qat_model is None"):
        exercises.test_qat_model(None, float_model)

    def annotate_conv_only(layer):
        if isinstance(layer, tf.keras.layers.Conv2D):
            return keras_quantization.quantize_annotate_layer(layer)
        return layer.__class__.from_config(layer.get_config())

    annotated = tf.keras.models.clone_model(float_model, clone_function=annotate_conv_only)
    partly = keras_quantization.quantize_apply(annotated)
    with pytest.raises(GradingError, match=r"wraps \d layers, the course's wrapping 4: not "
                                           r"wrapped: .*classifier"):
        exercises.test_qat_model(partly, float_model)


# (tests 02: end)

# --- notebook 08 ---------------------------------------------------------------------------
def _notebook_08_functions() -> dict:
    """The implement-it stubs and folded solutions of notebook 08, run from its source, as
    the notebook runs them (each solution cell also picks the function to go on with)."""
    import contextlib
    import io
    from pathlib import Path

    import jupytext

    source = Path(__file__).resolve().parents[1] / "notebooks" / "08_arithmetic_and_energy.py"
    notebook = jupytext.read(source)
    namespace = {"np": np, "NotWritten": NotWritten,
                 "use_reference_until_written": use_reference_until_written}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for cell in notebook.cells:
            if cell.cell_type == "code" and ("raise NotWritten" in cell.source
                                             or "_solution(" in cell.source):
                exec(compile(cell.source, "notebook 08", "exec"), namespace)
    return {**namespace, "printed": printed.getvalue()}


FUNCTIONS_08 = ("xnor_popcount_dot", "quantize_multiplier", "apply_multiplier",
                "fold_batch_norm")


@pytest.fixture(scope="module")
def notebook_08():
    return _notebook_08_functions()


GOES_ON_WITH_08 = {"xnor_popcount_dot": "xnor_dot", "quantize_multiplier": "to_fixed_point",
                   "apply_multiplier": "requantize", "fold_batch_norm": "fold"}


@pytest.mark.parametrize("name", FUNCTIONS_08)
def test_08_graders_behave_as_01_and_02s_on_stubs_and_stand_ins(notebook_08, capsys, name):
    """As in notebooks 01 and 02: an unwritten stub fails its graded test saying so; the
    reference standing in for it (what the notebook goes on with, and grades) passes, and
    the test says it was the reference."""
    assert f"`{name}` is not written yet" in notebook_08["printed"]
    graded = getattr(exercises, f"test_{name}")
    with pytest.raises(GradingError, match=f"{name} is not written yet"):
        graded(notebook_08[name])
    stand_in = notebook_08[GOES_ON_WITH_08[name]]
    assert stand_in.stands_in_for == name
    graded(stand_in)
    assert f"{name}: not written yet; the reference solution standing in" in (
        capsys.readouterr().out)


def test_xnor_popcount_dot_accepts_the_notebook_solution(notebook_08, capsys):
    exercises.test_xnor_popcount_dot(notebook_08["xnor_popcount_dot_solution"])
    assert "xnor_popcount_dot: all 8 checks passed" in capsys.readouterr().out


def _popcount(bits):
    return np.unpackbits(np.asarray(bits, np.uint8), axis=-1).sum(axis=-1, dtype=np.int64)


def _mask(n, nbytes, low_bits=False):
    mask = np.full(nbytes, 0xFF, np.uint8)
    if n % 8:
        mask[-1] = (1 << (n % 8)) - 1 if low_bits else (0xFF << (8 - n % 8)) & 0xFF
    return mask


def test_xnor_popcount_dot_accepts_the_course_mask_and_popcount():
    from utils.lessons.arithmetic_and_energy import POPCOUNT, _valid_bit_mask

    def course(a_bits, w_bits, n):
        agree = ~(a_bits ^ w_bits) & _valid_bit_mask(n)
        return 2 * POPCOUNT[agree].sum(axis=-1) - n

    exercises.test_xnor_popcount_dot(course)


@pytest.mark.parametrize("wrong, message", [
    # the padding bits of the last byte counted as agreements (no mask)
    (lambda a, w, n: 2 * _popcount(~(a ^ w)) - n,
     r"13 channels: the last byte holds 3 channels and 5 padding bits.*\(n=13\)"),
    # XOR needs no mask while packbits leaves zeros there, but a word may hold ones
    (lambda a, w, n: n - 2 * _popcount(a ^ w), r"padding bits of a set to 1"),
    # the mask kept the low bits of the last byte, where packbits puts nothing
    (lambda a, w, n: 2 * _popcount(~(a ^ w) & _mask(n, a.shape[-1], low_bits=True)) - n,
     r"13 channels"),
    # agreements alone, not agreements − disagreements
    (lambda a, w, n: _popcount(~(a ^ w) & _mask(n, a.shape[-1])) - n, r"64 channels"),
    # the sign flipped: disagreements − agreements
    (lambda a, w, n: 2 * _popcount((a ^ w) & _mask(n, a.shape[-1])) - n, r"64 channels"),
])
def test_xnor_popcount_dot_rejects_planted_faults(wrong, message):
    with pytest.raises(GradingError, match=message):
        exercises.test_xnor_popcount_dot(wrong)


def test_quantize_multiplier_accepts_the_course_and_the_notebook_solution(notebook_08, capsys):
    from utils.lessons.arithmetic_and_energy import quantize_multiplier

    exercises.test_quantize_multiplier(quantize_multiplier)
    assert notebook_08["to_fixed_point"].__wrapped__ is notebook_08["quantize_multiplier_solution"]
    exercises.test_quantize_multiplier(notebook_08["quantize_multiplier_solution"])
    assert capsys.readouterr().out.count("quantize_multiplier: all 12 checks passed") == 2


def _frexp_fixed(real, rounding=lambda x: np.floor(x + 0.5), carry=True, negligible=True):
    """quantize_multiplier with one step changed."""
    mantissa, shift = np.frexp(np.asarray(real, np.float64))
    fixed = rounding(mantissa * 2.0**31).astype(np.int64)
    if carry:
        fixed, shift = np.where(fixed == 2**31, 2**30, fixed), shift + (fixed == 2**31)
    if negligible:
        fixed, shift = np.where(shift < -31, 0, fixed), np.where(shift < -31, 0, shift)
    return fixed, shift


@pytest.mark.parametrize("wrong, message", [
    # np.round rounds a tie to even: M0 = 2^30 + 0.5 becomes 2^30, not 2^30 + 1
    (lambda real: _frexp_fixed(real, rounding=np.round), r"0.5 \+ 2\^-32.*M0 differs.*"
     r"got 1073741824, expected 1073741825"),
    # truncation instead of rounding
    (lambda real: _frexp_fixed(real, rounding=np.floor), r"M0 differs"),
    # M0 = 2^31 kept when m rounds up to 1 (it does not fit in an int32)
    (lambda real: _frexp_fixed(real, carry=False),
     r"1 − 2\^-40.*M0 differs.*got 2147483648, expected 1073741824"),
    # a multiplier below 2^-32 kept with its shift instead of (0, 0)
    (lambda real: _frexp_fixed(real, negligible=False), r"2\^-33.*M0 differs"),
    # m in [1, 2) (floor of log2) but M0 still scaled by 2^31 - 1 bit: the shift is one low
    (lambda real: (_frexp_fixed(real)[0], _frexp_fixed(real)[1] - 1),
     r"M = 0.5 .*shift differs: .*got -1, expected 0"),
])
def test_quantize_multiplier_rejects_planted_faults(wrong, message):
    with pytest.raises(GradingError, match=message):
        exercises.test_quantize_multiplier(wrong)


def test_apply_multiplier_accepts_the_course_and_the_notebook_solution(notebook_08, capsys):
    from utils.lessons.arithmetic_and_energy import multiply_by_quantized_multiplier

    exercises.test_apply_multiplier(multiply_by_quantized_multiplier)
    assert notebook_08["requantize"].__wrapped__ is notebook_08["apply_multiplier_solution"]
    exercises.test_apply_multiplier(notebook_08["apply_multiplier_solution"])
    assert capsys.readouterr().out.count("apply_multiplier: all 9 checks passed") == 2


def _truncate(values, divisor):
    return np.sign(values) * (np.abs(values) // divisor)


def _tflite_steps(acc, fixed, shift, *, negative_tie_down=False, round_shift=True,
                  shift_direction=1):
    """multiply_by_quantized_multiplier with one step changed."""
    shift = np.asarray(shift, np.int64) * shift_direction
    x = np.asarray(acc, np.int64) << np.maximum(shift, 0)
    product = x * np.asarray(fixed, np.int64)
    nudge = np.where(product >= 0, 2**30, -(2**30) if negative_tie_down else 1 - 2**30)
    high = _truncate(product + nudge, 2**31)
    exponent = np.maximum(-shift, 0)
    mask = (np.int64(1) << exponent) - 1
    if not round_shift:
        return high >> exponent
    return (high >> exponent) + ((high & mask) > (mask >> 1) + (high < 0))


@pytest.mark.parametrize("wrong, message", [
    # in float, rounded once with np.round (half to even): 5 · 0.5 = 2.5 gives 2, not 3
    (lambda acc, m, s: np.round(acc * m * 2.0 ** (s - 31.0)).astype(np.int64),
     r"ties in the high multiply.*got 2, expected 3.*acc=5"),
    # a negative tie of the high multiply rounded away from zero (-2.5 -> -3, not -2)
    (lambda acc, m, s: _tflite_steps(acc, m, s, negative_tie_down=True),
     r"ties in the high multiply.*got -3, expected -2.*acc=-5"),
    # the final shift truncates (an arithmetic shift floors) instead of rounding
    (lambda acc, m, s: _tflite_steps(acc, m, s, round_shift=False),
     r"ties in the final shift.*got 1, expected 2.*acc=6"),
    # the shift applied the wrong way round (2^-shift instead of 2^shift)
    (lambda acc, m, s: _tflite_steps(acc, m, s, shift_direction=-1),
     r"ties in the final shift.*got 6, expected 2"),
])
def test_apply_multiplier_rejects_planted_faults(wrong, message):
    with pytest.raises(GradingError, match=message):
        exercises.test_apply_multiplier(wrong)


def _fold(kernel, bias, gamma, beta, mean, variance, epsilon, *, sqrt=np.sqrt, use_bias=True,
          use_mean=True, axis=-1, with_epsilon=True):
    """Batch-norm folding with one step changed."""
    scale = gamma / sqrt(variance + (epsilon if with_epsilon else 0.0))
    shape = [1] * kernel.ndim
    shape[axis] = -1
    bias = (bias if use_bias else 0.0) - (mean if use_mean else 0.0)
    return kernel * scale.reshape(shape), bias * scale + beta


def test_fold_batch_norm_accepts_the_notebook_solution(notebook_08, capsys):
    assert notebook_08["fold"].__wrapped__ is notebook_08["fold_batch_norm_solution"]
    exercises.test_fold_batch_norm(notebook_08["fold_batch_norm_solution"])
    exercises.test_fold_batch_norm(_fold)
    assert capsys.readouterr().out.count("fold_batch_norm: all 6 checks passed") == 2


@pytest.mark.parametrize("wrong, message", [
    # no epsilon: the zero-variance channel divides by zero
    (lambda *p: _fold(*p, with_epsilon=False),
     r"with a convolution bias.*\(epsilon=0.001\)\. First bad output channel 0"),
    # Keras' default epsilon (1e-3) written in, the argument ignored
    (lambda k, b, g, be, m, v, e: _fold(k, b, g, be, m, v, 1e-3),
     r"epsilon 1e-5.*epsilon=1e-05"),
    # the variance used as if it were the standard deviation
    (lambda *p: _fold(*p, sqrt=lambda v: v), r"with a convolution bias.*First bad"),
    # the convolution's own bias dropped
    (lambda *p: _fold(*p, use_bias=False), r"with a convolution bias.*First bad"),
    # the moving mean not subtracted
    (lambda *p: _fold(*p, use_mean=False), r"with a convolution bias.*First bad"),
    # |gamma|: a single square root of gamma² / (variance + epsilon) loses gamma's sign
    (lambda k, b, g, *p: _fold(k, b, np.abs(g), *p),
     r"negative gammas.*First bad output channel 0.*gamma=-"),
    # the kernel scaled along its input channels (axis 2), which only fits when C_in = C_out
    (lambda *p: _fold(*p, axis=2), r"raised ValueError"),
])
def test_fold_batch_norm_rejects_planted_faults(wrong, message):
    with pytest.raises(GradingError, match=message):
        exercises.test_fold_batch_norm(wrong)


# (tests 08: end)
