"""Tests for utils.recipe_check: the full-size recipe check's twelve runs and its table (no
training here)."""

from pathlib import Path

from utils.recipe_check import (
    CHANCE_MARGIN,
    check_configs,
    check_summary,
    check_table,
    recorded_check,
)


def _record(config, accuracy, losses):
    return {"config": config.to_dict(), "test_accuracy": accuracy,
            "history": {"loss": losses}, "epochs_run": len(losses),
            "dataset": {"num_classes": 10, "sizes": {"train": 640}}}


def test_twelve_full_size_runs_with_both_recipes_and_the_dry_run_limits():
    configs = check_configs(limit=640, epochs=4)
    assert len(configs) == 12 == len({c.config_hash() for c in configs})
    assert {(c.profile, c.model, c.precision) for c in configs} == {
        (p, m, q) for p in ("full", "report") for m in ("alexnet", "googlenet")
        for q in ("binary", "int8", "fp32")}
    assert {(c.model, c.image_size) for c in configs} == {("alexnet", 227), ("googlenet", 224)}
    assert all(c.limit == 640 and c.epochs == 4 and c.width == 1.0 for c in configs)
    recipes = {c.profile: (c.learning_rate, c.lr_schedule, c.augment) for c in configs}
    assert recipes == {"full": (2e-3, "cosine", True), "report": (1e-3, "constant", False)}


def test_the_table_says_which_runs_trained():
    alive, dead = check_configs(limit=64, epochs=2)[:2]
    table = check_table([_record(alive, 0.62, [2.3, 1.1]),
                         _record(dead, (10 + CHANCE_MARGIN - 1) / 100, [2.3, 2.3])])
    assert table["trained"].sum() == 1
    row = table.loc[(alive.model, alive.precision, alive.profile, 2)]
    assert row["trained"] and row["chance %"] == 10.0
    assert row["first / last training loss"] == "2.30 / 1.10"
    assert not table.loc[(dead.model, dead.precision, dead.profile, 2), "trained"]
    text = check_summary(table)
    assert f"Did not train: {dead.model} {dead.precision}" in text
    assert "Longer runs" not in text


def test_the_committed_check_has_both_recipes_for_every_network_and_precision():
    table = recorded_check()
    first = table.xs(4, level="epochs")
    assert {key for key in first.index} == {
        (m, p, r) for m in ("alexnet", "googlenet") for p in ("binary", "int8", "fp32")
        for r in ("full", "report")}
    assert (first["image size"].xs("alexnet") == 227).all()
    assert first.xs("full", level="recipe")["trained"].all()  # the course's recipe trains
    assert "full size (224, 227 px" in check_summary(table)
    assert recorded_check(Path("no/such/folder")).empty
