"""The five panes of the main screen, in key order (``1``-``5``)."""

from __future__ import annotations

__all__ = ["PANE_TITLES"]

#: pane id -> tab title; the order is the keys' order
PANE_TITLES: dict[str, str] = {
    "machines": "Machines",
    "tasks": "Task queues",
    "pipeline": "Sealing",
    "storage": "Storage",
    "post": "PoSt deadlines",
}
