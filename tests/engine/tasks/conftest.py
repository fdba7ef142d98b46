"""The tasks suite's devnet (:mod:`support.devnet`): a chain on a manual clock, miners, a seal
and a store path on this host, engines running the workload's task types."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.harmonydb import DB
from engine.harmonytask import ProcessPool
from support.devnet import (
    Devnet,
    open_devnet,
    pool,  # noqa: F401  (the fixture)
)


@pytest.fixture
async def devnet(db: DB, engines, pool: ProcessPool, tmp_path: Path) -> Devnet:  # noqa: F811
    return await open_devnet(db, engines, pool, tmp_path)
