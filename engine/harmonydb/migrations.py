"""Schema migrations from ``sql/YYYYMMDD-<comment>.sql``.

What differs from Curio's ``upgrade()`` (a ``base`` table keyed by the date prefix, each file
run and then recorded separately, no cross-node lock) and why:

* The ledger records the **full filename** and a SHA-256 of the content. Curio keys by the date
  prefix, so a second file of an already-applied date is silently skipped; and an edited,
  already-shipped file goes unnoticed. Here both are impossible: every file runs, and a changed
  one stops start-up with an error naming it.
* Each file runs **in its own transaction together with its ledger row** (PostgreSQL), so a
  failing file leaves nothing half-applied and a crash can never record a file that did not run.
  YugabyteDB DDL is not fully transactional; there the file runs as one implicit transaction and
  the ledger row follows, so files must stay idempotent (``IF NOT EXISTS``).
* Many processes starting at once apply each file **exactly once**, serialised by a lease row
  (``INSERT … ON CONFLICT … WHERE expires_at < now()``). It works on both servers: YugabyteDB
  rejects ``LOCK TABLE … ACCESS EXCLUSIVE`` and may lack advisory locks. The lease expires, so a
  killed migrator cannot block the cluster forever; while applying, its holder renews it. A
  holder provably dead on this host (:mod:`.lease_holder`) is not waited for: its lease is
  broken at once. A renewal that fails is retried and logged, never turned into a failure of
  the migration (each file commits with its ledger row, so even a lost lease cannot apply a
  file twice); a lease that was lost is said plainly in the log.
* A **foreign cluster** (a Curio schema, :mod:`.cluster_kind`) is never migrated: the schema's
  kind is read again, from the catalog, before the ledger would be created, and a Curio schema
  raises :class:`~.cluster_kind.ForeignCluster` with nothing written. Our files would add
  triggers to Curio's tables and replace its functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from .cluster_kind import ClusterKind, ForeignCluster, classify
from .errors import HarmonyDBError, MigrationError
from .lease_holder import LeaseHolder

if TYPE_CHECKING:
    from .db import DB

log = logging.getLogger(__name__)

FILENAME = re.compile(r"^(?P<date>\d{8})-(?P<comment>[a-z0-9][a-z0-9._-]*)\.sql$")
_TX_CONTROL = re.compile(
    r"^\s*(BEGIN|COMMIT|ROLLBACK|END|START\s+TRANSACTION)(\s+(WORK|TRANSACTION))?\s*;",
    re.I | re.M,
)
# Function bodies ($$ ... $$, $tag$ ... $tag$) and comments may say BEGIN/END freely.
_DOLLAR_QUOTED = re.compile(r"\$([A-Za-z_]*)\$.*?\$\1\$", re.S)
_COMMENT = re.compile(r"--[^\n]*")

#: the client's wait for one migration file (the pool's reply bound is seconds)
APPLY_TIMEOUT = 3600.0

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS harmony_schema_migrations (
    filename   TEXT PRIMARY KEY,
    checksum   TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS harmony_schema_lock (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
"""


@dataclass(frozen=True)
class Migration:
    filename: str
    sql: str
    checksum: str


@dataclass
class MigrationStatus:
    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # in the ledger, no longer shipped

    @property
    def current(self) -> bool:
        return not self.pending and not self.changed


def sql_dir() -> Traversable:
    """Migrations: ``engine/sql`` inside an installed wheel, else the checkout's ``sql/``."""
    packaged = files("engine") / "sql"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "sql"
    if not checkout.is_dir():
        raise MigrationError(
            "migrations not found in the wheel (engine/sql) or the checkout (sql/)"
        )
    return checkout


def load_migrations(directory: Traversable | Path | None = None) -> list[Migration]:
    """Every migration in filename order; any badly named file is refused."""
    root = directory if directory is not None else sql_dir()
    found = []
    for entry in root.iterdir():
        name = entry.name
        if name.startswith(".") or name == "__pycache__":
            continue
        match = FILENAME.match(name)
        if not match or not _valid_date(match["date"]):
            raise MigrationError(
                f"badly named migration {name!r}: expected YYYYMMDD-<comment>.sql "
                "(a real date, then lower-case letters, digits, '.', '_' or '-')",
                filename=name,
            )
        data = entry.read_bytes()
        text = data.decode("utf-8")
        if _TX_CONTROL.search(_COMMENT.sub("", _DOLLAR_QUOTED.sub("", text))):
            raise MigrationError(
                f"migration {name!r} contains BEGIN/COMMIT/ROLLBACK: each file already runs in "
                "its own transaction",
                filename=name,
            )
        found.append(Migration(name, text, hashlib.sha256(data).hexdigest()))
    return sorted(found, key=lambda m: m.filename)


