"""Sealing history: sectors that finished sealing, newest first, each with how long each of its
stages took, so a finished sector stays findable after it leaves the pipeline strip.

Both schemas link a sector to the ``harmony_task_history`` rows of its stage tasks through
``sectors_pipeline_events`` (ours: one row per sector with an array of history ids; Curio's: one
row per history id). A stage's time is the work of its successful attempts (``work_end -
work_start``); "Wait seed" is the chain's part between the PreCommit message and the PoRep
task's start (the PreCommit landing, then the seed epochs). The sector's total runs from its
creation (where the pipeline row still holds it; else its first attempt's start) to its last
successful attempt's end, which is also when it finished.

"Newest first" is by sector number, highest first: a miner allocates sector numbers in order,
so that is the order they started in, and it is an index order in both schemas (a finish time
is not stored anywhere). Each statement is bounded: the listed sectors come from one probe per
miner into an index on ``(sp_id, sector_number)`` (``LIMIT``ed), a search by number is one probe
per miner, and their events are primary-key lookups for those sectors only. The console reads
it only while the sealing pane's history view is on screen.

This module knows no console and no snapshot class: :mod:`.model` holds a
:class:`SealingHistory` in the pipeline section, and the CLI's ``sectors history`` prints the
same records (:func:`read_history`) in both modes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString, Protocol

__all__ = [
    "HISTORY_STAGES",
    "STAGE_OF_TASK",
    "FinishedSector",
    "HistoryStatements",
    "SealingHistory",
    "StageTime",
    "build_history",
    "parse_search",
    "read_history",
]

#: Task name -> the stage it does, in pipeline order (our names and Curio's are the same;
#: SyntheticProofs is Curio's only).
STAGE_OF_TASK = {
    "SDR": "SDR",
    "TreeD": "TreeD",
    "TreeRC": "TreeRC",
    "SyntheticProofs": "Synth",
    "PreCommitBatch": "PreCommit",
    "PoRep": "PoRep",
    "Finalize": "Finalize",
    "MoveStorage": "Move",
    "CommitBatch": "Commit",
}

#: Every stage a finished sector's history lists, in pipeline order ("Wait seed" is the
#: chain's time between the PreCommit and PoRep tasks).
HISTORY_STAGES = (
    "SDR",
    "TreeD",
    "TreeRC",
    "Synth",
    "PreCommit",
    "Wait seed",
    "PoRep",
    "Commit",
    "Finalize",
    "Move",
)


@dataclass(frozen=True, eq=False)
class StageTime:
    """One stage of a finished sector: the time its successful attempts worked (None when no
    attempt is recorded), and how many attempts it took (failed ones included)."""

    stage: str
    seconds: float | None
    attempts: int = 0
    failed: int = 0
    started: datetime | None = None
    ended: datetime | None = None


@dataclass(frozen=True, eq=False)
class FinishedSector:
    sp_id: int
    sector_number: int
    #: when the pipeline row was created (None: Curio garbage-collected the row)
    create_time: datetime | None
    #: the end of its last successful attempt (None: no attempt recorded, e.g. imported)
    finished_at: datetime | None
    #: one per :data:`HISTORY_STAGES`
    stages: tuple[StageTime, ...]
    #: creation (or first attempt) to the last successful attempt's end, seconds
    total: float | None

    @property
    def key(self) -> str:
        return f"{self.sp_id}:{self.sector_number}"

    def stage(self, name: str) -> StageTime:
        return next(s for s in self.stages if s.stage == name)

    @property
    def failed_attempts(self) -> int:
        return sum(s.failed for s in self.stages)


@dataclass(frozen=True, eq=False)
class SealingHistory:
    """What the history view shows: up to ``limit`` finished sectors, newest first, or the
    ones numbered ``search`` (one per miner) when searching."""

    sectors: tuple[FinishedSector, ...] = ()
    #: the sector number searched for (None: the newest)
    search: int | None = None
    #: the search text as typed, when it was not a sector number
    bad_search: str | None = None
    limit: int = 0
    #: read at all (False: the view was never on screen)
    read: bool = False


def parse_search(text: str | None) -> tuple[int | None, str | None]:
    """A history search: (the sector number, None) or (None, the text when it is no number)."""
    text = (text or "").strip()
    if not text:
        return None, None
    if text.isdigit():
        return int(text), None
    return None, text


class _Selects(Protocol):
    async def select(self, sql: LiteralString, *args: Any) -> list[Any]: ...


@dataclass(frozen=True)
class HistoryStatements:
    """A schema's three statements: ``latest`` ($1 = limit), ``search`` ($1 = sector number,
    $2 = limit), each giving ``sp_id, sector_number, create_time``; ``events`` ($1, $2 = the
    sectors' miner and number arrays, $3 = row limit) giving ``sp_id, sector_number, name,
    work_start, work_end, result`` ordered by sector and history id."""

    latest: LiteralString
    search: LiteralString
    events: LiteralString


#: events read per listed sector at most (a sector has ~10 attempts; retries add a few)
EVENTS_PER_SECTOR = 64


async def read_history(
    tx: _Selects,
    statements: HistoryStatements,
    now: datetime,
    *,
    limit: int,
    search: int | None = None,
    bad_search: str | None = None,
) -> SealingHistory:
    """The finished sectors (see the module docstring) with their stage times."""
    del now  # durations are between recorded times, never against a clock
    if bad_search is not None:
        return SealingHistory((), None, bad_search, limit, True)
    if search is None:
        rows = await tx.select(statements.latest, limit)
    else:
        rows = await tx.select(statements.search, search, limit)
    events: list[Any] = []
    if rows:
        events = await tx.select(
            statements.events,
            [r["sp_id"] for r in rows],
            [r["sector_number"] for r in rows],
            len(rows) * EVENTS_PER_SECTOR,
        )
    return SealingHistory(build_history(rows, events), search, None, limit, True)


def _seconds(a: datetime, b: datetime) -> float:
    return max(0.0, (b - a).total_seconds())


def build_history(
    rows: Sequence[Mapping[str, Any]], events: Iterable[Mapping[str, Any]]
) -> tuple[FinishedSector, ...]:
    """The records of ``rows`` (finished sectors, in order) from their ``events``."""
    by_sector: dict[tuple[int, int], list[Mapping[str, Any]]] = {}
    for e in events:
        by_sector.setdefault((e["sp_id"], e["sector_number"]), []).append(e)
    out = []
    for r in rows:
        key = (r["sp_id"], r["sector_number"])
        attempts = by_sector.get(key, [])
        stages: dict[str, StageTime] = {}
        for name in HISTORY_STAGES:
            mine = [a for a in attempts if STAGE_OF_TASK.get(a["name"]) == name]
            done = [a for a in mine if a["result"]]
            stages[name] = StageTime(
                name,
                sum(_seconds(a["work_start"], a["work_end"]) for a in done) if done else None,
                len(mine),
                len(mine) - len(done),
                min((a["work_start"] for a in mine), default=None),
                max((a["work_end"] for a in done), default=None),
            )
        precommit, porep = stages["PreCommit"], stages["PoRep"]
        if precommit.ended is not None and porep.started is not None:
            stages["Wait seed"] = StageTime(
                "Wait seed",
                _seconds(precommit.ended, porep.started),
                started=precommit.ended,
                ended=porep.started,
            )
        ends = [a["work_end"] for a in attempts if a["result"]]
        finished = max(ends) if ends else None
        start = r["create_time"] or min((a["work_start"] for a in attempts), default=None)
        out.append(
            FinishedSector(
                sp_id=r["sp_id"],
                sector_number=r["sector_number"],
                create_time=r["create_time"],
                finished_at=finished,
                stages=tuple(stages[name] for name in HISTORY_STAGES),
                total=_seconds(start, finished) if start and finished else None,
            )
        )
    return tuple(out)
