"""The console benchmark: refresh cost at scale, UI responsiveness under CPU load, memory.

``run_console_bench(url)`` seeds a scratch ``itest_`` schema with 100 machines, 10,000 pending
tasks, 1,000,000 history rows over the last 24 h and 10,000 sectors (all with
``generate_series``), then measures

* the refresh: database time (statement round trips) and wall time (plus decoding and
  building the snapshot) of :meth:`SnapshotReader.snapshot`, over steady refreshes while new
  history keeps arriving (200 rows per refresh); median, p95 and max; and, separately, the
  one-time load of the 24 h history in slices between refreshes;
* the UI: the console app running headless in this process, refreshing every second, while
  CPU-heavy ``burn`` work runs through the engine's process pool: event-loop lag (how late a
  10 ms timer fires) and how long a pane switch takes until the new pane is painted;
* memory: peak RSS of this process.

Figures are reported, not asserted. The schema is dropped at the end.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.harmonydb import DB, itest_db
from engine.harmonytask.builtin import burn_cpu
from engine.harmonytask.workers import ProcessPool
from engine.snapshot import SnapshotReader

__all__ = ["run_console_bench"]

SEED = [
    """
INSERT INTO harmony_machines (id, host_and_port, cpu, ram, gpu, session, hostname, pid,
    last_contact, cpu_load, ram_used, unschedulable)
SELECT g, 'bench-' || g || ':worker', 64, 274877906944, g % 2, 's' || g, 'bench-' || g, g,
       $1::timestamptz - (g % 7) * interval '1 second', (g % 10) / 10.0, 68719476736,
       g % 25 = 0
  FROM generate_series(1, 100) AS g
""",
    """
INSERT INTO harmony_machine_details (machine_id, tasks, layers, startup_time, machine_name,
    version)
SELECT g, 'SDR,TreeD,TreeRC,PoRep,noop,burn', '', $1::timestamptz - interval '3 days',
       'bench-' || g, '0.1.0'
  FROM generate_series(1, 100) AS g
""",
    # 10,000 pending tasks, 300 running, 50 failed.
    """
INSERT INTO harmony_task (id, name, posted_time, update_time, added_by, owner_id, claimed_at,
    attempt, failed_at, last_error)
SELECT g, (ARRAY['SDR', 'TreeD', 'TreeRC', 'PoRep', 'noop', 'burn', 'Finalize', 'MoveStorage',
               'PreCommitBatch', 'CommitBatch'])[1 + g % 10],
       $1::timestamptz - g * interval '1 second', $1, 1,
       CASE WHEN g > 10000 AND g <= 10300 THEN 1 + g % 100 END,
       CASE WHEN g > 10000 AND g <= 10300 THEN $1::timestamptz - interval '5 minutes' END,
       CASE WHEN g > 10000 THEN 1 ELSE 0 END,
       CASE WHEN g > 10300 THEN $1::timestamptz - interval '1 hour' END,
       CASE WHEN g > 10300 THEN 'bench failure' END
  FROM generate_series(1, 10350) AS g
""",
    # 1,000,000 attempts spread over the last 24 hours, 1 % failed.
    """
INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, result,
    err, completed_by_host_and_port, outcome, machine_id, attempt)
SELECT g, 100000 + g, (ARRAY['SDR', 'TreeD', 'TreeRC', 'PoRep', 'noop', 'burn'])[1 + g % 6],
       e - interval '90 seconds', e - interval '30 seconds', e, g % 100 <> 0,
       CASE WHEN g % 100 = 0 THEN 'bench failure' END, 'bench-' || (1 + g % 100) || ':worker',
       CASE WHEN g % 100 = 0 THEN 'retry' ELSE 'done' END, 1 + g % 100, 1
  FROM generate_series(1, 1000000) AS g,
       LATERAL (SELECT $1::timestamptz - (1000000 - g) * interval '86 milliseconds') AS t (e)
""",
    # 10,000 sectors: 8,000 finished, 2,000 spread over the stages.
    """
INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, create_time, reg_seal_proof,
    task_id_sdr, after_sdr, after_tree_d, after_tree_c, after_tree_r, after_synth,
    precommit_ready_at, after_precommit_msg, after_precommit_msg_success, seed_epoch,
    after_porep, commit_ready_at, after_finalize, after_move_storage, after_commit_msg,
    after_commit_msg_success, failed)
