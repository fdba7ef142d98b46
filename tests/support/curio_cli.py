"""The ``harmony`` CLI as a real process on a schema, as a given role (what an operator would
type): the password travels in the environment, never in argv (which every user can read); no
``HARMONY_*`` setting nor Lotus node (``FULLNODE_API_INFO``) comes from the developer's shell;
no terminal on stdin unless a test gives one; run from ``/``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from typing import Any

from engine.harmonydb import parse_url

from .schema_dump import without_password

__all__ = ["harmony_env", "run_harmony"]


def harmony_env(url: str) -> tuple[str, dict[str, str]]:
    """The URL for argv without its password, and an environment carrying it."""
    dsn, password = without_password(parse_url(url).dsn)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HARMONY_") and k != "FULLNODE_API_INFO"
    }
    if password is not None:
        env["PGPASSWORD"] = password
    return dsn, env


async def run_harmony(
    url: str,
    schema: str,
    *args: str,
    stdin: Any = subprocess.DEVNULL,
    limit: asyncio.Semaphore | None = None,
) -> subprocess.CompletedProcess[str]:
    """``harmony --db URL --schema SCHEMA ARGS…`` to completion, off the event loop; at most
    as many at once as ``limit`` lets through (the box is shared)."""
    dsn, env = harmony_env(url)
    async with limit or contextlib.nullcontext():
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "console", "--db", dsn, "--schema", schema, *args],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
            env=env,
        )
