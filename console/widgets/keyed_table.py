"""A DataTable updated by keyed diffs: cursor and scroll survive every refresh.

Rows are addressed by a stable key (machine id, task id, storage id, sector). A refresh adds new
rows, removes gone ones and updates only the cells that changed, inside one ``batch_update``;
``clear()`` is never called, so the operator keeps their place (reference console.md section 4).
Cells are ``rich.text.Text`` built by the panes, never markup strings from data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

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
        key = self._row_locations.get_key(row)
        return None if key is None else str(key.value)

    def select_key(self, key: str) -> bool:
        """Move the cursor to the row with ``key``; False when there is none."""
        if RowKey(key) not in self._row_locations:
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
                if RowKey(key) not in self._row_locations:
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
        """Put rows in ``order`` without rebuilding them (what ``DataTable.sort`` does, keyed
        by our order instead of by cell values)."""
        current = [self._row_locations.get_key(i) for i in range(len(order))]
        if [k.value if k is not None else None for k in current] == order:
            return
        self._row_locations = TwoWayDict({RowKey(k): i for i, k in enumerate(order)})
        self._update_count += 1
        self.refresh()
