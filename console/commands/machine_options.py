"""The options of a machine (``harmony run`` and the console with its engine) and the engine
settings they make.

Their own module because both ``harmony run`` (which opens the console unless
``--engine-only``) and the console's command (which starts an engine) need them.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from engine.harmonytask import EngineConfig

from .common import CommandError

__all__ = ["add_machine_options", "engine_config"]


def add_machine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine-only", action="store_true", help="headless worker: no console")
    parser.add_argument(
        "--tasks", metavar="TYPE,...", help="only run these task types (default: every type)"
    )
    parser.add_argument(
        "--name",
        metavar="NAME",
        help="machine identity; a restart with the same name re-adopts its "
        "tasks (default: <hostname>:worker, or <hostname>:console)",
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        metavar="SECONDS",
        default=None,
        help="how often this machine reports in (default 2)",
    )
    parser.add_argument(
        "--machine-timeout",
        type=float,
        metavar="SECONDS",
        default=None,
        help="silence after which this machine declares a peer dead and takes "
        "its tasks (default 12); use the same value on every machine",
    )
    parser.add_argument(
        "--history-days",
        type=float,
        metavar="DAYS",
        default=None,
        help="delete task history older than this (default 7; 0 keeps it forever)",
    )


def engine_config(args: argparse.Namespace) -> EngineConfig:
    """Engine settings from the command line (defaults where a flag is absent)."""
    defaults = EngineConfig()
    heartbeat = getattr(args, "heartbeat", None) or defaults.heartbeat_interval
    timeout = getattr(args, "machine_timeout", None) or defaults.machine_timeout
    days = getattr(args, "history_days", None)
    if timeout < 3 * heartbeat:
        raise CommandError(
            f"--machine-timeout ({timeout:g}s) must be at least 3 heartbeats ({3 * heartbeat:g}s)"
        )
    retention = defaults.history_retention if days is None else (days * 86400 or None)
    return replace(
        defaults, heartbeat_interval=heartbeat, machine_timeout=timeout, history_retention=retention
    )
