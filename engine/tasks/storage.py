"""Storage for pipeline tasks: room on the right kind of path, on the host holding the sector.

:class:`TaskStorage` is the engine's ``StorageRequirement`` for a sealing stage:

* ``has_capacity`` (asked by the engine before claiming, every scheduling cycle) answers from
  one snapshot of the path table shared by every stage of the process and refreshed at most
  every few seconds, so back-pressure costs no query per cycle and per type;
* ``claim`` (once the task is ours) first checks *locality*: a stage that reads a sector's
  cache must run on a host where that cache is (Curio does this in ``CanAccept``; here a task
  claimed on the wrong host goes back to the queue with the engine's storage back-off), then
  reserves space for the files the stage writes. The stage's ``do`` gets the reservation with
  :meth:`reservation_for` to learn where to write.

A stage that stores its files for the long term (MoveStorage) places them only in a group the
seal path they come from allows (Lotus ``AllowTo``, checked when reserving, so the move never
meets a destination it must refuse) and, when this machine has ``--store-groups``
(:func:`configure_store_groups`), only in one of those groups; a machine whose groups have no
room does not claim the work, and another machine may.

A stage that can read its inputs from another host (``remote_task``: MoveStorage, through
:mod:`engine.storage.remote`) still prefers the host holding them: it takes the task on a host
without them only when they are served over HTTP and no live machine on a holding host runs
that task type (else that machine will, reading locally).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from engine.storage import (
    Reservation,
    SectorFileType,
    StorageError,
    find_sector,
    reserve,
)
from engine.storage.hosts import is_http_url
from engine.storage.paths import split_list
from engine.storage.placement import OUTSIDE_GROUPS, PathState, Ranking, load_path_states, rank
from engine.storage.units import size_str

if TYPE_CHECKING:
    from engine.harmonydb import DB
    from engine.harmonytask import TaskType

__all__ = [
    "LocalFiles",
    "PathStatesCache",
    "SectorRef",
    "TaskStorage",
    "configure_store_groups",
]

log = logging.getLogger(__name__)

#: How often, at most, a machine says its store groups keep it from placing (seconds).
CONFINED_LOG_EVERY = 300.0

#: ``(miner, sector, sector_size)`` of the sector a task works on, or None if it is gone.
SectorRef = tuple[int, int, int]
SectorLookup = Callable[[int], Awaitable[SectorRef | None]]
NONE = SectorFileType(0)


class PathStatesCache:
    """The path table as seen from one host, re-read at most every ``ttl`` seconds."""

    def __init__(self, db: DB, host: str, ttl: float = 30.0) -> None:
        self.db = db
        self.host = host
        self.ttl = ttl
        self._states: list[PathState] = []
        self._at = -1e9
        #: smallest sector size in use (updated by the pollers), for back-pressure checks
        self.sector_size = 2048
        #: this machine's ``--store-groups``: its long-term placements go only to paths in
        #: one of them (empty: any group)
        self.store_groups: tuple[str, ...] = ()

    async def get(self, max_age: float | None = None) -> list[PathState]:
        if time.monotonic() - self._at > (self.ttl if max_age is None else max_age):
            self._states = await load_path_states(self.db, self.host)
            self._at = time.monotonic()
        return self._states

    def invalidate(self) -> None:
        self._at = -1e9


class _NoReservation:
    """What ``claim`` returns when a stage writes no new file (locality check only)."""

    released = True

    async def release(self) -> None:
        return None


class LocalFiles(StorageError):
    """The sector's files are not on this host (the task goes back to the queue)."""


