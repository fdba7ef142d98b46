"""One table cell drawn as DataTable draws it, in half the time.

DataTable draws each cell through Rich's general renderer:
``console.render_lines(Styled(Padding(cell, (0, padding)), pre, post), options)``. For a cell
one line high that is two passes of line splitting, option copies, renderable dispatch and
measuring, about 60-90 µs a cell on this project's 2-core box; a pane switch or a refresh
that redraws a screen of 200-360 cells spent 10-30 ms in it, a third of the frame.

:func:`text_cell_line` makes the same segments for the common cell (a ``rich.text.Text``
without line breaks or tabs that does not ask to wrap, in a row one line high) with the same
Rich operations in the same order (copy, justify, truncate, join, render, crop, pad, style)
and nothing else: about 25-40 µs. Anything else goes to DataTable's own path.
tests/console/widgets/test_cell_render.py holds the two equal, segment for segment, over
thousands of generated cells (styles, spans, every justify and overflow, wide characters,
cells wider and narrower than their column).

:func:`text_cell_line` is two halves: :func:`cell_shape` (the cell's text justified, cut and
padded, which depends only on what the cell shows and its column's width) and
:func:`styled_shape` (the table's, row's and cursor's styles on it). A table keeps the shapes it
drew lately (:class:`CellShapes`), so a cell drawn again because its row moved, the cursor
came by or the table took the focus is only styled again: a screen of 230 cells drawn afresh
went from 11 to 8 ms with them (and to 6 ms with the table's per-frame constants, see
:class:`~console.widgets.keyed_table.KeyedTable`).

:func:`cell_width` measures a cell as DataTable sizes its column by, without building the
console's options for every cell as Rich's measuring protocol does (15-17 µs a cell; the
first fill of a 500-row table spent 40-50 ms measuring).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.render import measure

__all__ = [
    "CellShape",
    "CellShapes",
    "cell_shape",
    "cell_width",
    "fits_fast_path",
    "styled_shape",
    "text_cell_line",
]

_NEWLINE = Text("\n")
_NULL = Style.null()


def cell_width(cell: object, console: Console) -> int:
    """The width DataTable gives ``cell``'s column at least: for a ``Text``, its widest line
    (the maximum of ``Text.__rich_measure__``); an empty cell is 0 wide; anything else is
    measured by Textual's ``measure``, as DataTable does."""
    if isinstance(cell, Text):
        return max(map(cell_len, cell.plain.splitlines()), default=0)
    if cell is None:
        return 0
    return measure(console, cell, 1)


def fits_fast_path(cell: object, width: int, padding: int) -> bool:
    """Whether :func:`text_cell_line` draws ``cell`` exactly as DataTable would: a ``Text`` on
    one line that does not ask to be wrapped (``no_wrap=False`` wins over the row's height,
    and its first wrapped line is what shows)."""
    if not isinstance(cell, Text) or cell.no_wrap is False or width - 2 * padding < 1:
        return False
    plain = cell.plain
    return "\n" not in plain and "\t" not in plain


def text_cell_line(
    cell: Text, width: int, padding: int, pre: Style, post: Style, console: Console
) -> list[Segment]:
    """The one line of ``cell`` in a column ``width`` cells wide with ``padding`` on either
    side, under ``pre`` (the table's and the component's styles) and ``post`` (the cursor's
    colours where CSS has priority): DataTable's rendering of a one-line-high cell."""
    return styled_shape(cell_shape(cell, width, padding, console), width, pre, post)


@dataclass(frozen=True, slots=True)
class CellShape:
    """A cell's line before the table's styles: its text justified, cut and padded to the
    column. It depends only on what the cell shows and the column's width, so a table can keep
    it while the row's index, the cursor or the focus change (:class:`CellShapes`)."""

    #: the padded line's segments, the cell's own styles in them
    segments: tuple[Segment, ...]
    #: the segments are exactly the column's width (the common case: styling them is all
    #: that is left; otherwise the line is cut or padded again, as Rich's renderer does)
    exact: bool


