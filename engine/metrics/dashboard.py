"""The Grafana dashboard shipped with the package (``grafana-dashboard.json`` beside this
module; ``harmony metrics dashboard`` prints it for Grafana's Import).

It picks its Prometheus data source and machines through two variables (``datasource``,
``instance``), so it imports into any Grafana without editing. Cluster-wide series are served
by every machine alike; its panels take ``max()`` over machines for those, and ``sum()`` or
per-instance series for each machine's own.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["DASHBOARD_FILE", "dashboard_json", "dashboard_queries", "load_dashboard"]

DASHBOARD_FILE = "grafana-dashboard.json"


def dashboard_json() -> str:
    """The dashboard as shipped (JSON text)."""
    return resources.files(__package__).joinpath(DASHBOARD_FILE).read_text(encoding="utf-8")


def load_dashboard() -> dict[str, Any]:
    return json.loads(dashboard_json())


def dashboard_queries(dashboard: dict[str, Any] | None = None) -> list[str]:
    """Every PromQL expression the dashboard runs: its panels' targets and its variables'
    queries."""
    board = dashboard if dashboard is not None else load_dashboard()
    out: list[str] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            out.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(board.get("panels", []))
    for variable in board.get("templating", {}).get("list", []):
        query = variable.get("query")
        if variable.get("type") == "query":
            out.append(query["query"] if isinstance(query, dict) else str(query))
    return out
