"""The sealing pipeline: Curio's stages as harmony tasks, moved along by the SealPoller."""

from .batches import CommitBatchTask, PreCommitBatchTask
from .finalize import FinalizeTask, MoveStorageTask
from .pipeline import (
    STAGES,
    ResumeRefused,
    SectorNotInPipeline,
    Stage,
    mark_failed,
    resume_sector,
)
from .pledge import AutoPledge, auto_pledge, pledge_sectors, set_auto_pledge
from .porep import SEED_CONFIDENCE, PoRepTask
from .sdr import SDRTask
from .trees import TreeDTask, TreeRCTask

__all__ = [
    "SEED_CONFIDENCE",
    "STAGES",
    "AutoPledge",
    "CommitBatchTask",
    "FinalizeTask",
    "MoveStorageTask",
    "PoRepTask",
    "PreCommitBatchTask",
    "ResumeRefused",
    "SDRTask",
    "SectorNotInPipeline",
    "Stage",
    "TreeDTask",
    "TreeRCTask",
    "auto_pledge",
    "mark_failed",
    "pledge_sectors",
    "resume_sector",
    "set_auto_pledge",
]
