"""Exercises: every answer key agrees with a hand computation written here (not with the
exercise's own code), right answers in other forms pass, known wrong answers are refused with
a hint that does not give the answer, a confirmation prints once without the answer, and every
notebook asks 3 to 5 questions, each followed by a folded, worked solution."""

import math
import statistics

import numpy as np
import pandas as pd
import pytest

import utils.exercises as exercises
from utils.exercises import EXERCISES, WrongAnswer, check, exercise, exercises_of
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
    keys = [exercise.key for exercise in exercises_of(source.name[:2])]
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
