"""Against a Curio cluster nothing harmony does changes anything: every CLI command, as the
schema's owner and as a role that may only SELECT, and the console started in-process, leave
the schema byte-identical (``pg_dump`` of its structure and of its data, before and after).
The list commands (``task list|history``, ``sectors list``, ``proving info|deadlines``,
``storage list``, ``machine list``) read it and print what they find; every other command says
in one line why it does not run there (no traceback); ``db status`` reports Curio's ledger.
The machine actions (cordon, uncordon, restart, abort-restart) are the only writes harmony
makes to a Curio cluster, and only when confirmed: run here without a terminal and without
``--yes`` they are refused, so they too leave the schema byte-identical (what they change once
confirmed is tested in test_curio_machine_cli and engine/curio). And ``--read-only`` refuses,
before connecting, every command that writes."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from console.cli import build_parser
from engine.harmonydb import DB, HarmonyDBError, ReadOnlyError
from support.curio_changes import schema_dumper
from support.curio_cli import run_harmony
from support.curio_read import ROLES, connect_as, curio_session
from support.curio_schema import CURIO_MIGRATIONS, CurioCluster
from support.probe import wait_until
from support.schema_dump import SchemaDump

#: Every command of the CLI with the arguments it is run with, and what it must answer on a
#: Curio cluster: "engine" (run refuses to start one), "writes" (refused: it would write),
#: "unsupported" (a read that cannot show a Curio cluster yet), "ledger" (db status),
#: "reads" (it reads Curio's own tables: any one-line answer), "lists" (a list command that
#: reads Curio's cluster: exit 0, data on stdout, nothing on stderr), "confirm" (an operator's
#: action that writes only when confirmed: refused here, with no terminal and no --yes) or
#: "no-drain" (Curio has none). ``{dir}`` is an empty directory of the test's.
COMMANDS: dict[str, tuple[list[str], str]] = {
    "run": (["run", "--engine-only", "--name", "curio-probe"], "engine"),
    "task add": (["task", "add", "noop"], "writes"),
    "task list": (["task", "list"], "lists"),
    "task history": (["task", "history"], "lists"),
    "task restart": (["task", "restart", "1"], "writes"),
    "machine list": (["machine", "list"], "reads"),
    # the seed's machines: 1 schedulable, 2 cordoned, 3 with a restart requested
    "machine cordon": (["machine", "cordon", "1"], "confirm"),
    "machine uncordon": (["machine", "uncordon", "2"], "confirm"),
    "machine drain": (["machine", "drain", "1"], "no-drain"),
    "machine restart": (["machine", "restart", "2"], "confirm"),
    "machine abort-restart": (["machine", "abort-restart", "3"], "confirm"),
    "machine forget": (["machine", "forget", "3"], "writes"),
    "storage attach": (["storage", "attach", "{dir}", "--seal"], "writes"),
    "storage detach": (["storage", "detach", "{dir}"], "writes"),
    "storage list": (["storage", "list"], "lists"),
    "storage redeclare": (["storage", "redeclare"], "writes"),
    "chain init": (["chain", "init"], "writes"),
    "chain status": (["chain", "status"], "unsupported"),
    "chain create-miner": (["chain", "create-miner"], "writes"),
    "chain serve": (["chain", "serve"], "unsupported"),
    # Curio's harmony_config names its Lotus node; the seed's names none
    "chain head": (["chain", "head", "--timeout", "2"], "reads"),
    "sectors pledge": (["sectors", "pledge", "--count", "1"], "writes"),
    "sectors list": (["sectors", "list"], "lists"),
    "sectors status": (["sectors", "status", "1"], "unsupported"),
    "sectors history": (["sectors", "history"], "reads"),
    "sectors expirations": (["sectors", "expirations"], "lists"),
    "miner info": (["miner", "info"], "lists"),
    "events": (["events"], "lists"),
    "sectors resume": (["sectors", "resume", "1"], "writes"),
    "proving info": (["proving", "info"], "lists"),
    "proving deadlines": (["proving", "deadlines"], "lists"),
    "proving check": (["proving", "check", "0"], "reads"),
    "db migrate": (["db", "migrate"], "writes"),
    "db status": (["db", "status"], "ledger"),
    "alerts list": (["alerts", "list"], "lists"),
    "alerts check": (["alerts", "check"], "reads"),  # evaluated live, nothing stored
    "alerts ack": (["alerts", "ack", "1"], "curio-ui"),
    "alerts mute": (["alerts", "mute", "1", "--for", "1h"], "curio-ui"),
    "config list": (["config", "list"], "lists"),
    "config get": (["config", "get", "base"], "reads"),
    "config set": (["config", "set", "base", "-"], "curio-config"),
    "config rm": (["config", "rm", "base"], "curio-config"),
    "config edit": (["config", "edit", "base"], "curio-config"),
    "config effective": (["config", "effective"], "reads"),
    "metrics list": (["metrics", "list"], "reads"),
    "storage find": (["storage", "find", "1"], "unsupported"),
    "storage move": (["storage", "move", "1", "--to", "x"], "writes"),
}
#: Commands not run here, and why.
NOT_RUN = {
    "bench engine": "works in a scratch itest_ schema it creates and drops, never --schema",
    "bench proofs": "runs no database at all",
    "bench chaos": "works in a scratch itest_ schema (or its own server), never --schema",
    "bench console": "works in a scratch itest_ schema it creates and drops, never --schema",
    "screenshots": "works in a scratch itest_ schema it creates and drops, never --schema",
    "bench cluster": "runs a throwaway server of its own (or a scratch schema), never --schema",
    "metrics dashboard": "prints a file shipped with the package; opens no database",
    "completion": "prints a script generated from the command tree; opens no database",
    "service unit": "prints a file shipped with the package; opens no database",
}
ANSWERS = {
    "engine": "harmony run cannot start an engine on it",
    "writes": "would write to it, and harmony does not write to a Curio cluster",
    "unsupported": "is not yet supported on a Curio cluster",
}
#: What the machine commands that handle a Curio cluster themselves answer here, in one line
OWN_ANSWERS = {
    "confirm": "changes the Curio cluster: confirm it on a terminal or pass --yes; nothing "
    "was changed",
    "no-drain": "Curio has no drain",
    "curio-ui": "in Curio's web UI (harmony never writes to a Curio cluster); nothing was changed",
    "curio-config": "which harmony never writes (use `curio config`); nothing was changed",
}

Dumper = Callable[[str], Awaitable[SchemaDump]]


def leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> set[str]:
    """Every command by its first name (an alias names the same parser: not listed again)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: set[str] = set()
            seen: set[int] = set()
            for name, child in action.choices.items():
                if id(child) not in seen:
                    seen.add(id(child))
                    found |= leaf_commands(child, (*prefix, name))
            return found
    return {" ".join(prefix)}


