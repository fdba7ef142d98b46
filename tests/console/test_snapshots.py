"""SVG snapshots of every pane and view (the dialogs and detail screens, the sealing history,
machines beside their jobs from 160 columns) at 80x24 and 160x48, against a real
PostgreSQL seeded with the fixture cluster and a clock frozen at its instant.

Baselines live in ``__snapshots__/test_snapshots/``; ``pytest --snapshot-update`` rewrites them
(review ``snapshot_report.html`` first). ``harmony screenshots`` draws the same views.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from console.screenshots import SHOTS, fixture_app, settle

BY_NAME = {shot.name: shot for shot in SHOTS}


def _compare(snap_compare: Any, schema: tuple[str, str], name: str, size: tuple[int, int]) -> bool:
    shot = BY_NAME[name]
    app = fixture_app(*schema)
    return bool(
        snap_compare(
            app,
            terminal_size=size,
            run_before=partial(settle, keys=shot.keys, ready=shot.ready),
        )
    )


#: every pane and view (the wide shots are the 160x48 ones of their panes)
VIEWS = [shot.name for shot in SHOTS if shot.size is None]


@pytest.mark.parametrize("name", VIEWS)
def test_view_at_80x24(snap_compare: Any, seeded_schema: tuple[str, str], name: str) -> None:
    assert _compare(snap_compare, seeded_schema, name, (80, 24))


@pytest.mark.parametrize("name", [*VIEWS, "wide-machines"])
def test_view_at_160x48(snap_compare: Any, seeded_schema: tuple[str, str], name: str) -> None:
    assert _compare(snap_compare, seeded_schema, name, (160, 48))
