"""Tests for utils.course: the runtime plans, and prepare_runtime on a faked Colab (no pip runs)."""

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from utils import course
from utils.course import read_pins, runtime_plan
from utils.environment import LCE_MISSING

PINS = {
    "tensorflow": "2.16.2",
    "tf-keras": "2.16.0",
    "numpy": "1.26.4",
    "larq": "0.14.0",
    "larq-compute-engine": "0.16.0",
    "mlxtend": "0.23.4",
    "pandas": "3.0.6",
    "ipykernel": "7.4.0",
    "papermill": "2.7.0",
}
# What a Colab runtime ships (its own ipykernel; no larq, no LCE).
COLAB = {
    "tensorflow": "2.20.0",
    "numpy": "2.1.3",
    "pandas": "2.2.2",
    "mlxtend": "0.23.4",
    "ipykernel": "6.17.1",
    "packaging": "24.2",
}
PINNED_INSTALL = (
    "install",
    "tensorflow==2.16.2",
    "tf-keras==2.16.0",
    "numpy==1.26.4",
    "larq==0.14.0",
    "larq-compute-engine==0.16.0",
    "pandas==3.0.6",
)
COMPAT_COMMANDS = (
    ("install", "tf-keras==2.20.*", "terminaltables"),
    ("install", "--no-deps", "larq==0.14.0"),
)


@pytest.mark.parametrize("python", [(3, 11), (3, 12)])
def test_old_colab_runtime_gets_pinned_stack_and_a_restart(python):
    plan = runtime_plan(python, COLAB, pins=PINS)
    assert plan.kind == "pinned"
    assert plan.commands == (PINNED_INSTALL,)
    assert plan.restart_needed  # numpy and TensorFlow were preinstalled (and loaded)
    assert plan.lce_available
    assert "tf-keras==2.16.0" in plan.pip_lines[0]


@pytest.mark.parametrize("python", [(3, 11), (3, 12, 4, "final", 0)])
def test_pinned_stack_already_installed_needs_nothing(python):
    installed = {**COLAB, **PINS, "ipykernel": "6.17.1"}  # Colab's kernel is left alone
    plan = runtime_plan(python, installed, pins=PINS)
    assert (plan.kind, plan.commands, plan.changes) == ("pinned", (), ())
    assert not plan.restart_needed
    assert "installed already" in plan.message


def test_python_313_keeps_tf220_adds_tf_keras_and_larq_without_deps():
    plan = runtime_plan((3, 13), COLAB, pins=PINS)
    assert plan.kind == "tf220-compat"
    assert plan.commands == COMPAT_COMMANDS
    assert plan.pip_lines[0] == "pip install 'tf-keras==2.20.*' terminaltables"
    assert not plan.lce_available
    assert not plan.restart_needed  # nothing preinstalled is replaced
    assert not any("larq-compute-engine" in arg for cmd in plan.commands for arg in cmd)


def test_python_313_second_call_needs_nothing():
    installed = {**COLAB, "tf-keras": "2.20.1", "larq": "0.14.0", "terminaltables": "3.1.10"}
    plan = runtime_plan((3, 13), installed, pins=PINS)
    assert (plan.commands, plan.restart_needed) == ((), False)


def test_python_313_installs_missing_light_packages_at_their_pins():
    installed = {key: value for key, value in COLAB.items() if key not in {"mlxtend", "packaging"}}
    plan = runtime_plan((3, 13), installed, pins=PINS)
    assert plan.commands[0] == (
        "install",
        "tf-keras==2.20.*",
        "mlxtend==0.23.4",
        "terminaltables",
        "packaging",
    )
    assert not plan.restart_needed


def test_python_313_replacing_a_mismatched_tf_keras_restarts():
    plan = runtime_plan((3, 13), {**COLAB, "TF_Keras": "2.19.0"}, pins=PINS)
    assert ("tf-keras", "2.19.0", "2.20.*") in plan.changes
    assert plan.restart_needed


def test_python_313_without_tensorflow_installs_tf220():
    plan = runtime_plan((3, 14), {}, pins={})
    assert plan.commands[0][:3] == ("install", "tensorflow==2.20.*", "tf-keras==2.20.*")


def test_python_310_is_unsupported_with_a_clear_message():
    plan = runtime_plan((3, 10), COLAB, pins=PINS)
    assert (plan.kind, plan.commands, plan.restart_needed) == ("unsupported", (), False)
    assert "Python 3.10 is not supported" in plan.message
    assert "3.11 or 3.12" in plan.message


def test_read_pins_reads_the_repository_requirements_and_rejects_ranges(tmp_path):
    pins = read_pins(Path(course.REPO_ROOT, "requirements.txt"))
    assert pins["larq"] == "0.14.0" and "tf-keras" in pins
    bad = tmp_path / "requirements.txt"
    bad.write_text("# comment\nnumpy==1.26.4\nlarq>=0.13\n")
    with pytest.raises(ValueError, match=r"requirements.txt:3: 'larq>=0.13' is not an exact pin"):
        read_pins(bad)


def test_default_pins_come_from_requirements_txt():
    plan = runtime_plan((3, 11), {}, pins=None)
    assert "larq-compute-engine==0.16.0" in plan.commands[0]
    assert not any(arg.startswith(("ipykernel", "jupyter")) for arg in plan.commands[0])


