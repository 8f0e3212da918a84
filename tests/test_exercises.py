"""Exercises: every check passes its own answer, refuses a wrong one with a hint, and every
notebook asks 3 to 5 questions, each followed by a folded, worked solution."""

import pytest

from utils.exercises import EXERCISES, WrongAnswer, check, exercise, exercises_of
from utils.notebook_sources import notebook_sources, read_source


def _wrong(value):
    if isinstance(value, str):
        return "something else"
    if isinstance(value, tuple):
        return tuple(item + 1 if not isinstance(item, str) else item for item in value)
    return value * 1.5 + 1


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_the_check_accepts_the_answer_and_refuses_a_wrong_one(key, capsys):
    expected = EXERCISES[key].expected()
    assert check(key, expected).startswith("Right")
    assert "Right" in capsys.readouterr().out
    with pytest.raises(WrongAnswer, match=f"is not the answer to {key}. Hint: "):
        check(key, _wrong(expected))
    with pytest.raises(WrongAnswer):
        check(key, None)


def test_a_few_answers_by_hand():
    check("01_code", 2)
    check("01_relu_range", (6 / 255, -128))
    check("02_binary_bytes", (131_072, 4_194_304))
    check("05_beyond_spread", "Yes ")  # words ignore case and spaces
    with pytest.raises(WrongAnswer, match="round"):
        check("01_code", 3)
    with pytest.raises(KeyError, match="no exercise"):
        check("99_nothing", 1)


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
    assert f"**Exercise {keys[0]}.**" in exercise(keys[0]).data
