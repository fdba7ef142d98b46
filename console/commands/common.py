"""What every subcommand shares: opening the database from the global options, output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.harmonydb import DB, connect


class CommandError(Exception):
    """A one-line, user-facing failure; the CLI prints it and exits non-zero."""


async def open_db(args: argparse.Namespace, *, read_only: bool = False, migrate: bool = True) -> DB:
    """The cluster database from ``--db``/``--data-dir``/``--schema``."""
    return await connect(
        args.db,
        data_dir=args.data_dir,
        schema=args.schema,
        read_only=read_only,
        migrate=migrate and not read_only,
        application_name=f"harmony {args.command or 'console'}",
    )


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str, sort_keys=False)
    sys.stdout.write("\n")
