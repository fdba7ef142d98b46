"""`harmony task add` refuses what could never run, before anything is written: unknown types
(unless --allow-unknown), parameters a type does not read or cannot use, and counts or limits
that are not counts."""

from __future__ import annotations

import json

import pytest

from engine.harmonydb import DB
from engine.harmonytask import builtin_tasks
from support.cli import harmony


async def queued(db: DB) -> int:
    return int(await db.query_value("SELECT count(*) FROM harmony_task"))


async def test_unknown_type_is_refused_unless_allowed(db: DB) -> None:
    refused = await harmony(db, "task", "add", "nosuchtype")
    assert refused.returncode == 1
    assert refused.stderr.startswith("harmony: error: unknown task type 'nosuchtype'")
    assert "noop, sleep, burn, fail, ChainTick" in refused.stderr
    assert "--allow-unknown" in refused.stderr
    assert await queued(db) == 0

    allowed = await harmony(db, "task", "add", "nosuchtype", "--allow-unknown", "--count", "2")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith("added 2 nosuchtype task(s)")
    assert await queued(db) == 2


async def test_a_type_a_machine_declares_is_known(db: DB, engines) -> None:
    # Another installation's type: known because a machine of the cluster declared it.
    from support.probe import Probe

    await engines([Probe(db, "m", name="custom")], "m")
    added = await harmony(db, "task", "add", "custom", "--param", "anything=1")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added 1 custom task(s)")
    assert "no live machine" not in added.stdout


async def test_workload_types_are_known_and_take_no_params(db: DB) -> None:
    added = await harmony(db, "task", "add", "WinPost")
    assert added.returncode == 0, added.stderr
    refused = await harmony(db, "task", "add", "SDR", "--param", "ms=1")
    assert refused.returncode == 1
    assert "task type SDR takes no --param" in refused.stderr
    assert await queued(db) == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            ["ms=abc"],
            "param ms='abc' of task type sleep: must be a number of milliseconds (0 or more)",
        ),
        (["ms=-5"], "param ms=-5 of task type sleep: must be a number of milliseconds (0 or more)"),
        (
            ["ms=true"],
            "param ms=True of task type sleep: must be a number of milliseconds (0 or more)",
        ),
        (
            ["ms=NaN"],
            "param ms=nan of task type sleep: must be a number of milliseconds (0 or more)",
        ),
        (["msec=100"], "task type sleep has no param 'msec' (it takes ms)"),
        (["ms=5", "extra=1"], "task type sleep has no param 'extra' (it takes ms)"),
    ],
)
async def test_sleep_params_are_checked_before_adding(
    db: DB, params: list[str], message: str
) -> None:
    argv = ["task", "add", "sleep"]
    for p in params:
        argv += ["--param", p]
    refused = await harmony(db, *argv)
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"harmony: error: {message}"
    assert await queued(db) == 0


async def test_params_of_a_type_that_reads_none_are_refused(db: DB) -> None:
    refused = await harmony(db, "task", "add", "noop", "--param", "ms=1")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "harmony: error: task type noop has no param 'ms' (it takes none)"
    )
    assert await queued(db) == 0


async def test_checked_params_run(db: DB, engines) -> None:
    """What the check accepts the task runs: no retry, done first time."""
    from support.probe import wait_until

    await engines(builtin_tasks(db), "m")
    added = await harmony(db, "task", "add", "sleep", "--param", "ms=0", "--count", "3")
    assert added.returncode == 0, added.stderr

    async def done() -> bool:
        return await db.query_value("SELECT count(*) FROM harmony_task_history") == 3

    await wait_until(done, 20)
    outcomes = await db.select("SELECT outcome FROM harmony_task_history")
    assert [r["outcome"] for r in outcomes] == ["done"] * 3


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["task", "history", "--limit", "-1"], "argument --limit: must be 1 or more, got -1"),
        (["task", "history", "--limit", "0"], "argument --limit: must be 1 or more, got 0"),
        (["task", "list", "--limit", "-3"], "argument --limit: must be 1 or more, got -3"),
        (["task", "list", "--limit", "ten"], "argument --limit: not a whole number: 'ten'"),
        (["task", "add", "noop", "--count", "0"], "argument --count: must be 1 or more, got 0"),
    ],
)
async def test_numbers_that_are_not_counts_are_refused_by_the_parser(
    db: DB, argv: list[str], complaint: str
) -> None:
    result = await harmony(db, *argv)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith("usage: harmony")
    assert result.stderr.strip().endswith(complaint)
    assert "SQL" not in result.stderr and "Traceback" not in result.stderr
    assert await queued(db) == 0


async def test_history_limit_still_limits(db: DB) -> None:
    await db.exec(
        "INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, result,"
        " completed_by_host_and_port, outcome) "
        "SELECT g, 'noop', now(), now(), now(), TRUE, 'm', 'done' FROM generate_series(1, 3) g"
    )
    rows = json.loads((await harmony(db, "task", "history", "--limit", "2", "--json")).stdout)
    assert len(rows) == 2
