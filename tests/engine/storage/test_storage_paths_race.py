"""Attach and detach against a storage server registering its URL at the same moment.

Both rewrite ``storage_path.urls`` from what they read of ``storage_path_hosts`` and
``storage_servers``; a rewrite that read before the other committed must not win with a list
missing the other's change (see :mod:`engine.storage.paths` and the server's own test in
``test_remote_server.py``).
"""

from __future__ import annotations

import asyncio

from engine.harmonydb import DB, Tx
from engine.storage import attach, detach
from engine.storage.hosts import host_url
from engine.storage.paths import refresh_host_urls
from support.probe import wait_until

A_URL = "http://host-a:1/remote"
WAIT = 20.0


async def urls_of(db: DB, storage_id: str) -> list[str]:
    urls = await db.query_value("SELECT urls FROM storage_path WHERE storage_id = $1", storage_id)
    return urls.split(",")


async def test_a_detach_while_a_server_registers_keeps_the_servers_url(db: DB, attach_dir) -> None:
    shared = await attach_dir("shared", host="host-a")
    on_b = await attach_dir("shared", host="host-b")
    await attach_dir("shared", host="host-c")
    inserted, release = asyncio.Event(), asyncio.Event()

    async def a_registers() -> None:  # held open until the detach has read the path
        async with db.begin() as tx:
            await tx.exec(
                "INSERT INTO storage_servers (url, hostname) VALUES ($1, 'host-a')", A_URL
            )
            await refresh_host_urls(tx, "host-a")
            inserted.set()
            await release.wait()
            await tx.commit()

    async def detach_waits_for_a() -> bool:
        return bool(
            await db.query_value(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE storage_path SET urls%'"
            )
        )

    registering = asyncio.create_task(a_registers())
    await asyncio.wait_for(inserted.wait(), WAIT)
    detaching = asyncio.create_task(detach(db, shared.local_path, host="host-c"))
    await wait_until(detach_waits_for_a, WAIT, "the detach to wait on the path's row")
    release.set()
    await asyncio.wait_for(registering, WAIT)
    result = await asyncio.wait_for(detaching, WAIT)
    assert not result.removed
    # neither lost the other's change: A's server listed, C gone
    assert await urls_of(db, shared.storage_id) == [
        A_URL,
        host_url("host-b", str(on_b.local_path), None),
    ]


async def test_an_attach_while_the_hosts_server_registers_lists_the_servers_url(
    db: DB, tmp_path
) -> None:
    """The server reads the host's paths before the attach commits (it misses the new path),
    the attach reads the servers before the server commits (it misses the URL): no row is
    shared, so only serializable transactions on both sides see the conflict."""
    read, attached = asyncio.Event(), asyncio.Event()

    async def a_registers(tx: Tx) -> None:  # the server's registration, as it runs it
        await tx.exec("INSERT INTO storage_servers (url, hostname) VALUES ($1, 'host-a')", A_URL)
        await refresh_host_urls(tx, "host-a")
        read.set()
        await attached.wait()  # the first attempt stays open across the attach
        await tx.commit()

    registering = asyncio.create_task(db.transaction(a_registers, isolation="serializable"))
    await asyncio.wait_for(read.wait(), WAIT)  # it has read the host's paths (none yet)
    directory = tmp_path / "new"
    directory.mkdir()
    try:
        path = await asyncio.wait_for(attach(db, directory, host="host-a"), WAIT)
    finally:
        attached.set()
    await asyncio.wait_for(registering, WAIT)
    assert await urls_of(db, path.storage_id) == [A_URL]
