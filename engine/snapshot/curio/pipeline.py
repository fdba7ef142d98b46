"""Curio's sealing pipeline (placeholder: to be written)."""

from __future__ import annotations

from datetime import datetime

from ..model import PipelineSnap
from ..timing import TimedTx


async def read_pipeline(
    tx: TimedTx,
    now: datetime,
    *,
    head_epoch: int | None,
    stuck_after: float,
    sector_limit: int,
    problem_limit: int,
) -> PipelineSnap:
    raise NotImplementedError("Curio's sealing pipeline is not read yet")
