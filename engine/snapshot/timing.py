"""Round-trip time a refresh spent waiting on the database, for the console's status line.

Both readers (ours and Curio's) wrap their transactions in :class:`TimedTx`; the figure is the
sum of statement round trips, not the refresh's wall time (which includes building the
snapshot)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, LiteralString

if TYPE_CHECKING:
    from engine.harmonydb import Tx

__all__ = ["TimedTx", "Timing"]


class TimedTx:
    """A Tx whose statements add their round-trip time to a :class:`Timing`."""

    def __init__(self, tx: Tx, timing: Timing) -> None:
        self._tx = tx
        self._timing = timing

    async def select(self, sql: LiteralString, *args: Any, into: Any = None) -> list[Any]:
        started = time.perf_counter()
        try:
            return await self._tx.select(sql, *args, into=into)
        finally:
            self._timing.add(started)

    async def query_row(self, sql: LiteralString, *args: Any, into: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return await self._tx.query_row(sql, *args, into=into)
        finally:
            self._timing.add(started)

    async def query_value(self, sql: LiteralString, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self._tx.query_value(sql, *args)
        finally:
            self._timing.add(started)


class Timing:
    """Time spent waiting for the database (statement round trips) during one refresh."""

    def __init__(self) -> None:
        self.ms = 0.0
        self.statements = 0

    def add(self, started: float) -> None:
        self.ms += (time.perf_counter() - started) * 1000
        self.statements += 1

    def wrap(self, tx: Tx) -> TimedTx:
        return TimedTx(tx, self)
