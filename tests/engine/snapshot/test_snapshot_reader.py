"""The console's read model against a real PostgreSQL: Curio's bucket predicates, the stage
strip, stuck sectors, the deadline grid flags, storage health, machine states, and the
incremental 24 h history."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import engine.snapshot.curio.machines as curio_machines
import engine.snapshot.curio.pipeline as curio_pipeline
import engine.snapshot.curio.post as curio_post
import engine.snapshot.curio.storage as curio_storage
import engine.snapshot.curio.tasks as curio_tasks
import engine.snapshot.history as history_module
import engine.snapshot.pipeline as pipeline_module
import engine.snapshot.post as post_module
import engine.snapshot.reader as reader_module
import engine.snapshot.storage as storage_module
from console.fixture import FIXED_NOW, seed
from engine.chain import MAINNET, deadline_info_from_offset
from engine.harmonydb import DB
from engine.harmonytask.machine_state import MachineState
from engine.snapshot import (
    HistoryWindow,
    PostRisk,
    SnapshotReader,
    countdown,
    drain_plan,
    duration,
    maintenance_risks,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

FLAGS = (
    "after_sdr",
    "after_tree_d",
    "after_tree_c",
    "after_tree_r",
    "after_synth",
    "after_precommit_msg",
    "after_precommit_msg_success",
    "after_porep",
    "after_finalize",
    "after_move_storage",
    "after_commit_msg",
    "after_commit_msg_success",
    "failed",
)

INSERT_SECTOR = """
INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, create_time, reg_seal_proof,
    after_sdr, after_tree_d, after_tree_c, after_tree_r, after_synth, after_precommit_msg,
    after_precommit_msg_success, after_porep, after_finalize, after_move_storage,
    after_commit_msg, after_commit_msg_success, failed, seed_epoch, task_id_sdr,
    task_id_tree_d, task_id_precommit_msg, precommit_ready_at, commit_ready_at)
