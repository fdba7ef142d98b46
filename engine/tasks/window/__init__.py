"""WindowPoSt: per-partition proofs at each deadline, their submission, fault recoveries."""

from .scheduler import WDPOST, WDPOST_RECOVER, WDPOST_SUBMIT, PostScheduler
from .tasks import SubmitRefused, WdPostRecoverTask, WdPostSubmitTask, WdPostTask

__all__ = [
    "WDPOST",
    "WDPOST_RECOVER",
    "WDPOST_SUBMIT",
    "PostScheduler",
    "SubmitRefused",
    "WdPostRecoverTask",
    "WdPostSubmitTask",
    "WdPostTask",
]
