"""ChainWatch: chain state for the Curio read model from a Lotus node, read in the background.

The node is ``harmony chain serve``'s server in-process over a devnet chain in the test
database (the Lotus v1 API over real HTTP); a node that is down and one that accepts and never
answers are real sockets. What matters besides the figures: ``latest`` never waits for Lotus,
a failure becomes one line without the token, and the last good figures stay with their age.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.chain import DEVNET, ChainConfig, advance_chain, create_miner, init_chain
from engine.chain.lotus_view import NETWORK_NAME
from engine.chain.rpc_server import ChainRpcServer
from engine.harmonydb import DB
from engine.lotus import ApiInfo, Endpoint
from engine.snapshot.curio.chain import ChainState, ChainWatch

GENESIS = datetime(2026, 1, 1, tzinfo=UTC)
SEED = bytes(range(32))
TOKEN = "devnet-chain-watch-token-0123456789"
HEAD = 130


async def add_sectors(
    db: DB, sp_id: int, rows: list[tuple[int, str, int | None, int | None]]
) -> None:
    """``(number, state, deadline, partition)`` rows straight into the devnet's sectors."""
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


@pytest.fixture
async def chain(db: DB) -> dict[str, Any]:
    """A devnet chain at epoch 130 with one miner: sectors in every state in deadline 3, a
    proof landed for partition 0 of the open deadline."""
    config, _ = await init_chain(db, DEVNET, genesis=GENESIS, seed=SEED)
    miner = await create_miner(db, config, 2048, epoch=0)
    assert (await advance_chain(db, config, HEAD)).head == HEAD
    current = miner.deadline(config, HEAD)
    await add_sectors(
        db,
        miner.sp_id,
        [
            (0, "active", 3, 0),
            (1, "active", 3, 0),
            (2, "faulty", 3, 0),
            (3, "recovering", 3, 0),
            (4, "terminated", 3, 0),
            (5, "active", 3, 1),
            (6, "active", current.index, 0),
        ],
    )
    await db.exec(
        "INSERT INTO chain_post_submissions (sp_id, proving_period_start, deadline, "
        "\"partition\", landed_epoch, message_cid) VALUES ($1, $2, $3, 0, 1, 'bafy2bzacepost')",
        miner.sp_id,
        current.period_start,
        current.index,
    )
    return {"config": config, "miner": miner, "current": current}


@pytest.fixture
async def server(db: DB) -> AsyncIterator[ChainRpcServer]:
    async with ChainRpcServer(db, TOKEN, software="harmony-test") as rpc:
        await rpc.start("127.0.0.1", 0)
        yield rpc


def url_of(rpc: ChainRpcServer) -> str:
    ((host, port),) = rpc.addresses
    return f"http://{host}:{port}/rpc/v1"


@pytest.fixture
async def watch(server: ChainRpcServer) -> AsyncIterator[ChainWatch]:
    endpoint = Endpoint(ApiInfo(url_of(server), TOKEN), "test")
    w = ChainWatch(endpoint, interval=15, call_timeout=5)
    try:
        yield w
    finally:
        await w.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def assert_one_line_no_token(state: ChainState) -> None:
    assert state.error is not None
    assert "\n" not in state.error
    assert TOKEN not in state.error


NOW = GENESIS + timedelta(seconds=HEAD * DEVNET.block_time)


