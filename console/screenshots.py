"""SVG screenshots of every pane from the seeded fixture cluster.

Shared by the snapshot tests (``tests/console/test_snapshots.py``) and ``harmony screenshots``:
both build the app with :func:`fixture_app` (fixed clock, no engine, no refresh during the
shot) and bring it to the shown state with :func:`settle`, so the files in ``screenshots/`` are
the screens the tests pin.

:data:`CURIO_SHOTS` are the same views of a Curio cluster (``screenshots/curio-*.svg``), drawn
by :func:`write_curio_screenshots` from a Curio schema seeded as of :data:`FIXED_NOW` (the test
suite's ``curio_cluster(at=FIXED_NOW)``: harmony never writes a Curio schema itself) with no
Lotus node, as ``tests/console/test_curio_console_snapshots.py`` pins them.
"""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.pilot import Pilot

from engine.clock import ManualClock
from engine.harmonydb import itest_db

from .app import HarmonyConsole, make_app
from .fixture import FIXED_NOW, seed

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = [
    "CURIO_SHOTS",
    "SHOTS",
    "Shot",
    "fixture_app",
    "render_svg",
    "screen_text",
    "settle",
    "write_curio_screenshots",
    "write_screenshots",
]


@dataclass(frozen=True)
class Shot:
    name: str
    #: keys pressed after the first snapshot is on screen
    keys: tuple[str, ...]
    #: text that must be on screen before the shot is taken
    ready: str
    title: str
    #: the terminal it is drawn at by ``harmony screenshots`` (None: the default size); the
    #: wide layout's shots are drawn at 200x50
    size: tuple[int, int] | None = None


SHOTS = (
    Shot("machines", (), "7 machines", "1 Machines and resources"),
    Shot("tasks", ("2",), "8 pending", "2 Tasks"),
    Shot("pipeline", ("3",), "13 in progress", "3 Sealing pipeline"),
    Shot("storage", ("4",), "4 paths", "4 Storage paths"),
    Shot("post", ("5",), "-00:13:00", "5 PoSt deadlines"),
    Shot("jobs", ("6",), "6 jobs", "6 Jobs: what runs where"),
    Shot("miners", ("7",), "Miner: t01000", "7 Miners"),
    Shot("events", ("8",), "events:", "8 Events"),
    Shot("alerts", ("9",), "3 open alerts", "9 Alerts"),
    Shot("sealing-history", ("3", "h"), "sealing history: newest", "3 Sealing history"),
    Shot("drain-dialog", ("d",), "WARNING: PoSt deadlines", "Drain dialog"),
    Shot("machine-detail", ("enter",), "Left (est.)", "Machine detail"),
    Shot("task-detail", ("6", "enter"), "h: its attempts", "Task detail (enter on a job)"),
    Shot("storage-detail", ("4", "enter"), "esc closes", "Storage path detail"),
    Shot("wide-machines", ("tab",), "6 jobs running", "Machines | jobs, 200x50", (200, 50)),
    Shot("wide-tasks", ("2",), "minutes before now", "Queues | history chart, 200x50", (200, 50)),
    Shot("wide-pipeline", ("3",), "13 in progress", "Pipeline | problems, 200x50", (200, 50)),
    Shot("wide-post", ("5",), "-00:13:00", "Miners' countdowns | deadlines, 200x50", (200, 50)),
)


#: The Curio cluster's views (its machines: gpu-1 cordoned, post-1 asked to restart, seal-1).
CURIO_SHOTS = (
    Shot("machines", (), "3 machines", "1 Machines (Curio)"),
    Shot("tasks", ("2",), "3 pending", "2 Tasks (Curio)"),
    Shot("pipeline", ("3",), "4 in progress", "3 Sealing pipeline (Curio)"),
    Shot("storage", ("4",), "2 paths", "4 Storage paths (Curio)"),
    Shot("post", ("5",), "not known", "5 PoSt deadlines (Curio, no Lotus node)"),
    Shot("machine-detail", ("enter",), "layers:", "Machine detail (Curio)"),
    Shot("drain-dialog", ("down", "down", "d"), "Curio has no drain", "Drain on Curio: a cordon"),
    Shot("restart-dialog", ("R",), "status 100", "Restart a cordoned Curio machine"),
    Shot("jobs", ("6",), "3 jobs", "6 Jobs (Curio)"),
    Shot("miners", ("7",), "Miner: f01000", "7 Miners (Curio, no Lotus node)"),
    Shot("events", ("8",), "events:", "8 Events (Curio)"),
)


