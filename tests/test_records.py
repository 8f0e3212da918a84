"""The code fingerprint of a record: what it covers, what it leaves out, and why."""

import ast
import json
import shutil
from pathlib import Path

import pytest

from utils import records
from utils.records import (
    MULTIBASE_DEFINITIONS,
    NETWORK_DEFINITIONS,
    NEUTRAL_MODULES,
    POST_TRAINING_DEFINITIONS,
    RESULT_MODULES,
    code_fingerprint,
    fingerprint_modules,
    top_level_definitions,
)

PACKAGE = Path(records.__file__).resolve().parent


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "utils"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _cut(text: str, name: str) -> tuple[str, str]:
    """``text`` without the top-level function ``name``, and that function's source."""
    node = next(node for node in ast.parse(text).body
                if isinstance(node, ast.FunctionDef) and node.name == name)
    lines = text.splitlines(keepends=True)
    start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    return "".join(lines[:start] + lines[node.end_lineno:]), "".join(lines[start:node.end_lineno])


def test_moving_a_definition_to_another_result_module_keeps_every_fingerprint(tmp_path):
    copy = _copy(tmp_path)
    before = {(m, p): code_fingerprint(m, p, copy) for m, p in
              [("alexnet", "binary"), ("googlenet", "int8_qat"), ("vgg7", "fp32")]}
    nets = copy / "nets.py"
    rest, function = _cut(nets.read_text(), "max_pool")
    nets.write_text(rest)
    top_level_definitions.cache_clear()
    assert code_fingerprint("alexnet", "binary", copy) != before[("alexnet", "binary")]
    models = copy / "models.py"
    models.write_text(models.read_text() + "\n\n" + function)
    top_level_definitions.cache_clear()  # the copy's files changed in this process
    after = {key: code_fingerprint(*key, copy) for key in before}
    assert after == before


def test_a_changed_definition_changes_the_fingerprints_it_shapes_and_no_other(tmp_path):
    copy = _copy(tmp_path)
    alexnet, vgg7 = code_fingerprint("alexnet", "binary", copy), code_fingerprint(
        "vgg7", "binary", copy)
    nets = copy / "nets.py"
    nets.write_text(nets.read_text().replace("REFERENCE_DROPOUT = 0.0", "REFERENCE_DROPOUT = 0.1"))
    top_level_definitions.cache_clear()
    assert code_fingerprint("vgg7", "binary", copy) != vgg7
    assert code_fingerprint("alexnet", "binary", copy) == alexnet
    fitting = copy / "fitting.py"
    fitting.write_text(fitting.read_text().replace("CPU_THREADS = 1", "CPU_THREADS = 2"))
    top_level_definitions.cache_clear()
    assert code_fingerprint("alexnet", "binary", copy) != alexnet


def test_comments_and_docstrings_do_not_count(tmp_path):
    copy = _copy(tmp_path)
    before = code_fingerprint("googlenet", "fp32", copy)
    train = copy / "train.py"
    text = train.read_text()
    train.write_text(text.replace('"""', '"""A new first line of prose.\n', 1)
                     .replace("\ndef ", "\n# a new comment\ndef ", 1))
    top_level_definitions.cache_clear()
    assert code_fingerprint("googlenet", "fp32", copy) == before


def test_the_training_path_and_model_building_are_covered():
    covered = set(fingerprint_modules("alexnet", "fp32"))
    assert {"train", "models", "fitting", "data", "nets", "quantizers"} <= covered
    assert "qat" not in covered and "qat" in fingerprint_modules("alexnet", "int8_qat")
    assert code_fingerprint("alexnet", "int8_qat") != code_fingerprint("alexnet", "int8")
    assert code_fingerprint("qnn", "abc_w3a1") != code_fingerprint("qnn", "binary")
    assert code_fingerprint("lenet5", "binary") == code_fingerprint("vgg7", "binary")
    assert code_fingerprint("mlp", "fp32") == code_fingerprint("small_cnn", "fp32")
    with pytest.raises(ValueError, match="unknown model 'resnet'; accepted: alexnet"):
        fingerprint_modules("resnet", "fp32")


def test_every_name_in_the_ownership_tables_is_defined():
    defined = {name for module in RESULT_MODULES for joined, _ in top_level_definitions(module)
               for name in joined.split(",")}
    listed = {name for names in NETWORK_DEFINITIONS.values() for name in names}
    listed |= set(MULTIBASE_DEFINITIONS) | set(POST_TRAINING_DEFINITIONS)
    assert sorted(listed - defined) == []


def test_no_training_definition_uses_a_post_training_one():
    """What the fingerprint leaves out as post-training is called by nothing it covers."""
    users = []
    for module in RESULT_MODULES:
        for name, source in top_level_definitions(module):
            if name in POST_TRAINING_DEFINITIONS:
                continue
            names = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)]
            local = {node.id for node in names if isinstance(node.ctx, ast.Store)}
            used = {node.id for node in names} - local
            users += [f"{module}.{name} uses {hit}"
                      for hit in sorted(used & set(POST_TRAINING_DEFINITIONS))]
    assert users == []


