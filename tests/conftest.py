"""Suite-wide fixtures: one real PostgreSQL per run, one fresh schema per test.

``HARMONY_TEST_DB_URL`` points the suite at an external server; otherwise one embedded server is
started for the whole run (in a temporary data directory, stopped and removed at the end).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from engine.harmonydb import DB, itest_db, start_embedded


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of the server every test uses."""
    external = os.environ.get("HARMONY_TEST_DB_URL")
    if external:
        yield external
        return
    # mkdtemp makes a 0700 directory; the embedded server user (as root) must be able to
    # enter it, and it is ours, so open it up.
    root = Path(tempfile.mkdtemp(prefix="harmony-test-"))
    root.chmod(0o755)
    server = start_embedded(root)
    try:
        yield server.uri
    finally:
        server.release()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[DB]:
    """A DB on a brand-new ``itest_<id>`` schema with every migration applied."""
    database = await itest_db(pg_url)
    try:
        yield database
    finally:
        await database.delete_all()
