"""The Curio read model's task section on Curio-shaped rows (support.curio_schema): queues by
type, Curio's retry waits, failures from history (a preemption is not one; a task Curio gave up
on is gone from harmony_task), the 24 h totals and per-minute chart, and the history list with
its filter; as the owner and as a role that may only SELECT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from engine.snapshot.curio import CurioSnapshotReader
from engine.snapshot.curio.tasks import RETRY_WAITS, chart_minutes, read_queues
from engine.snapshot.model import QueueSnap, TaskTypeSnap
from support.curio_read import curio_session, owner, read_with, seeded_at, select_only
from support.curio_schema import CurioCluster

SEAL, GPU, POST = "10.0.0.11:12300", "10.0.0.12:12300", "10.0.0.13:12300"
OOM = "error: computing snark: gpu out of memory"


async def queues_at(
    cluster: CurioCluster,
    now: datetime,
    *,
    url: str | None = None,
    history_filter: str | None = None,
    history_limit: int = 200,
    history_scan: int = 50_000,
    failed_limit: int = 200,
) -> QueueSnap:
    queues, _ = await read_with(
        cluster,
        lambda tx: read_queues(
            tx,
            now,
            history_filter=history_filter,
            history_limit=history_limit,
            history_scan=history_scan,
            failed_limit=failed_limit,
        ),
        url=url,
    )
    return queues


def types(q: QueueSnap) -> dict[str, TaskTypeSnap]:
    return {t.name: t for t in q.types}


async def add_task(
    conn: asyncpg.Connection,
    name: str,
    *,
    now: datetime,
    posted_ago: float,
    updated_ago: float,
    retries: int = 0,
) -> int:
    """A task as Curio leaves it after ``retries`` failures (recordCompletion: owner_id NULL,
    retries + 1, update_time = the failure's time), its times ``*_ago`` seconds before ``now``."""
    task_id: int = await conn.fetchval(
        "INSERT INTO harmony_task (name, added_by, posted_time, update_time, retries) "
        "VALUES ($1, 1, $2, $3, $4) RETURNING id",
        name,
        now - timedelta(seconds=posted_ago),
        now - timedelta(seconds=updated_ago),
        retries,
    )
    return task_id


async def attempt(
    conn: asyncpg.Connection,
    task_id: int,
    name: str,
    *,
    ended_at: datetime,
    took: float = 10,
    err: str = "",
    result: bool | None = None,
    host: str = SEAL,
) -> int:
    """One history row as recordCompletion writes it."""
    hid: int = await conn.fetchval(
        "INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, result, "
        "err, completed_by_host_and_port) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        task_id,
        name,
        ended_at - timedelta(seconds=took + 30),
        ended_at - timedelta(seconds=took),
        ended_at,
        (not err) if result is None else result,
        err,
        host,
    )
    return hid


# --------------------------------------------------------------------------- the seed


async def test_queue_as_seeded(curio_db: CurioCluster) -> None:
    assert curio_db.seed is not None
    now = await seeded_at(curio_db)
    q = await queues_at(curio_db, now)
    t = types(q)
    # harmony_task's types and the last day's history's, by name
    assert list(t) == sorted(
        ["SDR", "TreeD", "PoRep", "WdPost", "WdPostRecover", "SectorMetadata", "TreeRC",
         "SyntheticProofs", "PreCommitBatch", "WinPost"]
    )  # fmt: skip
    queue = {n: (x.pending, x.running, x.waiting) for n, x in t.items()}
    assert queue == {
        "SDR": (0, 1, 0),
        "TreeD": (1, 0, 0),
        "PoRep": (0, 1, 0),  # 2nd try, running: no back-off applies to a claimed task
        "WdPost": (0, 1, 0),
        "WdPostRecover": (1, 0, 0),
        "SectorMetadata": (1, 0, 0),
        "TreeRC": (0, 0, 0),
        "SyntheticProofs": (0, 0, 0),
        "PreCommitBatch": (0, 0, 0),
        "WinPost": (0, 0, 0),
    }
    assert (q.pending, q.running) == (3, 3)
    assert t["TreeD"].oldest_pending == now - timedelta(seconds=120)
    assert t["TreeD"].oldest_age == pytest.approx(120, abs=1e-3)
    assert t["SectorMetadata"].oldest_age == pytest.approx(30, abs=1e-3)
    assert (t["SDR"].oldest_pending, t["SDR"].oldest_age) == (None, None)


async def test_window_as_seeded(curio_db: CurioCluster) -> None:
    """Done and failed attempts of the last 24 h: the preempted TreeRC attempt is neither."""
    now = await seeded_at(curio_db)
    q = await queues_at(curio_db, now)
    t = types(q)
    assert q.window_hours == 24.0 and q.window_complete
    counts = {n: (x.done_24h, x.failed_24h) for n, x in t.items() if x.done_24h or x.failed_24h}
    assert counts == {
        "SDR": (1, 0),
        "TreeD": (1, 0),
        "TreeRC": (1, 0),  # one done, one preempted: not a failure
        "SyntheticProofs": (1, 0),
        "PreCommitBatch": (1, 0),
        "PoRep": (0, 1),
        "WinPost": (1, 0),
    }
    assert (q.done_24h, q.failed_24h) == (6, 1)
    means = {n: x.mean_seconds for n, x in t.items() if x.mean_seconds is not None}
    assert means == pytest.approx(
        {"SDR": 3000, "TreeD": 300, "TreeRC": 1200, "SyntheticProofs": 300,
         "PreCommitBatch": 20, "WinPost": 3}
    )  # fmt: skip
    assert t["PoRep"].mean_seconds is None  # its only attempt failed


async def test_gave_up_as_seeded(curio_db: CurioCluster) -> None:
    """The seed's failed PoRep attempt names task 1007, which is gone from harmony_task with
    no later attempt: Curio gave up on it (deleted at its failure limit)."""
    now = await seeded_at(curio_db)
    q = await queues_at(curio_db, now)
    assert [(f.id, f.name, f.retries, f.last_error) for f in q.failed_tasks] == [
        (1007, "PoRep", 1, OOM)
    ]
    assert q.failed_tasks[0].failed_at == now - timedelta(seconds=1700)
    assert q.failed_tasks[0].age == pytest.approx(1700, abs=1e-3)
    assert types(q)["PoRep"].failed == 1
    assert q.failed_total == 1
    assert sum(t.failed for t in q.types) == 1


async def test_chart_as_seeded(curio_db: CurioCluster) -> None:
    """Per minute over the last hour, the current minute last (as HistoryWindow.chart)."""
    now = await seeded_at(curio_db)
    q = await queues_at(curio_db, now)
    minutes = chart_minutes(now)
    assert q.chart.minutes == minutes
    assert len(minutes) == 60 and minutes[-1] == now.replace(second=0, microsecond=0)
    assert all(m.tzinfo is not None for m in minutes)
    done, failed = [0] * 60, [0] * 60
    # attempts that ended within the hour (seconds before the seed); TreeD (5000 s) and the
    # preempted TreeRC (4500 s) are older, and a preemption is never counted
    for ago, is_done in ((600, True), (3000, True), (2600, True), (2500, True), (1700, False),
                         (100, True)):  # fmt: skip
        end = (now - timedelta(seconds=ago)).replace(second=0, microsecond=0)
        (done if is_done else failed)[minutes.index(end)] += 1
    assert q.chart.done == tuple(done)
    assert q.chart.failed == tuple(failed)
    assert (sum(q.chart.done), sum(q.chart.failed)) == (5, 1)


async def test_history_as_seeded(curio_db: CurioCluster) -> None:
    assert curio_db.seed is not None
    now = await seeded_at(curio_db)
    q = await queues_at(curio_db, now)
    assert q.history_filter is None
    rows = [(h.name, h.task_id, h.outcome, h.result, h.err, h.host) for h in q.history]
    # newest first
    assert rows == [
        ("WinPost", 1008, "done", True, None, POST),
        ("SDR", 1001, "done", True, None, SEAL),
        ("PoRep", 1007, "failed", False, OOM, GPU),
        ("PreCommitBatch", 1006, "done", True, None, SEAL),
        ("SyntheticProofs", 1005, "done", True, None, SEAL),
        ("TreeRC", 1004, "done", True, None, SEAL),
        ("TreeRC", 1003, "preempted", False, "preempted", SEAL),
        ("TreeD", 1002, "done", True, None, SEAL),
    ]
    assert {h.id for h in q.history} == set(curio_db.seed.history)
    sdr = q.history[1]
    assert sdr.work_end == now - timedelta(seconds=600)
    assert sdr.duration == pytest.approx(3000)
    limited = await queues_at(curio_db, now, history_limit=2)
    assert [h.task_id for h in limited.history] == [1008, 1001]


async def test_history_filter(curio_db: CurioCluster) -> None:
    now = await seeded_at(curio_db)

    async def matching(text: str, **kw: int) -> list[int]:
        q = await queues_at(curio_db, now, history_filter=text, **kw)  # type: ignore[arg-type]
        assert q.history_filter == text
        return [h.task_id for h in q.history]

    assert await matching("preempted") == [1003]  # the outcome (and Curio's err)
    assert await matching("FAILED") == [1007]  # the outcome, case-insensitive
    assert await matching("out of memory") == [1007]  # the error
    assert await matching("treerc") == [1004, 1003]  # the name
    assert await matching("10.0.0.13") == [1008]  # the host
    assert await matching("1002") == [1002]  # a task id, exactly
    assert await matching("100") == []  # ...not a part of one
    assert await matching("%") == []  # LIKE's wildcards are literal
    assert await matching("_") == []
    # only the newest history_scan attempts are looked at
    assert await matching("SDR", history_scan=2) == [1001]
    assert await matching("TreeD", history_scan=2) == []
    assert await matching("done", history_limit=3) == [1008, 1001, 1006]


# --------------------------------------------------------------------------- Curio's rules


async def test_retry_wait_follows_curio(curio_db: CurioCluster) -> None:
    """A requeued failure is waiting while ``now - update_time <= RetryWait(retries)`` of its
    type (Curio takes it once strictly past); a type without a RetryWait never waits, nor does
    a task that never failed."""
    now = await seeded_at(curio_db)
    pending = (
        # (type, seconds since it was requeued, retries): PoRep waits min(1 s << retries, 2 min)
        ("PoRep", 5, 3),  # 8 s: waiting
        ("PoRep", 8, 3),  # at the edge: still waiting
        ("PoRep", 20, 3),  # ready
        ("PoRep", 100, 9),  # 512 s capped at 120 s: waiting
        # MoveStorage waits (2 << retries) s
        ("MoveStorage", 3, 1),  # 4 s: waiting
        ("MoveStorage", 5, 1),  # ready
        ("MoveStorage", 1000, 5000),  # huge: no interval overflows, waiting
        # TreeD has no RetryWait: it is retried at once
        ("TreeD", 0, 2),
        # SendMessage waits min(retries s, 10 s)
        ("SendMessage", 9, 999),  # waiting
        ("SendMessage", 11, 999),  # ready
    )
    async with owner(curio_db) as conn:
        for name, ago, retries in pending:
            await add_task(conn, name, now=now, posted_ago=900, updated_ago=ago, retries=retries)
    t = types(await queues_at(curio_db, now))
    assert (t["PoRep"].pending, t["PoRep"].waiting, t["PoRep"].running) == (4, 3, 1)
    assert (t["MoveStorage"].pending, t["MoveStorage"].waiting) == (3, 2)
    assert (t["TreeD"].pending, t["TreeD"].waiting) == (2, 0)
    assert (t["SendMessage"].pending, t["SendMessage"].waiting) == (2, 1)
    # 12 s later only the capped PoRep (120 s) and the huge MoveStorage wait are left
    t = types(await queues_at(curio_db, now + timedelta(seconds=12)))
    assert (t["PoRep"].waiting, t["MoveStorage"].waiting, t["SendMessage"].waiting) == (1, 1, 0)


def test_retry_waits_as_curio_computes_them() -> None:
    porep, move = RETRY_WAITS["PoRep"], RETRY_WAITS["MoveStorage"]
    assert [porep.seconds(r) for r in (1, 3, 6, 7, 40)] == [2, 8, 64, 120, 120]
    assert [move.seconds(r) for r in (0, 1, 5)] == [2, 4, 64]
    assert [RETRY_WAITS["SendMessage"].seconds(r) for r in (1, 10, 999)] == [1, 10, 10]
    assert RETRY_WAITS["ParkPiece"].seconds(2) == pytest.approx(11.25)
    assert RETRY_WAITS["ParkPiece"].seconds(20) == 60
    assert RETRY_WAITS["PDPv0_TermFWSS"].seconds(3) == 6
    assert RETRY_WAITS["bg:F3Participate"].seconds(4) == 60


async def test_failed_is_what_curio_gave_up_on(curio_db: CurioCluster) -> None:
    """A failure whose task is still queued is a retry, a failure followed by a success is not
    a failure any more, one older than the window is out of it; a task whose last attempt
    failed and whose row Curio deleted is failed, with its failed attempts counted (a
    preemption not among them)."""
    assert curio_db.seed is not None
    now = await seeded_at(curio_db)
    porep = curio_db.seed.running[1]
    async with owner(curio_db) as conn:
        # the running PoRep's first attempt failed: it was requeued, not given up
        await attempt(conn, porep, "PoRep", ended_at=now - timedelta(seconds=1000), err=OOM)
        # failed, then done on its second attempt
        await attempt(conn, 2001, "TreeD", ended_at=now - timedelta(seconds=900), err="error: x")
        await attempt(conn, 2001, "TreeD", ended_at=now - timedelta(seconds=800))
        # preempted, failed twice: given up (MaxFailures 2)
        await attempt(conn, 2002, "SDR", ended_at=now - timedelta(seconds=700), err="preempted")
        await attempt(conn, 2002, "SDR", ended_at=now - timedelta(seconds=600), err="error: a")
        await attempt(conn, 2002, "SDR", ended_at=now - timedelta(seconds=50), err="error: b")
        # 'unspecified error' is a failure too
        await attempt(conn, 2003, "SDR", ended_at=now - timedelta(seconds=40), result=False,
                      err="unspecified error")  # fmt: skip
        # given up 25 hours ago: outside the window
        await attempt(conn, 2004, "SDR", ended_at=now - timedelta(hours=25), err="error: old")
        # done with a non-failing error: done
        await attempt(conn, 2005, "SDR", ended_at=now - timedelta(seconds=30), result=True,
                      err="non-failing error: slow disk")  # fmt: skip
    q = await queues_at(curio_db, now)
    assert [(f.id, f.name, f.retries, f.last_error) for f in q.failed_tasks] == [
        (2003, "SDR", 1, "unspecified error"),
        (2002, "SDR", 2, "error: b"),
        (1007, "PoRep", 1, OOM),
    ]
    assert q.failed_tasks[1].failed_at == now - timedelta(seconds=50)
    t = types(q)
    assert (t["SDR"].failed, t["PoRep"].failed, t["TreeD"].failed) == (2, 1, 0)
    assert q.failed_total == 3
    # attempts: SDR seed done + 2002's two failures + 2003's + 2005 done (with its warning)
    assert (t["SDR"].done_24h, t["SDR"].failed_24h) == (2, 3)
    assert (t["TreeD"].done_24h, t["TreeD"].failed_24h) == (2, 1)
    assert (t["PoRep"].done_24h, t["PoRep"].failed_24h) == (0, 2)
    outcome = {(h.task_id, h.err): h.outcome for h in q.history}
    assert outcome[(2005, "non-failing error: slow disk")] == "done"
    assert outcome[(2002, "preempted")] == "preempted"
    assert outcome[(2003, "unspecified error")] == "failed"

    # the list is limited, the counts are not
    limited = await queues_at(curio_db, now, failed_limit=1)
    assert [f.id for f in limited.failed_tasks] == [2003]
    assert limited.failed_total == 3

    # restarted under its own id (Curio's RestartTaskByID): no longer failed
    async with owner(curio_db) as conn:
        await conn.execute(
            "INSERT INTO harmony_task (id, update_time, posted_time, added_by, name) "
            "VALUES (2002, now(), now(), 1, 'SDR')"
        )
    q = await queues_at(curio_db, now)
    assert [f.id for f in q.failed_tasks] == [2003, 1007]
    assert types(q)["SDR"].failed == 1


async def test_an_empty_cluster(curio_db: CurioCluster) -> None:
    async with owner(curio_db) as conn:
        await conn.execute("DELETE FROM harmony_task_singletons")
        await conn.execute("DELETE FROM harmony_task")
        await conn.execute("DELETE FROM harmony_task_history")
    now = datetime(2026, 8, 20, 12, 0, 30, tzinfo=UTC)
    q = await queues_at(curio_db, now)
    assert (q.types, q.failed_tasks, q.history, q.failed_total) == ((), (), (), 0)
    assert (q.done_24h, q.failed_24h, q.window_hours) == (0, 0, 24.0)
    assert q.chart.minutes[-1] == datetime(2026, 8, 20, 12, 0, tzinfo=UTC)
    assert q.chart.done == (0,) * 60 and q.chart.failed == (0,) * 60


# --------------------------------------------------------------------------- safety


async def test_a_select_only_role_reads_it(curio_db: CurioCluster) -> None:
    now = await seeded_at(curio_db)
    async with select_only(curio_db) as url:
        q = await queues_at(curio_db, now, url=url, history_filter="TreeRC")
    assert [h.task_id for h in q.history] == [1004, 1003]
    assert [f.id for f in q.failed_tasks] == [1007]
    assert (q.pending, q.running, q.done_24h, q.failed_24h) == (3, 3, 6, 1)


async def test_snapshot_tasks_section(curio_db: CurioCluster) -> None:
    """End to end: CurioSnapshotReader's tasks section has no error (sections other helpers
    are still writing may), with the filter passed through."""
    now = await seeded_at(curio_db)
    async with select_only(curio_db) as url, curio_session(curio_db, url=url, read_only=True) as db:
        reader = CurioSnapshotReader(db)
        snap = await reader.snapshot(now, history_filter="  preempted ")
    assert snap.error("tasks") is None, snap.errors
    assert snap.error("machines") is None, snap.errors
    q = snap.queues
    assert q.history_filter == "preempted"
    assert [h.task_id for h in q.history] == [1003]
    assert (q.pending, q.running, q.failed_total, q.done_24h, q.failed_24h) == (3, 3, 1, 6, 1)
    assert snap.task_type("TreeRC") is not None
    assert not reader.backfill_pending
