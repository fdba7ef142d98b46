"""One sector in detail: its state and stage, each stage's task and machine, and its problem.

Live like every view: the text is rebuilt from each new snapshot while the screen is open.
"""

from __future__ import annotations

from rich.text import Text

from engine.snapshot import ClusterSnapshot, duration
from engine.snapshot.pipeline import STATUS_WORDS

from ..panes.pipeline import STAGE_CODES
from .detail import DetailScreen

__all__ = ["SectorScreen", "sector_text"]


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
        body.append("not in the current snapshot (finished sectors are not listed)")
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
