"""A DataTable updated by keyed diffs: cursor and scroll survive every refresh.

Rows are addressed by a stable key (machine id, task id, storage id, sector). A refresh adds new
rows, removes gone ones and updates only the cells that changed, inside one ``batch_update``;
``clear()`` is never called, because clearing moves the cursor to the top and the scroll back
to the start on every refresh, and an operator reading row 40 would lose their place every two
seconds. Cells are ``rich.text.Text`` built by the panes, never markup strings from data (a
task error containing ``[`` would otherwise be read as markup).

Only DataTable's public API is used (``add_row``, ``update_cell``, ``remove_row``,
``get_row``, ``get_row_index``, ``ordered_rows``, ``move_cursor``, ``sort``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

__all__ = ["Column", "KeyedTable"]


@dataclass(frozen=True)
class Column:
    label: str
    key: str
    #: fixed width, or None to size to the content
    width: int | None = None
    right: bool = False


Cells = Sequence[Text]


class KeyedTable(DataTable[Text]):
    """A row-cursor DataTable whose rows are replaced by :meth:`sync`."""

    DEFAULT_CSS = """
    KeyedTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, id=id)
        self.columns_spec = tuple(columns)
        for column in self.columns_spec:
            label = Text(column.label, justify="right" if column.right else "left")
            self.add_column(label, key=column.key, width=column.width)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, or None when the table is empty."""
        if self.row_count == 0:
            return None
        row = min(max(self.cursor_row, 0), self.row_count - 1)
        key = self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        return None if key is None else str(key)

    @property
    def keys(self) -> list[str]:
        """The row keys in the order shown."""
        return [str(row.key.value) for row in self.ordered_rows]

    def select_key(self, key: str) -> bool:
        """Move the cursor to the row with ``key``; False when there is none."""
        if key not in self.rows:
            return False
        self.move_cursor(row=self.get_row_index(key), animate=False)
        return True

    def sync(self, rows: Mapping[str, Cells]) -> None:
        """Make the table show ``rows`` (in that order), touching only what changed."""
        selected = self.selected_key
        keys = [c.key for c in self.columns_spec]
        with self.app.batch_update():
            for stale in [k for k in self.rows if k.value not in rows]:
                self.remove_row(stale)
            for key, cells in rows.items():
                if key not in self.rows:
                    self.add_row(*cells, key=key)
                    continue
                for column, cell in zip(keys, cells, strict=True):
                    if self.get_cell(key, column) != cell:
                        self.update_cell(key, column, cell)
            self._reorder(list(rows))
            if selected is not None and selected in rows:
                index = self.get_row_index(selected)
                if index != self.cursor_row:
                    self.move_cursor(row=index, animate=False, scroll=False)

    def _reorder(self, order: list[str]) -> None:
        """Put rows in ``order`` without rebuilding them.

        DataTable has no public way to move a row or to sort by row key: the key function of
        ``DataTable.sort`` sees only the cells (by design, Textualize/textual#3090). Each row's
        first cell is its own object (the panes build fresh ``Text`` per cell), so the cell's
        identity stands in for the row key. Rows whose first cells are shared would be
        ambiguous; they are re-added in order instead.
        """
        if self.keys == order:
            return
        firsts = [self.get_row(key)[0] for key in order]
        position = {id(cell): i for i, cell in enumerate(firsts)}
        if len(position) == len(order):
            self.sort(key=lambda cells: position[id(cells[0])])
            return
        for key in order:
            cells = self.get_row(key)
            self.remove_row(key)
            self.add_row(*cells, key=key)
