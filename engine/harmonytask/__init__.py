"""HarmonyTask: greedy, masterless task scheduling over HarmonyDB.

Public API::

    class MyTask(TaskType):
        def type_details(self): return TaskTypeDetails(name="mytask", cost=Resources(cpu=1))
        async def do(self, task_id, still_owned): ...; return True

    engine = await TaskEngine.new([MyTask()], "host:worker", db)
    await engine.add_task("mytask")
    await engine.graceful_terminate()
"""

from .admin import (
    HistoryRow,
    MachineRow,
    TaskRow,
    add_tasks,
    cordon,
    drain,
    list_machines,
    list_tasks,
    request_restart,
    resolve_machine,
    restart_task,
    task_history,
    uncordon,
)
from .builtin import BUILTIN_NAMES, Burn, Fail, Noop, Sleep, builtin_tasks, parse_params
from .config import EngineConfig
from .engine import EXIT_RESTART_REQUESTED, RunningInfo, TaskEngine, default_identity
from .errors import (
    EngineError,
    MachineIdentityInUse,
    MachineNotFound,
    TaskNotFound,
    UnknownTaskType,
)
from .housekeeping import housekeeping
from .singleton import singleton_adder
from .task import (
    AddTaskFn,
    ExtraFn,
    Limiter,
    StillOwned,
    StorageRequirement,
    TaskID,
    TaskType,
    TaskTypeDetails,
    retry_wait_exponential,
    retry_wait_linear,
)
from .workers import ProcessPool, WorkerCrashed, default_pool

__all__ = [
    "BUILTIN_NAMES",
    "EXIT_RESTART_REQUESTED",
    "AddTaskFn",
    "Burn",
    "EngineConfig",
    "EngineError",
    "ExtraFn",
    "Fail",
    "HistoryRow",
    "Limiter",
    "MachineIdentityInUse",
    "MachineNotFound",
    "MachineRow",
    "Noop",
    "ProcessPool",
    "RunningInfo",
    "Sleep",
    "StillOwned",
    "StorageRequirement",
    "TaskEngine",
    "TaskID",
    "TaskNotFound",
    "TaskRow",
    "TaskType",
    "TaskTypeDetails",
    "UnknownTaskType",
    "WorkerCrashed",
    "add_tasks",
    "builtin_tasks",
    "cordon",
    "default_identity",
    "default_pool",
    "drain",
    "housekeeping",
    "list_machines",
    "list_tasks",
    "parse_params",
    "request_restart",
    "resolve_machine",
    "restart_task",
    "retry_wait_exponential",
    "retry_wait_linear",
    "singleton_adder",
    "task_history",
    "uncordon",
]
