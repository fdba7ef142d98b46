"""The CLI's list commands on a Curio cluster, as an operator runs them (a real process):
``task list``, ``task history``, ``sectors list``, ``proving info``, ``proving deadlines`` and
``storage list``, as the schema's owner and as a role that may only SELECT. Each exits 0, shows
the seed's figures (text and ``--json``) with Curio's semantics, and leaves the schema
byte-identical (``pg_dump``). ``proving`` reads a Lotus node when one is given (here
``harmony chain serve``'s server over a devnet chain whose first miner is f01000 too) and says
what it cannot know without one. Extra rows are written as Curio's Go code writes them, through
a plain asyncpg connection as the owner.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

import pytest

from engine.chain import DEVNET, advance_chain, create_miner, init_chain
from engine.chain.rpc_server import ChainRpcServer
from engine.harmonydb import DB
from engine.snapshot.curio.storage import DISK_CHECK_FAILED
from support.curio_changes import curio_dumper
from support.curio_cli import run_harmony
from support.curio_read import ROLES, connect_as, owner_exec
from support.curio_schema import SP_ID, CurioCluster
from support.schema_dump import SchemaDump

Run = Callable[..., Awaitable[subprocess.CompletedProcess[str]]]


@pytest.fixture(params=ROLES)
async def as_role(request: pytest.FixtureRequest, curio_db: CurioCluster) -> AsyncIterator[str]:
    async with connect_as(curio_db, request.param) as url:
        yield url


@pytest.fixture
async def dump(curio_db: CurioCluster) -> Callable[[], Awaitable[SchemaDump]]:
    return await curio_dumper(curio_db)


def runner(url: str, schema: str) -> Run:
    """``harmony --db URL --schema SCHEMA ARGS…`` as a process (:func:`run_harmony`), two at a
    time (the box is shared)."""
    return partial(run_harmony, url, schema, limit=asyncio.Semaphore(2))


def ok(result: subprocess.CompletedProcess[str]) -> str:
    said = f"exit {result.returncode}, out {result.stdout!r}, err {result.stderr!r}"
    assert result.returncode == 0 and result.stderr == "", said
    assert "Traceback" not in result.stdout, said
    return result.stdout


def cells(text: str, first: str) -> list[str]:
    """The whitespace-split cells of the table row that starts with ``first``."""
    rows = [line.split() for line in text.splitlines() if line.split()[:1] == [first]]
    assert len(rows) == 1, text
    return rows[0]


# --------------------------------------------------------------------------- every command


async def test_every_list_command_reads_a_curio_cluster_and_changes_nothing(
    curio_db: CurioCluster, as_role: str, dump: Callable[[], Awaitable[SchemaDump]]
) -> None:
    assert curio_db.seed is not None
    seed = curio_db.seed
    sdr, porep, wdpost = seed.running
    tree_d, recover, metadata = seed.pending
    run = runner(as_role, curio_db.schema)
    before = await dump()
    commands = [
        ("task", "list"),
        ("task", "list", "--json"),
        ("task", "history", "--limit", "3"),
        ("task", "history", "--json"),
        ("task", "history", "--failed", "--json"),
        ("sectors", "list"),
        ("sectors", "list", "--json"),
        ("proving", "info"),
        ("proving", "info", "--json"),
        ("proving", "deadlines"),
        ("proving", "deadlines", "--json"),
        ("storage", "list"),
        ("storage", "list", "--json"),
        ("--read-only", "task", "list", "--json"),
    ]
    results = dict(zip(commands, await asyncio.gather(*(run(*c) for c in commands)), strict=True))
    assert (await dump()) == before  # structure and data byte-identical
    out = {c: ok(r) for c, r in results.items()}

    # task list: running first (the longest-queued first), then pending, then the task Curio
    # gave up on (its failed attempt is the last of id 1007, which no longer exists)
    tasks = json.loads(out[("task", "list", "--json")])
    assert [(t["id"], t["name"], t["state"]) for t in tasks] == [
        (porep, "PoRep", "running"),
        (sdr, "SDR", "running"),
        (wdpost, "WdPost", "running"),
        (tree_d, "TreeD", "pending"),
        (recover, "WdPostRecover", "pending"),
        (metadata, "SectorMetadata", "pending"),
        (1007, "PoRep", "failed"),
    ]
    assert tasks[0]["owner"] == "10.0.0.12:12300" and tasks[0]["retries"] == 1
    assert tasks[-1]["last_error"] == "error: computing snark: gpu out of memory"
    assert tasks[-1]["failed_at"] is not None and tasks[-1]["owner"] is None
    assert json.loads(out[("--read-only", "task", "list", "--json")]) == tasks
    text = out[("task", "list")]
    assert cells(text, str(sdr))[:4] == [str(sdr), "SDR", "running", "10.0.0.11:12300"]
    assert cells(text, "1007")[:3] == ["1007", "PoRep", "failed"]
    assert "Curio queue: 3 running, 3 pending (0 waiting out a retry), 1 given up" in text

    # task history: newest first, Curio's outcomes (a preemption is not a failure)
    history = json.loads(out[("task", "history", "--json")])
    assert [(h["task_id"], h["name"], h["outcome"]) for h in history] == [
        (1008, "WinPost", "done"),
        (1001, "SDR", "done"),
        (1007, "PoRep", "failed"),
        (1006, "PreCommitBatch", "done"),
        (1005, "SyntheticProofs", "done"),
        (1004, "TreeRC", "done"),
        (1003, "TreeRC", "preempted"),
        (1002, "TreeD", "done"),
    ]
    assert history[0]["completed_by_host_and_port"] == "10.0.0.13:12300"
    failed = json.loads(out[("task", "history", "--failed", "--json")])
    assert [(h["task_id"], h["err"]) for h in failed] == [
        (1007, "error: computing snark: gpu out of memory")
    ]
    text = out[("task", "history", "--limit", "3")]
    assert [line.split()[0] for line in text.splitlines()] == ["TASK", "1008", "1001", "1007"]
    assert cells(text, "1007")[1:3] == ["PoRep", "failed"]

    # sectors list: the pipeline's stages, the failed one with its reason, sealed sectors
    sectors = json.loads(out[("sectors", "list", "--json")])
    assert [(s["sector"], s["state"], s["on_chain"], s["active"]) for s in sectors] == [
        (1, "SDR", False, False),
        (2, "TreeD", False, False),
        (3, "PoRep", False, False),
        (4, "Failed", False, False),
        (5, "Proving", True, True),
        (100, "Proving", True, True),
        (101, "Proving", True, True),
    ]
    assert {s["miner"] for s in sectors} == {f"f0{SP_ID}"}
    assert sectors[3]["failed_reason"] == "precommit-check"
    assert sectors[3]["failed_reason_msg"] == "ticket expired"
    assert (sectors[5]["deadline"], sectors[5]["partition"], sectors[5]["expiration"]) == (
        100 % 48,
        0,
        1_600_000,
    )
    assert sectors[4]["in_pipeline"] is False  # done and moved: listed from sectors_meta
    text = out[("sectors", "list")]
    assert cells(text, "4")[1:3] == ["Failed:", "precommit-check"]
    assert cells(text, "100") == ["100", "Proving", "YES", "YES", "1600000", "4/0", "CC"]

    # proving info without a Lotus node: what Curio recorded, what is missing, exit 0
    info = json.loads(out[("proving", "info", "--json")])
    assert info["miner"] == f"f0{SP_ID}" and info["chain_state"] is False
    assert (info["live_sectors"], info["faults"], info["current_epoch"]) == (3, 0, None)
    assert info["recovering"] is None and info["deadline_index"] is None
    assert info["curio"]["period_start"] == 4320
    assert (info["curio"]["winning_attempts"], info["curio"]["winning_wins"]) == (2, 1)
    assert info["missing"] and "no chain state from a Lotus node" in info["missing"][0]
    assert "no Lotus API endpoint" in info["lotus_problem"]
    text = out[("proving", "info")]
    assert f"Miner: f0{SP_ID}" in text and "Current Epoch:           unknown" in text
    assert "not known: no chain state from a Lotus node" in text

    deadlines = json.loads(out[("proving", "deadlines", "--json")])
    assert len(deadlines) == 48
    live = {d["deadline"]: (d["partitions"], d["sectors"], d["faults"]) for d in deadlines}
    assert live[4] == (1, 1, 0) and live[5] == (1, 2, 0)  # sectors 100; 5 and 101
    assert sum(d["sectors"] for d in deadlines) == 3
    # Curio proved deadline 4's partition this period, scheduled 5's, declares 7's recovery
    assert (deadlines[4]["curio_submitted"], deadlines[4]["proven_partitions"]) == (1, 1)
    assert deadlines[5]["curio_scheduled"] == 1
    assert deadlines[7]["curio_recoveries_declared"] == 1
    assert all(d["open"] is None and d["current"] is None for d in deadlines)
    text = out[("proving", "deadlines")]
    assert cells(text, "5") == ["5", "-", "1", "2", "(0)", "0"]
    assert "open times need the chain head" in text

    # storage list: lotus-miner's layout from Curio's rows, the nodes' URLs
    paths = json.loads(out[("storage", "list", "--json")])
    seal_path, store_path = seed.storage_ids
    assert [p["storage_id"] for p in paths] == [store_path, seal_path]  # largest first
    store, seal = paths
    assert store["urls"] == ["http://10.0.0.11:12300/remote", "http://10.0.0.12:12300/remote"]
    assert store["counts"]["sealed"] == 3 and store["counts"]["cache"] == 3
    assert (seal["counts"]["sealed"], seal["counts"]["cache"]) == (1, 3)
    assert (seal["capacity"], seal["live_reserved"]) == (4 << 40, 200 << 30)
    assert seal["can_seal"] and not seal["can_store"] and seal["healthy"]
    text = out[("storage", "list")]
    blocks = text.split("\n\n")
    assert blocks[0].splitlines()[0] == f"{store_path}:"
    assert "\t[####################" in blocks[0] and " 40 TiB/100 TiB 40%" in blocks[0]
    assert (
        "\tUnsealed: 0; Sealed: 3; Caches: 3; Updated: 0; Update-caches: 0; Reserved: 0 B"
        in (blocks[0])
    )
    assert "\tWeight: 10; Use: Store" in blocks[0]
    assert blocks[0].endswith(
        "\tURL: http://10.0.0.11:12300/remote\n\tURL: http://10.0.0.12:12300/remote"
    )
    assert "Reserved: 200 GiB" in blocks[1] and "\tWeight: 10; Use: Seal" in blocks[1]


# --------------------------------------------------------------------------- Curio's semantics


async def test_task_list_applies_curios_retry_wait_and_filters(
    curio_db: CurioCluster, dump: Callable[[], Awaitable[SchemaDump]]
) -> None:
    """A requeued failure of a type with a RetryWait (MoveStorage: 2 << retries seconds) waits
    it out after update_time; a type with none (TreeD) is pending at once."""
    assert curio_db.seed is not None
    seal = next(iter(curio_db.seed.machines.values()))
    await owner_exec(
        curio_db,
        (
            "INSERT INTO harmony_task (id, name, added_by, posted_time, update_time, retries) "
            "VALUES (900, 'MoveStorage', $1, now() - interval '1 hour', now(), 3), "
            "(901, 'MoveStorage', $1, now() - interval '1 hour', now() - interval '1 hour', 3), "
            "(902, 'TreeD', $1, now() - interval '1 hour', now(), 3)",
            seal,
        ),
        (
            "INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, "
            "result, completed_by_host_and_port, err) VALUES (900, 'MoveStorage', "
            "now() - interval '1 hour', now() - interval '2 min', now() - interval '1 min', "
            "FALSE, '10.0.0.11:12300', 'error: moving: no space')",
        ),
    )
    run = runner(curio_db.url, curio_db.schema)
    before = await dump()
    everything, waiting, move, failed = await asyncio.gather(
        run("task", "list", "--json"),
        run("task", "list", "--state", "waiting", "--json"),
        run("task", "list", "--type", "MoveStorage", "--json"),
        run("task", "list", "--state", "failed"),
    )
    assert (await dump()) == before
    states = {t["id"]: t["state"] for t in json.loads(ok(everything))}
    assert (states[900], states[901], states[902]) == ("waiting", "pending", "pending")
    (only,) = json.loads(ok(waiting))
    assert only["id"] == 900 and only["last_error"] == "error: moving: no space"
    assert [t["id"] for t in json.loads(ok(move))] == [900, 901]
    text = ok(failed)
    assert [line.split()[0] for line in text.splitlines()[:2]] == ["ID", "1007"]
    assert "1 waiting out a retry" in text


async def test_a_failed_disk_check_and_a_heartbeat_error_show_in_storage_list(
    curio_db: CurioCluster,
) -> None:
    await owner_exec(
        curio_db,
        (
            "INSERT INTO storage_path (storage_id, urls, weight, max_storage, can_seal, "
            "can_store, groups, allow_to, allow_types, deny_types, capacity, available, "
            "fs_available, reserved, used, last_heartbeat, heartbeat_err, allow_miners, "
            "deny_miners) VALUES "
            "('dead-disk', 'http://10.0.0.13:12300/remote', 10, 0, FALSE, TRUE, '', '', '', "
            "'', 0, 0, 0, 0, 0, now(), NULL, '', ''), "
            "('erroring', 'http://10.0.0.13:12300/remote', 5, 0, FALSE, FALSE, '', '', "
            "'sealed,cache', '', 1, 1, 1, 0, 0, now(), 'stat /mnt/x: input/output error', "
            "'', '')",
        ),
    )
    result = await runner(curio_db.url, curio_db.schema)("storage", "list")
    blocks = {b.splitlines()[0]: b for b in ok(result).split("\n\n")}
    assert f"\tHealth: Error: {DISK_CHECK_FAILED}" in blocks["dead-disk:"]
    assert "\t(capacity unknown: no heartbeat yet)" in blocks["dead-disk:"]
    erroring = blocks["erroring:"]
    assert "\tHealth: Error: stat /mnt/x: input/output error" in erroring
    assert "\tUse: ReadOnly" in erroring and "\tAllow Types: sealed cache" in erroring


async def test_proving_reads_lotus_when_given_one(
    db: DB, curio_db: CurioCluster, dump: Callable[[], Awaitable[SchemaDump]]
) -> None:
    """``--lotus-api`` names ``harmony chain serve``'s server over a devnet chain whose first
    miner is f01000 too: head, deadline windows and the chain's counts are Lotus's."""
    config, _ = await init_chain(
        db, DEVNET, genesis=datetime(2026, 1, 1, tzinfo=UTC), seed=bytes(32)
    )
    miner = await create_miner(db, config, 2048, epoch=0)
    assert miner.sp_id == SP_ID
    await advance_chain(db, config, 130)
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        "precommit_epoch, deadline, \"partition\") VALUES ($1, 0, 'active', 'c', 'u', 1, 2, 0),"
        " ($1, 1, 'faulty', 'c', 'u', 1, 2, 0)",
        SP_ID,
    )
    token = secrets.token_hex(16)
    expected = miner.deadline(config, 130)
    run = runner(curio_db.url, curio_db.schema)
    before = await dump()
    async with ChainRpcServer(db, token, software="harmony-test") as rpc:
        ((host, port),) = await rpc.start("127.0.0.1", 0)
        api = f"{token}:/ip4/{host}/tcp/{port}/http"
        info, deadlines, text, table = await asyncio.gather(
            run("proving", "info", "--json", "--lotus-api", api),
            run("--lotus-api", api, "proving", "deadlines", "--json"),
            run("proving", "info", "--lotus-api", api),
            run("proving", "deadlines", "--lotus-api", api),
        )
    assert (await dump()) == before
    got = json.loads(ok(info))
    assert got["chain_state"] is True and got["missing"] == [] and got["lotus_problem"] is None
    assert got["miner"] == f"t0{SP_ID}"  # the node's network is a test network
    assert (got["current_epoch"], got["deadline_index"]) == (130, expected.index)
    assert (got["deadline_open"], got["deadline_close"]) == (expected.open, expected.close)
    assert (got["proving_period_start"], got["live_sectors"], got["faults"]) == (
        expected.period_start,
        2,
        1,
    )
    assert got["raw_power"] == 2048
    rows = json.loads(ok(deadlines))
    assert [r["deadline"] for r in rows if r["current"]] == [expected.index]
    assert (rows[2]["partitions"], rows[2]["sectors"], rows[2]["faults"]) == (1, 2, 1)
    assert rows[expected.index]["open_epoch"] == expected.open
    text_out = ok(text)
    assert "Current Epoch:           130" in text_out and "Faults:      1 (50.00%)" in text_out
    assert f"Deadline Index:       {expected.index}" in text_out and "not known" not in text_out
    current = cells(ok(table), str(expected.index))
    assert current[-1] == "(current)"