def test_every_command_is_covered() -> None:
    """A new command must say here what it does on a Curio cluster."""
    assert leaf_commands(build_parser(whole=True)) == set(COMMANDS) | set(NOT_RUN)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def dumper(pg_url: str) -> Dumper:
    return await schema_dumper(pg_url)


@pytest.fixture(params=ROLES)
async def as_role(request: pytest.FixtureRequest, curio_db: CurioCluster) -> AsyncIterator[str]:
    """The URL harmony connects with: the schema's owner, or a role that may only SELECT."""
    async with connect_as(curio_db, request.param) as url:
        yield url


def assert_unchanged(before: SchemaDump, after: SchemaDump) -> None:
    for what in ("structure", "data"):
        old, new = getattr(before, what), getattr(after, what)
        if old != new:
            diff = "".join(
                list(difflib.unified_diff(old.splitlines(True), new.splitlines(True), n=1))[:60]
            )
            raise AssertionError(f"the schema's {what} changed:\n{diff}")


# --------------------------------------------------------------------------- the CLI


async def test_no_command_changes_a_curio_cluster(
    curio_db: CurioCluster, as_role: str, dumper: Dumper, tmp_path: Path
) -> None:
    schema = curio_db.schema
    before = await dumper(schema)
    limit = asyncio.Semaphore(4)
    names = list(COMMANDS)
    results = await asyncio.gather(
        *(
            run_harmony(
                as_role,
                schema,
                *(str(tmp_path) if a == "{dir}" else a for a in COMMANDS[name][0]),
                limit=limit,
            )
            for name in names
        )
    )
    assert_unchanged(before, await dumper(schema))
    assert list(tmp_path.iterdir()) == []  # storage attach wrote no sectorstore.json
    problems = []
    for name, result in zip(names, results, strict=True):
        outcome = COMMANDS[name][1]
        said = f"{name}: exit {result.returncode}, out {result.stdout!r}, err {result.stderr!r}"
        if outcome == "ledger":
            if result.returncode != 0 or (
                f"Curio cluster: {len(CURIO_MIGRATIONS)} Curio migrations applied"
                not in result.stdout
            ):
                problems.append(said)
            continue
        if outcome in OWN_ANSWERS:
            if (
                result.returncode != 1
                or result.stderr.count("\n") != 1
                or not result.stderr.startswith("harmony: error: ")
                or OWN_ANSWERS[outcome] not in result.stderr
                or "Traceback" in result.stderr + result.stdout
            ):
                problems.append(said)
            continue
        if outcome == "lists":
            # what each prints is checked in test_curio_cli_lists; here: it ran and read
            if (
                result.returncode != 0
                or result.stderr != ""
                or len(result.stdout.splitlines()) < 2
                or "Traceback" in result.stdout
            ):
                problems.append(said)
            continue
        if outcome == "reads":
            if (
                result.returncode not in (0, 1)
                or result.stderr.count("\n") > 1
                or ("Traceback" in result.stderr + result.stdout)
            ):
                problems.append(said)
            continue
        expected = f"harmony: error: schema {schema!r} is a Curio cluster: "
        if (
            result.returncode != 1
            or result.stderr.count("\n") != 1
            or not result.stderr.startswith(expected)
            or ANSWERS[outcome] not in result.stderr
            or "Traceback" in result.stderr + result.stdout
        ):
            problems.append(said)
    assert not problems, "\n".join(problems)


