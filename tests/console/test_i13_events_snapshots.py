"""SVG snapshots of the Events pane at 80x24 and 160x48, on the fixture cluster with the clock
frozen at its instant (its failed attempts, failed sectors and won blocks).

Baselines: ``__snapshots__/test_i13_events_snapshots/`` (made by the lead with
``--snapshot-update`` once every pane of this round is in; until then these tests fail).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from console.panes import PANE_TITLES
from console.screenshots import Shot, fixture_app, settle

KEY = str(list(PANE_TITLES).index("events") + 1)
SHOT = Shot("events", (KEY,), "events:", f"{KEY} Events")


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_events_pane(
    snap_compare: Any, seeded_schema: tuple[str, str], size: tuple[int, int]
) -> None:
    app = fixture_app(*seeded_schema)
    assert snap_compare(
        app, terminal_size=size, run_before=partial(settle, keys=SHOT.keys, ready=SHOT.ready)
    )
