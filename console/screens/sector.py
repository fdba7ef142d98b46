"""One sector in detail: its state and stage, each stage's task and machine, and its problem; a
finished sector (from the sealing history) with its timeline: each stage's start, end and time.

Below that, the drill-down (:mod:`engine.snapshot.sector_detail`, read for this one sector at
each refresh while the view is open, off the event loop): the database's record beside the
chain's (a mismatch highlighted), why its pending stage tasks wait (:mod:`engine.snapshot.
waits`, the text ``harmony task list --why`` prints), every attempt of its stage tasks with its
time, the storage paths holding its files (``harmony storage find``'s grouping), and the safe
actions: ``r`` resumes a failed stage, behind a confirmation, refused under ``--read-only`` and
on a Curio cluster (read-only there).

Live like every view: the text is rebuilt from each new snapshot while the screen is open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import Static

from engine.snapshot import ClusterSnapshot, duration
from engine.snapshot.format import took
from engine.snapshot.pipeline import STATUS_WORDS
from engine.snapshot.sector_detail import SectorDetail, read_sector_detail

from ..feed import one_line
from ..navigation import ResumeRequested
from ..panes.pipeline import STAGE_CODES
from .detail import DetailScreen

if TYPE_CHECKING:
    from engine.harmonydb import DB
    from engine.snapshot.sealing_history import FinishedSector

__all__ = ["SectorScreen", "detail_text", "finished_text", "sector_text"]

log = logging.getLogger("harmony.console")

#: a comparison column's width (a CID is cut in the middle past it; equality is the engine's)
CELL = 30


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


def _cell(value: str) -> str:
    if len(value) <= CELL:
        return value
    half = (CELL - 1) // 2
    return f"{value[:half]}…{value[-(CELL - 1 - half) :]}"


def detail_text(detail: SectorDetail, *, read_only: bool = False) -> Text:
    """The drill-down below the strip: database vs chain, waits, attempts, files, actions."""
    body = Text()
    body.append("\ndatabase vs chain", style="bold")
    if detail.foreign:
        body.append("  (the chain side is the Lotus node's: On Chain above)", style="dim")
    body.append("\n")
    body.append(f"  {'':<22}{'database':<{CELL + 2}}chain\n", style="dim")
    for c in detail.comparisons:
        line = f"  {c.what:<22}{_cell(c.db):<{CELL + 2}}{_cell(c.chain)}"
        if c.agrees is False:
            body.append(line, style="bold red")
            body.append("  MISMATCH\n", style="bold red")
        else:
            body.append(line + "\n")
    if detail.waits:
        body.append("\nwhy it waits\n", style="bold")
        for w in detail.waits:
            body.append(f"  {w.name} task {w.task_id}: ", style="bold")
            body.append(f"{w.text}\n", style="yellow" if w.kind not in ("next", "queued") else "")
    body.append("\nstage attempts\n", style="bold")
    if not detail.attempts:
        body.append("  none finished yet\n", style="dim")
    for a in detail.attempts:
        body.append(f"  {a.name:<15}task {a.task_id:<8}{a.work_start:%m-%d %H:%M:%S}  ")
        body.append(f"{took(a.seconds):>6}  ")
        body.append(f"{a.outcome:<7}", style="red" if a.outcome == "failed" else "")
        body.append(f"{a.host}")
        if a.err:
            body.append(f"  {a.err[:80]}", style="dim")
        body.append("\n")
    body.append("\nfiles\n", style="bold")
    if not detail.files:
        body.append("  no file of it is declared on any storage path\n", style="dim")
    for f in detail.files:
        use = "/".join(u for u, ok in (("seal", f.can_seal), ("store", f.can_store)) if ok)
        body.append(f"  {f.storage_id}", style="bold")
        body.append(f"  {f.types}  ({use or 'read-only'})  ")
        body.append(f"local {f.local_path}" if f.local_path else "remote", style="dim")
        body.append("\n")
        for url in f.urls:
            body.append(f"      {url}\n", style="dim")
    body.append("\nactions\n", style="bold")
    if detail.resume_refusal is None:
        if read_only:
            body.append("  r resume the failed stage: refused (the console is read-only)\n")
        else:
            body.append("  r resume the failed stage (asks first)\n")
    else:
        body.append(f"  resume: not offered ({detail.resume_refusal})\n", style="dim")
    return body


class SectorScreen(DetailScreen):
    """Sector ``sector`` of miner ``sp_id``: the snapshot's strip and the drill-down."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "resume", "Resume", id="console.sector.resume"),
    ]
    #: its strip and problem come from the pipeline's lists: read while the view is open
    LISTS = frozenset({"sectors"})

    def __init__(
        self,
        sp_id: int,
        sector: int,
        *,
        address: str | None = None,
        source: Callable[[], DB | None] | None = None,
        read_only: bool = False,
    ) -> None:
        self.label = f"{address or f't0{sp_id}'} {sector}"
        super().__init__(f"Sector {self.label}")
        self.sp_id = sp_id
        self.sector = sector
        #: the console's read pool, when connected (None: the drill-down is not read)
        self.source = source
        self.read_only = read_only
        self.detail: SectorDetail | None = None
        self.detail_error: str | None = None
        self._reading = False
        self._again = False

    def body(self, snap: ClusterSnapshot) -> Text:
        out = sector_text(snap, self.sp_id, self.sector)
        if self.detail is not None:
            out.append_text(detail_text(self.detail, read_only=self.read_only))
        elif self.source is not None and self.detail_error is None:
            out.append("\nreading the drill-down...\n", style="dim")
        if self.detail_error is not None:
            out.append(f"\ndrill-down not read: {self.detail_error}\n", style="bold red")
        return out

    def watch_snapshot(self, snap: ClusterSnapshot | None) -> None:
        super().watch_snapshot(snap)
        if snap is not None:
            self._read_detail()

    def _read_detail(self) -> None:
        """One read at a time; a refresh during a read reads again once it is done."""
        db = self.source() if self.source is not None else None
        if db is None:
            return
        if self._reading:
            self._again = True
            return
        self._reading = True
        self.run_worker(self._read(db), group="sector-detail", exit_on_error=False)

    async def _read(self, db: DB) -> None:
        try:
            self.detail = await read_sector_detail(db, self.sp_id, self.sector)
            self.detail_error = None
        except Exception as exc:  # shown in the view: the operator sees what failed
            log.warning("sector %s detail: %s", self.label, exc)
            self.detail_error = one_line(exc)
        finally:
            self._reading = False
        self._redraw()
        self.refresh_bindings()
        if self._again:
            self._again = False
            self._read_detail()

    def _redraw(self) -> None:
        if self.snapshot is None:
            return
        try:
            self.query_one("#detail-body", Static).update(self.body(self.snapshot))
        except NoMatches:
            return

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "resume":
            return self.detail is not None and self.detail.resume_refusal is None
        return True

    def action_resume(self) -> None:
        if self.detail is None or self.detail.resume_refusal is not None:
            return
        if self.read_only:
            self.notify("resume refused: the console is read-only (--read-only)", severity="error")
            return
        self.post_message(ResumeRequested(self.sp_id, self.sector, self.label))