async def test_db_status_json_reports_curios_ledger(curio_db: CurioCluster) -> None:
    result = await run_harmony(curio_db.url, curio_db.schema, "db", "status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["cluster"] == "curio"
    assert report["curio_migrations"] == len(CURIO_MIGRATIONS)
    assert report["curio_latest"] == max(name[:8] for name in CURIO_MIGRATIONS)


# --------------------------------------------------------------------------- an engine


async def test_an_engine_cannot_start_on_a_curio_cluster(
    curio_db: CurioCluster, dumper: Dumper
) -> None:
    """What ``harmony``'s console would start as its machine, were it asked to, fails with
    nothing written: its DB is read-only at the server, so even joining the cluster the way
    Curio's own machines do (an INSERT into harmony_machines) is refused."""
    from engine.node import start_node

    before = await dumper(curio_db.schema)
    async with curio_session(curio_db) as db:
        assert db.foreign
        with pytest.raises(HarmonyDBError):
            await start_node(db, "curio-probe:console", storage_heartbeat=False)
        with pytest.raises(ReadOnlyError):
            await db.query_value(
                "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu, last_contact) "
                "VALUES ($1, 1, 1, 0, CURRENT_TIMESTAMP) RETURNING id",
                "curio-probe:12300",
            )
    assert_unchanged(before, await dumper(curio_db.schema))


# --------------------------------------------------------------------------- the console


@pytest.mark.parametrize("read_only", [False, True], ids=["with-engine", "read-only"])
async def test_the_console_changes_nothing_and_starts_no_engine(
    curio_db: CurioCluster,
    as_role: str,
    read_only: bool,
    dumper: Dumper,
    console_app: Any,
    screen_text: Any,
) -> None:
    before = await dumper(curio_db.schema)
    started: list[str] = []

    async def start_machine(url: str) -> Any:
        """As ``harmony``'s own factory does: a DB on the schema, then the node."""
        started.append(url)
        from engine.node import start_node

        db = await DB.open(url, schema=curio_db.schema, migrate=False)
        return await start_node(db, "curio-probe:console")

    app = console_app(
        as_role, curio_db.schema, read_only=read_only, engine=None if read_only else start_machine
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(
            lambda: app.snapshot is not None,
            20,
            "the console to show the Curio cluster",
        )
        for key in "23451":
            await pilot.press(key)
            await pilot.pause()
        app.refresh_now()
        await asyncio.sleep(0.3)
        await pilot.pause()
        text = screen_text(app)
        assert app.snapshot is not None and app.snapshot.cluster == "curio"
        assert started == []
        assert app.node is None
    assert "Curio" in text
    assert_unchanged(before, await dumper(curio_db.schema))


# --------------------------------------------------------------------------- --read-only


WRITES = [
    name
    for name, (_, outcome) in COMMANDS.items()
    if outcome in ("writes", "engine", "confirm", "no-drain", "curio-ui", "curio-config")
]


async def test_read_only_refuses_every_command_that_writes(
    db: DB, dumper: Dumper, tmp_path: Path
) -> None:
    """On harmony's own cluster: refused before anything connects, so nothing changed."""
    before = await dumper(db.schema)
    limit = asyncio.Semaphore(4)
    results = await asyncio.gather(
        *(
            run_harmony(
                db.url.dsn,
                db.schema,
                *(str(tmp_path) if a == "{dir}" else a for a in COMMANDS[name][0]),
                "--read-only",
                limit=limit,
            )
            for name in WRITES
        )
    )
    assert_unchanged(before, await dumper(db.schema))
    problems = [
        f"{name}: exit {r.returncode}, stderr {r.stderr!r}"
        for name, r in zip(WRITES, results, strict=True)
        if r.returncode != 1
        or not r.stderr.startswith(f"harmony: error: `harmony {name}` changes the cluster: ")
        or "refused under --read-only" not in r.stderr
    ]
    assert not problems, "\n".join(problems)
