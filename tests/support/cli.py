"""The ``harmony`` CLI as a real process on a test's schema (what an operator would type)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from engine.harmonydb import DB


def harmony_argv(db: DB, *args: str) -> list[str]:
    """``harmony --db URL --schema SCHEMA ARGS…``, run with this interpreter."""
    return [sys.executable, "-m", "console", "--db", db.url.dsn, "--schema", db.schema, *args]


async def harmony(db: DB, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``harmony ARGS…`` to completion off the event loop (the test's engines keep
    running meanwhile); from ``/``, so nothing depends on the checkout being the cwd."""
    return await asyncio.to_thread(
        subprocess.run,
        harmony_argv(db, *args),
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
