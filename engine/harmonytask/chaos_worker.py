"""One machine of ``harmony bench chaos``: a production engine running a task type that keeps a
journal of what it did, so the benchmark can count, after the fact, every start and every side
effect of every attempt.

The journal is an append-only file per process. Each line is written with one ``write`` on an
``O_APPEND`` descriptor, so a SIGKILL never leaves half a line and never loses a line that was
written (the kernel has it, whatever happens to the process). Lines are
``<kind> <task id> <pid> <unix time>``:

* ``S``: ``do()`` started;
* ``E``: the task's side effect, made only after ``still_owned()`` said this attempt still owns
  the task (the discipline the engine asks of every task type, as Curio's ``stillOwned`` does);
* ``N``: ``still_owned()`` said no, so no side effect and the attempt reports the task not
  done (its outcome write is fenced out, or, where the machine merely could not prove it still
  owned the task, the task is retried);
* ``D``: ``do()`` returned.

The database URL comes in the environment (``HARMONY_BENCH_DSN``: the fault proxy's address),
never on the command line, where ``ps`` would show its password. SIGTERM drains, as
``harmony run --engine-only`` does; the exit status is the engine's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sys
import time

from engine.harmonydb import DB, HarmonyDBError
from engine.harmonydb.driver_log import OneLineDriverWarnings

from .config import EngineConfig
from .engine import TaskEngine
from .task import StillOwned, TaskID, TaskType, TaskTypeDetails

log = logging.getLogger(__name__)

CHAOS_TASK = "chaoswork"

#: Exit status when the engine could not even start (the database unreachable at that moment);
#: the benchmark's supervisor starts the machine again, as systemd would.
EXIT_NOT_STARTED = 4


class ChaosWork(TaskType):
    """Work that takes a little while (so faults find attempts in flight) and ends in a side
    effect guarded by ``still_owned``."""

    def __init__(self, journal: str, work: tuple[float, float], concurrency: int) -> None:
        self._fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._work = work
        self._concurrency = concurrency
        self._pid = os.getpid()

    def _note(self, kind: str, task_id: TaskID) -> None:
        os.write(self._fd, f"{kind} {task_id} {self._pid} {time.time():.6f}\n".encode())

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(name=CHAOS_TASK, max=self._concurrency)

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        self._note("S", task_id)
        try:
            await asyncio.sleep(random.uniform(*self._work))
            if not await still_owned():
                self._note("N", task_id)
                return False  # not done here: its owner (or a retry) does it
            self._note("E", task_id)
            return True
        finally:
            self._note("D", task_id)


async def main(schema: str, name: str, journal: str, work_min: str, work_max: str) -> int:
    try:
        db = await DB.open(
            os.environ["HARMONY_BENCH_DSN"],
            schema=schema,
            migrate=False,
            application_name=f"harmony bench chaos {name}",
        )
    except HarmonyDBError as exc:
        log.error("%s: cannot open the database: %s", name, exc)
        return EXIT_NOT_STARTED
    try:
        task = ChaosWork(journal, (float(work_min), float(work_max)), concurrency=16)
        config = EngineConfig(heartbeat_interval=1.0, poll_interval=2.0)
        try:
            engine = await TaskEngine.new([task], name, db, config=config)
        except HarmonyDBError as exc:
            log.error("%s: cannot start: %s", name, exc)
            return EXIT_NOT_STARTED
        stopping: list[asyncio.Task[None]] = []
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(
            signal.SIGTERM,
            lambda: stopping.append(asyncio.create_task(engine.graceful_terminate())),
        )
        log.warning("%s: machine %d started", name, engine.machine_id)
        code = await engine.exit_code
        for stop in stopping:
            await stop
        return code
    finally:
        await db.close()


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(process)d %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(OneLineDriverWarnings())
    sys.exit(asyncio.run(main(*sys.argv[1:6])))
