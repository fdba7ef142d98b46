"""What every pane shares: a header line of totals, an optional filter, snapshot rendering.

A pane never queries: the app hands it the latest :class:`ClusterSnapshot` (when it becomes
visible and after each refresh while it is), and, once a second, the clock's ``now``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static

from engine.snapshot import ClusterSnapshot

from ..widgets.cells import Styles, styles_for
from ..widgets.keyed_table import KeyedTable

if TYPE_CHECKING:
    from ..app import HarmonyConsole

__all__ = ["Pane", "PaneHeader"]


class PaneHeader(Static):
    """The totals line at the top of a pane."""

    DEFAULT_CSS = """
    PaneHeader {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    """


class Pane(Vertical):
    """Base of the five panes."""

    DEFAULT_CSS = """
    Pane {
        height: 1fr;
    }
    """

    #: what the pane says before the first snapshot arrived
    WAITING = "waiting for the first refresh..."

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.filter_text = ""
        self.snapshot: ClusterSnapshot | None = None

    @property
    def harmony(self) -> HarmonyConsole:
        return cast("HarmonyConsole", self.app)

    @property
    def palette(self) -> Styles:
        return styles_for(self.app)

    # ------------------------------------------------------------------ rendering

    def show(self, snap: ClusterSnapshot) -> None:
        """Render ``snap``. Subclasses override :meth:`render_snapshot`."""
        self.snapshot = snap
        self.render_snapshot(snap)

    def render_snapshot(self, snap: ClusterSnapshot) -> None:
        raise NotImplementedError

    def tick(self, now: datetime) -> None:
        """Once a second: panes with countdowns redraw them."""

    def rerender(self) -> None:
        if self.snapshot is not None:
            self.render_snapshot(self.snapshot)

    # ------------------------------------------------------------------ filtering

    @property
    def filter_table(self) -> KeyedTable | None:
        """The table ``/`` filters (the one visible and focused, normally)."""
        return None

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.rerender()

    def matches(self, *cells: Any) -> bool:
        """Whether a row (its cells' plain text) contains the filter, case-insensitively."""
        if not self.filter_text:
            return True
        needle = self.filter_text.lower()
        return any(needle in (c.plain if isinstance(c, Text) else str(c)).lower() for c in cells)

    def filter_note(self, shown: int, total: int) -> str:
        if not self.filter_text:
            return ""
        return f"  filter '{self.filter_text}': {shown} of {total}"

    def focus_main(self) -> None:
        table = self.filter_table
        if table is not None:
            table.focus()