VALUES ($1, $2, $3, 8, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19, $20, $21, $22)
"""

#: flags up to and including each stage, for building rows by name
UNTIL = {
    "none": (),
    "sdr": ("after_sdr",),
    "trees": ("after_sdr", "after_tree_d", "after_tree_c", "after_tree_r"),
    "synth": ("after_sdr", "after_tree_d", "after_tree_c", "after_tree_r", "after_synth"),
    "precommit_sent": (
        "after_sdr",
        "after_tree_d",
        "after_tree_c",
        "after_tree_r",
        "after_synth",
        "after_precommit_msg",
    ),
    "precommit_landed": (
        "after_sdr",
        "after_tree_d",
        "after_tree_c",
        "after_tree_r",
        "after_synth",
        "after_precommit_msg",
        "after_precommit_msg_success",
    ),
    "porep": (
        "after_sdr",
        "after_tree_d",
        "after_tree_c",
        "after_tree_r",
        "after_synth",
        "after_precommit_msg",
        "after_precommit_msg_success",
        "after_porep",
    ),
    "commit_landed": (
        "after_sdr",
        "after_tree_d",
        "after_tree_c",
        "after_tree_r",
        "after_synth",
        "after_precommit_msg",
        "after_precommit_msg_success",
        "after_porep",
        "after_finalize",
        "after_move_storage",
        "after_commit_msg",
        "after_commit_msg_success",
    ),
}


async def add_sector(
    db: DB,
    number: int,
    until: str,
    *,
    sp: int = 1000,
    created: datetime | None = None,
    seed_epoch: int | None = None,
    failed: bool = False,
    task_sdr: int | None = None,
    task_tree_d: int | None = None,
    task_precommit: int | None = None,
    extra: tuple[str, ...] = (),
) -> None:
    flags = set(UNTIL[until]) | set(extra)
    ready = NOW - timedelta(hours=1)
    await db.exec(
        INSERT_SECTOR,
        sp,
        number,
        created or NOW - timedelta(hours=1),
        *(f in flags for f in FLAGS[:-1]),
        failed,
        seed_epoch,
        task_sdr,
        task_tree_d,
        task_precommit,
        ready if "after_tree_r" in flags else None,
        ready if "after_porep" in flags else None,
    )


async def add_task(db: DB, task_id: int, name: str, owner: int | None = None) -> None:
    await db.exec(
        "INSERT INTO harmony_task (id, name, posted_time, added_by, owner_id, update_time) "
        "VALUES ($1, $2, $3, 0, $4, $3)",
        task_id,
        name,
        NOW - timedelta(minutes=5),
        owner,
    )


async def add_machine(db: DB, machine_id: int, contact_age: float, **cols: Any) -> None:
    await db.exec(
        "INSERT INTO harmony_machines (id, host_and_port, cpu, ram, gpu, session, "
        "last_contact, unschedulable, drain_requested_at, drained_at, restart_request, lost_at) "
        "VALUES ($1, $2, 8, 1073741824, 0, $3, $4, $5, $6, $7, $8, $9)",
        machine_id,
        f"m{machine_id}:worker",
        cols.get("session", "s"),
        NOW - timedelta(seconds=contact_age),
        cols.get("unschedulable", False),
        cols.get("drain_requested_at"),
        cols.get("drained_at"),
        cols.get("restart_request"),
        cols.get("lost_at"),
    )


async def snapshot(db: DB, now: datetime = NOW, **kwargs: Any) -> Any:
    return await SnapshotReader(db, **kwargs).snapshot(now)


# --------------------------------------------------------------------------- rules


CONSOLE_SQL_MODULES = (
    reader_module,
    history_module,
    pipeline_module,
    post_module,
    storage_module,
    curio_machines,
    curio_tasks,
    curio_pipeline,
    curio_post,
    curio_storage,
)


def _sql_constants() -> list[tuple[str, str]]:
    out = []
    for module in CONSOLE_SQL_MODULES:
        for name, value in vars(module).items():
            # _PRIVATE constants are fragments of the statements checked here
            public = name.isupper() and not name.startswith("_")
            if public and isinstance(value, str) and "SELECT" in value:
                out.append((f"{module.__name__}.{name}", value))
    return out


def test_console_queries_never_read_the_server_clock() -> None:
    """now is a parameter from the injected clock, so a fixed clock gives a fixed screen."""
    queries = _sql_constants()
    assert len(queries) >= 15
    for name, sql in queries:
        lowered = sql.lower()
        for banned in ("now()", "current_timestamp", "clock_timestamp", "localtimestamp"):
            assert banned not in lowered, f"{name} reads the server clock ({banned})"
        assert not re.search(r"\bage\s*\(\s*[a-z_.]+\s*\)", lowered), name


def test_every_console_list_is_limited_and_totally_ordered() -> None:
    for name, sql in _sql_constants():
        lowered = " ".join(sql.lower().split())
        if " limit " in lowered:
            assert "order by" in lowered, f"{name} has LIMIT without ORDER BY"
        if "group by" in lowered or "count(" in lowered or "max(" in lowered:
            continue  # aggregates: a bounded number of groups
        if name.endswith(("TASKS", "CHAIN", "SLICE_PROBE")) and "= any" in lowered:
            continue  # primary-key lookups of a bounded id list
        assert " limit " in lowered, f"{name} returns an unbounded list"


# --------------------------------------------------------------------------- pipeline


async def test_summary_buckets_use_curios_predicates(db: DB) -> None:
    head = 5000
    await db.exec("INSERT INTO chain_tipsets (epoch, beacon) VALUES ($1, '\\x00')", head)
    await add_sector(db, 1, "none")  # SDR
    await add_sector(db, 2, "sdr")  # Trees
    await add_sector(db, 3, "sdr", extra=("after_tree_d",))  # Trees (TreeC/R not done)
    await add_sector(db, 4, "trees")  # PreCommit Msg (Synthetic counts there)
    await add_sector(db, 5, "synth")  # PreCommit Msg
    await add_sector(db, 6, "precommit_landed", seed_epoch=head + 10)  # Wait Seed
    await add_sector(db, 7, "precommit_landed", seed_epoch=head - 10)  # PoRep
    await add_sector(db, 8, "precommit_landed", seed_epoch=head - 2)  # Wait Seed (PoRep at +3)
    await add_sector(db, 9, "porep")  # Commit Msg
    await add_sector(db, 10, "commit_landed")  # Done
    await add_sector(db, 11, "none", failed=True)  # Failed only, not also SDR
    await add_sector(db, 12, "precommit_sent")  # between PreCommit Msg and Wait Seed: none
    snap = await snapshot(db)
    (summary,) = snap.pipeline.summaries
    assert summary.counts == {
        "SDR": 1,
        "Trees": 2,
        "PreCommit Msg": 2,
        "Wait Seed": 2,
        "PoRep": 1,
        "Commit Msg": 1,
    }
    assert (summary.done, summary.failed) == (1, 1)
    assert snap.pipeline.in_progress == 11


async def test_running_split_follows_the_stage_task_owner(db: DB) -> None:
    await add_machine(db, 1, 1)
    await add_task(db, 501, "SDR", owner=1)
    await add_task(db, 502, "SDR")
    await add_sector(db, 1, "none", task_sdr=501)
    await add_sector(db, 2, "none", task_sdr=502)
    snap = await snapshot(db)
    (summary,) = snap.pipeline.summaries
    assert summary.counts["SDR"] == 2
    assert summary.running["SDR"] == 1
    assert summary.pending("SDR") == 1
    assert {load.bucket: (load.pending, load.running) for load in snap.pipeline.loads}["SDR"] == (
        1,
        1,
    )


async def test_strip_cells_show_running_queued_missing_and_batch_waits(db: DB) -> None:
    await add_machine(db, 1, 1)
    await add_task(db, 601, "SDR", owner=1)
    await add_task(db, 602, "TreeD")
    await add_sector(db, 1, "none", task_sdr=601)
    await add_sector(db, 2, "sdr", task_tree_d=602)
    await add_sector(db, 3, "sdr", task_tree_d=99999)  # task id missing from harmony_task
    await add_sector(db, 4, "synth")  # ready for a PreCommit batch, none picked it
    await add_sector(db, 5, "precommit_sent")  # waiting for the message to land
    snap = await snapshot(db)
    strips = {s.sector_number: s for s in snap.pipeline.sectors}

    def status(n: int, label: str) -> str:
        return next(c.status for c in strips[n].cells if c.label == label)

    assert status(1, "SDR") == "running"
    assert next(c.owner_id for c in strips[1].cells if c.label == "SDR") == 1
    assert status(2, "SDR") == "done" and status(2, "TreeD") == "queued"
    assert status(3, "TreeD") == "failed"  # Curio shows a dangling task id as FAILED
    assert status(4, "PComm Msg") == "batch"
    assert status(5, "PComm Wait") == "waiting"
    assert [strips[n].stage for n in (1, 2, 4, 5)] == ["SDR", "TreeD", "PComm Msg", "PComm Wait"]
    assert [c.label for c in strips[1].cells][:5] == ["SDR", "TreeD", "TreeC", "TreeR", "Synthetic"]


async def test_failed_and_stuck_sectors_are_listed_oldest_first(db: DB) -> None:
    await add_sector(db, 1, "sdr", created=NOW - timedelta(hours=30))  # stuck 30 h
    await add_sector(db, 2, "sdr", created=NOW - timedelta(hours=14))  # stuck 14 h
    await add_sector(db, 3, "sdr", created=NOW - timedelta(hours=2))  # fine
    await add_sector(db, 4, "commit_landed", created=NOW - timedelta(hours=40))  # done
    await add_sector(db, 5, "synth", failed=True, created=NOW - timedelta(hours=3))
    await db.exec(
        "UPDATE sectors_sdr_pipeline SET failed_at = $1, failed_reason = 'precommit-check', "
        "failed_reason_msg = 'ticket expired' WHERE sector_number = 5",
        NOW - timedelta(hours=20),
    )
    snap = await snapshot(db)
    problems = [(p.sector_number, p.kind) for p in snap.pipeline.problems]
    assert problems == [(1, "stuck"), (5, "failed"), (2, "stuck")]
    failed = next(p for p in snap.pipeline.problems if p.kind == "failed")
    assert (failed.reason, failed.message, failed.stage) == (
        "precommit-check",
        "ticket expired",
        "PComm Msg",
    )
    assert failed.age == 20 * 3600
    assert snap.pipeline.stuck == 2


async def test_the_failed_list_is_reread_at_most_every_problems_every(db: DB) -> None:
    await add_sector(db, 1, "sdr")
    reader = SnapshotReader(db, problems_every=10)
    assert (await reader.snapshot(NOW)).pipeline.problems == ()
    await db.exec("UPDATE sectors_sdr_pipeline SET failed = true, failed_at = $1", NOW)
    later = await reader.snapshot(NOW + timedelta(seconds=5))
    assert later.pipeline.problems == () and later.pipeline.failed == 1  # summary is live
    latest = await reader.snapshot(NOW + timedelta(seconds=11))
    assert [p.kind for p in latest.pipeline.problems] == ["failed"]


async def test_a_recent_pipeline_event_means_the_sector_is_not_stuck(db: DB) -> None:
    await add_sector(db, 1, "sdr", created=NOW - timedelta(hours=30))
    await db.exec(
        "INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, "
        "result, completed_by_host_and_port) VALUES (7, 1, 'SDR', $1, $1, $2, true, 'm')",
        NOW - timedelta(hours=3),
        NOW - timedelta(hours=1),
    )
    await db.exec(
        "INSERT INTO sectors_pipeline_events (sp_id, sector_number, task_history_ids) "
        "VALUES (1000, 1, ARRAY[7]::bigint[])"
    )
    snap = await snapshot(db)
    assert snap.pipeline.problems == ()
    (strip,) = snap.pipeline.sectors
    assert strip.since == NOW - timedelta(hours=1)
    assert not strip.stuck


# --------------------------------------------------------------------------- PoSt


async def seed_chain(db: DB, genesis: datetime, offset: int) -> None:
    await db.exec(
        "INSERT INTO chain_config (id, profile, genesis_time, block_time, genesis_seed, "
        "wpost_proving_period, wpost_challenge_window, wpost_period_deadlines, "
        "wpost_challenge_lookback, fault_declaration_cutoff, precommit_challenge_delay, "
        "message_delay_epochs, chain_finality) "
        "VALUES (1, 'mainnet', $1, 30, '\\x00', 2880, 60, 48, 20, 70, 150, 1, 900)",
        genesis,
    )
    await db.exec(
        "INSERT INTO chain_miners (sp_id, sector_size, reg_seal_proof, proving_period_offset, "
        "created_epoch) VALUES (1000, 34359738368, 8, $1, 0)",
        offset,
    )


async def add_chain_sectors(db: DB, deadline: int, partition: int, states: list[str]) -> None:
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, deadline, "partition") '
        "SELECT 1000, $1 * 1000 + $2 * 100 + i, s, 'c', 'u', 0, $1, $2 "
        "FROM unnest($3::text[]) WITH ORDINALITY AS t(s, i)",
        deadline,
        partition,
        states,
    )


async def test_deadline_flags_counts_and_proven_partitions(db: DB) -> None:
    genesis = NOW - timedelta(seconds=30 * 100_000)  # epoch 100000 at NOW
    await seed_chain(db, genesis, offset=400)
    info = deadline_info_from_offset(MAINNET, 400, 100_000)
    current = info.index
    await add_chain_sectors(db, 0, 0, ["active", "active"])  # proven
    await add_chain_sectors(db, 1, 0, ["active", "faulty"])  # part faulty
    await add_chain_sectors(db, 1, 1, ["recovering"])
    await add_chain_sectors(db, 2, 0, ["faulty", "faulty"])  # all faulty
    await add_chain_sectors(db, 3, 0, ["precommitted", "terminated"])  # empty (not live)
    await add_chain_sectors(db, current, 0, ["active"])
    await db.exec(
        "INSERT INTO chain_post_submissions (sp_id, proving_period_start, deadline, "
        '"partition", landed_epoch, message_cid) VALUES '
        "(1000, $1, 0, 0, 1, 'm'), (1000, $1, 1, 0, 1, 'm'), (1000, $2, 2, 0, 1, 'old')",
        info.period_start,
        info.period_start - 2880,
    )
    snap = await snapshot(db)
    (miner,) = snap.post.miners
    d = miner.deadlines
    assert len(d) == 48 and miner.period_start == info.period_start
    assert d[0].proven and not d[0].part_faulty and d[0].partitions_proven
    assert d[1].part_faulty and not d[1].all_faulty
    assert (d[1].live, d[1].faulty, d[1].recovering, d[1].partitions) == (3, 2, 1, 2)
    assert d[1].proven_partitions == 1 and not d[1].partitions_proven
    assert d[2].all_faulty and d[2].proven_partitions == 0  # last period's proof not counted
    assert d[3].empty and d[3].live == 0
    assert (miner.live, miner.faulty, miner.recovering) == (8, 4, 1)
    assert snap.post.head_epoch is None


async def test_maintenance_rule_warns_for_open_and_soon_opening_deadlines(db: DB) -> None:
    genesis = NOW - timedelta(seconds=30 * 100_000)
    await seed_chain(db, genesis, offset=400)
    info = deadline_info_from_offset(MAINNET, 400, 100_000)
    await add_chain_sectors(db, info.index, 0, ["active"])
    await add_chain_sectors(db, (info.index + 3) % 48, 0, ["active", "active"])
    snap = await snapshot(db)
    opens_in = (info.open + 3 * 60 - 100_000) * 30  # seconds until the later deadline opens
    risks = maintenance_risks(snap.post, NOW, horizon=opens_in - 1)
    assert [(r.deadline, r.open_now) for r in risks] == [(info.index, True)]
    risks = maintenance_risks(snap.post, NOW, horizon=opens_in + 1)
    assert [(r.deadline, r.open_now, r.live) for r in risks] == [
        (info.index, True, 1),
        ((info.index + 3) % 48, False, 2),
    ]
    assert "open now" in risks[0].describe()
    assert risks[1].opens_in == pytest.approx(opens_in)


def test_a_risk_names_the_miner_as_its_network_writes_it() -> None:
    """On mainnet (a Curio cluster) the drain warning says f0…, as the operator's tools do."""
    risk = PostRisk(1000, 3, 2, True, 0.0, 60.0, -1.0, address="f01000")
    assert risk.describe() == "f01000 deadline 3 (2 live sectors): open now, closes in 1m"


