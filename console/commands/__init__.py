"""Subcommands of ``harmony``, one module per area; each exposes ``register(subparsers)``."""

from __future__ import annotations

from . import bench, db, machine, run, screenshots, storage, task

COMMAND_MODULES = [run, task, machine, storage, db, bench, screenshots]
