"""The fast cell line is DataTable's own rendering of a one-line text cell, segment for
segment: Rich's general path (``Styled(Padding(cell))`` through ``Console.render_lines``) is
the oracle, over generated cells of every kind the fast path accepts."""

from __future__ import annotations

import random
from collections.abc import Iterator

from rich.console import Console
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.renderables.styled import Styled

from console.widgets.cell_render import CellShapes, fits_fast_path, styled_shape, text_cell_line

CONSOLE = Console(width=200, color_system="truecolor", force_terminal=True, legacy_windows=False)
WORDS = ["", "a", "abc", "machine-12", "1,234", "t01000:1000", "  lead", "trail  ", "日本語",
         "x" * 30, "é", "🚀 go", "[bold]not markup[/]"]  # fmt: skip
STYLES = ["", "bold", "red on blue", "dim", "italic #ff8800", "reverse"]
PRE = Style(color="white", bgcolor="black", meta={"row": 3, "column": 1})


def stock(cell: Text, width: int, padding: int, pre: Style, post: Style) -> list[Segment]:
    """DataTable._render_cell's call for a row one line high."""
    options = CONSOLE.options.update_dimensions(width, 1).update(no_wrap=True)
    lines = CONSOLE.render_lines(
        Styled(Padding(cell, (0, padding)), pre_style=pre, post_style=post), options
    )
    assert len(lines) == 1
    return lines[0]


def generated(rng: random.Random) -> Text:
    cell = Text(
        rng.choice(WORDS),
        style=rng.choice(STYLES),
        justify=rng.choice([None, "default", "left", "right", "center", "full"]),
        overflow=rng.choice([None, "fold", "crop", "ellipsis", "ignore"]),
        no_wrap=rng.choice([None, True, False]),
        end=rng.choice(["\n", ""]),
    )
    for _ in range(rng.randrange(3)):
        cell.append(rng.choice(WORDS), style=rng.choice(STYLES))
    if len(cell) > 2 and rng.random() < 0.4:
        start = rng.randrange(len(cell) - 1)
        cell.stylize(rng.choice(STYLES[1:]), start, rng.randrange(start + 1, len(cell) + 1))
    return cell


def fast_path_cases(rng: random.Random, tries: int) -> Iterator[tuple[Text, int, int]]:
    """Generated cells, column widths and paddings the fast path takes."""
    for _ in range(tries):
        cell = generated(rng)
        padding = rng.choice([0, 1, 2])
        width = rng.randrange(1, 24)
        if fits_fast_path(cell, width, padding):
            yield cell, width, padding


def test_generated_cells_draw_as_datatable_draws_them() -> None:
    rng = random.Random(13)
    checked = 0
    for cell, width, padding in fast_path_cases(rng, 6000):
        pre = rng.choice([PRE, PRE + Style(bold=True), Style.null()])
        post = rng.choice([Style.null(), Style(color="yellow"), Style(bgcolor="red")])
        fast = text_cell_line(cell, width, padding, pre, post, CONSOLE)
        assert fast == stock(cell, width, padding, pre, post), (cell, width, padding, pre, post)
        checked += 1
    assert checked > 3000


def test_the_fast_path_takes_single_line_text_in_a_column_with_room() -> None:
    assert fits_fast_path(Text("abc"), 5, 1)
    assert not fits_fast_path("abc", 5, 1)  # not a Text: DataTable formats it (markup)
    assert not fits_fast_path(Text("a\nb"), 5, 1)
    assert not fits_fast_path(Text("a\tb"), 5, 1)
    assert not fits_fast_path(Text("abc"), 2, 1)  # no room inside the padding
    assert not fits_fast_path(Text("abc", no_wrap=False), 5, 1)  # wraps, even in one line


def test_a_kept_shape_draws_as_datatable_draws_it_under_any_styles() -> None:
    """A shape kept for a cell is styled again under whatever the row, cursor and focus ask
    for, and draws what DataTable draws; a cell built again with the same content finds the
    same shape, and one that differs in anything it shows does not."""
    rng = random.Random(29)
    shapes = CellShapes(limit=10_000)
    checked = 0
    for cell, width, padding in fast_path_cases(rng, 3000):
        shape = shapes.get(cell, width, padding, CONSOLE)
        assert shapes.get(cell.copy(), width, padding, CONSOLE) is shape
        for pre, post in ((PRE, Style.null()), (Style.null(), Style(bgcolor="red"))):
            drawn = styled_shape(shape, width, pre, post)
            assert drawn == stock(cell, width, padding, pre, post), (cell, width, padding)
        checked += 1
    assert checked > 1500
    base = Text("abc", style="bold", justify="left")
    for other in (
        Text("abd", style="bold", justify="left"),
        Text("abc", style="red", justify="left"),
        Text("abc", style="bold", justify="right"),
        Text.assemble(("ab", "bold"), ("c", "red"), justify="left"),
    ):
        assert shapes.get(other, 8, 1, CONSOLE) is not shapes.get(base, 8, 1, CONSOLE)
    assert shapes.get(base, 9, 1, CONSOLE) is not shapes.get(base, 8, 1, CONSOLE)


def test_shapes_keep_two_generations_of_what_was_drawn() -> None:
    """Bounded: at most two generations of ``limit`` shapes; a shape used again moves to the
    newer generation and outlives the ones not used since."""
    shapes = CellShapes(limit=4)
    first = shapes.get(Text("keep"), 8, 1, CONSOLE)
    zero = shapes.get(Text("cell 0"), 8, 1, CONSOLE)
    for i in range(1, 20):
        shapes.get(Text(f"cell {i}"), 8, 1, CONSOLE)
        assert shapes.get(Text("keep"), 8, 1, CONSOLE) is first
        assert len(shapes) <= 8
    assert shapes.get(Text("cell 19"), 8, 1, CONSOLE) is shapes.get(Text("cell 19"), 8, 1, CONSOLE)
    assert shapes.get(Text("cell 0"), 8, 1, CONSOLE) is not zero  # long gone: made again
    assert shapes.get(Text("cell 0"), 8, 1, CONSOLE) == zero  # the same shape
    shapes.clear()
    assert len(shapes) == 0