# --------------------------------------------------------------------------- storage, machines


async def test_storage_health_uses_the_given_clock(db: DB) -> None:
    rows = [
        ("ok", NOW - timedelta(seconds=5), None),
        ("stale", NOW - timedelta(seconds=51), None),
        ("error", NOW - timedelta(seconds=5), "statfs: input/output error"),
        ("never", None, None),
    ]
    for storage_id, beat, err in rows:
        await db.exec(
            "INSERT INTO storage_path (storage_id, capacity, fs_available, last_heartbeat, "
            "heartbeat_err) VALUES ($1, 100, 40, $2, $3)",
            storage_id,
            beat,
            err,
        )
    await db.exec(
        "INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id) "
        "VALUES (1000, 1, 2, 'ok'), (1000, 1, 4, 'ok'), (1000, 2, 2, 'ok')"
    )
    snap = await snapshot(db)
    health = {p.storage_id: p.health for p in snap.storage.paths}
    assert health == {
        "ok": "OK (5s ago)",
        "stale": "Stale (51s ago)",
        "error": "Error: statfs: input/output error",
        "never": "No heartbeat yet",
    }
    ok = next(p for p in snap.storage.paths if p.storage_id == "ok")
    assert {ft.name: n for ft, n in ok.counts.items() if n} == {"SEALED": 2, "CACHE": 1}
    assert ok.healthy and snap.storage.capacity == 400 and snap.storage.used == 240
    assert [p.storage_id for p in snap.storage.paths] == ["error", "never", "ok", "stale"]


