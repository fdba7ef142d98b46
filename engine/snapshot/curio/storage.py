"""Curio's storage paths (placeholder: to be written)."""

from __future__ import annotations

from datetime import datetime

from ..model import StorageSnap
from ..timing import TimedTx


async def read_storage(tx: TimedTx, now: datetime) -> StorageSnap:
    raise NotImplementedError("Curio storage paths are not read yet")
