"""Built-in task types for operators and tests: ``noop``, ``sleep``, ``burn`` and ``fail``.

Operators add them with ``harmony task add TYPE [--count N] [--param key=value]``; parameters
live in ``harmony_task_params`` and are written in the task's own transaction. The parameters each
type reads are declared in :data:`BUILTIN_PARAMS`, so an adder checks them before the task exists
(:func:`check_params`): a bad value found only when the task runs fails every retry of it, long
after the command that added it reported success.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from engine.resources import MiB, Resources

from .task import (
    Params,
    StillOwned,
    TaskID,
    TaskType,
    TaskTypeDetails,
    retry_wait_exponential,
)
from .workers import ProcessPool, default_pool

if TYPE_CHECKING:
    from engine.harmonydb import DB


async def task_params(db: DB, task_id: TaskID) -> Params:
    raw = await db.query_value("SELECT params FROM harmony_task_params WHERE task_id = $1", task_id)
    return json.loads(raw) if raw else {}


def milliseconds(value: Any) -> float:
    """A duration parameter: a finite JSON number, 0 or more (``ms=abc``, ``ms=true`` and
    ``ms=NaN`` are refused, not read as 0 or as forever)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError("must be a number of milliseconds (0 or more)")
    return float(value)


def _ms(params: Params, default: int) -> float:
    try:
        return milliseconds(params.get("ms", default))
    except ValueError as exc:
        raise ValueError(f"param ms={params['ms']!r}: {exc}") from None


class Noop(TaskType):
    """Does nothing: measures the engine itself (claims, completions, history)."""

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(name="noop")

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        return True


class Sleep(TaskType):
    """Waits ``ms`` milliseconds without using CPU; yields to time-sensitive work."""

    def __init__(self, db: DB) -> None:
        self.db = db

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(name="sleep", cost=Resources(cpu=0, ram=1 * MiB), can_yield=True)

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        ms = _ms(await task_params(self.db, task_id), 1000)
        await asyncio.sleep(ms / 1000)
        return True


def burn_cpu(ms: float) -> int:
    """Spin one core for ``ms`` milliseconds (runs in a worker process)."""
    end = time.perf_counter() + ms / 1000
    spins = 0
    while time.perf_counter() < end:
        spins += 1
    return spins


class Burn(TaskType):
    """Keeps one core busy for ``ms`` milliseconds, in the process pool: the event loop (and a
    console in the same process) stays responsive."""

    def __init__(self, db: DB, pool: ProcessPool | None = None) -> None:
        self.db = db
        self.pool = pool

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(name="burn", cost=Resources(cpu=1, ram=16 * MiB), can_yield=True)

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        ms = _ms(await task_params(self.db, task_id), 1000)
        await (self.pool or default_pool()).run(burn_cpu, ms)
        return True


class Fail(TaskType):
    """Always fails: shows retries, then the failed state, then restart by id."""

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(
            name="fail", max_failures=3, retry_wait=retry_wait_exponential(0.5, 2.0, 5.0)
        )

    async def do(self, task_id: TaskID, still_owned: StillOwned) -> bool:
        raise RuntimeError("the fail task always fails")


BUILTIN_NAMES = ("noop", "sleep", "burn", "fail")

#: The parameters each built-in type reads, with the conversion that checks a value.
BUILTIN_PARAMS: Mapping[str, Mapping[str, Callable[[Any], Any]]] = {
    "noop": {},
    "sleep": {"ms": milliseconds},
    "burn": {"ms": milliseconds},
    "fail": {},
}


def check_params(type_name: str, params: Mapping[str, Any]) -> None:
    """Refuse parameters a built-in type does not read, or values it cannot use, naming the
    parameter; raises :class:`ValueError`. Types that are not built in are not checked here."""
    accepted = BUILTIN_PARAMS.get(type_name)
    if accepted is None:
        return
    for key, value in params.items():
        convert = accepted.get(key)
        if convert is None:
            takes = f"it takes {', '.join(sorted(accepted))}" if accepted else "it takes none"
            raise ValueError(f"task type {type_name} has no param {key!r} ({takes})")
        try:
            convert(value)
        except ValueError as exc:
            raise ValueError(f"param {key}={value!r} of task type {type_name}: {exc}") from None


def builtin_tasks(db: DB, pool: ProcessPool | None = None) -> list[TaskType]:
    return [Noop(), Sleep(db), Burn(db, pool), Fail()]


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` strings into a dict; values that look like JSON numbers/bools are typed."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"bad --param {pair!r}: expected key=value")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params
