"""`harmony config` and `harmony run --layers`: layers stored only once they pass the checks,
merged in order over defaults under the command line, comments kept, a concurrent edit refused,
a deleted layer failing the next start by name, and Curio's layers read but never written."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from console.cli import build_parser
from console.commands.common import CommandError
from console.commands.config_keys import apply_layers, layer_keys
from console.commands.machine_options import engine_config
from engine.config_layers import LayerChanged, LayerMissing, get_layer, put_layer
from engine.harmonydb import DB, HarmonyDBError
from engine.harmonytask import add_tasks
from support.cli import harmony_argv
from support.curio_changes import curio_dumper
from support.curio_schema import CurioCluster
from support.probe import wait_until

BASE = """\
# shared by every machine
heartbeat = 3     # seconds
history-days = 30
"""

SEAL = """\
# the sealing machines
tasks = ["noop", "sleep"]
heartbeat = 4
"""


async def here(db: DB, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``harmony --db … --schema … ARGV`` in this process (as cli._main runs it, less the
    process-wide set-up): exit status, stdout, stderr."""
    args = build_parser().parse_args(["--db", db.url.dsn, "--schema", db.schema, *argv])
    try:
        code = int(await args.run(args) or 0)
    except (HarmonyDBError, CommandError) as exc:
        print(f"harmony: error: {exc}", file=sys.stderr)
        code = 1
    out, err = capsys.readouterr()
    return code, out, err


def run_args(db: DB, *argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["--db", db.url.dsn, "--schema", db.schema, *argv])


def start(argv: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd="/", env=env
    )


@pytest.fixture
def layer_files(tmp_path: Path) -> Path:
    (tmp_path / "base.toml").write_text(BASE)
    (tmp_path / "seal.toml").write_text(SEAL)
    return tmp_path


async def test_set_get_list_rm_keep_the_text_as_written(db: DB, capsys, layer_files) -> None:
    code, out, err = await here(db, capsys, "config", "set", "base", str(layer_files / "base.toml"))
    assert code == 0, err
    assert "'base' stored (version 1)" in out
    assert (await here(db, capsys, "config", "get", "base"))[1] == BASE  # comments kept
    await here(db, capsys, "config", "set", "base", str(layer_files / "base.toml"))
    code, out, _ = await here(db, capsys, "config", "list", "--json")
    assert [(x["title"], x["version"]) for x in json.loads(out)] == [("base", 2)]
    code, out, _ = await here(db, capsys, "config", "rm", "base")
    assert code == 0 and "deleted" in out
    code, _, err = await here(db, capsys, "config", "rm", "base")
    assert code == 1 and "no config layer 'base'" in err
    code, _, err = await here(db, capsys, "config", "get", "base")
    assert code == 1 and "no config layer 'base'" in err


async def test_layers_merge_in_order_under_the_command_line(db: DB, capsys, layer_files) -> None:
    await put_layer(db, "base", BASE)
    await put_layer(db, "seal", SEAL)
    await put_layer(db, "late", "heartbeat = 2.5\n")
    code, out, err = await here(
        db, capsys, "config", "effective", "--layers", "seal,late", "--history-days", "2", "--json"
    )
    assert code == 0, err
    merged = json.loads(out)
    assert merged["heartbeat"] == {"value": 2.5, "from": "late"}  # the last layer wins
    assert merged["tasks"] == {"value": "noop,sleep", "from": "seal"}
    assert merged["history-days"] == {"value": 2.0, "from": "command line"}  # beats base's 30
    assert merged["machine-timeout"]["from"] == "default"

    # base applies first even when not named; a flag typed before `run` still wins
    args = run_args(db, "--heartbeat", "3.5", "run", "--engine-only", "--layers", "seal")
    merged_run = await apply_layers(db, args)
    assert (args.heartbeat, args.tasks, args.history_days) == (3.5, "noop,sleep", 30)
    assert merged_run.origin["history-days"] == "base"
    assert engine_config(args).history_retention == 30 * 86400

    code, out, _ = await here(db, capsys, "config", "effective", "--layers", "seal,late")
    assert 'tasks = ["noop", "sleep"] # from \'seal\'' in out
    assert "heartbeat = 2.5 # from 'late'" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("heartbeet = 3\n", "layer 'bad': unknown key 'heartbeet'"),
        ("[engine]\nheartbeat = 3\n", "layer 'bad': unknown key 'engine' (a table"),
        ('heartbeat = "fast"\n', "layer 'bad': key 'heartbeat': expected a number, got a string"),
        ("heartbeat = -1\n", "layer 'bad': key 'heartbeat': must be more than 0"),
        ("history-days = true\n", "key 'history-days': expected a number, got a boolean"),
        ("tasks = [1, 2]\n", "key 'tasks': expected an array of names"),
        ("heartbeat = 3\nheartbeat = 4\n", "layer 'bad' is not valid TOML"),
        ("name = 'w1'\n", "unknown key 'name'"),  # identity is no layer key
    ],
)
async def test_a_bad_layer_is_refused_naming_the_key(
    db: DB, capsys, tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "bad.toml").write_text(text)
    code, _, err = await here(db, capsys, "config", "set", "bad", str(tmp_path / "bad.toml"))
    assert code == 1
    assert message in err, err
    assert await get_layer(db, "bad") is None  # nothing stored


