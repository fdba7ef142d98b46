"""A pane header's figures as clauses joined by ``; ``, wrapped between clauses.

A header line longer than the terminal used to wrap wherever a space fell, splitting one figure
over two lines (``0 B`` / `` reserved``). Joining whole clauses, and starting a new line before
one that would not fit, keeps each figure readable at 80 columns.
"""

from __future__ import annotations

from rich.text import Text

__all__ = ["join_clauses"]


def join_clauses(clauses: list[Text], width: int, sep: str = "; ") -> Text:
    """``a; b; c``, starting a new line before a clause that would not fit in ``width``
    (0: unknown, one line), so a figure never wraps in the middle. ``sep`` joins them (what
    it has before its spaces ends a line that breaks: ``;``)."""
    line = Text()
    column = 0
    end = sep.rstrip()
    for i, clause in enumerate(clauses):
        if i:
            # room for the clause and the separator's end that may follow it
            if width and column + len(sep) + clause.cell_len + len(end) > width:
                line.append(end + "\n")
                column = 0
            else:
                line.append(sep)
                column += len(sep)
        line.append_text(clause)
        column += clause.cell_len
    return line
