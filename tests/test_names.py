"""Tests for utils.names: bit widths to precision names, and the notebooks' parameters."""

import pytest

from utils.names import check_notebook_parameters, precision_for_bits


def test_precision_for_bits():
    assert [precision_for_bits(b) for b in (1, 2, 3, 4, 8, 32)] == [
        "binary", "int2", "int3", "int4", "int8", "fp32"]
    for bad in (0, 17, 64, 1.5):
        with pytest.raises(ValueError, match="bit width"):
            precision_for_bits(bad)


def test_check_notebook_parameters():
    check_notebook_parameters("smoke", "mnist5k")
    check_notebook_parameters("full")
    with pytest.raises(ValueError, match="profile"):
        check_notebook_parameters("medium", "auto")
    with pytest.raises(ValueError, match="dataset"):
        check_notebook_parameters("quick", "mnist")
