"""The client over real HTTP: what it sends, and every way an endpoint can fail it, each a
clear, bounded error without the token."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from engine.lotus import (
    ApiInfo,
    LotusClient,
    LotusDecodeError,
    LotusError,
    LotusHTTPError,
    LotusRPCError,
    LotusTimeout,
    LotusUnauthorized,
    LotusUnreachable,
    miner_address,
)

TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.client-test-token"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """``await serve(handler)`` → the base URL of an HTTP server answering ``/rpc/v1``."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_post("/rpc/v1", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}/rpc/v1"

    yield start
    for runner in runners:
        await runner.cleanup()


def client(url: str, *, token: str | None = TOKEN, timeout: float = 5.0) -> LotusClient:
    return LotusClient(ApiInfo(url, token), timeout=timeout)


def assert_no_token(exc: BaseException) -> None:
    assert TOKEN not in str(exc) and TOKEN not in repr(exc)


async def test_a_call_is_json_rpc_with_the_bearer_token(serve: Any) -> None:
    seen: list[tuple[dict[str, Any], str | None]] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append((body, request.headers.get("Authorization")))
        result: Any = [0, 2, 3, 1] if body["method"] == "Filecoin.StateMinerFaults" else []
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": result})

    url = await serve(handler)
    async with client(url) as lotus:
        faults = await lotus.state_miner_faults(1000)
        assert list(faults) == [0, 1, 5]
        assert await lotus.state_miner_partitions("t01000", 7, ("bafy2bzaceaaa",)) == []
    (first, auth), (second, _) = seen
    assert auth == f"Bearer {TOKEN}"
    assert first["jsonrpc"] == "2.0" and first["method"] == "Filecoin.StateMinerFaults"
    assert first["params"] == ["f01000", []]  # the empty TipSetKey: the head
    assert second["params"] == ["t01000", 7, [{"/": "bafy2bzaceaaa"}]]
    assert second["id"] != first["id"]


async def test_no_token_no_authorization_header(serve: Any) -> None:
    headers: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        headers.append(request.headers.get("Authorization"))
        body = await request.json()
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": "mainnet"})

    url = await serve(handler)
    async with client(url, token=None) as lotus:
        assert await lotus.state_network_name() == "mainnet"
    assert headers == [None]


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_token_is_unauthorized(serve: Any, status: int) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status)

    url = await serve(handler)
    async with client(url) as lotus:
        with pytest.raises(LotusUnauthorized, match=f"refused the token \\(HTTP {status}\\)") as e:
            await lotus.chain_head()
    assert_no_token(e.value)
    async with client(url, token=None) as lotus:
        with pytest.raises(LotusUnauthorized, match="wants a token"):
            await lotus.chain_head()


async def test_a_json_rpc_error_keeps_code_and_message(serve: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        error = {"code": -32601, "message": f"method '{body['method']}' not found"}
        # go-jsonrpc answers a protocol error with HTTP 500 and the error object
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "error": error}, status=500)

    url = await serve(handler)
    async with client(url) as lotus:
        with pytest.raises(LotusRPCError) as caught:
            await lotus.call("NoSuchMethod")
    assert caught.value.code == -32601
    assert caught.value.method == "Filecoin.NoSuchMethod"
    assert caught.value.rpc_message == "method 'Filecoin.NoSuchMethod' not found"


async def test_an_error_quoting_the_token_is_redacted(serve: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        echoed = request.headers["Authorization"]
        error = {"code": 1, "message": f"proxy says: bad header {echoed}"}
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "error": error})

    url = await serve(handler)
    async with client(url) as lotus:
        with pytest.raises(LotusRPCError) as caught:
            await lotus.chain_head()
    assert "<token redacted>" in str(caught.value)
    assert_no_token(caught.value)


