"""The alert evaluator's machine options reach the AlertEval task of the machine's node."""

from __future__ import annotations

import argparse

import pytest

from console.commands.common import CommandError
from console.commands.machine_options import add_machine_options, alert_config
from engine.alerts import AlertEvalTask
from engine.harmonydb import DB
from engine.node import start_node


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_machine_options(parser)
    return parser.parse_args(argv)


def test_flags_and_the_environment_make_the_alert_config(monkeypatch) -> None:
    monkeypatch.delenv("HARMONY_ALERTS_WEBHOOK", raising=False)
    config = alert_config(parse("--alerts-interval", "60"))
    assert config.settings.interval == 60
    assert config.webhook is None
    monkeypatch.setenv("HARMONY_ALERTS_WEBHOOK", "https://hooks.example/services/T0/s3cret")
    config = alert_config(parse("--alerts-webhook-format", "slack"))
    assert config.webhook is not None
    assert config.webhook.format == "slack"
    assert config.webhook.url.endswith("/s3cret")
    assert "s3cret" not in repr(config.webhook)


def test_a_bad_webhook_is_refused_without_repeating_a_token() -> None:
    with pytest.raises(CommandError) as caught:
        alert_config(parse("--alerts-webhook", "ftp://user:s3cret@host/x"))
    assert "s3cret" not in str(caught.value)


async def test_the_node_gives_its_alert_task_the_machines_options(db: DB) -> None:
    config = alert_config(parse("--alerts-interval", "42"))
    node = await start_node(
        db, "alerting", task_names=["AlertEval"], alerts=config, storage_heartbeat=False
    )
    try:
        (task,) = [h.task for h in node.engine.handlers.values()]
        assert isinstance(task, AlertEvalTask)
        assert task.config.settings.interval == 42
    finally:
        await node.stop_now()
