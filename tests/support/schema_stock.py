"""Migrated ``itest_`` schemas made ahead of the tests that take them.

Every test of the suite gets a brand-new schema with every migration applied (ITestID). Making
one is a few hundred catalog writes, about a third of a second on a 2-core machine, and the
suite makes one per test: minutes per run, spent while the previous test mostly waited on
timers and the network. A stock makes the next schemas in a thread of its own while a test runs;
a test takes a finished one and opens it (the migrations find nothing pending). The schemas are
made by the product's own :func:`~engine.harmonydb.itest.itest_db`, so what a test gets is
exactly what it got before, only sooner.

A schema the stock could not make (the server was away) is not a test's failure: the maker
tries again, and a test that finds no schema ready within a while makes its own, as before.
Schemas left in stock when the run ends are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading

import asyncpg

from engine.harmonydb import itest_db
from engine.harmonydb.db import ITEST_SCHEMA_PREFIX
from engine.harmonydb.itest import new_itest_id

__all__ = ["SchemaStock"]


class SchemaStock:
    """Keeps ``ahead`` migrated schemas ready on ``url``; :meth:`take` hands one out."""

    def __init__(self, url: str, *, ahead: int = 2) -> None:
        self.url = url
        self._ready: queue.Queue[str] = queue.Queue()
        self._wanted = threading.Semaphore(ahead)
        self._stopping = threading.Event()
        self._made: set[str] = set()
        self._taken: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="schema-stock", daemon=True)
        self._thread.start()

    def take(self, timeout: float = 30.0) -> str | None:
        """The name of a migrated schema no test has had, or None when none was made within
        ``timeout`` seconds (blocking: call it from a thread)."""
        try:
            got = self._ready.get(timeout=timeout)
        except queue.Empty:
            return None
        self._wanted.release()
        with self._lock:
            self._taken.add(got)
        return got

    def close(self) -> None:
        """Stop making schemas and drop the ones no test took."""
        self._stopping.set()
        self._wanted.release()
        self._thread.join(timeout=60)
        with self._lock:
            left = self._made - self._taken
        if left:
            asyncio.run(self._drop(left))

    # ------------------------------------------------------------------ the maker thread

    def _run(self) -> None:
        asyncio.run(self._make_forever())

    async def _make_forever(self) -> None:
        while True:
            await asyncio.to_thread(self._wanted.acquire)
            if self._stopping.is_set():
                return
            itest_id = new_itest_id()
            with self._lock:  # dropped at close unless taken, even if half made
                self._made.add(ITEST_SCHEMA_PREFIX + itest_id)
            try:
                db = await itest_db(self.url, itest_id, min_size=1, max_size=1)
            except Exception:
                # the server is away (a test restarting it?): try again shortly
                self._wanted.release()
                await asyncio.sleep(1.0)
                continue
            await db.close()
            self._ready.put(db.schema)

    async def _drop(self, schemas: set[str]) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            for schema in schemas:
                with contextlib.suppress(asyncpg.PostgresError):
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
