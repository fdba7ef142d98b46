"""The console's connections to the cluster database: one :class:`DatabaseLink` per console.

Two small pools, so an operator's action never waits behind a refresh: the reader's (the fixed
query set of :class:`~engine.snapshot.SnapshotReader` and the LISTEN connection) and the
actions' (cordon, drain, restart through the engine's admin API). A read-only console opens
only the first and works under a role that may only SELECT.

A foreign cluster (a Curio schema, see :mod:`engine.harmonydb.cluster_kind`) is opened without
migrating and read-only at the server, and read by
:class:`~engine.snapshot.curio.CurioSnapshotReader` (each pane its own read-only transaction),
with chain state from a Lotus node (``--lotus-api``, ``FULLNODE_API_INFO`` or Curio's
``[Apis] ChainApiInfo`` layers) when one is named. No LISTEN (Curio notifies none of our
channels: the console polls), no migration, no engine. Its actions' pool is opened only when
not read-only, and stays read-only at the server too: the only writes are the operator actions
of :mod:`engine.curio`, each an explicit read-write transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.harmonydb import ClusterKind, HarmonyDBError
from engine.lotus import ApiInfoError, LotusNotConfigured, resolve_endpoint

from .feed import Reader, one_line

if TYPE_CHECKING:
    from engine.harmonydb import DB
    from engine.harmonytask.wakeup import Listener

    # Curio's reader and chain watch are imported where a Curio cluster is opened: the watch
    # brings the Lotus client (aiohttp), about a third of the console's imports, which a
    # console on our own cluster never uses, before its first frame.
    from engine.snapshot.curio.chain import ChainWatch

__all__ = ["DatabaseLink", "Target", "open_chain", "open_link"]

log = logging.getLogger("harmony.console")


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
    #: the Lotus node of a Curio cluster (``--lotus-api``: ``TOKEN:/ip4/HOST/tcp/PORT/http``);
    #: None: ``FULLNODE_API_INFO``, then Curio's own config layers
    lotus_api: str | None = None


@dataclass
class DatabaseLink:
    """An open console connection (see the module docstring)."""

    url: str
    db: DB
    reader: Reader
    #: None on a foreign cluster (nothing there notifies our channels)
    listener: Listener | None
    #: None when read-only
    action_db: DB | None
    #: notifications arrive: LISTEN works on this server
    live: bool
    label: str
    #: the database is the embedded server this process started or joined
    embedded: bool
    #: whose schema it is: on a foreign (Curio) one nothing is written and no engine runs
    cluster_kind: ClusterKind = ClusterKind.OURS
    #: the Lotus node a Curio cluster's PoSt pane reads (None: none named or none usable)
    chain: ChainWatch | None = None
    #: why there is no chain state, in one line (for the operator; never the token)
    chain_problem: str | None = None

    @property
    def foreign(self) -> bool:
        return self.cluster_kind.foreign

    async def close(self) -> None:
        if self.chain is not None:
            await self.chain.close()
        if self.listener is not None:
            await self.listener.close()
        for db in (self.action_db, self.db):
            if db is not None:
                await db.close()


async def open_link(target: Target, on_notice: Callable[[], None]) -> DatabaseLink:
    """Open both pools and LISTEN; ``on_notice`` is called on every task or machine event (and
    after the LISTEN connection was re-established, when events may have been missed)."""
    # Imported here: the database layer (asyncpg) loads after the console's first frame.
    from engine.harmonydb import DB, migrate, start_embedded
    from engine.harmonytask.wakeup import Listener
    from engine.snapshot import SnapshotReader

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
    listener: Listener | None = None
    chain: ChainWatch | None = None
    chain_problem: str | None = None
    try:
        if target.migrate and not target.read_only and not db.foreign:
            await migrate(db)
        if not target.read_only:
            action_db = await DB.open(
                url,
                schema=target.schema,
                migrate=False,
                create_schema=False,
                application_name="harmony console actions",
                min_size=1,
                max_size=2,
            )
            if not action_db.foreign:
                # Tx.commit probes NOTIFY support on a second pooled connection while holding
                # the first: probe now, so an action never waits on its own pool.
                await action_db.notify_supported()
        live = False
        if db.foreign:
            chain, chain_problem = await open_chain(db, target.lotus_api)
        else:
            listener = Listener(
                db,
                {"task": lambda _payload: on_notice(), "machine": lambda _payload: on_notice()},
                on_reconnect=on_notice,
            )
            live = await listener.start()
    except BaseException:
        if chain is not None:
            await chain.close()
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
        from engine.snapshot.curio.reader import CurioSnapshotReader

        reader = CurioSnapshotReader(db, chain=chain, stuck_after=target.stuck_after)
    else:
        reader = SnapshotReader(db, stale_after=target.stale_after, stuck_after=target.stuck_after)
    return DatabaseLink(
        url,
        db,
        reader,
        listener,
        action_db,
        live,
        label,
        embedded,
        cluster_kind=db.cluster_kind,
        chain=chain,
        chain_problem=chain_problem,
    )


async def open_chain(db: DB, lotus_api: str | None) -> tuple[ChainWatch | None, str | None]:
    """The Lotus node a Curio cluster's chain state comes from, or why there is none.

    Never fails the connection: a console without Lotus still shows everything the database
    holds, and the PoSt pane says what it cannot know. Nothing here waits for Lotus itself
    (the watch refreshes in the background)."""
    try:
        endpoints = await resolve_endpoint(lotus_api, db=db)
    except (LotusNotConfigured, ApiInfoError) as exc:
        return None, one_line(exc)
    except HarmonyDBError as exc:  # e.g. a role that may not read harmony_config
        return None, f"Curio's config layers could not be read: {one_line(exc)}"
    from engine.snapshot.curio.chain import ChainWatch

    try:
        return ChainWatch(endpoints[0]), None
    except Exception as exc:  # a client that cannot be built is a missing chain, not a crash
        log.warning("no chain state from %s: %s", endpoints[0], one_line(exc))
        return None, f"Lotus node {endpoints[0]}: {one_line(exc)}"
