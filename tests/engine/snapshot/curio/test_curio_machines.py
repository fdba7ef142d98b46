"""The Curio read model's machines section on Curio-shaped rows (support.curio_schema): states
with Curio's rules (cordon, restart request, LOOKS_DEAD_TIMEOUT), staleness on a one-minute
beat, details as Curio writes them, no live load, and the tasks each machine owns; as the owner
and as a role that may only SELECT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.harmonytask.machine_state import MachineState
from engine.snapshot.curio import CurioSnapshotReader
from engine.snapshot.curio.machines import curio_machine_state, read_machines
from engine.snapshot.curio.reader import DEAD_AFTER, STALE_AFTER
from engine.snapshot.model import MachineSnap, RunningTaskSnap
from support.curio_read import curio_session, owner, read_with, seeded_at, select_only
from support.curio_schema import CurioCluster

SEAL, GPU, POST = "10.0.0.11:12300", "10.0.0.12:12300", "10.0.0.13:12300"
GiB = 1 << 30


async def machines_at(
    cluster: CurioCluster,
    now: datetime,
    *,
    url: str | None = None,
    stale_after: float = STALE_AFTER,
    dead_after: float = DEAD_AFTER,
    running_limit: int = 100,
) -> tuple[tuple[MachineSnap, ...], tuple[RunningTaskSnap, ...]]:
    read, _ = await read_with(
        cluster,
        lambda tx: read_machines(
            tx, now, stale_after=stale_after, dead_after=dead_after, running_limit=running_limit
        ),
        url=url,
    )
    return read


def by_host(machines: tuple[MachineSnap, ...]) -> dict[str, MachineSnap]:
    return {m.host_and_port: m for m in machines}


# --------------------------------------------------------------------------- the seed


async def test_machines_as_seeded(curio_db: CurioCluster) -> None:
    assert curio_db.seed is not None
    now = await seeded_at(curio_db)
    machines, _ = await machines_at(curio_db, now)
    # ordered by name: gpu-1, post-1, seal-1
    assert [m.name for m in machines] == ["gpu-1", "post-1", "seal-1"]
    m = by_host(machines)
    ids = curio_db.seed.machines
    assert {h: s.id for h, s in m.items()} == ids

    seal, gpu, post = m[SEAL], m[GPU], m[POST]
    # beat 20 s ago, no flags
    assert seal.state is MachineState.ACTIVE and not seal.stale
    assert seal.contact_age == pytest.approx(20, abs=1e-3)
    # the GPU box is cordoned (unschedulable), beat 45 s ago: within a one-minute beat
    assert gpu.state is MachineState.CORDONED and not gpu.stale
    assert gpu.contact_age == pytest.approx(45, abs=1e-3)
    # restart requested, and silent for 240 s: missed its beats but not dead yet (600 s)
    assert post.state is MachineState.RESTARTING and post.stale and post.alive
    assert post.contact_age == pytest.approx(240, abs=1e-3)

    assert (seal.cpu, seal.ram, seal.gpu) == (64, 512 * GiB, 2.0)
    assert (gpu.cpu, gpu.ram, gpu.gpu) == (32, 256 * GiB, 1.0)
    assert (post.cpu, post.ram, post.gpu) == (16, 64 * GiB, 0.0)
    for machine in machines:
        # Curio's rows hold no live load: none shown, and the pane is told so
        assert (machine.cpu_load, machine.ram_used, machine.gpu_used) == (None, None, None)
        assert machine.reports_load is False
        assert machine.version == "1.28.4 e0294b0"
        assert machine.miners == ("f01000",)
        assert machine.startup_time == now - timedelta(days=1)
        assert machine.uptime == pytest.approx(86_400 - machine.contact_age, abs=1e-3)
        assert machine.running == 1
    assert seal.tasks == (
        "SDR", "TreeD", "TreeRC", "SyntheticProofs", "PreCommitBatch", "Finalize",
        "MoveStorage", "CommitBatch",
    )  # fmt: skip
    assert gpu.tasks == ("PoRep", "UpdateProve")
    assert post.tasks == ("WdPost", "WdPostSubmit", "WdPostRecover", "WinPost")
    assert (seal.layers, gpu.layers, post.layers) == (
        ("base", "seal"),
        ("base", "gpu"),
        ("base", "post"),
    )


async def test_running_tasks_as_seeded(curio_db: CurioCluster) -> None:
    assert curio_db.seed is not None
    now = await seeded_at(curio_db) + timedelta(seconds=10)
    _, running = await machines_at(curio_db, now)
    sdr, porep, wdpost = curio_db.seed.running
    ids = curio_db.seed.machines
    # the longest-queued first (update_time: T-900, T-450, T-150)
    assert [t.id for t in running] == [porep, sdr, wdpost]
    r = {t.id: t for t in running}
    assert (r[sdr].name, r[sdr].owner_id) == ("SDR", ids[SEAL])
    assert (r[porep].name, r[porep].owner_id) == ("PoRep", ids[GPU])
    assert (r[wdpost].name, r[wdpost].owner_id) == ("WdPost", ids[POST])
    # Curio records no claim time; elapsed counts from update_time (when it last entered the
    # queue), as Curio's GUI does
    assert all(t.claimed_at is None for t in running)
    assert r[sdr].elapsed == pytest.approx(460, abs=1e-3)
    assert r[porep].elapsed == pytest.approx(910, abs=1e-3)
    assert r[wdpost].elapsed == pytest.approx(160, abs=1e-3)
    assert r[porep].posted_time == now - timedelta(seconds=1810)
    # no attempt counter in Curio: retries + 1
    assert (r[porep].retries, r[porep].attempt) == (1, 2)
    assert (r[sdr].retries, r[sdr].attempt) == (0, 1)


async def test_running_list_is_limited_but_counts_are_not(curio_db: CurioCluster) -> None:
    assert curio_db.seed is not None
    now = await seeded_at(curio_db)
    machines, running = await machines_at(curio_db, now, running_limit=1)
    assert [t.id for t in running] == [curio_db.seed.running[1]]  # PoRep, queued longest
    assert sum(m.running for m in machines) == 3


# --------------------------------------------------------------------------- the rules


async def test_dead_after_looks_dead_timeout_whatever_the_flags(curio_db: CurioCluster) -> None:
    """Curio deletes a row silent for longer than LOOKS_DEAD_TIMEOUT (strictly longer): until
    someone does, it is DEAD here, even with a restart request or a cordon on it."""
    now = await seeded_at(curio_db)
    # post-1 has been silent 240 s at the seed: 360 s later it is exactly at the limit
    machines, _ = await machines_at(curio_db, now + timedelta(seconds=360))
    post = by_host(machines)[POST]
    assert post.state is MachineState.RESTARTING and post.stale
    machines, _ = await machines_at(curio_db, now + timedelta(seconds=361))
    m = by_host(machines)
    assert m[POST].state is MachineState.DEAD
    assert not m[POST].alive and not m[POST].stale  # stale is for live machines only
    assert m[GPU].state is MachineState.CORDONED  # silent 406 s: stale, not dead
    assert m[GPU].stale and m[SEAL].stale
    # 555 s after the seed the cordoned box has been silent 600 s + 1
    machines, _ = await machines_at(curio_db, now + timedelta(seconds=556))
    assert by_host(machines)[GPU].state is MachineState.DEAD
    assert by_host(machines)[SEAL].state is MachineState.ACTIVE


async def test_stale_after_two_and_a_half_missed_beats(curio_db: CurioCluster) -> None:
    """Curio beats once a minute: 150 s of silence is stale, 150 s exactly is not."""
    now = await seeded_at(curio_db)
    machines, _ = await machines_at(curio_db, now + timedelta(seconds=130))
    assert not by_host(machines)[SEAL].stale  # silent 150 s
    machines, _ = await machines_at(curio_db, now + timedelta(seconds=131))
    assert by_host(machines)[SEAL].stale
    assert by_host(machines)[SEAL].state is MachineState.ACTIVE


async def test_restart_request_wins_over_a_cordon(curio_db: CurioCluster) -> None:
    """The GUI offers a restart only on a cordoned machine: both flags set reads RESTARTING;
    clearing the request (abort) leaves it CORDONED."""
    now = await seeded_at(curio_db)
    async with owner(curio_db) as conn:
        await conn.execute(
            "UPDATE harmony_machines SET restart_request = last_contact WHERE host_and_port = $1",
            GPU,
        )
    machines, _ = await machines_at(curio_db, now)
    assert by_host(machines)[GPU].state is MachineState.RESTARTING
    async with owner(curio_db) as conn:
        await conn.execute(
            "UPDATE harmony_machines SET restart_request = NULL WHERE host_and_port = $1", POST
        )
    machines, _ = await machines_at(curio_db, now)
    assert by_host(machines)[POST].state is MachineState.ACTIVE


def test_state_precedence() -> None:
    """Gone beats every flag; a restart request beats a cordon (as MACHINE_STATE_SQL)."""

    def state(age: float, *, cordoned: bool = False, restart: bool = False) -> MachineState:
        return curio_machine_state(
            restart_request=datetime(2026, 1, 1, tzinfo=UTC) if restart else None,
            unschedulable=cordoned,
            contact_age=age,
            dead_after=600.0,
        )

    assert state(0) is MachineState.ACTIVE
    assert state(10, cordoned=True) is MachineState.CORDONED
    assert state(600, cordoned=True, restart=True) is MachineState.RESTARTING
    assert state(600.001, cordoned=True, restart=True) is MachineState.DEAD
    assert state(600.001) is MachineState.DEAD


async def test_a_machine_without_details(curio_db: CurioCluster) -> None:
    """Between registering and writing its details (or with a blank name) a machine shows under
    its address, with no tasks, layers or miners."""
    now = await seeded_at(curio_db)
    async with owner(curio_db) as conn:
        bare = await conn.fetchval(
            "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu, last_contact) "
            "VALUES ('10.0.0.14:12300', 8, 1, 0, $1) RETURNING id",
            now,
        )
        await conn.execute(
            "UPDATE harmony_machine_details SET machine_name = '', tasks = ',SDR,,TreeD,' "
            "WHERE machine_id = $1",
            curio_db.seed.machines[SEAL] if curio_db.seed else 0,
        )
    machines, _ = await machines_at(curio_db, now)
    m = by_host(machines)
    new = m["10.0.0.14:12300"]
    assert new.id == bare
    assert (new.name, new.label) == ("10.0.0.14:12300", "10.0.0.14:12300")
    assert (new.tasks, new.layers, new.miners, new.running) == ((), (), (), 0)
    assert (new.startup_time, new.version, new.uptime) == (None, None, None)
    assert new.state is MachineState.ACTIVE
    assert m[SEAL].name == SEAL
    assert m[SEAL].tasks == ("SDR", "TreeD")
    # ordered by the name shown, then id
    assert [x.name for x in machines] == sorted(x.name for x in machines)


# --------------------------------------------------------------------------- safety


async def test_a_select_only_role_reads_it(curio_db: CurioCluster) -> None:
    now = await seeded_at(curio_db)
    async with select_only(curio_db) as url:
        machines, running = await machines_at(curio_db, now, url=url)
    owned = await machines_at(curio_db, now)
    assert [(m.id, m.state, m.running) for m in machines] == [
        (m.id, m.state, m.running) for m in owned[0]
    ]
    assert [t.id for t in running] == [t.id for t in owned[1]]


async def test_snapshot_machines_section(curio_db: CurioCluster) -> None:
    """End to end: CurioSnapshotReader's machines section has no error (sections other helpers
    are still writing may)."""
    assert curio_db.seed is not None
    now = await seeded_at(curio_db)
    async with select_only(curio_db) as url, curio_session(curio_db, url=url, read_only=True) as db:
        snap = await CurioSnapshotReader(db).snapshot(now)
    assert snap.error("machines") is None, snap.errors
    assert snap.cluster == "curio"
    assert {m.id for m in snap.machines} == set(curio_db.seed.machines.values())
    assert snap.machine(curio_db.seed.machines[POST]).state is MachineState.RESTARTING  # type: ignore[union-attr]
    assert {t.id for t in snap.running_on(curio_db.seed.machines[GPU])} == {
        curio_db.seed.running[1]
    }
    assert snap.statements > 0
