"""What a refresh costs the UI: a new snapshot announces new key bindings only when what the
keys offer changed. Textual's ``bindings=True`` on every pane's ``snapshot`` refreshed the
bindings once per pane at every refresh, and Textual's footer rebuilt all its keys each time:
most of the console's CPU, its event-loop lag and slow pane switches (``harmony bench
console``)."""

from __future__ import annotations

from typing import Any

from engine.harmonydb import DB
from support.probe import wait_until


async def test_a_refresh_that_changes_no_offer_announces_no_bindings(
    cluster: DB, console_app: Any, first_render: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.pause(0.2)
        announced: list[object] = []
        app.screen.bindings_updated_signal.subscribe(app.screen, announced.append)
        for _ in range(3):
            before = app.feed.refreshes
            app.clock.advance(2)
            app.refresh_now()
            await wait_until(lambda b=before: app.feed.refreshes > b, 10, "a refresh")
            await pilot.pause(0.1)
        assert announced == []
