"""SVG snapshots of the sealing history view (``3`` then ``h``) at 80x24 and 160x48 on the
fixture cluster (the in-flight view's, narrow and wide, are test_snapshots.py's ``pipeline``).

Baselines live in ``__snapshots__/test_i13_sealing_snapshots/``; ``pytest --snapshot-update``
writes them (review ``snapshot_report.html`` first)."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from console.screenshots import fixture_app, settle


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_sealing_history_view(
    snap_compare: Any, seeded_schema: tuple[str, str], size: tuple[int, int]
) -> None:
    app = fixture_app(*seeded_schema)
    ready = partial(settle, keys=("3", "h"), ready="sealing history: newest")
    assert snap_compare(app, terminal_size=size, run_before=ready)