async def test_machine_states_and_staleness(db: DB) -> None:
    await add_machine(db, 1, 1)
    await add_machine(db, 2, 30)  # live session, silent for 30 s
    await add_machine(db, 3, 1, unschedulable=True)
    await add_machine(db, 4, 1, unschedulable=True, drain_requested_at=NOW)
    await add_machine(db, 5, 1, unschedulable=True, drain_requested_at=NOW, drained_at=NOW)
    await add_machine(db, 6, 1, unschedulable=True, restart_request=NOW)
    await add_machine(db, 7, 900, session=None, lost_at=NOW)
    await add_machine(db, 8, 900, session=None)  # left cleanly
    await add_task(db, 701, "burn", owner=1)
    await add_task(db, 702, "burn", owner=1)
    snap = await snapshot(db, stale_after=10)
    states = {m.id: (m.state, m.stale) for m in snap.machines}
    assert states == {
        1: (MachineState.ACTIVE, False),
        2: (MachineState.ACTIVE, True),
        3: (MachineState.CORDONED, False),
        4: (MachineState.DRAINING, False),
        5: (MachineState.DRAINED, False),
        6: (MachineState.RESTARTING, False),
        7: (MachineState.DEAD, False),  # silent for long, but gone: not "stale"
        8: (MachineState.OFFLINE, False),
    }
    assert all(isinstance(m.state, MachineState) for m in snap.machines)
    assert [m.id for m in snap.machines if not m.alive] == [7, 8]
    assert snap.machine(1).running == 2  # type: ignore[union-attr]
    assert [t.id for t in snap.running_on(1)] == [701, 702]


