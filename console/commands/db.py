"""``harmony db migrate|status``: the schema ledger."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING

from engine.harmonydb import curio_ledger, migrate, migration_status

from .common import CREATES_CLUSTER, open_db, print_json

if TYPE_CHECKING:
    from engine.harmonydb import DB


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database schema: migrate, status")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    m = actions.add_parser(
        "migrate",
        help="apply pending migrations (each once, cluster-wide)",
        description="Apply pending migrations, each once, cluster-wide. " + CREATES_CLUSTER,
    )
    m.set_defaults(run=run_migrate)
    s = actions.add_parser("status", help="list applied, pending and changed migrations")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(run=run_status)


async def run_migrate(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False, check_schema=False, create=True)
    try:
        applied = await migrate(db)
        status = await migration_status(db)
    finally:
        await db.close()
    for name in applied:
        print(f"applied {name}")
    print(f"schema {args.schema!r} is current: {len(status.applied)} migrations applied")
    return 0


async def run_status(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False, check_schema=False)
    try:
        if db.foreign:
            return await _curio_status(db, args)
        status = await migration_status(db)
        where = db.url.redacted
    finally:
        await db.close()
    if args.json:
        print_json({"database": where, "schema": args.schema, **asdict(status)})
    else:
        print(f"database: {where}  schema: {args.schema}")
        for label, names in (
            ("applied", status.applied),
            ("pending", status.pending),
            ("CHANGED", status.changed),
            ("unknown", status.unknown),
        ):
            for name in names:
                print(f"  {label:8} {name}")
        print("status: current" if status.current else "status: NOT current")
    return 0 if not status.changed else 1


async def _curio_status(db: DB, args: argparse.Namespace) -> int:
    """A Curio cluster's ledger, read-only: harmony's migrations are never applied to it."""
    entries = await curio_ledger(db)
    latest = max(entries, default=None)
    if args.json:
        print_json(
            {
                "database": db.url.redacted,
                "schema": args.schema,
                "cluster": db.cluster_kind.value,
                "curio_migrations": len(entries),
                "curio_latest": latest,
            }
        )
        return 0
    print(f"database: {db.url.redacted}  schema: {args.schema}")
    print(
        f"Curio cluster: {len(entries)} Curio migrations applied"
        + (f", the latest of {latest[:4]}-{latest[4:6]}-{latest[6:8]}" if latest else "")
    )
    print("harmony's migrations are never applied to a Curio cluster (it is only read)")
    return 0
