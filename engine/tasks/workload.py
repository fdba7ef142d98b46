"""What the workload's task types in one process share: the chain view, the process pool,
this host's storage view, and the pollers that create their tasks.

Imports run one way: this module builds the pollers, and they know the :class:`Workload` they
are handed only as a type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.chain import ChainService
from engine.storage import this_host

from .seal.poller import SealPoller
from .storage import PathStatesCache
from .window.scheduler import PostScheduler
from .winning.lottery import Lottery

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.harmonydb import DB
    from engine.harmonytask import ProcessPool

__all__ = ["Workload"]


class Workload:
    """Args:
    clock: time source of the chain view (tests pass a ``ManualClock``).
    host: the host whose storage paths this process uses (default: this machine).
    idle_tick: seconds between chain advances when nothing is due.
    """

    def __init__(
        self,
        db: DB,
        pool: ProcessPool,
        *,
        clock: Clock | None = None,
        host: str | None = None,
        idle_tick: float = 30.0,
    ) -> None:
        self.db = db
        self.pool = pool
        self.chain = ChainService(db, clock, idle_tick=idle_tick)
        self.host = host or this_host()
        self.paths = PathStatesCache(db, self.host)
        self.seal = SealPoller(self)
        self.post = PostScheduler(self)
        self.lottery = Lottery(self)
