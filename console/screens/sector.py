"""One sector in detail: its state and stage, each stage's task and machine, and its problem; a
finished sector (from the sealing history) with its timeline: each stage's start, end and time.

Live like every view: the text is rebuilt from each new snapshot while the screen is open.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from engine.snapshot import ClusterSnapshot, duration
from engine.snapshot.format import took
from engine.snapshot.pipeline import STATUS_WORDS
from engine.snapshot.sealing_history import FinishedSector

from ..panes.pipeline import STAGE_CODES
from .detail import DetailScreen

__all__ = ["SectorScreen", "finished_text", "sector_text"]


def _when(ts: datetime | None) -> str:
    return f"{ts:%Y-%m-%d %H:%M:%S} UTC" if ts is not None else "-"


def finished_text(sector: FinishedSector, now: datetime) -> Text:
    """A finished sector's timeline (the sealing history's record of it)."""
    body = Text()
    ended = sector.finished_at
    body.append("state Finished")
    if ended is not None:
        ago = duration((now - ended).total_seconds())
        body.append(f", finished {_when(ended)} ({ago} ago)")
    body.append("\n")
    if sector.create_time is not None:
        body.append(f"created {_when(sector.create_time)}\n")
    if sector.total is not None:
        body.append("total ", style="bold")
        body.append(f"{took(sector.total)}\n")
    body.append("\n")
    body.append(f"  {'stage':<10}{'took':>6}  {'started':<16}{'ended':<16}tries\n", style="dim")
    for t in sector.stages:
        if t.seconds is None and not t.attempts:
            continue
        body.append(f"  {t.stage:<10}", style="bold")
        body.append(f"{took(t.seconds) if t.seconds is not None else '-':>6}  ")
        body.append(f"{_time(t.started):<16}{_time(t.ended):<16}")
        tries = f"{t.attempts}" + (f" ({t.failed} failed)" if t.failed else "")
        body.append(tries if t.attempts else "", style="yellow" if t.failed else "")
        body.append("\n")
    if ended is None:
        body.append("no stage attempts recorded for it\n", style="dim")
    return body


def _time(ts: datetime | None) -> str:
    return f"{ts:%m-%d %H:%M:%S}" if ts is not None else "-"


def sector_text(snap: ClusterSnapshot, sp_id: int, sector: int) -> Text:
    """What the snapshot knows of sector ``sector`` of miner ``sp_id``."""
    row = next(
        (s for s in snap.pipeline.sectors if (s.sp_id, s.sector_number) == (sp_id, sector)),
        None,
    )
    problem = next(
        (p for p in snap.pipeline.problems if (p.sp_id, p.sector_number) == (sp_id, sector)),
        None,
    )
    body = Text()
    if row is not None:
        body.append(
            f"state {row.state}, stage {row.stage}, created "
            f"{row.create_time:%Y-%m-%d %H:%M:%S} UTC ({duration(row.age)} ago)\n"
        )
        body.append(
            f"in this stage since {row.since:%Y-%m-%d %H:%M:%S} UTC"
            + (" (stuck)" if row.stuck else "")
            + "\n"
        )
        body.append(
            f"On Chain: {row.on_chain}"
            + (f" ({row.chain_state})" if row.chain_state else "")
            + "\n\n"
        )
        for cell in row.cells:
            what = STATUS_WORDS[cell.status]
            if cell.task_id is not None:
                what += f" (task {cell.task_id}"
                if cell.owner_id is not None:
                    owner = snap.machine(cell.owner_id)
                    what += f" on {owner.label if owner else cell.owner_id}"
                what += ")"
            body.append(f"  {STAGE_CODES[cell.label]} {cell.label:<13}", style="bold")
            body.append(f"{what}\n")
    if problem is not None:
        body.append(f"\n{problem.kind}: {problem.reason}\n", style="bold")
        body.append(f"{problem.message}\n")
    if row is None and problem is None:
        finished = next(
            (
                f
                for f in snap.pipeline.history.sectors
                if (f.sp_id, f.sector_number) == (sp_id, sector)
            ),
            None,
        )
        if finished is not None:
            return finished_text(finished, snap.taken_at)
        body.append(
            "not in the current snapshot (a finished sector: find it in the sealing history, h)"
        )
    return body


class SectorScreen(DetailScreen):
    """Sector ``sector`` of miner ``sp_id``."""

    #: its strip and problem come from the pipeline's lists: read while the view is open
    LISTS = frozenset({"sectors"})

    def __init__(self, sp_id: int, sector: int, *, address: str | None = None) -> None:
        super().__init__(f"Sector {address or f't0{sp_id}'} {sector}")
        self.sp_id = sp_id
        self.sector = sector

    def body(self, snap: ClusterSnapshot) -> Text:
        return sector_text(snap, self.sp_id, self.sector)
