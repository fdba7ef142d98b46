"""HarmonyTask: greedy, masterless task scheduling over HarmonyDB.

Public API::

    class MyTask(TaskType):
        def type_details(self): return TaskTypeDetails(name="mytask", cost=Resources(cpu=1))
        async def do(self, task_id, still_owned): ...; return True

    engine = await TaskEngine.new([MyTask()], "host:worker", db)
    await engine.add_task("mytask")
    await engine.graceful_terminate()

Imports run one way: :mod:`.engine` (the composition root, :class:`TaskEngine`) builds the parts
(:mod:`.capacity`, :mod:`.runner`, :mod:`.scheduling` with :mod:`.planning`, :mod:`.membership`,
:mod:`.wakeup`, :mod:`.supervision`), and none of them imports it. Names resolve lazily, so
``from engine.harmonytask import TaskType`` does not load the engine.
"""

from engine.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "admin": [
            "HistoryRow",
            "MachineRow",
            "TaskRow",
            "add_tasks",
            "cordon",
            "drain",
            "list_machines",
            "list_tasks",
            "request_restart",
            "resolve_machine",
            "restart_task",
            "task_history",
            "uncordon",
        ],
        "builtin": [
            "BUILTIN_NAMES",
            "Burn",
            "Fail",
            "Noop",
            "Sleep",
            "builtin_tasks",
            "parse_params",
        ],
        "config": ["EngineConfig"],
        "engine": ["RunningInfo", "TaskEngine"],
        "errors": [
            "EngineError",
            "MachineIdentityInUse",
            "MachineNotFound",
            "TaskNotFound",
            "UnknownTaskType",
        ],
        "exit_codes": ["EXIT_CRASHED", "EXIT_DB_UNREACHABLE", "EXIT_RESTART_REQUESTED"],
        "housekeeping": ["housekeeping"],
        "lifecycle": ["Lifecycle"],
        "limits": ["ResourceOffer", "format_max_tasks", "parse_max_tasks"],
        "machine_state": ["MACHINE_STATE_SQL", "MachineState", "state_of_flags"],
        "outcomes": ["Outcome", "StopReason"],
        "scheduling": ["CycleResult"],
        "settings": ["ClusterSettings", "read_settings", "set_machine_timeout"],
        "singleton": ["singleton_adder"],
        "stats": ["Stats"],
        "task": [
            "AddTaskFn",
            "ExtraFn",
            "Limiter",
            "MachineView",
            "StillOwned",
            "StorageRequirement",
            "TaskID",
            "TaskType",
            "TaskTypeDetails",
            "retry_wait_exponential",
            "retry_wait_linear",
        ],
        "workers": ["ProcessPool", "WorkerCrashed", "default_pool"],
    },
)
