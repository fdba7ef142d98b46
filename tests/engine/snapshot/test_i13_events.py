"""The cluster's events (issue 13, the Events pane and ``harmony events``): each kind produced by
the real action (a machine joins, is cordoned, drained, declared dead by a peer, leaves; a task
fails and is restarted; a sector fails and is resumed), each engine-written event recorded once
however often its write is sent, and the read bounded, newest first, filterable by kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine.chain import DEVNET, create_miner, init_chain
from engine.chain.actor import Execution, deadline_cron
from engine.harmonydb import DB
from engine.harmonytask import (
    EngineConfig,
    add_tasks,
    cordon,
    drain,
    request_restart,
    restart_task,
    uncordon,
)
from engine.harmonytask.housekeeping import housekeeping
from engine.snapshot import SnapshotReader
from engine.snapshot.events import EventsSnap, read_events, select_events
from engine.tasks.seal.pipeline import mark_failed, resume_sector
from support.probe import Probe, wait_until


async def events(db: DB, kind: str | None = None) -> EventsSnap:
    return await read_events(db, datetime.now(UTC), window=3600, limit=500, kind=kind)


async def kinds(db: DB) -> list[str]:
    """The kinds read, oldest first."""
    return [e.kind for e in reversed((await events(db)).events)]


async def expire(db: DB, machine_id: int) -> None:
    """The machine's last heartbeat is long past the timeout (as if it was killed)."""
    await db.exec(
        "UPDATE harmony_machines SET last_contact = now() - interval '1 hour' WHERE id = $1",
        machine_id,
    )


async def test_a_drain_asked_again_after_the_machine_drained_keeps_its_one_event(
    probe_db: DB, engines
) -> None:
    """A re-sent drain request (its first reply lost) after the machine recorded itself
    drained: still drained, and one 'machine-drained' event (the second request reset the
    record, and the machine recorded it, and its event, again)."""
    engine = await engines([Probe(probe_db, "m")], "worker-1")
    await drain(probe_db, engine.machine_id)
    await engine.beat()  # nothing runs there: drained
    await drain(probe_db, engine.machine_id)
    await engine.beat()
    assert (await kinds(probe_db)).count("machine-drained") == 1
    drained_at = await probe_db.query_value(
        "SELECT drained_at FROM harmony_machines WHERE id = $1", engine.machine_id
    )
    assert drained_at is not None


async def test_a_machines_life_is_one_event_per_change(probe_db: DB, engines) -> None:
    engine = await engines([Probe(probe_db, "m")], "worker-1")
    mid = engine.machine_id
    await cordon(probe_db, mid)
    await cordon(probe_db, mid)  # sent again (a lost reply): no second event
    await uncordon(probe_db, mid)
    await drain(probe_db, mid)
    await drain(probe_db, mid)
    await engine.beat()  # nothing runs there: the machine records it is drained

    async def drained() -> bool:
        return "machine-drained" in await kinds(probe_db)

    await wait_until(drained, 5, "the drained event")
    await engine.graceful_terminate()
    # (a live engine exits at once on a restart request when idle: asked of the row it left)
    await request_restart(probe_db, mid)
    await request_restart(probe_db, mid)
    await uncordon(probe_db, mid)
    assert await kinds(probe_db) == [
        "machine-joined",
        "machine-cordoned",
        "machine-uncordoned",
        "machine-drain",
        "machine-drained",
        "machine-left",
        "machine-restart",
        "machine-uncordoned",
    ]
    snap = await events(probe_db)
    assert {e.machine for e in snap.events} == {"worker-1"}
    assert {e.machine_id for e in snap.events} == {mid}
    joined = snap.events[-1]
    assert joined.message.startswith("worker-1 joined (version ")
    assert joined.message.endswith(", 1 task type)")  # it runs probe
    assert snap.events[0].message.endswith("(drain and restart cancelled)")
    assert snap.events[-3].message == "uncordoned: schedulable again"
    # a restarted process rejoins: one more joined event, said so
    again = await engines([Probe(probe_db, "m")], "worker-1")
    assert again.machine_id == mid
    newest = (await events(probe_db)).events[0]
    assert newest.kind == "machine-joined" and "rejoined" in newest.message


async def test_a_peer_declares_a_silent_machine_dead_once(probe_db: DB, engines) -> None:
    victim_probe = Probe(probe_db, "v", block=True)
    victim = await engines([victim_probe], "victim")
    (task_id,) = await add_tasks(probe_db, "probe", 1)
    await wait_until(lambda: victim_probe.started == [task_id], 5)
    peer = await engines([Probe(probe_db, "p", "other")], "peer")
    await expire(probe_db, victim.machine_id)  # killed: no heartbeat since
    await peer.beat()
    await peer.beat()  # the next beat finds nobody new to declare dead
    dead = (await events(probe_db, "machine-dead")).events
    assert len(dead) == 1
    (event,) = dead
    assert event.machine == "victim" and event.machine_id == victim.machine_id
    assert f"declared dead by machine {peer.machine_id}" in event.message
    assert "1 running task(s) returned to the queue" in event.message
    assert event.failure
    # its running attempt is a lost-task event, from history
    (lost,) = (await events(probe_db, "task-lost")).events
    assert lost.task_id == task_id and lost.machine == "victim"
    assert "stopped heartbeating" in lost.message


