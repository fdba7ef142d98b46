"""The drain dialog's estimate comes from each running task's elapsed time and its type's
typical run time in history, and says when there is nothing to estimate from."""

from __future__ import annotations

from typing import Any

from console.screens.confirm import MachineActionScreen
from engine.harmonydb import DB


async def test_the_drain_dialog_estimates_from_history_and_says_what_it_cannot(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    # Node-a runs SDR 40 m, TreeRC 10 m, PoRep 3 m; the fixture's history has them done in
    # 20 s, 1 m and 1 m 20 s. PoRep's history goes: nothing to estimate it from.
    await cluster.exec("DELETE FROM harmony_task_history WHERE name = 'PoRep'")
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("d")
        await shows(app, pilot, "3 task(s) still running there")
        dialog = app.screen
        assert isinstance(dialog, MachineActionScreen)
        flat = " ".join(dialog.running_text().plain.split())
        assert "past their typical run time, expected to end any moment" in flat
        assert "no estimate for PoRep: none finished in the last 24 h" in flat
        assert "101 SDR running 40m, typically 20s" in flat
        assert "103 PoRep running 3m" in flat and "PoRep running 3m, typically" not in flat
        assert "~40m" not in flat  # not "as long again as it has run"
