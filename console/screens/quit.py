"""Quitting with the embedded engine running tasks: drain first, quit now, or cancel.

Live: the app binds its snapshot into the dialog, so the count of running tasks is that of this
machine's row in the latest refresh (the machines pane's and the status line's) while the
operator decides.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.reactive import var
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from engine.snapshot import ClusterSnapshot

__all__ = ["QuitScreen"]


class QuitScreen(ModalScreen[str]):
    """Dismisses with "drain", "now" or "cancel"."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="console.quit.cancel"),
        Binding("left,h", "app.focus_previous", show=False),
        Binding("right,l", "app.focus_next", show=False),
    ]

    #: the cluster as last read (bound to the app's)
    snapshot: var[ClusterSnapshot | None] = var(None, init=False)

    def __init__(self, running: int, machine_id: int | None = None) -> None:
        super().__init__()
        #: tasks running on this machine (the engine's count until a snapshot has its row)
        self.running = running
        self.machine_id = machine_id

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text("Quit the console?", style="bold"), classes="dialog-title")
            yield Static(self._text(), id="quit-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Drain first", id="drain", variant="primary")
                yield Button("Quit now", id="now", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self.watch_snapshot(self.snapshot)

    def watch_snapshot(self, snap: ClusterSnapshot | None) -> None:
        m = snap.machine(self.machine_id) if snap and self.machine_id is not None else None
        if m is None:
            return
        self.running = m.running
        with contextlib.suppress(NoMatches):  # bound before its widgets were composed
            self.query_one("#quit-text", Static).update(self._text())

    def _text(self) -> Text:
        return Text(
            f"This machine's engine is running {self.running} task(s).\n"
            "Drain first: nothing new starts, the running tasks finish, then quit.\n"
            "Quit now: they are stopped and go back to the queue for another machine."
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "cancel")

    def action_cancel(self) -> None:
        self.dismiss("cancel")
