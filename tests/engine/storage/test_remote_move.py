"""Moves from another host through /remote: a sector on host A's path, served by A's process
and by host B (which shares the directory, NFS-like), moved to host C's store. A's serving
process is SIGKILLed mid-read: the move carries on from B; with no server left it fails,
naming each URL, with nothing half-written and the source still the declared copy."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from engine.harmonydb import DB
from engine.storage import (
    SectorFileType,
    declare_sector,
    find_sector,
    move_sector,
    sector_file_path,
)
from engine.storage.remote import RemoteReadError, StorageServer

FT = SectorFileType
MIB = 1 << 20
SSIZE = 32 * MIB  # more than loopback's socket buffers: a kill lands mid-body
MINER, SECTOR = 1000, 9

SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from engine.harmonydb import DB
    from engine.storage.remote import StorageServer

    async def main():
        url, schema, host = sys.argv[1:]
        db = await DB.open(url, schema=schema, migrate=False, max_size=2)
        server = StorageServer(db, host=host)
        print(await server.start(), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def serving_process(db: DB, tmp_path: Path, host: str) -> asyncio.subprocess.Process:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        db.url.dsn,
        db.schema,
        host,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    line = await asyncio.wait_for(proc.stdout.readline(), 60)  # type: ignore[union-attr]
    if not line.startswith(b"http://"):
        proc.kill()
        _, err = await proc.communicate()
        pytest.fail(f"server did not start: {line!r} {err.decode()[-2000:]}")
    return proc


def sha(path: Path) -> str:
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return hashlib.sha256(
        b"".join(p.name.encode() + p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())
    ).hexdigest()


async def test_a_move_from_another_host_survives_its_server_killed_mid_read(
    db: DB, attach_dir, write_file, tmp_path: Path
) -> None:
    a = await attach_dir("shared", host="host-a", can_store=True)
    await attach_dir("shared", host="host-b")  # the same directory, reached from host B too
    c = await attach_dir("store-c", host="host-c", can_store=True)
    src = {ft: sector_file_path(a.local_path, ft, MINER, SECTOR) for ft in (FT.SEALED, FT.CACHE)}
    write_file(src[FT.SEALED], SSIZE)
    write_file(src[FT.CACHE] / "p_aux", 64)
    write_file(src[FT.CACHE] / "sc-02-data-tree-r-last.dat", 3 * MIB)
    for ft in src:
        await declare_sector(db, a.storage_id, MINER, SECTOR, ft, sector_size=SSIZE)
    before = {ft: sha(p) for ft, p in src.items()}

    proc = await serving_process(db, tmp_path, "host-a")
    b = StorageServer(db, host="host-b")
    await b.start()
    [loc] = await find_sector(db, MINER, SECTOR, FT.SEALED, host="host-c")
    assert len(loc.urls) == 2 and loc.urls[1] == b.url  # host-a's URL first

    killed: list[int] = []

    def kill_a(step: str, n: int) -> None:
        if step == "copying" and not killed and proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            killed.append(n)

    try:
        [moved] = await move_sector(
            db, MINER, SECTOR, FT.SEALED, dest=c.storage_id, host="host-c", on_step=kill_a
        )
        assert killed and killed[0] < SSIZE
        assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGKILL
        dst = sector_file_path(c.local_path, FT.SEALED, MINER, SECTOR)
        assert moved.path == dst and moved.bytes == SSIZE and sha(dst) == before[FT.SEALED]
        [loc] = await find_sector(db, MINER, SECTOR, FT.SEALED, host="host-c")
        assert loc.storage_id == c.storage_id and loc.local_path == dst
        assert not src[FT.SEALED].exists()  # B deleted the now undeclared source
        assert await db.query_value("SELECT count(*) FROM storage_moves") == 0

        # No server left: the cache's move fails visibly, leaving nothing on C.
        await b.stop(unregister=False)
        with pytest.raises(RemoteReadError) as failed:
            await move_sector(db, MINER, SECTOR, FT.CACHE, dest=c.storage_id, host="host-c")
        assert b.url in str(failed.value) and "http://127.0.0.1" in str(failed.value)
        assert sorted(p.name for p in (c.local_path / "cache").iterdir()) == []
        [loc] = await find_sector(db, MINER, SECTOR, FT.CACHE, host="host-c")
        assert loc.storage_id == a.storage_id and sha(src[FT.CACHE]) == before[FT.CACHE]
        assert await db.query_value("SELECT count(*) FROM storage_moves") == 0

        # Served again: the cache directory arrives whole (as a tar) and is declared on C.
        await b.start()
        [moved] = await move_sector(db, MINER, SECTOR, FT.CACHE, dest=c.storage_id, host="host-c")
        assert sha(moved.path) == before[FT.CACHE] and not src[FT.CACHE].exists()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await b.stop(unregister=False)
