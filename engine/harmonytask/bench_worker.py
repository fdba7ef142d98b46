"""One engine process of ``harmony bench engine``: a machine running a no-op task type.

Driven over stdin/stdout by the benchmark (one JSON object per line), so the measured engines
run exactly as production ones do, each in its own process and event loop. The database URL
comes in the environment (``HARMONY_BENCH_DSN``), never on the command line, where ``ps`` would
show its password.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from engine.harmonydb import DB

from .config import EngineConfig
from .engine import TaskEngine
from .task import StillOwned, TaskID, TaskType, TaskTypeDetails

BENCH_TASK = "benchnoop"


class BenchNoop(TaskType):
    """Records when each task started (wall clock, comparable across processes on one host)."""

    def __init__(self) -> None:
        self.starts: dict[TaskID, float] = {}

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(name=BENCH_TASK)

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        self.starts[task_id] = time.time()
        return True


def emit(value: object) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


async def main(schema: str, name: str, mode: str) -> None:
    db = await DB.open(
        os.environ["HARMONY_BENCH_DSN"],
        schema=schema,
        migrate=False,
        application_name=f"harmony bench {name}",
    )
    task = BenchNoop()
    config = EngineConfig(use_notify=mode != "poll")
    engine = await TaskEngine.new([task], name, db, config=config)
    emit({"ready": True, "machine_id": engine.machine_id, "notify": engine.notify_mode})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "stats":
            emit({"statements": db.statements, "time": time.monotonic(), **engine.stats.as_dict()})
        elif line == "starts":
            emit({"starts": task.starts})
            task.starts = {}
        elif line == "stop":
            break
    await engine.graceful_terminate()
    await db.close()
    emit({"stopped": True})


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
