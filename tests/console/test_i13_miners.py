"""The Miners pane (key 7) and ``harmony miner info``, like ``lotus-miner info``: one definition
(:func:`engine.snapshot.miners.miner_infos`) for both, held equal on one seeded cluster."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.text import Text
from textual.widgets import Static

from console.fixture import FIXED_NOW
from console.screenshots import fixture_app, settle
from console.widgets.keyed_table import KeyedTable
from engine.chain import DEVNET, MAINNET, advance_chain, create_miner, init_chain
from engine.chain.rpc_server import ChainRpcServer
from engine.harmonydb import DB, parse_url
from engine.snapshot import SnapshotReader
from engine.snapshot.curio import CurioSnapshotReader
from engine.snapshot.miners import info_lines, miner_infos
from support.cli import harmony
from support.curio_schema import CurioCluster, curio_cluster
from support.probe import wait_until


def _rows(app: Any) -> dict[str, list[str]]:
    table = app.query_one("#miners-table", KeyedTable)
    return {key: [c.plain for c in table.get_row(key)] for key in table.keys}


async def test_miners_show_power_sectors_blocks_and_a_ticking_deadline_at_80x24(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("7")
        text = await shows(app, pilot, "2 miners", "Miner: t01000")
        infos = {str(i.sp_id): i for i in miner_infos(app.snapshot, FIXED_NOW)}
        rows = _rows(app)
        assert set(rows) == {"1000", "1001"}
        one = infos["1000"]
        # power by the devnet chain's rule: sector size x active sectors
        assert one.raw_power == one.qa_power == one.sector_size * one.active > 0
        assert rows["1000"][0] == "t01000" and rows["1000"][5] == str(one.faulty)
        # every column through Next DL fits 80 columns; the summary below is the CLI's lines
        header = next(line for line in text.splitlines() if "Next DL" in line)
        assert header.rstrip().endswith("Next DL")
        summary = app.query_one("#miners-info", Static).content
        assert isinstance(summary, Text)
        assert summary.plain == "\n".join(info_lines(one, FIXED_NOW))
        assert "Miner: t01000 (32 GiB sectors)" in text
        assert one.next_deadline is not None
        before = rows["1000"][-1]
        app.clock.advance(5)
        app._tick()
        await pilot.pause()
        after = _rows(app)["1000"][-1]
        assert before != after and before.split()[0] == after.split()[0]
        # a new sector starts sealing: the next refresh counts it (the pipeline's summary is
        # re-read while the Miners pane shows it)
        await cluster.exec(
            "INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, create_time, reg_seal_proof)"
            " VALUES (1000, 1013, '2026-01-01 11:59:00+00', 8)"
        )
        sealing = int(rows["1000"][3])
        app.refresh_now()
        await wait_until(lambda: _rows(app)["1000"][3] == str(sealing + 1), 10, "the new sector")


async def test_miners_at_160x48(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(160, 48)) as pilot:
        await first_render(app, pilot)
        await pilot.press("7")
        text = await shows(app, pilot, "2 miners", "WinningPoSt (24 h)")
        assert "Deadline: " in text and "quality-adjusted" in text
        # from 160 columns the selected miner's summary stands beside the table
        header = next(line for line in text.splitlines() if "Next DL" in line)
        assert "Miner: t01000 (32 GiB sectors)" in header


async def test_miners_in_curio_mode_say_power_is_not_known_without_lotus(
    pg_url: str, shows: Any, monkeypatch: Any
) -> None:
    monkeypatch.delenv("FULLNODE_API_INFO", raising=False)
    async with curio_cluster(pg_url, at=FIXED_NOW) as cluster:
        app = fixture_app(cluster.url, cluster.schema)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("7")
            text = await shows(app, pilot, "1 miner", "Miner: f01000")
            assert "power not known" in text
            assert "Power: not known raw, not known quality-adjusted" in text
            assert _rows(app)["1000"][1:3] == ["?", "?"]
            assert "Deadline: not known" in text


async def _seeded_chain(db: DB) -> None:
    """A mainnet-profile chain whose current deadline opened 15 minutes ago (the CLI process
    and the test agree on it), a miner with active, faulty and recovering sectors, three
    sectors in the pipeline, and WinningPoSt rows."""
    now = datetime.now(UTC)
    genesis = now.replace(microsecond=0) - timedelta(days=1)
    config, _ = await init_chain(db, MAINNET, genesis=genesis)
    epoch = config.epoch_at(now)
    miner = await create_miner(db, config, 2048, epoch=epoch - 100)
    info = miner.deadline(config, epoch)
    shift = config.time_of(info.open) - (now - timedelta(minutes=15))
    await db.exec("UPDATE chain_config SET genesis_time = $1 WHERE id = 1", genesis - shift)
    nxt = (info.index + 2) % 48
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, deadline, "partition") '
        "SELECT 1000, n, s, 's', 'u', 1, $3, 0 "
        "FROM unnest($1::bigint[], $2::text[]) AS t(n, s)",
        [1, 2, 3, 4],
        ["active", "active", "faulty", "recovering"],
        nxt,
    )
    await db.exec(
        "INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, create_time, reg_seal_proof, "
        "after_sdr, failed) VALUES (1000, 10, $1, 0, false, false), "
        "(1000, 11, $1, 0, true, false), (1000, 12, $1, 0, false, true)",
        now - timedelta(hours=1),
    )
    await db.exec(
        "INSERT INTO mining_tasks (task_id, sp_id, epoch, base_compute_time, won, included) "
        "SELECT 5000 + g, 1000, $1 - g, $2, g % 2 = 0, CASE WHEN g = 4 THEN false END "
        "FROM generate_series(1, 8) AS g",
        epoch,
        now - timedelta(minutes=10),
    )


async def test_miner_info_and_the_miners_pane_share_every_figure(db: DB) -> None:
    await _seeded_chain(db)
    now = datetime.now(UTC)
    snap = await SnapshotReader(db).snapshot(now, lists={"miners"})
    (info,) = miner_infos(snap, now)
    assert (info.live, info.active, info.faulty, info.recovering) == (4, 2, 2, 1)
    assert info.raw_power == info.qa_power == 2 * 2048
    assert (info.elections, info.blocks_won, info.blocks_missed) == (8, 4, 1)
    assert info.win_rate == 0.5
    assert (info.sealing, info.sealing_failed) == (2, 1)
    assert info.next_deadline is not None

    out = await harmony(db, "miner", "info", "--json")
    assert out.returncode == 0, out.stderr
    (cli,) = json.loads(out.stdout)
    assert cli == info.figures()

    text = await harmony(db, "miner", "info", "t01000")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    # the same wording as the pane's summary (the countdown moved on: compare up to it)
    expected = info_lines(info, now)
    assert lines[:-1] == expected[:-1]
    assert lines[-1].split(" in ")[0] == expected[-1].split(" in ")[0]
    missing = await harmony(db, "miner", "info", "t09999")
    assert missing.returncode != 0 and "no miner t09999" in missing.stderr


async def test_miner_info_on_a_curio_cluster_matches_the_read_model(pg_url: str) -> None:
    """Without a Lotus node: power not known (null), the rest as the Curio read model has it."""
    async with curio_cluster(pg_url) as cluster:
        db = await DB.open(cluster.url, schema=cluster.schema, migrate=False, read_only=True)
        try:
            argv = ["--db", db.url.dsn, "--schema", cluster.schema, "miner", "info", "--json"]
            out = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "console", *argv],
                capture_output=True,
                text=True,
                timeout=60,
                cwd="/",
                env={k: v for k, v in os.environ.items() if k != "FULLNODE_API_INFO"},
            )
            now = datetime.now(UTC)
            snap = await CurioSnapshotReader(db).snapshot(now, lists={"miners"})
        finally:
            await db.close()
    assert out.returncode == 0, out.stderr
    (cli,) = json.loads(out.stdout)
    (info,) = miner_infos(snap, now)
    assert cli == info.figures()
    assert cli["miner"] == "f01000" and cli["raw_power"] is None and cli["qa_power"] is None
    assert cli["sealing"] == info.sealing > 0


LOTUS_TOKEN = "miner-info-e2e-token-0123456789"


async def test_miner_info_on_a_curio_cluster_takes_power_from_lotus(
    db: DB, curio_db: CurioCluster
) -> None:
    """With ``--lotus-api`` (here ``harmony chain serve``'s server over a devnet whose first
    miner is f01000, as Curio's): raw and quality-adjusted power are Lotus's StateMinerPower."""
    head = 130
    genesis = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=head * DEVNET.block_time)
    config, _ = await init_chain(db, DEVNET, genesis=genesis, seed=bytes(32))
    await create_miner(db, config, 2048, epoch=0)
    await advance_chain(db, config, head)
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        "precommit_epoch, deadline, \"partition\") VALUES (1000, 0, 'active', 'c', 'u', 1, 2, 0),"
        " (1000, 1, 'active', 'c', 'u', 1, 2, 0), (1000, 2, 'faulty', 'c', 'u', 1, 2, 0)"
    )
    async with ChainRpcServer(db, LOTUS_TOKEN, software="harmony-test") as rpc:
        ((host, port),) = await rpc.start("127.0.0.1", 0)
        dsn = parse_url(curio_db.url).dsn
        argv = ["--db", dsn, "--schema", curio_db.schema, "miner", "info", "--json"]
        argv += ["--lotus-api", f"{LOTUS_TOKEN}:/ip4/{host}/tcp/{port}/http"]
        out = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "console", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
    assert out.returncode == 0, out.stderr
    (cli,) = json.loads(out.stdout)
    assert cli["raw_power"] == cli["qa_power"] == 2 * 2048
    assert cli["current_deadline"] is not None


async def test_a_block_won_shows_at_the_next_refresh_while_miners_are_shown(db: DB) -> None:
    """The pane says what ``miner info`` says at every refresh (the WinningPoSt counts were
    kept for 30 s: the pane showed 20 elections while the CLI said 21)."""
    await _seeded_chain(db)
    reader = SnapshotReader(db)
    now = datetime.now(UTC)
    (before,) = miner_infos(await reader.snapshot(now, lists={"miners"}), now)
    epoch = await db.query_value("SELECT max(epoch) FROM mining_tasks")
    await db.exec(
        "INSERT INTO mining_tasks (task_id, sp_id, epoch, base_compute_time, won, included) "
        "VALUES (6000, 1000, $1, $2, true, NULL)",
        epoch + 1,
        now,
    )
    later = now + timedelta(seconds=2)
    (after,) = miner_infos(await reader.snapshot(later, lists={"miners"}), later)
    assert (after.elections, after.blocks_won) == (before.elections + 1, before.blocks_won + 1)
