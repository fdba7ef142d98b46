"""The machines and storage panes at 80x24 on one small seeded cluster (issue 13): each
filesystem and each host counted once, harmony's own bytes beside the filesystem's, a machine
that left shown as having left, no stale load bars, and figures that never wrap mid-way."""

from __future__ import annotations

from typing import Any

from console.fixture import FIXED_NOW
from engine.harmonydb import DB

GIB = 1 << 30
BEAT = "2026-01-01 11:59:57+00"  # three seconds before FIXED_NOW


async def seed_one_disk(db: DB) -> None:
    """The issue's case: a seal and a store path on one 252 GiB disk of host a, 174 GiB used;
    harmony's files: one 32 GiB sector sealed on the store path."""
    for storage_id, seal in (("seal-path", True), ("store-path", False)):
        await db.exec(
            "INSERT INTO storage_path (storage_id, capacity, fs_available, available, "
            "last_heartbeat, can_seal, can_store) VALUES ($1, $2, $3, $3, $4, $5, $6)",
            storage_id,
            252 * GIB,
            78 * GIB,
            FIXED_NOW.replace(second=57, minute=59, hour=11),
            seal,
            not seal,
        )
        await db.exec(
            "INSERT INTO storage_path_hosts (storage_id, hostname, local_path, last_heartbeat, "
            "fs_id) VALUES ($1, 'a', $2, $3, '2049')",
            storage_id,
            f"/srv/{storage_id}",
            FIXED_NOW.replace(second=57, minute=59, hour=11),
        )
    await db.exec(
        "INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id, "
        "sector_size) VALUES (1000, 1, 2, 'store-path', $1)",
        32 * GIB,
    )


async def test_storage_counts_one_disk_once_and_shows_harmonys_bytes(
    db: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    await seed_one_disk(db)
    app = console_app(db.url.dsn, db.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("4")
        text = await shows(app, pilot, "1 filesystem: 174 GiB of 252 GiB used (69%)")
        assert "503" not in text and "348" not in text  # the disk is not added twice
        assert "harmony 32 GiB" in text
        lines = text.splitlines()
        store = next(line for line in lines if line.strip().startswith("store-pa"))
        seal = next(line for line in lines if line.strip().startswith("seal-pat"))
        # the bar: harmony's sector file (#) and the rest of the disk's data (+), 69 % in all
        assert "[##++++++    ]  69%" in store and "32 GiB" in store
        assert "[++++++++    ]  69%" in seal and seal.rstrip().endswith(" 0 B")  # then the edge


async def test_storage_header_wraps_between_figures_at_80_columns(
    db: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    await seed_one_disk(db)
    app = console_app(db.url.dsn, db.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("4")
        text = await shows(app, pilot, "0 B reserved")
        lines = text.splitlines()
        first = next(i for i, line in enumerate(lines) if "2 paths:" in line)
        end = next(i for i, line in enumerate(lines) if line.strip().startswith("Path "))
        shown = [line.strip() for line in lines[first:end]]
        # every clause whole on one line: none starts with a fragment of the previous one
        assert shown[0].startswith("2 paths: 2 OK, 0 stale, 0 error;"), shown
        for line in shown[1:]:
            assert line.startswith(("1 filesystem", "harmony", "0 B reserved")), shown
        assert "1 filesystem: 174 GiB of 252 GiB used (69%)" in " ".join(shown)


async def seed_one_host(db: DB) -> None:
    """Two machines on one 2-core host (one boot), half busy; one that left cleanly 9 s ago and
    one declared dead, both with their last load still in the row."""
    rows = (
        (1, "vm:console", "s1", "b1", 0.5, None, 1),
        (2, "vm:worker-2", "s2", "b1", 0.5, None, 2),
        (3, "vm:worker-3", None, "b1", 0.9, None, 9),
        (4, "far:w", None, "b9", 0.9, FIXED_NOW, 120),
    )
    for machine_id, address, session, boot, load, lost, age in rows:
        await db.exec(
            "INSERT INTO harmony_machines (id, host_and_port, cpu, ram, gpu, session, hostname, "
            "boot_id, last_contact, cpu_load, ram_used, lost_at) "
            "VALUES ($1, $2, 2, 4294967296, 0, $3, 'vm', $4, $5, $6, 3221225472, $7)",
            machine_id,
            address,
            session,
            boot,
            FIXED_NOW.replace(second=0, minute=0)
            if age > 60
            else FIXED_NOW.replace(second=60 - age, minute=59, hour=11),
            load,
            lost,
        )


async def test_machines_count_each_host_once_and_say_who_left(
    db: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    await seed_one_host(db)
    app = console_app(db.url.dsn, db.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        text = await shows(app, pilot, "CPU 1 of 2 cores busy on 1 host")
        assert "of 4 cores" not in text
        lines = text.splitlines()
        left = next(line for line in lines if "vm:worker-3" in line)
        dead = next(line for line in lines if "far:w" in line)
        assert "left 9s" in left and "lost" not in left
        assert "lost" in dead
        for row in (left, dead):
            assert "[" not in row and "#" not in row  # no bar of a load that is gone
            assert "2c" in row and "4.0G" in row  # the capacity, where live rows show it
        live = next(line for line in lines if "vm:console" in line)
        assert "[##   ]  2c" in live and live.rstrip().endswith(" 1s ago")
        assert "left 9s" in left  # the Contact column whole at 80 columns