def _valid_date(text: str) -> bool:
    try:
        dt.datetime.strptime(text, "%Y%m%d")  # noqa: DTZ007 - a calendar check, no time zone
    except ValueError:
        return False
    return True


async def _refuse_foreign(db: DB) -> None:
    """Read the schema's kind now, not only the one ``db`` found at open: whatever path led
    here, a migration never starts on a Curio schema."""
    async with db.connection() as conn:
        kind = await classify(conn, db.schema)
    if kind is ClusterKind.CURIO or db.foreign:
        raise ForeignCluster(db.schema)


async def _ensure_ledger(db: DB) -> None:
    # Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog (23505/42P07):
    # the loser simply finds the table there on the next try.
    for attempt in range(5):
        try:
            async with db.connection() as conn:
                await conn.execute(LEDGER_DDL)
            return
        except (asyncpg.exceptions.UniqueViolationError, asyncpg.exceptions.DuplicateTableError):
            await asyncio.sleep(0.05 * (attempt + 1))
    async with db.connection() as conn:
        await conn.execute(LEDGER_DDL)


async def _ledger(db: DB) -> dict[str, str]:
    rows = await db.select("SELECT filename, checksum FROM harmony_schema_migrations")
    return {r["filename"]: r["checksum"] for r in rows}


def compare(migrations: Iterable[Migration], ledger: dict[str, str]) -> MigrationStatus:
    status = MigrationStatus()
    shipped = set()
    for m in migrations:
        shipped.add(m.filename)
        recorded = ledger.get(m.filename)
        if recorded is None:
            status.pending.append(m.filename)
        elif recorded != m.checksum:
            status.changed.append(m.filename)
        else:
            status.applied.append(m.filename)
    status.unknown = sorted(set(ledger) - shipped)
    return status


async def migration_status(db: DB, migrations: list[Migration] | None = None) -> MigrationStatus:
    """Applied, pending and changed files, without changing anything (works read-only)."""
    migrations = load_migrations() if migrations is None else migrations
    exists = await db.query_value(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 "
        "AND table_name = 'harmony_schema_migrations'",
        db.schema,
    )
    ledger = await _ledger(db) if exists else {}
    return compare(migrations, ledger)


def _changed_error(names: list[str]) -> MigrationError:
    return MigrationError(
        f"migration {names[0]} was changed after it was applied (checksum differs from the "
        "ledger). Shipped migrations must never be edited: restore it and add a new file",
        filename=names[0],
    )


async def migrate(
    db: DB,
    migrations: list[Migration] | None = None,
    *,
    lease_seconds: float = 60.0,
    wait_seconds: float = 600.0,
) -> list[str]:
    """Apply pending migrations exactly once cluster-wide; return the files applied here.

    Raises :class:`ForeignCluster`, having written nothing, on a Curio schema.
    """
    migrations = load_migrations() if migrations is None else migrations
    await _refuse_foreign(db)
    await _ensure_ledger(db)
    db.cluster_kind = ClusterKind.OURS  # an empty schema is ours from its ledger on
    status = compare(migrations, await _ledger(db))
    if status.changed:
        raise _changed_error(status.changed)
    if not status.pending:
        return []
    me = LeaseHolder.current()
    holder = me.text()
    await _acquire_lease(db, me, lease_seconds, wait_seconds)
    renewal = _Renewal(db, holder, lease_seconds)
    renewer = asyncio.create_task(renewal.run())
    try:
        status = compare(migrations, await _ledger(db))  # others may have applied some
        if status.changed:
            raise _changed_error(status.changed)
        applied = []
        pending = set(status.pending)
        for migration in migrations:
            if migration.filename in pending:
                await _apply(db, migration)
                applied.append(migration.filename)
        return applied
    finally:
        renewer.cancel()
        with contextlib.suppress(BaseException):
            await renewer
        with contextlib.suppress(Exception):
            await db.exec(
                "DELETE FROM harmony_schema_lock WHERE id = 1 AND holder = $1",
                holder,
                idempotent=True,
            )


_TAKE_LEASE = """
INSERT INTO harmony_schema_lock (id, holder, expires_at)
VALUES (1, $1, now() + make_interval(secs => $2))
ON CONFLICT (id) DO UPDATE
   SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
 WHERE harmony_schema_lock.expires_at < now()
RETURNING holder
"""


