"""Seed statistics: mean and spread over seeds, and when a difference is beyond that spread.

Every comparison of the course (the main table of notebook 05 and the ablations of 07)
trains each condition with several seeds and reads a difference of means against the
seed-to-seed spread with one rule:

    a difference counts as *beyond the seed spread* when |diff| > 2 · se_diff,
    se_diff = sqrt(s_a² / n_a + s_b² / n_b),

with s the sample standard deviations over the n_a and n_b seeds of the two conditions. With
three seeds per condition this is a rough 95% screen, not a significance test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

__all__ = ["SPREAD_FACTOR", "SUMMARY_COLUMNS", "difference", "seed_summary", "standard_error"]

# How many standard errors a difference must exceed to count as beyond the seed spread.
SPREAD_FACTOR = 2.0
SUMMARY_COLUMNS = ["seeds", "mean", "std", "min", "max"]


def seed_summary(frame: pd.DataFrame, by: Sequence[str], value: str) -> pd.DataFrame:
    """Per group of ``by``: number of seeds, mean, sample std (NaN for one), min and max of
    ``value``, groups in order of first appearance."""
    table = frame.groupby(list(by), sort=False)[value].agg(
        seeds="count", mean="mean", std="std", min="min", max="max")
    table["seeds"] = table["seeds"].astype(int)
    return table[SUMMARY_COLUMNS]


def standard_error(row: pd.Series, base: pd.Series) -> float:
    """sqrt(s²/n + s_b²/n_b) of a difference of two means; NaN with fewer than two seeds."""
    if row["seeds"] < 2 or base["seeds"] < 2:
        return math.nan
    return math.sqrt(row["std"] ** 2 / row["seeds"] + base["std"] ** 2 / base["seeds"])


def difference(row: pd.Series, base: pd.Series | None) -> tuple[float, float, bool]:
    """(diff of means, its standard error, beyond the spread) of ``row`` against ``base``.

    ``row`` and ``base`` are rows of :func:`seed_summary`. Without a base everything is
    NaN/False; with fewer than two seeds on either side the difference is never "beyond".
    """
    if base is None:
        return math.nan, math.nan, False
    diff = row["mean"] - base["mean"]
    error = standard_error(row, base)
    if math.isnan(error):
        return diff, error, False
    return diff, error, bool(abs(diff) > SPREAD_FACTOR * error)