async def test_a_merged_config_that_breaks_a_cross_check_is_refused(db: DB, capsys) -> None:
    await put_layer(db, "slow", "heartbeat = 10\n")
    code, _, err = await here(
        db, capsys, "config", "effective", "--layers", "slow", "--machine-timeout", "20"
    )
    assert code == 1 and "at least 3 heartbeats" in err


async def test_every_machine_option_is_a_key(db: DB) -> None:
    keys = {key.name for key in layer_keys()}
    parser = argparse.ArgumentParser()
    from console.commands.machine_options import add_machine_options

    add_machine_options(parser)
    flags = {a.option_strings[-1][2:] for a in parser._actions if a.option_strings}
    assert keys == flags - {"help", "engine-only", "name", "layers"}


async def test_effective_shows_each_keys_real_default(db: DB, capsys) -> None:
    """Keys nothing sets are shown with what the code then applies, never "not set" where
    something does apply (the machine timeout is the cluster's 12 s, the storage server
    listens on loopback)."""
    from engine.alerts import AlertSettings
    from engine.harmonytask import EngineConfig
    from engine.harmonytask.settings import DEFAULT_MACHINE_TIMEOUT
    from engine.storage.remote.server import DEFAULT_LISTEN

    code, out, err = await here(db, capsys, "config", "effective")
    assert code == 0, err
    shown = {
        line.split(" = …")[0].lstrip("# "): line.split("(", 1)[1]
        for line in out.splitlines()
        if " = …" in line
    }
    assert set(shown) == {key.name for key in layer_keys()}  # nothing set, every key a comment
    assert not [name for name, text in shown.items() if "not set" in text], shown
    engine = EngineConfig()
    expected = {
        "machine-timeout": f"{DEFAULT_MACHINE_TIMEOUT:g} until one is set",
        "storage-listen": f"default {DEFAULT_LISTEN}",
        "heartbeat": f"default {engine.heartbeat_interval:g})",
        "history-days": f"default {engine.history_retention / 86400:g})",
        "alerts-interval": f"default {AlertSettings().interval:g}",
        "alerts-webhook-format": "default alertmanager)",
        "metrics-listen": "default: off)",
        "max-tasks": "no caps",
    }
    for name, text in expected.items():
        assert text in shown[name], (name, shown[name])


