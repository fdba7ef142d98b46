"""Every pane's ``/`` filter: the rows of the table it filters all contain the needle, and a
row that does not is gone (the panes' own watchers of the filter must not shadow the base's).
The events pane filters what happened, not the words on screen (its own test:
test_i13_events.py)."""

from __future__ import annotations

from typing import Any

from console.panes import PANE_KINDS
from engine.harmonydb import DB


def _rows(table: Any) -> list[str]:
    return [" ".join(c.plain for c in table.get_row(key)).lower() for key in table.keys]


async def test_the_filter_keeps_only_the_rows_that_contain_it_on_every_pane(
    cluster: DB, console_app: Any, first_render: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    filtered = []
    async with app.run_test(size=(160, 48)) as pilot:
        await first_render(app, pilot)
        for number, pane_id in enumerate(PANE_KINDS, start=1):
            if pane_id == "events":
                continue
            await pilot.press(str(number))
            await pilot.pause()
            pane = app.pane(pane_id)
            table = pane.filter_table
            if table is None or table.row_count < 2:
                continue
            rows = _rows(table)
            # a word of one row that another row lacks: typed as keys (letters, digits, dashes),
            # a name rather than an age (the events pane filters what happened, not its age)
            words = (
                w
                for row in rows
                for w in row.split()
                if w.replace("-", "").isalnum() and sum(c.isalpha() for c in w) >= 3
            )
            needle = next((w for w in words if any(w not in r for r in rows)), None)
            if needle is None:
                continue
            await pilot.press("slash", *needle)
            await pilot.pause()
            shown = _rows(pane.filter_table)
            assert shown and all(needle in row for row in shown), (pane_id, needle, shown)
            assert len(shown) == sum(needle in row for row in rows), (pane_id, needle)
            await pilot.press("escape")
            await pilot.pause()
            assert len(_rows(pane.filter_table)) == len(rows), pane_id
            filtered.append(pane_id)
    assert {"machines", "tasks", "pipeline", "jobs", "alerts"} <= set(filtered)
