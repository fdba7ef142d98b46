"""A machine that starts again still cordoned or drained says so in its log, at its first
heartbeat, instead of looking idle for no reason."""

from __future__ import annotations

import logging

import pytest

from engine.harmonydb import DB
from engine.harmonytask import cordon, drain
from support.probe import Probe


@pytest.mark.parametrize("flag", ["cordoned", "drained"])
async def test_a_restarted_machine_says_it_is_still_cordoned_or_drained(
    probe_db: DB, engines, caplog: pytest.LogCaptureFixture, flag: str
) -> None:
    first = await engines([Probe(probe_db, "w")], "w")
    await (cordon if flag == "cordoned" else drain)(probe_db, first.machine_id)
    await first.graceful_terminate()
    caplog.set_level(logging.WARNING)
    caplog.clear()
    again = await engines([Probe(probe_db, "w")], "w")
    await again.beat()
    said = [r.getMessage() for r in caplog.records if f"is {flag}" in r.getMessage()]
    assert len(said) == 1 and "harmony machine uncordon w" in said[0]
    assert not again.schedulable
    await again.beat()  # said once, not at every heartbeat
    assert len([r for r in caplog.records if f"is {flag}" in r.getMessage()]) == 1
