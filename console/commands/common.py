"""What every subcommand shares: opening the database from the global options, output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any

from engine.clock import SystemClock
from engine.harmonydb import DB, MigrationError, connect, migration_status

if TYPE_CHECKING:
    from engine.chain import ChainConfig


#: the commands' source of time (epochs, waits): the engine's and the console's one clock
CLOCK = SystemClock()


class CommandError(Exception):
    """A one-line, user-facing failure; the CLI prints it and exits non-zero."""


async def open_db(
    args: argparse.Namespace,
    *,
    read_only: bool = False,
    migrate: bool = True,
    check_schema: bool = True,
) -> DB:
    """The cluster database from ``--db``/``--data-dir``/``--schema``.

    ``migrate`` applies pending migrations (commands that write); otherwise, unless
    ``check_schema`` is off (``db status`` reports the problems itself), a schema that is not
    current stops the command: a changed migration, or pending ones this code needs.
    """
    db = await connect(
        args.db,
        data_dir=args.data_dir,
        schema=args.schema,
        read_only=read_only,
        migrate=migrate and not read_only,
        application_name=f"harmony {args.command or 'console'}",
    )
    if check_schema and not (migrate and not read_only):
        try:
            status = await migration_status(db)
        except BaseException:
            await db.close()
            raise
        if not status.current:
            await db.close()
            if status.changed:
                raise MigrationError(
                    f"migration {status.changed[0]} was changed after it was applied "
                    "(see `harmony db status`)",
                    filename=status.changed[0],
                )
            raise CommandError(
                f"schema {args.schema!r} has {len(status.pending)} pending migration(s); "
                "run `harmony db migrate`"
            )
    return db


async def require_chain(db: DB) -> ChainConfig:
    """The cluster's chain, or the one-line error saying how to create it."""
    from engine.chain import ChainNotInitialised, load_chain

    config = await load_chain(db)
    if config is None:
        raise CommandError(str(ChainNotInitialised()))
    return config


def print_json(value: Any) -> None:
    if isinstance(value, list):
        value = [asdict(v) if is_dataclass(v) and not isinstance(v, type) else v for v in value]
    json.dump(value, sys.stdout, indent=2, default=str, sort_keys=False)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Left-aligned columns, two spaces apart, like ``lotus-miner``'s tabwriter output."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
