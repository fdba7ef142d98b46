"""The devnet chain: config, beacon, message pool, and the miner actor's rules, epoch by epoch.

Epochs are driven explicitly (``advance_chain(db, config, epoch)``); no test waits for time.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.chain import (
    DEVNET,
    MAINNET,
    PRE_COMMIT_SECTOR,
    PROVE_COMMIT_SECTOR,
    SUBMIT_WINDOWED_POST,
    BeaconCache,
    ChainConfig,
    ChainConfigConflict,
    DeadlineLoad,
    ExitCode,
    Miner,
    advance_chain,
    assign_deadlines,
    create_miner,
    deadline_is_mutable,
    draw_randomness,
    init_chain,
    interactive_randomness,
    load_chain,
    new_deadline_info,
    next_beacon,
    post_randomness,
    seal_randomness,
    send_message,
)
from engine.chain.beacon import Dst
from engine.harmonydb import DB
from engine.proofs import (
    PostSector,
    generate_window_post,
    prove_porep,
    prover_id,
    seal,
    sealed_cid,
    unsealed_cid,
    write_cc_unsealed,
)

GENESIS = datetime(2026, 1, 1, tzinfo=UTC)
SEED = bytes(range(32))


@pytest.fixture
async def chain(db: DB) -> ChainConfig:
    config, created = await init_chain(db, DEVNET, genesis=GENESIS, seed=SEED)
    assert created
    return config


async def send(db: DB, config: ChainConfig, sp: int, method: str, params: dict, epoch: int) -> str:
    async with db.begin() as tx:
        sent = await send_message(tx, config, sp, method, params, epoch=epoch)
        await tx.commit()
    return sent.cid


async def receipt(db: DB, cid: str) -> dict:
    return await db.query_row(
        "SELECT m.landed_epoch, m.exit_code, m.receipt, w.executed_tsk_epoch, "
        "w.executed_rcpt_exitcode FROM chain_messages m "
        "JOIN message_waits w ON w.signed_message_cid = m.cid WHERE m.cid = $1",
        cid,
    )


async def states(db: DB) -> dict[int, str]:
    rows = await db.select("SELECT sector_number, state FROM chain_sectors")
    return {r["sector_number"]: r["state"] for r in rows}


@dataclass
class Sealed:
    number: int
    ticket_epoch: int
    comm_d: bytes
    comm_r: bytes
    unsealed: str
    sealed: str
    cache: str

    def post_sector(self) -> PostSector:
        return PostSector(self.number, self.comm_r, self.sealed, self.cache)


async def seal_one(
    db: DB, config: ChainConfig, miner: Miner, number: int, ticket_epoch: int, where: Path
) -> Sealed:
    cache = BeaconCache()
    ticket = seal_randomness(await cache.get(db, config, ticket_epoch), ticket_epoch, miner.sp_id)
    base = where / f"s{number}"
    base.mkdir()
    unsealed, sealed, cache_dir = str(base / "u"), str(base / "s"), str(base / "c")
    write_cc_unsealed(unsealed, miner.sector_size)
    result = seal(
        unsealed, sealed, cache_dir, miner.sector_size, prover_id(miner.sp_id), number, ticket
    )
    return Sealed(number, ticket_epoch, result.comm_d, result.comm_r, unsealed, sealed, cache_dir)


async def activate(
    db: DB, config: ChainConfig, miner: Miner, sectors: list[Sealed], epoch: int
) -> int:
    """PreCommit at ``epoch``, ProveCommit as soon as allowed; returns the activation epoch."""
    pc = await send(
        db,
        config,
        miner.sp_id,
        PRE_COMMIT_SECTOR,
        {
            "sectors": [
                {
                    "sector_number": s.number,
                    "sealed_cid": sealed_cid(s.comm_r),
                    "unsealed_cid": unsealed_cid(s.comm_d),
                    "seal_rand_epoch": s.ticket_epoch,
                }
                for s in sectors
            ]
        },
        epoch,
    )
    landed = epoch + config.profile.message_delay_epochs
    await advance_chain(db, config, landed)
    assert (await receipt(db, pc))["exit_code"] == 0
    seed_epoch = landed + config.profile.precommit_challenge_delay
    await advance_chain(db, config, seed_epoch)
    cache = BeaconCache()
    seed = interactive_randomness(await cache.get(db, config, seed_epoch), seed_epoch, miner.sp_id)
    proofs = [
        {
            "sector_number": s.number,
            "proof": base64.b64encode(
                prove_porep(s.unsealed, s.sealed, s.cache, seed).to_bytes()
            ).decode(),
        }
        for s in sectors
    ]
    commit = await send(
        db, config, miner.sp_id, PROVE_COMMIT_SECTOR, {"sectors": proofs}, seed_epoch
    )
    active_at = seed_epoch + config.profile.message_delay_epochs
    await advance_chain(db, config, active_at)
    got = await receipt(db, commit)
    assert got["exit_code"] == 0, got["receipt"]
    return active_at


async def test_a_chain_is_created_once_and_a_conflicting_init_is_refused(db: DB) -> None:
    config, created = await init_chain(db, DEVNET, genesis=GENESIS, seed=SEED)
    again, created_again = await init_chain(db, DEVNET)
    assert created and not created_again
    assert again == config == await load_chain(db)
    assert config.profile == DEVNET and config.expected_winners == 0.05
    with pytest.raises(ChainConfigConflict, match="profile is 'devnet', not 'mainnet'"):
        await init_chain(db, MAINNET)
    with pytest.raises(ChainConfigConflict, match="block time"):
        await init_chain(db, DEVNET, block_time=6)


async def test_epochs_tipsets_and_the_beacon_hash_chain(db: DB, chain: ChainConfig) -> None:
    assert chain.epoch_at(GENESIS) == 0 and chain.time_of(10) == GENESIS.replace(second=20)
    # Computed locally before anything is materialised...
    local = await BeaconCache().get(db, chain, 7)
    result = await advance_chain(db, chain, 7)
    assert (result.previous_head, result.head) == (-1, 7)
    rows = await db.select("SELECT epoch, beacon FROM chain_tipsets ORDER BY epoch")
    assert [r["epoch"] for r in rows] == list(range(8))
    expected = SEED
    for r in rows:
        expected = next_beacon(expected, r["epoch"])
        assert bytes(r["beacon"]) == expected
    assert bytes(rows[-1]["beacon"]) == local
    # ...and from the materialised tipsets afterwards, by a fresh cache.
    assert await BeaconCache().get(db, chain, 12) == next_beacon(
        next_beacon(next_beacon(next_beacon(next_beacon(local, 8), 9), 10), 11), 12
    )
    assert not (await advance_chain(db, chain, 5)).advanced  # never backwards
    one = draw_randomness(local, Dst.SEAL_RANDOMNESS, 7, b"x")
    assert one != draw_randomness(local, Dst.INTERACTIVE_SEAL_CHALLENGE_SEED, 7, b"x")
    assert len(one) == 32


def test_deadline_assignment_pairs_sectors_into_the_emptiest_mutable_deadlines() -> None:
    # Deadline 0 opens at epoch 0 (period start 0); at epoch 0 deadlines 0 and 1 are immutable.
    assert not deadline_is_mutable(DEVNET, 0, 0, 0)
    assert not deadline_is_mutable(DEVNET, 0, 1, 0)
    assert deadline_is_mutable(DEVNET, 0, 2, 0)
    placed = assign_deadlines(DEVNET, 2, 0, 0, {}, 5)
    assert placed == [(2, 0), (2, 0), (3, 0), (3, 0), (4, 0)]
    # A half-full partition is filled before an empty deadline is opened...
    assert assign_deadlines(DEVNET, 2, 0, 0, {5: DeadlineLoad(5, live=1, total=1)}, 1) == [(5, 0)]
    # ...but a deadline whose terminated sectors would force a second partition is avoided.
    assert assign_deadlines(DEVNET, 2, 0, 0, {2: DeadlineLoad(2, live=1, total=2)}, 1) == [(3, 0)]


async def test_a_sector_is_precommitted_proven_assigned_and_mirrored(
    db: DB, chain: ChainConfig, tmp_path: Path
) -> None:
    miner = await create_miner(db, chain, 2048, epoch=0)
    assert miner.sp_id == 1000 and miner.address == "t01000"
    await advance_chain(db, chain, 5)
    sectors = [await seal_one(db, chain, miner, n, 3, tmp_path) for n in (1, 2, 3)]
    active_at = await activate(db, chain, miner, sectors, 6)
    rows = await db.select(
        'SELECT sector_number, state, deadline, "partition", activation_epoch '
        "FROM chain_sectors ORDER BY sector_number"
    )
    assert [r["state"] for r in rows] == ["active"] * 3
    assert {r["activation_epoch"] for r in rows} == {active_at}
    dls = [(r["deadline"], r["partition"]) for r in rows]
    assert dls[0] == dls[1] and dls[2][0] != dls[0][0]  # two per partition, then the next
    period_start = miner.deadline(chain, active_at).period_start
    for dl, _ in dls:
        assert deadline_is_mutable(chain.profile, period_start, dl, active_at)


async def test_message_rules_reject_with_filecoin_exit_codes(
    db: DB, chain: ChainConfig, tmp_path: Path
) -> None:
    miner = await create_miner(db, chain, 2048, epoch=0)
    s = await seal_one(db, chain, miner, 1, 0, tmp_path)
    pre = {
        "sector_number": 1,
        "sealed_cid": sealed_cid(s.comm_r),
        "unsealed_cid": unsealed_cid(s.comm_d),
        "seal_rand_epoch": 0,
    }
    too_old = chain.max_ticket_age + 1
    await advance_chain(db, chain, too_old - 2)
    old = await send(db, chain, 1000, PRE_COMMIT_SECTOR, {"sectors": [pre]}, too_old - 2)
    early = await send(db, chain, 1000, PROVE_COMMIT_SECTOR, {"sectors": []}, too_old - 2)
    nobody = await send(db, chain, 4242, PRE_COMMIT_SECTOR, {"sectors": [pre]}, too_old - 2)
    await advance_chain(db, chain, too_old + 5)
    assert (await receipt(db, old))["exit_code"] == ExitCode.ILLEGAL_ARGUMENT
    assert "too old" in (await receipt(db, old))["receipt"]
    assert (await receipt(db, early))["exit_code"] == ExitCode.ILLEGAL_ARGUMENT
    assert (await receipt(db, nobody))["exit_code"] == ExitCode.NOT_FOUND
    got = await receipt(db, old)
    assert got["executed_tsk_epoch"] == got["landed_epoch"] == too_old
    assert got["executed_rcpt_exitcode"] == got["exit_code"]
    assert await db.query_value("SELECT count(*) FROM chain_sectors") == 0


async def test_window_post_lands_before_close_and_skipped_or_missed_sectors_turn_faulty(
    db: DB, chain: ChainConfig, tmp_path: Path
) -> None:
    miner = await create_miner(db, chain, 2048, epoch=0)
    await advance_chain(db, chain, 5)
    sectors = [await seal_one(db, chain, miner, n, 3, tmp_path) for n in (1, 2)]
    active_at = await activate(db, chain, miner, sectors, 6)
    dl = await db.query_value("SELECT deadline FROM chain_sectors WHERE sector_number = 1")
    period = chain.profile.wpost_proving_period
    di = new_deadline_info(
        chain.profile, miner.deadline(chain, active_at).period_start, dl, active_at
    ).next_not_elapsed()
    assert di.challenge > active_at
    await advance_chain(db, chain, di.challenge)
    rand = post_randomness(await BeaconCache().get(db, chain, di.challenge), di.challenge, 1000)
    # Sector 2's replica is damaged: it is skipped, and the chain marks it faulty.
    Path(sectors[1].sealed).write_bytes(b"\0" * 2048)
    result = generate_window_post([s.post_sector() for s in sectors], rand)
    assert [f.sector_id for f in result.faults] == [2]
    params = {
        "deadline": dl,
        "proving_period_start": di.period_start,
        "partitions": [
            {
                "index": 0,
                "skipped": [2],
                "proofs": [base64.b64encode(p.to_bytes()).decode() for p in result.proofs],
            }
        ],
    }
    await advance_chain(db, chain, di.open)
    cid = await send(db, chain, 1000, SUBMIT_WINDOWED_POST, params, di.open)
    late = await send(db, chain, 1000, SUBMIT_WINDOWED_POST, params, di.close - 1)
    await advance_chain(db, chain, di.close + 5)
    assert (await receipt(db, cid))["exit_code"] == 0
    late_receipt = await receipt(db, late)
    assert late_receipt["exit_code"] == ExitCode.ILLEGAL_ARGUMENT
    assert f"after deadline {dl} closed at epoch {di.close}" in late_receipt["receipt"]
    assert await states(db) == {1: "active", 2: "faulty"}
    proven = await db.select(
        'SELECT deadline, "partition", skipped_sectors FROM chain_post_submissions'
    )
    assert proven == [{"deadline": dl, "partition": 0, "skipped_sectors": [2]}]
    # Next period nobody proves: at Close the whole partition turns faulty.
    await advance_chain(db, chain, di.close + period)
    assert await states(db) == {1: "faulty", 2: "faulty"}
    assert await db.query_value("SELECT count(*) FROM sectors_meta") == 0  # nothing to mirror


async def test_the_cron_visits_all_faulty_deadlines_and_keeps_the_faults_start(
    db: DB, chain: ChainConfig
) -> None:
    """A deadline whose sectors are all faulty still gets its end-of-deadline cron (faults past
    the max age are terminated there), and a recovery that is not proven does not restart the
    fault's max-age clock."""
    miner = await create_miner(db, chain, 2048, epoch=0)
    await advance_chain(db, chain, 5)
    old = -chain.fault_max_age  # faulty long enough to be terminated at the next cron
    for number, state, deadline in ((1, "faulty", 3), (2, "recovering", 5)):
        await db.exec(
            "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
            'precommit_epoch, activation_epoch, deadline, "partition", faulty_since) '
            "VALUES ($1, $2, $3, 'bagboea', 'baga6ea', 0, 0, $4, 0, $5)",
            miner.sp_id,
            number,
            state,
            deadline,
            old,
        )
    five = new_deadline_info(chain.profile, miner.deadline(chain, 5).period_start, 5, 5)
    five = five.next_not_elapsed()
    await advance_chain(db, chain, five.close)
    rows = await db.select("SELECT sector_number, state, faulty_since FROM chain_sectors")
    assert {r["sector_number"]: (r["state"], r["faulty_since"]) for r in rows} == {
        1: ("terminated", old),  # deadline 3 closed: its only sector's fault was too old
        2: ("faulty", old),  # the recovery missed deadline 5: faulty, since the same epoch
    }
