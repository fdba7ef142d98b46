"""The alerts webhook against a real local HTTP server (aiohttp): Alertmanager's body, retried
after a 503 with backoff, nothing marked delivered while the receiver refuses, a cleared alert
sent once as resolved, acknowledged ones no longer firing, and the URL's secret never logged.
The AlertEval task evaluates through the engine (a singleton) and delivers in the background."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web

from engine.alerts import (
    ALERT_EVAL,
    AlertConfig,
    AlertEvalTask,
    AlertSettings,
    WebhookError,
    WebhookTarget,
    ack,
    deliver,
    evaluate,
    redact,
)
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig
from support.probe import wait_until


class Receiver:
    """An Alertmanager-like receiver that answers ``fail`` requests with 503 first."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.fail = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.fail:
            self.fail -= 1
            return web.Response(status=503, text="busy")
        self.bodies.append(body)
        return web.json_response({"status": "success"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/v2/alerts", self.handle)
        self.runner = web.AppRunner(app, access_log=None)  # the receiver's log is not ours
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://user:s3cret@127.0.0.1:{port}/api/v2/alerts?token=s3cret"


@pytest.fixture
async def receiver() -> Any:
    r = Receiver()
    await r.start()
    yield r
    assert r.runner is not None
    await r.runner.cleanup()


async def stale_path(db: DB) -> None:
    await db.exec(
        "INSERT INTO storage_path (storage_id, can_store, last_heartbeat) VALUES "
        "('p1', TRUE, now())"
    )
    await db.exec(
        "INSERT INTO storage_path_hosts (storage_id, hostname, local_path, last_heartbeat) "
        "VALUES ('p1', 'host-a', '/srv/p1', now() - interval '10 minutes')"
    )


def test_redact_keeps_no_secret() -> None:
    assert redact("https://u:p@hooks.example.com/services/T0/B0/XYZ?x=1") == (
        "https://hooks.example.com/…"
    )
    assert redact("http://127.0.0.1:9093") == "http://127.0.0.1:9093"
    with pytest.raises(ValueError, match="http"):
        WebhookTarget("ftp://x/y")


async def test_alertmanager_body_retries_and_resolution(
    db: DB, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    await stale_path(db)
    await evaluate(db, AlertSettings())
    target = WebhookTarget(receiver.url, attempts=2, backoff=0.05, cluster="c1")
    receiver.fail = 5
    caplog.set_level(logging.INFO)
    with pytest.raises(WebhookError, match="HTTP 503") as failed:
        await deliver(db, target)
    assert "s3cret" not in str(failed.value) and "s3cret" not in caplog.text
    assert await db.query_value("SELECT count(*) FROM harmony_alerts WHERE notified IS NULL") == 1
    receiver.fail = 1  # one refusal, then taken
    sent = await deliver(db, target)
    assert (sent.firing, sent.resolved) == (1, 0)
    (body,) = receiver.bodies
    (alert,) = body
    assert alert["labels"] == {
        "alertname": "storage-path",
        "severity": "warning",
        "subject": "p1 on host-a",
        "cluster": "c1",
    }
    assert "heartbeat is stale" in alert["annotations"]["description"]
    assert "startsAt" in alert and "endsAt" not in alert
    # fixed: sent once as resolved, then nothing
    await db.exec("UPDATE storage_path_hosts SET last_heartbeat = now()")
    await evaluate(db, AlertSettings())
    assert (await deliver(db, target)).resolved == 1
    assert "endsAt" in receiver.bodies[-1][0]
    assert (await deliver(db, target)) == type(sent)(0, 0)
    assert len(receiver.bodies) == 2


async def test_acknowledged_alerts_stop_firing(db: DB, receiver: Receiver) -> None:
    await stale_path(db)
    await evaluate(db, AlertSettings())
    target = WebhookTarget(receiver.url, format="slack", backoff=0.01)
    assert (await deliver(db, target)).firing == 1
    assert "p1 on host-a" in receiver.bodies[0]["text"]
    assert (await deliver(db, target)).firing == 0  # slack: changes only
    await ack(db, "storage-path", "ops")
    assert (await deliver(db, target)) == type(await deliver(db, target))(0, 0)
    assert len(receiver.bodies) == 1


async def test_the_alert_eval_singleton_evaluates_and_delivers(
    probe_db: DB, engines: Any, receiver: Receiver
) -> None:
    """Two machines run AlertEval: one evaluation is added for the interval (a second try
    is refused by the singleton), it runs on one of them and the webhook hears of it."""
    db = probe_db
    await stale_path(db)
    config = AlertConfig(AlertSettings(interval=3600), WebhookTarget(receiver.url, backoff=0.01))
    fast = EngineConfig(
        heartbeat_interval=1, machine_timeout=120, poll_interval=0.05, housekeeping_interval=3600
    )
    tasks = [AlertEvalTask(db, config), AlertEvalTask(db, config)]
    e1 = await engines([tasks[0]], "m1", config=fast)
    e2 = await engines([tasks[1]], "m2", config=fast)
    assert await e1.add_task(ALERT_EVAL, _due) is not None
    assert await e2.add_task(ALERT_EVAL, _due) is None  # live or within the interval

    async def delivered() -> bool:
        return bool(receiver.bodies)

    await wait_until(delivered, 30, "the webhook delivery")
    assert receiver.bodies[0][0]["labels"]["subject"] == "p1 on host-a"

    async def recorded() -> bool:  # the attempt's row lands after do() started the delivery
        return await db.query_value("SELECT count(*) FROM harmony_task_history") == 1

    await wait_until(recorded, 30, "the evaluation's history row")
    assert (
        await db.query_value("SELECT count(*) FROM harmony_task WHERE name = $1", ALERT_EVAL) == 0
    )


async def _due(task_id: int, tx: Any) -> bool:
    from engine.harmonytask.singleton import add_if_due

    return await add_if_due(tx, ALERT_EVAL, task_id, 3600)
