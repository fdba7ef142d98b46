"""A DataTable updated by keyed diffs: cursor and scroll survive every refresh.

Rows are addressed by a stable key (machine id, task id, storage id, sector). A refresh adds new
rows, removes gone ones and updates only the cells that changed, inside one ``batch_update``;
``clear()`` is never called, because clearing moves the cursor to the top and the scroll back
to the start on every refresh, and an operator reading row 40 would lose their place every two
seconds. Cells are ``rich.text.Text`` built by the panes, never markup strings from data (a
task error containing ``[`` would otherwise be read as markup).

Rows come and go through DataTable's public API (``add_row``, ``remove_row``, ``get_row``,
``get_row_index``, ``ordered_rows``, ``move_cursor``, ``sort``). Cells change in place and the
render caches are kept through Textual 8.2's private ones (see :meth:`KeyedTable._forget_rendered`,
:meth:`KeyedTable._check_styles`): a stock DataTable re-renders every visible cell after any
change, focus change or re-show, which made a pane switch render its whole screen of cells
(tests/console/widgets/test_keyed_table.py holds them to a cache-less rendering). A body row's
line is drawn by :meth:`KeyedTable._render_line_in_row`, Textual 8.2's code for a row cursor
with the frame's constants read once; the same tests hold it to DataTable's own.

Sorting, htop style: ``>`` sorts by the next column, ``<`` by the previous one, past either end
back to the pane's own order; ``S`` reverses. (Not ``s``: the events pane's ``s`` shows the
sectors' events, and a focused table's keys would take it.) The header shows the column and
its direction with an arrow. The order is the table's, so it survives every refresh (each
:meth:`KeyedTable.sync` sorts the new rows the same way) and is remembered for the session per
table (a pane with several views has one table per view). Cells sort by what they say: numbers
as numbers (``1,234``), durations as durations (``48ms`` < ``2.05s`` < ``3m`` < ``1h05m``),
sizes as sizes (``512M`` < ``1.5T``), countdowns (``-00:01:00``) as seconds, other text
case-insensitively; an empty cell or a dash always comes last.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import is_
from typing import ClassVar

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from .cell_render import CellShapes, cell_width, fits_fast_path, styled_shape

__all__ = ["Column", "KeyedTable", "sort_value"]

#: ascending and descending, beside the sort column's label
ARROWS = {False: "\u2191", True: "\u2193"}

_NUMBER = re.compile(r"[-+]?\d[\d,]*(\.\d+)?%?")
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?")
_COUNTDOWN = re.compile(r"([-+]?)(\d+):(\d\d):(\d\d)")
_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?([KMGTPE]i?)?B?")
_DIGITS = re.compile(r"(\d+)")
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50, "E": 2**60}
#: words around a duration that do not change its order ("3s ago", "in 5m", "lost 9s")
_AROUND = re.compile(r"^(?:in|lost|left|stale|~)\s+|\s+ago$")


SortValue = tuple[int, float | tuple[tuple[int, int | str], ...]]


def sort_value(plain: str) -> SortValue:
    """What a cell sorts by: ``(0, number)`` for numbers, durations, sizes and countdowns,
    ``(1, parts)`` for other text (case-insensitive, its digits as numbers: ``t01000:999``
    before ``t01000:1000``), ``(2, ())`` for an empty cell or a dash (last)."""
    value = plain.strip()
    if value in ("", "-", "?"):
        return (2, ())
    if _NUMBER.fullmatch(value):
        return (0, float(value.replace(",", "").rstrip("%")))
    if m := _COUNTDOWN.fullmatch(value):
        seconds = int(m[2]) * 3600 + int(m[3]) * 60 + int(m[4])
        return (0, -seconds if m[1] == "-" else seconds)
    bare = _AROUND.sub("", value)
    if bare and (m := _DURATION.fullmatch(bare)) and any(m.groups()):
        d, h, mi, s, ms = (float(g) if g else 0.0 for g in m.groups())
        return (0, d * 86400 + h * 3600 + mi * 60 + s + ms / 1000)
    if (m := _SIZE.fullmatch(value)) and (m[2] or value.endswith("B")):
        return (0, float(m[1]) * _UNITS[(m[2] or "")[:1]])
    parts = _DIGITS.split(value.casefold())
    return (1, tuple((0, int(p)) if i % 2 else (1, p) for i, p in enumerate(parts) if p))


def same_cell(old: object, new: Text) -> bool:
    """A cell shows the same as before: same text, same spans, same base style (``Text``'s
    own ``==`` ignores the style a whole cell is drawn in, so a state that turned from green
    to red would have kept its old colour). The same object is the same cell: panes that keep
    their rows (:class:`~console.widgets.row_cache.RowCache`) hand the table the cells it has."""
    if old is new:
        return True
    return (
        isinstance(old, Text)
        and old == new
        and old.style == new.style
        and old.justify == new.justify
        and old.no_wrap == new.no_wrap
        and old.overflow == new.overflow
    )


@dataclass(frozen=True)
class Column:
    label: str
    key: str
    #: fixed width, or None to size to the content
    width: int | None = None
    right: bool = False
    #: the last column takes the width the others leave (at least its label's), so a long
    #: message ends in "…" at the table's edge instead of running off screen; ``width`` is
    #: ignored
    fill: bool = False


Cells = Sequence[Text]


@dataclass(frozen=True, slots=True)
class _Frame:
    """What every row and cell of one frame is drawn with, read once when the frame starts:
    each is a reactive or a CSS lookup (the table's style walks its ancestors), and DataTable
    read them again for every line, row and cell: a third of drawing a screen of cells (230
    cells with their shapes kept: 8.8 ms, 5.8 ms with the frame)."""

    #: the table's own style (DataTable's ``base_style`` of every line)
    style: Style
    padding: int
    show_cursor: bool
    show_hover_cursor: bool
    css_foreground: bool
    css_background: bool
    #: each ordered column's width on screen, padding included
    widths: tuple[int, ...]
    #: the rows' width, the row labels' included
    table_width: int
    console: Console
    #: (hover, cursor, CSS priorities) -> DataTable's component and post styles of a cell
    cell_styles: dict[tuple[bool, bool, bool, bool], tuple[Style, Style]]


class KeyedTable(DataTable[Text]):
    """A row-cursor DataTable whose rows are replaced by :meth:`sync`."""

    DEFAULT_CSS = """
    KeyedTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # not in the footer (the machines pane's keys fill it at 80 columns): ``?`` lists them
        Binding(
            "greater_than_sign",
            "sort(1)",
            "Sort",
            show=False,
            key_display=">",
            id="console.sort",
        ),
        Binding(
            "less_than_sign",
            "sort(-1)",
            "Sort back",
            show=False,
            key_display="<",
            id="console.sort.back",
        ),
        Binding("S", "sort_reverse", "Reverse sort", show=False, id="console.sort.reverse"),
    ]

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, id=id)
        self.columns_spec = tuple(columns)
        #: the column rows are sorted by (an index into ``columns_spec``), None: the pane's order
        self.sort_column: int | None = None
        #: the sort is descending
        self.sort_reverse = False
        #: the rows in the order the pane gave them (what "no sort" goes back to)
        self._given: list[str] = []
        #: per pseudo-class state, the styles its cached renderings were drawn in
        self._style_signatures: dict[object, object] = {}
        #: the size the cached renderings were drawn at (see :meth:`_on_resize`)
        self._rendered_size: Size | None = None
        #: DataTable's update count the cached renderings were drawn at (see
        #: :meth:`_drop_stale_renderings`)
        self._rendered_count = self._update_count
        #: the shapes of the cells drawn lately, kept across the caches' drops
        self._shapes = CellShapes()
        #: the constants of the frame being drawn (set only inside :meth:`render_lines`)
        self._frame: _Frame | None = None
        if any(column.fill for column in self.columns_spec[:-1]):
            raise ValueError("only the last column can fill the table's width")
        for column in self.columns_spec:
            width = len(column.label) if column.fill else column.width
            self.add_column(self._label(column), key=column.key, width=width)

    # ------------------------------------------------------------------ render caches

    def notify_style_update(self) -> None:
        """Keep the rendered cells when the styles they were drawn in come back.

        Textual re-applies CSS to a table at every focus change (``:focus`` rules), and
        DataTable then drops every rendered cell, row and line. A pane switch blurs one table
        and focuses another, so every switch rendered the new pane's whole screen of cells
        again, although nothing in them had changed. Each rendering is keyed by the table's
        pseudo-classes (focus among them) and base style already; what its key leaves out is
        the component styles (cursor, header, ...), which :meth:`render_lines` checks before
        each frame. Only what is cached without any key goes here.
        """
        Widget.notify_style_update(self)  # the widget's own style caches
        self._get_styles_to_render_cell.cache_clear()
        self._styles_cache.clear()
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._check_styles()
        self._drop_stale_renderings()
        self._shapes.limit = max(64, 2 * self.size.height * len(self.columns))
        self._frame = self._new_frame()
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def _new_frame(self) -> _Frame | None:
        """The frame's constants, or None where :meth:`_render_line_in_row` leaves the table to
        DataTable (a cell or column cursor, stripes, fixed rows or columns, row labels)."""
        if (
            self.cursor_type != "row"
            or self.zebra_stripes
            or self.fixed_rows
            or self.fixed_columns
            or (self._labelled_row_exists and self.show_row_labels)
        ):
            return None
        widths = tuple(column.get_render_width(self) for column in self.ordered_columns)
        return _Frame(
            style=self.rich_style,
            padding=self.cell_padding,
            show_cursor=self.show_cursor,
            show_hover_cursor=self._show_hover_cursor,
            css_foreground=self.cursor_foreground_priority == "css",
            css_background=self.cursor_background_priority == "css",
            widths=widths,
            table_width=sum(widths) + self._row_label_column_width,
            console=self.app.console,
            cell_styles={},
        )

    def _cell_styles(
        self, frame: _Frame, hover: bool, cursor: bool, css_fg: bool, css_bg: bool
    ) -> tuple[Style, Style]:
        """DataTable's ``_get_styles_to_render_cell`` for a body cell, once per frame (its own
        cache is one LRU of 32 for every table of the app)."""
        key = (hover, cursor, css_fg, css_bg)
        styles = frame.cell_styles.get(key)
        if styles is None:
            styles = frame.cell_styles[key] = self._get_styles_to_render_cell(
                False,
                False,
                False,
                hover,
                cursor,
                frame.show_cursor,
                frame.show_hover_cursor,
                css_fg,
                css_bg,
            )
        return styles

    def render_line(self, y: int) -> Strip:
        """DataTable's, with the frame's style (DataTable reads the table's style per line)."""
        frame = self._frame
        if frame is None:
            return super().render_line(y)
        scroll_x, scroll_y = self.scroll_offset
        if y >= (self.header_height if self.show_header else 0):
            y += scroll_y
        return self._render_line(y, scroll_x, scroll_x + self.size.width, frame.style)

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[list[list[Segment]], list[list[Segment]]]:
        """DataTable's rendering of a body row's line under a row cursor (no labels, stripes
        or fixed cells: see :meth:`_new_frame`), with the frame's constants; cached under
        DataTable's own key. The header row, and any other table, take DataTable's path."""
        frame = self._frame
        row_index = self._row_locations.get(row_key)
        if frame is None or row_index is None:
            return super()._render_line_in_row(
                row_key, line_no, base_style, cursor_location, hover_location
            )
        cache_key = (
            row_key,
            line_no,
            base_style,
            cursor_location,
            hover_location,
            "row",
            frame.show_cursor,
            frame.show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._row_render_cache.get(cache_key)
        if cached is not None:
            return cached
        cursor = cursor_location.row == row_index
        hover = hover_location.row == row_index
        scrollable: list[list[Segment]] = [
            self._render_cell(row_index, column_index, base_style, width, cursor, hover)[line_no]
            for column_index, width in enumerate(frame.widths)
        ]
        # the rest of the table's width, in the row's style (the cursor's on its row)
        extend, _ = self._cell_styles(frame, hover, cursor, False, False)
        extend = base_style + extend
        extend += Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        remaining = max(0, self.size.width - frame.table_width)
        scrollable.append([Segment(" " * remaining, extend)])
        pair: tuple[list[list[Segment]], list[list[Segment]]] = ([], scrollable)
        self._row_render_cache[cache_key] = pair
        return pair

    def _clear_caches(self) -> None:
        """DataTable's, and the cells' shapes: a theme or stylesheet change may change how a
        cell's named styles read."""
        super()._clear_caches()
        self._shapes.clear()

    def _drop_stale_renderings(self) -> None:
        """Forget every rendering drawn before DataTable's update count last moved.

        Each cached cell, row, line and row renderable has the count in its key, so once it
        moves (a row added, removed or moved) none of them can be used again, but DataTable
        keeps them until its LRU caches overflow: up to 10,000 cells and 1,000 lines per
        table. Across the panes that was most of the console's live objects (about 100,000
        after a minute on the benchmark's cluster), and every full garbage collection walked
        them all: 60-70 ms pauses of the event loop, once a second. Dropped here, they go by
        reference counting, before the new frame draws.
        """
        if self._update_count == self._rendered_count:
            return
        self._rendered_count = self._update_count
        self._cell_render_cache.clear()
        self._row_render_cache.clear()
        self._row_renderable_cache.clear()
        self._line_cache.clear()

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """DataTable's cell rendering, cached under DataTable's own key, with a one-line text
        cell drawn from its kept shape (:class:`~console.widgets.cell_render.CellShapes`: the
        same segments as DataTable's renderer, which took twice as long, and only styled again
        when the cell shows what it showed); headers, labels, fixed cells and anything else
        take DataTable's path."""
        frame = self._frame
        if frame is None or row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        if row_key is None or self.rows[row_key].height != 1:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (
            row_key,
            self._column_locations.get_key(column_index),
            base_style,
            cursor,
            hover,
            frame.show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        lines = self._cell_render_cache.get(key)
        if lines is not None:
            return lines
        cell = self._get_row_renderables(row_index).cells[column_index]
        if not fits_fast_path(cell, width, frame.padding):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        assert isinstance(cell, Text)
        component_style, post_style = self._cell_styles(
            frame, hover, cursor, frame.css_foreground, frame.css_background
        )
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index})
        shape = self._shapes.get(cell, width, frame.padding, frame.console)
        line = styled_shape(shape, width, pre + component_style, post_style)
        self._cell_render_cache[key] = [line]
        return [line]

    def _check_styles(self) -> None:
        """Drop every rendering when the styles of the table's present pseudo-class state are
        not those its renderings in that state were drawn in (a theme, a stylesheet reload, a
        new class), as DataTable does at every style update.

        Checked when a frame is drawn, not in :meth:`notify_style_update`: Textual updates a
        table's component styles after notifying it. Every rendering is made here, under its
        state's recorded styles, and the record is reset only with the caches, so a state seen
        for the first time has nothing cached to drop.
        """
        state = self.get_pseudo_class_state()
        signature = (
            self.rich_style,
            tuple(self.get_component_rich_style(name) for name in sorted(self.COMPONENT_CLASSES)),
        )
        known = self._style_signatures.get(state)
        if known == signature:
            return
        if known is not None:
            self._style_signatures.clear()
            self._clear_caches()
        self._style_signatures[state] = signature

    def _on_resize(self, event: events.Resize) -> None:
        """A table shown again at the size it had keeps its renderings.

        Textual sends Resize to every widget that becomes visible, and DataTable answers any
        Resize by moving its update count (every render cache's key): each pane switch drew
        the new pane's cells again. A row's rendering depends on the table's width (the space
        after the last column is filled), so a real change of size still clears them all.
        """
        if self._fit_fill():  # the other columns may have changed while it was hidden
            self._widths_moved()
        elif event.size == self._rendered_size:
            event.prevent_default()  # DataTable's handler, which would drop them
            return
        self._rendered_size = event.size

    # ------------------------------------------------------------------ column widths

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """DataTable's, with the new rows' text cells measured by
        :func:`~console.widgets.cell_render.cell_width`.

        DataTable measures every cell of every new row through Rich's measuring protocol (and
        builds its renderables, caching them): the first fill of the events pane's 500 rows
        held the event loop 40-50 ms. Rows with a label or an automatic height, or a cell that
        is not text, still go through DataTable, which also sets the scrollable size.
        """
        columns = self.ordered_columns
        console = self.app.console
        rest: list[RowKey] = []
        for row_key in new_rows:
            row = self.rows.get(row_key)
            if row is None or self._row_locations.get(row_key) is None:
                continue  # removed before the table went idle
            data = self._data[row_key]
            cells = [data.get(column.key) for column in columns]
            if (
                row.label is not None
                or row.auto_height
                or not all(cell is None or isinstance(cell, Text) for cell in cells)
            ):
                rest.append(row_key)
                continue
            for column, cell in zip(columns, cells, strict=True):
                width = cell_width(cell, console)
                if width > column.content_width:
                    column.content_width = width
        super()._update_dimensions(rest)
        if self._fit_fill():  # the others grew: measured again when the table next goes idle
            self._widths_moved()

    def _fit_columns(self, keys: Iterable[ColumnKey]) -> None:
        """Size the automatic-width columns among ``keys`` to their widest cell or label now.

        Cells change in place in :meth:`sync` (not through ``update_cell``), and DataTable
        sizes a column only when rows are added: without this, an error message that grew
        was cut at the width of the one it replaced, and a column stayed as wide as a row
        long gone. The widths are those of a table built afresh from the same rows.
        """
        console = self.app.console
        moved = False
        for key in keys:
            column = self.columns[key]
            if not column.auto_width:
                continue
            width = max(
                cell_width(column.label, console),
                max((cell_width(row.get(key), console) for row in self._data.values()), default=0),
            )
            if width != column.content_width:
                column.content_width = width
                moved = True
        if self._fit_fill() or moved:
            self._widths_moved()

    def _widths_moved(self) -> None:
        """Every rendering of a line carries the columns' widths: DataTable's update count is
        in each cache key (see :meth:`_drop_stale_renderings`), and the scrollable size is
        measured again when the table goes idle."""
        self._update_count += 1
        self._require_update_dimensions = True
        self.refresh()

    def _fit_fill(self) -> bool:
        """Give a ``fill`` column the width the other columns leave, the vertical scrollbar's
        kept aside (it comes and goes with the rows; kept, a row never scrolls sideways by a
        cell when it comes). Returns whether the width changed."""
        spec = self.columns_spec[-1] if self.columns_spec else None
        if spec is None or not spec.fill or not self.size.width:
            return False  # no fill column, or a hidden table (no width): refit when shown
        column = self.columns[ColumnKey(spec.key)]
        others = sum(c.get_render_width(self) for c in self.ordered_columns if c is not column)
        room = self.size.width - self.styles.scrollbar_size_vertical - others
        width = max(room - 2 * self.cell_padding, cell_width(column.label, self.app.console))
        if width == column.width:
            return False
        column.width = width
        return True

    # ------------------------------------------------------------------ sorting

    def _label(self, column: Column, arrow: str = "") -> Text:
        """A column's header, with the sort arrow; a fixed-width column gives up its label's
        last characters rather than the arrow."""
        label = column.label
        if arrow and column.width is not None and not column.fill and len(label) + 1 > column.width:
            label = label[: max(column.width - 1, 0)]
        return Text(label + arrow, justify="right" if column.right else "left")

    def action_sort(self, step: int) -> None:
        """Sort by the next (``step`` 1) or previous (-1) column; past the last or the first,
        back to the pane's own order."""
        count = len(self.columns_spec)
        if self.sort_column is None:
            column: int | None = 0 if step > 0 else count - 1
        else:
            column = self.sort_column + step
            if not 0 <= column < count:
                column = None
        self.set_sort(column, self.sort_reverse if column is not None else False)

    def action_sort_reverse(self) -> None:
        """Reverse the order (sorting by the first column if none was chosen)."""
        self.set_sort(0 if self.sort_column is None else self.sort_column, not self.sort_reverse)

    def set_sort(self, column: int | None, reverse: bool = False) -> None:
        """Sort by ``column`` (None: the pane's order) and redraw the header's arrow."""
        before = self.sort_column
        self.sort_column, self.sort_reverse = column, reverse
        relabelled = []
        for index in {before, column} - {None}:
            assert index is not None
            spec = self.columns_spec[index]
            arrow = ARROWS[reverse] if index == column else ""
            key = self._column_key(spec.key)
            self.columns[key].label = self._label(spec, arrow)
            relabelled.append(key)
        # DataTable caches its header by its update count; a new label needs a new count
        self._update_count += 1
        self._fit_columns(relabelled)  # an arrow can widen a column sized to its label
        self.refresh()
        self._put_in_order(self.selected_key, self.get_row, scroll=True)

    def _put_in_order(
        self, selected: str | None, cells_of: Callable[[str], Cells], *, scroll: bool
    ) -> None:
        """Put the rows in the sort order (``cells_of`` gives a row's cells), the cursor on
        ``selected`` if it is still shown (``scroll``: and that row in view)."""
        self._reorder(self._sorted(self._given, cells_of))
        if selected is not None and selected in self.rows:
            index = self.get_row_index(selected)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=scroll)

    def _column_key(self, key: str) -> ColumnKey:
        return next(k for k in self.columns if k.value == key)

    def _sorted(self, keys: list[str], cells_of: Callable[[str], Cells]) -> list[str]:
        """``keys`` in the table's sort order (stable: ties keep the pane's order; empty cells
        last in either direction)."""
        if self.sort_column is None:
            return keys
        index = self.sort_column
        values = {key: sort_value(cells_of(key)[index].plain) for key in keys}
        filled = [k for k in keys if values[k][0] != 2]
        empty = [k for k in keys if values[k][0] == 2]
        filled.sort(key=lambda k: values[k], reverse=self.sort_reverse)
        return filled + empty

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
        """Make the table show ``rows`` (in that order, or in the sort order the operator
        chose), touching only what changed."""
        selected = self.selected_key
        keys = [self._column_key(c.key) for c in self.columns_spec]
        self._given = list(rows)
        changed: dict[RowKey, list[ColumnKey]] = {}
        # by the key's own string: a RowKey hashes in Python, 2-3 lookups a row at each sync
        shown = {row_key.value: (row_key, data) for row_key, data in self._data.items()}
        with self.app.batch_update():
            stale = [row_key for key, (row_key, _) in shown.items() if key not in rows]
            for row_key in stale:
                self.remove_row(row_key)
            for key, cells in rows.items():
                hit = shown.get(key)
                if hit is None:
                    self.add_row(*cells, key=key)
                    continue
                row_key, data = hit
                if len(data) == len(cells) and all(map(is_, data.values(), cells)):
                    continue  # the cells it has (a pane's RowCache): nothing to compare
                for column, cell in zip(keys, cells, strict=True):
                    if not same_cell(data[column], cell):
                        data[column] = cell
                        changed.setdefault(row_key, []).append(column)
            if changed:
                self._forget_rendered(changed)
            self._fit_columns(
                keys if stale else {column for columns in changed.values() for column in columns}
            )
            self._put_in_order(selected, rows.__getitem__, scroll=False)

    def set_cells(self, column: str, cells: Mapping[str, Text]) -> None:
        """Replace cells of ``column`` in place, by row key (rows not shown are skipped): the
        once-a-second moves of ages and elapsed times between refreshes.

        As in :meth:`sync`, only the changed cells' renderings go, the column fits its cells
        and a table sorted by that column is sorted again. ``DataTable.update_cell`` would move
        the update count with each cell (every rendering on screen drawn again, every second)
        and measure the whole column through Rich for each cell that got narrower.
        """
        key = self._column_key(column)
        changed: dict[RowKey, list[ColumnKey]] = {}
        for row, cell in cells.items():
            row_key = RowKey(row)
            data = self._data.get(row_key)
            if data is not None and not same_cell(data[key], cell):
                data[key] = cell
                changed[row_key] = [key]
        if not changed:
            return
        with self.app.batch_update():
            self._forget_rendered(changed)
            self._fit_columns([key])
            if self.sort_column is not None and self.columns_spec[self.sort_column].key == column:
                self._put_in_order(self.selected_key, self.get_row, scroll=False)

    def _forget_rendered(self, changed: Mapping[RowKey, Sequence[ColumnKey]]) -> None:
        """Forget the renderings of the cells in ``changed`` (their values were replaced in
        place), keep every other one.

        ``DataTable.update_cell`` bumps ``_update_count``, a part of every render cache's key,
        so one changed cell made every visible cell render again (0.2-1 ms each): a pane
        switch after a refresh re-rendered the whole screen of cells when a column of ages
        had moved. Here only the changed cells' entries, their rows' and their lines' go, so a
        refresh that changed 10 cells of 180 renders 10. Rows added, removed or moved still go
        through DataTable (its count moves, and every cache with it): a cell's rendering
        carries its row's index. Textual 8.2's private caches, keyed as in
        ``DataTable._render_cell`` / ``_render_line_in_row`` / ``_render_line`` /
        ``_get_row_renderables``; tests/console/widgets/test_keyed_table.py holds the result
        equal to a full render, so an upgrade that changes them fails there, not on screen.
        """
        cells = {(row, column) for row, columns in changed.items() for column in columns}
        rows = set(changed)
        indices = {self._row_locations.get(row) for row in rows}
        for key in list(self._cell_render_cache.keys()):
            if (key[0], key[1]) in cells:
                self._cell_render_cache.discard(key)
        for key in list(self._row_render_cache.keys()):
            if key[0] in rows:
                self._row_render_cache.discard(key)
        for key in list(self._row_renderable_cache.keys()):
            if key[1] in indices:
                self._row_renderable_cache.discard(key)
        header = self.header_height if self.show_header else 0
        offsets = self._y_offsets
        for key in list(self._line_cache.keys()):
            line = key[0] - header
            if 0 <= line < len(offsets) and offsets[line][0] in rows:
                self._line_cache.discard(key)
        self.refresh()

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
