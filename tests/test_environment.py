"""Tests for utils.environment: whether LCE can be used, and the quiet start on a CPU
machine."""

import os

from utils import environment
from utils.environment import LCE_MISSING


def test_lce_available_needs_the_package_and_numpy_below_2(monkeypatch):
    monkeypatch.setattr(environment, "find_spec", lambda name: object())
    monkeypatch.setattr(environment, "package_version", lambda name: "2.1.3")
    assert not environment.lce_available()
    monkeypatch.setattr(environment, "package_version", lambda name: "1.26.4")
    assert environment.lce_available()
    monkeypatch.setattr(environment, "find_spec", lambda name: None)
    assert not environment.lce_available()
    assert "LCE" in LCE_MISSING


def test_quiet_start_hides_cuda_probing_on_a_cpu_machine(monkeypatch):
    import logging

    from utils import environment

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.setattr(environment, "_has_nvidia_device", lambda: False)
    environment.quiet_start()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert logging.getLogger("tensorflow").level == logging.ERROR
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    monkeypatch.setattr(environment, "_has_nvidia_device", lambda: True)
    environment.quiet_start()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"  # GPU errors stay visible
