"""Curio's alert checks, evaluated live and read-only (:func:`evaluate_live`): each condition
made real in a Curio-shaped schema's rows as Curio's Go code writes them, the alert found, then
gone once the condition is fixed.

The checks that need the chain read it from ``harmony chain serve``'s server (the devnet as the
Lotus API; its first miner is f01000, the Curio seed's miner too) through the console's
:class:`ChainWatch`: a deadline closed without a landed proof (Curio's ``wdpost_proofs`` and
``message_waits``), sectors declared recovering, a Lotus node behind the chain or not
answering. Without a node they are not evaluated, and ``harmony alerts list`` says so.

Rows are written through a plain asyncpg connection as the schema's owner (harmony's DB refuses
to write to a Curio cluster). The fixture leaves ``message_waits`` out; :func:`message_waits`
creates it as Curio's migrations leave it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from console.cli import build_parser
from engine.alerts import Alert, evaluate_live
from engine.chain import DEVNET, advance_chain, create_miner, init_chain
from engine.chain.config import ChainConfig
from engine.chain.miners import Miner
from engine.chain.rpc_server import ChainRpcServer
from engine.harmonydb import DB
from engine.lotus import ApiInfo
from engine.snapshot.curio import CurioSnapshotReader
from engine.snapshot.curio.chain import ChainState, ChainWatch
from support.curio_read import curio_session, owner, owner_exec, select_only
from support.curio_schema import SP_ID, CurioCluster

TOKEN = "curio-alerts-token-0123456789abcdef"
#: the devnet's head in these tests (two proving periods and more: the periods have started)
HEAD = 1000

#: Curio's message watcher recording a landed message (tasks/message/watch.go)
LANDED = (
    "UPDATE message_waits SET waiter_machine_id = NULL, executed_tsk_cid = $2, "
    "executed_tsk_epoch = $3, executed_msg_cid = $1, executed_rcpt_exitcode = $4, "
    "executed_rcpt_gas_used = 1000000 WHERE signed_message_cid = $1"
)


async def live(cluster: CurioCluster, chain: ChainState | None = None) -> list[Alert]:
    async with curio_session(cluster, read_only=True) as db:
        return await evaluate_live(db, chain=chain)


def found(alerts: list[Alert], check: str, subject: str | None = None) -> list[Alert]:
    return [a for a in alerts if a.check == check and subject in (None, a.subject)]


def checks_listed(out: str) -> set[str]:
    """The CHECK column of ``harmony alerts list``'s table (ID, SEVERITY, STATE, CHECK, …)."""
    return {line.split()[3] for line in out.splitlines() if line.startswith("-   ")}


# ------------------------------------------------------------------- Curio's tables alone


async def test_a_task_failed_for_good_alerts_until_it_is_out_of_the_window(
    curio_db: CurioCluster,
) -> None:
    # a Finalize attempt fails and Curio retries it: not failed for good yet
    await owner_exec(
        curio_db,
        (
            "INSERT INTO harmony_task (id, name, added_by, posted_time, retries) "
            "VALUES (5001, 'Finalize', 1, now() - interval '5 minutes', 1)",
        ),
        (
            "INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, "
            "result, completed_by_host_and_port, err) VALUES (5001, 'Finalize', "
            "now() - interval '5 minutes', now() - interval '4 minutes', "
            "now() - interval '3 minutes', FALSE, '10.0.0.11:12300', "
            "'error: finalizing: cache file missing')",
        ),
    )
    assert found(await live(curio_db), "task-failed", "Finalize") == []
    # its last retry fails too: Curio deletes the task
    await owner_exec(curio_db, ("DELETE FROM harmony_task WHERE id = 5001",))
    (alert,) = found(await live(curio_db), "task-failed", "Finalize")
    assert alert.severity == "critical" and alert.links["task_ids"] == [5001]
    assert "cache file missing" in alert.message
    assert "/pages/task/?name=Finalize" in alert.message and "Resume All" in alert.message
    # half an hour on (Curio's FullAlertInterval), the failure is out of the window
    await owner_exec(
        curio_db,
        (
            "UPDATE harmony_task_history SET work_end = work_end - interval '31 minutes' "
            "WHERE task_id = 5001",
        ),
    )
    assert found(await live(curio_db), "task-failed", "Finalize") == []


