"""Judging the ablations: seed statistics per condition and a verdict on the report's claim.

:func:`summary_table` gives, per ablation and condition, the mean and spread of test accuracy
over seeds and the difference to the baseline, read against the seed spread with the rule of
:mod:`utils.stats`. :func:`verdict` sets the report's claim beside that measurement.

A condition most of whose seeds stayed within :data:`CHANCE_MARGIN` points of chance did not
train: its difference to the baseline is the size of a failure, not of an effect of the
setting, and the verdict says so instead of scoring it. No TensorFlow here.
"""

from __future__ import annotations

import math

import pandas as pd

from utils.ablations import Ablation, condition_bits, get_ablation
from utils.stats import SPREAD_FACTOR, difference, seed_summary, standard_error

__all__ = ["CHANCE_MARGIN", "SIZE_FACTOR", "condition_table", "summary_table", "verdict"]

# A measured difference in the claimed direction "agrees" in size when it is within this
# factor of the claimed size (only where the report gives a size).
SIZE_FACTOR = 3.0
# A run "did not train" when its test accuracy is within this many points of chance.
CHANCE_MARGIN = 5.0


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per ablation and condition: seeds, mean, std, min, max test accuracy, difference to
    the baseline, its standard error, and whether it is beyond the seed spread.

    Accuracies and differences are in percentage points; std is the sample standard
    deviation over seeds (NaN for one seed); ``se_diff`` is ``sqrt(s_b²/n_b + s_v²/n_v)``
    and ``beyond_spread`` is ``|diff| > 2 se_diff`` (False with fewer than two seeds);
    ``chance`` is chance accuracy and ``trained`` how many seeds got beyond
    :data:`CHANCE_MARGIN` points above it. Index: (ablation, condition), conditions in the
    order of the runs frame.
    """
    columns = ["seeds", "mean", "std", "min", "max", "diff", "se_diff", "beyond_spread",
               "chance", "trained"]
    if runs.empty:
        return pd.DataFrame(columns=columns,
                            index=pd.MultiIndex.from_tuples([], names=["ablation", "condition"]))
    accuracy = runs.assign(accuracy=100.0 * runs["test_accuracy"])
    table = seed_summary(accuracy, ["ablation", "condition"], "accuracy")
    baseline_of = accuracy[accuracy["is_baseline"]].groupby("ablation", sort=False)["condition"]
    rows = []
    for (ablation, _condition), row in table.iterrows():
        base_condition = baseline_of.first().get(ablation)
        base = table.loc[(ablation, base_condition)] if base_condition is not None else None
        rows.append(difference(row, base))
    table[["diff", "se_diff", "beyond_spread"]] = pd.DataFrame(rows, index=table.index)
    table["beyond_spread"] = table["beyond_spread"].astype(bool)
    chance = 100.0 * accuracy.get("chance_accuracy", pd.Series(0.1, index=accuracy.index))
    grouped = accuracy.assign(chance=chance, trained=accuracy["accuracy"] > chance
                              + CHANCE_MARGIN).groupby(["ablation", "condition"], sort=False)
    table["chance"] = grouped["chance"].first()
    table["trained"] = grouped["trained"].sum().astype(int)
    return table[columns]


def condition_table(summary: pd.DataFrame, key: str) -> pd.DataFrame:
    """The rows of one ablation, indexed by condition, rounded for display."""
    return summary.xs(key, level="ablation").round(2)


def _stats(summary: pd.DataFrame, key: str, condition: str) -> str:
    row = summary.loc[(key, condition)]
    spread = f" ± {row['std']:.1f}" if row["seeds"] > 1 else ""
    return f"{condition} {row['mean']:.1f}{spread}%"


def _assessment(ablation: Ablation, diff: float, beyond: bool, seeds: int) -> str:
    if seeds < 2:
        return "Undecided: one seed per condition gives no spread to judge the difference by."
    direction = "better" if diff > 0 else "worse"
    if ablation.expected == 0:
        if beyond:
            return (f"The report made no accuracy claim; the variant is {direction}, by more "
                    "than the seed spread.")
        return "The report made no accuracy claim; the difference is within the seed spread."
    if not beyond:
        return "Not confirmed: the difference is within the seed-to-seed spread."
    if (diff > 0) == (ablation.expected > 0):
        claimed = ablation.claimed_points
        if claimed and not 1 / SIZE_FACTOR <= diff / claimed <= SIZE_FACTOR:
            return (f"The direction agrees with the report, the size does not: {diff:+.1f} "
                    f"points measured against about {claimed:+.1f} claimed.")
        return "Agrees with the report."
    return f"Contradicts the report: the variant is {direction}, by more than the seed spread."


def _side_assessment(diff: float, beyond: bool, seeds: int) -> str:
    """The verdict on a variant that does not test the report's claim (see
    :attr:`~utils.ablations.Ablation.claim_variants`): what it measured, unscored."""
    if seeds < 2:
        return "Not a test of the report's claim; one seed gives no spread to judge by."
    if not beyond:
        return "Not a test of the report's claim; the difference is within the seed spread."
    direction = "better" if diff > 0 else "worse"
    return (f"Not a test of the report's claim; the variant is {direction}, by more than the "
            "seed spread.")


def _did_not_train(row: pd.Series) -> bool:
    """Most seeds stayed at chance: one lucky seed does not make a condition that trains."""
    return 2 * row["trained"] < row["seeds"]


def _at_chance(row: pd.Series) -> str:
    """"every seed" or "2 of 3 seeds", the seeds of ``row`` that stayed at chance."""
    stuck = int(row["seeds"] - row["trained"])
    return "every seed" if stuck == row["seeds"] else f"{stuck} of {int(row['seeds'])} seeds"


def _failure(ablation: Ablation, summary: pd.DataFrame, label: str) -> str:
    row = summary.loc[(ablation.key, label)]
    return (f"{label} did not train: {_at_chance(row)} stayed at chance ({row['mean']:.1f}% "
            f"against {row['chance']:.0f}% chance), so its {row['diff']:+.1f} points are the "
            "size of a failure to train, not an effect of the setting.")


def _pair_verdict(ablation: Ablation, summary: pd.DataFrame) -> str:
    baseline = summary.loc[(ablation.key, ablation.baseline)]
    if _did_not_train(baseline):
        return (f"The baseline ({ablation.baseline}) did not train: {_at_chance(baseline)} "
                "stayed at chance, so no difference here measures the setting.")
    parts = []
    for label in ablation.variants:
        if (ablation.key, label) not in summary.index:
            continue
        row = summary.loc[(ablation.key, label)]
        if _did_not_train(row):
            parts.append(_failure(ablation, summary, label))
            continue
        spread = ("beyond the seed spread" if row["beyond_spread"] else "within the seed spread")
        if row["seeds"] < 2:
            spread = "one seed, so no spread"
        assessment = (_assessment(ablation, row["diff"], row["beyond_spread"], row["seeds"])
                      if ablation.tests_claim(label)
                      else _side_assessment(row["diff"], row["beyond_spread"], row["seeds"]))
        parts.append(
            f"{_stats(summary, ablation.key, ablation.baseline)} against "
            f"{_stats(summary, ablation.key, label)}: {row['diff']:+.1f} points "
            f"({spread}). {assessment}"
        )
    return " ".join(parts)


def _sweep_verdict(ablation: Ablation, summary: pd.DataFrame) -> str:
    rows = summary.xs(ablation.key, level="ablation")
    bits = condition_bits(ablation)
    rows = rows.assign(bits=[bits[label] for label in rows.index]).sort_values("bits")
    means = ", ".join(f"{row.bits} bit{'s' if row.bits > 1 else ''} {row.mean:.1f}%"
                      for row in rows.itertuples())
    text = f"Mean test accuracy: {means}."
    dead = [f"{row.bits}" for row in rows.itertuples() if 2 * row.trained < row.seeds]
    if dead:
        text += (f" Did not train (most seeds at chance): {', '.join(dead)} "
                 f"bit{'s' if dead != ['1'] else ''}.")
    widest = rows.iloc[-1]
    errors = [standard_error(row, widest) for _, row in rows.iloc[:-1].iterrows()]
    if not errors or any(math.isnan(error) for error in errors):
        return text + " Undecided: one seed per width gives no spread to judge by."
    close = [f"{int(row['bits'])}" for (_, row), error in zip(rows.iloc[:-1].iterrows(), errors,
                                                               strict=True)
             if abs(row["mean"] - widest["mean"]) <= SPREAD_FACTOR * error]
    text += (f" Within the seed spread of {int(widest['bits'])} bits: "
             f"{', '.join(close) + ' bits' if close else 'no narrower width'}.")
    by_bits = rows.set_index("bits")["mean"]
    order = [by_bits[b] for b in (1, 8, 32) if b in by_bits.index]
    if len(order) == 3 and order[0] < order[1] < order[2]:
        return text + " The report's order (float > 8-bit > binary) holds in the means."
    return text + " The report's order (float > 8-bit > binary) does not hold in the means."


def verdict(key: str, summary: pd.DataFrame) -> str:
    """The report's claim against the measurement of ablation ``key``, in two sentences or so.

    "Agrees" needs a difference beyond the seed spread in the claimed direction; a difference
    within the spread leaves the claim not confirmed (see the module docstring for the rule).
    """
    ablation = get_ablation(key)
    present = set(summary.index)
    if not any((key, label) in present for label in ablation.variants) or (
            (key, ablation.baseline) not in present):
        return f"Report ({ablation.section_text}): {ablation.claim_short}. Not measured yet."
    head = f"Report ({ablation.section_text}): {ablation.claim_short}. Measured: "
    if ablation.sweep:
        return head + _sweep_verdict(ablation, summary)
    return head + _pair_verdict(ablation, summary)


