"""The model options are written once, as TrainConfig fields: build_model's keywords and
defaults, the command line's flags and their help all come from them."""

import dataclasses
import inspect

import pytest

from utils.config import MODEL_OPTIONS, TrainConfig, field_help, model_option_defaults
from utils.models import build_model
from utils.train import _parser


def _flags() -> set[str]:
    return {option for action in _parser()._actions for option in action.option_strings}


def test_every_field_has_a_flag_and_help_and_every_model_option_is_a_field():
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    assert set(MODEL_OPTIONS) <= fields
    missing = [name for name in fields if "--" + name.replace("_", "-") not in _flags()]
    assert missing == []
    helps = field_help()
    assert sorted(fields - set(helps)) == []
    assert all(len(text) > 10 and ":func:" not in text for text in helps.values())


def test_the_help_reads_a_docstring_as_python_3_13_compiles_it(monkeypatch):
    """Python 3.13 (Colab's runtime) strips a docstring's common indentation when it
    compiles it; 3.11 keeps it. The help must read the same either way."""
    indented = field_help()
    monkeypatch.setattr(TrainConfig, "__doc__", inspect.cleandoc(TrainConfig.__doc__))
    assert field_help() == indented


def test_build_model_takes_every_model_option_with_the_config_default():
    defaults = model_option_defaults()
    assert set(defaults) == set(MODEL_OPTIONS)
    assert defaults["bn_after_pool"] is True and defaults["pad_value"] == 1.0
    for name in MODEL_OPTIONS:  # each option accepted alone, at its default
        option = {name: defaults[name]} if name not in ("block_layers", "block_filters") else {}
        build_model("mlp", "binary", (28, 28, 3), 10, width=0.125, **option)
    qnn = build_model("qnn", "int4", (28, 28, 3), 10, width=0.125, block_layers=(1, 1, 1),
                      block_filters=(8, 8, 8))
    assert qnn.count_params() > 0
    with pytest.raises(ValueError, match="unknown model option.*batchnorm.*accepted: batch_norm"):
        build_model("mlp", "binary", (28, 28, 3), 10, batchnorm=True)


def test_a_flag_sets_its_field():
    args = _parser().parse_args(["--model", "alexnet", "--precision", "binary",
                                 "--no-bn-after-pool", "--pad-value", "0", "--block-layers",
                                 "1", "2", "3", "--activation-range", "learned"])
    assert (args.bn_after_pool, args.pad_value, args.block_layers) == (False, 0.0, [1, 2, 3])
    assert args.activation_range == "learned" and args.batch_norm is None
    with pytest.raises(SystemExit):
        _parser().parse_args(["--activation", "tanh"])


def test_build_model_uses_every_option_it_accepts():
    import inspect

    source = inspect.getsource(build_model)
    unused = [name for name in MODEL_OPTIONS if f'option["{name}"]' not in source]
    assert unused == []
