"""``harmony storage find`` and ``harmony storage move`` as an operator runs them: a real
process on this host, the sector's files on another host ("host-a", served by a storage server
in the test process), moved here through that host's /remote. And the console's own machine
serves this host's paths the way ``harmony run --engine-only`` does (--storage-listen)."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from console.cli import build_parser
from console.commands.common import CommandError
from console.commands.machine_starter import machine_starter
from console.commands.storage_find import sector_miner
from engine.harmonydb import DB
from engine.storage import (
    SectorFileType,
    StorageHeartbeat,
    attach,
    declare_sector,
    find_sector,
    sector_file_path,
)
from engine.storage.hosts import this_host
from engine.storage.remote import RemoteReader, StorageServer
from support.cli import harmony
from support.probe import wait_until

FT = SectorFileType
MINER, SECTOR = 1000, 5
SIZE = 2048


async def test_find_then_move_from_another_host(db: DB, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "here").mkdir()
    a = await attach(db, tmp_path / "a", host="host-a", can_store=True)
    here = await attach(db, tmp_path / "here", can_store=True)  # this host, as the CLI sees it
    await StorageHeartbeat(db).beat_once()  # a destination must have reported its room
    sealed = sector_file_path(a.local_path, FT.SEALED, MINER, SECTOR)
    sealed.write_bytes(hashlib.sha256(b"x").digest() * (SIZE // 32))
    cache = sector_file_path(a.local_path, FT.CACHE, MINER, SECTOR)
    cache.mkdir()
    (cache / "p_aux").write_bytes(bytes(range(64)))
    for ft in (FT.SEALED, FT.CACHE):
        await declare_sector(db, a.storage_id, MINER, SECTOR, ft, sector_size=SIZE)
    server = StorageServer(db, host="host-a")
    await server.start()
    try:
        found = await harmony(db, "storage", "find", str(SECTOR))
        assert found.returncode == 0, found.stderr
        assert found.stdout == (
            f"In {a.storage_id} (sealed, cache)\n"
            "\tSealing: false; Storage: true\n"
            "\tRemote\n"
            f"\tURL: {server.url}\n"
        )
        moved = await harmony(db, "storage", "move", str(SECTOR), "--to", here.storage_id)
        assert moved.returncode == 0, moved.stderr
        assert f"s-t0{MINER}-{SECTOR} sealed: moved {a.storage_id} -> {here.storage_id}" in (
            moved.stdout
        )
        assert not sealed.exists() and not cache.exists()
        found = await harmony(db, "storage", "find", str(SECTOR), "--miner", "t01000", "--json")
        assert found.returncode == 0, found.stderr
        [loc] = json.loads(found.stdout)["locations"]
        assert loc["storage_id"] == here.storage_id and loc["types"] == ["sealed", "cache"]
        assert loc["local_path"] == str(here.local_path) and loc["primary"] == ["sealed", "cache"]
        assert loc["urls"] == [f"file://{socket.gethostname()}{here.local_path}"]
        moved_cache = sector_file_path(here.local_path, FT.CACHE, MINER, SECTOR)
        assert (moved_cache / "p_aux").read_bytes() == bytes(range(64))

        with pytest.raises(CommandError, match="no file of sector 77 is declared"):
            await sector_miner(db, None, 77)
    finally:
        await server.stop(unregister=False)


async def test_the_consoles_machine_serves_this_hosts_paths(
    db: DB, tmp_path: Path, console_app: Any, first_render: Any
) -> None:
    here = await attach(db, tmp_path, can_store=True)
    sealed = sector_file_path(here.local_path, FT.SEALED, MINER, SECTOR)
    sealed.write_bytes(hashlib.sha256(b"y").digest() * (SIZE // 32))
    await declare_sector(db, here.storage_id, MINER, SECTOR, FT.SEALED, sector_size=SIZE)
    flags = ["--schema", db.schema, "--no-demo", "--tasks", "noop", "--name", "test:console"]
    bad = build_parser().parse_args([*flags, "--storage-listen", "nowhere"])
    with pytest.raises(CommandError, match="--storage-listen"):  # before anything starts
        machine_starter(bad, None, [])
    args = build_parser().parse_args([*flags, "--storage-listen", "127.0.0.1:0"])
    opened: list[DB] = []
    starter = machine_starter(args, None, opened)
    failed: list[BaseException] = []

    async def start_machine(url: str) -> Any:  # what the app calls; its error kept for us
        try:
            return await starter(url)
        except BaseException as exc:
            failed.append(exc)
            raise

    def started() -> bool:
        if failed:
            raise AssertionError(f"the console's machine did not start: {failed[0]!r}")
        return app.engine_host.node is not None

    app = console_app(db.url.dsn, db.schema, engine=start_machine)
    reader = RemoteReader(db)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await first_render(app, pilot)
            await wait_until(started, 30, "the console's machine to start")

            async def served() -> list[str]:
                [loc] = await find_sector(db, MINER, SECTOR, FT.SEALED, host="elsewhere")
                return [u for u in loc.urls if u.startswith("http://127.0.0.1:")]

            await wait_until(served, 20, "the console's storage server's URL")
            [url] = await served()
            got = await reader.read_range([url], FT.SEALED, MINER, SECTOR, 64, 100)
            assert got == sealed.read_bytes()[64:164]
            assert (
                await db.query_value("SELECT hostname FROM storage_servers WHERE url = $1", url)
                == this_host()
            )
            node = app.engine_host.node
            assert node is not None
            await node.stop_now()  # what the console does once it exits
        assert not await db.query_value("SELECT count(*) FROM storage_servers")
    finally:
        await reader.close()
        if app.engine_host.node is not None:
            await app.engine_host.node.stop_now()
        for opened_db in opened:
            await opened_db.close()
