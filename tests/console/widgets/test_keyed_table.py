"""KeyedTable keeps DataTable's rendered cells across refreshes and focus changes: only what
changed renders again, and what it draws is always what a table built from scratch draws.

These tests hold the private Textual caches KeyedTable relies on (``_cell_render_cache`` and
its siblings, keyed as in Textual 8.2) to their meaning: an upgrade that changes them fails
here, not on an operator's screen.
"""

from __future__ import annotations

from types import MethodType
from typing import Any

import pytest
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.cache import LRUCache
from textual.geometry import Region
from textual.widgets import DataTable, Input

from console.widgets.cells import text
from console.widgets.keyed_table import Column, KeyedTable

COLUMNS = (Column("Name", "name", 8), Column("Age", "age", 8, right=True), Column("Note", "note"))


def rows(ages: dict[str, str], note_style: str = "") -> dict[str, tuple[Text, ...]]:
    return {
        key: (Text(key), Text(age, justify="right"), Text(f"note {key}", style=note_style))
        for key, age in ages.items()
    }


AGES = {f"m{i:02d}": f"{i}s" for i in range(12)}


class Counting(LRUCache[Any, Any]):
    """A render cache that counts what is put in it (each put is one rendering)."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.puts = 0

    def set(self, key: Any, value: Any) -> None:
        self.puts += 1
        super().set(key, value)

    __setitem__ = set


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="table")
        yield Input(id="other")

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)


def counting(table: KeyedTable) -> Counting:
    cache = Counting(10_000)
    table._cell_render_cache = cache
    return cache


def screen_lines(app: TableApp) -> list[tuple[str, tuple[tuple[str, Style | None], ...]]]:
    """What the table draws, line by line, as a frame draws it (``render_lines``): text and
    styles (the cursor's included)."""
    table = app.table
    table._styles_cache.clear()  # the widget's lines as last drawn: draw them now
    strips = table.render_lines(Region(0, 0, table.size.width, table.size.height))
    return [(strip.text, tuple((s.text, s.style) for s in strip)) for strip in strips]


async def drawn(app: TableApp, pilot: Any) -> list[Any]:
    await pilot.pause()
    await pilot.pause()
    return screen_lines(app)


async def rendered_afresh(app: TableApp, pilot: Any) -> list[Any]:
    """What the table draws with every cache dropped (as a stock DataTable draws after a
    style update): the oracle for what it draws from its caches."""
    table = app.table
    table._clear_caches()
    table._update_count += 1
    table.refresh()
    return await drawn(app, pilot)


async def fresh_rendering(
    final: dict[str, tuple[Text, ...]], *, focus_other: bool, size: tuple[int, int] = (60, 20)
) -> list[Any]:
    """What a new table shown ``final`` at once draws."""
    app = TableApp()
    async with app.run_test(size=size) as pilot:
        app.table.sync(final)
        if focus_other:
            app.query_one("#other", Input).focus()
        else:
            app.table.focus()
        return await drawn(app, pilot)


async def test_a_changed_cell_renders_alone_and_draws_as_a_fresh_table() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.table
        cache = counting(table)
        table.sync(rows(AGES))
        table.focus()
        await drawn(app, pilot)
        first = cache.puts
        assert first >= 36  # 12 rows of 3 (and the header)
        table.refresh()
        await drawn(app, pilot)
        assert cache.puts == first  # the cells are cached: nothing renders again
        changed = dict(AGES, m03="99s", m07="1m")
        table.sync(rows(changed))
        after = await drawn(app, pilot)
        assert cache.puts - first == 2  # the two changed cells, not the 36 on screen
    assert after == await fresh_rendering(rows(changed), focus_other=False)


async def test_a_change_of_style_alone_is_drawn() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        app.table.sync(rows(AGES))
        app.table.focus()
        await drawn(app, pilot)
        app.table.sync(rows(AGES, note_style="bold red"))
        after = await drawn(app, pilot)
    assert after == await fresh_rendering(rows(AGES, note_style="bold red"), focus_other=False)


async def test_focus_away_and_back_renders_nothing_again() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.table
        cache = counting(table)
        table.sync(rows(AGES))
        table.focus()
        focused = await drawn(app, pilot)
        app.query_one("#other", Input).focus()
        blurred = await drawn(app, pilot)
        assert blurred != focused  # the cursor is drawn differently without focus
        first = cache.puts
        for _ in range(2):
            table.focus()
            assert await drawn(app, pilot) == focused
            app.query_one("#other", Input).focus()
            assert await drawn(app, pilot) == blurred
        assert cache.puts == first
        # a change while blurred, then focus: the new value, drawn blurred, then focused
        table.sync(rows(dict(AGES, m01="5m")))
        changed_blurred = await drawn(app, pilot)
        assert changed_blurred == await rendered_afresh(app, pilot)
        table.focus()
        changed_focused = await drawn(app, pilot)
        assert changed_focused == await rendered_afresh(app, pilot)
    assert changed_focused == await fresh_rendering(rows(dict(AGES, m01="5m")), focus_other=False)
    assert blurred == await fresh_rendering(rows(AGES), focus_other=True)


async def test_a_change_while_blurred_renders_one_cell_per_focus_state() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.table
        cache = counting(table)
        table.sync(rows(AGES))
        table.focus()
        await drawn(app, pilot)
        app.query_one("#other", Input).focus()
        await drawn(app, pilot)
        first = cache.puts
        table.sync(rows(dict(AGES, m01="5m")))
        await drawn(app, pilot)
        table.focus()
        await drawn(app, pilot)
        assert cache.puts - first == 2  # the one cell, blurred and focused


async def test_a_theme_change_renders_everything_again() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.table
        cache = counting(table)
        table.sync(rows(AGES))
        app.query_one("#other", Input).focus()
        blurred = await drawn(app, pilot)
        table.focus()
        before = await drawn(app, pilot)
        first = cache.puts
        app.theme = "textual-light"
        after = await drawn(app, pilot)
        assert after != before
        assert cache.puts > first
        assert after == await rendered_afresh(app, pilot)
        # the blurred renderings were drawn in the old theme: not reused
        app.query_one("#other", Input).focus()
        light_blurred = await drawn(app, pilot)
        assert light_blurred != blurred
        assert light_blurred == await rendered_afresh(app, pilot)


async def test_hidden_and_shown_again_keeps_its_renderings_and_a_resize_does_not() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.table
        table.sync(rows(AGES))
        app.query_one("#other", Input).focus()  # hiding a focused table would blur it
        cache = counting(table)
        shown = await drawn(app, pilot)
        table.refresh()
        assert await drawn(app, pilot) == shown
        first = cache.puts
        table.display = False
        await drawn(app, pilot)
        table.display = True
        assert await drawn(app, pilot) == shown
        assert cache.puts == first
        await pilot.resize_terminal(40, 20)
        narrow = await drawn(app, pilot)
        assert cache.puts > first
    assert narrow == await fresh_rendering(rows(AGES), focus_other=True, size=(40, 20))


@pytest.mark.parametrize("focused", [True, False])
async def test_cells_draw_as_datatable_draws_them(focused: bool) -> None:
    """KeyedTable draws its one-line text cells, its rows and its lines itself
    (console.widgets.cell_render, the frame's constants read once); every line on screen
    (header, cursor row, styled and right-aligned cells, a truncated one, the space after the
    last column), focused or not, scrolled, is what DataTable's own rendering of the same
    cells draws."""
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.table
        shown = rows({f"m{i:02d}": f"{i}s" for i in range(40)}, note_style="bold red")
        shown["m25"] = (Text("m25"), Text("1h05m 30s", justify="right"), Text("a note"))
        table.sync(shown)
        if focused:
            table.focus()
        else:
            app.query_one("#other", Input).focus()
        table.select_key("m27")  # scrolled down to it
        await pilot.pause()
        assert table.scroll_offset.y > 0
        ours = await drawn(app, pilot)
        again = await rendered_afresh(app, pilot)  # the shapes kept, all else drawn again
        for name in ("_render_cell", "_render_line_in_row", "render_line"):
            setattr(table, name, MethodType(getattr(DataTable, name), table))
        stock = await rendered_afresh(app, pilot)
    assert ours == again == stock
    assert any(" 1h05m 30  " in text for text, _ in ours)  # cut at the column's width
    assert all(text.endswith(" " * 20) for text, _ in ours)  # rows end in the table's space


class StockApp(App[None]):
    """A stock DataTable given the same columns and rows: the oracle for column widths."""

    def __init__(self, final: dict[str, tuple[Text, ...]]) -> None:
        super().__init__()
        self.final = final

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=False)
        for column in COLUMNS:
            table.add_column(Text(column.label), key=column.key, width=column.width)
        for key, cells in self.final.items():
            table.add_row(*cells, key=key)
        yield table


