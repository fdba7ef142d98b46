"""Curio's machines: ``harmony_machines`` and ``harmony_machine_details`` (placeholder: to be
written)."""

from __future__ import annotations

from datetime import datetime

from ..model import MachineSnap, RunningTaskSnap
from ..timing import TimedTx


async def read_machines(
    tx: TimedTx, now: datetime, *, stale_after: float, dead_after: float, running_limit: int
) -> tuple[tuple[MachineSnap, ...], tuple[RunningTaskSnap, ...]]:
    raise NotImplementedError("Curio machines are not read yet")
