"""An async client for the Lotus v1 API subset the panes read (chain head, miner state).

One :class:`LotusClient` per endpoint, used as an async context manager (it owns an aiohttp
session). Every call is bounded: ``timeout`` seconds for the whole exchange (connect, send,
answer), so a node that accepts the connection and never answers costs a pane one bounded
wait, not a hung refresh. Answers are capped in size and decoded into the typed records of
:mod:`engine.lotus.types`; a large answer is parsed in a thread, so the event loop never stalls
on it.

The token travels only in ``Authorization: Bearer``; errors name the URL, the method and the
status, never the token (and pass through :func:`~engine.lotus.errors.redact` regardless).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from types import TracebackType
from typing import Any

import aiohttp

from .apiinfo import ApiInfo
from .bitfield import BitField
from .encoding import TipSetKey, read_list, read_str, tipset_key_json
from .errors import (
    LotusDecodeError,
    LotusError,
    LotusHTTPError,
    LotusRPCError,
    LotusTimeout,
    LotusUnauthorized,
    LotusUnreachable,
    redact,
)
from .jsonrpc import METHOD_PREFIX
from .types import Deadline, DeadlineInfo, MinerInfo, MinerPower, Partition, TipSet, Version

__all__ = ["DEFAULT_TIMEOUT", "MAX_RESPONSE_BYTES", "LotusClient", "miner_address"]

log = logging.getLogger(__name__)

#: Seconds for one call, connect to last byte. A healthy node answers these reads in
#: milliseconds; a pane refreshing every few seconds must not wait longer than this.
DEFAULT_TIMEOUT = 10.0
#: Bytes an answer may have (a miner's partitions with millions of sectors stay far below).
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_PARSE_IN_THREAD = 256 * 1024


def miner_address(miner: str | int) -> str:
    """``1000`` → ``f01000``; an address string is passed on as given (Lotus accepts both
    network prefixes, ``f`` and ``t``)."""
    if isinstance(miner, int):
        if miner < 0:
            raise ValueError(f"actor id {miner} is negative")
        return f"f0{miner}"
    return miner.strip()


class LotusClient:
    """JSON-RPC over HTTP to one Lotus (or ``harmony chain serve``) endpoint.

    Args:
        info: the endpoint (:func:`~engine.lotus.apiinfo.parse_api_info`).
        timeout: seconds for one whole call.
        connect_timeout: seconds to establish the connection (default: ``timeout``).
    """

    def __init__(
        self,
        info: ApiInfo,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        if not timeout > 0:
            raise ValueError("timeout must be positive")
        self.info = info
        self.timeout = timeout
        self.connect_timeout = connect_timeout or timeout
        self.max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> LotusClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _session_now(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running loop (aiohttp binds it to that loop).
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout, connect=self.connect_timeout),
                # No proxy from the environment: the bearer token goes to the node only.
                trust_env=False,
            )
        return self._session

    # ------------------------------------------------------------------ raw calls

    async def call(self, method: str, *params: Any) -> Any:
        """``Filecoin.<method>(*params)``; returns the decoded JSON ``result``.

        Raises:
            LotusTimeout: no complete answer within ``timeout`` seconds.
            LotusUnreachable: connection refused, unknown host, connection dropped.
            LotusUnauthorized: HTTP 401/403 (a wrong or missing token).
            LotusRPCError: the node answered with a JSON-RPC error (``code``, ``message``).
            LotusHTTPError: any other HTTP failure.
            LotusDecodeError: the answer is not JSON-RPC.
        """
        try:
            return await self._call(method, params)
        except LotusError as exc:
            # Belt and braces: nothing above builds a message from the token, but an error
            # text quoted from elsewhere might (a proxy echoing the request).
            text = redact(str(exc), self.info.token)
            if text != str(exc):
                exc.args = (text,)
            raise

    async def _call(self, method: str, params: tuple[Any, ...]) -> Any:
        full = method if method.startswith(METHOD_PREFIX) else METHOD_PREFIX + method
        request_id = next(self._ids)
        body = json.dumps(
            {"jsonrpc": "2.0", "method": full, "params": list(params), "id": request_id}
        ).encode()
        url = self.info.url
        headers = {"Content-Type": "application/json", **self.info.headers()}
        try:
            async with asyncio.timeout(self.timeout):
                async with self._session_now().post(url, data=body, headers=headers) as resp:
                    if resp.status in (401, 403):
                        raise LotusUnauthorized(self._refused(resp.status))
                    raw = await self._read(resp, full)
                    status = resp.status
        except TimeoutError:
            raise LotusTimeout(
                f"Lotus API at {url} did not answer {full} within {self.timeout:g} s"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror or type(exc.os_error).__name__
            raise LotusUnreachable(f"cannot reach the Lotus API at {url}: {reason}") from None
        except aiohttp.ClientError as exc:
            raise LotusUnreachable(
                f"the Lotus API at {url} dropped the connection during {full} "
                f"({type(exc).__name__})"
            ) from None
        answer = await self._parse(raw, full, status)
        if not isinstance(answer, dict):
            raise LotusDecodeError(f"{full}: the answer is not a JSON-RPC object")
        error = answer.get("error")
        if error is not None:
            if not isinstance(error, dict):
                raise LotusDecodeError(f"{full}: malformed JSON-RPC error")
            code = error.get("code")
            message = error.get("message")
            raise LotusRPCError(
                full,
                code if isinstance(code, int) and not isinstance(code, bool) else 0,
                message if isinstance(message, str) else "(no message)",
            )
        if status != 200:
            raise LotusHTTPError(f"Lotus API at {url} answered {full} with HTTP {status}", status)
        if answer.get("id") != request_id:
            raise LotusDecodeError(f"{full}: the answer's id does not match the request's")
        if "result" not in answer:
            raise LotusDecodeError(f"{full}: the answer has neither result nor error")
        return answer["result"]

    def _refused(self, status: int) -> str:
        if self.info.token:
            return (
                f"the Lotus API at {self.info.url} refused the token (HTTP {status}): check "
                "the token part (before the first ':') of the API info"
            )
        return (
            f"the Lotus API at {self.info.url} wants a token (HTTP {status}): give "
            "TOKEN:ADDRESS (lotus auth api-info --perm=read prints one)"
        )

    async def _read(self, resp: aiohttp.ClientResponse, method: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_response_bytes:
                raise LotusDecodeError(
                    f"{method}: the answer exceeds {self.max_response_bytes} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def _parse(self, raw: bytes, method: str, status: int) -> Any:
        try:
            if len(raw) > _PARSE_IN_THREAD:
                return await asyncio.to_thread(json.loads, raw)
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            if status != 200:
                raise LotusHTTPError(
                    f"Lotus API at {self.info.url} answered {method} with HTTP {status}", status
                ) from None
            raise LotusDecodeError(f"{method}: the answer is not JSON") from None

    # ------------------------------------------------------------------ typed calls

    async def version(self) -> Version:
        return Version.from_json(await self.call("Version"), "Version")

    async def chain_head(self) -> TipSet:
        """The node's current head tipset."""
        return TipSet.from_json(await self.call("ChainHead"), "ChainHead")

    async def state_network_name(self) -> str:
        """``mainnet``, ``calibrationnet``, a devnet's name…"""
        return read_str(await self.call("StateNetworkName"), "StateNetworkName")

    async def state_miner_info(self, miner: str | int, tsk: TipSetKey = ()) -> MinerInfo:
        result = await self.call("StateMinerInfo", miner_address(miner), tipset_key_json(tsk))
        return MinerInfo.from_json(result, "StateMinerInfo")

    async def state_miner_proving_deadline(
        self, miner: str | int, tsk: TipSetKey = ()
    ) -> DeadlineInfo:
        """The deadline open at the tipset (or the next, if it has elapsed)."""
        result = await self.call(
            "StateMinerProvingDeadline", miner_address(miner), tipset_key_json(tsk)
        )
        return DeadlineInfo.from_json(result, "StateMinerProvingDeadline")

    async def state_miner_deadlines(self, miner: str | int, tsk: TipSetKey = ()) -> list[Deadline]:
        """All the miner's deadlines, by index (48 on every network)."""
        result = await self.call("StateMinerDeadlines", miner_address(miner), tipset_key_json(tsk))
        return [
            Deadline.from_json(d, f"StateMinerDeadlines[{i}]")
            for i, d in enumerate(read_list(result, "StateMinerDeadlines"))
        ]

    async def state_miner_partitions(
        self, miner: str | int, deadline: int, tsk: TipSetKey = ()
    ) -> list[Partition]:
        """The partitions of one deadline, by index."""
        result = await self.call(
            "StateMinerPartitions", miner_address(miner), deadline, tipset_key_json(tsk)
        )
        return [
            Partition.from_json(p, f"StateMinerPartitions[{i}]")
            for i, p in enumerate(read_list(result, "StateMinerPartitions"))
        ]

    async def state_miner_power(self, miner: str | int, tsk: TipSetKey = ()) -> MinerPower:
        result = await self.call("StateMinerPower", miner_address(miner), tipset_key_json(tsk))
        return MinerPower.from_json(result, "StateMinerPower")

    async def state_miner_faults(self, miner: str | int, tsk: TipSetKey = ()) -> BitField:
        """Faulty sectors (recovering ones included, as on chain)."""
        result = await self.call("StateMinerFaults", miner_address(miner), tipset_key_json(tsk))
        return BitField.from_json(result, "StateMinerFaults")

    async def state_miner_recoveries(self, miner: str | int, tsk: TipSetKey = ()) -> BitField:
        """Sectors declared recovering, not yet proven."""
        result = await self.call("StateMinerRecoveries", miner_address(miner), tipset_key_json(tsk))
        return BitField.from_json(result, "StateMinerRecoveries")
