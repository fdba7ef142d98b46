"""The embedded server's own settings (engine/harmonydb/embedded.py's SERVER_SETTINGS): set at
start where PostgreSQL's built-in value still rules, never over an operator's choice. Run on the
suite's embedded server; an external one (HARMONY_TEST_DB_URL) is not ours to configure."""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg
import pytest

from engine.harmonydb.embedded import SERVER_SETTINGS, apply_server_settings

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("HARMONY_TEST_DB_URL")),
    reason="the settings are applied to the embedded server only",
)

#: a setting no test depends on (it only decides which autovacuum runs the server logs)
PROBE = "log_autovacuum_min_duration"


async def _setting(conn: asyncpg.Connection, name: str) -> tuple[str, str]:
    row = await conn.fetchrow("SELECT setting, source FROM pg_settings WHERE name = $1", name)
    assert row is not None
    return str(row["setting"]), str(row["source"])


async def _reloaded(conn: asyncpg.Connection, name: str, setting: str) -> tuple[str, str]:
    """The value once this session has taken the reload (a SIGHUP is asynchronous)."""
    deadline = time.monotonic() + 10
    while True:
        value = await _setting(conn, name)
        if value[0] == setting or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def test_the_embedded_server_runs_with_the_queue_settings(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        for name, value in SERVER_SETTINGS.items():
            assert await conn.fetchval("SELECT current_setting($1)", name) == value
            assert (await _setting(conn, name))[1] == "configuration file"
    finally:
        await conn.close()


async def test_only_settings_still_at_their_built_in_value_are_set(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        original = await _setting(conn, PROBE)
        assert original[1] == "default"
        naptime = await _setting(conn, "autovacuum_naptime")
        try:
            wanted = {PROBE: "123s", "autovacuum_naptime": "1s"}
            # autovacuum_naptime was set at start (as an operator's ALTER SYSTEM would be)
            assert await apply_server_settings(conn, wanted) == [PROBE]
            assert await _reloaded(conn, PROBE, "123000") == ("123000", "configuration file")
            assert await _setting(conn, "autovacuum_naptime") == naptime
            # the next start finds it set and leaves it (an operator may have changed it since)
            assert await apply_server_settings(conn, {PROBE: "7s"}) == []
            assert (await _setting(conn, PROBE))[0] == "123000"
        finally:
            await conn.execute(f"ALTER SYSTEM RESET {PROBE}")
            await conn.execute("SELECT pg_reload_conf()")
        assert await _reloaded(conn, PROBE, original[0]) == original
    finally:
        await conn.close()
