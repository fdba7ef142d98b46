"""``harmony`` with no command: the operations console, with this process as a machine.

Start-up: the console paints at once and connects in the background (starting the embedded
PostgreSQL when no ``--db`` is given); after the first snapshot is on screen it starts this
process's engine (``<host>:console``) with the devnet demo under ``<data dir>/demo``.
``--read-only`` runs no engine and offers no actions. On a Curio cluster no engine ever starts,
and ``--lotus-api`` (or ``FULLNODE_API_INFO``, or Curio's own config) names the Lotus node the
PoSt pane reads. Textual is imported only here, so the headless paths never load it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.harmonydb import default_data_dir
from engine.harmonydb.driver_log import OneLineDriverWarnings

from .common import CommandError, require_cluster
from .given import given_options
from .log_format import dress
from .machine_options import engine_config
from .machine_starter import console_identity, machine_starter

if TYPE_CHECKING:
    from engine.harmonydb import DB

#: After SIGTERM, running tasks get this long to finish before they are returned to the queue.
SIGTERM_GRACE = 30.0

log = logging.getLogger("harmony.console")

COLOR_SYSTEMS = ("auto", "standard", "256", "truecolor")


def add_console_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """The console's flags (global: ``harmony [flags]``; ``suppress`` for the copy on
    ``harmony run``, whose defaults must not override the same flags given before it)."""
    group = parser.add_argument_group("console")

    def add(*flags: str, **kwargs: Any) -> None:
        if suppress:
            kwargs["default"] = argparse.SUPPRESS
        group.add_argument(*flags, **kwargs)

    add(
        "--read-only",
        action="store_true",
        help="watch only: no engine, no actions; works with a role that may only SELECT",
    )
    add("--no-demo", action="store_true", help="do not set up the devnet demo workload")
    add(
        "--refresh",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="seconds between refreshes (default 2, minimum 1; +/- change it live)",
    )
    add(
        "--lotus-api",
        metavar="API_INFO",
        default=None,
        help="on a Curio cluster, the Lotus node its PoSt pane reads (TOKEN:/ip4/HOST/tcp/PORT/"
        "http; default: FULLNODE_API_INFO, then Curio's [Apis] ChainApiInfo layers)",
    )
    add("--no-mouse", action="store_true", help="no mouse reporting (plain terminal selection)")
    add(
        "--color-system",
        choices=COLOR_SYSTEMS,
        default=None,
        help="colours: standard = 16, 256, truecolor (default: detect; NO_COLOR is honoured)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("the refresh interval is at least 1 second")
    return value


def _route_logging(args: argparse.Namespace, data_dir: Path | None) -> None:
    """While the TUI owns the terminal, log records go to a file (and to ``textual console``),
    never to stderr, which would scribble over the screen. The file's lines are written as
    ``--log-format`` says (json: one object per line, with this process's machine)."""
    from textual.logging import TextualHandler

    root = logging.getLogger()
    level = root.level
    for handler in list(root.handlers):
        root.removeHandler(handler)
    textual = TextualHandler()  # Textual's own formatting
    textual.addFilter(OneLineDriverWarnings())
    root.addHandler(textual)
    if data_dir is not None:
        with contextlib.suppress(OSError):
            data_dir.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(data_dir / "console.log")
            machine = None
            if not getattr(args, "read_only", False):
                machine = console_identity(args)
            root.addHandler(dress(file_handler, getattr(args, "log_format", None), machine))
    root.setLevel(level if level != logging.NOTSET else logging.WARNING)


async def run(args: argparse.Namespace) -> int:
    color = getattr(args, "color_system", None)
    if color:
        # Textual reads it when first imported, which happens just below.
        os.environ["TEXTUAL_COLOR_SYSTEM"] = color
    from console.app import make_app
    from console.terminal import EXIT_SIGTERM

    read_only = bool(getattr(args, "read_only", False))
    engine_config(args)  # bad flags fail before anything starts (read-only ones too)
    if read_only and "metrics_listen" in given_options(args):
        raise CommandError(
            "--metrics-listen: the console with --read-only runs no machine, so it serves no "
            "metrics (scrape a machine of the cluster; each serves the cluster's figures)"
        )
    if read_only:
        require_cluster(args)  # watching must not create the cluster it would watch
    data_dir = args.data_dir or (default_data_dir() if args.db is None else None)
    node_db: list[DB] = []
    start_machine = None if read_only else machine_starter(args, data_dir, node_db)

    app = make_app(
        args.db,
        args.schema,
        engine=start_machine,
        refresh_s=float(getattr(args, "refresh", 2.0)),
        read_only=read_only,
        data_dir=data_dir,
        lotus_api=getattr(args, "lotus_api", None),
    )
    _route_logging(args, data_dir)
    try:
        await app.run_async(mouse=not getattr(args, "no_mouse", False))
    finally:
        node = app.node
        if node is not None:
            if app.return_code == EXIT_SIGTERM:
                # A supervisor asked us to stop: let running tasks finish for a while first.
                await node.graceful_terminate(grace=SIGTERM_GRACE)
            # q already drained or stopped it; after a hang-up or a crash, return its tasks.
            await node.stop_now()
        for db in node_db:
            await db.close()
    return int(app.return_code or 0)
