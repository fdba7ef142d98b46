"""What every sealing stage task shares: finding its sector(s), recording a final failure on the
sector, clearing a failure it fixed, and waking the poller when it is done."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.harmonytask import (
    AddTaskFn,
    StillOwned,
    TaskID,
    TaskType,
    TaskTypeDetails,
    retry_wait_exponential,
)
from engine.resources import Resources
from engine.storage import SectorFileType

from ..storage import TaskStorage
from .pipeline import Stage, clear_failure, mark_failed

if TYPE_CHECKING:
    from ..workload import Workload

__all__ = ["SectorRow", "StageTask"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SectorRow:
    sp_id: int
    sector_number: int
    sector_size: int
    failed: bool
    failed_reason: str

    @property
    def name(self) -> str:
        return f"t0{self.sp_id}-{self.sector_number}"


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class StageTask(TaskType):
    """A stage of the sealing pipeline. Subclasses set the class attributes and :meth:`run`."""

    stage: Stage
    cost: Resources
    max_failures: int = 3
    #: files the stage writes (reserved before it starts) and must find on this host
    writes: SectorFileType = SectorFileType(0)
    writes_for_sealing: bool = True
    reads: SectorFileType = SectorFileType(0)
    #: ``reads`` may come from another host's storage server (engine.tasks.storage)
    reads_remotely: bool = False
    batch: bool = False

    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.db = workload.db
        self.storage: TaskStorage | None = None
        if self.writes or self.reads:
            self.storage = TaskStorage(
                workload.db,
                workload.paths,
                self._storage_lookup,
                writes=self.writes,
                seal=self.writes_for_sealing,
                reads=self.reads,
                remote_task=self.stage.task if self.reads_remotely else None,
            )

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(
            name=self.stage.task,
            cost=self.cost,
            storage=self.storage,
            max_failures=self.max_failures,
            retry_wait=retry_wait_exponential(1.0, 2.0, 30.0),
        )

    async def adder(self, add_task: AddTaskFn) -> None:
        await self.workload.seal.serve(self.stage.task, add_task)

    async def sectors(self, task_id: TaskID) -> list[SectorRow]:
        return await self.db.select(self.stage.lookup, task_id, into=SectorRow)

    async def _storage_lookup(self, task_id: TaskID) -> tuple[int, int, int] | None:
        rows = await self.sectors(task_id)
        if not rows:
            return None
        return rows[0].sp_id, rows[0].sector_number, rows[0].sector_size

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        rows = await self.sectors(task_id)
        if not rows:
            log.info(
                "%s task %d: its sector left the pipeline; nothing to do", self.stage.task, task_id
            )
            return True
        try:
            if self.batch:
                await self.run_batch(task_id, rows, still_owned)
            else:
                await self.run(task_id, rows[0], still_owned)
        except Exception as exc:
            await self._maybe_fail(task_id, rows, exc)
            raise
        for row in rows:
            if row.failed and row.failed_reason == self.stage.code:
                await clear_failure(self.db, row.sp_id, row.sector_number, self.stage.code)
        self.workload.seal.poke()
        return True

    async def run(self, task_id: TaskID, row: SectorRow, still_owned: StillOwned) -> None:
        raise NotImplementedError

    async def run_batch(
        self, task_id: TaskID, rows: list[SectorRow], still_owned: StillOwned
    ) -> None:
        raise NotImplementedError

    async def _maybe_fail(self, task_id: TaskID, rows: list[SectorRow], exc: BaseException) -> None:
        """On the last allowed attempt, the sector enters the failed state with the error."""
        retries = await self.db.query_value(
            "SELECT retries FROM harmony_task WHERE id = $1", task_id
        )
        if retries is None or retries + 1 < self.max_failures:
            return
        by_miner: dict[int, list[int]] = {}
        for row in rows:
            by_miner.setdefault(row.sp_id, []).append(row.sector_number)
        for sp_id, numbers in by_miner.items():
            await mark_failed(
                self.db,
                sp_id,
                numbers,
                self.stage.code,
                f"{self.stage.task} task {task_id} failed {retries + 1} times: {describe(exc)}",
            )