async def test_a_failed_task_and_its_restart(probe_db: DB, engines) -> None:
    failing = Probe(probe_db, "m", "flaky", fail=True, max_failures=2)
    await engines([failing], "worker-f", config=EngineConfig(poll_interval=0.05))
    (task_id,) = await add_tasks(probe_db, "flaky", 1)

    async def gave_up() -> bool:
        return bool((await events(probe_db, "task-failed")).events)

    await wait_until(gave_up, 10, "the task to fail for good")
    tasks = select_events((await events(probe_db)).events, kind="tasks")
    assert [e.kind for e in tasks] == ["task-failed", "task-retry"]
    assert all(e.task_id == task_id and e.task_name == "flaky" for e in tasks)
    assert all(e.machine == "worker-f" and e.failure for e in tasks)
    assert tasks[0].subject == f"flaky {task_id}"
    await restart_task(probe_db, task_id)
    restarted = (await events(probe_db, "task-restarted")).events
    assert [(e.task_id, e.task_name) for e in restarted] == [(task_id, "flaky")]
    assert not restarted[0].failure


SECTOR = """
INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, create_time, reg_seal_proof)
VALUES (1000, $1, now(), 0)
"""


async def test_a_failed_sector_and_its_resume(db: DB) -> None:
    await db.exec(SECTOR, 7)
    assert await mark_failed(db, 1000, [7], "ticket", "ticket expired\nsecond line") == 1
    await mark_failed(db, 1000, [7], "ticket", "again")  # already failed: nothing new
    (failed,) = (await events(db, "sectors")).events
    assert failed.kind == "sector-failed" and failed.subject == "t01000 s7"
    assert failed.message == "ticket: ticket expired\nsecond line"
    assert failed.line == "ticket: ticket expired second line"
    resumed = await resume_sector(db, 1000, 7)
    (event,) = (await events(db, "sectors")).events  # resumed: no longer failed
    assert event.kind == "sector-resumed" and event.message == resumed.description
    assert (event.sp_id, event.sector_number) == (1000, 7)


async def test_post_and_blocks_come_from_their_tables(db: DB) -> None:
    now = datetime.now(UTC)
    await db.exec(
        "INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, result, "
        "completed_by_host_and_port, outcome, machine_id, attempt) VALUES "
        "(50, 'WdPostSubmit', $1, $1, $1, TRUE, 'post-1', 'done', NULL, 1), "
        "(51, 'WdPostRecover', $1, $1, $2, TRUE, 'post-1', 'done', NULL, 1), "
        "(52, 'WdPostSubmit', $1, $1, $2, TRUE, 'post-1', 'retry', NULL, 1)",
        now - timedelta(minutes=5),
        now - timedelta(minutes=4),
    )
    await db.exec(
        'INSERT INTO wdpost_proofs (sp_id, proving_period_start, deadline, "partition", '
        "submit_at_epoch, submit_by_epoch, submit_task_id, message_cid) "
        "VALUES (1000, 100, 3, 0, 1, 2, 50, 'bafy-submit')"
    )
    await db.exec(
        "INSERT INTO wdpost_recovery_tasks (task_id, sp_id, proving_period_start, "
        "deadline_index, partition_index, message_cid) VALUES (51, 1000, 100, 5, 1, 'bafy-rec')"
    )
    await db.exec(
        "INSERT INTO mining_tasks (task_id, sp_id, epoch, base_compute_time, won, included) "
        "VALUES (60, 1000, 10, $1, TRUE, TRUE), (61, 1000, 11, $2, TRUE, FALSE), "
        "(62, 1000, 12, $2, FALSE, NULL)",
        now - timedelta(minutes=3),
        now - timedelta(minutes=2),
    )
    snap = await events(db)
    by_kind = {e.kind: e for e in snap.events}
    assert [e.kind for e in snap.events] == [
        "block-missed",
        "block-won",
        "task-retry",  # a retried submit attempt is a failure, not a submission
        "post-recovery",
        "post-submitted",
    ]
    assert by_kind["post-submitted"].subject == "t01000 dl3 p0"
    assert "bafy-submit" in by_kind["post-submitted"].message
    assert by_kind["post-recovery"].subject == "t01000 dl5 p1"
    assert by_kind["block-missed"].failure and not by_kind["block-won"].failure
    assert "epoch 11" in by_kind["block-missed"].message
    assert [e.kind for e in (await events(db, "blocks")).events] == ["block-missed", "block-won"]
    assert [e.kind for e in (await events(db, "post")).events] == [
        "post-recovery",
        "post-submitted",
    ]


