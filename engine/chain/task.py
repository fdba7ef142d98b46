"""``ChainTick``: the singleton task that advances the devnet chain.

Every machine that runs the type keeps an adder that adds a tick when one is due (see
:class:`ChainService`); the insert is guarded by ``harmony_task_singletons`` so at most one tick
is live cluster-wide and ticks are at least half an epoch (at most 0.5 s) apart. The adder is
our own loop, not an ``iam_bored`` hook: the engine calls those only when it is idle, and a
chain that stops while every machine is busy sealing would miss PoSt deadlines.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from engine.harmonydb import HarmonyDBError
from engine.harmonytask import (
    TaskType,
    TaskTypeDetails,
    retry_wait_exponential,
)
from engine.resources import MiB, Resources

from .advance import advance_chain

if TYPE_CHECKING:
    from engine.harmonydb import Tx
    from engine.harmonytask import (
        AddTaskFn,
        StillOwned,
        TaskID,
    )

    from .service import ChainService

__all__ = ["CHAIN_TICK", "ChainTick"]

log = logging.getLogger(__name__)

CHAIN_TICK = "ChainTick"

_CLAIM_SINGLETON = """
INSERT INTO harmony_task_singletons (task_name, task_id, last_run_time, run_now_request)
VALUES ($1, $2, now(), FALSE)
ON CONFLICT (task_name) DO UPDATE
   SET task_id = EXCLUDED.task_id, last_run_time = now(), run_now_request = FALSE
 WHERE (harmony_task_singletons.task_id IS NULL
        OR NOT EXISTS (SELECT 1 FROM harmony_task t
                        WHERE t.id = harmony_task_singletons.task_id AND t.failed_at IS NULL))
   AND (harmony_task_singletons.last_run_time IS NULL
        OR harmony_task_singletons.last_run_time < now() - make_interval(secs => $3)
        OR harmony_task_singletons.run_now_request)
RETURNING task_name
"""


class ChainTick(TaskType):
    def __init__(self, service: ChainService) -> None:
        self.service = service

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(
            name=CHAIN_TICK,
            cost=Resources(cpu=0, ram=32 * MiB),
            max_failures=5,
            retry_wait=retry_wait_exponential(0.5, 2.0, 10.0),
            time_sensitive=True,
            timeout=120.0,
        )

    async def adder(self, add_task: AddTaskFn) -> None:
        service = self.service
        await service.start()
        config = await service.wait_config()
        # Ticks from different machines at least this far apart, in real seconds: the
        # singleton claim compares it with the server's now(), which no test clock moves.
        gap = min(config.profile.block_time / 2, 0.5)

        async def extra(task_id: TaskID, tx: Tx) -> bool:
            return await tx.query_value(_CLAIM_SINGLETON, CHAIN_TICK, task_id, gap) is not None

        refused_at = 0.0
        while True:
            if service.tick_due() and time.monotonic() - refused_at >= gap:
                # Without NOTIFY another machine's tick is news only once read: read before
                # adding one that would repeat it (one statement; nothing where NOTIFY works).
                await service.refresh()
                if not service.tick_due():
                    continue
                try:
                    added = await add_task(extra)
                except HarmonyDBError as exc:
                    log.warning("adding a chain tick failed: %s", exc)
                    added = None
                if added is None:
                    # Another machine's tick is live or just ran; its result will tell us
                    # (NOTIFY), or we try again shortly.
                    refused_at = time.monotonic()
                else:
                    # Do not add again before this tick reports (or a few epochs pass).
                    await service.wait_changed(max(5.0, 3 * config.profile.block_time))
                continue
            if service.tick_due():
                await asyncio.sleep(max(0.05, gap - (time.monotonic() - refused_at)))
            else:
                await service.sleep_until_tick_due()

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        service = self.service
        config = await service.wait_config()
        result = await advance_chain(service.db, config, service.epoch(), beacons=service.beacons)
        service.note_advance(result)
        if result.advanced:
            log.debug(
                "chain advanced %d -> %d, %d message(s) landed",
                result.previous_head,
                result.head,
                len(result.landed),
            )
        return True
