"""The storage server as a machine's service: up while the machine runs, once it has paths."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..heartbeat import HEARTBEAT_INTERVAL
from ..paths import local_paths
from .server import StorageServer

__all__ = ["serve_storage", "start_storage_server"]

log = logging.getLogger(__name__)


async def start_storage_server(server: StorageServer) -> bool:
    """Start ``server`` now if its host has storage paths; False if it has none yet.

    Raises ValueError (for the command line) when the address cannot be listened on.
    """
    if not await local_paths(server.db, server.host):
        return False
    try:
        await server.start()
    except OSError as exc:
        listen = f"{server.listen.host}:{server.listen.port}"
        raise ValueError(f"the storage server cannot listen on {listen}: {exc}") from None
    return True


async def serve_storage(server: StorageServer, *, started: bool, interval: float | None = None):  # type: ignore[no-untyped-def]
    """Keep ``server`` running until cancelled; if it was not ``started`` (no paths then),
    start it once a path is attached on its host. Stops it, dropping its URL, when cancelled."""
    wait = HEARTBEAT_INTERVAL if interval is None else interval
    try:
        while not started:
            await asyncio.sleep(wait)
            try:
                started = await start_storage_server(server)
            except ValueError as exc:
                log.error("%s; retrying in %gs", exc, wait)
            except Exception as exc:  # the database, while listing the URL: try again later
                log.warning("the storage server could not start: %s; retrying in %gs", exc, wait)
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(server.stop())