class TaskStorage:
    """Args:
    writes: file types the stage creates (reserved at claim time); may be empty.
    seal: the new files go to a sealing path (sealing overheads), else a store path.
    reads: file types that must already be on a path attached to this host.
    lookup: task id -> (miner, sector, sector size).
    remote_task: the stage's task type name, when it can read ``reads`` from another host.
    """

    def __init__(
        self,
        db: DB,
        paths: PathStatesCache,
        lookup: SectorLookup,
        *,
        writes: SectorFileType = NONE,
        seal: bool = True,
        reads: SectorFileType = NONE,
        remote_task: str | None = None,
    ) -> None:
        self.db = db
        self.paths = paths
        self.lookup = lookup
        self.writes = SectorFileType(writes)
        self.seal = seal
        self.reads = SectorFileType(reads)
        self.remote_task = remote_task
        self._held: dict[int, Reservation] = {}
        self._room = True
        self._said_confined = -1e9

    async def has_capacity(self) -> bool:
        if not self.writes:
            return True
        # A "no" is re-checked sooner than a "yes": paths start reporting a few seconds after a
        # machine starts, and work should not wait a whole TTL for them.
        states = await self.paths.get(None if self._room else 2.0)
        pending: dict[str, int] = {}
        for ft in self.writes.bits():
            needed = ft.overhead(self.paths.sector_size, sealing=self.seal)
            ranking = rank(
                states,
                ft,
                needed,
                seal=self.seal,
                host=self.paths.host,
                pending=pending,
                groups=self.groups,
            )
            if not ranking.candidates:
                self._room = False
                self._say_confined(ranking, ft, needed)
                return False
            best = ranking.candidates[0].storage_id
            pending[best] = pending.get(best, 0) + needed
        self._room = True
        return True

    async def claim(self, task_id: int, machine_id: int) -> Reservation | _NoReservation:
        ref = await self.lookup(task_id)
        if ref is None:
            return _NoReservation()  # the sector is gone; do() will notice and finish
        miner, sector, size = ref
        found = []
        if self.reads:
            found = await find_sector(self.db, miner, sector, self.reads, host=self.paths.host)
            local = {loc.file_type for loc in found if loc.local_path is not None}
            remote = {loc.file_type for loc in found if loc.local_path is None}
            missing = [ft for ft in self.reads.bits() if ft not in local and ft in remote]
            if missing and await self._read_remotely(found, missing):
                missing = []
            if missing:
                names = ", ".join(str(ft) for ft in missing)
                raise LocalFiles(
                    f"sector t0{miner}-{sector}: its {names} is on another host, "
                    f"not {self.paths.host}"
                )
        if not self.writes:
            return _NoReservation()
        self.paths.invalidate()
        reservation = await reserve(
            self.db,
            miner=miner,
            sector=sector,
            sector_size=size,
            file_types=self.writes,
            seal=self.seal,
            task_id=task_id,
            machine_id=machine_id,
            host=self.paths.host,
            allow_to=await self._allow_to(found),
            groups=self.groups,
        )
        self._held[task_id] = reservation
        return _Held(self, task_id, reservation)

    def _say_confined(self, ranking: Ranking, ft: SectorFileType, needed: int) -> None:
        """Warn (every few minutes at most) when this machine's store groups are why it takes
        no long-term placement: else its work waits with nothing in the log saying why."""
        if not self.groups or not any(
            one.startswith(OUTSIDE_GROUPS) for one, _ in ranking.rejections
        ):
            return
        now = time.monotonic()
        if now - self._said_confined < CONFINED_LOG_EVERY:
            return
        self._said_confined = now
        log.warning(
            "%s (this machine's --store-groups); its long-term placements wait",
            ranking.refusal(f"a {size_str(needed)} {ft} file").reason,
        )

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups new files must go to: this machine's store groups, for store paths."""
        return () if self.seal else self.paths.store_groups

    async def _allow_to(self, found: list) -> dict[SectorFileType, list[str]]:  # type: ignore[type-arg]
        """For a move (a stage writing a type it reads), each file type's source path's
        ``allow_to``: the copy here first, as :func:`engine.storage.move_sector` picks it."""
        moved = self.writes & self.reads
        if self.seal or not moved:
            return {}
        source: dict[SectorFileType, str] = {}
        for loc in sorted(found, key=lambda loc: loc.local_path is None):
            if loc.file_type & moved:
                source.setdefault(loc.file_type, loc.storage_id)
        if not source:
            return {}
        rows = await self.db.select(
            "SELECT storage_id, allow_to FROM storage_path WHERE storage_id = ANY($1::varchar[])",
            sorted(set(source.values())),
        )
        allow = {r["storage_id"]: split_list(r["allow_to"]) for r in rows}
        return {ft: allow.get(sid, []) for ft, sid in source.items()}

    async def _read_remotely(self, found: list, missing: list[SectorFileType]) -> bool:  # type: ignore[type-arg]
        """Whether to take the task here and read ``missing`` from the hosts serving them."""
        if self.remote_task is None:
            return False
        for ft in missing:
            if not any(is_http_url(u) for loc in found if loc.file_type == ft for u in loc.urls):
                return False
        ids = sorted({loc.storage_id for loc in found if loc.file_type in missing})
        holder_runs_it = await self.db.query_value(
            "SELECT 1 FROM storage_path_hosts h JOIN harmony_machines m ON m.hostname = h.hostname "
            "JOIN harmony_machine_details d ON d.machine_id = m.id "
            "WHERE h.storage_id = ANY($1::varchar[]) AND m.session IS NOT NULL "
            "AND m.lost_at IS NULL AND m.drained_at IS NULL AND NOT m.unschedulable "
            "AND $2 = ANY(string_to_array(d.tasks, ',')) LIMIT 1",
            ids,
            self.remote_task,
        )
        return not holder_runs_it

    def reservation_for(self, task_id: int) -> Reservation:
        """The space reserved for this task's new files (after the engine's claim)."""
        try:
            return self._held[task_id]
        except KeyError:
            raise StorageError(f"no storage reserved for task {task_id}") from None


class _Held:
    """The engine's handle: releasing it also forgets the task's reservation here."""

    def __init__(self, owner: TaskStorage, task_id: int, reservation: Reservation) -> None:
        self.owner = owner
        self.task_id = task_id
        self.reservation = reservation

    async def release(self) -> None:
        self.owner._held.pop(self.task_id, None)
        await self.reservation.release()


def configure_store_groups(tasks: Iterable[TaskType], groups: Sequence[str]) -> None:
    """Confine the long-term placements of ``tasks`` (the workload's, sharing one path view)
    to store paths in one of ``groups`` (``harmony run --store-groups``; empty: any)."""
    chosen = tuple(dict.fromkeys(g.strip() for g in groups if g.strip()))
    views: dict[int, PathStatesCache] = {}
    for task in tasks:
        storage = getattr(task, "storage", None)
        if isinstance(storage, TaskStorage):
            views[id(storage.paths)] = storage.paths
    for view in views.values():
        view.store_groups = chosen
        view.invalidate()
    if chosen and views:
        log.info("long-term storage confined to groups %s", ", ".join(chosen))
