"""``harmony`` with no command: start on the cluster database and report its status."""

from __future__ import annotations

import argparse

from engine.harmonydb import migration_status

from .common import open_db


async def run(args: argparse.Namespace) -> int:
    db = await open_db(args)
    try:
        status = await migration_status(db)
        machines = await db.query_value("SELECT count(*) FROM harmony_machines")
        pending = await db.query_value("SELECT count(*) FROM harmony_task WHERE owner_id IS NULL")
        print(f"database: {db.url.redacted}  schema: {db.schema}")
        print(f"server:   {db.server_version.split(' on ')[0]}")
        print(
            f"schema:   {len(status.applied)} migrations applied, "
            f"{'current' if status.current else 'NOT current'}"
        )
        print(f"cluster:  {machines} machines, {pending} pending tasks")
    finally:
        await db.close()
    return 0
