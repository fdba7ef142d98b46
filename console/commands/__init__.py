"""Subcommands of ``harmony``, one module per area; each exposes ``register(subparsers)``."""

from __future__ import annotations

from . import db

COMMAND_MODULES = [db]
