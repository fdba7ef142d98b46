"""Messages the app handles from views it imports only when they are first opened: moving to a
pane and a row (the palette, the alerts pane, the app itself) and a sector's resume (its detail
screen). Kept apart so that the app's handlers do not import those views before the first
frame."""

from __future__ import annotations

from textual.message import Message

__all__ = ["Goto", "ResumeRequested"]


class Goto(Message):
    """Show ``pane`` (and its ``view``), with the row ``key`` selected."""

    def __init__(self, pane: str, key: str | None = None, view: str | None = None) -> None:
        super().__init__()
        self.pane = pane
        self.key = key
        self.view = view


class ResumeRequested(Message):
    """``r`` on a failed sector (its detail screen): the app confirms, then resumes it."""

    def __init__(self, sp_id: int, sector: int, label: str) -> None:
        super().__init__()
        self.sp_id = sp_id
        self.sector = sector
        self.label = label
