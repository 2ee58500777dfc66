"""The shape of backend/: no import cycles, and domains that depend in one direction (README, Architecture).

Imports inside functions count (a late import is still a dependency); imports under `if TYPE_CHECKING:`
do not. Routes, command-line modules and the composition root may import any domain: they compose.
"""

from __future__ import annotations

import ast
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2] / "backend"

# Lowest first: a module may import its own layer and the layers before it, never one after it.
LAYERS = (
    "core",
    "grids",
    "people",
    "media",
    "cases",
    "notify",
    "supervision",
    "visits",
    "screenings",
    "sync",
    "reports",
    "map",
    "demo",
    "ops",
)
# The engine, settings and Piccolo's configuration sit with core, under every domain.
INFRASTRUCTURE = {"backend.db", "backend.settings", "backend.piccolo_app", "backend.piccolo_conf"}
COMPOSITION_ROOT = {"backend.app", "backend.cli", "backend.wiring"}
COMPOSERS = ("routes", "cli")  # module names that compose domains, like the root


def _modules() -> dict[str, Path]:
    modules = {}
    for path in BACKEND.rglob("*.py"):
        parts = path.relative_to(BACKEND.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name != "backend":  # the package itself holds nothing
            modules[name] = path
    return modules


def _type_checking_only(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return inside


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The backend modules `name` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("backend."):
                found.add(target)
    # `from backend.cases import service` names the package and the module: only the module counts.
    return {m for m in found if not any(o.startswith(m + ".") for o in found) or m.count(".") > 1}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _layer(module: str) -> str:
    if module in INFRASTRUCTURE or module.startswith("backend.core"):
        return "core"
    return module.split(".")[1]


def _composes(module: str) -> bool:
    return module in COMPOSITION_ROOT or module.rpartition(".")[2] in COMPOSERS


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_another_in_a_cycle():
    assert _cycles(_graph()) == []


def test_every_module_belongs_to_a_known_layer():
    unknown = sorted(m for m in _graph() if not _composes(m) and _layer(m) not in LAYERS)
    assert unknown == [], f"add these to LAYERS (and to the README's architecture section): {unknown}"


def test_domains_depend_in_one_direction():
    rank = {layer: n for n, layer in enumerate(LAYERS)}
    upward = sorted(
        f"{module} → {target}"
        for module, targets in _graph().items()
        if not _composes(module) and _layer(module) in rank
        for target in targets
        if not _composes(target) and rank.get(_layer(target), -1) > rank[_layer(module)]
    )
    assert upward == [], "imports against the direction core ← grids ← people ← ... ← demo:\n" + "\n".join(
        upward
    )


def test_nothing_below_the_composition_root_imports_it():
    offenders = sorted(
        f"{module} → {target}"
        for module, targets in _graph().items()
        if not _composes(module)
        for target in targets
        if _composes(target)
    )
    assert offenders == []


def test_the_readme_states_the_same_order():
    readme = (BACKEND.parent / "README.md").read_text(encoding="utf-8")
    assert " ← ".join(LAYERS) in readme


def test_no_county_is_named_in_the_code_outside_the_demo():
    """A deployment's county comes from `fengqiao init` (the database) and settings: no string in
    backend/ names 昌宁 or its code, except the demo's loader and history (docstrings may, as examples)."""
    named = []
    for path in sorted(BACKEND.rglob("*.py")):
        if path.parent.name == "demo":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and id(node) not in docstrings:
                text = str(node.value)
                if "昌宁" in text or "530524" in text:
                    named.append(f"{path.relative_to(BACKEND.parent)}:{node.lineno}: {text[:60]}")
    assert named == []
