"""SVG snapshots of the Jobs (6) and Miners (7) panes at 80x24 and 160x48, on the fixture
cluster with the clock frozen at its instant, and in Curio mode (no Lotus node).

Baselines: ``__snapshots__/test_i13_jobs_miners_snapshots/`` (made by the lead with
``--snapshot-update`` once every pane of this round is in; until then these tests fail).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from functools import partial
from typing import Any

import asyncpg
import pytest

from console.fixture import FIXED_NOW
from console.screenshots import Shot, fixture_app, settle
from engine.harmonydb import parse_url
from support.curio_schema import CurioCluster, create_curio_schema, seed_curio, shift_to

SHOTS = {
    "jobs": Shot("jobs", ("6",), "6 jobs", "6 Jobs"),
    "jobs-sorted": Shot("jobs-sorted", ("6", *["greater_than_sign"] * 5, "S"), "6 jobs", "6 Jobs"),
    "miners": Shot("miners", ("7",), "Miner: t01000", "7 Miners"),
}
CURIO_SHOTS = {
    "jobs": Shot("jobs", ("6",), "3 jobs", "6 Jobs (Curio)"),
    "miners": Shot("miners", ("7",), "Miner: f01000", "7 Miners (Curio, no Lotus node)"),
}


def _compare(snap_compare: Any, dsn: str, schema: str, shot: Shot, size: tuple[int, int]) -> bool:
    return bool(
        snap_compare(
            fixture_app(dsn, schema),
            terminal_size=size,
            run_before=partial(settle, keys=shot.keys, ready=shot.ready),
        )
    )


@pytest.mark.parametrize("name", list(SHOTS))
@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_pane(
    snap_compare: Any, seeded_schema: tuple[str, str], name: str, size: tuple[int, int]
) -> None:
    assert _compare(snap_compare, *seeded_schema, SHOTS[name], size)


@pytest.fixture
def curio_fixed(pg_url: str) -> Iterator[CurioCluster]:
    """A Curio schema seeded as of FIXED_NOW, built and dropped in loops of their own (the
    snapshot tests are synchronous), as ``test_curio_console.py`` makes its own."""
    schema = f"itest_curio_{secrets.token_hex(5)}"

    async def create() -> CurioCluster:
        conn = await asyncpg.connect(parse_url(pg_url).dsn)
        try:
            async with conn.transaction():
                await create_curio_schema(conn, schema)
                seeded = await seed_curio(conn)
                await shift_to(conn, schema, FIXED_NOW)
        finally:
            await conn.close()
        return CurioCluster(url=pg_url, schema=schema, seed=seeded)

    async def drop() -> None:
        conn = await asyncpg.connect(parse_url(pg_url).dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    try:
        yield asyncio.run(create())
    finally:
        asyncio.run(drop())


@pytest.mark.parametrize("name", list(CURIO_SHOTS))
def test_curio_pane_at_80x24(snap_compare: Any, curio_fixed: CurioCluster, name: str) -> None:
    assert _compare(snap_compare, curio_fixed.url, curio_fixed.schema, CURIO_SHOTS[name], (80, 24))
