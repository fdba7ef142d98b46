"""The panes of the main screen, in key order (``1``, ``2``, ...).

Titles are short: every tab fits on one line at 80 columns. A pane's module is imported when
the pane is first made (:data:`PANE_KINDS`): the first pane's before the first frame, the
others' after it, as the console mounts them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Pane

__all__ = ["PANE_KINDS", "PANE_TITLES"]

#: pane id -> tab title; the order is the keys' order
PANE_TITLES: dict[str, str] = {
    "machines": "Machines",
    "tasks": "Tasks",
    "pipeline": "Sealing",
    "storage": "Storage",
    "post": "PoSt",
    "jobs": "Jobs",
    "miners": "Miners",
    "events": "Events",
    "alerts": "Alerts",
}


class _PaneKinds(Mapping[str, "type[Pane]"]):
    """The pane classes by id, in key order, each module imported when its class is first
    asked for: pane ``events`` is ``EventsPane`` in ``console/panes/events.py``. The eight
    panes not on screen at the start, with the engine's modules they read (the alert checks,
    the PoSt and sealing models), were about a fifth of the imports before the first frame."""

    def __getitem__(self, name: str) -> type[Pane]:
        if name not in PANE_TITLES:
            raise KeyError(name)
        module = importlib.import_module(f"{__name__}.{name}")
        kind: type[Pane] = getattr(module, f"{name.capitalize()}Pane")
        return kind

    def __contains__(self, name: object) -> bool:  # without importing anything
        return name in PANE_TITLES

    def __iter__(self) -> Iterator[str]:
        return iter(PANE_TITLES)

    def __len__(self) -> int:
        return len(PANE_TITLES)


#: pane id -> its class (imported on first use), in key order
PANE_KINDS: Mapping[str, type[Pane]] = _PaneKinds()
