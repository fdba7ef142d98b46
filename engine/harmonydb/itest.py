"""ITestID: a fresh schema per test, with every migration applied.

Tests with different ids run in parallel on one server without seeing each other's rows, because
every connection of a :class:`DB` has ``search_path`` set to its own ``itest_<id>`` schema and
migrations never schema-qualify names. ``DB.delete_all()`` drops the schema afterwards and refuses
any schema not named ``itest_…``.
"""

from __future__ import annotations

import secrets
from typing import Any

from .db import DB, ITEST_SCHEMA_PREFIX


def new_itest_id() -> str:
    """40 random bits: collisions are negligible (Curio's ``rand.Intn(99999)`` was not)."""
    return secrets.token_hex(5)


async def itest_db(url: str, itest_id: str | None = None, **open_kwargs: Any) -> DB:
    """Open a DB on a brand-new ``itest_<id>`` schema with all migrations applied."""
    schema = f"{ITEST_SCHEMA_PREFIX}{itest_id or new_itest_id()}"
    return await DB.open(url, schema=schema, **open_kwargs)
