"""Errors of the devnet chain; each message says what to do."""

from __future__ import annotations

__all__ = ["ChainConfigConflict", "ChainError", "ChainNotInitialised", "UnknownMiner"]


class ChainError(Exception):
    """Base class of the chain's errors."""


class ChainNotInitialised(ChainError):
    """No ``chain_config`` row: run ``harmony chain init`` (or start ``harmony`` with the demo)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "this cluster has no devnet chain yet: run `harmony chain init` "
            "(or start `harmony` without --no-demo)"
        )


class ChainConfigConflict(ChainError):
    """``chain init`` asked for settings other than those of the existing chain."""


class UnknownMiner(ChainError):
    """No miner actor with that id."""