# --------------------------------------------------------------------------- history


async def add_history(
    db: DB,
    first_id: int,
    count: int,
    end: datetime,
    *,
    failed_every: int = 0,
    name: str = "noop",
    step: float = 1.0,
) -> None:
    await db.exec(
        "INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, "
        "result, outcome, completed_by_host_and_port) "
        "SELECT $1 + g, $1 + g, $5, e - interval '2 seconds', e - interval '2 seconds', e, "
        "NOT ($4 > 0 AND g % $4 = 0), "
        "CASE WHEN $4 > 0 AND g % $4 = 0 THEN 'retry' ELSE 'done' END, 'm' "
        "FROM generate_series(0, $2 - 1) AS g, "
        "LATERAL (SELECT $3::timestamptz - g * make_interval(secs => $6)) AS t (e)",
        first_id,
        count,
        end,
        failed_every,
        name,
        step,
    )


async def test_24h_counts_cover_the_window_only(db: DB) -> None:
    await add_history(db, 0, 100, NOW - timedelta(minutes=1), failed_every=10)
    await add_history(db, 1000, 5, NOW - timedelta(hours=25))  # outside the window
    await db.exec(
        "INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, "
        "result, outcome, completed_by_host_and_port) "
        "VALUES (2000, 1, 'noop', $1, $1, $1, false, 'preempted', 'm')",
        NOW - timedelta(minutes=2),
    )
    snap = await snapshot(db)
    noop = snap.task_type("noop")
    assert noop is not None
    assert (noop.done_24h, noop.failed_24h) == (90, 10)  # preempted is not a failure
    assert noop.mean_seconds == pytest.approx(2.0)
    assert snap.queues.window_complete
    assert sum(snap.queues.chart.done) == 90


