"""Storage test helpers: real directories attached as paths, live machines owning real tasks."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.harmonydb import DB
from engine.storage import AttachedPath, StorageHeartbeat, attach

HOST = "host-a"


@dataclass
class Machine:
    """A harmony_machines row standing for one live process."""

    db: DB
    id: int

    async def new_task(self, name: str = "SDR") -> int:
        """A task owned (claimed) by this machine."""
        return await self.db.query_value(
            "INSERT INTO harmony_task (name, posted_time, added_by, owner_id, attempt) "
            "VALUES ($1, now(), $2, $2, 1) RETURNING id",
            name,
            self.id,
        )

    async def die(self) -> None:
        """What the engine does to a machine it declares dead: its session is cleared."""
        await self.db.exec("UPDATE harmony_machines SET session = NULL WHERE id = $1", self.id)


@pytest.fixture
def machine_factory(db: DB) -> Callable[[str], Awaitable[Machine]]:
    async def make(hostname: str = HOST) -> Machine:
        mid = await db.query_value(
            "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu, session, hostname) "
            "VALUES ($1, 4, 8000000000, 0, $2, $3) RETURNING id",
            f"{hostname}:{secrets.randbelow(60000) + 1024}",
            secrets.token_hex(8),
            hostname,
        )
        return Machine(db, mid)

    return make


@pytest.fixture
async def machine(machine_factory: Callable[[str], Awaitable[Machine]]) -> Machine:
    return await machine_factory(HOST)


@pytest.fixture
def attach_dir(db: DB, tmp_path: Path) -> Callable[..., Awaitable[AttachedPath]]:
    """Attach a fresh directory under tmp_path (named ``name``) and heartbeat it once."""

    async def make(
        name: str, *, host: str = HOST, beat: bool = True, **settings: Any
    ) -> AttachedPath:
        directory = tmp_path / name
        directory.mkdir(parents=True, exist_ok=True)
        attached = await attach(db, directory, host=host, **settings)
        if beat:
            await StorageHeartbeat(db, host).beat_once()
        return attached

    return make


def _write_file(path: Path, size: int) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = secrets.token_bytes(4096)
    data = (block * (size // len(block) + 1))[:size]
    path.write_bytes(data)
    return data


@pytest.fixture
def write_file() -> Callable[[Path, int], bytes]:
    """Write ``size`` random-looking bytes to a path (parents created); returns the bytes."""
    return _write_file
