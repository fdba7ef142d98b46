"""What every subcommand shares: opening the database from the global options, output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.clock import SystemClock
from engine.harmonydb import default_data_dir

if TYPE_CHECKING:
    from engine.chain import ChainConfig
    from engine.harmonydb import DB


#: the commands' source of time (epochs, waits): the engine's and the console's one clock
CLOCK = SystemClock()


class CommandError(Exception):
    """A one-line, user-facing failure; the CLI prints it and exits non-zero."""


#: How the commands that may create a cluster say so in their ``--help``.
CREATES_CLUSTER = (
    "Without --db, this command creates the embedded cluster in the data directory if there is "
    "none yet."
)


def embedded_data_dir(args: argparse.Namespace) -> Path:
    """The data directory the embedded server of these options lives in."""
    return (args.data_dir or default_data_dir()).expanduser().absolute()


def holds_cluster(data_dir: Path) -> bool:
    """``data_dir`` holds an embedded cluster (initdb has run in ``pgdata``).

    A ``pgdata`` this user may not look into counts as one: starting it then fails with the
    embedded server's own explanation, which is more useful than "no cluster".
    """
    pgdata = data_dir / "pgdata"
    try:
        return (pgdata / "PG_VERSION").is_file()
    except PermissionError:
        return pgdata.is_dir()


def require_cluster(args: argparse.Namespace) -> None:
    """Refuse to go on when the embedded cluster these options name does not exist.

    Starting the embedded server creates the data directory and runs initdb; a mistyped
    ``--data-dir`` given to a command that only reads (or changes something that must already
    exist) would leave a new, empty cluster behind and report it as empty instead of saying
    the path is wrong. With ``--db`` there is nothing to create, so nothing is checked.
    """
    if args.db is not None:
        return
    data_dir = embedded_data_dir(args)
    if not holds_cluster(data_dir):
        raise CommandError(
            f"no harmony cluster at {data_dir} (check --data-dir or HARMONY_DATA_DIR, or give "
            "--db; `harmony run --engine-only` or `harmony db migrate` creates one)"
        )


def command_words(args: argparse.Namespace) -> str:
    """The command as typed, without options: ``task add``, ``run``, ``db status``."""
    command = getattr(args, "command", None)
    if not command:
        return "(the console)"
    action = getattr(args, f"{command.replace('-', '_')}_command", None)
    return f"{command} {action}" if action else command


def foreign_refusal(args: argparse.Namespace, *, writes: bool) -> CommandError:
    """Why a command does not run on a Curio cluster, in one line (nothing was changed)."""
    words = command_words(args)
    if words == "run":
        why = "harmony run cannot start an engine on it (Curio's own machines run its tasks)"
    elif writes:
        why = f"`harmony {words}` would write to it, and harmony does not write to a Curio cluster"
    else:
        why = f"`harmony {words}` is not yet supported on a Curio cluster"
    return CommandError(f"schema {args.schema!r} is a Curio cluster: {why}; nothing was changed")


async def open_db(
    args: argparse.Namespace,
    *,
    read_only: bool = False,
    migrate: bool = True,
    check_schema: bool = True,
    create: bool = False,
    foreign: bool = False,
) -> DB:
    """The cluster database from ``--db``/``--data-dir``/``--schema``.

    ``migrate`` applies pending migrations (commands that write); otherwise, unless
    ``check_schema`` is off (``db status`` reports the problems itself), a schema that is not
    current stops the command: a changed migration, or pending ones this code needs.

    Only commands that can sensibly be the first one on a new machine pass ``create`` (they
    start a cluster where there is none); every other command refuses a data directory that
    holds no cluster (:func:`require_cluster`). ``--read-only`` (a global option) opens a
    read-only session whatever the command, and refuses a command that writes (``migrate`` or
    ``create``) before anything connects.

    A foreign cluster (a Curio schema) stops every command with :func:`foreign_refusal`, with
    nothing written (the DB refuses to migrate it and opens it read-only), except those that
    pass ``check_schema=False`` and report on the schema themselves (``db status``), and
    those that pass ``foreign``: they get the foreign cluster's DB and handle it themselves
    (``machine list`` reads it; ``machine cordon`` & co. write only in an explicit read-write
    transaction after the operator confirmed). Such a DB is read-only at the server, and
    nothing here migrates it, whatever ``migrate`` says; a command that writes is still
    refused under ``--read-only`` before anything connects.
    """
    # here, not at the top: the console draws its first frame before the database layer loads
    from engine.harmonydb import ForeignCluster, MigrationError, connect, migration_status
    from engine.harmonydb import migrate as apply_migrations

    writes = migrate or create
    asked_read_only = bool(getattr(args, "read_only", False))
    if asked_read_only and writes and not read_only:
        raise CommandError(
            f"`harmony {command_words(args)}` changes the cluster: refused under --read-only"
        )
    if not create:
        require_cluster(args)
    read_only = read_only or asked_read_only
    writes = writes and not read_only
    migrating = migrate and not read_only
    try:
        db = await connect(
            args.db,
            data_dir=args.data_dir,
            schema=args.schema,
            read_only=read_only,
            # Migrating creates the schema's tables: only where a cluster may be created.
            migrate=migrating and create,
            create_schema=create and not read_only,
            application_name=f"harmony {args.command or 'console'}",
        )
    except ForeignCluster:
        raise foreign_refusal(args, writes=writes) from None
    try:
        if db.foreign:
            if foreign:
                return db
            if writes or check_schema:
                raise foreign_refusal(args, writes=writes)
            return db
        if not create and check_schema:
            status = await migration_status(db)
            if not status.applied:
                # A schema with nothing of harmony's in it: most likely a mistyped --schema.
                raise CommandError(
                    f"no harmony cluster in schema {args.schema!r} of this database (check "
                    "--schema or HARMONY_SCHEMA; `harmony db migrate` creates one)"
                )
            if migrating and not status.current:
                await apply_migrations(db)  # raises on a changed migration, as DB.open does
        if check_schema and not migrating:
            status = await migration_status(db)
            if status.changed:
                raise MigrationError(
                    f"migration {status.changed[0]} was changed after it was applied "
                    "(see `harmony db status`)",
                    filename=status.changed[0],
                )
            if status.pending:
                raise CommandError(
                    f"schema {args.schema!r} has {len(status.pending)} pending migration(s); "
                    "run `harmony db migrate`"
                )
    except BaseException:
        await db.close()
        raise
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