async def test_a_path_whose_disk_check_fails_alerts_until_its_heartbeat_is_good(
    curio_db: CurioCluster,
) -> None:
    seed = curio_db.seed
    assert seed is not None
    store = seed.storage_ids[1]
    assert found(await live(curio_db), "storage-path", store) == []
    await owner_exec(
        curio_db,
        (
            "UPDATE storage_path SET heartbeat_err = 'statfs /mnt/store: input/output error', "
            "last_heartbeat = now() WHERE storage_id = $1",
            store,
        ),
    )
    (alert,) = found(await live(curio_db), "storage-path", store)
    assert "disk check failed" in alert.message and "Fix the disk or mount" in alert.message
    await owner_exec(
        curio_db,
        (
            "UPDATE storage_path SET heartbeat_err = NULL, last_heartbeat = now() - "
            "interval '1 hour' WHERE storage_id = $1",
            store,
        ),
    )
    (stale,) = found(await live(curio_db), "storage-path", store)
    assert "heartbeat is stale" in stale.message and "storage detach" in stale.message
    await owner_exec(
        curio_db,
        ("UPDATE storage_path SET last_heartbeat = now() WHERE storage_id = $1", store),
    )
    assert found(await live(curio_db), "storage-path", store) == []


async def test_store_space_short_of_the_sectors_being_sealed(curio_db: CurioCluster) -> None:
    assert found(await live(curio_db), "storage-space") == []
    # three 32 GiB sectors still to move to storage need 3 x (64 GiB + 200 MiB)
    await owner_exec(
        curio_db, ("UPDATE storage_path SET available = 100::bigint << 30 WHERE can_store",)
    )
    (alert,) = found(await live(curio_db), "storage-space")
    assert "2 of 3 do not fit" in alert.message
    assert "storage attach --store" in alert.message
    await owner_exec(
        curio_db, ("UPDATE storage_path SET available = 60::bigint << 40 WHERE can_store",)
    )
    assert found(await live(curio_db), "storage-space") == []


async def test_faulty_sectors_alert_until_curio_records_them_proven(curio_db: CurioCluster) -> None:
    assert found(await live(curio_db), "sectors-faulty") == []
    # Curio's SectorMetadata crawl finds sector 101 in its partition's FaultySectors
    await owner_exec(
        curio_db,
        ("UPDATE sectors_meta SET is_faulty = TRUE WHERE sp_id = $1 AND sector_num = 101", SP_ID),
    )
    (alert,) = found(await live(curio_db), "sectors-faulty", "t01000")
    assert alert.links["sectors"] == [101]
    assert "curio cli storage find f01000 SECTOR" in alert.message
    assert "/pages/sector/?sp=f01000&id=101" in alert.message
    await owner_exec(
        curio_db,
        ("UPDATE sectors_meta SET is_faulty = FALSE WHERE sp_id = $1 AND sector_num = 101", SP_ID),
    )
    assert found(await live(curio_db), "sectors-faulty") == []


async def test_a_live_sector_without_a_sealed_file(curio_db: CurioCluster) -> None:
    assert found(await live(curio_db), "sector-no-file") == []
    await owner_exec(
        curio_db,
        (
            "DELETE FROM sector_location WHERE miner_id = $1 AND sector_num = 100 "
            "AND sector_filetype = 2",
            SP_ID,
        ),
    )
    (alert,) = found(await live(curio_db), "sector-no-file", "t01000")
    assert alert.links["sectors"] == [100] and "storage redeclare" in alert.message
    assert curio_db.seed is not None
    await owner_exec(
        curio_db,
        (
            "INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id, "
            "is_primary) VALUES ($1, 100, 2, $2, TRUE)",
            SP_ID,
            curio_db.seed.storage_ids[1],
        ),
    )
    assert found(await live(curio_db), "sector-no-file") == []


