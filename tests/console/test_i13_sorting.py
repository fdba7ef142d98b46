"""Sorting by any column (htop style) in every table: ``>`` the next column, ``<`` the
previous, ``S`` reverses; the header's arrow says which and how; the order survives every
refresh and is kept per table (per pane, per view) for the session."""

from __future__ import annotations

from typing import Any

import pytest

from console.widgets.keyed_table import KeyedTable, sort_value
from engine.harmonydb import DB


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("9", "10"),
        ("1,234", "12,000"),
        ("48ms", "2.05s"),
        ("2.05s", "45s"),
        ("59s", "1m"),
        ("9m05s", "12m"),
        ("59m", "1h05m"),
        ("23h59m", "2d04h"),
        ("3s ago", "lost 9s"),
        ("512M", "1.5T"),
        ("-00:01:00", " 00:00:30"),
        ("alpha", "Beta"),
        ("t01000:999", "t01000:1000"),  # digits in text as numbers
        ("node-9", "node-10"),
        ("99", "alpha"),  # numbers before words
        ("zeta", "-"),  # empty last
    ],
)
def test_cells_sort_by_what_they_say(smaller: str, larger: str) -> None:
    assert sort_value(smaller) < sort_value(larger)


def _column(table: KeyedTable, index: int) -> list[str]:
    return [table.get_row(key)[index].plain for key in table.keys]


def _labels(table: KeyedTable) -> list[str]:
    return [c.label.plain for c in table.columns.values()]


async def test_sort_keys_order_rows_show_an_arrow_and_survive_refreshes(
    cluster: DB, console_app: Any, first_render: Any, shows: Any, refreshed: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        machines = app.query_one("#machines-table", KeyedTable)
        given = machines.keys
        await pilot.press("s")  # not a sort key (the events pane's s is its own)
        assert machines.sort_column is None and machines.keys == given
        await pilot.press("greater_than_sign")  # by Machine, ascending
        names = _column(machines, 0)
        assert names == sorted(names, key=str.casefold)
        assert _labels(machines)[0] == "Machine\u2191"
        await pilot.press("S")  # descending
        assert _column(machines, 0) == sorted(names, key=str.casefold, reverse=True)
        assert _labels(machines)[0] == "Machine\u2193"
        order = machines.keys
        await refreshed(app, pilot)
        assert machines.keys == order and _labels(machines)[0] == "Machine\u2193"

        # the jobs pane: by Elapsed (5th column) with ``>``, the longest last
        await pilot.press("6")
        await shows(app, pilot, "6 jobs")
        jobs = app.query_one("#jobs-table", KeyedTable)
        for _ in range(5):
            await pilot.press("greater_than_sign")
        assert _labels(jobs)[4] == "Elapse\u2191"  # a fixed width gives up a letter, not the arrow
        assert jobs.keys == ["106", "104", "103", "102", "101", "105"]
        # the clock moves on and a refresh comes: the order holds
        app.clock.advance(30)
        await refreshed(app, pilot)
        assert jobs.keys == ["106", "104", "103", "102", "101", "105"]
        # Target: tasks without one come last, ascending or descending
        await pilot.press("less_than_sign", "less_than_sign")
        assert _labels(jobs)[2] == "Target\u2191"
        targets = _column(jobs, 2)
        assert targets == ["t01000:1000", "t01000:1002", "t01000:1006", "-", "-", "-"]
        await pilot.press("S")
        assert _column(jobs, 2) == ["t01000:1006", "t01000:1002", "t01000:1000", "-", "-", "-"]

        # remembered per pane: back to the machines, still by Machine, descending
        await pilot.press("1")
        await pilot.pause()
        assert machines.keys == order
        # past the last column, back to the pane's own order, arrow gone
        for _ in range(len(machines.columns)):
            machines.action_sort(1)
        await pilot.pause()
        assert machines.sort_column is None and machines.keys == given
        assert "\u2191" not in "".join(_labels(machines))
        assert "\u2193" not in "".join(_labels(machines))


async def test_each_view_of_a_pane_keeps_its_own_sort(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("2")
        await shows(app, pilot, "queue:")
        types = app.query_one("#types-table", KeyedTable)
        await pilot.press("greater_than_sign", "greater_than_sign")  # by Pending
        pending = [int(v.replace(",", "")) for v in _column(types, 1)]
        assert pending == sorted(pending)
        await pilot.press("f")
        await shows(app, pilot, "RuntimeError")
        failed = app.query_one("#failed", KeyedTable)
        assert failed.sort_column is None
        await pilot.press("S")  # by Task ID, descending
        assert _column(failed, 0) == ["302", "301"]
        await pilot.press("t")
        await pilot.pause()
        assert types.sort_column == 1 and not types.sort_reverse
        assert [int(v.replace(",", "")) for v in _column(types, 1)] == pending