async def stock_widths(final: dict[str, tuple[Text, ...]]) -> list[int]:
    app = StockApp(final)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        await pilot.pause()
        table = app.query_one(DataTable)
        return [column.get_render_width(table) for column in table.columns.values()]


def note_rows(notes: dict[str, str]) -> dict[str, tuple[Text, ...]]:
    return {
        key: (Text(key), Text("1s", justify="right"), Text(note)) for key, note in notes.items()
    }


async def test_columns_fit_their_cells_as_a_fresh_datatable_sizes_them() -> None:
    """A cell that grows in place widens its column (it was cut at the old width), a column
    narrows when its widest row goes or shrinks, and new rows are measured as DataTable
    measures them: after every refresh the widths are a stock DataTable's for the same rows,
    and the long note is drawn whole."""
    steps = [
        {"a": "x", "b": "yy"},
        {"a": "a note that grew", "b": "yy"},  # in place: wider
        {"a": "a note that grew", "b": "yy", "c": "wide \u4e2d\u6587 cell"},  # new row, wide chars
        {"b": "yy", "c": "short"},  # the widest row gone, the next one shrunk
        {"b": "yy"},
        {"b": "two\nlines, the first shorter"},  # a line break: the widest line counts
    ]
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.table
        for notes in steps:
            table.sync(note_rows(notes))
            await drawn(app, pilot)
            widths = [column.get_render_width(table) for column in table.columns.values()]
            assert widths == await stock_widths(note_rows(notes)), notes
        table.sync(note_rows(steps[1]))
        assert any("a note that grew" in text for text, _ in await drawn(app, pilot))


