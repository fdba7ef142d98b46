"""read_post on a Curio schema: deadlines per miner from Curio's ``sectors_meta`` without a Lotus
node (and says what it cannot know), from Lotus's figures with one; Curio's WindowPoSt work per
deadline and its WinningPoSt; the f0/t0 prefix; a SELECT-only role; and the whole Curio reader
with a ChainWatch on ``harmony chain serve``'s server showing the post section without error.

Extra rows are written as Curio's Go code writes them, through a plain asyncpg connection as
the schema's owner (harmony's DB refuses to write to a Curio cluster).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.chain import DEVNET, advance_chain, create_miner, init_chain
from engine.chain.lotus_view import NETWORK_NAME
from engine.chain.rpc_server import ChainRpcServer
from engine.harmonydb import DB
from engine.lotus import ApiInfo
from engine.lotus import DeadlineInfo as LotusDeadlineInfo
from engine.snapshot.curio import CurioSnapshotReader
from engine.snapshot.curio.chain import (
    ChainState,
    ChainWatch,
    MinerChain,
    MinerDeadline,
    PartitionCounts,
)
from engine.snapshot.curio.post import SectorCountCache, read_post, sector_size_of_proof
from engine.snapshot.model import PostSnap
from engine.snapshot.post import current_deadline
from engine.snapshot.timing import Timing
from support.curio_read import curio_session, owner_exec, select_only
from support.curio_schema import SEAL_PROOF, SP_ID, CurioCluster, curio_cluster

#: mainnet's proving period and challenge window, the seed's proving period start
PERIOD, WINDOW, PPS = 2880, 60, 4320


async def post_of(
    db: DB,
    now: datetime,
    chain: ChainState | None,
    cache: SectorCountCache | None = None,
    timing: Timing | None = None,
) -> PostSnap:
    timing = timing or Timing()

    async def run(tx: Any) -> PostSnap:
        return await read_post(timing.wrap(tx), now, chain, cache=cache)

    snap = await db.transaction(run, isolation="repeatable_read")
    assert timing.statements > 0
    return snap


@pytest.fixture
async def curio(curio_db: CurioCluster) -> CurioCluster:
    """The seeded cluster plus: sector 101 faulty, a terminated sector (not live), an older
    period's proof (not counted), WinningPoSt a won block found not included and one older
    than a day (not counted)."""
    await owner_exec(
        curio_db,
        ("UPDATE sectors_meta SET is_faulty = TRUE WHERE sp_id = $1 AND sector_num = 101", SP_ID),
        (
            "INSERT INTO sectors_meta (sp_id, sector_num, reg_seal_proof, ticket_epoch, "
            "ticket_value, orig_sealed_cid, orig_unsealed_cid, cur_sealed_cid, "
            "cur_unsealed_cid, seed_epoch, seed_value, deadline, partition, is_live) "
            "VALUES ($1, 102, $2, 3000, '\\x00', 'c', 'u', 'c', 'u', 3400, '\\x00', 5, 0, FALSE)",
            SP_ID,
            SEAL_PROOF,
        ),
        (
            "INSERT INTO wdpost_proofs (sp_id, proving_period_start, deadline, partition, "
            "submit_at_epoch, submit_by_epoch, message_cid) "
            "VALUES ($1, $2, 5, 0, 1, 2, 'bafy2bzaceold')",
            SP_ID,
            PPS - PERIOD,
        ),
        (
            "INSERT INTO mining_tasks (task_id, sp_id, epoch, base_compute_time, won, "
            "mined_cid, included) VALUES (2001, $1, 4501, now() - interval '40 seconds', "
            "TRUE, 'bafy2bzaceblock4501', FALSE), (2002, $1, 1200, "
            "now() - interval '2 days', TRUE, 'bafy2bzaceblock1200', TRUE)",
            SP_ID,
        ),
    )
    return curio_db


def chain_state(*, head: int, error: str | None = None, age: float = 0.0) -> ChainState:
    """What a mainnet Lotus would say about f01000 with deadline 5 open in the seed's period:
    deadline 4 has two partitions (one with a fault being recovered), deadline 5 one
    partition proven so far."""
    index = (head - PPS) // WINDOW
    opens = PPS + index * WINDOW
    info = LotusDeadlineInfo(
        current_epoch=head,
        period_start=PPS,
        index=index,
        open=opens,
        close=opens + WINDOW,
        challenge=opens - 20,
        fault_cutoff=opens - 70,
        wpost_period_deadlines=48,
        wpost_proving_period=PERIOD,
        wpost_challenge_window=WINDOW,
        wpost_challenge_lookback=20,
        fault_declaration_cutoff=70,
    )
    deadlines = []
    for i in range(48):
        parts: tuple[PartitionCounts, ...] = ()
        if i == 4:
            parts = (PartitionCounts(10, 9, 7, 2, 1), PartitionCounts(3, 3, 3, 0, 0))
        elif i == 5:
            parts = (PartitionCounts(4, 4, 4, 0, 0), PartitionCounts(2, 0, 0, 0, 0))
        deadlines.append(MinerDeadline(i, parts, 1 if i == index else 0))
    read_at = NOW - timedelta(seconds=age)
    return ChainState(
        network="mainnet",
        head_epoch=head,
        head_time=GENESIS + timedelta(seconds=30 * head),
        block_delay=30.0,
        read_at=read_at,
        miners=(
            MinerChain(
                SP_ID,
                32 << 30,
                info,
                tuple(deadlines),
                raw_power=17 * (32 << 30),
                qa_power=17 * (32 << 30),
                has_min_power=True,
            ),
        ),
        error=error,
        tried_at=NOW,
    )


#: mainnet's genesis, and a snapshot while f01000's deadline 5 is open
GENESIS = datetime(2020, 8, 24, 22, 0, tzinfo=UTC)
HEAD = PPS + 5 * WINDOW + 10
NOW = GENESIS + timedelta(seconds=30 * HEAD + 12)


def test_sector_sizes_of_seal_proofs() -> None:
    assert sector_size_of_proof(SEAL_PROOF) == 32 << 30  # StackedDrg32GiBV1_1
    assert sector_size_of_proof(0) == 2048
    assert sector_size_of_proof(9) == 64 << 30
    assert sector_size_of_proof(12) == 512 << 20  # SyntheticPoRep
    assert sector_size_of_proof(18) == 32 << 30  # NI-PoRep
    assert sector_size_of_proof(20) == 0 and sector_size_of_proof(None) == 0


async def test_without_lotus_it_shows_what_curio_recorded_and_says_what_is_missing(
    curio: CurioCluster,
) -> None:
    async with curio_session(curio, read_only=True) as db:
        post = await post_of(db, datetime.now(UTC), None)
    assert post.profile is None and post.genesis is None and post.head_epoch is None
    assert len(post.missing) == 1
    assert "no chain state from a Lotus node" in post.missing[0]
    assert "recoveries and power unknown" in post.missing[0]
    (miner,) = post.miners
    # the nodes write their miners f0…: a mainnet build
    assert miner.sp_id == SP_ID and miner.address == "f01000"
    assert miner.sector_size == 32 << 30
    assert miner.period_start == PPS  # the newest period Curio scheduled WindowPoSt for
    assert len(miner.deadlines) == 48
    by = {d.index: d for d in miner.deadlines}
    # sectors 100 (dl 4), 5 and 101 (dl 5, 101 faulty), 102 (dl 5, terminated: not live)
    assert (by[4].partitions, by[4].live, by[4].active, by[4].faulty) == (1, 1, 1, 0)
    assert (by[5].partitions, by[5].live, by[5].active, by[5].faulty) == (1, 2, 1, 1)
    assert all(d.recovering == 0 for d in miner.deadlines)  # Curio records none
    assert (miner.live, miner.faulty) == (3, 1)
    # Curio's work in this period: a proof computed and sent for dl 4, dl 5 scheduled, a
    # recovery for dl 7; the older period's proof for dl 5 is not counted
    assert (by[4].scheduled, by[4].computed, by[4].submitted) == (0, 1, 1)
    assert by[4].proven_partitions == 1
    assert (by[5].scheduled, by[5].computed, by[5].submitted) == (1, 0, 0)
    assert by[5].proven_partitions == 0
    assert by[7].recoveries_declared == 1 and by[7].live == 0
    assert sum(d.scheduled + d.computed + d.recoveries_declared for d in miner.deadlines) == 3
    # WinningPoSt in the last day: three elections, two won, one of those not included
    assert (miner.winning_attempts, miner.winning_wins, miner.winning_missed) == (3, 2, 1)
    assert miner.last_win_epoch == 4501
    assert miner.raw_power is None and miner.qa_power is None


async def test_with_lotus_the_chain_counts_and_windows_are_lotus(curio: CurioCluster) -> None:
    async with curio_session(curio, read_only=True) as db:
        post = await post_of(db, NOW, chain_state(head=HEAD))
    assert post.missing == ()
    assert post.head_epoch == HEAD and post.genesis == GENESIS
    assert post.profile is not None and post.profile.name == "mainnet"
    assert post.profile.wpost_proving_period == PERIOD
    (miner,) = post.miners
    assert miner.address == "f01000" and miner.sector_size == 32 << 30
    assert miner.period_start == PPS and miner.proving_period_offset == PPS % PERIOD
    assert miner.raw_power == miner.qa_power == 17 * (32 << 30)
    by = {d.index: d for d in miner.deadlines}
    assert (by[4].partitions, by[4].live, by[4].active, by[4].faulty, by[4].recovering) == (
        2,
        12,
        10,
        2,
        1,
    )
    # a partition with no live sector is not counted (as `proving deadlines`)
    assert (by[5].partitions, by[5].live) == (1, 4)
    # proven: dl 5 is open and the chain has one partition's proof; dl 4 closed, Curio sent it
    assert by[5].proven_partitions == 1 and by[4].proven_partitions == 1
    assert by[5].scheduled == 1 and by[7].recoveries_declared == 1
    assert (miner.live, miner.faulty, miner.recovering) == (16, 2, 1)
    # the pane's deadline arithmetic runs on these figures: deadline 5 is open at NOW
    info = current_deadline(post, miner, NOW)
    assert info is not None and info.index == 5 and info.is_open
    assert info.period_start == PPS and info.current_epoch == HEAD


async def test_with_a_failing_lotus_the_last_figures_show_with_their_age(
    curio: CurioCluster,
) -> None:
    async with curio_session(curio, read_only=True) as db:
        stale = chain_state(head=HEAD, error="cannot reach the Lotus API at x: refused", age=95)
        post = await post_of(db, NOW, stale)
        never = ChainState(error="cannot reach the Lotus API at x: refused", tried_at=NOW)
        blind = await post_of(db, NOW, never)
    assert post.head_epoch == HEAD and post.miners[0].deadlines[4].live == 12
    assert post.missing == (
        "Lotus: cannot reach the Lotus API at x: refused (chain figures from 1m35s ago)",
    )
    assert blind.head_epoch is None and blind.profile is None
    assert blind.miners[0].deadlines[5].live == 2  # Curio's record
    (line,) = blind.missing
    assert line.startswith("Lotus: cannot reach the Lotus API at x: refused: head epoch")


async def test_a_miner_lotus_does_not_know_falls_back_to_curios_record(
    curio: CurioCluster,
) -> None:
    state = chain_state(head=HEAD)
    unknown = ChainState(
        **{
            **state.__dict__,
            "miners": (MinerChain(SP_ID, error="StateMinerInfo: RPC error 1: actor not found"),),
        }
    )
    async with curio_session(curio, read_only=True) as db:
        post = await post_of(db, NOW, unknown)
        unread = await post_of(db, NOW, ChainState(**{**state.__dict__, "miners": ()}))
    (miner,) = post.miners
    assert miner.deadlines[5].live == 2 and miner.raw_power is None
    assert miner.period_start == PPS  # Curio's newest period
    (line,) = post.missing
    assert line.startswith("f01000: Lotus: StateMinerInfo: RPC error 1: actor not found;")
    assert post.head_epoch == HEAD  # the head is still the node's
    assert unread.missing[0].startswith("f01000: not read from Lotus yet;")


async def test_curios_sector_counts_are_cached_until_they_age(curio: CurioCluster) -> None:
    """sectors_meta changes every 15 minutes at most: a refresh within the cache's age does
    not count the sectors again; one after it, or for other miners, does."""
    cache = SectorCountCache(max_age=60)
    async with curio_session(curio, read_only=True) as db:
        first = Timing()
        before = await post_of(db, NOW, None, cache, first)
        await owner_exec(
            curio,
            ("UPDATE sectors_meta SET is_faulty = TRUE WHERE sp_id = $1 AND sector_num = 5", SP_ID),
        )
        cached = Timing()
        soon = await post_of(db, NOW + timedelta(seconds=59), None, cache, cached)
        later = await post_of(db, NOW + timedelta(seconds=60), None, cache)
        # with Lotus's figures for the miner, Curio's are not read at all
        chained = Timing()
        await post_of(db, NOW + timedelta(seconds=61), chain_state(head=HEAD), cache, chained)
    assert before.miners[0].deadlines[5].faulty == soon.miners[0].deadlines[5].faulty == 1
    assert cached.statements == first.statements - 1
    assert later.miners[0].deadlines[5].faulty == 2
    assert chained.statements == first.statements - 2  # nor the newest period Curio scheduled


async def test_an_empty_cluster_has_no_miners(pg_url: str) -> None:
    async with (
        curio_cluster(pg_url, seed=False) as empty,
        curio_session(empty, read_only=True) as db,
    ):
        post = await post_of(db, NOW, None)
        with_chain = await post_of(db, NOW, chain_state(head=HEAD))
    assert post.miners == () and len(post.missing) == 1
    assert with_chain.miners == () and with_chain.missing == ()
    assert with_chain.head_epoch == HEAD


async def test_a_select_only_role_reads_the_same(curio: CurioCluster) -> None:
    async with (
        select_only(curio) as url,
        curio_session(curio, read_only=True) as owner,
        curio_session(curio, url=url, read_only=True) as reader,
    ):
        for chain in (None, chain_state(head=HEAD)):
            mine, theirs = await post_of(owner, NOW, chain), await post_of(reader, NOW, chain)
            assert theirs.missing == mine.missing
            assert [
                (m.address, m.sector_size, m.period_start, m.winning_attempts)
                for m in theirs.miners
            ] == [
                (m.address, m.sector_size, m.period_start, m.winning_attempts) for m in mine.miners
            ]
            assert [d.__dict__ for d in theirs.miners[0].deadlines] == [
                d.__dict__ for d in mine.miners[0].deadlines
            ]


# --------------------------------------------------------------------------- end to end

TOKEN = "curio-post-e2e-token-0123456789"
DEVNET_GENESIS = datetime(2026, 1, 1, tzinfo=UTC)
DEVNET_HEAD = 130


async def test_the_curio_reader_with_a_chain_watch_on_harmony_chain_serve(
    db: DB, curio: CurioCluster
) -> None:
    """The devnet's first miner is f01000 too: Curio's rows and the chain describe one miner."""
    config, _ = await init_chain(db, DEVNET, genesis=DEVNET_GENESIS, seed=bytes(32))
    miner = await create_miner(db, config, 2048, epoch=0)
    assert miner.sp_id == SP_ID
    await advance_chain(db, config, DEVNET_HEAD)
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        "precommit_epoch, deadline, \"partition\") VALUES ($1, 0, 'active', 'c', 'u', 1, 2, 0),"
        " ($1, 1, 'faulty', 'c', 'u', 1, 2, 0)",
        SP_ID,
    )
    now = DEVNET_GENESIS + timedelta(seconds=DEVNET_HEAD * DEVNET.block_time + 1)
    async with (
        curio_session(curio, read_only=True) as curio_db,
        ChainRpcServer(db, TOKEN, software="harmony-test") as rpc,
    ):
        ((host, port),) = await rpc.start("127.0.0.1", 0)
        watch = ChainWatch(ApiInfo(f"http://{host}:{port}/rpc/v1", TOKEN), interval=15)
        reader = CurioSnapshotReader(curio_db, chain=watch)
        try:
            first = await reader.snapshot(now)  # no chain state yet: the database's view
            assert first.error("post") is None
            assert first.post.head_epoch is None and first.post.missing
            assert [m.sp_id for m in first.post.miners] == [SP_ID]
            assert watch.miners == (SP_ID,)  # the reader told the watch whom to follow
            await watch.refresh()
            snap = await reader.snapshot(now)
        finally:
            await watch.close()
    assert snap.error("post") is None
    post = snap.post
    assert post.missing == () and post.head_epoch == DEVNET_HEAD
    assert post.genesis == DEVNET_GENESIS and post.profile is not None
    assert post.profile.name == NETWORK_NAME
    (m,) = post.miners
    # a test network: t0, whatever the nodes' details say
    assert m.address == "t01000" and m.sector_size == 2048
    assert (m.deadlines[2].live, m.deadlines[2].faulty, m.deadlines[2].active) == (2, 1, 1)
    assert m.raw_power == 2048
    expected = miner.deadline(config, DEVNET_HEAD)
    assert m.period_start == expected.period_start
    info = current_deadline(post, m, now)
    assert info is not None and info.index == expected.index
