"""Quitting with the embedded engine running tasks: drain first, quit now, or cancel."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

__all__ = ["QuitScreen"]


class QuitScreen(ModalScreen[str]):
    """Dismisses with "drain", "now" or "cancel"."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="console.quit.cancel"),
        Binding("left,h", "app.focus_previous", show=False),
        Binding("right,l", "app.focus_next", show=False),
    ]

    def __init__(self, running: int) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text("Quit the console?", style="bold"), classes="dialog-title")
            yield Static(
                Text(
                    f"This machine's engine is running {self.running} task(s).\n"
                    "Drain first: nothing new starts, the running tasks finish, then quit.\n"
                    "Quit now: they are stopped and go back to the queue for another machine."
                )
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Drain first", id="drain", variant="primary")
                yield Button("Quit now", id="now", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "cancel")

    def action_cancel(self) -> None:
        self.dismiss("cancel")
