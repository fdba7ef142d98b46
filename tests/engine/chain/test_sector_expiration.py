"""Sector expirations on the devnet chain: the PreCommit's expiration checked the builtin-actors
way, and the deadline cron expiring sectors on time (they leave the live set, WindowPoSt stops
proving them, their state says Expired).

A chain with a short lifetime policy (epochs, not 180 devnet days), stepped epoch by epoch: no
test waits for time."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.chain import (
    DEVNET,
    LIVE_STATES,
    PRE_COMMIT_SECTOR,
    PROVE_COMMIT_SECTOR,
    SUBMIT_WINDOWED_POST,
    BeaconCache,
    ChainConfig,
    ChainProfile,
    ExitCode,
    Miner,
    advance_chain,
    choose_expiration,
    create_miner,
    init_chain,
    interactive_randomness,
    load_chain,
    new_deadline_info,
    post_randomness,
    seal_randomness,
    sector_policy,
    send_message,
)
from engine.chain.expiration import expiry_close
from engine.chain.profiles import MAINNET
from engine.chain.rpc_server import ChainRpcServer
from engine.harmonydb import DB
from engine.lotus import ApiInfo, LotusClient, LotusRPCError
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
from engine.tasks.seal.status import list_sectors

GENESIS = datetime(2026, 1, 1, tzinfo=UTC)
TOKEN = "expiration-test-token-0123456789"
#: a sector lives at least 20 epochs after its latest activation (PreCommit + 40)
SHORT = ChainProfile(
    **{
        **DEVNET.__dict__,
        "min_sector_expiration": 20,
        "max_sector_expiration_extension": 2000,
        "max_prove_commit_duration": 40,
    }
)


@pytest.fixture
async def chain(db: DB) -> ChainConfig:
    config, created = await init_chain(db, SHORT, genesis=GENESIS, seed=bytes(range(32)))
    assert created
    return config


def test_the_policy_is_filecoins_in_the_profiles_days() -> None:
    main = sector_policy(MAINNET)
    # builtin-actors: 180 days, 1278 days, 30 days + 150 epochs (2880 epochs a day)
    assert (main.min_expiration, main.max_extension, main.max_prove_commit) == (
        518_400,
        3_680_640,
        86_550,
    )
    dev = sector_policy(DEVNET)  # a devnet day is its proving period: 480 epochs
    assert (dev.min_expiration, dev.max_extension) == (180 * 480, 1278 * 480)
    # Curio's choice: ticket + max extension, or + the user's duration raised to the least
    assert choose_expiration(DEVNET, 100, None) == 100 + 1278 * 480
    least = 100 + dev.max_ticket_age + dev.max_prove_commit + dev.min_expiration
    assert choose_expiration(DEVNET, 100, 5) == least
    # quantized to the sector's deadline's end: the first close after the expiration
    assert expiry_close(DEVNET, 100, 30) == 510 and expiry_close(DEVNET, 100, 101) == 101
    assert expiry_close(DEVNET, 100, 100) == 580


async def send(db: DB, config: ChainConfig, method: str, params: dict, epoch: int) -> str:
    async def tx_send(tx) -> str:  # type: ignore[no-untyped-def]
        sent = await send_message(tx, config, 1000, method, params, epoch=epoch)
        await tx.commit()
        return sent.cid

    return await db.transaction(tx_send)


async def receipt(db: DB, cid: str) -> tuple[int, str]:
    row = await db.query_row("SELECT exit_code, receipt FROM chain_messages WHERE cid = $1", cid)
    return row["exit_code"], row["receipt"]


def seal_one(miner: Miner, number: int, ticket: bytes, where: Path) -> dict:
    base = where / f"s{number}"
    base.mkdir()
    paths = {k: str(base / k) for k in ("u", "s", "c")}
    write_cc_unsealed(paths["u"], miner.sector_size)
    r = seal(paths["u"], paths["s"], paths["c"], miner.sector_size, prover_id(1000), number, ticket)
    return {"number": number, "comm_r": r.comm_r, "comm_d": r.comm_d, **paths}


async def test_precommit_expirations_are_checked_and_a_missing_one_is_chosen(
    db: DB, chain: ChainConfig, tmp_path: Path
) -> None:
    miner = await create_miner(db, chain, 2048, epoch=0)
    await advance_chain(db, chain, 5)
    ticket = seal_randomness(await BeaconCache().get(db, chain, 3), 3, 1000)
    s = seal_one(miner, 1, ticket, tmp_path)

    def pre(expiration: int | None) -> dict:
        one = {
            "sector_number": 1,
            "sealed_cid": sealed_cid(s["comm_r"]),
            "unsealed_cid": unsealed_cid(s["comm_d"]),
            "seal_rand_epoch": 3,
        }
        return {"sectors": [one if expiration is None else {**one, "expiration": expiration}]}

    lands = 6 + chain.profile.message_delay_epochs  # 8: the latest activation is 48
    short = await send(db, chain, PRE_COMMIT_SECTOR, pre(60), 6)
    far = await send(db, chain, PRE_COMMIT_SECTOR, pre(lands + 2001), 6)
    await advance_chain(db, chain, lands)
    code, text = await receipt(db, short)
    assert code == ExitCode.ILLEGAL_ARGUMENT
    assert "total sector lifetime (12) must exceed 20 after activation 48" in text
    code, text = await receipt(db, far)
    assert code == ExitCode.ILLEGAL_ARGUMENT and "cannot be more than 2000 past" in text
    assert await db.query_value("SELECT count(*) FROM chain_sectors") == 0
    chosen = await send(db, chain, PRE_COMMIT_SECTOR, pre(None), lands)
    await advance_chain(db, chain, lands + 2)
    assert (await receipt(db, chosen))[0] == 0
    stored = await db.query_value("SELECT expiration_epoch FROM chain_sectors")
    assert stored == choose_expiration(chain.profile, 3, None) == 3 + 2000
    assert (await load_chain(db)) == chain  # the policy is kept in chain_config


async def test_a_sector_expires_at_its_deadlines_end_and_is_no_longer_proven(
    db: DB, chain: ChainConfig, tmp_path: Path
) -> None:
    miner = await create_miner(db, chain, 2048, epoch=0)
    await advance_chain(db, chain, 5)
    cache = BeaconCache()
    ticket = seal_randomness(await cache.get(db, chain, 3), 3, 1000)
    sectors = [seal_one(miner, n, ticket, tmp_path) for n in (1, 2)]
    expirations = {1: 70, 2: 1900}  # 70: the least after a PreCommit landing at 8 is 68
    params = {
        "sectors": [
            {
                "sector_number": s["number"],
                "sealed_cid": sealed_cid(s["comm_r"]),
                "unsealed_cid": unsealed_cid(s["comm_d"]),
                "seal_rand_epoch": 3,
                "expiration": expirations[s["number"]],
            }
            for s in sectors
        ]
    }
    pc = await send(db, chain, PRE_COMMIT_SECTOR, params, 6)
    seed_epoch = 8 + chain.profile.precommit_challenge_delay
    await advance_chain(db, chain, seed_epoch)
    assert (await receipt(db, pc))[0] == 0
    seed = interactive_randomness(await cache.get(db, chain, seed_epoch), seed_epoch, 1000)
    proofs = [
        {
            "sector_number": s["number"],
            "proof": base64.b64encode(
                prove_porep(s["u"], s["s"], s["c"], seed).to_bytes()
            ).decode(),
        }
        for s in sectors
    ]
    commit = await send(db, chain, PROVE_COMMIT_SECTOR, {"sectors": proofs}, seed_epoch)
    active_at = seed_epoch + chain.profile.message_delay_epochs
    await advance_chain(db, chain, active_at)
    assert (await receipt(db, commit))[0] == 0, await receipt(db, commit)
    placed = await db.select('SELECT DISTINCT deadline, "partition" FROM chain_sectors')
    assert len(placed) == 1  # both in one partition
    dl = placed[0]["deadline"]
    window = new_deadline_info(
        chain.profile, miner.deadline(chain, active_at).period_start, dl, active_at
    ).next_not_elapsed()
    expires_at = expiry_close(chain.profile, 70, window.close)
    period = chain.profile.wpost_proving_period

    async def prove(*tries: list[int]) -> list[tuple[int, str]]:
        """WindowPoSts of the partition in ``window``, one over each list of sectors, sent in
        that order at the window's open; their receipts."""
        await advance_chain(db, chain, window.challenge)
        beacon = await cache.get(db, chain, window.challenge)
        rand = post_randomness(beacon, window.challenge, 1000)
        await advance_chain(db, chain, window.open)
        cids = []
        for numbers in tries:
            chosen = [s for s in sectors if s["number"] in numbers]
            post = generate_window_post(
                [PostSector(s["number"], s["comm_r"], s["s"], s["c"]) for s in chosen], rand
            )
            proofs = [base64.b64encode(p.to_bytes()).decode() for p in post.proofs]
            part = {"index": 0, "proofs": proofs}
            params = {"deadline": dl, "proving_period_start": window.period_start}
            cids.append(
                await send(
                    db, chain, SUBMIT_WINDOWED_POST, {**params, "partitions": [part]}, window.open
                )
            )
        await advance_chain(db, chain, window.close - 1)  # landed (or refused) in the window
        return [await receipt(db, cid) for cid in cids]

    # Every window up to the one whose end expires sector 1 proves both (it is live till then).
    while window.close <= expires_at:
        assert (await prove([1, 2]))[0][0] == 0
        states = await db.select("SELECT sector_number, state FROM chain_sectors ORDER BY 1")
        assert [r["state"] for r in states] == ["active", "active"]
        if window.close == expires_at:
            break
        window = new_deadline_info(chain.profile, window.period_start + period, dl, window.open)
    await advance_chain(db, chain, expires_at - 1)
    assert await db.query_value("SELECT state FROM chain_sectors WHERE sector_number = 1") == (
        "active"  # past its expiration epoch, but the deadline has not ended
    )
    result = await advance_chain(db, chain, expires_at)
    assert result.cron_changed == 1
    rows = await db.select(
        "SELECT sector_number, state, termination, terminated_epoch FROM chain_sectors ORDER BY 1"
    )
    assert rows == [
        {"sector_number": 1, "state": "terminated", "termination": "expired",
         "terminated_epoch": expires_at},
        {"sector_number": 2, "state": "active", "termination": None, "terminated_epoch": None},
    ]  # fmt: skip
    live = await db.select(
        "SELECT sector_number FROM chain_sectors WHERE state = ANY($1::text[])", list(LIVE_STATES)
    )
    assert [r["sector_number"] for r in live] == [2]
    views = {v.sector_number: v.state for v in await list_sectors(db, expires_at)}
    assert views == {1: "Expired", 2: "Proving"}
    event = await db.query_row(
        "SELECT kind, deadline, message FROM cluster_events WHERE kind = 'sector-expired'"
    )
    assert event["deadline"] == dl and event["message"].startswith(
        "1 sector(s) expired on time (1)"
    )
    # The next window: the chain expects a proof of sector 2 alone.
    window = new_deadline_info(chain.profile, window.period_start + period, dl, window.open)
    (code, text), landed = await prove([1, 2], [2])
    assert code == ExitCode.ILLEGAL_ARGUMENT and "2 sector proofs for 1 sectors" in text
    assert landed == (0, f"proved 1 partition(s) of deadline {dl}")

    # Lotus's view (harmony chain serve): the sectors' on-chain infos and expiration queue
    async with ChainRpcServer(db, TOKEN) as rpc:
        ((host, port),) = await rpc.start("127.0.0.1", 0)
        async with LotusClient(ApiInfo(f"http://{host}:{port}/rpc/v1", TOKEN), timeout=10) as c:
            info = await c.call("StateSectorGetInfo", "t01000", 2, None)
            expired = await c.call("StateSectorGetInfo", "t01000", 1, None)
            queue = await c.call("StateSectorExpiration", "t01000", 2, None)
            assert await c.call("StateSectorGetInfo", "t01000", 99, None) is None
            with pytest.raises(LotusRPCError, match="failed to find sector 1"):
                await c.call("StateSectorExpiration", "t01000", 1, None)
    assert info["SectorNumber"] == 2 and info["SealProof"] == miner.reg_seal_proof
    assert (info["Activation"], info["Expiration"]) == (active_at, 1900)
    assert info["SealedCID"] == {"/": sealed_cid(sectors[1]["comm_r"])}
    assert expired["Expiration"] == 70  # kept after its on-time expiration
    # quantized to the last epoch of sector 2's deadline at or after 1900
    assert queue == {"OnTime": expiry_close(chain.profile, 1900, window.close) - 1, "Early": 0}
