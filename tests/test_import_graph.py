"""The import graph: floors run one way, and no package imports itself in a circle.

A circle between two modules means they are one object split over two files, or that one
reaches into the other's private parts; either way neither can be read, tested or changed
alone. Every import statement counts, including those inside functions and under
``TYPE_CHECKING``: hiding an import there dodges Python's circular-import error, not the
circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Packages whose modules must not import each other in a circle.
ACYCLIC = ["engine/harmonytask", "console"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_under(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def imported_names(path: Path, name: str) -> set[str]:
    """What ``path`` imports, as absolute dotted names: ``import M`` gives ``M`` and
    ``from M import x`` gives ``M.x`` (a module when ``x`` is a submodule, else a name in
    ``M``)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def edges(package: str) -> dict[str, set[str]]:
    modules = modules_under(package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imported_names(path, name):
            # The longest prefix that is a module of the package is the one imported. Parent
            # packages are loaded too, but a package's __init__ re-exporting its submodules is
            # the facade, not a circle; a submodule importing its own package's __init__ is.
            parts = imported.split(".")
            for i in range(len(parts), 0, -1):
                prefix = ".".join(parts[:i])
                if prefix in modules:
                    if prefix != name:
                        targets.add(prefix)
                    break
        graph[name] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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


def test_the_checker_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_relative_imports_resolve_to_their_modules(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    source = pkg / "mod.py"
    source.write_text(
        "from . import sibling\nfrom .other import thing\nfrom ..top import x\n"
        "def f():\n    from .late import y\n"
    )
    names = imported_names(source, "root.pkg.mod")
    assert names == {"root.pkg.sibling", "root.pkg.other.thing", "root.top.x", "root.pkg.late.y"}


@pytest.mark.parametrize("package", ACYCLIC)
def test_no_import_circle_inside(package: str) -> None:
    assert circles(edges(package)) == []


def test_engine_never_imports_the_console() -> None:
    offenders = sorted(
        name
        for name, path in modules_under("engine").items()
        if any(
            imported == "console" or imported.startswith("console.")
            for imported in imported_names(path, name)
        )
    )
    assert offenders == []
