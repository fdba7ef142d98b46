"""`harmony run --engine-only --metrics-listen` as a real process: Prometheus scrapes it over
HTTP while it works (its counters follow the tasks it ran, the queue the database's), and it
drains and exits 0 on SIGTERM as without metrics; a taken port fails the start. The console's
own machine serves the same endpoint, from the flag or from a config layer (the flags still
win); `--read-only` has no machine and refuses the flag. Also the `harmony metrics` commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from console.cli import build_parser
from console.commands.machine_starter import machine_starter
from console.commands.metrics import run_dashboard, run_list
from engine.config_layers import LayerMissing, put_layer
from engine.harmonydb import DB
from engine.harmonytask import add_tasks
from engine.metrics import CATALOGUE, MetricsListenError
from engine.node import start_node
from support.cli import harmony, harmony_argv
from support.probe import wait_until

TASKS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def values(url: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """``name``'s samples by their labels, or {} while the endpoint does not answer."""
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            text = await response.text()
    except aiohttp.ClientError:
        return {}
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def start_worker(db: DB, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        harmony_argv(
            db,
            "run",
            "--engine-only",
            "--name",
            "metrics-worker",
            "--tasks",
            "noop",
            "--metrics-listen",
            str(port),  # a bare port: loopback
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd="/",
    )


async def test_a_worker_process_serves_its_metrics_while_it_works(db: DB) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    proc = start_worker(db, port)
    try:

        async def serving() -> bool:
            return bool(await values(url, "harmony_machine_info"))

        await wait_until(serving, 30, "the worker's metrics endpoint")
        await add_tasks(db, "noop", TASKS)
        key = (("task_type", "noop"),)

        async def all_done() -> bool:
            return (await values(url, "harmony_tasks_completed_total")).get(key) == TASKS

        await wait_until(all_done, 30, f"{TASKS} completions on the endpoint")
        assert (await values(url, "harmony_tasks_claimed_total"))[key] == TASKS
        info = await values(url, "harmony_machine_info")
        ((labels, one),) = info.items()
        assert dict(labels)["host_and_port"] == "metrics-worker" and one == 1
        running = await db.query_value("SELECT count(*) FROM harmony_task WHERE name = 'noop'")
        assert running == 0
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        out, _ = await asyncio.to_thread(proc.communicate, None, 30)
    assert f"serving Prometheus metrics on http://127.0.0.1:{port}/metrics" in out
    assert db.url.dsn not in out


async def test_a_taken_port_stops_the_machine_before_it_joins(db: DB) -> None:
    """What `run --engine-only` and the console's engine both call: the port is bound before
    the engine starts, so a taken one leaves no machine row behind."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsListenError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            await start_node(
                db,
                "metrics-taken",
                task_names=["noop"],
                storage_heartbeat=False,
                metrics_listen=f"127.0.0.1:{port}",
            )
    assert await db.query_value("SELECT count(*) FROM harmony_machines") == 0


async def test_metrics_list_and_dashboard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_list(argparse.Namespace(json=True)) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in listed] == [s.name for s in CATALOGUE]
    out = tmp_path / "dash.json"
    assert await run_dashboard(argparse.Namespace(output=str(out))) == 0
    capsys.readouterr()
    assert await run_dashboard(argparse.Namespace(output=None)) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text()) == printed
    assert printed["uid"] == "harmony-cluster"


async def test_the_consoles_machine_serves_metrics(
    db: DB, console_app: Any, first_render: Any
) -> None:
    """`harmony --metrics-listen PORT`: the console's own machine, started by the app once its
    first snapshot is on screen, is scraped like a worker."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    args = build_parser().parse_args(
        ["--schema", db.schema, "--no-demo", "--tasks", "noop", "--name", "test:console",
         "--metrics-listen", str(port)]
    )  # fmt: skip
    opened: list[DB] = []
    app = console_app(db.url.dsn, db.schema, engine=machine_starter(args, None, opened))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await first_render(app, pilot)

            async def serving() -> bool:
                return bool(await values(url, "harmony_machine_info"))

            await wait_until(serving, 30, "the console's metrics endpoint")
            await add_tasks(db, "noop", 5)
            key = (("task_type", "noop"),)

            async def all_done() -> bool:
                return (await values(url, "harmony_tasks_completed_total")).get(key) == 5

            await wait_until(all_done, 30, "5 completions on the console's endpoint")
            ((labels, one),) = (await values(url, "harmony_machine_info")).items()
            assert dict(labels)["host_and_port"] == "test:console" and one == 1
            node = app.engine_host.node
            assert node is not None
            await node.stop_now()  # what the console does once it exits
        assert await values(url, "harmony_machine_info") == {}  # the endpoint closed with it
    finally:
        if app.engine_host.node is not None:
            await app.engine_host.node.stop_now()
        for opened_db in opened:
            await opened_db.close()


async def test_the_consoles_machine_takes_its_layers_under_its_flags(db: DB) -> None:
    """`harmony --layers console` (and `harmony run --layers …` without --engine-only): the
    layer's keys reach the console's machine, metrics-listen among them; a flag still wins."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    await put_layer(
        db,
        "console",
        f'tasks = ["noop"]\nheartbeat = 4\nmetrics-listen = "127.0.0.1:{port}"\n',
    )
    args = build_parser().parse_args(
        ["--schema", db.schema, "--no-demo", "--name", "test:layered-console",
         "--heartbeat", "1", "run", "--layers", "console"]
    )  # fmt: skip
    assert not args.engine_only  # the console's path, not the worker's
    opened: list[DB] = []
    node = await machine_starter(args, None, opened)(db.url.dsn)
    try:
        assert set(node.engine.handlers) == {"noop"}  # tasks from the layer
        assert node.engine.config.heartbeat_interval == 1  # the flag beat the layer's 4
        ((labels, _),) = (await values(url, "harmony_machine_info")).items()
        assert dict(labels)["host_and_port"] == "test:layered-console"
    finally:
        await node.stop_now()
        for opened_db in opened:
            await opened_db.close()


async def test_a_missing_layer_stops_the_consoles_machine_naming_it(db: DB) -> None:
    args = build_parser().parse_args(["--schema", db.schema, "--no-demo", "--layers", "gone"])
    opened: list[DB] = []
    try:
        with pytest.raises(LayerMissing, match="no config layer 'gone'"):
            await machine_starter(args, None, opened)(db.url.dsn)
    finally:
        for opened_db in opened:
            await opened_db.close()
    assert await db.query_value("SELECT count(*) FROM harmony_machines") == 0


async def test_read_only_refuses_metrics_listen(db: DB) -> None:
    """The read-only console runs no machine, so it would serve nothing: refused, not ignored."""
    done = await harmony(db, "--read-only", "--metrics-listen", str(free_port()))
    assert done.returncode == 1
    assert "--metrics-listen: the console with --read-only runs no machine" in done.stderr
