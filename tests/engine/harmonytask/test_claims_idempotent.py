"""A claim whose reply is lost after the server committed it: sent again, it must return the
rows the first send took, never claim a second batch and strand the first on a live machine
that does not know it owns them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from engine.faults.pgproxy import PgProxy
from engine.harmonydb import DB
from engine.harmonytask import (
    EngineConfig,
    StillOwned,
    TaskID,
    TaskType,
    TaskTypeDetails,
    add_tasks,
    claims,
    cordon,
    drain,
    machines,
    request_restart,
    uncordon,
)
from engine.harmonytask.claims import CLAIM_IDS, CLAIM_IDS_AGAIN, Claimed, claim_by_type_sql
from support.probe import Probe, wait_until

#: manual heartbeats (so no peer reaps and nothing but the claim path can rescue a stranded
#: task) and small claim batches, so one engine makes many claims and loses many replies
SMALL_BATCHES = EngineConfig(
    heartbeat_interval=3600,
    machine_timeout=5,
    poll_interval=0.5,
    housekeeping_interval=3600,
    claim_batch=5,
)

#: text common to every claim statement (by type and by ids), before and after claim tokens
CLAIM_TEXT = "SET owner_id = $1, attempt = t.attempt + 1"


class Recorded(TaskType):
    """A type claimed by type (the default ``can_accept``) that records each run it owns."""

    def __init__(self, db: DB, machine: str, name: str = "recorded") -> None:
        self.db, self.machine, self.name = db, machine, name

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(name=self.name, retry_wait=lambda retries: 0.0)

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        if not await still_owned():
            return False
        await self.db.exec(
            "INSERT INTO probe_runs (task_id, type, machine) VALUES ($1, $2, $3)",
            task_id,
            self.name,
            self.machine,
        )
        return True


async def register(db: DB, name: str) -> tuple[int, str]:
    session = machines.new_session()
    machine_id = await machines.register(
        db,
        name,
        session=session,
        cpu=4,
        ram=1 << 30,
        gpu=0,
        machine_timeout=30,
        tasks=["probe"],
        machine_name=name,
        version="test",
    )
    return machine_id, session


async def owned_by(db: DB, machine_id: int) -> set[int]:
    rows = await db.select("SELECT id FROM harmony_task WHERE owner_id = $1", machine_id)
    return {r["id"] for r in rows}


async def test_a_claim_sent_twice_with_one_token_claims_once(probe_db: DB) -> None:
    """The first send claims under its token; a re-send (the _AGAIN form, as claims.py sends
    after a lost reply) returns those rows, however often it comes."""
    ids = await add_tasks(probe_db, "probe", 10)
    machine_id, session = await register(probe_db, "m")
    token = claims.new_token()
    args = (machine_id, session, token, [], "probe", 4)
    claim, claim_again = claim_by_type_sql(1), claim_by_type_sql(1, again=True)
    first = await probe_db.select(claim, *args, into=Claimed)
    again = await probe_db.select(claim_again, *args, into=Claimed)
    once_more = await probe_db.select(claim_again, *args, into=Claimed)
    assert len(first) == 4
    assert sorted(again, key=lambda c: c.id) == sorted(first, key=lambda c: c.id)
    assert sorted(once_more, key=lambda c: c.id) == sorted(first, key=lambda c: c.id)
    assert await owned_by(probe_db, machine_id) == {c.id for c in first}

    # by ids, likewise; a new token is a new claim
    token = claims.new_token()
    rest = [i for i in ids if i not in {c.id for c in first}]
    by_ids = (machine_id, session, rest, 3, token, [])
    first_ids = await probe_db.select(CLAIM_IDS, *by_ids, into=Claimed)
    again_ids = await probe_db.select(CLAIM_IDS_AGAIN, *by_ids, into=Claimed)
    assert [c.id for c in first_ids] == rest[:3]
    assert {c.id for c in again_ids} == set(rest[:3])
    assert {c.attempt for c in again_ids} == {1}
    assert len(await owned_by(probe_db, machine_id)) == 7


async def test_a_resend_whose_first_send_never_committed_claims(probe_db: DB) -> None:
    """The _AGAIN form under a token nothing holds (the first send was lost before it
    committed) claims like a first send: by type best first, by ids in the order given."""
    ids = await add_tasks(probe_db, "probe", 6)
    machine_id, session = await register(probe_db, "m")
    by_type = await probe_db.select(
        claim_by_type_sql(1, again=True),
        machine_id,
        session,
        claims.new_token(),
        [],
        "probe",
        2,
        into=Claimed,
    )
    assert sorted(c.id for c in by_type) == ids[:2]
    by_ids = await probe_db.select(
        CLAIM_IDS_AGAIN, machine_id, session, ids[:1:-1], 2, claims.new_token(), [], into=Claimed
    )
    assert sorted(c.id for c in by_ids) == sorted(ids[:1:-1][:2])
    assert {c.attempt for c in [*by_type, *by_ids]} == {1}
    assert await owned_by(probe_db, machine_id) == {c.id for c in [*by_type, *by_ids]}


async def test_a_claim_by_a_machine_declared_dead_claims_nothing(probe_db: DB) -> None:
    await add_tasks(probe_db, "probe", 3)
    machine_id, session = await register(probe_db, "m")
    await machines.unregister(probe_db, machine_id, session)
    assert await claims.claim_by_type(probe_db, machine_id, session, {"probe": 3}) == []
    assert await owned_by(probe_db, machine_id) == set()


@pytest.fixture
async def proxy(pg_url: str) -> AsyncIterator[PgProxy]:
    async with PgProxy.for_url(pg_url) as running:
        yield running


@pytest.fixture
async def proxied(proxy: PgProxy, pg_url: str, probe_db: DB) -> AsyncIterator[DB]:
    """The test's schema, through the proxy."""
    db = await DB.open(proxy.url(pg_url), schema=probe_db.schema, migrate=False)
    try:
        yield db
    finally:
        await db.close()


