"""train_precisions: cached records are reused, and a missing saved model can be required."""

import utils  # noqa: F401  (selects tf-keras)
from utils.experiments import train_precisions


def test_required_model_is_trained_again_when_only_the_record_exists(tmp_path, capsys):
    results = tmp_path / "results"
    first = train_precisions("alexnet", "mnist5k", "smoke", ["fp32"], results_dir=results,
                             verbose=0)["fp32"]
    model_path = tmp_path / "models" / f"{first['run_name']}.keras"
    assert model_path.exists()
    model_path.unlink()  # as in a fresh clone: records are committed, models are not

    cached = train_precisions("alexnet", "mnist5k", "smoke", ["fp32"], results_dir=results,
                              verbose=0)["fp32"]
    assert cached["created"] == first["created"] and not model_path.exists()

    again = train_precisions("alexnet", "mnist5k", "smoke", ["fp32"], results_dir=results,
                             require_model=True, verbose=0)["fp32"]
    assert model_path.exists()
    assert again["created"] > first["created"]
    assert "training it again" in capsys.readouterr().out