def fixture_app(dsn: str, schema: str, *, read_only: bool = False) -> HarmonyConsole:
    """The console on the fixture cluster (ours, or a Curio one), frozen at FIXED_NOW."""
    return make_app(
        dsn,
        schema,
        clock=ManualClock(FIXED_NOW),
        refresh_s=3600,
        label="fixture",
        theme="textual-dark",
        animations=False,
        watchdog=False,
        migrate=False,
        read_only=read_only,
    )


_SVG_TEXT = re.compile(
    r'<text [^>]*?x="(?P<x>[0-9.]+)"[^>]*?textLength="(?P<length>[0-9.]+)"'
    r'[^>]*?clip-path="url\(#[^)]*-line-(?P<line>[0-9]+)\)"[^>]*>(?P<text>.*?)</text>'
)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows, as plain text (one line per row).

    Textual has no public API for a screen's text (the compositor that has it is private, and
    no upstream issue asks for one that we found); this reads it back from the public SVG
    export (``App.export_screenshot``), where every run of text is placed by its column.
    """
    width, height = app.size
    rows = [[" "] * width for _ in range(height)]
    for match in _SVG_TEXT.finditer(app.export_screenshot()):
        text = html.unescape(match["text"]).replace("\xa0", " ")
        if not text:
            continue
        char_width = float(match["length"]) / len(text)
        column, line = round(float(match["x"]) / char_width), int(match["line"])
        if line < height:
            row = rows[line]
            for i, char in enumerate(text[: max(width - column, 0)]):
                row[column + i] = char
    return "\n".join("".join(row).rstrip() for row in rows)


async def settle(pilot: Pilot[int], keys: tuple[str, ...] = (), ready: str = "") -> None:
    """Wait for the first snapshot, press ``keys``, then wait until ``ready`` is on screen."""
    app = pilot.app
    assert isinstance(app, HarmonyConsole)
    await asyncio.wait_for(app.first_render.wait(), 30)
    await pilot.pause()
    for key in keys:
        await pilot.press(key)
        await pilot.pause()
    for _ in range(200):
        await pilot.pause()
        if not ready or ready in screen_text(app):
            break
        await asyncio.sleep(0.02)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def render_svg(app: HarmonyConsole, shot: Shot, size: tuple[int, int]) -> str:
    """Run ``app`` headless at ``size``, bring it to ``shot`` and export the screen."""
    svg: list[str] = []

    async def auto_pilot(pilot: Pilot[int]) -> None:
        await settle(pilot, shot.keys, shot.ready)
        svg.append(app.export_screenshot(title=f"Harmony Console - {shot.title}"))
        app.exit()

    await app.run_async(headless=True, size=size, auto_pilot=auto_pilot)
    if not svg:
        raise RuntimeError(f"screenshot {shot.name} was not taken")
    return svg[0]


async def write_screenshots(url: str, out: Path, size: tuple[int, int] = (120, 34)) -> list[Path]:
    """Seed a scratch schema, write ``<out>/<pane>.svg`` for every shot, drop the schema."""
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    db: DB = await itest_db(url)
    written = []
    try:
        await seed(db)
        for shot in SHOTS:
            app = fixture_app(db.url.dsn, db.schema)
            svg = await render_svg(app, shot, shot.size or size)
            path = out / f"{shot.name}.svg"
            await asyncio.to_thread(path.write_text, svg, encoding="utf-8")
            written.append(path)
    finally:
        await db.delete_all()
    return written


async def write_curio_screenshots(
    dsn: str, schema: str, out: Path, size: tuple[int, int] = (120, 34)
) -> list[Path]:
    """Write ``<out>/curio-<view>.svg`` for every :data:`CURIO_SHOTS` view of the Curio
    cluster in ``schema`` (seeded as of FIXED_NOW by the caller; only read here). Without a
    Lotus node: ``FULLNODE_API_INFO`` is the caller's to unset."""
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    written = []
    for shot in CURIO_SHOTS:
        svg = await render_svg(fixture_app(dsn, schema), shot, shot.size or size)
        path = out / f"curio-{shot.name}.svg"
        await asyncio.to_thread(path.write_text, svg, encoding="utf-8")
        written.append(path)
    return written
