"""Subcommands of ``harmony``, one module per area; each exposes ``register(subparsers)``."""

from __future__ import annotations

from . import bench, chain, db, machine, proving, run, screenshots, sectors, storage, task

COMMAND_MODULES = [run, task, machine, storage, chain, sectors, proving, db, bench, screenshots]
