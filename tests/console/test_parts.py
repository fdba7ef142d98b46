"""The app's parts on their own: this machine's engine host, the status line, the admin
actions' wording; no database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from textual.app import App, ComposeResult

from console import actions
from console.actions import ActionFailed, AdminAction, perform
from console.engine_host import EngineHost
from console.feed import FeedState
from console.widgets.status_line import StatusLine
from engine.clock import ManualClock
from engine.harmonytask import EngineError

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeEngine:
    def __init__(self) -> None:
        self.state = "active"
        self.tasks: list[object] = []
        self.exit_code: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def running_tasks(self) -> list[object]:
        return self.tasks


class FakeNode:
    def __init__(self) -> None:
        self.engine = FakeEngine()
        self.stopped: list[str] = []

    async def graceful_terminate(self) -> None:
        self.stopped.append("drain")

    async def stop_now(self) -> None:
        self.stopped.append("now")


async def test_engine_host_describes_starts_and_stops() -> None:
    assert EngineHost(None).describe() == "" and not EngineHost(None).present
    node = FakeNode()

    async def factory(url: str) -> Any:
        assert url == "postgres://x"
        return node

    host = EngineHost(factory)
    assert host.present and host.node is None and host.running == 0
    await host.start("postgres://x")
    node.engine.tasks = [object(), object()]
    assert host.describe() == "engine active, 2 running"
    node.engine.exit_code.set_result(100)
    assert await host.exited() == 100
    await host.stop("now")
    assert node.stopped == ["now"]
    assert host.describe() == "stopping"


async def test_engine_host_says_when_the_engine_did_not_start() -> None:
    async def factory(url: str) -> Any:
        raise RuntimeError("no")

    host = EngineHost(factory)
    with pytest.raises(RuntimeError):
        await host.start("postgres://x")
    assert host.describe() == "engine failed"


class LineApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusLine("fixture", read_only=True, id="status")


async def test_status_line_follows_its_attributes() -> None:
    clock = ManualClock(NOW)
    app = LineApp()
    async with app.run_test(size=(100, 5)) as pilot:
        line = app.query_one(StatusLine)
        line.now = clock.now()
        await pilot.pause()
        text = line.render().plain
        assert "Harmony  fixture" in text and "connecting..." in text and "read-only" in text
        line.feed_state = FeedState(connected=True, live=True, label="s @ h")
        line.snapshot = SimpleNamespace(taken_at=clock.now())  # type: ignore[assignment]
        clock.advance(5)
        line.now = clock.now()
        text = line.render().plain
        assert "s @ h" in text and "live 2s" in text and "updated 5s ago" in text
        assert text.endswith("12:00:05 UTC") and len(text) == 100
        line.paused = True
        line.engine = "engine active, 1 running"
        text = line.render().plain
        assert "PAUSED" in text and "live" not in text and "engine active, 1 running" in text
        line.feed_state = FeedState(connected=True, error="connection lost")
        assert "error: connection lost" in line.render().plain


async def test_actions_say_what_happened_or_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    async def restarted(db: Any, task_id: int) -> str:
        return "SDR"

    async def refused(db: Any, machine_id: int) -> None:
        raise EngineError(f"machine {machine_id} not found")

    monkeypatch.setattr(actions, "restart_task", restarted)
    monkeypatch.setitem(actions.MACHINE_ACTIONS, "drain", refused)
    db: Any = object()
    assert await perform(db, AdminAction("restart", 301)) == "task 301 (SDR) restarted"
    with pytest.raises(ActionFailed, match=r"^drain node-z failed: machine 9 not found$"):
        await perform(db, AdminAction("drain", 9, "node-z"))
