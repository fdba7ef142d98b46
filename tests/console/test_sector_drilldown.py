"""The sector drill-down and "why it waits" (issue 16) with Pilot on the fixture cluster: the
database's record beside the chain's with a mismatch marked, the files' paths, the stage
attempts, why a pending stage task waits (the same line ``harmony task list --why`` prints and
the task view shows), and resuming a failed sector behind a dialog, refused read-only.

The fixture's machine node-a runs SDR, but its one seal path last reported long before the
database's clock: SDR task 201 (sector t01000 1001) waits for storage.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from textual.widgets import Static

from console.cli import build_parser
from console.panes.base import Pane
from console.screens.confirm_sector import SectorActionScreen
from console.screens.detail import DetailScreen
from console.screens.sector import SectorScreen
from console.screens.task import TaskScreen
from console.screenshots import fixture_app, settle
from engine.harmonydb import DB
from engine.snapshot.waits import explain_tasks
from engine.snapshot.why import why_waiting
from support.curio_read import curio_session
from support.curio_schema import CurioCluster
from support.probe import PATIENCE

SEAL_PATH = "8e7c0d1a-2b4f-4c61-9a7e-0f5d3c2b1a01"
FAILED_1010 = "SELECT failed FROM sectors_sdr_pipeline WHERE sp_id = 1000 AND sector_number = 1010"


def body_text(app: Any) -> str:
    """The open detail view's text, unwrapped (a long line wraps on screen)."""
    return str(app.screen.query_one("#detail-body", Static).content)


async def until_body(app: Any, pilot: Any, needle: str, within: float = 10.0) -> str:
    """Pause until the open detail view's text has ``needle`` (bounded)."""
    deadline = asyncio.get_running_loop().time() + within * PATIENCE
    while True:
        await pilot.pause()
        if isinstance(app.screen, DetailScreen) and needle in (text := body_text(app)):
            return text
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the detail view never showed {needle!r}")
        await asyncio.sleep(0.05)


