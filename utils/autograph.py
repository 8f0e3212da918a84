"""Keep AutoGraph away from tf_keras' own code (a start-up cost, not a behaviour change).

TensorFlow 2.16's AutoGraph skips modules named "tensorflow" and "keras" but not "tf_keras",
so in Keras 2 mode every process spent about 30 s of its first ``fit()`` rewriting tf_keras'
training loop. No public API adds a module to the skip list, hence the private config.
"""

from tensorflow.python.autograph.core import config as _autograph_config

__all__ = ["skip_tf_keras_conversion"]


def skip_tf_keras_conversion() -> None:
    """Add a DoNotConvert rule for tf_keras (idempotent)."""
    rules = _autograph_config.CONVERSION_RULES
    if not any(str(rule) == "DoNotConvert rule for tf_keras" for rule in rules):
        _autograph_config.CONVERSION_RULES = (_autograph_config.DoNotConvert("tf_keras"), *rules)