async def _acquire_lease(db: DB, me: LeaseHolder, lease: float, wait: float) -> None:
    """Take the lease: at once if free or expired, or if its holder is provably dead."""
    holder = me.text()
    loop = asyncio.get_running_loop()
    give_up = loop.time() + wait
    delay = 0.02
    while True:
        # idempotent: taking the lease twice under one holder name takes it once
        won = await db.query_value(_TAKE_LEASE, holder, lease, idempotent=True)
        if won == holder:
            return
        current = await db.query_value("SELECT holder FROM harmony_schema_lock WHERE id = 1")
        if current == holder:
            return  # a first attempt whose reply was lost took it
        dead = LeaseHolder.parse(current) if current else None
        if dead is not None and me.proves_dead(dead):
            log.warning(
                "migration lease held by %s, a process of this host that has exited: "
                "breaking it instead of waiting for it to expire",
                current,
            )
            await db.exec(
                "DELETE FROM harmony_schema_lock WHERE id = 1 AND holder = $1",
                current,
                idempotent=True,
            )
            continue
        if loop.time() > give_up:
            raise MigrationError(
                f"waited {wait:.0f}s for the migration lock held by {current}; "
                "is a migration hanging?"
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)


class _Renewal:
    """Keeps the lease alive while migrations run, through database errors.

    A renewal that fails is retried sooner (the lease outlives two failed renewals), and
    logged; a lease found taken by another holder, or expired while renewals failed, is lost,
    and said so once. Neither ends the migration: its files are already safe from double
    applies (each commits with its ledger row), and a migration that succeeded must not be
    reported as failed because a renewal did not.
    """

    def __init__(self, db: DB, holder: str, lease: float) -> None:
        self.db, self.holder, self.lease = db, holder, lease
        self.lost = False
        self.failures = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        valid_until = loop.time() + self.lease
        interval = self.lease / 3
        while True:
            await asyncio.sleep(interval)
            try:
                renewed = await self.db.exec(
                    "UPDATE harmony_schema_lock "
                    "SET expires_at = now() + make_interval(secs => $2) "
                    "WHERE id = 1 AND holder = $1",
                    self.holder,
                    self.lease,
                    idempotent=True,
                )
            except HarmonyDBError as exc:
                self.failures += 1
                interval = self.lease / 10
                log.warning("migration lease renewal failed (%s); retrying", exc)
                if loop.time() > valid_until:
                    self._lose("it expired while renewals failed")
                continue
            if not renewed:
                self._lose("another process holds it now")
                return
            valid_until = loop.time() + self.lease
            interval = self.lease / 3

    def _lose(self, why: str) -> None:
        if not self.lost:
            self.lost = True
            log.warning(
                "migration lease of %s lost: %s. Another process may be migrating too; "
                "the ledger still keeps any file from being applied twice",
                self.holder,
                why,
            )


async def _apply(db: DB, migration: Migration) -> None:
    log.info("applying migration %s", migration.filename)
    async with db.connection() as conn:
        # A migration may rewrite a large table: the pool's statement bound (sized for the
        # engine's heartbeats) does not apply; the lease's renewals show it is alive. asyncpg's
        # RESET ALL on release restores the bound for the connection's next user.
        await conn.execute("SET statement_timeout = 0")
        try:
            if db.is_yugabyte:
                await conn.execute(migration.sql, timeout=APPLY_TIMEOUT)
                await conn.execute(
                    "INSERT INTO harmony_schema_migrations (filename, checksum) VALUES ($1, $2)",
                    migration.filename,
                    migration.checksum,
                )
                return
            async with conn.transaction():
                # no arguments: simple protocol, many statements
                await conn.execute(migration.sql, timeout=APPLY_TIMEOUT)
                await conn.execute(
                    "INSERT INTO harmony_schema_migrations (filename, checksum) VALUES ($1, $2)",
                    migration.filename,
                    migration.checksum,
                )
        except asyncpg.exceptions.UniqueViolationError as exc:
            if exc.constraint_name != "harmony_schema_migrations_pkey":
                raise _failed(db, migration, exc) from None
            # Only reachable if our lease expired mid-run: another process applied it first,
            # and this transaction (DDL included) rolled back.
            log.warning("migration %s was applied concurrently; skipped", migration.filename)
        except asyncpg.exceptions.PostgresError as exc:
            raise _failed(db, migration, exc) from None


def _failed(db: DB, migration: Migration, exc: asyncpg.exceptions.PostgresError) -> MigrationError:
    outcome = (
        "statements before the failing one may have been applied (YugabyteDB DDL is not "
        "transactional)"
        if db.is_yugabyte
        else "nothing from it was applied"
    )
    return MigrationError(
        f"migration {migration.filename} failed, {outcome}: {exc} (SQLSTATE {exc.sqlstate})",
        filename=migration.filename,
        sqlstate=exc.sqlstate,
    )
