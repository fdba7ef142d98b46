"""The confirmation of an action on one sector (resume a failed stage): what it will do, in the
engine's words, with Cancel first and focused, as every action dialog of the console."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from .confirm import ConfirmDialog

__all__ = ["RESUME_WHAT", "SectorActionScreen"]

#: what resuming does (engine.tasks.seal.pipeline.resume_sector)
RESUME_WHAT = (
    "It goes back into the pipeline at the stage that failed: a failed stage task is "
    "restarted in place (retries reset), a vanished one is created anew; a sector that failed "
    "the PreCommit check restarts from SDR with a new ticket. Refused once its PreCommit "
    "message was sent."
)


class SectorActionScreen(ConfirmDialog):
    """Confirm an action on sector ``label``. Dismisses with True to go ahead."""

    def __init__(self, verb: str, label: str, what: str, facts: Text | None = None) -> None:
        super().__init__()
        self.verb = verb
        self.label = label
        self.what = what
        self.facts = facts

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text(f"{self.verb} {self.label}?", style="bold"), classes="dialog-title")
            yield Static(Text(self.what))
            if self.facts is not None:
                with VerticalScroll(classes="dialog-body"):
                    yield Static(self.facts, id="dialog-facts")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="default")
                yield Button(self.verb, id="confirm", variant="warning")
