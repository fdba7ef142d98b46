"""Why a task waits, and the sector drill-down, on a Curio cluster (Curio's rules: its nodes'
task lists, cordon and restart request, StorageBestAlloc's seal-path rule for SDR, its
RetryWait, its poller's update_time order), read as a SELECT-only session would."""

from __future__ import annotations

import asyncpg

from engine.harmonydb import parse_url
from engine.snapshot.sector_detail import read_sector_detail
from engine.snapshot.why import sector_why, why_waiting
from support.curio_read import curio_session
from support.curio_schema import SP_ID, CurioCluster


async def owner_exec(cluster: CurioCluster, sql: str, *args: object) -> object:
    """A write as Curio itself would make it (harmony's DB refuses to write a foreign schema)."""
    conn = await asyncpg.connect(parse_url(cluster.url).dsn)
    try:
        await conn.execute(f'SET search_path = "{cluster.schema}"')
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def test_curio_waits_machine_cordon_storage_retry_and_queue(curio_db: CurioCluster) -> None:
    seed = curio_db.seed
    assert seed is not None
    tree_d, recover, metadata = seed.pending
    async with curio_session(curio_db, read_only=True) as db:
        waits = await why_waiting(db, [*seed.pending, seed.running[0], 999_999])
    assert waits[tree_d].kind == "next"
    assert (
        waits[tree_d].text
        == "next in line: 1 schedulable Curio node runs TreeD; its next poll takes it"
    )
    assert waits[recover].kind == "cordoned"
    assert waits[recover].text.startswith(
        "every live Curio node that runs WdPostRecover takes no new work (#"
    )
    assert "is restarting): uncordon one" in waits[recover].text
    assert waits[metadata].kind == "no-machine"
    assert waits[metadata].text.startswith("no live Curio node runs SectorMetadata: ")
    assert waits[seed.running[0]].kind == "running"
    assert waits[999_999].kind == "gone"

    # an SDR task for a new sector, with the seal path almost full: Curio's HasCapacity says no
    sdr = await owner_exec(
        curio_db,
        "INSERT INTO harmony_task (name, added_by, posted_time) VALUES ('SDR', 1, now()) "
        "RETURNING id",
    )
    await owner_exec(
        curio_db,
        "INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, reg_seal_proof, task_id_sdr) "
        "VALUES ($1, 6, 8, $2)",
        SP_ID,
        sdr,
    )
    await owner_exec(
        curio_db,
        "UPDATE storage_path SET available = 100 * 1024 * 1024 * 1024::bigint WHERE can_seal",
    )
    async with curio_session(curio_db, read_only=True) as db:
        (w,) = await sector_why(db, SP_ID, 6)
    assert (w.task_id, w.kind) == (sdr, "storage")
    assert w.text == (
        "no storage path can hold its files: Curio's SDR asks for 451.2 GiB on a seal path (its "
        "cache, sized for a 32 GiB sector): no seal path has that much available (most: 100 GiB)"
    )
    # room again: a second SDR task now queues behind the first (update_time order)
    await owner_exec(curio_db, "UPDATE storage_path SET available = 3::bigint << 40 WHERE can_seal")
    later = await owner_exec(
        curio_db,
        "INSERT INTO harmony_task (name, added_by, posted_time, update_time) "
        "VALUES ('SDR', 1, now(), now() + interval '1 second') RETURNING id",
    )
    # a retried MoveStorage inside Curio's RetryWait ((2 << 6) s = 128 s after update_time)
    retried = await owner_exec(
        curio_db,
        "INSERT INTO harmony_task (name, added_by, posted_time, retries) "
        "VALUES ('MoveStorage', 1, now(), 6) RETURNING id",
    )
    async with curio_session(curio_db, read_only=True) as db:
        waits = await why_waiting(db, [sdr, later, retried])
    assert waits[sdr].kind == "next"
    assert waits[later].text == (
        "queued behind 1 other SDR task(s); 1 schedulable Curio node runs SDR"
    )
    assert waits[retried].kind == "backoff"
    assert waits[retried].text.startswith("retry wait: claimable again in ")
    assert waits[retried].text.endswith(
        "after 6 failed attempts (Curio's RetryWait for MoveStorage)"
    )


async def test_curio_sector_drilldown_is_read_only(curio_db: CurioCluster) -> None:
    """Sector 3 (PoRep on its 2nd try): Curio's files, its attempts from the history, the
    database's side only (the chain is the Lotus node's), and no resume offered."""
    async with curio_session(curio_db, read_only=True) as db:
        detail = await read_sector_detail(db, SP_ID, 3)
        failed = await read_sector_detail(db, SP_ID, 4)
    assert detail.foreign and detail.chain is None
    assert [(c.what, c.db, c.chain, c.agrees) for c in detail.comparisons[:2]] == [
        ("state", "precommitted", "-", None),
        ("CommR (sealed CID)", "bagboea4b5abcz3", "-", None),
    ]
    (spot,) = detail.files
    assert (spot.types, spot.can_seal, spot.local_path) == ("sealed, cache", True, None)
    assert spot.urls == ("http://10.0.0.11:12300/remote",)
    assert (
        detail.resume_refusal == "read-only on a Curio cluster (resume it with Curio's own tools)"
    )
    assert failed.resume_refusal == detail.resume_refusal  # even a failed one
    assert detail.waits == ()  # its PoRep task runs
    # every attempt its event log links, oldest first, with Curio's result as the outcome
    assert [(a.name, a.outcome) for a in detail.attempts] == [
        ("TreeD", "done"),
        ("TreeRC", "failed"),  # preempted: Curio records it as result false
        ("TreeRC", "done"),
        ("SyntheticProofs", "done"),
        ("PreCommitBatch", "done"),
        ("PoRep", "failed"),
    ]
    assert detail.attempts[-1].err == "error: computing snark: gpu out of memory"
