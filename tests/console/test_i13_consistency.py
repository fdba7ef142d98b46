"""One definition per figure: the CLI and the console's read model, computed on one seeded
cluster, print the same numbers (issue 13, "screens that disagree")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from engine.chain import MAINNET, create_miner, init_chain
from engine.harmonydb import DB
from engine.snapshot import SnapshotReader, current_deadline
from engine.snapshot.format import took
from engine.snapshot.post import deadline_figures
from support.cli import harmony


async def _mid_deadline_chain(db: DB) -> int:
    """A mainnet-profile chain (30 min deadlines) whose current deadline opened 15 minutes
    ago, so the CLI process and the read model see the same deadline; its index."""
    now = datetime.now(UTC)
    genesis = now.replace(microsecond=0) - timedelta(days=1)
    config, _ = await init_chain(db, MAINNET, genesis=genesis)
    epoch = config.epoch_at(now)
    miner = await create_miner(db, config, 2048, epoch=epoch - 100)
    info = miner.deadline(config, epoch)
    shift = config.time_of(info.open) - (now - timedelta(minutes=15))
    await db.exec("UPDATE chain_config SET genesis_time = $1 WHERE id = 1", genesis - shift)
    return info.index


async def _sectors(db: DB, rows: list[tuple[int, str, int, int]]) -> None:
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, deadline, "partition") '
        "SELECT 1000, n, s, 's', 'u', 1, d, p "
        "FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[]) AS t(n, s, d, p)",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
    )


async def _proofs(db: DB, rows: list[tuple[int, int, int]]) -> None:
    await db.exec(
        "INSERT INTO chain_post_submissions (sp_id, proving_period_start, deadline, "
        '"partition", landed_epoch, message_cid) '
        "SELECT 1000, s, d, p, 1, 'bafy' FROM unnest($1::bigint[], $2::int[], $3::int[]) "
        "AS t(s, d, p)",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
    )


async def test_proving_deadlines_and_the_post_pane_share_every_figure(db: DB) -> None:
    dl = await _mid_deadline_chain(db)
    past, missed, nxt = (dl - 2) % 48, (dl - 1) % 48, (dl + 1) % 48
    await _sectors(
        db,
        [
            (0, "active", past, 0),
            (1, "active", missed, 0),
            (2, "faulty", missed, 0),
            (3, "active", dl, 0),
            (4, "active", dl, 1),
            (5, "recovering", nxt, 0),
            (6, "terminated", nxt, 1),
        ],
    )
    now = datetime.now(UTC)
    reader = SnapshotReader(db)
    snap = await reader.snapshot(now)
    (miner,) = snap.post.miners
    info = current_deadline(snap.post, miner, now)
    assert info is not None and info.index == dl
    period = info.period_start
    # A past deadline proven this period, the current one half proven; the missed one was
    # proven last period only.
    await _proofs(db, [(period, past, 0), (period, dl, 0), (period - 2880, missed, 0)])
    snap = await SnapshotReader(db).snapshot(datetime.now(UTC))
    (miner,) = snap.post.miners
    console = deadline_figures(snap.post, miner, datetime.now(UTC))

    out = await harmony(db, "proving", "deadlines", "--json")
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    as_cli = [
        {
            "deadline": f.index,
            "open_epoch": f.open_epoch,
            "partitions": f.partitions,
            "sectors": f.sectors,
            "faults": f.faults,
            "proven_partitions": f.proven_partitions,
            "current": f.current,
        }
        for f in console
    ]
    assert [{k: row[k] for k in as_cli[0]} for row in cli] == as_cli
    # What the issue saw: a deadline proven this period read 0 in the CLI and 1 in the pane.
    assert cli[past]["proven_partitions"] == console[past].proven_partitions == 1
    assert cli[dl]["proven_partitions"] == 1 and cli[dl]["current"]
    assert cli[missed]["proven_partitions"] == 0 and cli[missed]["faults"] == 1

    text = (await harmony(db, "proving", "deadlines")).stdout.splitlines()
    assert text[2 + past].split()[2:] == ["1", "1", "(0)", "1"]
    assert text[2 + dl].split()[2:] == ["2", "2", "(0)", "1", "(current)"]

    # proving info: current deadline, period start, live / faulty / recovering sectors.
    info_out = json.loads((await harmony(db, "proving", "info", "--json")).stdout)
    now = datetime.now(UTC)
    info = current_deadline(snap.post, miner, now)
    assert info is not None
    assert info_out["deadline_index"] == info.index
    assert info_out["proving_period_start"] == info.period_start == miner.period_start
    assert (info_out["live_sectors"], info_out["faults"], info_out["recovering"]) == (
        miner.live,
        miner.faulty,
        miner.recovering,
    )
    assert info_out["deadline_sectors"] == miner.deadlines[info.index].live


async def test_sub_second_work_reads_the_same_in_task_history_and_the_console(db: DB) -> None:
    """A 48 ms attempt read "Took 0s" / "Mean 0s" in the console while the CLI said 48 ms:
    both now render it with :func:`engine.snapshot.format.took`."""
    end = datetime.now(UTC).replace(microsecond=0)
    await db.exec(
        "INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, "
        "result, completed_by_host_and_port) VALUES (7, 1, 'noop', $1, $1, $2, true, 'm')",
        end - timedelta(milliseconds=48),
        end,
    )
    snap = await SnapshotReader(db).snapshot(end + timedelta(seconds=1))
    (row,) = snap.queues.history
    assert took(row.duration) == "48ms"
    out = await harmony(db, "task", "history")
    assert out.returncode == 0, out.stderr
    (line,) = [x for x in out.stdout.splitlines() if x.split()[:2] == ["1", "noop"]]
    assert " 48ms " in f" {line} "
    assert (took(0.0484), took(2.048), took(75)) == ("48ms", "2.05s", "1m15s")


def test_post_figures_at_start_never_read_negative_or_zero() -> None:
    """At start: "period -432" (the first period began before genesis) and "open now, closes
    in 0s" (under a second left)."""
    from rich.style import Style

    from console.panes.post import PostPane
    from console.widgets.cells import Styles
    from engine.chain import DEVNET, deadline_info_from_offset
    from engine.snapshot import PostDeadline, PostMiner, PostRisk, PostSnap

    risk = PostRisk(1000, 3, 2, True, -10.0, 0.4, -30.0)
    assert risk.describe() == "t01000 deadline 3 (2 live sectors): open now, closing now"
    genesis = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    now = genesis + timedelta(seconds=14 * DEVNET.block_time)  # epoch 14
    info = deadline_info_from_offset(DEVNET, 48, 14)
    assert info.period_start < 0
    deadlines = tuple(PostDeadline(i, 0, 0, 0, 0, 0, 0) for i in range(48))
    miner = PostMiner(1000, 2048, 48, info.period_start, deadlines)
    post = PostSnap(DEVNET, genesis, 8, (miner,))
    plain = Style()
    styles = Styles(plain, plain, plain, plain, plain, plain, plain)
    line = PostPane._miner_info(None, post, miner, info, now, styles).plain  # type: ignore[arg-type]
    assert "period -" not in line and "first period (boundary 48)" in line
