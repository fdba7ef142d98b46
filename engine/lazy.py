"""Lazy package exports (PEP 562 plus a module subclass).

A package lists its public names once, by submodule; a submodule is imported the first time one
of its names is used. Importing ``engine.chain.epochs`` for a countdown then no longer drags in
the miner actor and the proof system behind it, so the console paints its first frame without
paying for modules only the workload needs.

Some packages export a function named like the submodule defining it (``engine.storage``'s
``redeclare``). Importing such a submodule makes Python set the package attribute to the module
object; the package class below keeps the exported function there instead, as an eager
``from .redeclare import redeclare`` in ``__init__`` would have.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class LazyPackage(types.ModuleType):
    """A package whose exports are resolved from their submodules on first use."""

    _lazy_where: dict[str, tuple[str, str]]

    def __getattr__(self, name: str) -> Any:
        found = self.__dict__.get("_lazy_where", {}).get(name)
        if found is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        module, original = found
        loaded = importlib.import_module(f"{self.__name__}.{module}")
        if module == name and loaded is self.__dict__.get(name):
            value: Any = loaded  # the export is the submodule itself
        else:
            value = getattr(loaded, original)
        self.__dict__[name] = value  # later lookups are plain attribute reads
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        where = self.__dict__.get("_lazy_where", {})
        if (
            isinstance(value, types.ModuleType)
            and where.get(name) == (name, name)
            and value.__name__ == f"{self.__name__}.{name}"
            and hasattr(value, name)
        ):
            value = getattr(value, name)  # the exported function, not its module
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, *self.__dict__.get("_lazy_where", {})})


def lazy_exports(package: str, exports: dict[str, list[str]]) -> list[str]:
    """Make ``package`` resolve ``exports`` lazily; returns ``__all__``.

    ``exports`` maps a submodule (relative name) to the names it provides; ``"alias=name"``
    exports the submodule's ``name`` as ``alias``, and a submodule listing its own name as
    ``"mod": ["mod"]`` exports the submodule itself (unless it defines ``mod``).
    """
    module = sys.modules[package]
    where: dict[str, tuple[str, str]] = {}
    for submodule, names in exports.items():
        for entry in names:
            alias, _, original = entry.partition("=")
            where[alias] = (submodule, original or alias)
    module.__class__ = LazyPackage
    module.__dict__["_lazy_where"] = where
    return sorted(where)
