"""Crashes with real processes: a worker killed mid-SDR, its stage re-run elsewhere."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.chain import DEVNET, create_miner, init_chain
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, ProcessPool
from engine.proofs import SECTOR_8MIB
from engine.storage import (
    SectorFileType,
    StorageHeartbeat,
    attach,
    find_sector,
    redeclare,
    this_host,
)
from engine.tasks import pledge_sectors, workload_tasks
from support.cli import harmony_argv
from support.probe import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)


def worker(db: DB, name: str, tasks: str) -> subprocess.Popen[str]:
    """``harmony run --engine-only`` in its own session, so killing the group kills its process
    pool too: the whole machine dies, as in a crash."""
    return subprocess.Popen(
        harmony_argv(
            db,
            "run",
            "--engine-only",
            "--name",
            name,
            "--tasks",
            tasks,
            "--heartbeat",
            "1",
            "--machine-timeout",
            "4",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd="/",
        start_new_session=True,
    )


async def test_a_worker_killed_mid_sdr_leaves_nothing_declared_and_sdr_reruns_elsewhere(
    db: DB, engines, tmp_path: Path, processes
) -> None:
    config, _ = await init_chain(db, DEVNET)  # wall clock: the worker is a real process
    miner = await create_miner(db, config, SECTOR_8MIB, epoch=0)
    seal = tmp_path / "seal"
    seal.mkdir()
    attached = await attach(db, seal, host=this_host(), can_seal=True)
    await StorageHeartbeat(db).beat_once()
    victim = worker(db, "victim", "SDR")
    processes.append(victim)
    (number,) = await pledge_sectors(db, miner.sp_id, 1)
    cache_dir = seal / "cache"

    def layers_being_written() -> list[Path]:
        if not cache_dir.is_dir():
            return []
        return [p for t in cache_dir.glob(".sdr-*") for p in t.glob("sc-02-data-layer-*")]

    await wait_until(lambda: bool(layers_being_written()), 60, "the victim to be mid-SDR")
    assert await find_sector(db, miner.sp_id, number) == []  # nothing declared mid-SDR
    os.killpg(victim.pid, signal.SIGKILL)
    await asyncio.to_thread(victim.wait, 30)
    # The half-written layers are not mistaken for a sector by a redeclare (a node restart).
    await redeclare(db)
    assert await find_sector(db, miner.sp_id, number) == []

    pool = ProcessPool(1)
    try:
        rescue = EngineConfig(heartbeat_interval=0.2, machine_timeout=1.0, poll_interval=0.5)
        tasks = [t for t in workload_tasks(db, pool) if t.type_details().name == "SDR"]
        await engines(tasks, "rescuer", config=rescue)

        async def sealed_layers() -> bool:
            # The stage's own row first, the engine's completion (batched) just after it.
            return bool(
                await db.query_value(
                    "SELECT p.after_sdr AND EXISTS (SELECT 1 FROM harmony_task_history h "
                    "WHERE h.task_id = p.task_id_sdr AND h.outcome = 'done') "
                    "FROM sectors_sdr_pipeline p"
                )
            )

        await wait_until(sealed_layers, 90, "SDR to finish on the rescuer")
    finally:
        await pool.close()
    locations = await find_sector(db, miner.sp_id, number)
    assert sorted((loc.file_type, loc.storage_id) for loc in locations) == [
        (SectorFileType.UNSEALED, attached.storage_id),
        (SectorFileType.CACHE, attached.storage_id),
    ]
    cache = next(loc.local_path for loc in locations if loc.file_type == SectorFileType.CACHE)
    assert cache == cache_dir / f"s-t0{miner.sp_id}-{number}"
    layers = sorted(cache.glob("sc-02-data-layer-*"))
    assert [p.stat().st_size for p in layers] == [SECTOR_8MIB] * 2
    assert (cache / "t_aux").is_file()
    assert list(cache_dir.glob(".sdr-*")) == []  # the victim's temporaries are gone
    task_id = await db.query_value("SELECT task_id_sdr FROM sectors_sdr_pipeline")
    history = await db.select(
        "SELECT outcome, completed_by_host_and_port AS host FROM harmony_task_history "
        "WHERE task_id = $1 ORDER BY id",
        task_id,
    )
    assert [(h["outcome"], h["host"]) for h in history] == [
        ("lost", "victim"),
        ("done", "rescuer"),
    ]
    linked = await db.query_value(
        "SELECT cardinality(task_history_ids) FROM sectors_pipeline_events"
    )
    assert linked == len(history)