async def test_a_refresh_reads_head_network_deadlines_partitions_and_power(
    watch: ChainWatch, chain: dict[str, Any]
) -> None:
    config: ChainConfig = chain["config"]
    miner = chain["miner"]
    current = chain["current"]
    watch.follow([miner.sp_id])
    state = await watch.refresh(NOW)
    assert state.error is None and state.ok
    assert state.network == NETWORK_NAME and state.address_prefix == "t0"
    assert state.head_epoch == HEAD
    assert state.block_delay == DEVNET.block_time
    assert state.read_at == NOW and state.age(NOW + timedelta(seconds=3)) == 3.0
    # Filecoin's timestamps are genesis + height x block delay: the head gives the genesis
    assert state.genesis == config.genesis_time == GENESIS
    profile = state.profile()
    assert profile is not None and profile.name == NETWORK_NAME
    for constant in (
        "block_time",
        "wpost_challenge_window",
        "wpost_period_deadlines",
        "wpost_challenge_lookback",
        "fault_declaration_cutoff",
        "wpost_proving_period",
    ):
        assert getattr(profile, constant) == getattr(DEVNET, constant), constant

    m = state.miner(miner.sp_id)
    assert m is not None and m.error is None
    assert m.sector_size == 2048
    assert m.deadline is not None
    assert (m.deadline.period_start, m.deadline.index, m.deadline.open, m.deadline.close) == (
        current.period_start,
        current.index,
        current.open,
        current.close,
    )
    assert (m.deadline.challenge, m.deadline.fault_cutoff) == (
        current.challenge,
        current.fault_cutoff,
    )
    assert len(m.deadlines) == 48
    three = m.deadlines[3]
    assert [(p.all, p.live, p.active, p.faulty, p.recovering) for p in three.partitions] == [
        (5, 4, 2, 2, 1),  # the terminated sector is in All only; recovering stays faulty
        (1, 1, 1, 0, 0),
    ]
    assert (three.live_partitions, three.live, three.faulty, three.recovering) == (2, 5, 2, 1)
    assert m.deadlines[current.index].post_submissions == 1
    assert sum(d.post_submissions for d in m.deadlines) == 1
    assert (m.live, m.faulty, m.recovering) == (6, 2, 1)
    assert m.raw_power == m.qa_power == 4 * 2048  # active: 0, 1, 5 and 6
    assert m.has_min_power is True


async def test_latest_never_waits_and_refreshes_in_the_background_when_due(
    watch: ChainWatch, chain: dict[str, Any]
) -> None:
    started = time.monotonic()
    assert watch.latest(NOW) is None  # nothing read yet: a refresh starts, nothing waits
    assert time.monotonic() - started < 0.05
    first = await watch.refresh()  # joins the refresh latest() started
    assert first.read_at == NOW and first.miners == ()
    assert watch.latest(NOW + timedelta(seconds=5)) is first  # not due: no new refresh
    assert watch._task is not None and watch._task.done()
    # following a miner makes the next call refresh at once
    watch.follow([chain["miner"].sp_id])
    assert watch.latest(NOW + timedelta(seconds=6)) is first
    second = await watch.refresh()
    assert second.read_at == NOW + timedelta(seconds=6) and len(second.miners) == 1
    # the same miners again: nothing due until the interval has passed
    watch.follow([chain["miner"].sp_id])
    assert watch.latest(NOW + timedelta(seconds=7)) is second
    assert watch._task.done()
    assert watch.latest(NOW + timedelta(seconds=21)) is second  # due: started, not awaited
    assert not watch._task.done()
    third = await watch.refresh()
    assert third.read_at == NOW + timedelta(seconds=21)
    assert watch.latest(NOW + timedelta(seconds=22)) is third


async def test_a_miner_the_node_does_not_know_is_an_error_of_that_miner_only(
    watch: ChainWatch, chain: dict[str, Any]
) -> None:
    watch.follow([chain["miner"].sp_id, 9999])
    state = await watch.refresh(NOW)
    assert state.error is None
    unknown = state.miner(9999)
    assert unknown is not None and unknown.error is not None
    assert "no miner t09999" in unknown.error and unknown.deadlines == ()
    known = state.miner(chain["miner"].sp_id)
    assert known is not None and known.error is None and len(known.deadlines) == 48


async def test_a_node_that_goes_down_keeps_the_last_figures_with_an_error(
    db: DB, chain: dict[str, Any]
) -> None:
    rpc = ChainRpcServer(db, TOKEN, software="harmony-test")
    await rpc.start("127.0.0.1", 0)
    watch = ChainWatch(ApiInfo(url_of(rpc), TOKEN), interval=15, call_timeout=2)
    try:
        watch.follow([chain["miner"].sp_id])
        good = await watch.refresh(NOW)
        assert good.ok
        await rpc.stop()
        later = NOW + timedelta(seconds=20)
        started = time.monotonic()
        assert watch.latest(later) is good  # due: a refresh starts, the last state returns
        assert time.monotonic() - started < 0.05
        failed = await watch.refresh()
        assert_one_line_no_token(failed)
        assert "cannot reach the Lotus API" in (failed.error or "")
        # the last good figures stay, with their age; the failure has its own time
        assert failed.head_epoch == HEAD and failed.miners == good.miners
        assert failed.read_at == NOW and failed.tried_at == later
        assert failed.age(later) == 20.0 and not failed.ok and failed.has_data
        assert watch.latest(later + timedelta(seconds=1)) is failed
    finally:
        await watch.close()
        await rpc.stop()


