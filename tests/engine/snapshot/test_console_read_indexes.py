"""The console's bounded reads use their indexes (sql/20261203-03-console-read-indexes.sql) on
a queue big enough for the planner to prefer them."""

from __future__ import annotations

import json

from engine.harmonydb import DB
from engine.snapshot.reader import FAILED_TASKS


async def test_the_failed_list_reads_the_failed_tasks_index_not_the_queue(db: DB) -> None:
    await db.exec(
        """
INSERT INTO harmony_task (id, name, posted_time, update_time, added_by, failed_at, last_error)
SELECT g, 'SDR', now(), now(), 1,
       CASE WHEN g % 200 = 0 THEN now() - g * interval '1 second' END,
       CASE WHEN g % 200 = 0 THEN 'boom' END
  FROM generate_series(1, 20000) AS g
"""
    )
    await db.exec("ANALYZE harmony_task")
    plan = json.dumps(await db.select("EXPLAIN (FORMAT JSON) " + FAILED_TASKS, 200))
    assert "harmony_task_failed" in plan
    assert "Seq Scan" not in plan
    rows = await db.select(FAILED_TASKS, 200)
    assert [r["id"] for r in rows[:2]] == [200, 400]  # newest failure first
