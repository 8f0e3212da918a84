"""The package's shape: imports point down (no cycle, no private names of another module), and
the base modules load without TensorFlow."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "utils"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every ``utils`` import in ``path``, functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "utils" or node.module.startswith("utils."):
                found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names
                      if alias.name.startswith("utils.")]
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for module, names in _imports(path):
            targets = {module} if module in modules else set()
            targets |= {f"{module}.{item}" for item in names if f"{module}.{item}" in modules}
            graph[name] |= {target for target in targets if target != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_of_utils_has_no_cycle():
    graph = _graph()
    assert "utils.report" in graph and "utils.nets" in graph
    assert graph["utils.report"], "the graph should see the report's imports"
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_another_modules_private_names():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for module, names in _imports(path):
            offenders += [f"{_module_name(path)} imports {module}.{name}"
                          for name in names if name.startswith("_")]
    assert offenders == []


def test_the_base_modules_load_without_tensorflow():
    code = ("import sys, utils.names, utils.config, utils.environment, utils.records, "
            "utils.cats_and_dogs, utils.course, utils.tables, utils.figures, utils.report, "
            "utils.pipeline, utils.notebook_sources, utils.exercises, utils.lessons.ablations, "
            "utils.lessons.arithmetic_and_energy, utils.lessons.related_systems, "
            "utils.lessons.setup_and_data\n"
            "loaded = sorted(m for m in ('tensorflow', 'larq', 'tf_keras') if m in sys.modules)\n"
            "print(','.join(loaded))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True, timeout=120)
    assert result.stdout.strip() == ""


def test_the_pipeline_help_does_not_start_tensorflow():
    code = ("import sys\nfrom utils import pipeline\n"
            "try:\n    pipeline.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_every_public_function_is_listed_in_all():
    missing = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        listed = next((ast.literal_eval(node.value) for node in tree.body
                       if isinstance(node, ast.Assign)
                       and any(getattr(t, "id", None) == "__all__" for t in node.targets)), None)
        if listed is None:
            continue
        public = [node.name for node in tree.body
                  if isinstance(node, ast.FunctionDef | ast.ClassDef)
                  and not node.name.startswith("_")]
        missing += [f"{_module_name(path)}.{name}" for name in public if name not in listed]
    assert missing == []
