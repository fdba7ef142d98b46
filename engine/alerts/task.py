"""``AlertEval``: the singleton task that evaluates the alert checks every interval.

Any machine running the type may evaluate, one at a time, at most once per interval
(:func:`engine.harmonytask.singleton.add_if_due` in the adding transaction, as Curio's
``SingletonTaskAdder``). The adder is our own loop, not an ``iam_bored`` hook: alerts matter
most when every machine is busy. A machine's first try waits ``min(interval, 60 s)`` after it
starts, so a restart storm does not evaluate once per start.

``AlertEval`` retries forever (with a backoff up to the interval) instead of entering the
failed state: a failed singleton instance would stay "live" and stop every later evaluation.
After the evaluation is recorded, the webhook (if this machine has one) is sent in the
background, one delivery at a time: a slow receiver never holds the task or the next
evaluation, and what it did not take is sent again next time (see :mod:`.webhook`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.harmonydb import HarmonyDBError
from engine.harmonytask import (
    TaskType,
    TaskTypeDetails,
    retry_wait_exponential,
)
from engine.harmonytask.singleton import add_if_due
from engine.resources import MiB, Resources

from .evaluate import evaluate
from .model import AlertSettings
from .webhook import WebhookError, deliver

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx
    from engine.harmonytask import (
        AddTaskFn,
        StillOwned,
        TaskID,
    )

    from .webhook import WebhookTarget

__all__ = ["ALERT_EVAL", "AlertConfig", "AlertEvalTask", "alert_tasks", "configure_alert_tasks"]

log = logging.getLogger(__name__)

ALERT_EVAL = "AlertEval"


@dataclass(frozen=True)
class AlertConfig:
    """A machine's alert options (``--alerts-interval``, ``--alerts-webhook``)."""

    settings: AlertSettings = field(default_factory=AlertSettings)
    webhook: WebhookTarget | None = None


class AlertEvalTask(TaskType):
    def __init__(self, db: DB, config: AlertConfig | None = None) -> None:
        self.db = db
        self.config = config or AlertConfig()
        self._delivery: asyncio.Task[None] | None = None

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(
            name=ALERT_EVAL,
            cost=Resources(cpu=0, ram=64 * MiB),
            max_failures=0,
            retry_wait=retry_wait_exponential(5.0, 2.0, max(5.0, self.config.settings.interval)),
            timeout=600.0,
        )

    async def adder(self, add_task: AddTaskFn) -> None:
        interval = self.config.settings.interval
        await asyncio.sleep(min(interval, 60.0))

        async def extra(task_id: TaskID, tx: Tx) -> bool:
            return await add_if_due(tx, ALERT_EVAL, task_id, interval)

        while True:
            try:
                await add_task(extra)
            except HarmonyDBError as exc:
                log.warning("adding an alert evaluation failed: %s", exc)
            await asyncio.sleep(max(1.0, min(interval / 4, 30.0)))

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        await evaluate(self.db, self.config.settings)
        self.send_webhook()
        return True

    def send_webhook(self) -> asyncio.Task[None] | None:
        """Start a delivery in the background unless one is still going."""
        target = self.config.webhook
        if target is None or (self._delivery is not None and not self._delivery.done()):
            return None
        self._delivery = asyncio.create_task(self._deliver(target), name="alerts-webhook")
        return self._delivery

    async def _deliver(self, target: WebhookTarget) -> None:
        try:
            sent = await deliver(self.db, target)
            if sent.firing or sent.resolved:
                log.info("alerts webhook: %d firing, %d resolved sent", sent.firing, sent.resolved)
        except (WebhookError, HarmonyDBError) as exc:
            log.warning("%s; sent again after the next evaluation", exc)

    def release(self) -> None:
        """Stop a delivery in flight (the test fixtures call this on stop)."""
        if self._delivery is not None and not self._delivery.done():
            self._delivery.cancel()


def alert_tasks(db: DB, pool: object = None) -> list[TaskType]:
    """The node's factory (``engine.node.TASK_FACTORIES``)."""
    return [AlertEvalTask(db)]


def configure_alert_tasks(tasks: Sequence[TaskType], config: AlertConfig | None) -> None:
    """Give this machine's alert options to its ``AlertEval`` task, if it runs one."""
    if config is None:
        return
    for task in tasks:
        if isinstance(task, AlertEvalTask):
            task.config = config
