"""Operator limits on one machine: ``--max-tasks`` caps (Curio's ``*MaxTasks``) and the
resources it offers (``--cpus/--ram/--gpus``), honoured by the engine and checked in the
database."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.harmonydb import DB
from engine.harmonytask import (
    EngineConfig,
    Limiter,
    ResourceOffer,
    add_tasks,
    format_max_tasks,
    parse_max_tasks,
)
from engine.resources import GiB, Resources
from support.probe import Probe, wait_until

#: As the ``engines`` fixture's default (tests/conftest.py): heartbeats only when asked.
MANUAL = EngineConfig(
    heartbeat_interval=3600, machine_timeout=5, poll_interval=30, housekeeping_interval=3600
)


async def owned_by(db: DB, machine_id: int, name: str) -> int:
    """Tasks of ``name`` the database says ``machine_id`` holds now."""
    return await db.query_value(
        "SELECT count(*) FROM harmony_task WHERE owner_id = $1 AND name = $2", machine_id, name
    )


def test_max_tasks_parse_and_format() -> None:
    caps = parse_max_tasks(" SDR=2, WdPost = 1 ,")
    assert caps == {"SDR": 2, "WdPost": 1}
    assert format_max_tasks(caps) == "SDR=2,WdPost=1"
    assert parse_max_tasks("") == {}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("SDR", "'SDR' is not TYPE=N"),
        ("=2", "is not TYPE=N"),
        ("SDR=two", "'two' is not a whole number"),
        ("SDR=0", "the cap must be 1 or more"),
        ("SDR=-1", "the cap must be 1 or more"),
        ("SDR=1,SDR=2", "task type SDR is given twice"),
        ("ThisNameIsFarTooLong=1", "is not a task type"),
    ],
)
def test_max_tasks_refuses_bad_entries(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_max_tasks(text)


def test_an_offer_only_lowers_the_probed_capacity() -> None:
    probed = Resources(cpu=16, ram=64 * GiB, gpu=2)
    offer = ResourceOffer(cpu=4, ram=8 * GiB, gpu=0)
    assert offer.apply(probed) == Resources(cpu=4, ram=8 * GiB, gpu=0)
    assert ResourceOffer(cpu=64).apply(probed) == probed  # never more than the box has
    assert ResourceOffer().apply(probed) == probed
    assert not ResourceOffer().limits_anything
    with pytest.raises(ValueError, match="CPUs offered must be more than 0"):
        ResourceOffer(cpu=0)


async def test_a_cap_of_one_never_lets_two_run_at_once(probe_db, engines) -> None:
    """The type declares no limit and fits four times; the cap lets one run, as the database
    sees it, at every step."""
    probe = Probe(probe_db, "m", block=True, cost=Resources(cpu=1))
    other = Probe(probe_db, "m", "other", block=True, cost=Resources(cpu=1))
    config = replace(MANUAL, max_tasks={"probe": 1, "absent": 3})  # absent: not run here
    engine = await engines([probe, other], "m", config=config)
    await add_tasks(probe_db, "probe", 3)
    await add_tasks(probe_db, "other", 2)
    await wait_until(lambda: len(probe.started) == 1 and len(other.started) == 2, 10)
    assert (await engine.cycle()).claimed == ()  # two more probes wait in the queue
    assert await owned_by(probe_db, engine.machine_id, "probe") == 1
    assert await owned_by(probe_db, engine.machine_id, "other") == 2  # uncapped
    for n in (2, 3):
        probe.release(probe.started[-1])
        await wait_until(lambda n=n: len(probe.started) == n, 10)
        assert await owned_by(probe_db, engine.machine_id, "probe") == 1
        assert (await engine.cycle()).claimed == ()
    assert engine.handlers["probe"].headroom() == 0


async def test_a_cap_and_the_types_own_limits_the_lower_applies(probe_db, engines) -> None:
    shared = Limiter(3)
    a = Probe(probe_db, "m", "alpha", block=True, max=shared)
    b = Probe(probe_db, "m", "beta", block=True, max=shared)
    own = Probe(probe_db, "m", "gamma", block=True, max=2)
    config = replace(MANUAL, max_tasks={"alpha": 1, "gamma": 5})
    engine = await engines([a, b, own], "m", config=config)
    for name in ("alpha", "beta", "gamma"):
        await add_tasks(probe_db, name, 4)
    await wait_until(lambda: len(a.started) + len(b.started) == 3 and len(own.started) == 2, 10)
    assert (await engine.cycle()).claimed == ()
    assert len(a.started) == 1  # its cap, within the shared three
    assert len(b.started) == 2
    assert await owned_by(probe_db, engine.machine_id, "alpha") == 1
    assert await owned_by(probe_db, engine.machine_id, "gamma") == 2  # its own max: 2 < 5
    assert shared.active == 3


async def test_the_offered_resources_are_what_it_registers_and_schedules_into(
    probe_db, engines
) -> None:
    probe = Probe(probe_db, "m", block=True, cost=Resources(cpu=1))
    config = replace(MANUAL, offer=ResourceOffer(cpu=2, ram=4 * GiB))
    box = Resources(cpu=8, ram=16 * GiB, gpu=1)
    engine = await engines([probe], "m", config=config, capacity=box)
    assert engine.capacity == Resources(cpu=2, ram=4 * GiB, gpu=1)
    row = await probe_db.query_row(
        "SELECT cpu, ram, gpu FROM harmony_machines WHERE id = $1", engine.machine_id
    )
    assert (row["cpu"], row["ram"], row["gpu"]) == (2, 4 * GiB, 1)
    await add_tasks(probe_db, "probe", 4)
    await wait_until(lambda: len(probe.started) == 2, 10)
    assert (await engine.cycle()).claimed == ()
    assert await owned_by(probe_db, engine.machine_id, "probe") == 2
