"""`harmony task …` and `harmony machine …` against a real database, as an operator uses them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine.harmonydb import DB
from engine.harmonytask import builtin_tasks
from support.cli import harmony
from support.probe import wait_until


async def test_add_and_list_tasks_with_params(db: DB) -> None:
    added = await harmony(
        db, "task", "add", "sleep", "--count", "3", "--param", "ms=250", "--priority", "2"
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added 3 sleep task(s): ")
    assert "no live machine runs 'sleep' yet" in added.stdout
    listed = json.loads((await harmony(db, "task", "list", "--json")).stdout)
    assert [(t["name"], t["state"], t["priority"]) for t in listed] == [("sleep", "pending", 2)] * 3
    params = await db.select("SELECT params FROM harmony_task_params")
    assert [json.loads(p["params"]) for p in params] == [{"ms": 250}] * 3
    table = (await harmony(db, "task", "list")).stdout.splitlines()
    assert table[0].split() == ["ID", "TYPE", "STATE", "MACHINE", "POSTED", "RETRIES", "ERROR"]
    assert len(table) == 4


async def test_failed_tasks_show_in_history_and_restart_by_id(db: DB, engines) -> None:
    await engines(builtin_tasks(db), "m")
    await harmony(db, "task", "add", "fail")
    (task_id,) = [r["id"] for r in await db.select("SELECT id FROM harmony_task")]

    async def failed() -> bool:
        return bool(
            await db.query_value(
                "SELECT failed_at IS NOT NULL FROM harmony_task WHERE id = $1", task_id
            )
        )

    await wait_until(failed, 20)
    listed = json.loads((await harmony(db, "task", "list", "--state", "failed", "--json")).stdout)
    assert [(t["id"], t["retries"]) for t in listed] == [(task_id, 3)]
    history = json.loads(
        (await harmony(db, "task", "history", "--task", str(task_id), "--json")).stdout
    )
    assert [h["outcome"] for h in history] == ["failed", "retry", "retry"]
    assert history[0]["err"] == "RuntimeError: the fail task always fails"
    restarted = await harmony(db, "task", "restart", str(task_id))
    assert restarted.returncode == 0
    assert (
        restarted.stdout.strip() == f"task {task_id} (fail) restarted: retries reset, claimable now"
    )
    again = await harmony(db, "task", "restart", "987654")
    assert again.returncode == 1
    assert again.stderr.strip() == (
        "harmony: error: no task 987654 (finished tasks leave the queue)"
    )


async def test_machine_list_and_flags(db: DB, engines) -> None:
    engine = await engines(builtin_tasks(db), "worker-a")
    machines = json.loads((await harmony(db, "machine", "list", "--json")).stdout)
    assert [(m["host_and_port"], m["state"]) for m in machines] == [("worker-a", "active")]
    assert machines[0]["tasks"] == "burn,fail,noop,sleep"
    out = await harmony(db, "machine", "cordon", "worker-a")
    assert out.stdout.startswith("worker-a cordoned")
    await wait_until(lambda: engine.flags.unschedulable, 2)
    drained = await harmony(
        db, "machine", "drain", str(engine.machine_id), "--wait", "--timeout", "10"
    )
    assert drained.returncode == 0, drained.stderr
    assert drained.stdout.splitlines()[-1] == "worker-a is drained"
    await harmony(db, "machine", "uncordon", "worker-a")
    await wait_until(lambda: not engine.flags.unschedulable, 2)
    missing = await harmony(db, "machine", "cordon", "nobody")
    assert missing.returncode == 1
    assert "no machine 'nobody'" in missing.stderr


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--help"], "Without a command it opens the console"),
        (["run", "--help"], "SIGTERM or SIGINT drains"),
        (["task", "add", "--help"], "Built-in types"),
        (["machine", "drain", "--help"], "wait until the machine reports itself drained"),
    ],
)
def test_help_explains(args: list[str], phrase: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "console", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert phrase in " ".join(result.stdout.split())