async def test_history_is_read_incrementally_and_counted_once(db: DB) -> None:
    reader = SnapshotReader(db)
    await add_history(db, 0, 50, NOW - timedelta(seconds=1))
    first = await reader.snapshot(NOW)
    assert first.task_type("noop").done_24h == 50  # type: ignore[union-attr]
    later = NOW + timedelta(seconds=30)
    # New rows, one of them committed "late" (work_end inside the overlap window).
    await add_history(db, 100, 10, later - timedelta(seconds=1))
    await add_history(db, 200, 1, first.taken_at + timedelta(seconds=29))
    second = await reader.snapshot(later)
    assert second.task_type("noop").done_24h == 61  # type: ignore[union-attr]
    third = await reader.snapshot(later + timedelta(seconds=1))
    assert third.task_type("noop").done_24h == 61  # type: ignore[union-attr]
    # A day later the old rows leave the window.
    much_later = NOW + timedelta(hours=24, minutes=5)
    fourth = await reader.snapshot(much_later)
    assert fourth.task_type("noop") is None or fourth.task_type("noop").done_24h == 0  # type: ignore[union-attr]


async def test_a_big_history_is_backfilled_in_slices_between_refreshes(db: DB) -> None:
    await add_history(db, 0, 3000, NOW - timedelta(seconds=10), failed_every=7, step=20)
    whole = await SnapshotReader(db).snapshot(NOW)  # 3000 rows: loaded by the first refresh
    assert whole.queues.window_complete
    assert whole.queues.done_24h + whole.queues.failed_24h == 3000
    assert whole.queues.failed_24h == 3000 // 7 + 1

    reader = SnapshotReader(db, window=HistoryWindow(slice_rows=700, inline_rows=500))
    first = await reader.snapshot(NOW)
    assert not first.queues.window_complete and first.queues.done_24h == 0
    steps = 0
    while reader.backfill_pending:
        await reader.backfill_step()
        steps += 1
        partial = await reader.snapshot(NOW + timedelta(seconds=steps))
        if reader.backfill_pending:
            assert 0 < partial.queues.window_hours < 24
    assert steps == 5  # 3000 rows in slices of 700
    final = await reader.snapshot(NOW + timedelta(seconds=10))
    assert final.queues.window_complete
    assert (final.queues.done_24h, final.queues.failed_24h) == (
        whole.queues.done_24h,
        whole.queues.failed_24h,
    )
    assert await reader.backfill_step() == 0.0