SELECT 1000 + g % 2, g, $1::timestamptz - g * interval '10 seconds', 8,
       CASE WHEN s = 0 THEN 1 + g % 10000 END,
       s >= 1, s >= 2, s >= 2, s >= 2, s >= 3, $1::timestamptz - interval '1 hour', s >= 4,
       s >= 5, 100000, s >= 6, $1::timestamptz - interval '30 minutes', s >= 6, s >= 7, s >= 7,
       s >= 7, g % 997 = 0
  FROM generate_series(1, 10000) AS g,
       LATERAL (SELECT CASE WHEN g <= 8000 THEN 7 ELSE g % 7 END) AS st (s)
""",
    """
INSERT INTO chain_config (id, profile, genesis_time, block_time, genesis_seed,
    wpost_proving_period, wpost_challenge_window, wpost_period_deadlines,
    wpost_challenge_lookback, fault_declaration_cutoff, precommit_challenge_delay,
    message_delay_epochs, chain_finality)
VALUES (1, 'mainnet', $1::timestamptz - interval '40 days', 30, '\\x00', 2880, 60, 48, 20, 70,
        150, 1, 900)
""",
    # A live chain has a head: its latest tipset (the console re-reads per-deadline counts
    # only when it moves).
    """
INSERT INTO chain_tipsets (epoch, beacon, created_at)
VALUES (floor(extract(epoch FROM interval '40 days') / 30)::bigint, '\\x01', $1::timestamptz)
""",
    """
INSERT INTO chain_miners (sp_id, sector_size, reg_seal_proof, proving_period_offset,
    created_epoch)
VALUES (1000, 34359738368, 8, 1234, 0), (1001, 34359738368, 8, 2000, 0)
""",
    """
INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid,
    precommit_epoch, activation_epoch, deadline, "partition")
SELECT 1000 + g % 2, g, CASE WHEN g % 101 = 0 THEN 'faulty' ELSE 'active' END, 'c', 'u', 1, 2,
       g % 48, (g / 96) % 3
  FROM generate_series(1, 10000) AS g
""",
    """
INSERT INTO storage_path (storage_id, urls, weight, can_seal, can_store, capacity,
    available, fs_available, last_heartbeat)
SELECT 'bench-path-' || g, 'file://bench-' || g || '/data', 10, g <= 2, g > 2,
       109951162777600, 54975581388800, 54975581388800, $1::timestamptz - interval '3 seconds'
  FROM generate_series(1, 10) AS g
""",
    """
INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id, is_primary)
SELECT 1000 + g % 2, g, ft, 'bench-path-' || (3 + g % 8), true
  FROM generate_series(1, 10000) AS g, (VALUES (1), (2), (4)) AS f (ft)
""",
]

NEW_HISTORY = """
INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, result,
    completed_by_host_and_port, outcome, machine_id, attempt)
SELECT $2 + g, $2 + g, 'noop', $1::timestamptz, $1::timestamptz, $1::timestamptz, true,
       'bench-1:worker', 'done', 1, 1
  FROM generate_series(1, $3) AS g