async def test_a_sort_arrow_widens_a_column_sized_to_its_label() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.table
        table.sync(note_rows({"a": "x"}))
        await drawn(app, pilot)
        note = table.columns[table._column_key("note")]
        assert note.content_width == len("Note")
        table.set_sort(2)
        header = (await drawn(app, pilot))[0][0]
        assert "Note\u2191" in header
        assert note.content_width == len("Note\u2191")
        table.set_sort(None)
        await drawn(app, pilot)
        assert note.content_width == len("Note")


async def test_set_cells_renders_only_what_moved_and_sorts_again() -> None:
    """The once-a-second tick: two ages move, two cells render (not the 36 on screen), and
    the screen is what a fresh table shown the same rows draws; a table sorted by that
    column is sorted again, the cursor staying on its row."""
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.table
        cache = counting(table)
        table.sync(rows(AGES))
        table.focus()
        await drawn(app, pilot)
        first = cache.puts
        table.set_cells("age", {"m03": Text("3s", justify="right"), "gone": Text("1s")})
        await drawn(app, pilot)
        assert cache.puts == first  # the same text, and a row not shown: nothing moved
        moved = {"m03": "99s", "m07": "1m"}
        table.set_cells("age", {k: Text(v, justify="right") for k, v in moved.items()})
        after = await drawn(app, pilot)
        assert cache.puts - first == 2
        assert after == await fresh_rendering(rows(dict(AGES, **moved)), focus_other=False)

        table.set_sort(1)  # by age, ascending
        table.select_key("m05")
        await drawn(app, pilot)
        table.set_cells("age", {"m01": Text("1h05m", justify="right")})
        sorted_after = await drawn(app, pilot)
        assert table.keys[-1] == "m01"  # the oldest last
        assert table.selected_key == "m05"
        assert sorted_after == await rendered_afresh(app, pilot)


