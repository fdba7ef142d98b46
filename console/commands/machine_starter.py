"""What a machine starts with, from its options after its config layers, and the console's own
machine.

Both machines (``harmony run --engine-only`` and the console's engine) build their start from
:func:`machine_settings`, so a key a layer sets reaches either the same way: an option wired
here is honoured by both, and neither can quietly drop one the other applies. Layers are read
once the database is reachable (the console paints first and reads them when it starts its
engine); the command line still wins (:func:`~.config_keys.apply_layers`).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.harmonytask import EngineConfig
from engine.process_identity import default_identity

from .machine_limits import store_groups_of
from .machine_options import alert_config, engine_config, storage_server_options

if TYPE_CHECKING:
    from engine.alerts import AlertConfig
    from engine.harmonydb import DB
    from engine.node import Node

__all__ = [
    "MachineSettings",
    "console_identity",
    "layered_settings",
    "machine_settings",
    "machine_starter",
]

log = logging.getLogger("harmony.machine")


@dataclass(frozen=True)
class MachineSettings:
    """Everything :func:`engine.node.start_node` takes from a machine's options."""

    config: EngineConfig
    task_names: list[str] | None
    storage_listen: str | None
    storage_url: str | None
    metrics_listen: str | None
    alerts: AlertConfig
    store_groups: tuple[str, ...]

    def start_options(self) -> dict[str, Any]:
        """``start_node``'s keyword arguments."""
        return {
            "task_names": self.task_names,
            "config": self.config,
            "storage_listen": self.storage_listen,
            "storage_url": self.storage_url,
            "metrics_listen": self.metrics_listen,
            "alerts": self.alerts,
            "store_groups": self.store_groups,
        }


def machine_settings(args: argparse.Namespace) -> MachineSettings:
    """The settings ``args`` give (after :func:`layered_settings` where layers apply); a bad
    value raises :class:`~.common.CommandError` naming its option, before anything starts."""
    tasks = getattr(args, "tasks", None)
    listen, url = storage_server_options(args)
    return MachineSettings(
        config=engine_config(args),
        task_names=[n.strip() for n in tasks.split(",") if n.strip()] if tasks else None,
        storage_listen=listen,
        storage_url=url,
        metrics_listen=getattr(args, "metrics_listen", None),
        alerts=alert_config(args),
        store_groups=store_groups_of(args),
    )


async def layered_settings(db: DB, args: argparse.Namespace) -> MachineSettings:
    """Apply the layers ``args`` names (``base`` first if it exists) under the flags typed:
    the settings that makes; logs which keys came from a layer. Raises what
    :func:`~.config_keys.apply_layers` raises (a layer missing or no longer valid), or
    :class:`~.common.CommandError` for a merged value no machine can use."""
    from .config_keys import apply_layers  # tomlkit: only where layers are read

    merged = await apply_layers(db, args)
    settings = machine_settings(args)
    layered = sorted(k for k, origin in merged.origin.items() if origin != "default")
    if layered:
        log.info("config: %s", ", ".join(f"{k} from {merged.origin[k]}" for k in layered))
    return settings


def console_identity(args: argparse.Namespace) -> str:
    """The console's machine's name: ``--name``, else this host's console identity."""
    return getattr(args, "name", None) or default_identity("console")


def machine_starter(
    args: argparse.Namespace,
    data_dir: Path | None,
    opened: list[DB],
) -> Callable[[str], Awaitable[Node]]:
    """The console's own machine, started once its first snapshot is on screen: the same
    engine, storage heartbeat, storage server (``--storage-listen``/``--storage-url``) and
    metrics endpoint (``--metrics-listen``) as ``harmony run --engine-only`` with these flags
    and ``--layers``, so a key kept in a layer reaches the console's machine too.

    Bad flags raise CommandError here, before anything starts. The layers are read when the
    machine starts (the database is reachable only then); a missing layer or a merged value
    that does not pass raises there, naming the layer or the key, and the console says the
    engine did not start. Each database the machine opens is appended to ``opened`` for the
    caller to close."""
    machine_settings(args)  # the flags alone must pass before anything starts

    async def start_machine(db_url: str) -> Node:
        # Imported here: the database layer and the workload's task types load after the
        # console's first frame.
        from engine.harmonydb import DB
        from engine.node import start_node

        db = await DB.open(
            db_url, schema=args.schema, migrate=False, application_name="harmony console engine"
        )
        opened.append(db)
        settings = await layered_settings(db, args)
        demo = None if getattr(args, "no_demo", False) or data_dir is None else data_dir / "demo"
        return await start_node(
            db, console_identity(args), demo_dir=demo, **settings.start_options()
        )

    return start_machine
