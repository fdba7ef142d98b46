"""Curio's PoSt state (placeholder: to be written)."""

from __future__ import annotations

from datetime import datetime

from ..model import PostSnap
from ..timing import TimedTx
from .chain import ChainState


async def read_post(tx: TimedTx, now: datetime, chain: ChainState | None) -> PostSnap:
    raise NotImplementedError("Curio's PoSt state is not read yet")
