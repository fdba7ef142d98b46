"""A real primary failover under load: engines and the console ride it out, no task lost or
done twice.

A PostgreSQL primary and its synchronous hot standby (:mod:`support.replica_pair`) on loopback;
two production :class:`~engine.harmonytask.TaskEngine` s and a console feed on the multi-host
URL ``postgresql://…@primary,standby/db?target_session_attrs=read-write`` (asyncpg skips a
host that refuses or that is a standby). Tasks are added in keyed batches all along; the primary
is SIGKILLed mid-load (with every backend: a host lost), the standby promoted, and the test
checks what an operator would: each engine claims again within 10 s of the promotion, the
console refreshes again by itself, and every task an add reported is done exactly once.

Adds whose commit was in flight at the kill are sent again under their key until the answer
is known (``AddOutcomeUnknown``: the recovery ``harmony task add`` tells operators to use), so
"added" is exact. The probe's side effect (a ``probe_runs`` row) is an autocommit write made
after ``still_owned()``; it can happen twice only for an attempt that was running when the
primary died (its completion never committed, so the task runs again): those are counted and
must predate the kill.

The figures are printed (``-s``) and kept in the README under the robustness figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator

import pytest

from console.connection import DatabaseLink, Target, open_link
from console.feed import Feed, FeedState
from engine.clock import SystemClock
from engine.harmonydb import DB, HarmonyDBError, ReadOnlyError
from engine.harmonytask import EngineConfig, StillOwned, TaskEngine, TaskID
from engine.harmonytask.admin import add_tasks
from engine.harmonytask.claims import AddOutcomeUnknown
from engine.resources import GiB, Resources
from support.probe import PROBE_TABLE, Probe, wait_until
from support.replica_pair import ReplicaPair, binaries_or_reason

SCHEMA = "harmony"
#: heartbeats every second and a short safety poll: the figures are about the database, not
#: about how long an idle engine sleeps
CONFIG = EngineConfig(heartbeat_interval=1.0, poll_interval=1.0, claim_batch=4)
RESUME_WITHIN = 10.0
#: from the kill to the promotion: a failover manager's detection time, shortened
DETECTION = 1.5


@pytest.fixture(scope="module")
def pair() -> Iterator[ReplicaPair]:
    binaries, why = binaries_or_reason()
    if binaries is None:
        pytest.skip(f"no primary/standby pair: {why}")
    server = ReplicaPair(binaries)
    try:
        yield server
    finally:
        server.destroy()


class TimedProbe(Probe):
    """A probe that keeps every start (``start_times`` keeps only a task's last)."""

    def __init__(self, db: DB, machine: str, **details: object) -> None:
        super().__init__(db, machine, **details)
        self.starts: list[tuple[int, float]] = []

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        self.starts.append((task_id, time.monotonic()))
        return await super().do(task_id, still_owned)


class Adder:
    """Keyed adds of ``batch`` probe tasks every ``every`` seconds, each sent again under its
    key until its outcome is known."""

    def __init__(self, db: DB, key_prefix: str, batch: int = 10, every: float = 0.02) -> None:
        self.db, self.key_prefix, self.batch, self.every = db, key_prefix, batch, every
        self.added: list[int] = []
        self.unknown = self.resent = self.refused = 0
        self.stop = asyncio.Event()

    async def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            key = f"failover-{self.key_prefix}-{n}"
            while True:
                try:
                    self.added += await add_tasks(self.db, "probe", self.batch, key=key)
                    break
                except AddOutcomeUnknown:
                    self.unknown += 1
                except ReadOnlyError:
                    self.refused += 1  # a session on the standby: what the URL is to prevent
                except HarmonyDBError:
                    self.resent += 1
                await asyncio.sleep(0.1)
            await asyncio.sleep(self.every)


async def test_a_read_only_console_opens_on_the_primary_of_a_failover_url(
    pair: ReplicaPair,
) -> None:
    """asyncpg judges ``read-write`` by the session's own ``default_transaction_read_only``,
    which a read-only session sets: without asking for the primary instead, a ``--read-only``
    console (or any session on a Curio cluster) refused every host of this URL."""
    await (await DB.open(pair.url, schema=SCHEMA)).close()  # the schema, migrated
    link = await open_link(
        Target(url=pair.url, schema=SCHEMA, read_only=True, migrate=False), lambda: None
    )
    try:
        assert await link.db.query_value("SELECT pg_is_in_recovery()") is False
        assert await link.db.query_value("SHOW default_transaction_read_only") == "on"
        assert link.listener is not None and link.listener.connected
    finally:
        await link.close()


async def test_a_killed_primary_and_a_promoted_standby_lose_and_repeat_nothing(
    pair: ReplicaPair,
) -> None:
    url = pair.url
    admin = await DB.open(url, schema=SCHEMA)
    await admin.exec(PROBE_TABLE)
    dbs = [await DB.open(url, schema=SCHEMA, migrate=False) for _ in range(4)]
    engines: list[TaskEngine] = []
    probes: list[TimedProbe] = []
    feed_task: asyncio.Task[None] | None = None
    adder_tasks: list[asyncio.Task[None]] = []
    try:
        for i, db in enumerate(dbs[:2]):
            probe = TimedProbe(db, f"e{i}", max=4)
            probes.append(probe)
            engines.append(
                await TaskEngine.new(
                    [probe],
                    f"127.0.0.1:{41000 + i}",
                    db,
                    config=CONFIG,
                    capacity=Resources(cpu=4, ram=8 * GiB, gpu=0),
                )
            )
        states: list[tuple[float, FeedState]] = []
        notices: list[float] = []
        snapshots: list[float] = []

        def connect(notice: Callable[[], None]) -> Awaitable[DatabaseLink]:
            def heard() -> None:
                notices.append(time.monotonic())
                notice()

            return open_link(Target(url=url, schema=SCHEMA, migrate=False), heard)

        feed: Feed[DatabaseLink] = Feed(
            SystemClock(),
            connect,
            on_snapshot=lambda snap: snapshots.append(time.monotonic()),
            on_state=lambda state: states.append((time.monotonic(), state)),
            refresh_s=1.0,
        )
        feed_task = asyncio.create_task(feed.run())
        adders = [Adder(db, key_prefix=f"a{i}") for i, db in enumerate(dbs[2:])]
        adder_tasks = [asyncio.create_task(a.run()) for a in adders]

        # Under load: both engines working, the console refreshing.
        await wait_until(lambda: all(len(p.started) >= 20 for p in probes), within=10, what="load")
        await wait_until(lambda: feed.refreshes >= 1, within=10, what="a console refresh")

        killed_at = time.monotonic()
        kill_s = await asyncio.to_thread(pair.kill_primary)
        # A failover manager takes a while to decide; meanwhile the only server up is a
        # standby, which a read-write URL must not settle on.
        await asyncio.sleep(DETECTION)
        promote_s = await asyncio.to_thread(pair.promote)
        promoted_at = time.monotonic()
        refreshes_at_promotion = feed.refreshes

        def first_start_after(probe: TimedProbe, moment: float) -> float | None:
            later = [at for _, at in probe.starts if at >= moment]
            return min(later) - moment if later else None

        await wait_until(
            lambda: all(first_start_after(p, promoted_at) is not None for p in probes),
            within=RESUME_WITHIN / 3,  # wait_until stretches by PATIENCE (3 by default)
            what="every engine claiming again after the promotion",
        )
        resumed = [first_start_after(p, promoted_at) for p in probes]
        await wait_until(
            lambda: feed.refreshes > refreshes_at_promotion and feed.state.error is None,
            within=RESUME_WITHIN / 3,
            what="the console refreshing again",
        )
        # The console's LISTEN connection is back, on the new primary, and hears the cluster.
        await wait_until(
            lambda: (
                feed.link is not None
                and feed.link.listener is not None
                and feed.link.listener.connected
                and any(t >= promoted_at for t in notices)
            ),
            within=RESUME_WITHIN / 3,
            what="the console's notifications after the promotion",
        )
        heard_s = min(t for t in notices if t >= promoted_at) - promoted_at
        console_s = min(t for t in snapshots if t >= promoted_at) - promoted_at
        errors_shown = sum(1 for t, state in states if t >= killed_at and state.error)
        for db in [*dbs, feed.link.db]:  # every pool now talks to the promoted standby
            assert await db.query_value("SELECT inet_server_port()") == pair.standby_port
        await asyncio.sleep(1.0)  # more adds on the new primary
        for adder in adders:
            adder.stop.set()
        await asyncio.wait_for(asyncio.gather(*adder_tasks), 30)
        added = {t for adder in adders for t in adder.added}
        in_doubt = sum(a.unknown for a in adders)
        resent = sum(a.resent for a in adders)
        refused = sum(a.refused for a in adders)

        async def drained() -> bool:
            left = await admin.query_value("SELECT count(*) FROM harmony_task WHERE name = 'probe'")
            return left == 0

        await wait_until(drained, within=10, what="the queue to drain")

        done = Counter(
            int(r["task_id"])
            for r in await admin.select(
                "SELECT task_id FROM harmony_task_history WHERE name = 'probe' AND outcome = 'done'"
            )
        )
        runs = await admin.select(
            "SELECT task_id, count(*) AS n, min(at) AS first FROM probe_runs GROUP BY task_id"
        )
        ran = {int(r["task_id"]): int(r["n"]) for r in runs}
        in_db = {
            int(r["task_id"])
            for r in await admin.select(
                "SELECT DISTINCT task_id FROM harmony_task_history WHERE name = 'probe'"
            )
        }
        twice = sorted(t for t, n in ran.items() if n > 1)
        lost = sorted(t for t in added if done[t] == 0)
        done_twice = sorted(t for t in added if done[t] > 1)
        print(
            f"\nfailover: {len(added)} tasks added ({in_doubt} adds in doubt, "
            f"{resent} failed and resent, {refused} refused read-only); "
            f"kill {kill_s * 1000:.0f} ms, promotion "
            f"{promote_s * 1000:.0f} ms; first claim after promotion per engine: "
            + ", ".join(f"{r * 1000:.0f} ms" for r in resumed if r is not None)
            + f"; console: first refresh after promotion {console_s * 1000:.0f} ms "
            f"({errors_shown} errors shown), hearing "
            f"notifications after {heard_s * 1000:.0f} ms; "
            f"done once {sum(1 for t in added if done[t] == 1)}, twice {len(done_twice)}, "
            f"lost {len(lost)}; side effect twice {len(twice)} (attempts cut by the kill)"
        )
        assert refused == 0, "an add was sent to the standby"
        assert lost == []
        assert done_twice == []
        assert in_db == added, "a task in history that no add reported (an add applied twice)"
        assert all(r is not None and r <= RESUME_WITHIN for r in resumed)
        # A second run only of an attempt in flight when the primary died (its side effect
        # made, its completion never committed), never of work started afterwards.
        first_start = {
            t: min(at for p in probes for tid, at in p.starts if tid == t) for t in twice
        }
        history = await admin.select(
            "SELECT task_id, outcome, completed_by_host_and_port AS machine, work_start "
            "FROM harmony_task_history WHERE task_id = ANY($1::bigint[]) ORDER BY work_start",
            twice,
        )
        gone_at = killed_at + kill_s  # the primary's processes all dead
        assert all(first_start[t] <= gone_at for t in twice), (first_start, gone_at, history)
        assert len(twice) <= sum(4 for _ in engines)
        assert all(not e.exit_code.done() for e in engines), "an engine gave up"
    finally:
        for task in adder_tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if feed_task is not None:
            feed_task.cancel()
            with contextlib.suppress(BaseException):
                await feed_task
            await feed.close()
        for engine in engines:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(engine.stop_now(), 10)
        for db in [*dbs, admin]:
            await db.close()
