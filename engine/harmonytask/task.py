"""What a task type is: details, an adder, can-accept and do (Curio's TaskInterface, in Python).

A task type is a subclass of :class:`TaskType`. The engine calls:

* :meth:`TaskType.type_details` once, at start-up;
* :meth:`TaskType.adder` once, as a long-lived coroutine that creates work through ``add_task``;
* :meth:`TaskType.can_accept` with pending task ids this machine could run, to pick a subset;
* :meth:`TaskType.do` for each task it claimed, with a ``still_owned`` check to call before side
  effects that must not happen twice.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from engine.resources import Resources

if TYPE_CHECKING:
    from engine.harmonydb import Tx

TaskID = int
MAX_NAME_LENGTH = 16  # harmony_task.name is VARCHAR(16), as in Curio

#: ``extra(task_id, tx)`` writes the domain rows that belong to a new task, in the same
#: transaction as its ``harmony_task`` row. Return True to commit, False to drop the task.
ExtraFn = Callable[[TaskID, "Tx"], Awaitable[bool]]


class AddTaskFn(Protocol):
    """``await add_task(extra)`` → the new task's id, or None if ``extra`` declined or the task
    already exists (a unique violation inside ``extra`` means "already added", not an error)."""

    async def __call__(
        self, extra: ExtraFn | None = None, *, priority: int | None = None
    ) -> TaskID | None: ...


class StillOwned(Protocol):
    """``await still_owned()`` is False once this attempt lost the task: another machine owns
    it, the machine was declared dead, the task is being preempted, or (``can_yield`` types) the
    machine was cordoned. Call it before side effects that must not happen twice."""

    async def __call__(self) -> bool: ...


class StorageReservation(Protocol):
    async def release(self) -> None: ...


class StorageRequirement(Protocol):
    """Optional storage a task needs before it starts: reserved after the claim and before
    ``do``, so a task never starts writing files it then has no room to finish.

    ``claim`` reserves space for one task, visible to every machine, or raises with a reason
    ("no storage path can take …"); the engine then puts the task back, with a back-off for
    that task only, so one unplaceable task never blocks its type.
    """

    async def has_capacity(self) -> bool: ...

    async def claim(self, task_id: TaskID, machine_id: int) -> StorageReservation: ...


@dataclass(frozen=True)
class MachineView:
    """What :meth:`TaskType.can_accept` may know about the machine asking: who it is and what
    it has free right now. A snapshot, not the engine: a task type cannot reach into the
    scheduler's state, and a test can build one by hand."""

    machine_id: int
    host_and_port: str
    name: str
    #: the machine's total resources
    capacity: Resources
    #: what the tasks running here leave free
    free: Resources


class Limiter:
    """A per-machine concurrency limit; one instance may be shared by several task types, so
    that, e.g., all sealing stages together use at most N slots."""

    def __init__(self, n: int) -> None:
        if n < 0:
            raise ValueError("a limiter's maximum must be >= 0 (0 = unlimited)")
        self.max = n
        self.active = 0

    def headroom(self) -> int:
        return 1_000_000 if self.max == 0 else max(0, self.max - self.active)


def retry_wait_exponential(
    initial: float = 1.0, factor: float = 2.0, cap: float = 300.0
) -> Callable[[int], float]:
    """``retry_wait`` growing ``initial * factor**retries`` seconds, at most ``cap``."""

    def wait(retries: int) -> float:
        return float(min(cap, initial * factor ** max(0, retries - 1)))

    return wait


def retry_wait_linear(initial: float, increment: float) -> Callable[[int], float]:
    def wait(retries: int) -> float:
        return initial + increment * max(0, retries - 1)

    return wait


@dataclass(frozen=True)
class TaskTypeDetails:
    """Static facts about a task type (Curio's ``TaskTypeDetails``)."""

    name: str
    #: per-machine concurrency: an int (0 = unlimited) or a :class:`Limiter` shared by types
    max: int | Limiter = 0
    #: declared peak use of one task; the engine never starts a task that does not fit
    cost: Resources = field(default_factory=Resources)
    storage: StorageRequirement | None = None
    #: failed attempts before the task enters the visible failed state; 0 = retry forever
    max_failures: int = 0
    #: seconds to wait before retry number ``retries`` may be claimed
    retry_wait: Callable[[int], float] = field(default_factory=retry_wait_exponential)
    #: called with spare capacity and nothing to claim, to create speculative work
    iam_bored: Callable[[AddTaskFn], Awaitable[None]] | None = None
    #: must finish before graceful shutdown completes; may preempt ``can_yield`` work
    time_sensitive: bool = False
    #: may be preempted, and yields (``still_owned`` False) while the machine is cordoned
    can_yield: bool = False
    #: higher first; default priority of new tasks of this type
    priority: int = 0
    #: an attempt running longer than this is cancelled and counted as a failure
    timeout: float | None = None

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > MAX_NAME_LENGTH:
            raise ValueError(f"task type name {self.name!r} must be 1..16 characters")
        if self.max_failures < 0:
            raise ValueError("max_failures must be >= 0 (0 = retry forever)")


class TaskType(abc.ABC):
    """Base class of task types. Override :meth:`type_details` and :meth:`do`; override
    :meth:`adder` and :meth:`can_accept` when the type creates its own work or is picky."""

    @abc.abstractmethod
    def type_details(self) -> TaskTypeDetails: ...

    async def adder(self, add_task: AddTaskFn) -> None:  # noqa: B027 - optional hook
        """Create work for the lifetime of the engine (chain events, polls, ...). Default:
        none; operators and other tasks add this type's work."""

    async def can_accept(self, task_ids: list[TaskID], machine: MachineView) -> list[TaskID]:
        """The subset of ``task_ids`` ``machine`` should claim (e.g. where the data is).

        Default: all. Types that keep the default are claimed in one statement without a
        preliminary look at the queue.
        """
        return task_ids

    @abc.abstractmethod
    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        """Run one task. Return True when done; False (or raise) to fail this attempt."""


def accepts_everything(task: TaskType) -> bool:
    return type(task).can_accept is TaskType.can_accept


Params = dict[str, Any]