async def test_sector_file_counts_are_reread_at_most_every_counts_every(db: DB) -> None:
    await db.exec(
        "INSERT INTO storage_path (storage_id, capacity, fs_available, last_heartbeat) "
        "VALUES ('p', 100, 50, $1)",
        NOW,
    )
    add_file = (
        "INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id) "
        "VALUES (1000, $1, 2, 'p')"
    )
    await db.exec(add_file, 1)
    reader = SnapshotReader(db, counts_every=30)

    async def sealed(at: datetime) -> int:
        snap = await reader.snapshot(at)
        return sum(n for ft, n in snap.storage.paths[0].counts.items() if ft.name == "SEALED")

    assert await sealed(NOW) == 1
    await db.exec(add_file, 2)
    assert await sealed(NOW + timedelta(seconds=10)) == 1
    assert await sealed(NOW + timedelta(seconds=31)) == 2


async def test_history_filter_searches_the_database(db: DB) -> None:
    await add_history(db, 0, 20, NOW - timedelta(seconds=5), name="burn")
    await add_history(db, 100, 5, NOW - timedelta(seconds=5), name="noop_task")
    reader = SnapshotReader(db)
    snap = await reader.snapshot(NOW, history_filter="oop_")  # _ is literal, not a wildcard
    assert {h.name for h in snap.queues.history} == {"noop_task"}
    snap = await reader.snapshot(NOW, history_filter="103")
    assert [h.task_id for h in snap.queues.history] == [103]


