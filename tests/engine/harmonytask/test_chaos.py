"""``harmony bench chaos`` end to end on a small load: every fault kind strikes, and the
promise holds (each task done once, none lost, none stranded, no add applied twice). The
benchmark's own figures for the README come from a full run, not from here."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from engine.faults.pgproxy import PgProxy
from engine.harmonydb import DB
from engine.harmonytask.chaos import (
    ChaosConfig,
    ChaosReport,
    Fault,
    _count,
    _Machine,
    _Run,
    run_chaos_bench,
)


@pytest.mark.slow
async def test_every_task_is_done_once_through_kills_stops_freezes_and_lost_replies(
    pg_url: str, tmp_path: Path
) -> None:
    cfg = ChaosConfig(
        tasks=200,
        engines=2,
        batch=10,
        add_seconds=10,
        fault_every=0.8,
        machine_timeout=3,
        lost_replies=0.01,
        deadline=120,
        seed=7,
    )
    report = await run_chaos_bench(pg_url, cfg, keep=tmp_path)
    # With --db the server is not ours: the restart is stood in for by cutting every link.
    assert report.faults.get("restart") == 1
    assert sum(report.faults.values()) >= 6, report.faults
    assert report.replies_lost > 0
    assert report.added == 200
    assert (report.done_once, report.done_twice, report.lost, report.stranded) == (200, 0, 0, 0)
    assert report.not_reported_added == 0
    assert report.side_effect_twice == 0, report.unexplained_effects
    assert report.kept_the_promise
    assert (tmp_path / "journal").stat().st_size > 0  # kept for a look afterwards


async def test_a_fault_still_held_when_the_run_ends_is_counted(db: DB, tmp_path: Path) -> None:
    """The run cancels the faults it is applying once the queue is empty; a stop or freeze
    held then struck all the same (its machine's tasks ran again elsewhere meanwhile), so the
    count must see it, or a side effect it caused twice reads as one no fault explains."""
    url = "postgresql://chaos@127.0.0.1:9/chaos"
    run = _Run(ChaosConfig(machine_timeout=3), db, url, None, tmp_path, lambda _: None)
    machine = _Machine("chaos-0", PgProxy("127.0.0.1", 9), url, db.schema, tmp_path)
    for kind in ("stop", "freeze"):
        machine.busy = True  # as make_faults marks it
        applying = asyncio.create_task(run._machine_fault(machine, kind))
        await asyncio.sleep(0.2)
        assert machine.proxy.frozen == (kind == "freeze")
        applying.cancel()
        await asyncio.gather(applying, return_exceptions=True)
        assert not machine.busy and not machine.proxy.frozen
    assert [f.kind for f in run.faults] == ["stop", "freeze"]
    assert all(0.15 < f.end - f.start < 1 for f in run.faults), run.faults


async def test_the_adder_opens_its_link_again_when_a_reply_is_lost_while_it_opens(
    db: DB, pg_url: str, tmp_path: Path
) -> None:
    """A reply lost while the adder opened its link once ended the adder and, with it, any
    wait for the adds: the run hung for good."""
    run = _Run(ChaosConfig(deadline=30), db, pg_url, None, tmp_path, lambda _: None)
    async with PgProxy.for_url(pg_url) as proxy:
        proxy.drop_reply("", count=1)
        adder = await run._open_adder(proxy)
        try:
            assert await adder.query_value("SELECT 1") == 1
        finally:
            await adder.close()
        assert proxy.rules[0].fired == 1
    assert run.report_counts["adder_opens_failed"] == 1


async def test_the_wait_for_the_queue_ends_at_once_when_the_adder_failed(
    db: DB, tmp_path: Path
) -> None:
    async def fails() -> None:
        raise RuntimeError("the adder gave up")

    run = _Run(ChaosConfig(deadline=60), db, "", None, tmp_path, lambda _: None)
    adder = asyncio.create_task(fails())
    await asyncio.wait_for(run.wait_done(adder), 5)
    with pytest.raises(RuntimeError):
        await adder


async def test_a_side_effect_made_again_is_put_down_to_a_fault_a_silence_or_nothing(
    db: DB, tmp_path: Path
) -> None:
    """Three tasks whose effect was made twice, by a second machine's process (pid 200): the
    first made on a machine a fault struck (pid 102), on one the cluster declared dead with no
    fault (chaos-0, pid 101: a starved process is silent all the same), and on one nothing
    happened to (pid 103): only the last breaks the promise."""
    run = _Run(ChaosConfig(machine_timeout=3), db, "", None, tmp_path, lambda _: None)
    for name, pid in (("chaos-0", 101), ("chaos-1", 102), ("chaos-2", 103), ("chaos-3", 200)):
        machine = _Machine(name, PgProxy("127.0.0.1", 9), "", db.schema, tmp_path)
        machine.pids = [pid]
        run.machines.append(machine)
    t0 = time.time() - 60
    run.faults.append(Fault("stop", "chaos-1", t0 + 1, t0 + 4, (102,)))
    await db.exec(
        "INSERT INTO cluster_events (at, kind, machine, message) "
        "VALUES (to_timestamp($1), 'machine-dead', 'chaos-0', 'no heartbeat')",
        t0 + 3,
    )
    journal = tmp_path / "journal"
    journal.write_text(
        "".join(
            f"S {task} {pid} {t0:.6f}\nE {task} {pid} {t0 + 0.5:.6f}\n"
            f"S {task} 200 {t0 + 5:.6f}\nE {task} 200 {t0 + 5.5:.6f}\n"
            for task, pid in ((1, 101), (2, 102), (3, 103))
        )
    )
    report = ChaosReport(server="", config={})
    await _count(report, run, db, journal)
    assert report.declared_dead == 1
    assert report.side_effect_again_after_fault == 1
    assert report.side_effect_again_after_silence == 1
    assert report.side_effect_twice == 1
    assert [e.split(":")[0] for e in report.unexplained_effects] == ["task 3"]
    assert "chaos-2 (pid 103)" in report.unexplained_effects[0]
    assert not report.kept_the_promise
