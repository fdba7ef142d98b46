"""The confirmations of the Alerts pane's changes: acknowledge an alert (Cancel first and
focused, as every dialog that changes the cluster), and mute it for a while (how long, typed:
``30m``, ``2h``, ``1d``, default 1 h; ``harmony alerts mute --for`` reads the same words).

They only ask: the app runs the change (:func:`console.alert_actions.change_alert`) off the
event loop once confirmed.
"""

from __future__ import annotations

import argparse
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from engine.alerts.model import Alert

from ..commands.alerts import duration_arg
from .confirm import ConfirmDialog

__all__ = ["AckScreen", "MuteScreen"]

#: what ``m`` offers until the operator types another
DEFAULT_MUTE = "1h"


def _about(alert: Alert) -> Text:
    out = Text()
    out.append(f"{alert.severity} ", style="bold")
    out.append(f"{alert.check} / {alert.subject}\n")
    out.append(alert.message, style="dim")
    return out


class AckScreen(ConfirmDialog):
    """Confirm acknowledging one alert; dismisses with True to go ahead."""

    def __init__(self, alert: Alert) -> None:
        super().__init__()
        self.alert = alert

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(
                Text(f"Acknowledge alert {self.alert.id}?", style="bold"), classes="dialog-title"
            )
            yield Static(_about(self.alert))
            yield Static(
                Text(
                    "It stays listed until it clears, but no longer counts in the header nor "
                    "goes to the webhook. If it clears and comes back, it is new again."
                ),
                classes="warning",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="default")
                yield Button("Acknowledge", id="confirm", variant="primary")


class MuteScreen(ModalScreen[float | None]):
    """Ask how long to mute an alert; dismisses with the seconds, or None (cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="console.dialog.cancel"),
    ]

    def __init__(self, alert: Alert) -> None:
        super().__init__()
        self.alert = alert

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text(f"Mute alert {self.alert.id}?", style="bold"), classes="dialog-title")
            yield Static(_about(self.alert))
            yield Static(
                Text(
                    "A muted alert stays listed but is not counted in the header nor sent to the "
                    "webhook until the time is up, even if it clears and comes back meanwhile. "
                    "For how long (30m, 2h, 1d)?"
                ),
                classes="warning",
            )
            yield Input(value=DEFAULT_MUTE, id="mute-for")
            yield Static(id="mute-error", classes="warning")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="default")
                yield Button("Mute", id="confirm", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#mute-error", Static).display = False
        self.query_one("#mute-for", Input).focus()

    def seconds(self) -> float | None:
        """The typed duration in seconds; None (and the reason shown) when it is not one."""
        error = self.query_one("#mute-error", Static)
        try:
            seconds = duration_arg(self.query_one("#mute-for", Input).value)
        except argparse.ArgumentTypeError as exc:
            error.update(Text(str(exc)))
            error.display = True
            return None
        if seconds <= 0:
            error.update(Text("a mute lasts a while: type how long (30m, 2h, 1d)"))
            error.display = True
            return None
        error.display = False
        return seconds

    def _submit(self) -> None:
        seconds = self.seconds()
        if seconds is not None:
            self.dismiss(seconds)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
