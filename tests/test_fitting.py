"""Tests for utils.fitting: the environment table and how the distribution strategy is chosen."""

import sys

import larq as lq
import tensorflow as tf

from utils.fitting import environment_table


def test_environment_table_names_the_stack():
    table = environment_table()
    assert sys.executable in table.loc["python", "value"]
    assert table.loc["tensorflow", "value"] == tf.__version__
    assert table.loc["tf.keras", "value"].startswith("tf_keras")
    assert table.loc["larq", "value"] == lq.__version__
    assert "larq-compute-engine (LCE)" in table.index


class _FakeResolver:
    def __init__(self, tpu):
        self.tpu = tpu


def test_a_tpu_runtime_gets_a_tpu_strategy_and_a_broken_one_falls_back(monkeypatch, capsys):
    """The TPU branch, without a TPU: a resolver that connects gives TPUStrategy, one that
    fails is reported and training goes on with the default strategy."""
    from utils import fitting

    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    calls = []
    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", _FakeResolver)
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", calls.append)
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", calls.append)
    resolver = fitting._tpu_resolver()
    assert isinstance(resolver, _FakeResolver) and resolver.tpu == "grpc://10.0.0.2:8470"
    assert calls == [resolver, resolver]
    made = []
    monkeypatch.setattr(tf.distribute, "TPUStrategy", lambda found: made.append(found) or
                        tf.distribute.get_strategy())
    fitting.choose_strategy()
    assert [found.tpu for found in made] == ["grpc://10.0.0.2:8470"]

    def refuse(resolver):
        raise tf.errors.UnavailableError(None, None, "no TPU at that address")

    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", refuse)
    assert fitting._tpu_resolver() is None
    assert "TPU found but not usable" in capsys.readouterr().err
    strategy, description = fitting.choose_strategy()
    assert strategy is tf.distribute.get_strategy() and len(made) == 1
    monkeypatch.delenv("COLAB_TPU_ADDR")
    assert fitting._tpu_resolver() is None  # no TPU here: nothing is tried
