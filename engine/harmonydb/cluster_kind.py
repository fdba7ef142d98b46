"""Whose schema is this? Ours, a foreign Curio cluster's, or nobody's yet: decided at connect.

Filecoin Curio runs the same kind of cluster on the same kind of database, in a schema (``curio``
by default) built by Curio's own migrations. Several of its tables have the names of ours
(``harmony_machines``, ``harmony_task``, ``sectors_sdr_pipeline``, ...) but other columns, and
its machines claim its tasks by name. Pointed at such a schema, harmony must never change
anything in it: no migration (ours would add triggers to Curio's tables and replace its
functions), no table, no registered machine, no claimed task. So the kind is read once, when a
:class:`~engine.harmonydb.DB` opens, from the two migration ledgers:

* **ours**: ``harmony_schema_migrations`` is there (and Curio's ledger is not);
* **curio**: Curio's ledger is there: a table ``base`` with an ``entry`` column (Curio's
  harmonydb records each applied file's date prefix in it). It is foreign *even if our ledger is
  there too*: harmony versions before this check created ``harmony_schema_migrations`` in any
  schema they were pointed at, before failing on Curio's tables, so a Curio schema may carry
  an empty ledger of ours that proves nothing;
* **empty**: neither ledger; a schema that does not exist yet is empty too.

The catalog (``pg_class``) is read, not the tables: a role that may only SELECT, or not even
that, can still tell the kinds apart.
"""

from __future__ import annotations

import enum
from typing import Any

from .errors import HarmonyDBError

__all__ = ["ClusterKind", "ForeignCluster", "classify", "curio_ledger"]


class ClusterKind(enum.Enum):
    """What a schema holds, as far as harmony is concerned."""

    OURS = "harmony"
    CURIO = "curio"
    EMPTY = "empty"

    @property
    def foreign(self) -> bool:
        """Another system's cluster: read it, never change it."""
        return self is ClusterKind.CURIO


#: what a refusal says when nothing more specific applies
NEVER_WRITTEN = "harmony never migrates it or writes to it"


class ForeignCluster(HarmonyDBError):
    """Something that would change a foreign (Curio) cluster was asked for: a migration, or a
    read-write session. Raised before anything was sent that could write."""

    def __init__(self, schema: str, what: str = NEVER_WRITTEN) -> None:
        super().__init__(f"schema {schema!r} is a Curio cluster: {what}")
        self.schema = schema


#: One statement, parameters only: our ledger, and Curio's ``base`` with its ``entry`` column
#: (a table merely called ``base`` is not enough to call a schema Curio's).
_CLASSIFY = """
SELECT
    EXISTS (
        SELECT 1 FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = 'harmony_schema_migrations'
          AND c.relkind IN ('r', 'p')
    ) AS ours,
    EXISTS (
        SELECT 1 FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
        WHERE n.nspname = $1 AND c.relname = 'base' AND c.relkind IN ('r', 'p')
          AND a.attname = 'entry' AND NOT a.attisdropped
    ) AS curio
"""


async def classify(conn: Any, schema: str) -> ClusterKind:
    """The kind of ``schema``, read through ``conn`` (an asyncpg connection, or anything with
    its ``fetchrow``: :class:`~engine.harmonydb.DB` opens with it before it exists itself)."""
    row = await conn.fetchrow(_CLASSIFY, schema)
    if row["curio"]:
        return ClusterKind.CURIO
    if row["ours"]:
        return ClusterKind.OURS
    return ClusterKind.EMPTY


async def curio_ledger(db: Any) -> list[str]:
    """The entries of a Curio cluster's ledger in the order they were applied: each is the date
    prefix (``YYYYMMDD``) of one migration file Curio ran. Read-only."""
    rows = await db.select("SELECT entry FROM base ORDER BY id")
    return [str(row["entry"]).strip() for row in rows]