def test_read_pins_parses_with_packaging(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("TF_Keras == 2.16.0  # comment\n\nlarq==0.14.0\n")
    assert read_pins(path) == {"tf-keras": "2.16.0", "larq": "0.14.0"}
    for bad in ("numpy==1.26.4 ; python_version < '3.13'", "larq", "larq==0.14,<1",
                "not a requirement!"):
        path.write_text(bad + "\n")
        with pytest.raises(ValueError, match="is not an exact pin"):
            read_pins(path)


def test_version_series_and_local_labels():
    assert course._satisfies("2.20.0+cu121", "2.20.*") and course._satisfies("2.20", "2.20.*")
    assert not course._satisfies("2.2.0", "2.20.*") and not course._satisfies(None, "1.0")
    assert course._satisfies("1.26.4", "1.26.4") and not course._satisfies("1.26.5", "1.26.4")
    assert course._minor_series("2.20.0") == "2.20.*"


def test_module_imports_neither_tensorflow_nor_numpy():
    code = "import sys, utils.course; print(sorted({'tensorflow', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- prepare_runtime: subprocess and the restart are faked, nothing is installed ------------


@pytest.fixture
def fake_pip(monkeypatch):
    """Records pip calls and restarts instead of running them."""
    calls = types.SimpleNamespace(pip=[], restarts=0, returncode=0)

    def run(args, **kwargs):
        calls.pip.append(list(args))
        return subprocess.CompletedProcess(args, calls.returncode, "", "ERROR: no wheel\n")

    def restart():
        calls.restarts += 1

    monkeypatch.setattr(course.subprocess, "run", run)
    monkeypatch.setattr(course, "_restart_kernel", restart)
    return calls


@pytest.fixture
def fake_colab(monkeypatch, tmp_path):
    """A Colab-like process: ``google.colab`` loaded, a given Python and installed packages."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("".join(f"{name}=={version}\n" for name, version in PINS.items()))

    def configure(python, installed):
        monkeypatch.setattr(course, "_python_version", lambda: python)
        monkeypatch.setattr(
            course, "installed_versions",
            lambda names: {name: installed.get(name) for name in names},
        )
        return requirements

    return configure


def test_prepare_runtime_is_a_no_op_outside_colab(monkeypatch, fake_pip, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert course.prepare_runtime() is None
    assert (fake_pip.pip, fake_pip.restarts) == ([], 0)
    assert capsys.readouterr().out == ""


def test_prepare_runtime_pinned_installs_then_restarts(fake_colab, fake_pip, capsys):
    requirements = fake_colab((3, 12), COLAB)
    plan = course.prepare_runtime(requirements=requirements)
    assert fake_pip.pip == [[sys.executable, "-m", "pip", *PINNED_INSTALL]]
    assert fake_pip.restarts == 1 and plan.restart_needed
    assert "Restarting the runtime" in capsys.readouterr().out


def test_prepare_runtime_compat_installs_without_restart(fake_colab, fake_pip, capsys):
    requirements = fake_colab((3, 13), COLAB)
    course.prepare_runtime(requirements=requirements)
    assert fake_pip.pip == [[sys.executable, "-m", "pip", *args] for args in COMPAT_COMMANDS]
    assert fake_pip.restarts == 0
    assert LCE_MISSING in capsys.readouterr().out


def test_prepare_runtime_after_the_restart_installs_nothing(fake_colab, fake_pip, capsys):
    requirements = fake_colab((3, 11), {**COLAB, **PINS})
    plan = course.prepare_runtime(requirements=requirements)
    assert (fake_pip.pip, fake_pip.restarts, plan.commands) == ([], 0, ())
    assert "installed already" in capsys.readouterr().out


def test_prepare_runtime_dry_run_only_prints(fake_colab, fake_pip, capsys):
    requirements = fake_colab((3, 12), COLAB)
    plan = course.prepare_runtime(requirements=requirements, dry_run=True)
    assert (fake_pip.pip, fake_pip.restarts) == ([], 0)
    assert plan.restart_needed
    assert f"would run: {plan.pip_lines[0]}" in capsys.readouterr().out


def test_prepare_runtime_reports_pip_failure_and_unsupported_python(fake_colab, fake_pip):
    requirements = fake_colab((3, 13), COLAB)
    fake_pip.returncode = 1
    with pytest.raises(RuntimeError, match=r"(?s)pip install 'tf-keras==2\.20\.\*'.*no wheel"):
        course.prepare_runtime(requirements=requirements)
    assert fake_pip.restarts == 0
    requirements = fake_colab((3, 10), COLAB)
    with pytest.raises(RuntimeError, match="Python 3.10 is not supported"):
        course.prepare_runtime(requirements=requirements)


def test_drive_becomes_the_course_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("COURSE_DIR", raising=False)
    mounted = []
    folder = course.use_drive(mount=mounted.append, mount_point=tmp_path / "drive")
    assert mounted == [str(tmp_path / "drive")]
    assert folder == tmp_path / "drive" / "MyDrive" / "rpnn-course" and folder.is_dir()
    assert os.environ["COURSE_DIR"] == str(folder)
    assert "Course folder on Google Drive" in capsys.readouterr().out
    from utils.course import course_folders  # every notebook now reads and writes there

    assert course_folders("quick", "mnist5k").results == folder / "runs" / "quick_mnist5k" / (
        "results")
    assert course.use_drive(mount=lambda path: 1 / 0) == folder  # already set: nothing to do


def test_without_drive_the_loss_is_said_once(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_DIR", raising=False)
    monkeypatch.delenv("COURSE_DRIVE_DECLINED", raising=False)

    def refuse(path):
        raise RuntimeError("mount failed")

    assert course.use_drive(mount=refuse) is None
    assert course.use_drive(mount=refuse) is None
    output = capsys.readouterr().out
    assert output.count("Google Drive is not mounted (mount failed)") == 1
    assert "loses the training records, saved models, resume checkpoints" in output
    assert "COURSE_DIR" not in os.environ
    assert course.use_drive() is None  # not on Colab: nothing happens
