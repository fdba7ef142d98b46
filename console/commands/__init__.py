"""Subcommands of ``harmony``, one module per area; each exposes ``register(subparsers)``."""

from __future__ import annotations

from . import (
    alerts,
    bench,
    chain,
    completion,
    config,
    db,
    events,
    machine,
    metrics,
    miner,
    proving,
    run,
    screenshots,
    sectors,
    service,
    storage,
    task,
)

COMMAND_MODULES = [
    run,
    task,
    machine,
    miner,
    storage,
    chain,
    sectors,
    proving,
    events,
    alerts,
    metrics,
    config,
    db,
    bench,
    screenshots,
    service,
    completion,
]
