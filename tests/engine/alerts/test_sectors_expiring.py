"""The sectors-expiring alert (issue 16): live sectors expiring within 7 days (the chain's days:
a proving period each) raise a warning naming the miner, the count and the soonest epoch; it
clears when they have expired (the devnet chain's cron, stepped here) or are no longer live
(Curio's sectors_meta). Evaluations are driven directly; nothing waits for time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from engine.alerts import ack, evaluate, evaluate_live, list_alerts
from engine.alerts.model import Alert, Severity
from engine.chain import DEVNET, advance_chain, create_miner, init_chain, new_deadline_info
from engine.chain.expiration import expiry_close
from engine.harmonydb import DB, parse_url
from support.curio_schema import curio_cluster

DAY = DEVNET.epochs_per_day


async def expiring(db: DB) -> dict[str, Alert]:
    result = await evaluate(db)
    assert not result.failed, result.failed
    return {a.subject: a for a in await list_alerts(db) if a.check == "sectors-expiring"}


async def test_sectors_expiring_within_a_week_raise_a_warning_that_clears_when_they_expire(
    db: DB,
) -> None:
    head = 100
    genesis = datetime.now(UTC) - timedelta(seconds=head * DEVNET.block_time)
    config, _ = await init_chain(db, DEVNET, genesis=genesis, seed=bytes(32))
    miner = await create_miner(db, config, 2048, epoch=0)
    await advance_chain(db, config, head)
    # sectors 1 and 2 of deadline 7 expire within the week, 3 in 30 days; 4 expired already
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, activation_epoch, expiration_epoch, deadline, "partition", '
        "termination) SELECT 1000, n, s, 'c', 'u', 1, 2, e, 7, 0, t "
        "FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS x(n, s, e, t)",
        [1, 2, 3, 4],
        ["active", "faulty", "active", "terminated"],
        [head + 3 * DAY, head + 20, head + 30 * DAY, head - 1],
        [None, None, None, "expired"],
    )
    found = await expiring(db)
    assert set(found) == {"t01000"}
    alert = found["t01000"]
    assert alert.severity == Severity.WARNING
    assert alert.message.startswith(
        f"t01000: 2 live sector(s) expire within 7 days, the soonest at epoch {head + 20} "
        "(sectors 2, 1)."
    )
    assert "Extend the ones to keep" in alert.message and "let them expire" in alert.message
    assert alert.links == {"miner": 1000, "epoch": head + 20, "sectors": [2, 1]}
    assert await ack(db, str(alert.id), "alice@test") == [alert.id]
    assert (await expiring(db))["t01000"].acked_by == "alice@test"  # kept while it holds

    # The chain's cron expires sector 2 at its deadline's end (sector 1 is still to come)...
    seven = new_deadline_info(config.profile, miner.deadline(config, head).period_start, 7, head)
    first = expiry_close(config.profile, head + 20, seven.close)
    await advance_chain(db, config, first)
    state = await db.query_value("SELECT termination FROM chain_sectors WHERE sector_number = 2")
    assert state == "expired"
    again = (await expiring(db))["t01000"]
    assert again.message.startswith("t01000: 1 live sector(s) expire within 7 days, the soonest")
    assert f"at epoch {head + 3 * DAY} (sectors 1)" in again.message
    # ...and sector 1 at its own: nothing expires within the week any more (3's is 30 days
    # from the start, 27 from here: beyond the week)
    second = expiry_close(config.profile, head + 3 * DAY, first)
    await advance_chain(db, config, second)
    assert await expiring(db) == {}
    (cleared,) = [a for a in await list_alerts(db, include_cleared=True) if a.id == alert.id]
    assert cleared.cleared_at is not None


async def test_curio_sectors_expiring_are_read_from_sectors_meta(pg_url: str) -> None:
    """The head is Curio's newest WinningPoSt round (epoch 4500, 70 s ago); a live sector
    expiring within 7 x 2880 epochs of it raises the alert, and once sectors_meta says it is
    no longer live the alert is gone."""
    async with curio_cluster(pg_url) as cluster:
        conn = await asyncpg.connect(parse_url(cluster.url).dsn)
        db = await DB.open(cluster.url, schema=cluster.schema, migrate=False, read_only=True)
        table = f'"{cluster.schema}".sectors_meta'
        try:
            assert [a for a in await evaluate_live(db) if a.check == "sectors-expiring"] == []
            await conn.execute(
                f"UPDATE {table} SET expiration_epoch = 4500 + 6 * 2880 WHERE sector_num = 100"
            )
            (alert,) = [a for a in await evaluate_live(db) if a.check == "sectors-expiring"]
            assert alert.subject == "t01000" and alert.severity == Severity.WARNING
            soonest = 4500 + 6 * 2880
            assert f"1 live sector(s) expire within 7 days, the soonest at epoch {soonest}" in (
                alert.message
            )
            await conn.execute(f"UPDATE {table} SET is_live = FALSE WHERE sector_num = 100")
            assert [a for a in await evaluate_live(db) if a.check == "sectors-expiring"] == []
        finally:
            await db.close()
            await conn.close()
