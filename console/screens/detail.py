"""A read-only detail view (a sector, a storage path): text from the snapshot, ``esc`` closes.

The app binds its snapshot into the screen, so the text follows every refresh while it is open.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.reactive import var
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.snapshot import ClusterSnapshot

__all__ = ["DetailScreen"]


class DetailScreen(ModalScreen[None]):
    """Subclasses say what :meth:`body` shows of a snapshot."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter", "close", "Close", id="console.detail.close"),
    ]

    #: the snapshot's detail lists this view shows (the app has them read while it is open)
    LISTS: frozenset[str] = frozenset()

    #: the cluster as last read (bound to the app's)
    snapshot: var[ClusterSnapshot | None] = var(None, init=False)

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog detail"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(id="detail-body")
            yield Static(Text("esc closes", style="dim"))

    def body(self, snap: ClusterSnapshot) -> Text:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.watch_snapshot(self.snapshot)

    def watch_snapshot(self, snap: ClusterSnapshot | None) -> None:
        if snap is not None:
            with contextlib.suppress(NoMatches):  # bound before its widgets were composed
                self.query_one("#detail-body", Static).update(self.body(snap))

    def action_close(self) -> None:
        self.dismiss(None)
