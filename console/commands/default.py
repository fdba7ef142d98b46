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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.harmonydb import DB, default_data_dir
from engine.harmonytask import EngineConfig, default_identity

from .common import require_cluster
from .machine_limits import store_groups_of
from .machine_options import alert_config, engine_config, storage_server_options

if TYPE_CHECKING:
    from engine.node import Node

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


def machine_starter(
    args: argparse.Namespace,
    config: EngineConfig,
    data_dir: Path | None,
    opened: list[DB],
) -> Callable[[str], Awaitable[Node]]:
    """The console's own machine, started once its first snapshot is on screen: the same
    engine, storage heartbeat and storage server (``--storage-listen``/``--storage-url``) as
    ``harmony run --engine-only`` with these flags, so sectors kept on a host that runs only
    the console are still served to the cluster's other hosts. Bad storage flags raise
    CommandError here, before anything starts; each database the machine opens is appended
    to ``opened`` for the caller to close."""
    listen, url = storage_server_options(args)
    alerts = alert_config(args)
    store_groups = store_groups_of(args)
    names = [n.strip() for n in args.tasks.split(",") if n.strip()] if args.tasks else None

    async def start_machine(db_url: str) -> Node:
        # Imported here: the workload's task types load after the console's first frame.
        from engine.node import start_node

        db = await DB.open(
            db_url, schema=args.schema, migrate=False, application_name="harmony console engine"
        )
        opened.append(db)
        demo = None if getattr(args, "no_demo", False) or data_dir is None else data_dir / "demo"
        return await start_node(
            db,
            args.name or default_identity("console"),
            task_names=names,
            demo_dir=demo,
            config=config,
            storage_listen=listen,
            storage_url=url,
            metrics_listen=getattr(args, "metrics_listen", None),
            alerts=alerts,
            store_groups=store_groups,
        )

    return start_machine


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("the refresh interval is at least 1 second")
    return value


def _route_logging(data_dir: Path | None) -> None:
    """While the TUI owns the terminal, log records go to a file (and to ``textual console``),
    never to stderr, which would scribble over the screen."""
    from textual.logging import TextualHandler

    root = logging.getLogger()
    level = root.level
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(TextualHandler())
    if data_dir is not None:
        with contextlib.suppress(OSError):
            data_dir.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(data_dir / "console.log")
            file_handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
            root.addHandler(file_handler)
    root.setLevel(level if level != logging.NOTSET else logging.WARNING)


async def run(args: argparse.Namespace) -> int:
    color = getattr(args, "color_system", None)
    if color:
        # Textual reads it when first imported, which happens just below.
        os.environ["TEXTUAL_COLOR_SYSTEM"] = color
    from console.app import make_app
    from console.terminal import EXIT_SIGTERM

    read_only = bool(getattr(args, "read_only", False))
    config = engine_config(args)  # bad flags fail before anything starts
    if read_only:
        require_cluster(args)  # watching must not create the cluster it would watch
    data_dir = args.data_dir or (default_data_dir() if args.db is None else None)
    node_db: list[DB] = []
    start_machine = None if read_only else machine_starter(args, config, data_dir, node_db)

    app = make_app(
        args.db,
        args.schema,
        engine=start_machine,
        refresh_s=float(getattr(args, "refresh", 2.0)),
        read_only=read_only,
        data_dir=data_dir,
        lotus_api=getattr(args, "lotus_api", None),
    )
    _route_logging(data_dir)
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