def cell_shape(cell: Text, width: int, padding: int, console: Console) -> CellShape:
    """The shape of ``cell`` (see :class:`CellShape`), as DataTable's renderer makes it."""
    inner = width - 2 * padding
    # Text.wrap with no_wrap (a one-line row never wraps), then Lines.justify
    justify = cell.justify or "default"
    overflow = cell.overflow or "fold"
    line = cell.copy()
    if overflow != "ignore":
        if justify == "left":
            line.truncate(inner, overflow=overflow, pad=True)
        elif justify == "center":
            line.rstrip()
            line.truncate(inner, overflow=overflow)
            line.pad_left((inner - cell_len(line.plain)) // 2)
            line.pad_right(inner - cell_len(line.plain))
        elif justify == "right":
            line.rstrip()
            line.truncate(inner, overflow=overflow)
            line.pad_left(inner - cell_len(line.plain))
        line.truncate(inner, overflow=overflow)
    # Text.__rich_console__: the lines joined (the base style becomes a span), then rendered
    rendered = _NEWLINE.join([line]).render(console, end=cell.end)
    # Padding: its first line cropped and padded to the inner width, spaces either side
    segments = _first_line(rendered, inner, _NULL)
    if padding:
        space = Segment(" " * padding, _NULL)
        segments = [space, *segments, space]
    exact = sum(segment.cell_length for segment in segments) == width
    return CellShape(tuple(segments), exact)


def styled_shape(shape: CellShape, width: int, pre: Style, post: Style) -> list[Segment]:
    """``shape`` under the table's styles: ``Segment.apply_style`` and the table's crop to
    ``width``, as DataTable's renderer ends."""
    if shape.exact and not any(segment.control for segment in shape.segments):
        # what the general path below returns for a line already ``width`` long
        return [Segment(text, _styled(style, pre, post), None) for text, style, _ in shape.segments]
    segments = [*shape.segments, Segment.line()]
    return _first_line(Segment.apply_style(segments, style=pre, post_style=post), width, None)


def _styled(style: Style | None, pre: Style, post: Style) -> Style | None:
    """One segment's style after ``Segment.apply_style(style=pre, post_style=post)``."""
    if pre:
        style = pre + style
    if post:
        style = style + post if style else post
    return style


class CellShapes:
    """The shapes a table drew lately, by what each cell shows and its column's width.

    DataTable keys a cell's rendering by its row's index, the cursor's place, the focus and
    its update count (which moves with any row added, removed or moved), so after a refresh
    that moved rows, or when a pane is shown focused, every cell on screen is drawn again
    although most show what they showed: a screen of 200 cells, 10-20 ms of the event loop.
    Their shapes are kept here and only styled again.

    Two generations bound it to about what the table draws: once ``limit`` shapes are in the
    newer one (the table sets it to twice its cells on screen), it becomes the older one and
    the oldest are dropped; a shape found in the older one moves to the newer.
    """

    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self._new: dict[tuple[object, ...], CellShape] = {}
        self._old: dict[tuple[object, ...], CellShape] = {}

    def __len__(self) -> int:
        return len(self._new) + len(self._old)

    def get(self, cell: Text, width: int, padding: int, console: Console) -> CellShape:
        key = (
            cell.plain,
            tuple(cell.spans),
            cell.style,
            cell.justify,
            cell.overflow,
            cell.end,
            width,
            padding,
        )
        shape = self._new.get(key)
        if shape is None:
            shape = self._old.pop(key, None) or cell_shape(cell, width, padding, console)
            if len(self._new) >= self.limit:
                self._old, self._new = self._new, {}
            self._new[key] = shape
        return shape

    def clear(self) -> None:
        self._new.clear()
        self._old.clear()


def _first_line(segments: Iterable[Segment], length: int, style: Style | None) -> list[Segment]:
    """The first line of ``Segment.split_and_crop_lines(segments, length, style, pad=True)``,
    or the blank line ``Console.render_lines`` puts in its place when there is none."""
    line: list[Segment] = []
    append = line.append
    for segment in segments:
        if "\n" in segment.text and not segment.control:
            text, segment_style, _ = segment
            while text:
                before, newline, text = text.partition("\n")
                if before:
                    append(Segment(before, segment_style))
                if newline:
                    return Segment.adjust_line_length(line, length, style=style, pad=True)
        else:
            append(segment)
    if line:
        return Segment.adjust_line_length(line, length, style=style, pad=True)
    return [Segment(" " * length, style)]
