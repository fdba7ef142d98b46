"""SVG snapshots of the wide layout (issue 13 part 3) the 160x48 set of ``test_snapshots.py``
lacks: the queues beside a full-height history chart, a storage path's detail box, and the
machines | jobs view with the cursor on a job (baselines in ``__snapshots__/``, written with
``pytest --snapshot-update`` and reviewed in ``snapshot_report.html``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from console.screenshots import fixture_app, settle


def _compare(snap_compare: Any, schema: tuple[str, str], keys: tuple[str, ...], ready: str) -> bool:
    app = fixture_app(*schema)
    return bool(
        snap_compare(
            app, terminal_size=(160, 48), run_before=partial(settle, keys=keys, ready=ready)
        )
    )


def test_tasks_queues_beside_the_chart_at_160x48(
    snap_compare: Any, seeded_schema: tuple[str, str]
) -> None:
    assert _compare(snap_compare, seeded_schema, ("2",), "minutes before now")


def test_storage_path_detail_at_160x48(snap_compare: Any, seeded_schema: tuple[str, str]) -> None:
    assert _compare(snap_compare, seeded_schema, ("4", "enter"), "esc closes")


def test_machines_beside_their_jobs_at_160x48(
    snap_compare: Any, seeded_schema: tuple[str, str]
) -> None:
    assert _compare(snap_compare, seeded_schema, ("tab",), "6 jobs running")
