"""The import graph of the project, read from the code: one-way imports between the
layers, no import circles, no imports hidden in function bodies, no production module
importing demo data, and no domain package reaching into another's web layer.
import-linter checks the layer contracts (pyproject's [tool.importlinter]); the rest
is read here with ``ast``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("workflow", "signing", "storage")
# Modules of a domain package that serve HTTP (blueprints, API views).
WEB_MODULES = (
    "web",
    "api",
    "actions_api",
    "tasks_web",
    "bulk_web",
    "certificates_web",
    "trust_web",
    "public_web",
    "blueprint",
    "route_editor",
)
# Modules allowed to import the demo data: initialisation and the command line.
DEMO_IMPORTERS = {"workflow.setup.bootstrap", "workflow.setup.cli"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, bool]]:
    """:returns: (imported project module, inside a function?) for each import."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    nested = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(fn)
    }
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = ".".join(base[: len(base) - node.level + 1] + [node.module or ""])
            else:
                prefix = node.module or ""
            prefix = prefix.strip(".")
            names = [
                f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix
                for a in node.names
            ]
        for name in names:
            target = _resolve(name)
            if target and target != module:
                found.append((target, id(node) in nested))
    return found


GRAPH = {m: {t for t, _ in _imports(m) if not m.startswith(t + ".")} for m in MODULES}


def _circles() -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return circles


def test_no_import_circles() -> None:
    assert _circles() == []


def test_no_project_imports_hidden_in_functions() -> None:
    hidden = [(m, t) for m in MODULES for t, inside in _imports(m) if inside]
    assert hidden == []


def test_lower_layers_never_import_workflow() -> None:
    upward = [
        (m, t)
        for m, ts in GRAPH.items()
        for t in ts
        if m.split(".")[0] in ("signing", "storage") and t.split(".")[0] == "workflow"
    ]
    assert upward == []


def test_production_code_never_imports_demo_data() -> None:
    demo = [
        (m, t)
        for m, ts in GRAPH.items()
        for t in ts
        if t == "workflow.setup.demo" and m not in DEMO_IMPORTERS
    ]
    assert demo == []


def _is_web(name: str) -> bool:
    return name in WEB_MODULES or name.endswith(("_web", "_api"))


def test_domain_packages_do_not_reach_into_each_others_web_layer() -> None:
    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    crossing = [
        (m, t)
        for m, ts in GRAPH.items()
        for t in ts
        if t.startswith("workflow.")
        and _is_web(t.split(".")[-1])
        and len(t.split(".")) == 3
        and package(m) != package(t)
        and m != "workflow.app"
    ]
    assert crossing == []


def test_workflow_is_a_set_of_packages() -> None:
    flat = sorted(p.stem for p in (REPO / "workflow").glob("*.py") if p.stem != "__init__")
    assert len(flat) <= 12, flat


def test_import_linter_contracts() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
