"""Tests for utils.lessons.related_systems (notebook 09): the related systems' experiments,
their table and the report section."""

import math

import pytest

from utils.lessons import ablations
from utils.lessons import related_systems as related
from utils.records import record_path, write_json_atomic
from utils.report import related_section


def test_abc_runs_share_the_bit_sweep_s_binary_and_int8_runs():
    configs = related.abc_configs("quick", "mnist5k")
    seeds = ablations.ablation_settings("quick").sweep_seeds
    assert len(configs) == (len(related.ABC_BASELINES) + len(related.ABC_BASES)) * len(seeds)
    assert {c.model for c in configs} == {"alexnet"}
    assert {c.precision for c in configs} >= {"abc_w1a1", "abc_w5a3", "ternary", "binary"}
    sweep = {run.config.config_hash() for run in ablations.plan("quick", "mnist5k",
                                                                keys=["bits"])}
    shared = [c for c in configs if c.config_hash() in sweep]
    assert sorted({c.precision for c in shared}) == ["binary", "int8"]
    assert len(shared) == 2 * len(seeds)


def test_reference_and_qnn_runs_cover_their_grids():
    reference = related.reference_configs("quick")
    assert {(c.model, c.precision) for c in reference} == {
        (m, p) for m in related.REFERENCE_NETS for p in related.REFERENCE_PRECISIONS}
    assert len(reference) == 4 * 3  # three seeds in the quick profile
    qnn = related.qnn_configs("quick")
    assert sorted({c.precision for c in qnn}) == ["binary", "int2", "int4", "int8"]
    assert sorted({c.width for c in qnn}) == [1.0, 2.0]
    assert len({c.config_hash() for c in qnn}) == len(qnn) == 4 * 2 * 3
    dry = related.system_configs("qnn", "quick", limit=64, epochs=1)
    assert {(c.limit, c.epochs) for c in dry} == {(64, 1)}
    with pytest.raises(ValueError, match="accepted: abc, reference, qnn"):
        related.system_configs("lenet")


def _record(config, accuracy, memory_mib=0.5):
    return {"run_name": config.run_name, "config": config.to_dict(),
            "config_hash": config.config_hash(), "test_accuracy": accuracy, "history": {},
            "summary": {"memory_mib": memory_mib}}


def test_system_table_gives_seed_statistics_missing_rows_and_rwth_numbers():
    configs = related.reference_configs("quick")
    lenet_fp32 = [c for c in configs if (c.model, c.precision) == ("lenet5", "fp32")]
    records = [_record(c, a, 1.5) for c, a in zip(lenet_fp32, (0.97, 0.98, 0.99),
                                                   strict=True)]
    table = related.system_table(records, configs)
    row = table.loc[("lenet5", "fp32", 1.0)]
    assert (row["seeds"], row["mean"], row["std"], row["memory_kib"]) == pytest.approx(
        (3, 98.0, 1.0, 1536.0))
    assert (row["RWTH accuracy"], row["RWTH dataset"]) == (99.50, "MNIST")
    missing = table.loc[("vgg7", "binary", 0.25)]
    assert missing["seeds"] == 0 and math.isnan(missing["mean"])
    assert missing["RWTH accuracy"] == 89.85
    assert len(table) == 4


def test_report_section_shows_each_measured_system_and_what_is_missing(tmp_path):
    assert related_section(tmp_path, tmp_path, tmp_path / "report", "quick") == []
    configs = related.abc_configs("quick")
    means = {"binary": 0.90, "int8": 0.95, "abc_w3a1": 0.93}
    for config in configs:
        if config.precision in means:
            accuracy = means[config.precision] + 0.002 * config.seed
            write_json_atomic(record_path(tmp_path, config), _record(config, accuracy))
    text = "\n".join(related_section(tmp_path, tmp_path, tmp_path / "report", "quick"))
    assert text.startswith("## The related systems (notebook 09)")
    assert "### Multi-base binarization (ABC-Net), AlexNet" in text
    assert "RWTH" not in text  # only measured systems appear
    assert "Not trained yet: alexnet ternary 0.25, alexnet abc_w1a1 0.25" in text
    assert ("The most accurate multi-base network, abc_w3a1, reached 93.2 ± 0.2% (+3.0 points, "
            "beyond the seed spread) against plain binary") in text
    assert "the report's 8-bit network reached 95.2 ± 0.2% (+5.0 points" in text
