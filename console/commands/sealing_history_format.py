"""How ``sectors history`` prints the finished sectors, on our cluster and on Curio's: one
layout for both commands (``sectors`` and ``curio_sectors`` each import it, not each other)."""

from __future__ import annotations

from typing import Any

from engine.snapshot.format import took
from engine.snapshot.sealing_history import HISTORY_STAGES, SealingHistory

from .common import print_json, print_table

__all__ = ["history_json", "print_history"]


def history_json(prefix: str, history: SealingHistory) -> list[dict[str, Any]]:
    """The sealing history as ``sectors history --json`` prints it (both modes)."""
    return [
        {
            "miner": f"{prefix}{f.sp_id}",
            "sector": f.sector_number,
            "created": f.create_time.isoformat() if f.create_time else None,
            "finished": f.finished_at.isoformat() if f.finished_at else None,
            "total_seconds": f.total,
            "stages": {
                t.stage: {"seconds": t.seconds, "attempts": t.attempts, "failed": t.failed}
                for t in f.stages
            },
        }
        for f in history.sectors
    ]


def print_history(prefix: str, history: SealingHistory, *, json: bool) -> int:
    """``sectors history``'s output: one line per finished sector, a column per stage."""
    if json:
        print_json(history_json(prefix, history))
        return 0
    if not history.sectors:
        if history.search is not None:
            print(f"no finished sector {history.search} (in flight or failed: sectors status)")
        else:
            print("no finished sectors yet")
        return 0

    def cell(seconds: float | None) -> str:
        return took(seconds) if seconds is not None else "-"

    headers = ["Miner", "Sector", "Finished", *HISTORY_STAGES, "Total", "Fails"]
    table = [
        [
            f"{prefix}{f.sp_id}",
            f.sector_number,
            f"{f.finished_at:%Y-%m-%d %H:%M:%S}" if f.finished_at else "-",
            *(cell(t.seconds) for t in f.stages),
            cell(f.total),
            f.failed_attempts,
        ]
        for f in history.sectors
    ]
    print_table(headers, table)
    print("Finished in UTC; stage times are the work of each stage's successful attempts")
    return 0
