"""Opening the cluster database: a URL, or the embedded server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from .db import DB
from .embedded import EmbeddedPostgres, start_embedded

__all__ = ["connect"]


async def connect(
    url: str | None = None, *, data_dir: Path | None = None, **open_kwargs: Any
) -> DB:
    """Open the cluster database: ``url`` if given, else the embedded server in ``data_dir``.

    The embedded server is started (or attached to) in a thread, so the event loop keeps
    running; this process stays registered with it until exit.
    """
    embedded: EmbeddedPostgres | None = None
    if url is None:
        embedded = await asyncio.to_thread(start_embedded, data_dir)
        url = embedded.uri
    db = await DB.open(url, **open_kwargs)
    db.embedded = embedded
    return db