async def test_a_won_block_not_included_and_a_winningpost_gap(curio_db: CurioCluster) -> None:
    alerts = await live(curio_db)
    assert found(alerts, "block-not-included") == found(alerts, "winpost-gap") == []
    # Curio's inclusion check finds the block of epoch 4499 not in the chain
    await owner_exec(curio_db, ("UPDATE mining_tasks SET included = FALSE WHERE epoch = 4499",))
    (alert,) = found(await live(curio_db), "block-not-included", "t01000 epoch 4499")
    assert "bafy2bzaceblock4499" in alert.message and "lotus sync status" in alert.message
    await owner_exec(curio_db, ("UPDATE mining_tasks SET included = TRUE WHERE epoch = 4499",))
    assert found(await live(curio_db), "block-not-included") == []
    # ten minutes without a WinningPoSt task (one per epoch is expected)
    await owner_exec(
        curio_db,
        ("UPDATE mining_tasks SET base_compute_time = base_compute_time - interval '10 minutes'",),
    )
    (gap,) = found(await live(curio_db), "winpost-gap", "t01000")
    assert "/pages/task/?name=WinPost" in gap.message
    await owner_exec(
        curio_db,
        (
            "INSERT INTO mining_tasks (task_id, sp_id, epoch, base_compute_time, won) "
            "VALUES (5101, $1, 4520, now(), FALSE)",
            SP_ID,
        ),
    )
    assert found(await live(curio_db), "winpost-gap") == []


async def test_a_message_pending_for_more_than_an_hour(curio_db: CurioCluster) -> None:
    cid = "bafy2bzacestuckmessage"
    await owner_exec(
        curio_db,
        (
            "INSERT INTO message_waits (signed_message_cid, created_at) "
            "VALUES ($1, now() - interval '20 minutes')",
            cid,
        ),
    )
    assert found(await live(curio_db), "message-stuck") == []
    await owner_exec(
        curio_db,
        (
            "UPDATE message_waits SET created_at = created_at - interval '1 hour' "
            "WHERE signed_message_cid = $1",
            cid,
        ),
    )
    (alert,) = found(await live(curio_db), "message-stuck")
    assert cid in alert.message and "lotus mpool replace --auto CID" in alert.message
    await owner_exec(curio_db, (LANDED, cid, "bafy2bzacetipset", 4600, 0))
    assert found(await live(curio_db), "message-stuck") == []


async def test_a_message_pending_under_a_database_zone_east_of_utc(
    curio_db: CurioCluster,
) -> None:
    """Curio stores ``created_at`` as the UTC wall clock through its session's zone, and reads
    the wall clock back as UTC (alertmanager's pendingMessagesCheck). Where the database's
    zone is UTC+8, a message Curio just sent is stored as an instant 8 hours old: read as an
    instant, it was stuck at once. Read as Curio reads it, it is stuck after the hour."""
    cid = "bafy2bzacestuckeast"
    zone = "Asia/Shanghai"
    async with select_only(curio_db) as url:
        role = url.split("://", 1)[1].split(":", 1)[0]
        async with owner(curio_db) as conn:
            # the zone the database gives a session that names none (as Curio's do)
            await conn.execute(f"ALTER ROLE {role} SET timezone = '{zone}'")
            async with conn.transaction():
                await conn.execute(f"SET LOCAL timezone = '{zone}'")
                await conn.execute(
                    "INSERT INTO message_waits (signed_message_cid) VALUES ($1)", cid
                )  # created_at by Curio's own default
            stored_age = await conn.fetchval(
                "SELECT now() - created_at FROM message_waits WHERE signed_message_cid = $1", cid
            )
        assert stored_age > timedelta(hours=7)  # the instant as stored: 8 hours back

        async def pending() -> list[Alert]:
            async with curio_session(curio_db, url=url, read_only=True) as db:
                assert await db.default_timezone() == zone
                return found(await evaluate_live(db), "message-stuck")

        assert await pending() == []
        await owner_exec(
            curio_db,
            (
                "UPDATE message_waits SET created_at = created_at - interval '61 minutes' "
                "WHERE signed_message_cid = $1",
                cid,
            ),
        )
        (alert,) = await pending()
        assert cid in alert.message


# -------------------------------------------------------------------- with the Lotus node


async def devnet(db: DB, *, behind: float = 0.0) -> tuple[ChainConfig, Miner]:
    """The devnet with f01000 and its head at HEAD, made ``behind`` seconds before now."""
    genesis = datetime.now(UTC) - timedelta(seconds=HEAD * DEVNET.block_time + behind)
    config, _ = await init_chain(db, DEVNET, genesis=genesis, seed=bytes(32))
    miner = await create_miner(db, config, 2048, epoch=0)
    assert miner.sp_id == SP_ID
    await advance_chain(db, config, HEAD)
    return config, miner


