"""The machine timeout is one value for the whole cluster (``harmony_settings``): every machine
judges its peers by it, whatever its own configuration says, and a machine that names one
explicitly sets it for all."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, add_tasks
from engine.harmonytask.config import CLUSTER_MACHINE_TIMEOUT
from engine.harmonytask.settings import (
    DEFAULT_MACHINE_TIMEOUT,
    read_settings,
    set_machine_timeout,
)
from support.probe import Probe

#: Manual heartbeats, and no opinion on the timeout: the cluster's value applies.
FOLLOWER = EngineConfig(heartbeat_interval=3600, poll_interval=30, housekeeping_interval=3600)


async def silent_machine_with_a_task(db: DB, seconds: float) -> tuple[int, int]:
    """A machine row that last reported ``seconds`` ago, owning one task."""
    machine_id = await db.query_value(
        "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu, session, last_contact) "
        "VALUES ('quiet', 1, 1, 0, 'old', now() - make_interval(secs => $1)) RETURNING id",
        seconds,
    )
    (task_id,) = await add_tasks(db, "other", 1)
    await db.exec(
        "UPDATE harmony_task SET owner_id = $1, attempt = 1 WHERE id = $2", machine_id, task_id
    )
    return machine_id, task_id


async def owner(db: DB, task_id: int) -> int | None:
    return await db.query_value("SELECT owner_id FROM harmony_task WHERE id = $1", task_id)


async def test_the_migration_seeds_the_default(db: DB) -> None:
    assert (await read_settings(db)).machine_timeout == DEFAULT_MACHINE_TIMEOUT == 12.0


async def test_machines_with_different_configs_judge_peers_by_the_cluster_value(
    probe_db: DB, engines
) -> None:
    await set_machine_timeout(probe_db, 3)
    # Left to their own configs, a would wait 12 s and b 60 s before declaring a death.
    a = await engines([Probe(probe_db, "a")], "a", config=FOLLOWER)
    b = await engines(
        [Probe(probe_db, "b")], "b", config=replace(FOLLOWER, heartbeat_interval=20.0)
    )
    assert a.machine_timeout == b.machine_timeout == 3.0
    quiet, task_id = await silent_machine_with_a_task(probe_db, 5)
    await b.beat()
    assert await owner(probe_db, task_id) is None  # 5 s of silence is past the cluster's 3 s
    dead = await probe_db.query_value(
        "SELECT session IS NULL FROM harmony_machines WHERE id = $1", quiet
    )
    assert dead is True
    await a.beat()
    assert a.machine_timeout == 3.0


async def test_an_explicit_timeout_becomes_the_clusters_and_every_machine_follows(
    probe_db: DB, engines, caplog: pytest.LogCaptureFixture
) -> None:
    a = await engines([Probe(probe_db, "a")], "a", config=FOLLOWER)
    assert a.machine_timeout == DEFAULT_MACHINE_TIMEOUT
    with caplog.at_level(logging.WARNING):
        await engines([Probe(probe_db, "b")], "b", config=replace(FOLLOWER, machine_timeout=30.0))
    assert (await read_settings(probe_db)).machine_timeout == 30.0
    assert any("set the cluster's machine timeout to 30s" in r.getMessage() for r in caplog.records)
    _, task_id = await silent_machine_with_a_task(probe_db, 20)
    await a.beat()  # a reads the new value at its heartbeat: 20 s of silence is not enough
    assert a.machine_timeout == 30.0
    assert await owner(probe_db, task_id) is not None


async def test_a_missing_or_garbled_setting_falls_back_to_the_default(db: DB) -> None:
    await db.exec("UPDATE harmony_settings SET value = 'soon' WHERE name = 'machine_timeout'")
    assert (await read_settings(db)).machine_timeout == DEFAULT_MACHINE_TIMEOUT
    await db.exec("DELETE FROM harmony_settings")
    assert (await read_settings(db)).machine_timeout == DEFAULT_MACHINE_TIMEOUT
    assert await set_machine_timeout(db, 7) is None  # nothing was replaced
    assert await set_machine_timeout(db, 9) == 7.0
    assert await set_machine_timeout(db, 9) is None  # unchanged
    with pytest.raises(ValueError):
        await set_machine_timeout(db, 0)


def test_the_config_default_is_the_clusters_value() -> None:
    assert EngineConfig().machine_timeout is CLUSTER_MACHINE_TIMEOUT
    assert EngineConfig().machine_timeout == 12.0  # still a number for code that reads one
    assert type(replace(EngineConfig(), machine_timeout=12.0).machine_timeout) is float


@pytest.mark.parametrize(
    ("setting", "silence", "reaped", "judged_by"),
    [
        ("30", 20, False, 30.0),  # the cluster's value, read by the heartbeat statement itself
        (" 1.5e1 ", 20, True, 15.0),
        ("soon", 20, True, DEFAULT_MACHINE_TIMEOUT),  # unreadable: the 12 s default
        ("-4", 5, False, DEFAULT_MACHINE_TIMEOUT),  # not positive: the default, not 'at once'
        ("1e999", 20, True, DEFAULT_MACHINE_TIMEOUT),  # would overflow float8: the default
    ],
)
async def test_the_heartbeat_judges_peers_by_the_setting_it_reads(
    probe_db: DB, engines, setting: str, silence: float, reaped: bool, judged_by: float
) -> None:
    a = await engines([Probe(probe_db, "a")], "a", config=FOLLOWER)
    await probe_db.exec(
        "UPDATE harmony_settings SET value = $1 WHERE name = 'machine_timeout'", setting
    )
    _, task_id = await silent_machine_with_a_task(probe_db, silence)
    await a.beat()
    assert (await owner(probe_db, task_id) is None) is reaped
    assert a.machine_timeout == judged_by
