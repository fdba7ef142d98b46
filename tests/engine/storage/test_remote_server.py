"""The storage server (/remote): range reads, cache tars, the cluster secret, and no way out
of a storage path. Two servers play two hosts in one process (the ``host=`` pattern)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from engine.harmonydb import DB
from engine.storage import (
    SectorFileType,
    declare_sector,
    find_sector,
    sector_file_path,
)
from engine.storage.paths import refresh_host_urls
from engine.storage.remote import (
    RemoteReader,
    RemoteReadError,
    StorageServer,
    cluster_secret,
    parse_listen,
)
from support.probe import wait_until

FT = SectorFileType
MINER, SECTOR = 1000, 7
SIZE = 2 << 20


@pytest.fixture
async def servers(db: DB) -> AsyncIterator[Callable[..., Awaitable[StorageServer]]]:
    started: list[StorageServer] = []

    async def start(host: str) -> StorageServer:
        server = StorageServer(db, host=host)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop(unregister=False)


@pytest.fixture
async def reader(db: DB) -> AsyncIterator[RemoteReader]:
    r = RemoteReader(db, connect_timeout=2, read_timeout=5)
    yield r
    await r.close()


async def sector_on(db: DB, attach_dir, write_file, host: str, name: str) -> tuple[Path, bytes]:
    """A declared sealed file and cache (two files and a sub-directory) on ``host``."""
    attached = await attach_dir(name, host=host, can_store=True)
    root = attached.local_path
    data = write_file(sector_file_path(root, FT.SEALED, MINER, SECTOR), SIZE)
    cache = sector_file_path(root, FT.CACHE, MINER, SECTOR)
    write_file(cache / "p_aux", 64)
    write_file(cache / "layers" / "tree-r-last", 300_000)
    for ft in (FT.SEALED, FT.CACHE):
        await declare_sector(db, attached.storage_id, MINER, SECTOR, ft)
    return root, data


def tree(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


async def test_urls_name_the_serving_hosts_and_ranges_read_exact_bytes(
    db: DB, attach_dir, write_file, servers, reader: RemoteReader
) -> None:
    root, data = await sector_on(db, attach_dir, write_file, "host-a", "a")
    [loc] = await find_sector(db, MINER, SECTOR, FT.SEALED, host="host-b")
    assert loc.local_path is None and loc.urls == [f"file://host-a{root}"]
    server = await servers("host-a")
    [loc] = await find_sector(db, MINER, SECTOR, FT.SEALED, host="host-b")
    assert loc.urls == [server.url] and server.url.startswith("http://127.0.0.1:")

    assert await reader.read_range(loc.urls, FT.SEALED, MINER, SECTOR, 0, 1) == data[:1]
    middle = await reader.read_range(loc.urls, FT.SEALED, MINER, SECTOR, 1_000_003, 4096)
    assert middle == data[1_000_003 : 1_000_003 + 4096]
    assert await reader.read_range(loc.urls, FT.SEALED, MINER, SECTOR, SIZE - 5, 5) == data[-5:]
    with pytest.raises(RemoteReadError, match="416"):
        await reader.read_range(loc.urls, FT.SEALED, MINER, SECTOR, SIZE, 1)

    await server.stop()  # its URL goes with it
    [loc] = await find_sector(db, MINER, SECTOR, FT.SEALED, host="host-b")
    assert loc.urls == [f"file://host-a{root}"]
    with pytest.raises(RemoteReadError, match="no host serves it"):
        await reader.read_range(loc.urls, FT.SEALED, MINER, SECTOR, 0, 1)


async def test_a_cache_comes_whole_as_a_tar_and_a_file_into_its_temp(
    db: DB, attach_dir, write_file, servers, reader: RemoteReader, tmp_path: Path
) -> None:
    root, data = await sector_on(db, attach_dir, write_file, "host-a", "a")
    server = await servers("host-a")
    target = tmp_path / "fetched-cache"
    target.mkdir()
    url, got = await reader.fetch_into([server.url], FT.CACHE, MINER, SECTOR, target)
    source = sector_file_path(root, FT.CACHE, MINER, SECTOR)
    assert url == server.url and got == 64 + 300_000
    assert tree(target) == tree(source)

    dest = tmp_path / "sealed.part"
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        _, got = await reader.fetch_into([server.url], FT.SEALED, MINER, SECTOR, dest, fd=fd)
    finally:
        os.close(fd)
    assert got == SIZE and dest.read_bytes() == data


async def test_the_secret_is_required(
    db: DB, attach_dir, write_file, servers, reader: RemoteReader
) -> None:
    await sector_on(db, attach_dir, write_file, "host-a", "a")
    server = await servers("host-a")
    url = f"{server.url}/sealed/s-t0{MINER}-{SECTOR}"
    secret = await cluster_secret(db)
    assert secret.headers()["Authorization"][7:] not in repr(secret)
    wrong = "Bearer " + "00" * 32
    async with aiohttp.ClientSession() as s:
        for headers in ({}, {"Authorization": wrong}, {"Authorization": "Bearer zz"}):
            async with s.get(url, headers=headers) as r:
                assert r.status == 401, headers
        async with s.get(url, headers=secret.headers()) as r:
            assert r.status == 200 and len(await r.read()) == SIZE
    # A reader holding another cluster's secret is refused, and says so.
    other = RemoteReader(db)
    other._secret = type(secret)(bytes(32))
    try:
        with pytest.raises(RemoteReadError, match="secret was refused"):
            await other.read_range([server.url], FT.SEALED, MINER, SECTOR, 0, 1)
    finally:
        await other.close()


async def test_nothing_outside_a_storage_path_is_reachable(
    db: DB, attach_dir, write_file, servers, tmp_path: Path
) -> None:
    root, _ = await sector_on(db, attach_dir, write_file, "host-a", "a")
    secret_file = tmp_path / "outside" / "secret.txt"
    write_file(secret_file, 100)
    # A declared sector whose sealed file is a symlink out of the path, and a cache holding one.
    os.symlink(secret_file, sector_file_path(root, FT.SEALED, MINER, 8))
    cache = sector_file_path(root, FT.CACHE, MINER, 8)
    cache.mkdir()
    os.symlink(secret_file, cache / "p_aux")
    attached = await db.query_value("SELECT storage_id FROM storage_path_hosts")
    for ft in (FT.SEALED, FT.CACHE):
        await declare_sector(db, attached, MINER, 8, ft)
    server = await servers("host-a")
    headers = (await cluster_secret(db)).headers()
    base = server.url.removesuffix("/remote")
    attempts = {
        "/remote/sealed/../../../../etc/passwd": (400, 404),
        "/remote/sealed/..%2f..%2f..%2fetc%2fpasswd": (400, 404),
        "/remote/sealed/%2e%2e%2f%2e%2e%2fsectorstore.json": (400, 404),
        "/remote/%2e%2e/sectorstore.json": (400, 404),
        "/remote/..%2fsectorstore.json/s-t01000-7": (400, 404),
        f"/remote/sealed/{secret_file}": (400, 404),
        f"/remote/sealed/%2F{str(secret_file)[1:].replace('/', '%2F')}": (400, 404),
        "/remote/sealed/s-t01000-7%2f..%2f..%2fsectorstore.json": (400, 404),
        "/remote/stat/..%2f..%2f": (404,),
        "/remote/sealed/s-t01000-8": (403,),
        "/remote/cache/s-t01000-8": (403,),
    }
    async with aiohttp.ClientSession() as s:
        for path, statuses in attempts.items():
            async with s.get(URL(base + path, encoded=True), headers=headers) as r:
                body = await r.read()
                assert r.status in statuses, (path, r.status, body[:100])
                assert len(body) < 300  # a short refusal, never a file
    # The raw request line, as a hostile client would send it, without URL normalisation.
    host, port = base.removeprefix("http://").split(":")
    for raw in ("/remote/sealed/../../sectorstore.json", "/remote/../../../etc/passwd"):
        status = await raw_get(host, int(port), raw, headers["Authorization"])
        assert status in (400, 404), (raw, status)


async def raw_get(host: str, port: int, path: str, auth: str) -> int:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    return int(head.decode("latin-1").split(" ")[1])


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:0").is_loopback
    assert parse_listen("0.0.0.0:12310").port == 12310
    assert parse_listen(":12310").host == "0.0.0.0"
    assert parse_listen("[::1]:5").host == "::1"
    for bad in ("nope", "1.2.3.4:x", "1.2.3.4:70000"):
        with pytest.raises(ValueError):
            parse_listen(bad)


async def test_the_service_serves_once_the_host_has_a_path_and_drops_its_url(
    db: DB, attach_dir
) -> None:
    from engine.storage.remote.service import serve_storage, start_storage_server

    server = StorageServer(db, host="host-s")
    assert not await start_storage_server(server)  # no path on host-s yet
    service = asyncio.create_task(serve_storage(server, started=False, interval=0.05))
    try:
        await attach_dir("s", host="host-s")

        async def listed() -> bool:  # the URL is set before it is listed: wait for the list
            urls = await db.query_value("SELECT urls FROM storage_path")
            return server.url is not None and urls == server.url

        await wait_until(listed, 10, "the service to start and list its URL")
    finally:
        service.cancel()
        await asyncio.gather(service, return_exceptions=True)
    assert (await db.query_value("SELECT urls FROM storage_path")).startswith("file://host-s/")
    assert await db.query_value("SELECT count(*) FROM storage_servers") == 0
    first = StorageServer(db, host="host-s")
    await first.start()
    try:
        port = int(first.url.rsplit(":", 1)[1].split("/")[0])
        taken = StorageServer(db, host="host-s", listen=f"127.0.0.1:{port}")
        with pytest.raises(ValueError, match=rf"cannot listen on 127\.0\.0\.1:{port}"):
            await start_storage_server(taken)
    finally:
        await first.stop()


async def test_two_hosts_starting_at_once_both_land_in_a_shared_paths_urls(
    db: DB, attach_dir
) -> None:
    shared = await attach_dir("shared", host="host-a")
    await attach_dir("shared", host="host-b")
    b = StorageServer(db, host="host-b")
    a_url = "http://host-a:1/remote"
    inserted, release = asyncio.Event(), asyncio.Event()

    async def a_registers() -> None:  # held open until B's registration has read the path
        async with db.begin() as tx:
            await tx.exec(
                "INSERT INTO storage_servers (url, hostname) VALUES ($1, 'host-a')", a_url
            )
            await refresh_host_urls(tx, "host-a")
            inserted.set()
            await release.wait()
            await tx.commit()

    async def b_waits_for_a() -> bool:
        return bool(
            await db.query_value(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE storage_path SET urls%'"
            )
        )

    registering = asyncio.create_task(a_registers())
    await asyncio.wait_for(inserted.wait(), 20)
    starting = asyncio.create_task(b.start())
    await wait_until(b_waits_for_a, 20, "host B's registration to wait on the path's row")
    release.set()
    await asyncio.wait_for(registering, 20)
    await asyncio.wait_for(starting, 30)
    try:
        urls = await db.query_value(
            "SELECT urls FROM storage_path WHERE storage_id = $1", shared.storage_id
        )
        assert urls.split(",") == [a_url, b.url]  # neither registration lost the other's
    finally:
        await b.stop(unregister=False)


class _CancelledAfterRegistering(StorageServer):
    """A cancel that lands once the registration has committed (its reply on the way)."""

    async def _register(self) -> None:
        await super()._register()
        raise asyncio.CancelledError


async def test_a_start_cancelled_after_its_url_was_listed_drops_it(db: DB, attach_dir) -> None:
    await attach_dir("c", host="host-c")
    server = _CancelledAfterRegistering(db, host="host-c")
    with pytest.raises(asyncio.CancelledError):
        await server.start()
    assert server.url is None
    assert await db.query_value("SELECT count(*) FROM storage_servers") == 0
    assert (await db.query_value("SELECT urls FROM storage_path")).startswith("file://host-c/")
