"""``harmony chain serve``: the devnet chain over Lotus's JSON-RPC v1 API (the subset the
console reads).

``POST /rpc/v1`` with ``Authorization: Bearer <token>`` and a JSON-RPC 2.0 request naming a
``Filecoin.<Method>``, as a Lotus node takes it; the answers are the records of
:mod:`engine.lotus.types`, written by the same ``to_json`` the client's decoder is tested
against Lotus's documented examples. Errors follow go-jsonrpc: a protocol error (bad JSON,
unknown method, wrong parameters) is HTTP 500 (400 for an invalid request) with a JSON-RPC
error; a method's own error (unknown actor, no such tipset) is HTTP 200 with code 1; a missing
or wrong token is HTTP 401 with no body. Unlike Lotus, which lets a request without a token
read, every request needs the token.

The server only reads. Each request runs in one repeatable-read transaction, so the head and
the sector states it reports are those one chain advance wrote. It listens on a loopback
address unless told otherwise (:func:`check_listen_host`): the API is plain HTTP, and the
token crosses the network in clear.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from engine.harmonydb import HarmonyDBError
from engine.lotus.encoding import read_tipset_key
from engine.lotus.errors import LotusDecodeError
from engine.lotus.jsonrpc import (
    API_PATH,
    APP_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    METHOD_PREFIX,
    PARSE_ERROR,
    http_status_for,
)

from . import lotus_view
from .config import require_chain
from .errors import ChainError
from .miners import get_miner

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx
    from engine.lotus import TipSetKey

    from .config import ChainConfig
    from .miners import Miner

__all__ = [
    "METHODS",
    "ChainRpcServer",
    "RemoteListenRefused",
    "check_listen_host",
    "parse_listen",
]

log = logging.getLogger(__name__)

#: Request bodies larger than this are refused (a State* request is a few hundred bytes).
MAX_REQUEST_BYTES = 1024 * 1024
#: Requests in one JSON-RPC batch.
MAX_BATCH = 100
_ID_ADDRESS = re.compile(r"[ft]0([0-9]{1,20})")
_ADDRESS = re.compile(r"[ft][0-4][a-z0-9]+")


class RemoteListenRefused(ValueError):
    """A listen address off the loopback without the explicit permission to use one."""


class _RpcFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` → ``(host, port)``; port 0 picks a free one."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen address {text!r}: expected HOST:PORT (127.0.0.1:1234)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def check_listen_host(host: str, *, allow_remote: bool) -> None:
    """Refuse a host that is not loopback unless ``allow_remote``."""
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise RemoteListenRefused(
            f"{host} is not a loopback address: the API is plain HTTP and its token would "
            "cross the network in clear; pass --allow-remote to listen there anyway"
        )


# ----------------------------------------------------------------------------- parameters


def _param_address(value: Any, where: str) -> int:
    """An address parameter: the devnet has only ID addresses (``f01000``/``t01000``)."""
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise _RpcFailure(INVALID_PARAMS, f"{where}: expected an address string (f01000)")
    match = _ID_ADDRESS.fullmatch(value)
    if match is None:
        raise _RpcFailure(
            APP_ERROR, f"resolution lookup failed ({value}): the devnet has only ID addresses"
        )
    return int(match.group(1))


def _param_uint(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _RpcFailure(INVALID_PARAMS, f"{where}: expected a non-negative integer")
    return value


def _param_tsk(value: Any, where: str) -> TipSetKey:
    try:
        return read_tipset_key(value, where)
    except LotusDecodeError as exc:
        raise _RpcFailure(INVALID_PARAMS, str(exc)) from None


# ----------------------------------------------------------------------------- methods


@dataclass(frozen=True)
class _Call:
    """What a method needs: the transaction, the chain, and its decoded parameters."""

    tx: Tx
    config: ChainConfig
    software: str

    async def miner(self, sp_id: int) -> Miner:
        return await get_miner(self.tx, sp_id)

    async def head_epoch(self, tsk: TipSetKey) -> int:
        return (await lotus_view.state_tipset(self.tx, self.config, tsk)).height


async def _chain_head(c: _Call) -> Any:
    return (await lotus_view.head_tipset(c.tx, c.config)).to_json()


async def _network_name(c: _Call) -> Any:
    return lotus_view.NETWORK_NAME


async def _version(c: _Call) -> Any:
    return lotus_view.version(c.config, c.software).to_json()


async def _miner_info(c: _Call, sp_id: int, tsk: TipSetKey) -> Any:
    await c.head_epoch(tsk)
    return lotus_view.miner_info(await c.miner(sp_id)).to_json()


async def _proving_deadline(c: _Call, sp_id: int, tsk: TipSetKey) -> Any:
    epoch = await c.head_epoch(tsk)
    return lotus_view.deadline_info(c.config, await c.miner(sp_id), epoch).to_json()


async def _deadlines(c: _Call, sp_id: int, tsk: TipSetKey) -> Any:
    epoch = await c.head_epoch(tsk)
    found = await lotus_view.miner_deadlines(c.tx, c.config, await c.miner(sp_id), epoch)
    return [d.to_json() for d in found]


async def _partitions(c: _Call, sp_id: int, deadline: int, tsk: TipSetKey) -> Any:
    await c.head_epoch(tsk)
    found = await lotus_view.miner_partitions(c.tx, c.config, await c.miner(sp_id), deadline)
    return [p.to_json() for p in found]


async def _power(c: _Call, sp_id: int, tsk: TipSetKey) -> Any:
    await c.head_epoch(tsk)
    return (await lotus_view.miner_power(c.tx, await c.miner(sp_id))).to_json()


async def _faults(c: _Call, sp_id: int, tsk: TipSetKey) -> Any:
    await c.head_epoch(tsk)
    miner = await c.miner(sp_id)
    return (await lotus_view.miner_sector_set(c.tx, miner, lotus_view.FAULT_STATES)).to_json()


async def _recoveries(c: _Call, sp_id: int, tsk: TipSetKey) -> Any:
    await c.head_epoch(tsk)
    miner = await c.miner(sp_id)
    found = await lotus_view.miner_sector_set(c.tx, miner, lotus_view.RECOVERING_STATES)
    return found.to_json()


async def _sector_info(c: _Call, sp_id: int, number: int, tsk: TipSetKey) -> Any:
    await c.head_epoch(tsk)
    return await lotus_view.sector_info(c.tx, await c.miner(sp_id), number)


async def _sector_expiration(c: _Call, sp_id: int, number: int, tsk: TipSetKey) -> Any:
    epoch = await c.head_epoch(tsk)
    miner = await c.miner(sp_id)
    return await lotus_view.sector_expiration(c.tx, c.config, miner, number, epoch)


_Param = Callable[[Any, str], Any]
_Handler = Callable[..., Awaitable[Any]]
_ADDR, _UINT, _TSK = _param_address, _param_uint, _param_tsk

#: Every method served, with its parameter decoders (the names are Lotus's, after "Filecoin.").
METHODS: dict[str, tuple[tuple[_Param, ...], _Handler]] = {
    "ChainHead": ((), _chain_head),
    "StateNetworkName": ((), _network_name),
    "Version": ((), _version),
    "StateMinerInfo": ((_ADDR, _TSK), _miner_info),
    "StateMinerProvingDeadline": ((_ADDR, _TSK), _proving_deadline),
    "StateMinerDeadlines": ((_ADDR, _TSK), _deadlines),
    "StateMinerPartitions": ((_ADDR, _UINT, _TSK), _partitions),
    "StateMinerPower": ((_ADDR, _TSK), _power),
    "StateMinerFaults": ((_ADDR, _TSK), _faults),
    "StateMinerRecoveries": ((_ADDR, _TSK), _recoveries),
    "StateSectorGetInfo": ((_ADDR, _UINT, _TSK), _sector_info),
    "StateSectorExpiration": ((_ADDR, _UINT, _TSK), _sector_expiration),
}


# ----------------------------------------------------------------------------- server


class ChainRpcServer:
    """The HTTP server; ``start`` binds, ``stop`` closes (or use ``async with``).

    Args:
        db: the cluster whose devnet chain is served (read only).
        token: the bearer token every request must carry.
        software: what ``Version`` reports.
    """

    def __init__(self, db: DB, token: str, *, software: str = "harmony-console") -> None:
        if not token:
            raise ValueError("the server needs a token")
        self.db = db
        self._token = token.encode()
        self.software = software
        self._runner: web.AppRunner | None = None
        self.addresses: list[tuple[str, int]] = []

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_post(API_PATH, self._handle)
        return app

    async def start(
        self, host: str = "127.0.0.1", port: int = 1234, *, allow_remote: bool = False
    ) -> list[tuple[str, int]]:
        """Listen on ``host:port``; returns the bound ``(host, port)`` pairs.

        Raises:
            RemoteListenRefused: ``host`` is not loopback and ``allow_remote`` is false.
            OSError: the address is taken or cannot be bound.
        """
        check_listen_host(host, allow_remote=allow_remote)
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, reuse_address=True)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.addresses = [(str(a[0]), int(a[1])) for a in runner.addresses]
        return self.addresses

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> ChainRpcServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ requests

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme != "Bearer" or not given:
            return False
        return hmac.compare_digest(given.strip().encode(), self._token)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            # Lotus's auth handler: 401, no body. The token (if any) is not logged.
            log.info("refused a request from %s: missing or wrong token", request.remote)
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        try:
            body = await request.read()
            message = json.loads(body)
        except web.HTTPRequestEntityTooLarge:
            raise
        except (ValueError, UnicodeDecodeError):
            return self._reply(None, _RpcFailure(PARSE_ERROR, "Parse error"))
        if isinstance(message, list):
            if not message or len(message) > MAX_BATCH:
                return self._reply(
                    None,
                    _RpcFailure(INVALID_REQUEST, f"a batch holds 1 to {MAX_BATCH} requests"),
                )
            answers = [await self._answer(m) for m in message]
            return web.json_response([a for a, _ in answers])
        answer, status = await self._answer(message)
        return web.json_response(answer, status=status)

    def _reply(self, request_id: Any, failure: _RpcFailure) -> web.Response:
        answer = _error(request_id, failure)
        return web.json_response(answer, status=http_status_for(failure.code))

    async def _answer(self, message: Any) -> tuple[dict[str, Any], int]:
        request_id = message.get("id") if isinstance(message, dict) else None
        try:
            result = await self._dispatch(message)
        except _RpcFailure as failure:
            return _error(request_id, failure), http_status_for(failure.code)
        return {"jsonrpc": "2.0", "id": request_id, "result": result}, 200

    async def _dispatch(self, message: Any) -> Any:
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            raise _RpcFailure(INVALID_REQUEST, "Invalid request")
        full = message["method"]
        params = message.get("params")
        if params is None:
            params = []
        if not isinstance(params, list):
            raise _RpcFailure(INVALID_REQUEST, "Invalid request: params must be a list")
        name = full.removeprefix(METHOD_PREFIX)
        entry = METHODS.get(name) if full.startswith(METHOD_PREFIX) else None
        if entry is None:
            raise _RpcFailure(METHOD_NOT_FOUND, f"method '{full}' not found")
        decoders, handler = entry
        if len(params) != len(decoders):
            raise _RpcFailure(
                INVALID_PARAMS,
                f"wrong param count (method '{full}'): {len(params)} != {len(decoders)}",
            )
        args = [
            decode(value, f"{full} param {i + 1}")
            for i, (decode, value) in enumerate(zip(decoders, params, strict=True))
        ]

        async def read(tx: Tx) -> Any:
            config = await require_chain(tx)
            return await handler(_Call(tx, config, self.software), *args)

        try:
            return await self.db.transaction(read, isolation="repeatable_read")
        except ChainError as exc:  # unknown miner, no tipset yet, not the head, no chain
            raise _RpcFailure(APP_ERROR, str(exc)) from None
        except HarmonyDBError as exc:
            log.warning("%s: reading the devnet chain failed: %s", full, exc)
            raise _RpcFailure(APP_ERROR, f"reading the devnet chain failed: {exc}") from None


def _error(request_id: Any, failure: _RpcFailure) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": failure.code, "message": str(failure)},
    }
