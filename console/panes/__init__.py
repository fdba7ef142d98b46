"""The panes of the main screen, in key order (``1``, ``2``, ...).

Titles are short: every tab fits on one line at 80 columns."""

from __future__ import annotations

__all__ = ["PANE_TITLES"]

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
