"""Reading sector files from the hosts that serve them (``/remote`` of another machine).

Every call takes the URLs ``find_sector`` gives for a copy (``storage_path.urls``: one per host
the path is attached on), skips ``file://`` ones (a host serving none), and tries the others in
turn: a refused connection, a timeout, a 5xx or a body cut short moves on to the next URL; a 404
too (that host no longer holds it). Each request is bounded (``connect`` and ``read`` timeouts:
a host that stops answering mid-read costs at most ``read_timeout``), and so is the whole call
(each URL at most ``attempts`` times). When every URL failed, :class:`RemoteReadError` names each
host's URL and what it answered.

Downloads write into a file or directory the caller created under a temporary name and check
the byte count the server announced: a cut stream never leaves a file that looks whole.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import aiohttp

from ..durable import fsync_dir
from ..errors import StorageError
from ..hosts import is_http_url
from ..sectors import find_sector, sector_name
from .secret import ClusterSecret, cluster_secret
from .server import TOTAL_BYTES_HEADER

if TYPE_CHECKING:
    from engine.harmonydb import DB

    from ..filetypes import SectorFileType

__all__ = ["RemoteFault", "RemoteReadError", "RemoteReader", "sector_url", "serving_all"]

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class RemoteReadError(StorageError):
    """No host could serve the request; ``tried`` lists ``(url, what happened)``."""

    def __init__(self, what: str, tried: list[tuple[str, str]]) -> None:
        if tried:
            detail = "; ".join(f"{url}: {why}" for url, why in tried)
        else:
            detail = "no host serves it (only file:// URLs: start `harmony run` there)"
        super().__init__(f"{what}: {detail}")
        self.tried = tried


@dataclass(frozen=True)
class RemoteFault:
    """The holding host has the files but could not prove them (``kind`` as a SectorFault)."""

    url: str
    kind: str
    detail: str


class _Retry(Exception):
    """This URL failed in a way another URL (or another attempt) may not."""


class _Gone(Exception):
    """This URL does not have it (404): no point asking it again."""


async def serving_all(
    db: DB, host: str, miner: int, sector: int, types: SectorFileType
) -> list[str]:
    """The storage servers (as ``host`` sees them) that hold every file of ``types`` of the
    sector, in ``find_sector``'s order: a vanilla proof needs them all on the host making it."""
    by_type: dict[SectorFileType, list[str]] = {ft: [] for ft in types.bits()}
    for loc in await find_sector(db, miner, sector, types, host=host):
        by_type[loc.file_type].extend(u for u in loc.urls if is_http_url(u))
    first, *others = by_type.values()
    return [u for u in dict.fromkeys(first) if all(u in other for other in others)]


def sector_url(base: str, ft: SectorFileType, miner: int, sector: int) -> str:
    """``http://host:port/remote`` -> ``.../remote/sealed/s-t01000-7``."""
    return f"{base.rstrip('/')}/{ft.dir_name}/{sector_name(miner, sector)}"


