"""The console sets aside what it built before its first frame from the garbage collector's
full passes (gc.freeze: those passes walked every widget, style and module and paused the
event loop for hundreds of milliseconds), and gives it back when it closes."""

from __future__ import annotations

import gc
from typing import Any

from engine.harmonydb import DB
from support.probe import wait_until


async def test_frozen_after_the_first_frame_and_given_back_on_exit(
    cluster: DB, console_app: Any, first_render: Any
) -> None:
    gc.unfreeze()
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await wait_until(lambda: gc.get_freeze_count() > 0, within=10, what="the freeze")
        await pilot.pause()
    assert gc.get_freeze_count() == 0