async def add_sectors(db: DB, deadline: int, states: dict[int, str]) -> None:
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, deadline, "partition") '
        "SELECT $1, n, s, 'c', 'u', 1, $2, 0 FROM unnest($3::bigint[], $4::text[]) AS t(n, s)",
        SP_ID,
        deadline,
        list(states),
        list(states.values()),
    )


@pytest.fixture
async def lotus(db: DB) -> AsyncIterator[tuple[ChainRpcServer, ChainWatch]]:
    """``harmony chain serve``'s server on ``db``'s devnet, and a watch following f01000."""
    async with ChainRpcServer(db, TOKEN, software="harmony-test") as rpc:
        ((host, port),) = await rpc.start("127.0.0.1", 0)
        watch = ChainWatch(ApiInfo(f"http://{host}:{port}/rpc/v1", TOKEN), interval=15)
        watch.follow([SP_ID])
        try:
            yield rpc, watch
        finally:
            await watch.close()


async def test_a_deadline_closed_without_a_landed_proof(
    db: DB, curio_db: CurioCluster, lotus: tuple[ChainRpcServer, ChainWatch]
) -> None:
    _, watch = lotus
    config, miner = await devnet(db)
    info = miner.deadline(config, HEAD)
    # the deadline before the last one closed (at least 5 epochs ago: Curio's finality buffer)
    closed = (info.index - 2) % 48
    pps = info.period_start - (config.profile.wpost_proving_period if info.index < 2 else 0)
    await add_sectors(db, closed, {0: "active", 1: "active"})
    chain = await watch.refresh()
    assert chain.ok
    subject = f"t01000 dl{closed} p0"

    async def missed() -> list[Alert]:
        return found(await live(curio_db, chain), "wdpost-missed", subject)

    (alert,) = await missed()
    assert alert.severity == "critical"
    assert alert.links == {"miner": SP_ID, "deadline": closed, "partition": 0}
    assert "no WindowPoSt proof was recorded" in alert.message
    assert f"/pages/partition/?sp=f01000&deadline={closed}&partition=0" in alert.message
    # Curio's WdPost task computed the proof, its WdPostSubmit sent it: not landed yet
    cid = "bafy2bzacewdpostlate"
    await owner_exec(
        curio_db,
        (
            "INSERT INTO wdpost_proofs (sp_id, proving_period_start, deadline, partition, "
            "submit_at_epoch, submit_by_epoch, proof_params, submit_task_id) "
            "VALUES ($1, $2, $3, 0, $4, $5, '\\x8200', 6001)",
            SP_ID,
            pps,
            closed,
            info.open - 20,
            info.open - 10,
        ),
        ("UPDATE wdpost_proofs SET message_cid = $1 WHERE submit_task_id = 6001", cid),
        ("INSERT INTO message_waits (signed_message_cid) VALUES ($1)", cid),
    )
    (alert,) = await missed()
    assert f"its message {cid} has not landed" in alert.message
    # it landed and failed
    await owner_exec(curio_db, (LANDED, cid, "bafy2bzacetipset", info.open - 12, 16))
    (alert,) = await missed()
    assert "with exit code 16" in alert.message
    # it landed and succeeded: nothing missed
    await owner_exec(curio_db, (LANDED, cid, "bafy2bzacetipset", info.open - 12, 0))
    assert await missed() == []
    # another period's proof of the same deadline does not count for this one
    await owner_exec(
        curio_db,
        (
            "UPDATE wdpost_proofs SET proving_period_start = proving_period_start - $1 "
            "WHERE submit_task_id = 6001",
            config.profile.wpost_proving_period,
        ),
    )
    assert len(await missed()) == 1