@pytest.mark.parametrize(
    ("reply", "error", "says"),
    [
        (web.Response(status=502, text="<html>bad gateway</html>"), LotusHTTPError, "HTTP 502"),
        (web.Response(status=200, text="not json"), LotusDecodeError, "not JSON"),
        (web.json_response([1, 2]), LotusDecodeError, "not a JSON-RPC object"),
        (web.json_response({"jsonrpc": "2.0", "id": 999, "result": 1}), LotusDecodeError, "id"),
        (web.json_response({"jsonrpc": "2.0", "id": 1}), LotusDecodeError, "neither result"),
        (
            web.json_response({"jsonrpc": "2.0", "id": 1, "result": {"Cids": []}}),
            LotusDecodeError,
            "ChainHead: missing field 'Blocks'",
        ),
    ],
)
async def test_answers_that_are_not_lotus(
    serve: Any, reply: web.Response, error: type[LotusError], says: str
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return reply

    url = await serve(handler)
    async with client(url) as lotus:
        with pytest.raises(error, match=says):
            await lotus.chain_head()


async def test_an_oversized_answer_is_refused(serve: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"[" + b"0," * 200_000 + b"0]")

    url = await serve(handler)
    lotus = LotusClient(ApiInfo(url, TOKEN), max_response_bytes=100_000)
    async with lotus:
        with pytest.raises(LotusDecodeError, match="exceeds 100000 bytes"):
            await lotus.chain_head()


async def test_a_closed_port_is_unreachable_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    async with client(f"http://127.0.0.1:{port}/rpc/v1") as lotus:
        with pytest.raises(
            LotusUnreachable, match=f"cannot reach the Lotus API at http://127.0.0.1:{port}"
        ) as caught:
            await lotus.chain_head()
    assert not isinstance(caught.value, LotusTimeout)
    assert time.monotonic() - started < 3
    assert_no_token(caught.value)


async def silent_server(
    on_connect: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/rpc/v1"


async def test_a_server_that_accepts_and_never_answers_times_out_in_bound() -> None:
    hold = asyncio.Event()
    connections: list[asyncio.StreamWriter] = []

    async def accept_and_hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.read(65536)  # take the request, answer nothing
        await hold.wait()

    server, url = await silent_server(accept_and_hang)
    try:
        async with client(url, timeout=0.5) as lotus:
            started = time.monotonic()
            with pytest.raises(
                LotusTimeout, match=r"did not answer Filecoin.ChainHead within 0.5 s"
            ) as e:
                await lotus.chain_head()
            elapsed = time.monotonic() - started
        assert 0.4 < elapsed < 2.0
        assert connections, "the server accepted the connection"
        assert isinstance(e.value, LotusUnreachable)  # a timeout is a kind of unreachable
        assert_no_token(e.value)
    finally:
        hold.set()
        server.close()
        for writer in connections:
            writer.close()
        await server.wait_closed()


async def test_a_server_that_stalls_mid_answer_times_out_in_bound() -> None:
    hold = asyncio.Event()

    async def half_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b'Content-Length: 1000\r\n\r\n{"jsonrpc": "2.0", ')
        await writer.drain()
        await hold.wait()
        writer.close()

    server, url = await silent_server(half_answer)
    try:
        async with client(url, timeout=0.5) as lotus:
            started = time.monotonic()
            with pytest.raises(LotusTimeout):
                await lotus.chain_head()
            assert time.monotonic() - started < 2.0
    finally:
        hold.set()
        server.close()
        await server.wait_closed()


def test_miner_addresses() -> None:
    assert miner_address(1000) == "f01000"
    assert miner_address(" t01000 ") == "t01000"
    with pytest.raises(ValueError):
        miner_address(-1)


def test_the_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LotusClient(ApiInfo("http://127.0.0.1:1/rpc/v1"), timeout=0)


async def test_a_large_answer_decodes_whole(serve: Any) -> None:
    # 48 deadlines of long bitfields (about 1 MB of JSON, parsed in a thread).
    runs = [1, 1] * 3_000
    deadlines = [{"PostSubmissions": runs, "DisputableProofCount": 0, "DailyFee": "0"}] * 48

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        return web.Response(
            body=json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": deadlines}).encode(),
            content_type="application/json",
        )

    url = await serve(handler)
    async with client(url) as lotus:
        found = await lotus.state_miner_deadlines("f01000")
    assert len(found) == 48 and found[0].post_submissions.count() == 3_000
