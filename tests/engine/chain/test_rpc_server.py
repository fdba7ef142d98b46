"""``harmony chain serve``'s server end to end: the Lotus client over real HTTP, against a
devnet chain in the test database, reads what the chain tables hold.

Sectors are written straight into ``chain_sectors`` in the states under test (sealing and
proving real sectors would test the actor, which test_chain_actor does); the tipsets, miners
and deadline arithmetic are the chain's own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from engine.chain import DEVNET, ChainConfig, Miner, advance_chain, create_miner, init_chain
from engine.chain.advance import tipset_cid
from engine.chain.lotus_view import NETWORK_NAME
from engine.chain.proving import proving_info
from engine.chain.rpc_server import (
    ChainRpcServer,
    RemoteListenRefused,
    check_listen_host,
    parse_listen,
)
from engine.harmonydb import DB
from engine.lotus import (
    ApiInfo,
    BitField,
    LotusClient,
    LotusRPCError,
    LotusUnauthorized,
)

GENESIS = datetime(2026, 1, 1, tzinfo=UTC)
SEED = bytes(range(32))
TOKEN = "devnet-test-token-0123456789abcdef"
HEAD = 130


@pytest.fixture
async def chain(db: DB) -> ChainConfig:
    config, _ = await init_chain(db, DEVNET, genesis=GENESIS, seed=SEED)
    return config


@pytest.fixture
async def server(db: DB) -> AsyncIterator[str]:
    """The server on a free loopback port; yields its URL."""
    async with ChainRpcServer(db, TOKEN, software="harmony-test") as rpc:
        ((host, port),) = await rpc.start("127.0.0.1", 0)
        yield f"http://{host}:{port}/rpc/v1"


@pytest.fixture
async def lotus(server: str) -> AsyncIterator[LotusClient]:
    async with LotusClient(ApiInfo(server, TOKEN), timeout=10) as client:
        yield client


async def add_sectors(
    db: DB, sp_id: int, rows: list[tuple[int, str, int | None, int | None]]
) -> None:
    """``(number, state, deadline, partition)`` rows."""
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, deadline, "partition") '
        "SELECT $1, n, st, 'bagboea4b5abc' || n, 'baga6ea4seaq' || n, 1, d, p "
        "FROM unnest($2::bigint[], $3::text[], $4::int[], $5::int[]) AS x(n, st, d, p)",
        sp_id,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
    )


async def add_post(
    db: DB, sp_id: int, period_start: int, deadline: int, partition: int, cid: str
) -> None:
    await db.exec(
        "INSERT INTO chain_post_submissions (sp_id, proving_period_start, deadline, "
        '"partition", landed_epoch, message_cid) VALUES ($1, $2, $3, $4, 1, $5)',
        sp_id,
        period_start,
        deadline,
        partition,
        cid,
    )


@pytest.fixture
async def state(db: DB, chain: ChainConfig) -> dict[str, Any]:
    """Two miners with sectors in every state, and PoSt submissions around the head."""
    first = await create_miner(db, chain, 2048, epoch=0)
    second = await create_miner(db, chain, 2048, epoch=0)
    idle = await create_miner(db, chain, 8 << 20, epoch=0)
    result = await advance_chain(db, chain, HEAD)
    assert result.head == HEAD
    await add_sectors(
        db,
        first.sp_id,
        [
            (0, "active", 3, 0),
            (1, "active", 3, 0),
            (2, "active", 3, 0),
            (3, "faulty", 3, 0),
            (4, "recovering", 3, 0),
            (5, "terminated", 3, 0),
            (6, "active", 3, 1),
            (7, "active", 3, 1),
            (10, "faulty", 5, 0),
            (11, "active", 5, 0),
            (20, "precommitted", None, None),
        ],
    )
    await add_sectors(db, second.sp_id, [(0, "active", 0, 0), (1, "active", 0, 0)])
    current = first.deadline(chain, HEAD)
    period = DEVNET.wpost_proving_period
    assert current.index > 0  # the arrangement below needs a deadline before the current one
    # The open deadline: partitions 0 and 2 proven so far in this window.
    await add_post(db, first.sp_id, current.period_start, current.index, 0, "bafy2bzacepost1")
    await add_post(db, first.sp_id, current.period_start, current.index, 2, "bafy2bzacepost1")
    # A deadline that closed earlier this period: two proof messages, still disputable.
    earlier = current.index - 1
    await add_post(db, first.sp_id, current.period_start, earlier, 0, "bafy2bzacepost2")
    await add_post(db, first.sp_id, current.period_start, earlier, 1, "bafy2bzacepost3")
    # ...and the same deadline two periods ago: replaced since, not counted.
    await add_post(db, first.sp_id, current.period_start - 2 * period, earlier, 0, "bafy2bzaceold")
    # A deadline not yet open this period: last period's proof is the disputable one.
    later = (current.index + 1) % DEVNET.wpost_period_deadlines
    await add_post(db, first.sp_id, current.period_start - period, later, 0, "bafy2bzacepost4")
    beacons = {
        r["epoch"]: bytes(r["beacon"])
        for r in await db.select(
            "SELECT epoch, beacon FROM chain_tipsets WHERE epoch >= $1", HEAD - 1
        )
    }
    return {
        "first": first,
        "second": second,
        "idle": idle,
        "current": current,
        "earlier": earlier,
        "later": later,
        "beacons": beacons,
    }


async def test_chain_head_is_the_last_materialised_tipset(
    lotus: LotusClient, chain: ChainConfig, state: dict[str, Any]
) -> None:
    head = await lotus.chain_head()
    beacons = state["beacons"]
    assert head.height == HEAD
    assert head.key == (tipset_cid(HEAD, beacons[HEAD]),)
    (block,) = head.blocks
    assert block.height == HEAD
    assert block.parents == (tipset_cid(HEAD - 1, beacons[HEAD - 1]),)
    assert block.timestamp == int(chain.time_of(HEAD).timestamp()) == head.timestamp
    assert [(e.round, e.data) for e in block.beacon_entries] == [(HEAD, beacons[HEAD])]
    assert block.miner == "t00" and block.ticket is None
    # The key is the one the message waits record for messages executed at that epoch.
    assert head.key[0] == tipset_cid(HEAD, beacons[HEAD])


async def test_version_and_network_name(lotus: LotusClient, state: dict[str, Any]) -> None:
    version = await lotus.version()
    assert version.version == "harmony-test"
    assert version.api_version == 0x020300
    assert version.block_delay == 2
    assert await lotus.state_network_name() == NETWORK_NAME


async def test_miner_info(lotus: LotusClient, state: dict[str, Any]) -> None:
    info = await lotus.state_miner_info(1000)
    assert info.owner == info.worker == info.beneficiary == "t01000"
    assert info.new_worker is None and info.worker_change_epoch == -1
    assert info.sector_size == 2048
    assert info.window_post_partition_sectors == 2
    assert info.window_post_proof_type == 10  # StackedDrgWindow2KiBV1_1
    big = await lotus.state_miner_info(state["idle"].sp_id)
    assert big.sector_size == 8 << 20 and big.window_post_proof_type == 11


async def test_proving_deadline_is_the_chains(
    lotus: LotusClient, chain: ChainConfig, state: dict[str, Any]
) -> None:
    miner: Miner = state["first"]
    info = await lotus.state_miner_proving_deadline("f01000")
    expected = miner.deadline(chain, HEAD)
    assert info.current_epoch == HEAD
    assert (info.period_start, info.index, info.open, info.close) == (
        expected.period_start,
        expected.index,
        expected.open,
        expected.close,
    )
    assert (info.challenge, info.fault_cutoff) == (expected.challenge, expected.fault_cutoff)
    assert info.is_open
    assert info.wpost_period_deadlines == 48
    assert info.wpost_proving_period == DEVNET.wpost_proving_period
    assert info.wpost_challenge_window == DEVNET.wpost_challenge_window
    assert info.wpost_challenge_lookback == DEVNET.wpost_challenge_lookback
    assert info.fault_declaration_cutoff == DEVNET.fault_declaration_cutoff


async def test_deadlines_show_proven_partitions_and_disputable_proofs(
    lotus: LotusClient, state: dict[str, Any]
) -> None:
    deadlines = await lotus.state_miner_deadlines("t01000")
    assert len(deadlines) == 48
    current, earlier, later = state["current"].index, state["earlier"], state["later"]
    assert deadlines[current].post_submissions == BitField.of([0, 2])
    assert all(not d.post_submissions for i, d in enumerate(deadlines) if i != current)
    assert deadlines[earlier].disputable_proof_count == 2
    assert deadlines[later].disputable_proof_count == 1
    assert sum(d.disputable_proof_count for d in deadlines) == 3
    assert {d.daily_fee for d in deadlines} == {0}


async def test_partitions_hold_each_state(lotus: LotusClient, state: dict[str, Any]) -> None:
    first, second = await lotus.state_miner_partitions("t01000", 3)
    assert list(first.all_sectors) == [0, 1, 2, 3, 4, 5]
    assert list(first.live_sectors) == [0, 1, 2, 3, 4]
    assert list(first.faulty_sectors) == [3, 4]
    assert list(first.recovering_sectors) == [4]
    assert list(first.active_sectors) == [0, 1, 2]
    assert first.all_sectors.to_json() == [0, 6]  # one run: RLE all the way through
    assert list(second.all_sectors) == list(second.active_sectors) == [6, 7]
    assert not second.faulty_sectors
    assert await lotus.state_miner_partitions("t01000", 9) == []


async def test_faults_and_recoveries_agree_with_proving_info(
    db: DB, chain: ChainConfig, lotus: LotusClient, state: dict[str, Any]
) -> None:
    faults = await lotus.state_miner_faults("t01000")
    recoveries = await lotus.state_miner_recoveries("t01000")
    assert list(faults) == [3, 4, 10]
    assert list(recoveries) == [4]
    info = await proving_info(db, chain, 1000, HEAD)  # what `harmony proving info` shows
    assert (info.faults, info.recovering) == (faults.count(), recoveries.count())
    assert not await lotus.state_miner_faults(state["second"].sp_id)


async def test_power(lotus: LotusClient, state: dict[str, Any]) -> None:
    power = await lotus.state_miner_power("t01000")
    assert power.miner_power.raw_byte_power == 6 * 2048  # sectors 0, 1, 2, 6, 7, 11
    assert power.miner_power.quality_adj_power == 6 * 2048
    assert power.total_power.raw_byte_power == 8 * 2048
    assert power.has_min_power
    idle = await lotus.state_miner_power(state["idle"].sp_id)
    assert idle.miner_power.raw_byte_power == 0 and not idle.has_min_power
    assert idle.total_power == power.total_power


async def test_state_at_the_head_key_and_not_at_another(
    lotus: LotusClient, state: dict[str, Any]
) -> None:
    head = await lotus.chain_head()
    assert (await lotus.state_miner_faults("t01000", head.key)).count() == 3
    older = (tipset_cid(HEAD - 1, state["beacons"][HEAD - 1]),)
    with pytest.raises(LotusRPCError) as caught:
        await lotus.state_miner_partitions("t01000", 3, older)
    assert caught.value.code == 1
    assert "not the devnet's head (epoch 130)" in caught.value.rpc_message


async def test_method_errors_are_code_1(lotus: LotusClient, state: dict[str, Any]) -> None:
    with pytest.raises(LotusRPCError, match="no miner t09999") as unknown:
        await lotus.state_miner_info("t09999")
    assert unknown.value.code == 1
    with pytest.raises(LotusRPCError, match="only ID addresses") as bls:
        await lotus.state_miner_power("f3vvmn62lofvhjd2ugzca6sof2j2ubwok6cj4xxbfzz4yuxfkgobpihhd2")
    assert bls.value.code == 1
    with pytest.raises(LotusRPCError, match="deadline index 48 out of range") as dl:
        await lotus.state_miner_partitions("t01000", 48)
    assert dl.value.code == 1


async def test_protocol_errors_are_go_jsonrpcs(lotus: LotusClient, state: dict[str, Any]) -> None:
    with pytest.raises(LotusRPCError) as unknown:
        await lotus.call("ChainGetBlock", [])
    assert (unknown.value.code, unknown.value.rpc_message) == (
        -32601,
        "method 'Filecoin.ChainGetBlock' not found",
    )
    with pytest.raises(LotusRPCError) as count:
        await lotus.call("StateMinerInfo", "t01000")
    assert count.value.code == -32602
    assert "wrong param count (method 'Filecoin.StateMinerInfo'): 1 != 2" in str(count.value)
    with pytest.raises(LotusRPCError) as bad:
        await lotus.call("StateMinerInfo", 1000, [])
    assert bad.value.code == -32602
    with pytest.raises(LotusRPCError) as tsk:
        await lotus.call("StateMinerInfo", "t01000", ["bafy"])
    assert tsk.value.code == -32602


async def raw(url: str, body: bytes, token: str | None = TOKEN) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as resp,
    ):
        return resp.status, await resp.read()


async def test_http_statuses(server: str, state: dict[str, Any]) -> None:
    status, body = await raw(server, b"{not json")
    assert status == 500 and b'"code": -32700' in body
    status, body = await raw(server, b'{"jsonrpc": "2.0", "id": 1}')
    assert status == 400 and b'"code": -32600' in body
    status, body = await raw(
        server,
        b'[{"jsonrpc":"2.0","method":"Filecoin.StateNetworkName","id":1},'
        b'{"jsonrpc":"2.0","method":"Filecoin.Nope","id":"b"}]',
    )
    assert status == 200
    first, second = json.loads(body)
    assert first == {"jsonrpc": "2.0", "id": 1, "result": NETWORK_NAME}
    assert second["id"] == "b" and second["error"]["code"] == -32601


async def test_a_wrong_or_missing_token_is_401(server: str, state: dict[str, Any]) -> None:
    request = b'{"jsonrpc":"2.0","method":"Filecoin.ChainHead","params":[],"id":1}'
    for token in ("wrong-token-0123456789", None, TOKEN + "x", TOKEN[:-1]):
        status, body = await raw(server, request, token)
        assert (status, body) == (401, b"")
    assert (await raw(server, request))[0] == 200
    async with LotusClient(ApiInfo(server, "wrong-token-0123456789")) as wrong:
        with pytest.raises(LotusUnauthorized, match="refused the token"):
            await wrong.chain_head()
    async with LotusClient(ApiInfo(server)) as anonymous:
        with pytest.raises(LotusUnauthorized, match="wants a token"):
            await anonymous.state_network_name()


async def test_before_a_chain_and_before_its_first_tipset(db: DB, lotus: LotusClient) -> None:
    with pytest.raises(LotusRPCError, match="no devnet chain yet") as none:
        await lotus.chain_head()
    assert none.value.code == 1
    await init_chain(db, DEVNET, genesis=GENESIS, seed=SEED)
    with pytest.raises(LotusRPCError, match="no tipset yet"):
        await lotus.chain_head()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_allowed(host: str) -> None:
    check_listen_host(host, allow_remote=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "lotus.example"])
def test_other_hosts_need_the_explicit_flag(host: str) -> None:
    with pytest.raises(RemoteListenRefused, match="--allow-remote"):
        check_listen_host(host, allow_remote=False)
    check_listen_host(host, allow_remote=True)


async def test_the_server_refuses_to_bind_off_loopback(db: DB) -> None:
    rpc = ChainRpcServer(db, TOKEN)
    with pytest.raises(RemoteListenRefused):
        await rpc.start("0.0.0.0", 0)
    assert rpc.addresses == []


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:1234") == ("127.0.0.1", 1234)
    assert parse_listen("[::1]:0") == ("::1", 0)
    assert parse_listen("localhost:80") == ("localhost", 80)
    for bad in ("127.0.0.1", ":1234", "127.0.0.1:http", "127.0.0.1:70000"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_listen(bad)