# --------------------------------------------------------------------------- the fixture


async def test_fixture_snapshot_is_deterministic_and_bounded(db: DB) -> None:
    await seed(db)
    a = await SnapshotReader(db).snapshot(FIXED_NOW)
    b = await SnapshotReader(db).snapshot(FIXED_NOW)

    def plain(snap: Any) -> Any:
        return (
            [(m.id, m.state, m.stale, m.running) for m in snap.machines],
            [(t.name, t.pending, t.running, t.done_24h, t.failed_24h) for t in snap.queues.types],
            [(s.key, s.stage, s.state, [c.status for c in s.cells]) for s in snap.pipeline.sectors],
            [(p.key, p.kind) for p in snap.pipeline.problems],
            [(p.storage_id, p.health) for p in snap.storage.paths],
            [
                [(d.live, d.faulty, d.proven_partitions) for d in m.deadlines]
                for m in snap.post.miners
            ],
            snap.queues.chart.done,
        )

    assert plain(a) == plain(b)
    # A first snapshot reads every list once (and the alerts' table check): a bound on
    # growth, not the refresh's cost, which `harmony bench console` reports per pane.
    assert a.statements <= 30 and a.db_ms > 0
    plan = drain_plan(a, 1, FIXED_NOW)
    assert plan is not None
    assert [t.id for t in plan.running] == [101, 102, 103]
    assert {(r.sp_id, r.deadline, r.open_now) for r in plan.risks} >= {(1000, 3, True)}
    assert any("only schedulable machine running WdPost" in w for w in plan.warnings)


def test_duration_and_countdown_formats() -> None:
    assert [duration(s) for s in (0, 59, 61, 600, 3599, 3600 + 300, 86400 * 2 + 3600 * 4)] == [
        "0s",
        "59s",
        "1m01s",
        "10m",
        "59m",
        "1h05m",
        "2d04h",
    ]
    assert countdown(17 * 60) == " 00:17:00"
    assert countdown(-(13 * 60 + 5)) == "-00:13:05"
    assert countdown(26 * 3600) == " 26:00:00"


def test_reader_queries_take_now_as_a_parameter() -> None:
    source = inspect.getsource(reader_module.SnapshotReader.snapshot)
    assert "now" in source and "datetime.now" not in source


async def test_a_snapshot_is_built_in_slices_that_let_the_loop_run() -> None:
    """Building yields to the event loop every BUILD_SLICE_S of work (a key or a paint waits
    for one slice, not the whole build), and the value is the generator's."""
    import asyncio
    import time

    def steps() -> Any:
        for _ in range(40):
            began = time.perf_counter()
            while time.perf_counter() - began < 0.001:  # a millisecond of work a step
                pass
            yield
        return "built"

    turns: list[float] = []

    async def other() -> None:
        while True:
            turns.append(time.perf_counter())
            await asyncio.sleep(0)

    watcher = asyncio.create_task(other())
    await asyncio.sleep(0)
    began = time.perf_counter()
    assert await reader_module.build_in_slices(steps()) == "built"
    ended = time.perf_counter()
    watcher.cancel()
    during = [t for t in turns if began < t < ended]
    # 40 ms of work in slices of BUILD_SLICE_S (3 ms): the loop ran between them
    assert len(during) >= 40 * 0.001 / reader_module.BUILD_SLICE_S / 2
