"""One storage path in detail, in the layout of ``harmony storage list`` (and lotus's)."""

from __future__ import annotations

import re

from rich.text import Text
from textual.css.query import NoMatches

from engine.snapshot import ClusterSnapshot

from ..storage_report import render_path
from .detail import DetailScreen

__all__ = ["StoragePathScreen", "fold"]

#: where a report line may break: after the usage bar, between ``;``-separated figures
_BREAK = re.compile(r"(?<=\]) |(?<=;) ")

#: the body's width before the dialog is laid out: 90 % of 80 columns, less border and padding
FALLBACK_WIDTH = 68


def fold(line: str, width: int) -> list[str]:
    """``line`` in pieces of at most ``width`` characters where it can be (a piece longer than
    that stays whole), broken only after the usage bar or between figures, each continuation
    indented under the line's text. In the dialog at 80 columns a figure was split in two
    ("175.6 GiB/252" over "GiB 69%") where the terminal wrapped the CLI's 75-character line."""
    if len(line) <= width:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    out: list[str] = []
    rest = line
    while len(rest) > width:
        cuts = [m.start() for m in _BREAK.finditer(rest) if m.start() <= width]
        if not cuts:
            break
        out.append(rest[: cuts[-1]].rstrip())
        rest = indent + "  " + rest[cuts[-1] + 1 :].lstrip()
    out.append(rest)
    return out


class StoragePathScreen(DetailScreen):
    """The path ``storage_id``; says so when it was detached meanwhile."""

    def __init__(self, storage_id: str) -> None:
        super().__init__(f"Storage path {storage_id}")
        self.storage_id = storage_id

    def body(self, snap: ClusterSnapshot) -> Text:
        info = next((p for p in snap.storage.paths if p.storage_id == self.storage_id), None)
        if info is None:
            return Text("not in the current snapshot (detached?)", style="dim")
        width = self._width()
        lines = render_path(info).replace("\t", "  ").splitlines()
        return Text("\n".join(piece for line in lines for piece in fold(line, width)))

    def _width(self) -> int:
        """The body's text width (each refresh redraws it, so a resize is followed)."""
        try:
            width = self.query_one("#detail-body").size.width
        except NoMatches:  # not composed yet
            width = 0
        return width if width > 0 else FALLBACK_WIDTH
