"""Console test helpers: the seeded fixture cluster, the app factory the tests use, a plain-text
view of the screen, and a role that may only SELECT."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest

from console import screenshots
from console.app import HarmonyConsole, make_app
from console.fixture import FIXED_NOW, seed
from engine.clock import ManualClock
from engine.harmonydb import DB, itest_db, parse_url
from support.probe import PATIENCE


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No NO_COLOR or user config from the developer's shell reaches a console test."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
async def cluster(db: DB) -> DB:
    """The test schema with the fixed cluster of :mod:`console.fixture`."""
    await seed(db)
    return db


def build_console(db_url: str, schema: str, **kwargs: Any) -> HarmonyConsole:
    """The app as the tests build it: fixed clock, no refresh during the test, no engine."""
    options: dict[str, Any] = {
        "clock": ManualClock(FIXED_NOW),
        "refresh_s": 3600,
        "label": "fixture",
        "animations": False,
        "watchdog": False,
        "theme": "textual-dark",
    }
    options.update(kwargs)
    return make_app(db_url, schema, **options)


async def wait_first_render(app: HarmonyConsole, pilot: Any = None) -> None:
    await asyncio.wait_for(app.first_render.wait(), 20)
    if pilot is not None:
        await pilot.pause()


def plain_screen(app: HarmonyConsole) -> str:
    """What the terminal shows, as plain text."""
    return screenshots.screen_text(app)


@pytest.fixture
async def select_only_role(pg_url: str, cluster: DB) -> AsyncIterator[str]:
    """A login role with USAGE on the test schema and SELECT on its tables, nothing else;
    yields a URL that connects as it."""
    role = f"harmony_ro_{secrets.token_hex(4)}"
    password = secrets.token_hex(8)
    admin = await asyncpg.connect(parse_url(pg_url).dsn)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        await admin.execute(f'GRANT USAGE ON SCHEMA "{cluster.schema}" TO {role}')
        await admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{cluster.schema}" TO {role}')
        database = await admin.fetchval("SELECT current_database()")
        await admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
        parsed = parse_url(pg_url)
        host_part = parsed.dsn.split("@", 1)[-1]
        yield f"postgresql://{role}:{password}@{host_part}"
    finally:
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


@pytest.fixture
def seeded_schema(pg_url: str) -> Iterator[tuple[str, str]]:
    """For synchronous (snapshot) tests: a fresh seeded schema as (dsn, schema)."""

    async def create() -> tuple[str, str, DB]:
        db = await itest_db(pg_url)
        await seed(db)
        await db.close()
        return db.url.dsn, db.schema, db

    dsn, schema, _db = asyncio.run(create())
    try:
        yield dsn, schema
    finally:

        async def drop() -> None:
            again = await DB.open(dsn, schema=schema, migrate=False)
            await again.delete_all()

        asyncio.run(drop())


@pytest.fixture
def console_app() -> Any:
    """``console_app(url, schema, **options)``: the app with the test defaults."""
    return build_console


@pytest.fixture
def first_render() -> Any:
    """``await first_render(app, pilot)``: until the first snapshot is on screen."""
    return wait_first_render


@pytest.fixture
def screen_text() -> Any:
    """``screen_text(app)``: the terminal's content as plain text."""
    return plain_screen


async def wait_text(app: HarmonyConsole, pilot: Any, *needles: str, within: float = 5.0) -> str:
    """Pause until the screen shows every needle; return the screen text."""
    deadline = asyncio.get_running_loop().time() + within * PATIENCE
    while True:
        await pilot.pause()
        text = plain_screen(app)
        if all(n in text for n in needles):
            return text
        if asyncio.get_running_loop().time() > deadline:
            missing = [n for n in needles if n not in text]
            raise AssertionError(f"screen never showed {missing!r}:\n{text}")
        await asyncio.sleep(0.05)


@pytest.fixture
def shows() -> Any:
    """``await shows(app, pilot, "text", ...)``: wait until the screen shows the texts."""
    return wait_text


async def wait_refreshed(app: HarmonyConsole, pilot: Any) -> None:
    """Ask for a refresh and pause until its snapshot has been read and drawn."""
    before = app.snapshot
    app.refresh_now()
    deadline = asyncio.get_running_loop().time() + 10 * PATIENCE
    while app.snapshot is before:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("no refresh came")
        await pilot.pause()
        await asyncio.sleep(0.05)
    await pilot.pause()


@pytest.fixture
def refreshed() -> Any:
    """``await refreshed(app, pilot)``: a refresh asked for, read and drawn."""
    return wait_refreshed
