"""The package's layers, as its folders show them, hold: imports go one way and never in a circle.

Read from the source with :mod:`ast` (nothing is imported), so an import inside a function
counts as much as one at the top; only imports under ``if TYPE_CHECKING:`` are left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "binstream"

#: What each layer may import from binstream besides itself. The model is every module at
#: the top of the package; the command line may use everything.
ALLOWED = {
    "model": {"model"},
    "transport": {"model"},
    "asyncio": {"model", "transport"},
    "threaded": {"model", "asyncio"},
    "jetstream": {"model", "asyncio"},
    "server": {"model", "asyncio"},
    "export": {"model"},
    "metrics": {"model", "asyncio"},
    "cli": {
        "model",
        "transport",
        "asyncio",
        "threaded",
        "jetstream",
        "server",
        "export",
        "metrics",
    },
}
#: Libraries that do I/O or draw: never imported by the pure model.
IO_LIBRARIES = {"asyncio", "websockets", "picows", "rich", "typer", "nats", "threading"}


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["binstream", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = modules()
#: The C extensions, known by their stubs: leaves of the graph.
EXTENSIONS = {
    ".".join(["binstream", *stub.relative_to(PACKAGE).with_suffix("").parts])
    for stub in PACKAGE.rglob("*.pyi")
}


def layer(module: str) -> str:
    """The layer a module belongs to: its folder, or the model for the top of the package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "model"


def imports(module: str) -> Iterator[str]:
    """Every absolute module name ``module`` imports, outside ``if TYPE_CHECKING:``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for node in ast.walk(branch)
    }
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                child = f"{base}.{alias.name}"
                yield child if child in MODULES else base


def internal_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        targets = graph.setdefault(module, set())
        for name in imports(module):
            if name in EXTENSIONS:
                continue
            while name not in MODULES and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in MODULES and name != module and name != "binstream":
                targets.add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_in_a_circle() -> None:
    assert cycles(internal_graph()) == []


def test_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


#: The entry point, which starts the command line, is the one top-level module that is not
#: the model.
MODEL = sorted(
    m for m, path in MODULES.items() if path.parent == PACKAGE and m != "binstream.__main__"
)


@pytest.mark.parametrize("module", MODEL)
def test_the_model_does_no_io(module: str) -> None:
    """Top-level modules are the pure model: no event loop, socket library or terminal UI."""
    used = {name.split(".")[0] for name in imports(module)} & IO_LIBRARIES
    assert not used, f"{module} imports {sorted(used)}"


def test_layers_import_only_downward() -> None:
    wrong = []
    for module, targets in internal_graph().items():
        if module in ("binstream", "binstream.__main__"):
            continue
        for target in targets:
            if layer(target) != layer(module) and layer(target) not in ALLOWED[layer(module)]:
                wrong.append(f"{module} ({layer(module)}) -> {target} ({layer(target)})")
    assert wrong == []