"""


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median": round(statistics.median(ordered), 2),
        "p95": round(p95, 2),
        "max": round(ordered[-1], 2),
        "n": len(ordered),
    }


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(peak / 1024 / (1024 if sys.platform == "darwin" else 1), 1)


async def _seed(db: DB, now: datetime) -> float:
    started = time.perf_counter()
    for statement in SEED:
        if "$1" in statement:
            await db.exec(statement, now)
        else:
            await db.exec(statement)
    await db.exec("ANALYZE")
    return time.perf_counter() - started


async def _refresh_figures(db: DB, now: datetime, refreshes: int) -> dict[str, Any]:
    reader = SnapshotReader(db)
    clock = now
    snap = await reader.snapshot(clock)
    first = {"db_ms": round(snap.db_ms, 2), "wall_ms": round(reader.last_wall_ms, 2)}
    slices: list[float] = []
    backfill_started = time.perf_counter()
    while reader.backfill_pending:
        slices.append(await reader.backfill_step())
    backfill_seconds = time.perf_counter() - backfill_started
    next_id = 2_000_000
    figures: dict[str, dict[str, list[float]]] = {}
    for label, lists in (("all_lists", None), ("machines_pane", set())):
        db_ms: list[float] = []
        wall_ms: list[float] = []
        for i in range(3 + refreshes):  # three warm-up refreshes
            clock += timedelta(seconds=2)
            await db.exec(NEW_HISTORY, clock - timedelta(milliseconds=500), next_id, 200)
            next_id += 200
            snap = await reader.snapshot(clock, lists=lists)
            if i >= 3:
                db_ms.append(snap.db_ms)
                wall_ms.append(reader.last_wall_ms)
        figures[label] = {"db_ms": db_ms, "wall_ms": wall_ms}
    return {
        "first_refresh_ms": first,
        "history_backfill": {
            "slices": len(slices),
            "slice_ms": _stats(slices) if slices else None,
            "seconds": round(backfill_seconds, 2),
        },
        "refresh_db_ms": {k: _stats(v["db_ms"]) for k, v in figures.items()},
        "refresh_wall_ms": {k: _stats(v["wall_ms"]) for k, v in figures.items()},
        "statements_per_refresh": snap.statements,
        "history_24h_counted": snap.queues.done_24h + snap.queues.failed_24h,
        "rows": {
            "machines": len(snap.machines),
            "pending_tasks": snap.queues.pending,
            "sectors": snap.pipeline.done + snap.pipeline.in_progress,
        },
    }


async def _ui_figures(db: DB, seconds: float, workers: int) -> dict[str, Any]:
    from engine.harmonytask.workers import prestart_worker_processes

    from .app import make_app

    prestart_worker_processes()
    app = make_app(
        db.url.dsn,
        db.schema,
        refresh_s=1.0,
        label="bench",
        animations=False,
        watchdog=False,
        migrate=False,
    )
    pool = ProcessPool(workers)
    lags: list[float] = []
    switches: list[float] = []
    refreshes = 0

    async def auto_pilot(pilot: Any) -> None:
        nonlocal refreshes
        await asyncio.wait_for(app.first_render.wait(), 60)
        loop = asyncio.get_running_loop()
        stop = loop.time() + seconds
        burning = [asyncio.create_task(_burn_until(pool, stop)) for _ in range(workers)]
        seen = app.snapshot
        panes = ("tasks", "pipeline", "storage", "post", "machines")
        i = 0
        while loop.time() < stop:
            before = loop.time()
            await asyncio.sleep(0.01)
            lags.append((loop.time() - before - 0.01) * 1000)
            if app.snapshot is not seen:
                refreshes += 1
                seen = app.snapshot
            if len(lags) % 50 == 0:
                # Key to screen: switch panes, wait until the new pane has been painted.
                pane = panes[i % len(panes)]
                started = time.perf_counter()
                painted = asyncio.Event()
                app.show_pane(pane)
                while app.active_pane != pane:  # noqa: ASYNC110 - measuring, not waiting on I/O
                    await asyncio.sleep(0.001)
                app.call_after_refresh(painted.set)
                await painted.wait()
                switches.append((time.perf_counter() - started) * 1000)
                i += 1
        for task in burning:
            await task
        app.exit()

    try:
        await app.run_async(headless=True, size=(120, 40), auto_pilot=auto_pilot)
    finally:
        await pool.close()
    return {
        "event_loop_lag_ms": _stats(lags),
        "pane_switch_ms": _stats(switches) if switches else None,
        "refreshes_during_load": refreshes,
        "burn_workers": workers,
        "seconds": seconds,
    }


async def _burn_until(pool: ProcessPool, stop: float) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < stop:
        await pool.run(burn_cpu, 500)


async def run_console_bench(
    url: str,
    schema: str | None = None,
    *,
    refreshes: int = 20,
    ui_seconds: float = 10.0,
    burn_workers: int = 2,
) -> dict[str, Any]:
    """Seed, measure, drop. ``schema`` names the scratch schema (an ``itest_`` id)."""
    itest_id = schema.removeprefix("itest_") if schema else None
    db = await itest_db(url, itest_id)
    now = datetime.now(UTC)
    try:
        seeded = await _seed(db, now)
        result: dict[str, Any] = {
            "server": db.server_version.split(" on ")[0],
            "seed_seconds": round(seeded, 1),
        }
        result.update(await _refresh_figures(db, now, refreshes))
        result["ui"] = await _ui_figures(db, ui_seconds, burn_workers)
        result["peak_rss_mb"] = _peak_rss_mb()
        return result
    finally:
        await db.delete_all()
