"""The sections whose statements scan a table that grows with the cluster (the task queue's
counts per type, the sealing pipeline's summary) are read at every refresh only while a view on
screen shows them; otherwise every ``hidden_every`` seconds. This keeps the default pane's
refresh cheap on a big cluster (``harmony bench console``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.harmonydb import DB
from engine.snapshot import SnapshotReader

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

ADD_TASK = """
INSERT INTO harmony_task (id, name, posted_time, update_time, added_by)
VALUES ($1, 'SDR', $2, $2, 1)
"""

ADD_SECTOR = """
INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, create_time, reg_seal_proof)
VALUES (1000, $1, $2, 8)
"""


def pending(snap) -> int:  # type: ignore[no-untyped-def]
    return sum(t.pending for t in snap.queues.types)


async def test_hidden_sections_are_reread_every_hidden_every_shown_ones_every_time(
    db: DB,
) -> None:
    reader = SnapshotReader(db, hidden_every=10)
    first = await reader.snapshot(NOW, lists={"machines"})
    assert (pending(first), first.pipeline.in_progress) == (0, 0)
    statements = first.statements

    await db.exec(ADD_TASK, 1, NOW)
    await db.exec(ADD_SECTOR, 1, NOW)
    # Neither section on screen: carried over, and the refresh sends fewer statements.
    hidden = await reader.snapshot(NOW + timedelta(seconds=2), lists={"machines"})
    assert (pending(hidden), hidden.pipeline.in_progress) == (0, 0)
    assert hidden.statements < statements
    # The tasks pane on screen: its section is read at once, the pipeline's still waits.
    tasks = await reader.snapshot(NOW + timedelta(seconds=4), lists={"tasks"})
    assert (pending(tasks), tasks.pipeline.in_progress) == (1, 0)
    # A sector's detail (the "sectors" list) reads the pipeline too.
    sectors = await reader.snapshot(NOW + timedelta(seconds=6), lists={"sectors"})
    assert sectors.pipeline.in_progress == 1

    await db.exec(ADD_TASK, 2, NOW)
    await db.exec(ADD_SECTOR, 2, NOW)
    assert pending(await reader.snapshot(NOW + timedelta(seconds=8), lists=set())) == 1
    # hidden_every after the tasks pane's last read, both are read again unasked.
    late = await reader.snapshot(NOW + timedelta(seconds=16), lists=set())
    assert (pending(late), late.pipeline.in_progress) == (2, 2)
    # None (the CLI, a first refresh) reads everything.
    await db.exec(ADD_TASK, 3, NOW)
    assert pending(await reader.snapshot(NOW + timedelta(seconds=17))) == 3


async def test_the_first_refresh_reads_every_section_whatever_is_on_screen(db: DB) -> None:
    await db.exec(ADD_TASK, 1, NOW)
    await db.exec(ADD_SECTOR, 1, NOW)
    snap = await SnapshotReader(db).snapshot(NOW, lists=set())
    assert (pending(snap), snap.pipeline.in_progress) == (1, 1)