async def test_a_node_that_is_down_from_the_start() -> None:
    watch = ChainWatch(ApiInfo(f"http://127.0.0.1:{closed_port()}/rpc/v1", TOKEN))
    try:
        started = time.monotonic()
        assert watch.latest(NOW) is None
        assert time.monotonic() - started < 0.05
        state = await watch.refresh()
        assert time.monotonic() - started < 3
        assert_one_line_no_token(state)
        assert not state.has_data and state.head_epoch is None and state.age(NOW) is None
        assert state.address_prefix is None and state.profile() is None
        assert watch.latest(NOW + timedelta(seconds=1)) is state
    finally:
        await watch.close()


async def test_a_wrong_token_is_an_error_line_without_any_token(
    server: ChainRpcServer, chain: dict[str, Any]
) -> None:
    wrong = "not-the-token-abcdef0123456789"
    watch = ChainWatch(ApiInfo(url_of(server), wrong))
    try:
        state = await watch.refresh(NOW)
        assert state.error is not None and "refused the token" in state.error
        assert wrong not in state.error and TOKEN not in state.error
    finally:
        await watch.close()


@contextlib.asynccontextmanager
async def a_node_that_hangs() -> AsyncIterator[tuple[str, list[asyncio.StreamWriter]]]:
    """A node that accepts connections, takes each request and never answers: its API URL,
    and the connections it accepted."""
    hold = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def accept_and_hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read(65536)  # take the request, never answer
        await hold.wait()

    server = await asyncio.start_server(accept_and_hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/rpc/v1", writers
    finally:
        hold.set()
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def test_a_node_that_hangs_is_bounded_and_latest_stays_immediate() -> None:
    async with a_node_that_hangs() as (url, writers):
        watch = ChainWatch(ApiInfo(url, TOKEN), call_timeout=0.3)
        try:
            started = time.monotonic()
            assert watch.latest(NOW) is None
            for second in range(1, 4):  # while the refresh hangs, every call returns at once
                assert watch.latest(NOW + timedelta(seconds=second)) is None
            assert time.monotonic() - started < 0.05
            state = await watch.refresh()
            elapsed = time.monotonic() - started
            assert 0.25 < elapsed < 2.0, elapsed
            assert_one_line_no_token(state)
            assert "did not answer" in (state.error or "")
            assert writers, "the node accepted the connection"
        finally:
            await watch.close()


async def test_the_whole_refresh_is_bounded_too() -> None:
    """Calls that each answer within their own bound still end with the refresh's."""
    async with a_node_that_hangs() as (url, _):
        watch = ChainWatch(ApiInfo(url), call_timeout=5, refresh_timeout=0.3)
        try:
            started = time.monotonic()
            state = await watch.refresh(NOW)
            assert time.monotonic() - started < 2.0
            assert state.error is not None and "within 0.3 s" in state.error
        finally:
            await watch.close()


async def test_close_cancels_a_refresh_in_flight() -> None:
    async with a_node_that_hangs() as (url, _):
        watch = ChainWatch(ApiInfo(url), call_timeout=30)
        assert watch.latest(NOW) is None
        task = watch._task
        assert task is not None
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await watch.close()
        assert time.monotonic() - started < 1.0
        assert task.cancelled()
        assert watch.latest(NOW + timedelta(minutes=1)) is None  # closed: nothing starts
        assert watch._task is None
        with pytest.raises(RuntimeError, match="closed"):
            await watch.refresh()


def test_the_address_prefix_is_the_networks() -> None:
    assert ChainState(network="mainnet").address_prefix == "f0"
    assert ChainState(network="calibrationnet").address_prefix == "t0"
    assert ChainState(network=NETWORK_NAME).address_prefix == "t0"
    assert ChainState().address_prefix is None