@dataclass
class RemoteReader:
    """A client of other hosts' storage servers (one per process; :meth:`close` at the end).

    Args:
        connect_timeout: seconds to establish a connection.
        read_timeout: seconds without a byte before a read is abandoned.
        attempts: tries per URL (a fresh connection each time).
    """

    db: DB
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    attempts: int = 2
    _secret: ClusterSecret | None = field(default=None, repr=False)
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _client(self) -> tuple[aiohttp.ClientSession, dict[str, str]]:
        if self._secret is None:
            self._secret = await cluster_secret(self.db)
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.connect_timeout, sock_read=self.read_timeout
                )
            )
        return self._session, self._secret.headers()

    async def _each(
        self, what: str, urls: list[str], attempt: Callable[[str], Any]
    ) -> tuple[str, Any]:
        """Run ``attempt(base_url)`` on each serving URL until one succeeds."""
        tried: list[tuple[str, str]] = []
        for base in [u for u in urls if is_http_url(u)]:
            for n in range(self.attempts):
                try:
                    return base, await attempt(base)
                except _Gone as exc:
                    tried.append((base, str(exc)))
                    break
                except (TimeoutError, _Retry, aiohttp.ClientError, OSError) as exc:
                    why = str(exc) or type(exc).__name__
                    log.warning("%s from %s (attempt %d): %s", what, base, n + 1, why)
                    if n + 1 == self.attempts:
                        tried.append((base, why))
        raise RemoteReadError(f"cannot read {what}", tried)

    @staticmethod
    async def _check(response: aiohttp.ClientResponse, url: str) -> None:
        if response.status in (200, 206):
            return
        text = (await response.text(errors="replace")).strip()[:200]
        if response.status == 404:
            raise _Gone(f"404 {text}")
        if response.status == 401:
            raise _Gone("401: the storage secret was refused (another cluster's server?)")
        if response.status >= 500:
            raise _Retry(f"{response.status} {text}")
        raise _Gone(f"{response.status} {text}")

    async def read_range(
        self,
        urls: list[str],
        ft: SectorFileType,
        miner: int,
        sector: int,
        offset: int,
        length: int,
    ) -> bytes:
        """``length`` bytes of a sector file from ``offset`` (a Range request)."""
        if offset < 0 or length <= 0:
            raise ValueError(f"bad range: offset {offset}, length {length}")
        session, headers = await self._client()

        async def attempt(base: str) -> bytes:
            url = sector_url(base, ft, miner, sector)
            rng = {"Range": f"bytes={offset}-{offset + length - 1}"}
            async with session.get(url, headers={**headers, **rng}) as response:
                await self._check(response, url)
                if response.status != 206:
                    raise _Gone(f"{response.status}: the server ignored the range")
                data = await response.read()
            if len(data) != length:
                raise _Gone(f"{len(data)} bytes for a {length}-byte range (past the end?)")
            return data

        _url, data = await self._each(
            f"{ft} of {sector_name(miner, sector)} [{offset}:+{length}]", urls, attempt
        )
        return data

    async def fetch_into(
        self,
        urls: list[str],
        ft: SectorFileType,
        miner: int,
        sector: int,
        target: Path,
        *,
        fd: int | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> tuple[str, int]:
        """Download a whole file into the empty open file ``fd`` (at ``target``), or a cache
        directory into the empty directory ``target``; fsync it. Returns (base URL, bytes).

        A failed attempt empties ``target`` again before the next URL is tried.
        """
        session, headers = await self._client()
        progress = on_progress or (lambda _n: None)

        async def attempt(base: str) -> int:
            url = sector_url(base, ft, miner, sector)
            await asyncio.to_thread(_empty, target, fd)
            async with session.get(url, headers=headers) as response:
                await self._check(response, url)
                if ft.is_directory:
                    announced = int(response.headers.get(TOTAL_BYTES_HEADER, "-1"))
                    got = await _untar(response, target, progress)
                else:
                    announced = response.content_length if response.content_length else -1
                    got = await _write_body(response, fd, progress)
            if announced >= 0 and got != announced:
                raise _Retry(f"received {got} bytes of {announced}")
            await asyncio.to_thread(_sync, target, fd)
            return got

        if not ft.is_directory and fd is None:
            raise ValueError("a file download needs the open temp file")
        return await self._each(f"{ft} of {sector_name(miner, sector)}", urls, attempt)

    async def vanilla_single(
        self,
        urls: list[str],
        miner: int,
        sector: int,
        comm_r: bytes,
        randomness: bytes,
        challenges: int,
    ) -> tuple[str, bytes | RemoteFault]:
        """A PoSt vanilla proof of one sector made by the host holding it (Curio's
        ``/remote/vanilla/single``): the proof's bytes, or the fault it found."""
        session, headers = await self._client()
        body = json.dumps(
            {
                "miner": miner,
                "sector": sector,
                "comm_r": comm_r.hex(),
                "randomness": randomness.hex(),
                "challenges": challenges,
            }
        )

        async def attempt(base: str) -> bytes | RemoteFault:
            url = f"{base.rstrip('/')}/vanilla/single"
            async with session.post(url, data=body, headers=headers) as response:
                if response.status == 422:
                    fault = await response.json()
                    return RemoteFault(base, fault["kind"], fault["detail"])
                await self._check(response, url)
                return await response.read()

        return await self._each(f"a vanilla proof of {sector_name(miner, sector)}", urls, attempt)

    async def vanilla_porep(
        self, urls: list[str], miner: int, sector: int, seed: bytes
    ) -> tuple[str, bytes | RemoteFault]:
        """A sector's PoRep vanilla proof for ``seed``, made by the host holding its unsealed
        file, replica and sealing cache (Curio's ``/remote/vanilla/porep``): the proof's
        bytes, or what that host found wrong with its files."""
        session, headers = await self._client()
        body = json.dumps({"miner": miner, "sector": sector, "seed": seed.hex()})

        async def attempt(base: str) -> bytes | RemoteFault:
            url = f"{base.rstrip('/')}/vanilla/porep"
            async with session.post(url, data=body, headers=headers) as response:
                if response.status == 422:
                    fault = await response.json()
                    return RemoteFault(base, fault["kind"], fault["detail"])
                await self._check(response, url)
                return await response.read()

        return await self._each(f"a PoRep proof of {sector_name(miner, sector)}", urls, attempt)

    async def delete(self, urls: list[str], ft: SectorFileType, miner: int, sector: int) -> int:
        """Ask the hosts to remove their undeclared copies of a file; returns how many went."""
        session, headers = await self._client()

        async def attempt(base: str) -> int:
            async with session.delete(sector_url(base, ft, miner, sector), headers=headers) as r:
                await self._check(r, base)
                return int((await r.json())["removed"])

        removed = 0
        for url in urls:
            try:
                removed += (await self._each(f"removal of {ft}", [url], attempt))[1]
            except RemoteReadError as exc:
                log.warning("%s", exc)
        return removed


def _empty(target: Path, fd: int | None) -> None:
    if fd is not None:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        return
    for entry in list(target.iterdir()):
        from ..durable import remove_entry

        remove_entry(entry)


def _sync(target: Path, fd: int | None) -> None:
    if fd is not None:
        os.fsync(fd)
        return
    for base, _dirs, files in os.walk(target, topdown=False):
        for name in files:
            f = os.open(os.path.join(base, name), os.O_RDONLY)
            try:
                os.fsync(f)
            finally:
                os.close(f)
        fsync_dir(Path(base))


async def _write_body(
    response: aiohttp.ClientResponse, fd: int | None, progress: Callable[[int], None]
) -> int:
    assert fd is not None
    got = 0
    async for chunk in response.content.iter_chunked(CHUNK):
        await asyncio.to_thread(_write_all, fd, chunk)
        got += len(chunk)
        progress(got)
    return got


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Pipe:
    """A blocking file object over the response, for tarfile in a worker thread."""

    def __init__(self, response: aiohttp.ClientResponse, loop: asyncio.AbstractEventLoop) -> None:
        self.response, self.loop = response, loop

    def read(self, n: int = -1) -> bytes:
        size = CHUNK if n is None or n < 0 else n
        future = asyncio.run_coroutine_threadsafe(self.response.content.read(size), self.loop)
        return future.result()


async def _untar(
    response: aiohttp.ClientResponse, target: Path, progress: Callable[[int], None]
) -> int:
    """Extract a cache tar into ``target``: only regular files and directories, only names
    that stay inside it (a hostile or broken server cannot write elsewhere)."""
    pipe = _Pipe(response, asyncio.get_running_loop())
    return await asyncio.to_thread(_extract, pipe, target, progress)


def _extract(pipe: _Pipe, target: Path, progress: Callable[[int], None]) -> int:
    got = 0
    try:
        with tarfile.open(fileobj=pipe, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                rel = PurePosixPath(member.name)
                if rel.is_absolute() or ".." in rel.parts or not rel.parts:
                    raise _Gone(f"tar entry {member.name!r} leaves the cache; refused")
                dest = target.joinpath(*rel.parts)
                if member.isdir():
                    dest.mkdir(exist_ok=True)
                    continue
                if not member.isfile():
                    raise _Gone(f"tar entry {member.name!r} is not a regular file; refused")
                dest.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with open(dest, "xb") as out:
                    while block := source.read(CHUNK):
                        out.write(block)
                        got += len(block)
                        progress(got)
    except tarfile.TarError as exc:
        raise _Retry(f"broken tar stream: {exc}") from None
    return got