async def test_lost_claim_replies_strand_no_task_and_every_task_runs_once(
    probe_db: DB, proxied: DB, proxy: PgProxy, engines
) -> None:
    """30 % of one engine's claim replies are dropped after the server committed the claim."""
    rule = proxy.drop_reply("", count=None, probability=0.3, sql_contains=CLAIM_TEXT, seed=11)
    # "lossy" claims through the proxy, "clean" directly; both by type and by ids
    await engines(
        [Recorded(probe_db, "lossy"), Probe(probe_db, "lossy")],
        "lossy",
        db=proxied,
        config=SMALL_BATCHES,
    )
    by_type = await add_tasks(probe_db, "recorded", 100)
    by_ids = await add_tasks(probe_db, "probe", 100)
    await wait_until(lambda: rule.fired >= 5, 30, "claim replies to be dropped")
    await engines(
        [Recorded(probe_db, "clean"), Probe(probe_db, "clean")], "clean", config=SMALL_BATCHES
    )

    async def queue_empty() -> bool:
        return await probe_db.query_value("SELECT count(*) FROM harmony_task") == 0

    await wait_until(queue_empty, 60, "every task to be done (none stranded)")
    runs = await probe_db.select("SELECT task_id, count(*) AS n FROM probe_runs GROUP BY task_id")
    assert {r["task_id"]: r["n"] for r in runs} == dict.fromkeys([*by_type, *by_ids], 1)
    assert rule.fired >= 5


async def test_a_release_whose_reply_is_lost_is_sent_again(
    probe_db: DB, proxied: DB, proxy: PgProxy
) -> None:
    await add_tasks(probe_db, "probe", 1)
    machine_id, session = await register(probe_db, "m")
    (task,) = await claims.claim_by_type(probe_db, machine_id, session, {"probe": 1})
    rule = proxy.drop_reply("UPDATE", sql_contains="retry_after = CASE WHEN $4::float8")
    # the first send released it; the re-send, fenced, finds nothing left to release
    assert await claims.release(proxied, task.id, machine_id, task.attempt) is False
    assert rule.fired == 1
    assert await owned_by(probe_db, machine_id) == set()


async def test_a_cordoned_draining_or_restarting_machine_claims_nothing_at_once(
    probe_db: DB,
) -> None:
    """The flags count from their commit, not from the machine's next heartbeat: a claim that
    starts after a cordon, a drain or a restart request committed takes nothing."""
    (task_id,) = await add_tasks(probe_db, "probe", 1)
    machine_id, session = await register(probe_db, "m")
    for flag in (cordon, drain, request_restart):
        await flag(probe_db, machine_id)
        assert await claims.claim_by_type(probe_db, machine_id, session, {"probe": 1}) == []
        assert await claims.claim_ids(probe_db, machine_id, session, [task_id], 1) == []
        await uncordon(probe_db, machine_id)
    (task,) = await claims.claim_by_type(probe_db, machine_id, session, {"probe": 1})
    assert task.id == task_id
