"""The storage pane's Groups column: a path's groups, then (after ``→``) the groups its
sectors may move to (Lotus ``AllowTo``), as attached."""

from __future__ import annotations

from pathlib import Path

from console.panes.storage import groups_cell
from engine.harmonydb import DB
from engine.storage import attach, list_paths

HOST = "host-a"


async def test_the_groups_cell_shows_groups_and_allow_to(db: DB, tmp_path: Path) -> None:
    made = {}
    for name, settings in {
        "seal": {"can_seal": True, "groups": ["seal-a"], "allow_to": ["rack-a", "cold"]},
        "store": {"can_store": True, "groups": ["rack-a", "cold"]},
        "loose": {"can_store": True, "allow_to": ["tape"]},
        "plain": {"can_store": True},
    }.items():
        (tmp_path / name).mkdir()
        made[name] = (await attach(db, tmp_path / name, host=HOST, **settings)).storage_id
    cells = {info.storage_id: groups_cell(info) for info in await list_paths(db, HOST)}
    shown = {name: cells[sid].plain for name, sid in made.items()}
    assert shown == {
        "seal": "seal-a →rack-a,cold",
        "store": "rack-a, cold",
        "loose": "- →tape",
        "plain": "-",
    }
    assert cells[made["plain"]].style == "dim"
