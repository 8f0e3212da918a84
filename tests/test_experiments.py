"""train_precisions: seeds, cached records are reused, and a missing saved model is retrained
and compared with its record."""

import pytest

import utils  # noqa: F401  (selects tf-keras)
from utils.train import train_precisions


@pytest.mark.slow
def test_required_model_is_trained_again_and_compared_with_its_record(tmp_path, capsys):
    results = tmp_path / "results"
    (first,) = train_precisions("alexnet", "mnist5k", "smoke", ["fp32"], results_dir=results,
                                verbose=0)
    assert first["config"]["seed"] == 0
    model_path = tmp_path / "models" / f"{first['run_name']}.keras"
    assert model_path.exists()
    model_path.unlink()  # as in a fresh clone: records are committed, models are not

    (cached,) = train_precisions("alexnet", "mnist5k", "smoke", ["fp32"], results_dir=results,
                                 verbose=0)
    assert cached["created"] == first["created"] and not model_path.exists()

    (again,) = train_precisions("alexnet", "mnist5k", "smoke", ["fp32"], results_dir=results,
                                require_model=True, verbose=0)
    assert model_path.exists()
    assert again["created"] >= first["created"]
    output = capsys.readouterr().out
    # Deterministic training: the same config and seed give the same record here.
    assert again["reproduction"]["identical"], again["reproduction"]["summary"]
    assert "reproduced the recorded run exactly" in output
    assert again["history"] == first["history"]


@pytest.mark.slow
def test_several_seeds_give_one_record_each(tmp_path):
    records = train_precisions("alexnet", "mnist5k", "smoke", ["fp32"], seeds=(0, 1),
                               results_dir=tmp_path / "results", verbose=0, epochs=1, limit=32)
    assert [record["config"]["seed"] for record in records] == [0, 1]
    assert len({record["config_hash"] for record in records}) == 2