async def cli(db: Any, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """``harmony --db … --schema … ARGV`` in this process: exit status and stdout (``db``: our
    DB, or a Curio-shaped cluster)."""
    url = db.url.dsn if isinstance(db, DB) else db.url
    args = build_parser().parse_args(["--db", url, "--schema", db.schema, *argv])
    code = int(await args.run(args) or 0)
    return code, capsys.readouterr().out


async def test_sector_view_why_and_resume(
    cluster: DB,
    console_app: Any,
    first_render: Any,
    shows: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = cluster
    # the database's CommR of sector 1004 disagrees with the chain's precommitment
    await db.exec(
        "UPDATE sectors_sdr_pipeline SET tree_r_cid = 'bagboea4b5abc1004-local' "
        "WHERE sp_id = 1000 AND sector_number = 1004"
    )
    app = console_app(db.url.dsn, db.schema)
    async with app.run_test(size=(160, 60)) as pilot:
        await first_render(app, pilot)
        app.post_message(Pane.DetailRequested("sector", "1000:1004"))
        text = await shows(app, pilot, "database vs chain", "MISMATCH", "files")
        assert isinstance(app.screen, SectorScreen)
        lines = text.splitlines()
        (state,) = [line for line in lines if "state  " in line and "precommit sent" in line]
        assert "precommitted" in state and "MISMATCH" not in state  # its message is in flight
        (commr,) = [line for line in lines if "CommR (sealed CID)" in line]
        assert "bagboea4b5abc1004-local" in commr and "bagboea4b5abc1004 " in commr
        assert "MISMATCH" in commr
        (spot,) = [line for line in lines if SEAL_PATH in line]
        assert "unsealed, sealed, cache" in spot and "(seal)" in spot and "remote" in spot
        assert "file://node-a/mnt/nvme1" in text
        assert "resume: not offered (it has not failed)" in text
        await pilot.press("escape")

        # sector 1001 waits for SDR task 201: the view, the task view, the CLI say the same
        why = (await explain_tasks(db, [201]))[201]
        assert why.kind == "storage"
        assert why.text.startswith(
            "no storage path can hold its files: sector t01000-1001 (32 GiB) needs "
        )
        app.post_message(Pane.DetailRequested("sector", "1000:1001"))
        text = await shows(app, pilot, "why it waits", "stage attempts")
        assert f"  SDR task 201: {why.text}\n" in body_text(app)
        await pilot.press("escape")
        app.post_message(Pane.DetailRequested("job", "201"))
        text = await shows(app, pilot, "waits")
        assert isinstance(app.screen, TaskScreen)
        assert f"waits    {why.text}\n" in body_text(app)
        await pilot.press("escape")
        # a running sealing task's view leads to its sector's: s
        app.post_message(Pane.DetailRequested("job", "101"))
        await shows(app, pilot, "s: its sector")
        await pilot.press("s")
        await shows(app, pilot, "Sector t01000 1000", "database vs chain")
        assert isinstance(app.screen, SectorScreen) and app.screen.sector == 1000
        await pilot.press("escape")

        # sector 1010 failed its PreCommit check before the message was sent: r asks, Cancel
        # changes nothing, Resume restarts it from SDR (the engine's resume_sector)
        app.post_message(Pane.DetailRequested("sector", "1000:1010"))
        await shows(app, pilot, "r resume the failed stage (asks first)")
        await pilot.press("r")
        await shows(app, pilot, "Resume sector t01000 1010?")
        assert isinstance(app.screen, SectorActionScreen)
        await pilot.press("escape")  # Cancel
        await shows(app, pilot, "r resume the failed stage")
        assert await db.query_value(FAILED_1010)
        await pilot.press("r")
        await shows(app, pilot, "Resume sector t01000 1010?")
        await pilot.click("#confirm")
        # the view follows: no longer failed, so nothing to resume
        await shows(app, pilot, "resume: not offered (it has not failed)")
        assert not await db.query_value(FAILED_1010)
        said = [n.message for n in app._notifications]
        assert any("sector 1010 of t01000 restarts from SDR with a new ticket" in m for m in said)

    # the CLI prints the same line (in this process, as the command runs)
    code, out = await cli(db, capsys, "task", "list", "--why", "--json")
    assert code == 0
    by_id = {t["id"]: t for t in json.loads(out)}
    assert by_id[201]["why"] == why.text
    assert by_id[101]["why"] is None  # running: nothing to explain
    code, out = await cli(db, capsys, "task", "list", "--why", "--type", "SDR")
    table = out.splitlines()
    assert table[0].split() == [
        "ID",
        "TYPE",
        "STATE",
        "MACHINE",
        "POSTED",
        "RETRIES",
        "ERROR",
        "WHY",
    ]
    (row,) = [line for line in table if line.startswith("201 ")]
    assert row.endswith(why.text)
    # without --why the output scripts read is unchanged
    code, out = await cli(db, capsys, "task", "list", "--type", "SDR")
    assert out.splitlines()[0].split()[-1] == "ERROR"


async def test_read_only_refuses_the_resume(
    cluster: DB, select_only_role: str, console_app: Any, first_render: Any
) -> None:
    """Under a role that may only SELECT (``--read-only``): the whole drill-down is read, the
    resume is refused."""
    db = cluster
    app = console_app(select_only_role, db.schema, read_only=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await first_render(app, pilot)
        app.post_message(Pane.DetailRequested("sector", "1000:1010"))
        text = await until_body(
            app, pilot, "resume the failed stage: refused (the console is read-only)"
        )
        assert "database vs chain" in text and "not read" not in text
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, SectorScreen)  # no dialog
        said = [n.message for n in app._notifications]
        assert said == ["resume refused: the console is read-only (--read-only)"]
        app.post_message(Pane.DetailRequested("sector", "1000:1001"))
        await until_body(app, pilot, "why it waits")
    assert await db.query_value(FAILED_1010)


async def test_curio_task_list_why(
    curio_db: CurioCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a Curio cluster ``--why`` adds Curio's answers to Curio's own listing."""
    seed = curio_db.seed
    assert seed is not None
    async with curio_session(curio_db, read_only=True) as db:
        why = {i: w.text for i, w in (await why_waiting(db, seed.pending)).items()}
    code, out = await cli(curio_db, capsys, "task", "list", "--why", "--json")
    assert code == 0
    items = {i["id"]: i for i in json.loads(out)}
    assert {i: items[i]["why"] for i in seed.pending} == why
    assert all(items[i]["why"] is None for i in seed.running)
    code, out = await cli(curio_db, capsys, "task", "list", "--why")
    lines = out.splitlines()
    assert lines[0].split()[-1] == "WHY"
    for task_id, text in why.items():
        (row,) = [line for line in lines if line.split() and line.split()[0] == str(task_id)]
        assert row.endswith(f"  {text}")
    assert lines[-1].startswith("Curio queue: ")  # Curio's summary line stays


def test_sector_drilldown_snapshot(snap_compare: Any, seeded_schema: tuple[str, str]) -> None:
    """The drill-down of sector t01000 1001 (its SDR task waits for a seal path) at 160x48.
    Its baseline is made with ``--snapshot-update`` like every other view's."""

    async def open_sector(pilot: Any) -> None:
        await settle(pilot)
        pilot.app.post_message(Pane.DetailRequested("sector", "1000:1001"))
        await settle(pilot, ready="resume: not offered")

    app = fixture_app(*seeded_schema)
    assert snap_compare(app, terminal_size=(160, 48), run_before=open_sector)