def _utils_imports(module: str, package: Path) -> set[str]:
    """Modules of ``utils`` that ``module`` imports anywhere (functions included)."""
    path = package.joinpath(*module.split(".")).with_suffix(".py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("utils."):
                found.add(node.module.removeprefix("utils."))
            elif node.module == "utils":
                found |= {alias.name for alias in node.names
                          if package.joinpath(alias.name).with_suffix(".py").exists()}
    return found


def unlisted_on_the_training_path(package: Path) -> list[str]:
    """Modules reached from ``utils.train`` that are neither fingerprinted nor neutral."""
    seen, todo = set(), ["train"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += sorted(_utils_imports(module, package))
    return sorted(seen - set(RESULT_MODULES) - set(NEUTRAL_MODULES))


def test_every_module_on_the_training_path_is_fingerprinted_or_listed_neutral(tmp_path):
    assert unlisted_on_the_training_path(PACKAGE) == []
    assert all(len(reason) > 30 for reason in NEUTRAL_MODULES.values())
    copy = _copy(tmp_path)
    (copy / "augment_more.py").write_text("FLIP = True\n")
    data = copy / "data.py"
    data.write_text(data.read_text() + "\n\ndef _more():\n    from utils.augment_more import FLIP"
                    "\n    return FLIP\n")
    assert unlisted_on_the_training_path(copy) == ["augment_more"]


def _record(model: str, precision: str, seed: int, fingerprint: str, **extra) -> dict:
    from utils.config import make_config

    config = make_config(model, precision, seed=seed)
    return {"run_name": config.run_name, "config": config.to_dict(),
            "config_hash": config.config_hash(), "history": {"accuracy": [0.5]},
            "test_accuracy": 0.5, "code_fingerprint": fingerprint,
            "environment": {"cpu": "Some CPU"}, **extra}


def _write(folder: Path, record: dict) -> Path:
    import json

    path = folder / f"{record['run_name']}.json"
    path.write_text(json.dumps(record))
    return path


def test_restamping_needs_every_seed_0_main_run_reproduced_by_the_current_code(tmp_path):
    import json

    from utils.records import restamp_records

    reproduced = {"verdict": "identical"}
    old = _write(tmp_path, _record("alexnet", "binary", 1, "0123456789"))
    # an ablation variant of seed 0 is no witness, stale or not
    variant = _record("alexnet", "binary", 0, "variant000")
    variant["config"]["pad_value"] = 0.0
    variant["config_hash"], variant["run_name"] = "f" * 10, "alexnet_binary_variant"
    _write(tmp_path, variant)
    for model, precision in [("alexnet", "fp32"), ("alexnet", "binary")]:
        _write(tmp_path, _record(model, precision, 0, code_fingerprint(model, precision),
                                 reproduction=reproduced))
    unreproduced = _write(tmp_path, _record("googlenet", "fp32", 0,
                                            code_fingerprint("googlenet", "fp32")))
    with pytest.raises(ValueError, match="googlenet fp32: no identical reproduction"):
        restamp_records(tmp_path, "moved code", models=("alexnet", "googlenet"),
                        precisions=("fp32", "binary"))
    assert json.loads(old.read_text())["code_fingerprint"] == "0123456789"  # untouched
    record = json.loads(unreproduced.read_text())
    _write(tmp_path, {**record, "reproduction": reproduced})
    _write(tmp_path, _record("googlenet", "binary", 0, "stale00000", reproduction=reproduced))
    with pytest.raises(ValueError, match="googlenet binary: not retrained by the current code"):
        restamp_records(tmp_path, "moved code", models=("alexnet", "googlenet"),
                        precisions=("fp32", "binary"))
    written = restamp_records(tmp_path, "moved code", models=("alexnet", "googlenet"),
                              precisions=("fp32",))
    assert sorted(path.name for path in written) == sorted(
        [old.name, "alexnet_binary_variant.json",
         f"{_record('googlenet', 'binary', 0, '')['run_name']}.json"])
    stamped = json.loads(old.read_text())
    assert stamped["code_fingerprint"] == code_fingerprint("alexnet", "binary")
    (entry,) = stamped["restamped"]
    assert entry["from"] == "0123456789" and entry["change"] == "moved code"
    assert len(entry["witnesses"]) == 2 and entry["witnesses_cpu"] == ["Some CPU"]


def test_run_ledger_lists_each_run_once_and_what_was_trained(tmp_path, monkeypatch):
    from utils.records import RUN_LEDGER_VARIABLE, note_runs_used, read_run_ledger

    ledger = tmp_path / "03.runs.jsonl"
    monkeypatch.delenv(RUN_LEDGER_VARIABLE, raising=False)
    note_runs_used(["a"], ["a"])  # no ledger named: nothing is written anywhere
    assert not ledger.exists()
    monkeypatch.setenv(RUN_LEDGER_VARIABLE, str(ledger))
    note_runs_used(["b", "a"], ["b"])
    note_runs_used(["a", "c"], [], models=["c"])  # a second call, asking for c's model
    assert read_run_ledger(ledger) == {"used": ["a", "b", "c"], "trained": ["b"],
                                       "models": ["c"]}
    assert read_run_ledger(tmp_path / "missing.jsonl") == {"used": [], "trained": [],
                                                           "models": []}


def test_a_record_points_to_its_model_beside_its_results_folder(tmp_path):
    """A record made elsewhere names a model path of that machine; the model trained here
    under the same name, in the models/ folder beside the results, is the one read."""
    from utils.records import load_record

    results, models = tmp_path / "results", tmp_path / "models"
    results.mkdir(), models.mkdir()
    record = {**_record("alexnet", "fp32", 0, "abc1234567"),
              "model_path": "/elsewhere/models/alexnet_fp32_run.h5"}
    path = results / "alexnet_fp32_run.json"
    path.write_text(json.dumps(record))
    assert load_record(path)["model_path"] == "/elsewhere/models/alexnet_fp32_run.h5"  # none here
    (models / "alexnet_fp32_run.h5").write_bytes(b"weights")
    assert load_record(path)["model_path"] == str(models / "alexnet_fp32_run.h5")
    assert json.loads(path.read_text())["model_path"].startswith("/elsewhere")  # file untouched