async def test_the_read_is_bounded_newest_first_and_windowed(db: DB) -> None:
    now = datetime.now(UTC)
    await db.exec(
        "INSERT INTO cluster_events (at, kind, machine, message) "
        "SELECT $1::timestamptz - make_interval(mins => n), 'machine-cordoned', 'm' || n, '' "
        "FROM generate_series(1, 30) AS n",
        now,
    )
    snap = await read_events(db, now, window=600, limit=5)
    assert [e.machine for e in snap.events] == ["m1", "m2", "m3", "m4", "m5"]
    assert snap.full
    snap = await read_events(db, now, window=600, limit=100)
    # 10 minutes back, the edge included (m10); m11..m30 are older
    assert [e.machine for e in snap.events][-1] == "m10" and len(snap.events) == 10
    assert not snap.full
    assert select_events(snap.events, text="M3") == [snap.events[2]]


async def test_the_reader_reads_events_only_while_they_are_shown(db: DB) -> None:
    reader = SnapshotReader(db)
    await db.exec("INSERT INTO cluster_events (kind, machine) VALUES ('machine-joined', 'a')")
    first = await reader.snapshot(datetime.now(UTC) + timedelta(seconds=1))  # every list
    assert [e.machine for e in first.events.events] == ["a"]
    await db.exec("INSERT INTO cluster_events (kind, machine) VALUES ('machine-left', 'a')")
    hidden = await reader.snapshot(datetime.now(UTC) + timedelta(seconds=1), lists=())
    assert hidden.events is first.events  # carried over, not read
    shown = await reader.snapshot(datetime.now(UTC) + timedelta(seconds=1), lists={"events"})
    assert [e.kind for e in shown.events.events] == ["machine-left", "machine-joined"]


async def test_events_are_pruned_with_task_history(db: DB) -> None:
    await db.exec(
        "INSERT INTO cluster_events (at, kind) VALUES "
        "(now() - interval '8 days', 'machine-left'), (now() - interval '1 day', 'machine-left')"
    )
    await housekeeping(db, EngineConfig(history_retention=7 * 86400))
    assert await db.query_value("SELECT count(*) FROM cluster_events") == 1


async def test_a_deadline_closed_without_a_proof_and_declared_faults(db: DB) -> None:
    """The devnet chain's deadline cron faults the sectors of a partition that was not proven
    and records one post-missed event for it, at the deadline's close (once: run again, the
    sectors are already faulty); a landed DeclareFaults message is a post-faults event."""
    now = datetime.now(UTC)
    config, _ = await init_chain(db, DEVNET, genesis=now - timedelta(hours=1))
    epoch = config.epoch_at(now)
    miner = await create_miner(db, config, 2048, epoch=epoch - 100)
    info = miner.deadline(config, epoch)
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, deadline, "partition") '
        "SELECT $1, n, 'active', 's', 'u', 1, $2, n / 2 FROM generate_series(0, 2) AS n",
        miner.sp_id,
        info.index,
    )

    async def cron(tx: Any) -> list[int]:
        ex = Execution(tx, config, {miner.sp_id: miner}, beacon=_no_beacon)
        changed = await deadline_cron(ex, miner, info.period_start, info.index, info.close)
        await tx.commit()
        return changed

    assert sorted(await db.transaction(cron)) == [0, 1, 2]
    assert await db.transaction(cron) == []  # already faulty: no second event
    missed = (await events(db, "post-missed")).events
    assert [(e.sp_id, e.deadline, e.partition) for e in missed] == [
        (miner.sp_id, info.index, 1),
        (miner.sp_id, info.index, 0),
    ]
    assert missed[1].message == "deadline closed without a WindowPoSt: 2 sector(s) faulty"
    assert missed[0].at == config.time_of(info.close)
    assert missed[0].subject == f"t0{miner.sp_id} dl{info.index} p1" and missed[0].failure
    await db.exec(
        "INSERT INTO chain_messages (cid, sp_id, method, params, submitted_epoch, submitted_at, "
        "land_epoch, landed_epoch, exit_code, receipt) VALUES "
        "('bafy-faults', $1, 'DeclareFaults', '{}', $2, $3, $2, $2, 0, "
        "'declared 2 sector(s) faulty'), "
        "('bafy-refused', $1, 'DeclareFaults', '{}', $2, $3, $2, $2, 16, 'too late')",
        miner.sp_id,
        epoch,
        now,
    )
    (declared,) = (await events(db, "post-faults")).events
    assert declared.message == "declared 2 sector(s) faulty (message bafy-faults)"
    assert declared.subject == f"t0{miner.sp_id}"


async def _no_beacon(epoch: int) -> bytes:
    raise AssertionError("the cron draws no randomness")
