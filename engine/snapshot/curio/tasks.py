"""Curio's task queues and history (placeholder: to be written)."""

from __future__ import annotations

from datetime import datetime

from ..model import QueueSnap
from ..timing import TimedTx


async def read_queues(
    tx: TimedTx,
    now: datetime,
    *,
    history_filter: str | None,
    history_limit: int,
    history_scan: int,
    failed_limit: int,
) -> QueueSnap:
    raise NotImplementedError("Curio task queues are not read yet")
