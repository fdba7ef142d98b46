"""harmonytask's imports run one way: the composition root (engine.py) imports the parts, and no
part imports it (not even for type checking or inside a function). That nothing in the package
imports in a circle is held by tests/test_import_graph.py."""

from __future__ import annotations

import ast
from pathlib import Path

import engine.harmonytask

PACKAGE = Path(engine.harmonytask.__file__).parent
MODULES = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
#: Programs that run an engine (``python -m``), not parts of one.
CLIENTS = {"bench_worker", "chaos_worker"}


def imports_of(path: Path) -> set[str]:
    """Sibling modules ``path`` imports anywhere in its body (functions, TYPE_CHECKING too)."""
    found: set[str] = set()
    prefix = "engine.harmonytask"
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1:
                names = [module] if module else [a.name for a in node.names]
            elif module == prefix:
                names = [a.name for a in node.names]
            elif module.startswith(prefix + "."):
                names = [module[len(prefix) + 1 :]]
        elif isinstance(node, ast.Import):
            names = [a.name[len(prefix) + 1 :] for a in node.names if a.name.startswith(prefix)]
        found.update(n.split(".")[0] for n in names)
    return found & MODULES


GRAPH = {name: imports_of(PACKAGE / f"{name}.py") for name in MODULES}


def test_no_part_imports_the_composition_root() -> None:
    importers = {name for name, deps in GRAPH.items() if "engine" in deps}
    assert importers <= CLIENTS, importers