async def test_edit_checks_then_stores_and_a_concurrent_edit_is_refused(
    db: DB, capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await put_layer(db, "seal", SEAL)
    new = tmp_path / "new.toml"
    new.write_text(SEAL + "history-days = 3  # kept\n")
    monkeypatch.setenv("VISUAL", f"cp {new}")  # the "editor" writes the new text over the file
    code, _, err = await here(db, capsys, "config", "edit", "seal")
    assert code == 0, err
    assert (await get_layer(db, "seal")).config.endswith("history-days = 3  # kept\n")

    bad = tmp_path / "bad.toml"
    bad.write_text("heartbeat = 0\n")
    monkeypatch.setenv("VISUAL", f"cp {bad}")
    code, _, err = await here(db, capsys, "config", "edit", "seal")  # stdin is no terminal
    assert code == 1 and "key 'heartbeat': must be more than 0" in err
    assert "nothing was stored" in err
    kept = Path(err.split("your text is kept in ")[1].split()[0])
    assert kept.read_text() == "heartbeat = 0\n"  # what was typed is not lost
    kept.unlink()
    assert (await get_layer(db, "seal")).version == 2

    # someone else stores a version while this edit is open: the edit stores nothing
    script = tmp_path / "meanwhile.sh"
    meanwhile = (
        "import asyncio, asyncpg\n"
        "async def main():\n"
        f"    conn = await asyncpg.connect({db.url.dsn!r})\n"
        f"    await conn.execute('UPDATE {db.schema}.harmony_config_layer '\n"
        "        'SET config = config, version = version + 1')\n"
        "    await conn.close()\n"
        "asyncio.run(main())\n"
    )
    (tmp_path / "meanwhile.py").write_text(meanwhile)
    script.write_text(
        f"#!/bin/sh\n{sys.executable} {tmp_path / 'meanwhile.py'} || exit 1\n"
        f'cp {new} "$1" && echo "machine-timeout = 30" >> "$1"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("VISUAL", str(script))
    code, _, err = await here(db, capsys, "config", "edit", "seal")
    assert code == 1, err
    assert "was changed (now version 3) by someone else since version 2" in err
    kept = Path(err.split("your text is kept in ")[1].split()[0])
    assert "machine-timeout = 30" in kept.read_text()
    kept.unlink()
    assert "machine-timeout" not in (await get_layer(db, "seal")).config

    with pytest.raises(LayerChanged):
        await put_layer(db, "seal", SEAL, create_only=True)


async def completed(url: str, task_type: str) -> float | None:
    """``harmony_tasks_completed_total{task_type}`` as Prometheus would read it from ``url``;
    None while the endpoint does not answer or has no such sample."""
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            text = await response.text()
    except aiohttp.ClientError:
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "harmony_tasks_completed_total" and sample.labels == {
                "task_type": task_type
            }:
                return sample.value
    return None


async def test_a_new_machine_joins_with_layers_and_a_deleted_layer_fails_its_restart(
    db: DB, tmp_path: Path
) -> None:
    """The issue's Done: `run --engine-only --layers base,seal` and nothing else, and
    Prometheus scrapes it (its address from the layer too)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/metrics"
    await put_layer(db, "base", BASE)
    await put_layer(db, "seal", SEAL + f'metrics-listen = "127.0.0.1:{port}"\n')
    argv = harmony_argv(
        db, "run", "--engine-only", "--name", "layered", "--layers", "base,seal",
        "--log-format", "json",
    )  # fmt: skip
    proc = start(argv)
    try:

        async def joined() -> bool:
            return bool(
                await db.query_value(
                    "SELECT count(*) FROM harmony_machines WHERE host_and_port = 'layered' "
                    "AND session IS NOT NULL"
                )
            )

        await wait_until(joined, 30, "the layered worker to join")
        await add_tasks(db, "noop", 3)

        async def scraped() -> bool:
            return await completed(url, "noop") == 3

        await wait_until(scraped, 30, "the layered worker's endpoint to count 3 noop tasks")
        assert await db.exec("DELETE FROM harmony_config_layer WHERE title = 'seal'") == 1
        await wait_until(joined, 5, "the worker to stay")  # it keeps its merged config
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    lines = [json.loads(line) for line in out.splitlines()]  # --log-format json: every line
    assert {line["machine"] for line in lines} == {"layered"}
    said = "\n".join(line["msg"] for line in lines)
    assert "running noop, sleep;" in said  # tasks from the layer 'seal'
    assert "heartbeat from seal" in said and "history-days from base" in said
    assert "metrics-listen from seal" in said
    assert f"serving Prometheus metrics on {url}" in said

    # its next start reads the layers again, and fails naming the one that is gone (the same
    # call run_worker makes before it connects its engine)
    with pytest.raises(LayerMissing, match="no config layer 'seal' in this cluster"):
        await apply_layers(db, run_args(db, "run", "--engine-only", "--layers", "base,seal"))


async def test_curio_layers_are_read_and_never_written(
    curio_db: CurioCluster, capsys, tmp_path: Path
) -> None:
    dump = await curio_dumper(curio_db)
    before = await dump()

    async def curio(*argv: str) -> tuple[int, str, str]:
        args = build_parser().parse_args(["--db", curio_db.url, "--schema", curio_db.schema, *argv])
        try:
            code = int(await args.run(args) or 0)
        except (HarmonyDBError, CommandError) as exc:
            print(f"harmony: error: {exc}", file=sys.stderr)
            code = 1
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await curio("config", "list")
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["base", "seal"]
    code, out, _ = await curio("config", "get", "seal")
    assert out.startswith("[Subsystems]\nEnableSealSDR = true")
    (tmp_path / "l.toml").write_text("heartbeat = 3\n")
    for argv in (("set", "seal", str(tmp_path / "l.toml")), ("rm", "seal"), ("edit", "base")):
        code, _, err = await curio("config", *argv)
        assert code == 1
        assert "Curio's own configuration, which harmony never writes" in err, err
    code, _, err = await curio("config", "effective", "--layers", "seal")
    assert code == 1 and "Curio cluster" in err
    assert await dump() == before
