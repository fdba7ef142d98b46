"""``harmony machine …`` on a Curio cluster, as an operator runs it (a real process).

``list`` reads Curio's machines (also as JSON and as a SELECT-only role) and writes nothing; the
actions follow Curio's semantics (engine.curio), asked for on a terminal (y/N) or with
``--yes``, and refused without either when there is no terminal; ``drain`` is refused (Curio has
none); ``--read-only`` refuses the actions before connecting. Wherever a command must not write,
a ``pg_dump`` of the whole schema is byte-identical afterwards; where it writes, the whole
``harmony_machines`` table is compared and only the intended column of the intended row differs.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from engine.harmonydb import DB
from support.curio_changes import Rows, changes, curio_dumper, machine_rows
from support.curio_cli import run_harmony
from support.curio_read import select_only
from support.curio_schema import CurioCluster
from support.schema_dump import SchemaDump

Dumper = Callable[[], Awaitable[SchemaDump]]


@pytest.fixture
async def dump(curio_db: CurioCluster) -> Dumper:
    return await curio_dumper(curio_db)


def ids(curio_db: CurioCluster) -> tuple[int, int, int]:
    assert curio_db.seed is not None
    seal, gpu, post = curio_db.seed.machines.values()
    return seal, gpu, post


def changed_columns(before: Rows, after: Rows) -> dict[int, set[str]]:
    return {i: set(columns) for i, columns in changes(before, after).items()}


async def harmony(
    cluster: CurioCluster, *args: str, url: str | None = None, stdin: Any = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    """``harmony ARGS…`` on the Curio schema as its owner (or ``url``'s role), with no
    terminal on stdin unless given one."""
    return await run_harmony(url or cluster.url, cluster.schema, *args, stdin=stdin)


async def on_a_terminal(
    cluster: CurioCluster, answer: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``harmony ARGS…`` with a pseudo-terminal on stdin, where ``answer`` is typed."""
    leader, follower = os.openpty()
    try:
        os.write(leader, answer.encode() + b"\n")
        return await harmony(cluster, *args, stdin=follower)
    finally:
        os.close(follower)
        os.close(leader)


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    said = f"exit {result.returncode}, out {result.stdout!r}, err {result.stderr!r}"
    assert result.returncode == 1, said
    assert result.stderr.startswith("harmony: error: "), said
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, said
    for needle in needles:
        assert needle in result.stderr, said


# --------------------------------------------------------------------------- list


async def test_machine_list_json_reads_curios_machines(
    curio_db: CurioCluster, dump: Dumper
) -> None:
    seal, gpu, post = ids(curio_db)
    before = await dump()
    result = await harmony(curio_db, "machine", "list", "--json")
    assert result.returncode == 0, result.stderr
    machines = {m["id"]: m for m in json.loads(result.stdout)}
    assert set(machines) == {seal, gpu, post}
    assert machines[seal]["name"] == "seal-1" and machines[seal]["state"] == "active"
    assert machines[seal]["host_and_port"] == "10.0.0.11:12300"
    assert machines[gpu]["state"] == "cordoned"
    assert machines[post]["state"] == "restarting" and machines[post]["stale"]
    assert machines[seal]["layers"] == ["base", "seal"]
    assert all(m["reports_load"] is False and m["cpu_load"] is None for m in machines.values())
    assert await dump() == before


async def test_machine_list_table_says_there_is_no_live_load(curio_db: CurioCluster) -> None:
    result = await harmony(curio_db, "machine", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "NAME", "MACHINE", "STATE"]
    assert any("gpu-1" in line and "cordoned" in line for line in lines)
    assert any("post-1" in line and "restarting (stale)" in line for line in lines)
    assert "Curio records no live CPU/RAM/GPU use" in result.stdout


async def test_a_select_only_role_lists_and_is_refused_an_action_cleanly(
    curio_db: CurioCluster, dump: Dumper
) -> None:
    before = await dump()
    async with select_only(curio_db) as url:
        listed = await harmony(curio_db, "machine", "list", "--json", url=url)
        assert listed.returncode == 0, listed.stderr
        assert len(json.loads(listed.stdout)) == 3
        refused = await harmony(curio_db, "machine", "cordon", "seal-1", "--yes", url=url)
        one_line_error(refused, "may only read", "nothing was changed")
    assert await dump() == before


# --------------------------------------------------------------------------- the actions


async def test_cordon_with_yes_sets_only_unschedulable(curio_db: CurioCluster) -> None:
    seal, _, _ = ids(curio_db)
    before = await machine_rows(curio_db)
    result = await harmony(curio_db, "machine", "cordon", "seal-1", "--yes")
    assert result.returncode == 0, result.stderr
    assert "seal-1 (10.0.0.11:12300, id" in result.stdout and "cordoned" in result.stdout
    after = await machine_rows(curio_db)
    assert changed_columns(before, after) == {seal: {"unschedulable"}}
    assert after[seal]["unschedulable"] is True


async def test_without_a_terminal_an_action_needs_yes(curio_db: CurioCluster, dump: Dumper) -> None:
    before = await dump()
    for action, machine in (
        ("cordon", "seal-1"),
        ("uncordon", "gpu-1"),
        ("restart", "gpu-1"),
        ("abort-restart", "post-1"),
    ):
        result = await harmony(curio_db, "machine", action, machine)
        one_line_error(result, "confirm it on a terminal or pass --yes", "nothing was changed")
    assert await dump() == before


async def test_on_a_terminal_the_operator_is_asked(curio_db: CurioCluster, dump: Dumper) -> None:
    _, gpu, _ = ids(curio_db)
    before_dump, before = await dump(), await machine_rows(curio_db)
    argv = ("machine", "restart", "gpu-1")
    declined = await on_a_terminal(curio_db, "n", *argv)
    assert declined.returncode == 1, declined.stderr
    assert "Request a restart of gpu-1 (10.0.0.12:12300" in declined.stderr
    assert "[y/N]" in declined.stderr and "nothing was changed" in declined.stdout
    assert await dump() == before_dump
    accepted = await on_a_terminal(curio_db, "y", *argv)
    assert accepted.returncode == 0, accepted.stderr
    assert "restart requested" in accepted.stdout
    after = await machine_rows(curio_db)
    assert changed_columns(before, after) == {gpu: {"restart_request"}}
    assert after[gpu]["restart_request"] is not None and after[gpu]["unschedulable"]


async def test_restart_is_refused_on_a_machine_that_is_not_cordoned(
    curio_db: CurioCluster, dump: Dumper
) -> None:
    before = await dump()
    result = await harmony(curio_db, "machine", "restart", "seal-1", "--yes")
    one_line_error(result, "seal-1 is not cordoned", "cordon seal-1", "nothing was changed")
    assert await dump() == before


async def test_uncordon_and_abort_restart_change_one_column_each(curio_db: CurioCluster) -> None:
    _, gpu, post = ids(curio_db)
    before = await machine_rows(curio_db)
    result = await harmony(curio_db, "machine", "uncordon", str(gpu), "--yes")
    assert result.returncode == 0, result.stderr
    assert changed_columns(before, await machine_rows(curio_db)) == {gpu: {"unschedulable"}}
    result = await harmony(curio_db, "machine", "abort-restart", "10.0.0.13:12300", "--yes")
    assert result.returncode == 0, result.stderr
    assert "restart request withdrawn" in result.stdout
    after = await machine_rows(curio_db)
    assert changed_columns(before, after) == {gpu: {"unschedulable"}, post: {"restart_request"}}
    assert after[post]["restart_request"] is None


async def test_nothing_to_do_asks_nothing_and_writes_nothing(
    curio_db: CurioCluster, dump: Dumper
) -> None:
    """Already cordoned, already restarting: said, not asked (no --yes, no terminal)."""
    before = await dump()
    cordoned = await harmony(curio_db, "machine", "cordon", "gpu-1")
    assert cordoned.returncode == 0 and "already cordoned" in cordoned.stdout, cordoned
    restarting = await harmony(curio_db, "machine", "restart", "post-1")
    assert restarting.returncode == 0 and "already has a restart requested" in restarting.stdout
    assert await dump() == before


async def test_drain_unknown_machine_and_read_only_are_refused(
    curio_db: CurioCluster, dump: Dumper
) -> None:
    before = await dump()
    drain = await harmony(curio_db, "machine", "drain", "seal-1")
    one_line_error(drain, "Curio has no drain", "harmony machine cordon seal-1")
    unknown = await harmony(curio_db, "machine", "cordon", "nope", "--yes")
    one_line_error(unknown, "no machine 'nope'")
    for action in ("cordon", "uncordon", "restart", "abort-restart"):
        read_only = await harmony(curio_db, "--read-only", "machine", action, "gpu-1", "--yes")
        one_line_error(read_only, f"`harmony machine {action}` changes the cluster")
        assert "refused under --read-only" in read_only.stderr
    forget = await harmony(curio_db, "machine", "forget", "seal-1")
    one_line_error(forget, "would write to it")
    assert await dump() == before


async def test_abort_restart_on_harmonys_own_cluster_points_to_uncordon(db: DB) -> None:
    result = await run_harmony(db.url.dsn, db.schema, "machine", "abort-restart", "1")
    one_line_error(result, "is for a Curio cluster", "harmony machine uncordon")
