"""The console sets aside what it built before its first frame from the garbage collector's
full passes (gc.freeze: those passes walked every widget, style and module and paused the
event loop for hundreds of milliseconds), collects its youngest generation less often (each
refresh's snapshot was promoted to the oldest one and brought a full pass a second), and
gives both back when it closes."""

from __future__ import annotations

import gc
from typing import Any

from console import collector
from engine.harmonydb import DB
from support.probe import wait_until


async def test_frozen_after_the_first_frame_and_given_back_on_exit(
    cluster: DB, console_app: Any, first_render: Any
) -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    assert before[0] != collector.YOUNG_THRESHOLD
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await wait_until(lambda: gc.get_freeze_count() > 0, within=10, what="the freeze")
        assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, *collector.OLDER_THRESHOLDS)
        await pilot.pause()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_settle_twice_restores_the_first_settings() -> None:
    """Two consoles in one process (the tests): the settings saved are the process's own,
    not the first console's."""
    before = gc.get_threshold()
    try:
        collector.settle()
        collector.settle()
        collector.restore()
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
