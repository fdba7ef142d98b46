"""The console's connections to the cluster database: one :class:`DatabaseLink` per console.

Two small pools, so an operator's action never waits behind a refresh: the reader's (the fixed
query set of :class:`~engine.snapshot.SnapshotReader` and the LISTEN connection) and the
actions' (cordon, drain, restart through the engine's admin API). A read-only console opens
only the first and works under a role that may only SELECT.

A foreign cluster (a Curio schema, see :mod:`engine.harmonydb.cluster_kind`) is opened without
migrating and read-only at the server, with no actions' pool; its panes cannot be read yet, so
its reader says so at every refresh instead of querying tables that have other columns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.harmonydb import DB, ClusterKind, ForeignCluster, migrate, start_embedded
from engine.harmonytask.wakeup import Listener
from engine.snapshot import ClusterSnapshot, SnapshotReader

from .feed import Reader

__all__ = ["DatabaseLink", "Target", "UnsupportedCluster", "open_link"]


@dataclass(frozen=True)
class Target:
    """Which database the console opens, and how."""

    #: None starts (or joins) the embedded server in ``data_dir``
    url: str | None
    schema: str = "harmony"
    read_only: bool = False
    migrate: bool = True
    data_dir: Path | None = None
    #: what the status line calls the database (default ``schema @ host``)
    label: str | None = None
    stale_after: float = 10.0
    stuck_after: float = 12 * 3600.0


@dataclass
class DatabaseLink:
    """An open console connection (see the module docstring)."""

    url: str
    db: DB
    reader: Reader
    listener: Listener
    #: None when read-only
    action_db: DB | None
    #: notifications arrive: LISTEN works on this server
    live: bool
    label: str
    #: the database is the embedded server this process started or joined
    embedded: bool
    #: whose schema it is: on a foreign (Curio) one nothing is written and no engine runs
    cluster_kind: ClusterKind = ClusterKind.OURS

    async def close(self) -> None:
        await self.listener.close()
        for db in (self.action_db, self.db):
            if db is not None:
                await db.close()


async def open_link(target: Target, on_notice: Callable[[], None]) -> DatabaseLink:
    """Open both pools and LISTEN; ``on_notice`` is called on every task or machine event (and
    after the LISTEN connection was re-established, when events may have been missed)."""
    url, embedded = target.url, False
    if url is None:
        server = await asyncio.to_thread(start_embedded, target.data_dir)
        url, embedded = server.uri, True
    db = await DB.open(
        url,
        schema=target.schema,
        read_only=target.read_only,
        migrate=False,  # below, once the schema is known to be ours
        application_name="harmony console",
        min_size=1,
        max_size=2,
    )
    action_db: DB | None = None
    try:
        if target.migrate and not target.read_only and not db.foreign:
            await migrate(db)
        if not target.read_only and not db.foreign:
            action_db = await DB.open(
                url,
                schema=target.schema,
                migrate=False,
                create_schema=False,
                application_name="harmony console actions",
                min_size=1,
                max_size=2,
            )
            # Tx.commit probes NOTIFY support on a second pooled connection while holding
            # the first: probe now, so an action never waits on its own pool.
            await action_db.notify_supported()
        listener = Listener(
            db,
            {"task": lambda _payload: on_notice(), "machine": lambda _payload: on_notice()},
            on_reconnect=on_notice,
        )
        live = await listener.start()
    except BaseException:
        await db.close()
        if action_db is not None:
            await action_db.close()
        raise
    label = target.label
    if label is None:
        where = "embedded" if embedded else ",".join(db.url.hosts) or "local socket"
        label = f"{db.schema} @ {where}"
    reader: Reader
    if db.foreign:
        reader = UnsupportedCluster(db.schema)
    else:
        reader = SnapshotReader(db, stale_after=target.stale_after, stuck_after=target.stuck_after)
    return DatabaseLink(
        url, db, reader, listener, action_db, live, label, embedded, cluster_kind=db.cluster_kind
    )


class UnsupportedCluster:
    """The reader of a cluster the console cannot show yet (a Curio one): every refresh raises
    one line saying so, which the status line shows; nothing is queried."""

    def __init__(self, schema: str) -> None:
        self.schema = schema

    @property
    def backfill_pending(self) -> bool:
        return False

    async def backfill_step(self) -> None:
        return None

    async def snapshot(
        self,
        now: datetime,
        *,
        history_filter: str | None = None,
        lists: Collection[str] | None = None,
    ) -> ClusterSnapshot:
        raise ForeignCluster(
            self.schema,
            "the console cannot show it yet (not yet supported on a Curio cluster); "
            "nothing is written to it",
        )
