"""Sector expirations per miner (issue 16): the Miners pane's "Expiring" line and ``harmony
sectors expirations`` read one definition (:mod:`engine.snapshot.expirations`), held equal on
a seeded devnet and on a Curio cluster (``sectors_meta``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from rich.text import Text
from textual.widgets import Static

from console.cli import build_parser
from engine.chain import DEVNET, advance_chain, create_miner, init_chain
from engine.harmonydb import DB, parse_url
from engine.snapshot import SnapshotReader
from engine.snapshot.curio import CurioSnapshotReader
from engine.snapshot.expirations import expiration_line
from support.curio_schema import curio_cluster

HEAD = 200
DAY = DEVNET.epochs_per_day  # 480: a devnet day is one proving period

#: (number, state, expiration, termination): bounds far from the buckets' edges, so a head a
#: few epochs on would place them alike
SECTORS = [
    (1, "active", HEAD + 10, None),  # within a day (the soonest)
    (2, "faulty", HEAD + 300, None),  # within a day: faulty sectors expire too
    (3, "recovering", HEAD + DAY + 200, None),  # within 7 days
    (4, "active", HEAD + 7 * DAY + 200, None),  # within 30 days
    (5, "active", HEAD + 31 * DAY, None),  # later
    (6, "active", None, None),  # live, no expiration recorded
    (7, "terminated", HEAD - 5, "expired"),  # expired on time
    (8, "terminated", HEAD + 50, "faulty"),  # terminated early: not an expiration
    (9, "precommitted", HEAD + 20, None),  # not on chain yet
]


async def _seed(db: DB) -> None:
    genesis = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=HEAD * 2)
    config, _ = await init_chain(db, DEVNET, genesis=genesis, seed=bytes(32))
    await create_miner(db, config, 2048, epoch=0)
    await advance_chain(db, config, HEAD)
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, expiration_epoch, termination, deadline, "partition") '
        "SELECT 1000, n, s, 'c', 'u', 1, e, t, 3, 0 "
        "FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS x(n, s, e, t)",
        *[list(column) for column in zip(*SECTORS, strict=True)],
    )


async def expirations(capsys: pytest.CaptureFixture[str], dsn: str, schema: str, *more: str) -> str:
    """``harmony sectors expirations`` run in this process (its parser and command): stdout."""
    capsys.readouterr()
    argv = ["--db", dsn, "--schema", schema, "sectors", "expirations", *more]
    args = build_parser().parse_args(argv)
    assert await args.run(args) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


async def test_the_cli_and_the_miners_pane_place_sectors_in_the_same_buckets(
    db: DB,
    console_app: Any,
    first_render: Any,
    shows: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _seed(db)
    snap = await SnapshotReader(db).snapshot(datetime.now(UTC), lists={"miners"})
    buckets = snap.expirations.miner(1000)
    assert buckets is not None and snap.expirations.head_epoch == HEAD
    assert buckets.figures() == {
        "sp_id": 1000,
        "within_1_day": 2,
        "within_7_days": 1,
        "within_30_days": 1,
        "later": 1,
        "unknown": 1,
        "expired": 1,
        "soonest_epoch": HEAD + 10,
    }
    line = expiration_line(snap.expirations, 1000)
    assert line == (
        f"Expiring: 2 ≤1d, 1 ≤7d, 1 ≤30d, 1 later, 1 unknown; soonest epoch {HEAD + 10} "
        "(in 20s); 1 expired"
    )
    cli = json.loads(await expirations(capsys, db.url.dsn, db.schema, "--json"))
    assert cli["head_epoch"] == HEAD and cli["epochs_per_day"] == DAY
    assert cli["miners"] == [buckets.figures()]
    text = await expirations(capsys, db.url.dsn, db.schema, "--miner", "t01000")
    assert f"t01000: {line}" in text.splitlines()
    assert f"at epoch {HEAD}; a day is {DAY} epochs" in text

    # the pane: below the selected miner's summary, the same line, complete at 80x24
    app = console_app(db.url.dsn, db.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("7")
        screen = await shows(app, pilot, "Miner: t01000", "Expiring: 2 ≤1d")
        section = app.query_one("#miners-expirations", Static).content
        assert isinstance(section, Text) and section.plain == line
        assert "1 expired" in screen  # the line's end is on screen: nothing cut at 80x24


async def test_curio_expirations_come_from_sectors_meta(
    pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a Lotus node the head is Curio's newest WinningPoSt round (epoch 4500, 70 s
    ago: 4502); the CLI and the Curio read model agree."""
    monkeypatch.delenv("FULLNODE_API_INFO", raising=False)
    async with curio_cluster(pg_url) as cluster:
        conn = await asyncpg.connect(parse_url(cluster.url).dsn)
        try:
            # sector 100 expires within a day of the head, 101 is no longer live past its
            # expiration (it expired); 5 stays at the seed's 1,600,000 (later)
            await conn.execute(
                f'UPDATE "{cluster.schema}".sectors_meta SET expiration_epoch = CASE sector_num '
                "WHEN 100 THEN 5000 WHEN 101 THEN 4000 ELSE expiration_epoch END, "
                "is_live = sector_num <> 101"
            )
        finally:
            await conn.close()
        db = await DB.open(cluster.url, schema=cluster.schema, migrate=False, read_only=True)
        try:
            snap = await CurioSnapshotReader(db).snapshot(datetime.now(UTC), lists={"miners"})
            cli = json.loads(await expirations(capsys, db.url.dsn, cluster.schema, "--json"))
        finally:
            await db.close()
    buckets = snap.expirations.miner(1000)
    assert buckets is not None
    assert (buckets.day, buckets.later, buckets.expired, buckets.soonest) == (1, 1, 1, 5000)
    assert cli["miners"] == [buckets.figures()]
    assert cli["epochs_per_day"] == 2880
    assert cli["note"].startswith(f"head epoch {cli['head_epoch']} from Curio's newest")
    assert abs(cli["head_epoch"] - 4502) <= 2 and snap.expirations.head_epoch is not None