async def test_set_cells_widens_an_automatic_column() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.table
        table.sync(note_rows({"a": "x", "b": "y"}))
        await drawn(app, pilot)
        table.set_cells("note", {"b": Text("a much longer note")})
        lines = await drawn(app, pilot)
        assert any("a much longer note" in text for text, _ in lines)


FILL = (Column("Name", "name", 8), Column("Kind", "kind"), Column("Message", "message", fill=True))


class FillApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(FILL, id="table")

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)


def messages(kind: str, long: str) -> dict[str, tuple[Text, ...]]:
    """Cells as the panes make them (one line, cut with an ellipsis)."""
    return {
        "short": (text("m1"), text(kind), text("ok")),
        "long": (text("m2"), text(kind), text(long)),
    }


async def test_a_fill_column_takes_the_width_left_and_ends_a_long_cell_in_an_ellipsis() -> None:
    """The message column ends at the table's edge (the vertical scrollbar's cell kept aside)
    at every width, as the other columns grow and shrink; nothing scrolls sideways."""
    long = "deadline closed without a WindowPoSt: " + "x" * 80
    app = FillApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.table
        table.sync(messages("joined", long))
        for size, kind in [((60, 10), "joined"), ((60, 10), "PoSt missed"), ((90, 10), "left"),
                           ((40, 10), "joined"), ((12, 10), "joined")]:  # fmt: skip
            await pilot.resize_terminal(*size)
            table.sync(messages(kind, long))
            lines = await drawn(app, pilot)
            widths = sum(c.get_render_width(table) for c in table.ordered_columns)
            if size[0] >= 30:
                assert widths == size[0] - 1, (size, kind)  # the scrollbar's cell
                assert table.virtual_size.width <= table.scrollable_content_region.width
                assert not table.show_horizontal_scrollbar
                row = next(text for text, _ in lines if "m2" in text)
                assert row.rstrip().endswith("…"), row
                assert kind in row
                assert next(text for text, _ in lines if "m1" in text).rstrip().endswith("ok")
            else:  # too narrow for the other columns: the message keeps its label's width
                message = table.columns[table._column_key("message")]
                assert message.width == len("Message")
                assert table.show_horizontal_scrollbar
        # a new row (measured when the table goes idle) widens another column
        await pilot.resize_terminal(60, 10)
        wide = text("a kind wider than any")
        table.sync({**messages("joined", long), "new": (text("m3"), wide, text(long))})
        lines = await drawn(app, pilot)
        assert sum(c.get_render_width(table) for c in table.ordered_columns) == 59
        assert next(text for text, _ in lines if "m3" in text).rstrip().endswith("…")


async def test_a_fill_column_synced_while_hidden_fits_when_shown() -> None:
    """A pane's tables are synced while another pane is on screen (no width then): the fill
    column keeps its width and fits when the table is shown again at the same size."""
    long = "x" * 100
    app = FillApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.table
        table.sync(messages("joined", long))
        await drawn(app, pilot)
        table.display = False
        await pilot.pause()
        assert table.size.width == 0
        table.sync(messages("a much wider kind", long))  # another column grows meanwhile
        table.display = True
        lines = await drawn(app, pilot)
        assert sum(c.get_render_width(table) for c in table.ordered_columns) == 59
        assert not table.show_horizontal_scrollbar
        assert next(text for text, _ in lines if "m2" in text).rstrip().endswith("…")
