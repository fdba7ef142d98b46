"""The storage-provider workload as harmony tasks: the devnet chain's tick, the sealing
pipeline, WindowPoSt and WinningPoSt.

Public API::

    TASK_FACTORIES.append(workload_tasks)          # engine/node.py does this
    tasks = workload_tasks(db, pool, clock=ManualClock(...))   # tests: engine.clock
    await pledge_sectors(db, 1000, 4)
    await resume_sector(db, 1000, 7)

Task types and their declared cost (cores, RAM): ChainTick (0, 32 MiB, singleton, time
sensitive); SDR (1, 256 MiB); TreeD (1, 128 MiB); TreeRC (1, 256 MiB); PreCommitBatch
(0, 8 MiB); PoRep (1, 256 MiB); Finalize (0, 100 MiB); MoveStorage (0, 128 MiB); CommitBatch
(0, 32 MiB); WdPost (1, 256 MiB, time sensitive); WdPostSubmit (0, 16 MiB, time sensitive);
WdPostRecover (0, 128 MiB); WinPost (1, 256 MiB, time sensitive).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.chain import ChainTick

from .seal import (
    CommitBatchTask,
    FinalizeTask,
    MoveStorageTask,
    PoRepTask,
    PreCommitBatchTask,
    ResumeRefused,
    SDRTask,
    SectorNotInPipeline,
    TreeDTask,
    TreeRCTask,
    pledge_sectors,
    resume_sector,
    set_auto_pledge,
)
from .window import SubmitRefused, WdPostRecoverTask, WdPostSubmitTask, WdPostTask
from .winning import WinPostTask
from .workload import Workload

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.harmonydb import DB
    from engine.harmonytask import ProcessPool, TaskType

__all__ = [
    "WORKLOAD_TASK_NAMES",
    "ResumeRefused",
    "SectorNotInPipeline",
    "SubmitRefused",
    "Workload",
    "pledge_sectors",
    "resume_sector",
    "set_auto_pledge",
    "workload_tasks",
]

WORKLOAD_TASK_NAMES = (
    "ChainTick",
    "SDR",
    "TreeD",
    "TreeRC",
    "PreCommitBatch",
    "PoRep",
    "Finalize",
    "MoveStorage",
    "CommitBatch",
    "WdPost",
    "WdPostSubmit",
    "WdPostRecover",
    "WinPost",
)


def workload_tasks(
    db: DB,
    pool: ProcessPool,
    *,
    clock: Clock | None = None,
    host: str | None = None,
    idle_tick: float = 30.0,
) -> list[TaskType]:
    """Every task type of the workload, sharing one :class:`Workload` (chain view, pollers)."""
    w = Workload(db, pool, clock=clock, host=host, idle_tick=idle_tick)
    return [
        ChainTick(w.chain),
        SDRTask(w),
        TreeDTask(w),
        TreeRCTask(w),
        PreCommitBatchTask(w),
        PoRepTask(w),
        FinalizeTask(w),
        MoveStorageTask(w),
        CommitBatchTask(w),
        WdPostTask(w),
        WdPostSubmitTask(w),
        WdPostRecoverTask(w),
        WinPostTask(w),
    ]