async def test_recovering_sectors_alert_until_proven(
    db: DB, curio_db: CurioCluster, lotus: tuple[ChainRpcServer, ChainWatch]
) -> None:
    _, watch = lotus
    config, miner = await devnet(db)
    # a deadline whose last proof counted them all
    dl = (miner.deadline(config, HEAD).index + 10) % 48
    await add_sectors(db, dl, {0: "active", 1: "faulty", 2: "recovering", 3: "recovering"})
    (alert,) = found(await live(curio_db, await watch.refresh()), "sectors-recovering", "t01000")
    assert alert.severity == "warning" and alert.links == {"miner": SP_ID, "deadline": dl}
    assert "2 sector(s) declared recovering (of 3 faulty)" in alert.message
    # the deadline's proof included them: active again
    await db.exec(
        "UPDATE chain_sectors SET state = 'active' WHERE sp_id = $1 AND state = 'recovering'",
        SP_ID,
    )
    assert found(await live(curio_db, await watch.refresh()), "sectors-recovering") == []


async def test_a_lotus_node_behind_the_chain_then_caught_up_then_gone(
    db: DB, curio_db: CurioCluster, lotus: tuple[ChainRpcServer, ChainWatch]
) -> None:
    rpc, watch = lotus
    config, _ = await devnet(db, behind=600)
    (alert,) = found(await live(curio_db, await watch.refresh()), "lotus-behind")
    assert alert.severity == "critical" and f"head, epoch {HEAD}," in alert.message
    assert "behind" in alert.message and "lotus sync status" in alert.message
    # it catches up (and a minute more, so a slow machine between here and the read is fine)
    await advance_chain(db, config, config.epoch_at(datetime.now(UTC)) + 30)
    assert found(await live(curio_db, await watch.refresh()), "lotus-behind") == []
    # the node goes away: nothing from it can be judged, and the alert says so
    await rpc.stop()
    chain = await watch.refresh()
    assert chain.error is not None
    (gone,) = found(await live(curio_db, chain), "lotus-behind")
    assert "does not answer" in gone.message
    assert "wdpost-missed, sectors-recovering and lotus-behind cannot be evaluated" in (
        gone.message
    )


async def test_the_console_reader_evaluates_them_once_lotus_answers(
    db: DB, curio_db: CurioCluster, lotus: tuple[ChainRpcServer, ChainWatch]
) -> None:
    _, watch = lotus
    await devnet(db, behind=600)
    async with curio_session(curio_db, read_only=True) as curio_db:
        reader = CurioSnapshotReader(curio_db, chain=watch)
        now = datetime.now(UTC)
        first = await reader.snapshot(now)  # the watch has read nothing yet
        assert found(list(first.alerts.alerts), "lotus-behind") == []
        assert first.alerts.not_evaluated is not None
        assert "need a Lotus node" in first.alerts.not_evaluated
        await watch.refresh()
        # one second on: long before the 30 s re-evaluation, but Lotus's state is new
        snap = await reader.snapshot(now + timedelta(seconds=1))
    assert snap.alerts.not_evaluated is None
    (alert,) = found(list(snap.alerts.alerts), "lotus-behind")
    assert snap.alerts.counts[alert.severity] >= 1


async def test_without_lotus_they_are_not_evaluated_and_the_cli_says_so(
    db: DB,
    curio_db: CurioCluster,
    lotus: tuple[ChainRpcServer, ChainWatch],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("FULLNODE_API_INFO", raising=False)
    rpc, _ = lotus
    await devnet(db, behind=600)
    names = {"wdpost-missed", "sectors-recovering", "lotus-behind"}
    assert not names & {a.check for a in await live(curio_db)}

    async def cli(*args: str) -> Any:
        argv = ["--db", curio_db.url, "--schema", curio_db.schema, "alerts", "list", *args]
        parsed = build_parser().parse_args(argv)
        assert await parsed.run(parsed) == 0
        return capsys.readouterr()

    said = await cli()
    assert (
        "wdpost-missed, sectors-recovering and lotus-behind not evaluated: they need a Lotus "
        "node (no Lotus API endpoint: give --lotus-api" in said.out
    )
    assert "lotus-behind" not in checks_listed(said.out)
    counted = await cli("--count", "--json")
    assert "not evaluated: they need a Lotus node" in counted.err
    (host, port), *_ = rpc.addresses
    api = f"{TOKEN}:/ip4/{host}/tcp/{port}/http"
    with_lotus = await cli("--lotus-api", api)
    assert "not evaluated" not in with_lotus.out
    assert "lotus-behind" in checks_listed(with_lotus.out)
